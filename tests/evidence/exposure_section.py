#!/usr/bin/python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""The evidence bundle's exposure section (issue 22) against the exposure events it came from.

Used by tests/evidence/test_evidence.py (a journal the test writes) and by
tests/containerd/exposure.sh (the real agent's events against containerd and runc):

    exposure_section.py BUNDLE EVENTS.jsonl [--absent CONTAINER-ID ...]

EVENTS holds the exposure events the section must show: the latest event of each cgroup
(id, path) is what exposure.json, exposure.csv and report.html (rendered by headless chromium)
must say, field by field; the manifest must cover both files with their checksums. A container
given with --absent must be in none of them. Prints each problem; exit 0 when there is none.
"""
import csv
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from html.parser import HTMLParser


def tenant(e):
    pod, ctr = e.get("pod") or {}, e.get("container") or {}
    if pod.get("name"):
        return "pod %s/%s container %s" % (pod.get("namespace") or "?", pod["name"],
                                           ctr.get("name") or "?")
    return (e.get("cgroup") or {}).get("path") or "?"


def latest(events):
    """The latest exposure event of each cgroup, in the order each cgroup was first reported."""
    order, last = [], {}
    for e in events:
        if e.get("type") != "exposure":
            continue
        k = (e["cgroup"]["id"], e["cgroup"]["path"])
        if k not in last:
            order.append(k)
        last[k] = e
    return [last[k] for k in order]


class Table(HTMLParser):
    """The rows of <table id="exposure-table"> as the browser's DOM holds them (a <br> between
    reasons read as a newline), and the ids of the page."""

    def __init__(self):
        super().__init__()
        self.ids, self.rows, self.attrs = set(), [], None
        self.inside, self.row, self.td = False, None, None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids.add(a["id"])
        if tag == "table" and a.get("id") == "exposure-table":
            self.inside, self.attrs = True, a
        elif self.inside and tag == "tr":
            self.row = []
        elif self.inside and tag == "td" and self.row is not None:
            self.td = ""
        elif self.inside and tag == "br" and self.td is not None:
            self.td += "\n"

    def handle_data(self, data):
        if self.td is not None:
            self.td += data

    def handle_endtag(self, tag):
        if self.inside and tag == "td" and self.td is not None:
            self.row.append(self.td)
            self.td = None
        elif self.inside and tag == "tr" and self.row:
            self.rows.append(self.row)
            self.row = None
        elif tag == "table":
            self.inside = False


def render(bundle, work):
    """report.html as headless chromium's DOM (None where chromium is missing)."""
    chromium = shutil.which("chromium")
    if not chromium:
        return None
    prof = tempfile.mkdtemp(prefix="chromium-", dir=work)
    try:
        r = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu",
                            "--user-data-dir=" + prof, "--dump-dom",
                            "file://" + os.path.abspath(os.path.join(bundle, "report.html"))],
                           capture_output=True, timeout=120)
    finally:
        shutil.rmtree(prof, ignore_errors=True)
    if r.returncode or b"<table" not in r.stdout:
        raise RuntimeError("chromium: %d %s" % (r.returncode, r.stderr[-300:]))
    return r.stdout.decode()


def check(bundle, events, absent=(), removed=None, work=None, need_browser=True):
    """Problems of the bundle's exposure section against the latest exposure event of each cgroup
    in events; removed: {(cgroup id, path): RFC 3339 time} of those the section must say removed.
    Returns (problems, whether chromium rendered it)."""
    bad = []
    want = latest(events)
    removed = removed or {}
    try:
        doc = json.load(open(os.path.join(bundle, "exposure.json")))
    except (OSError, ValueError) as e:
        return ["exposure.json: %s" % e], False
    got = doc.get("containers", [])
    ndev = sum(len(e["devices"]) + e.get("more", 0) for e in want)
    if doc.get("containers_total") != len(want) or doc.get("devices_total") != ndev:
        bad.append("exposure.json totals %s/%s, events %d containers %d devices" %
                   (doc.get("containers_total"), doc.get("devices_total"), len(want), ndev))
    if len(got) != len(want):
        bad.append("exposure.json: %d containers, the events %d: %s" %
                   (len(got), len(want), [c.get("tenant") for c in got]))
    for c, e in zip(got, want):
        k = (e["cgroup"]["id"], e["cgroup"]["path"])
        exp = {"tenant": tenant(e), "pod": e.get("pod"), "container": e.get("container"),
               "cgroup": e["cgroup"], "bundle": e.get("bundle"), "devices": e["devices"],
               "more": e.get("more", 0), "last_reported": e["time"], "removed": removed.get(k)}
        diff = {f: (c.get(f), v) for f, v in exp.items() if c.get(f) != v}
        if diff:
            bad.append("exposure.json, cgroup %s: (got, want) %s" % (k, diff))
    for cid in absent:
        if any((c.get("container") or {}).get("id") == cid for c in got):
            bad.append("exposure.json names container %s, which has no exposure" % cid)
    # the CSV: one row per device (and one for the devices past the event's bound)
    rows = list(csv.DictReader(open(os.path.join(bundle, "exposure.csv"), newline="")))
    want_rows = []
    for e in want:
        for d in e["devices"]:
            want_rows.append((tenant(e), (e.get("container") or {}).get("id", ""), d["path"],
                              str(d["major"]), str(d["minor"]), "; ".join(d["reasons"])))
        if e.get("more"):
            want_rows.append((tenant(e), (e.get("container") or {}).get("id", ""),
                              "%d more devices, not named" % e["more"], "", "", ""))
    got_rows = [(r["tenant"], r["container_id"], r["device"], r["major"], r["minor"], r["reasons"])
                for r in rows]
    if got_rows != want_rows:
        bad.append("exposure.csv rows %s, events %s" % (got_rows, want_rows))
    # the manifest covers both files, checksums and sizes right
    m = json.load(open(os.path.join(bundle, "manifest.json")))
    listed = {f["path"]: f for f in m.get("files", [])}
    for name in ("exposure.json", "exposure.csv"):
        data = open(os.path.join(bundle, name), "rb").read()
        f = listed.get(name)
        if not f or f["sha256"] != hashlib.sha256(data).hexdigest() or f["size"] != len(data):
            bad.append("manifest.json: %s %s" % (name, f or "not listed"))
    # the report, as the browser renders it: the same rows (the first 500)
    dom = render(bundle, work or tempfile.gettempdir())
    if dom is None:
        if need_browser:
            bad.append("chromium is not installed (tools/deps/test.txt): the report is unchecked")
        return bad, False
    t = Table()
    t.feed(dom)
    if "exposure" not in t.ids:
        bad.append("report.html has no exposure section (ids %s)" % sorted(t.ids))
    if not want:
        if t.rows:
            bad.append("report.html: exposure rows %s, none expected" % t.rows)
        return bad, True
    html_rows = []
    for e in want:
        st = "removed at %s" % removed[(e["cgroup"]["id"], e["cgroup"]["path"])] \
            if (e["cgroup"]["id"], e["cgroup"]["path"]) in removed else "not removed"
        cid = (e.get("container") or {}).get("id", "")
        for d in e["devices"]:
            html_rows.append([tenant(e), cid, "%s (%d:%d)" % (d["path"], d["major"], d["minor"]),
                              "\n".join(d["reasons"]), st])
        if e.get("more"):
            html_rows.append([tenant(e), cid, "%d more devices" % e["more"],
                              "not named (the event's bound)", st])
    html_rows = html_rows[:500]
    if [r[1:] for r in t.rows] != html_rows:
        bad.append("report.html exposure rows\n  %s\nexpected\n  %s" %
                   ([r[1:] for r in t.rows], html_rows))
    if t.attrs and (t.attrs.get("data-containers") != str(len(want)) or
                    t.attrs.get("data-devices") != str(ndev)):
        bad.append("report.html exposure table attributes %s" % t.attrs)
    return bad, True


def main():
    args = sys.argv[1:]
    absent = []
    if "--absent" in args:
        i = args.index("--absent")
        absent, args = args[i + 1:], args[:i]
    if len(args) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    bundle, events = args
    ev = []
    for line in open(events):
        try:
            ev.append(json.loads(line))
        except ValueError:
            continue
    problems, _ = check(bundle, ev, absent)
    for p in problems:
        print(p)
    n = len(latest(ev))
    if not problems:
        print("exposure section: %d containers, %d rows in exposure.csv, the report's table the "
              "same in chromium" % (n, sum(1 for _ in open(os.path.join(bundle, "exposure.csv"))) - 1))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
