#!/usr/bin/python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""The journal and the self-test against the real agent on this machine's kernel.

Usage: test_evidence.py --agent build/accelguard [FILTER]
Each test starts the agent with a `journal:` section, drives real syscalls from real cgroups on
real mknod nodes (195:N minors that exist on no device: their opens reach every hook, then ENXIO),
and asserts what the journal, `accelguard journal`, `accelguard selftest` and the kernel did.
Ends with "N passed, N failed, N skipped" (tests/stage.sh).
"""
import argparse
import errno
import glob
import gzip
import json
import re
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time

AGENT = None
CG2 = None
WORK = None
TAG = "ev%d" % os.getpid()  # cgroup names of this run: /<TAG>-*


class Skip(Exception):
    pass


class Fail(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Fail(msg)


def cgroup2_mount():
    with open("/proc/self/mounts") as f:
        for line in f:
            p = line.split()
            if p[2] == "cgroup2":
                return p[1]
    return None


def cg_make(rel):
    os.makedirs(CG2 + rel, exist_ok=True)


def cg_remove(rel):
    for _ in range(50):
        try:
            os.rmdir(CG2 + rel)
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.05)


def write_config(path, journal, mode="audit", extra=""):
    text = ("mode: %s\nrate_limit: 10000000\ntenants: [\"/%s-*\"]\n"
            "allocations:\n  - cgroup: /%s-a\n    devices: [\"195:200\"]\n" % (mode, TAG, TAG))
    if journal:
        text += "journal:\n" + "".join("  %s: %s\n" % kv for kv in journal.items())
    text += extra
    with open(path, "w") as f:
        f.write(text)


class Agent:
    def __init__(self, name, journal, mode="audit", extra=""):
        self.dir = os.path.join(WORK, name)
        os.makedirs(self.dir, exist_ok=True)
        self.cfg = os.path.join(self.dir, "config.yaml")
        self.events = os.path.join(self.dir, "events.jsonl")
        self.errlog = os.path.join(self.dir, "agent.log")
        write_config(self.cfg, journal, mode, extra)
        self.proc = None

    def start(self):
        if os.path.exists(self.events):
            os.unlink(self.events)
        err = open(self.errlog, "w")
        self.proc = subprocess.Popen([AGENT, "run", "--pin-dir", "off", "--config", self.cfg, "--events", self.events],
                                     stdout=subprocess.DEVNULL, stderr=err)
        deadline = time.time() + 30
        while time.time() < deadline:
            if os.path.exists(self.events) and '"type":"ready"' in open(self.events).read():
                return self
            if self.proc.poll() is not None:
                raise Fail("agent exited %d: %s" % (self.proc.returncode, self.stderr()[-500:]))
            time.sleep(0.02)
        raise Fail("agent not ready in 30 s: " + self.stderr()[-500:])

    def stop(self, sig=signal.SIGTERM):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            self.proc.wait(timeout=30)
        return self.proc.returncode

    def stderr(self):
        try:
            return open(self.errlog).read()
        except OSError:
            return ""

    def lines(self):
        with open(self.events, "rb") as f:
            return f.read().split(b"\n")[:-1]

    def summary(self):
        for l in reversed(self.lines()):
            e = json.loads(l)
            if e["type"] == "summary":
                return e
        raise Fail("no summary event")


def mknod(path, minor):
    if os.path.exists(path):
        os.unlink(path)
    os.mknod(path, 0o600 | 0o020000, os.makedev(195, minor))


def in_cgroup(rel, fn):
    """Run fn() in a child in cgroup rel; returns (exit status, its pid)."""
    pid = os.fork()
    if pid == 0:
        try:
            with open(CG2 + rel + "/cgroup.procs", "w") as f:
                f.write(str(os.getpid()))
            fn()
        finally:
            os._exit(0)
    _, st = os.waitpid(pid, 0)
    return st, pid


def opens(node, n):
    """n opens of node (each fails: ENXIO, or EPERM when enforced)."""
    def fn():
        for _ in range(n):
            try:
                os.close(os.open(node, os.O_RDONLY))
            except OSError:
                pass
    return fn


def journal_cmd(jdir, *args, check_rc=True):
    r = subprocess.run([AGENT, "journal", "--dir", jdir] + list(args), capture_output=True,
                       timeout=60)
    if check_rc:
        check(r.returncode == 0, "accelguard journal exited %d: %s" % (r.returncode, r.stderr))
    return r


def strict_lines(data):
    """Every line must be a whole JSON object; returns them."""
    out = data.split(b"\n")
    check(out[-1] == b"", "output does not end in a newline")
    for l in out[:-1]:
        try:
            o = json.loads(l)
        except ValueError:
            raise Fail("a line that is no JSON: %r" % l[:120])
        check(isinstance(o, dict) and "time" in o, "not an event: %r" % l[:120])
    return out[:-1]


# ---- journal ---------------------------------------------------------------------------------

def test_journal_rotation_compression_retention():
    jdir = os.path.join(WORK, "rot", "journal")
    a = Agent("rot", {"dir": jdir, "segment_kb": 4, "max_kb": 16, "flush_ms": 100})
    node = os.path.join(a.dir, "gpu")
    mknod(node, 201)
    cg_make("/%s-b" % TAG)
    try:
        a.start()
        in_cgroup("/%s-b" % TAG, opens(node, 2000))
        # 4 KiB segments cost a rotation (fsyncs, compression) every ten events: on a loaded
        # disk the journal lags; the agent's exit waits only 2 s for a sink, so let it catch up
        deadline = time.time() + 60
        while time.time() < deadline:
            j = journal_cmd(jdir, "--quiet").stdout.split(b"\n")
            if len(j) > 1 and j[-2] == a.lines()[-1]:
                break
            time.sleep(0.2)
        check(a.stop() == 0, "agent exit %s" % a.proc.returncode)
    finally:
        cg_remove("/%s-b" % TAG)
    files = sorted(os.listdir(jdir))
    gz = [f for f in files if f.endswith(".jsonl.gz")]
    live = [f for f in files if f.endswith(".jsonl")]
    check(len(live) == 1, "one live segment expected, found %s" % files)
    check(len(gz) >= 2, "closed segments compressed expected, found %s" % files)
    check(all(f.startswith("seg-") for f in files), "unexpected files: %s" % files)
    total = sum(os.path.getsize(os.path.join(jdir, f)) for f in files)
    check(total <= 16 * 1024 + 4096, "total %d bytes over max_kb 16 (+ one segment)" % total)
    # zcat reads every closed segment (gzip format), and each holds whole JSON lines
    for f in gz:
        r = subprocess.run(["zcat", os.path.join(jdir, f)], capture_output=True)
        check(r.returncode == 0, "zcat %s: %s" % (f, r.stderr))
        lines = strict_lines(r.stdout)
        check(sum(len(l) + 1 for l in lines) <= 4096 or len(lines) == 1,
              "%s holds %d bytes, over segment_kb 4" % (f, sum(len(l) + 1 for l in lines)))
    # the retention deleted the oldest: the journal is the tail of what the agent wrote, exactly
    ev = a.lines()
    out = strict_lines(journal_cmd(jdir).stdout)
    check(len(out) < len(ev), "nothing was deleted (%d of %d lines)" % (len(out), len(ev)))
    sinks = a.summary()["sinks"]
    dropped = sinks["journal"]["dropped"]
    if dropped == 0 and sinks["json"]["dropped"] == 0:
        check(ev[-len(out):] == out, "the journal is not the tail of the event stream: %s; "
              "first differing: %s" % (sinks, next(((i, ev[-len(out) + i][:150], l[:150])
                                                    for i, l in enumerate(out)
                                                    if ev[-len(out) + i] != l), None)))
    else:  # a journal that fell behind (a loaded machine) dropped whole batches, counted
        pos = {l: i for i, l in enumerate(ev)}
        idx = [pos.get(l, -1) for l in out]
        check(all(i >= 0 for i in idx) and idx == sorted(idx) and idx[-1] == len(ev) - 1,
              "the journal is not the event stream's newest lines in order (%d dropped)"
              % dropped)
    check(b'"type":"ready"' not in b"".join(out), "the oldest segment (ready) was kept")
    # --since / --until: a window of the same lines
    t = [json.loads(l)["time"] for l in out]
    mid = t[len(t) // 2]
    win = strict_lines(journal_cmd(jdir, "--since", mid).stdout)
    check(win and all(json.loads(l)["time"] >= mid for l in win) and win == out[-len(win):],
          "--since %s gave %d lines" % (mid, len(win)))
    win = strict_lines(journal_cmd(jdir, "--until", mid).stdout)
    check(win and all(json.loads(l)["time"] <= mid for l in win) and win == out[:len(win)],
          "--until %s gave %d lines" % (mid, len(win)))


def test_journal_rotation_by_age():
    jdir = os.path.join(WORK, "age", "journal")
    a = Agent("age", {"dir": jdir, "segment_age_s": 1, "flush_ms": 100})
    node = os.path.join(a.dir, "gpu")
    mknod(node, 207)
    cg_make("/%s-g" % TAG)
    try:
        a.start()
        in_cgroup("/%s-g" % TAG, opens(node, 2))
        time.sleep(0.3)
        check(len(os.listdir(jdir)) == 1 and not glob.glob(jdir + "/*.gz"),
              "rotated too early: %s" % os.listdir(jdir))
        time.sleep(1.0)  # older than segment_age_s: the next write opens a new segment
        in_cgroup("/%s-g" % TAG, opens(node, 2))
        time.sleep(0.3)
        check(a.stop() == 0, "agent exit")
    finally:
        cg_remove("/%s-g" % TAG)
    gz = glob.glob(jdir + "/*.gz")
    check(len(gz) == 1 and len(glob.glob(jdir + "/*.jsonl")) == 1,
          "one closed, one live segment expected: %s" % os.listdir(jdir))
    first = strict_lines(gzip.open(gz[0]).read())
    check(any(b'"type":"ready"' in l for l in first) and
          sum(b'"type":"access"' in l and b'"path":"/%s-g"' % TAG.encode() in l for l in first) == 2,
          "the first segment: %s" % first)
    check(strict_lines(journal_cmd(jdir).stdout) == a.lines(), "journal != events")


def test_journal_torn_record():
    jdir = os.path.join(WORK, "torn", "journal")
    a = Agent("torn", {"dir": jdir, "flush_ms": 100})
    a.start()
    check(a.stop() == 0, "agent exit")
    live = glob.glob(jdir + "/*.jsonl")
    check(len(live) == 1, "live segment: %s" % os.listdir(jdir))
    whole = open(live[0], "rb").read()
    n = len(strict_lines(whole))
    # a record cut in the middle, as a SIGKILL inside write(2) leaves it
    with open(live[0], "ab") as f:
        f.write(b'{"type":"access","time":"2026-12-01T00:00:00Z","op":"op')
    r = journal_cmd(jdir)
    out = strict_lines(r.stdout)
    check(len(out) == n, "%d lines read, %d whole ones written" % (len(out), n))
    check(b"torn" in r.stderr, "the torn record was not named: %r" % r.stderr)
    # a line with its newline that is no JSON object is skipped too, never printed
    with open(live[0], "ab") as f:
        f.write(b'\nnot json\n')
    r = journal_cmd(jdir)
    check(len(strict_lines(r.stdout)) == n, "a corrupt line was printed")
    check(b"no event record" in r.stderr, "corrupt line not named: %r" % r.stderr)
    # the next start closes the old segment: the torn tail is cut, the rest compressed whole
    with open(live[0], "ab") as f:
        f.write(b'{"type":"acc')
    a.start()
    check(a.stop() == 0, "agent exit")
    check("cut a torn last record" in a.stderr(), "no cut reported: " + a.stderr())
    old = live[0] + ".gz"
    check(os.path.exists(old) and not os.path.exists(live[0]), "old segment not compressed")
    data = gzip.open(old).read()
    check(b'{"type":"acc' not in data.split(b"\n")[-1], "torn tail kept")
    r = journal_cmd(jdir)
    check(b"last record is torn" not in r.stderr, "still torn after restart: %r" % r.stderr)
    # the two lines made whole by the newline written after them are no events: still skipped
    check(r.stderr.count(b"no event record") == 2, "corrupt lines: %r" % r.stderr)
    out = strict_lines(r.stdout)
    check(sum(1 for l in out if b'"type":"ready"' in l) == 2, "both runs' ready events expected")


def test_journal_sigkill_mid_stream():
    jdir = os.path.join(WORK, "kill", "journal")
    a = Agent("kill", {"dir": jdir, "segment_kb": 64, "flush_ms": 50})
    node = os.path.join(a.dir, "gpu")
    mknod(node, 202)
    cg_make("/%s-k" % TAG)
    pid = 0
    try:
        a.start()
        in_cgroup("/%s-k" % TAG, opens(node, 200))
        time.sleep(0.5)  # > flush_ms: these are flushed
        before = strict_lines(journal_cmd(jdir, "--quiet").stdout)
        check(len(before) >= 200, "only %d lines before the kill" % len(before))
        # a flood that is still going when the agent is killed
        pid = os.fork()
        if pid == 0:
            with open(CG2 + "/%s-k/cgroup.procs" % TAG, "w") as f:
                f.write(str(os.getpid()))
            opens(node, 1000000)()
            os._exit(0)
        time.sleep(1.0)
        a.stop(signal.SIGKILL)
    finally:
        if pid:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        cg_remove("/%s-k" % TAG)
    r = journal_cmd(jdir)
    after = strict_lines(r.stdout)  # every printed line whole
    check(after[:len(before)] == before, "lines flushed before the kill are missing")
    check(len(after) > len(before) + 100, "the flood did not reach the journal")
    # what the agent wrote is one stream: the journal's lines come in the order of the events
    # file's (each sink is its own thread, and a sink that fell behind drops whole batches,
    # counted; after a SIGKILL there is no summary to count them, so: a subsequence)
    evset = {l: i for i, l in enumerate(a.lines())}
    pos = [evset.get(l, -1) for l in after]
    while pos and pos[-1] < 0:
        pos.pop()  # the journal went further than the events file
    check(all(p >= 0 for p in pos) and all(pos[i] < pos[i + 1] for i in range(len(pos) - 1)),
          "the journal's lines are not the event stream's, in order")
    check(not any(b'"type":"summary"' in l for l in after), "a summary after SIGKILL?")
    # a restart recovers the segment left live
    a.start()
    check(a.stop() == 0, "agent exit")
    out = strict_lines(journal_cmd(jdir).stdout)
    check(out[:len(after)] == after, "the restart lost records of the killed run")


def test_journal_full_disk():
    mnt = os.path.join(WORK, "small")
    os.makedirs(mnt, exist_ok=True)
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", mnt]).returncode:
        raise Skip("cannot mount a small tmpfs")
    a = Agent("full", {"dir": mnt + "/journal", "segment_kb": 16, "max_kb": 1024,
                       "flush_ms": 100}, mode="enforce")
    node = os.path.join(a.dir, "gpu")
    mknod(node, 203)
    cg_make("/%s-f" % TAG)
    try:
        a.start()
        in_cgroup("/%s-f" % TAG, opens(node, 3000))
        time.sleep(0.5)
        check(a.proc.poll() is None, "the agent died on a full disk")
        # it still enforces: a tenant's open of a GPU it was not given is denied
        res = {}

        def probe():
            try:
                os.open(node, os.O_RDONLY)
                os._exit(0)
            except OSError as e:
                os._exit(e.errno)
        st, _ = in_cgroup("/%s-f" % TAG, probe)
        check(os.WEXITSTATUS(st) == errno.EPERM, "open after the disk filled: errno %d, not EPERM"
              % os.WEXITSTATUS(st))
        in_cgroup("/%s-f" % TAG, opens(node, 500))
        time.sleep(0.3)
        check(a.stop() == 0, "agent exit %s" % a.proc.returncode)
        err = a.stderr()
        check(err.count("journal: cannot write") == 1,
              "the full disk should be reported once: %s" % err[-800:])
        s = a.summary()
        lost = s["sinks"]["journal"]["lost"]
        check(lost > 0, "no journal loss counted: %s" % s["sinks"])
        check(s["sinks"]["journal"]["written"] + lost + s["sinks"]["journal"]["dropped"] ==
              s["sinks"]["journal"]["queued"], "journal counts do not add up: %s" % s["sinks"])
        out = strict_lines(journal_cmd(mnt + "/journal").stdout)  # nothing half-written
        check(len(out) == s["sinks"]["journal"]["written"],
              "journal holds %d lines, summary says %d written"
              % (len(out), s["sinks"]["journal"]["written"]))
    finally:
        a.stop(signal.SIGKILL)
        cg_remove("/%s-f" % TAG)
        subprocess.run(["umount", "-l", mnt])


def test_journal_full_at_start():
    """A disk with no room for a segment when the agent starts: it starts, enforces, counts."""
    mnt = os.path.join(WORK, "noinode")
    os.makedirs(mnt, exist_ok=True)
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,nr_inodes=3", "tmpfs",
                       mnt]).returncode:
        raise Skip("cannot mount a small tmpfs")
    a = None
    try:
        os.makedirs(mnt + "/journal")
        open(mnt + "/journal/filler", "w").close()  # the last inode
        a = Agent("noinode-agent", {"dir": mnt + "/journal", "flush_ms": 100}, mode="enforce")
        node = os.path.join(a.dir, "gpu")
        mknod(node, 208)
        cg_make("/%s-n" % TAG)
        a.start()

        def probe():
            try:
                os.open(node, os.O_RDONLY)
                os._exit(0)
            except OSError as e:
                os._exit(e.errno)
        st, _ = in_cgroup("/%s-n" % TAG, probe)
        check(os.WEXITSTATUS(st) == errno.EPERM, "not enforcing: errno %d" % os.WEXITSTATUS(st))
        check(a.stop() == 0, "agent exit %s" % a.proc.returncode)
        err = a.stderr()
        check(err.count("journal: cannot write") == 1, "reported: %s" % err[-600:])
        s = a.summary()["sinks"]["journal"]
        check(s["written"] == 0 and s["lost"] == s["queued"] and s["lost"] >= 2,
              "counts: %s" % s)
    finally:
        if a:
            a.stop(signal.SIGKILL)
        cg_remove("/%s-n" % TAG)
        subprocess.run(["umount", "-l", mnt])


def test_journal_follow():
    jdir = os.path.join(WORK, "follow", "journal")
    a = Agent("follow", {"dir": jdir, "segment_kb": 4, "max_kb": 1024, "flush_ms": 100})
    node = os.path.join(a.dir, "gpu")
    mknod(node, 204)
    cg_make("/%s-w" % TAG)
    fol = None
    try:
        a.start()
        outf = open(os.path.join(a.dir, "follow.out"), "wb")
        fol = subprocess.Popen([AGENT, "journal", "--dir", jdir, "--follow"], stdout=outf,
                               stderr=subprocess.PIPE)
        time.sleep(0.5)
        for _ in range(3):  # events across several rotations, while following
            in_cgroup("/%s-w" % TAG, opens(node, 100))
            time.sleep(0.3)
        deadline = time.time() + 10
        while time.time() < deadline:
            got = open(os.path.join(a.dir, "follow.out"), "rb").read()
            if got.count(b"\n") >= len(a.lines()):
                break
            time.sleep(0.1)
        check(len(glob.glob(jdir + "/*.gz")) >= 2, "no rotation while following")
        fol.send_signal(signal.SIGINT)
        rc = fol.wait(timeout=10)
        check(rc == 0, "journal --follow exited %d" % rc)
        got = strict_lines(open(os.path.join(a.dir, "follow.out"), "rb").read())
        check(got == a.lines(), "--follow gave %d lines, the agent wrote %d"
              % (len(got), len(a.lines())))
    finally:
        if fol and fol.poll() is None:
            fol.kill()
        a.stop()
        cg_remove("/%s-w" % TAG)


def test_journal_time_arguments():
    """--since/--until: RFC 3339 with Z or an offset, a fraction, @SECONDS, relative times."""
    import datetime
    jdir = os.path.join(WORK, "times", "journal")
    a = Agent("times", {"dir": jdir, "flush_ms": 100})
    a.start()
    check(a.stop() == 0, "agent exit")
    # only this agent's own two events count: anything else on the machine that touches an
    # accelerator node meanwhile is journalled too (a host access), and is not this test's
    own = lambda out: [l for l in strict_lines(out) if json.loads(l).get("type") in ("ready", "summary")]
    lines = own(journal_cmd(jdir).stdout)
    check(len(lines) == 2, "ready and summary expected: %d" % len(lines))
    t_ready = json.loads(lines[0])["time"]   # 2026-12-01T16:28:14.108368142Z
    t_sum = json.loads(lines[1])["time"]
    n = lambda *args: len(own(journal_cmd(jdir, *args).stdout))
    check(n("--since", t_ready) == 2 and n("--until", t_ready) == 1 and
          n("--since", t_sum) == 1, "exact event times as bounds")
    dt = datetime.datetime.strptime(t_sum[:19], "%Y-%m-%dT%H:%M:%S").replace(
        tzinfo=datetime.timezone.utc)
    # the summary's second, written in another zone: the same instant
    plus1 = (dt + datetime.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S") + "+01:00"
    check(n("--since", plus1) == n("--since", t_sum[:19] + "Z"), "offset +01:00")
    check(n("--since", "@%d" % (int(dt.timestamp()) + 2)) == 0, "@SECONDS after the end")
    check(n("--since", "-1h") == 2 and n("--until", "-1h") == 0 and n("--since", "-1d") == 2,
          "relative times")
    for bad in ("yesterday", "2026-13-45", "2026-13-01T00:00:00Z", "2026-12-01T25:00:00Z",
                "2026-12-01T10:00:00Zjunk", "-5x", "@"):
        r = journal_cmd(jdir, "--since", bad, check_rc=False)
        check(r.returncode == 2 and b"--since takes a time" in r.stderr, "%s: %r" % (bad, r.stderr))
    r = journal_cmd(os.path.join(WORK, "times", "none"), check_rc=False)
    check(r.returncode == 1 and b"cannot read" in r.stderr, "missing dir: %r" % r.stderr)


def test_journal_bad_config():
    d = os.path.join(WORK, "badcfg")
    os.makedirs(d, exist_ok=True)
    cfg = os.path.join(d, "c.yaml")
    with open(cfg, "w") as f:
        f.write("mode: audit\njournal:\n  segment_kb: 4\n")
    r = subprocess.run([AGENT, "run", "--pin-dir", "off", "--config", cfg], capture_output=True, timeout=30)
    check(r.returncode == 1 and b"c.yaml:3: journal: dir is required" in r.stderr,
          "exit %d: %r" % (r.returncode, r.stderr))
    with open(cfg, "w") as f:
        f.write("journal:\n  dir: /x\n  segment_kb: 1024\n  max_kb: 1500\n")
    r = subprocess.run([AGENT, "run", "--pin-dir", "off", "--config", cfg], capture_output=True, timeout=30)
    check(r.returncode == 1 and b"max_kb (1500) must be at least twice segment_kb" in r.stderr,
          "exit %d: %r" % (r.returncode, r.stderr))
    # a directory that cannot be made: named, with the cause
    with open(cfg, "w") as f:
        f.write("journal:\n  dir: /proc/nope/journal\n")
    r = subprocess.run([AGENT, "run", "--pin-dir", "off", "--config", cfg], capture_output=True, timeout=30)
    check(r.returncode == 1 and b"journal: cannot open the directory /proc/nope/journal" in
          r.stderr, "exit %d: %r" % (r.returncode, r.stderr))


# ---- self-test ------------------------------------------------------------------------------

def selftest_run(a, *args):
    r = subprocess.run([AGENT, "selftest", "--config", a.cfg] + list(args), capture_output=True,
                       timeout=120)
    return r


def selftest_leftovers():
    left = glob.glob(CG2 + "/accelguard-selftest/*") + glob.glob("/run/accelguard-selftest.*")
    return left


def check_selftest(a, mode, res, real_dev=None):
    """The result's claims, checked against what the agent's journal and the kernel say."""
    check(res["result"] == "pass" and res["passed"] == 3, "selftest failed: %s" % res)
    check(res["mode"] == mode and res["tier"] == "tracepoint", "mode/tier: %s" % res)
    check(res["agent_pid"] == a.proc.pid, "not the running agent: %s vs %d"
          % (res["agent_pid"], a.proc.pid))
    byname = {c["name"]: c for c in res["checks"]}
    want = {"allocated": ("allowed", "observed"),
            "other_tenant": ("cross_tenant", "denied" if mode == "enforce" else "observed"),
            "unallocated": ("unmediated", "denied" if mode == "enforce" else "observed")}
    ev = [json.loads(l) for l in a.lines()]
    for name, (verdict, action) in want.items():
        c = byname[name]
        check(c["got"]["verdict"] == verdict and c["got"]["action"] == action,
              "%s: %s" % (name, c))
        if mode == "enforce" and name != "allocated":
            check(c["got"]["errno"] == "EPERM", "%s not EPERM: %s" % (name, c))
        else:
            check(c["got"]["errno"] != "EPERM", "%s got EPERM in audit: %s" % (name, c))
        check(c["open_ms"] >= 0 and c["judged_ms"] >= 0, "timings: %s" % c)
        # the agent's own event for that open, from the self-test's tenant
        maj, mi = map(int, c["device"].split(":"))
        hits = [e for e in ev if e["type"] == "access" and e["op"] == "open" and
                e["device"]["major"] == maj and e["device"]["minor"] == mi and
                e["cgroup"]["path"] == c["cgroup"]]
        check(len(hits) == 1 and hits[0]["verdict"] == verdict, "%s: journal events %s"
              % (name, hits))
    if real_dev:
        check(byname["other_tenant"]["device"] == real_dev and res["real_tenant_device"],
              "the real tenant's device was not used: %s" % byname["other_tenant"])
    # into the journal: one selftest event with this run's result
    st = [e for e in ev if e["type"] == "selftest" and e["run"] == res["run"]]
    check(len(st) == 1 and st[0]["result"] == "pass" and len(st[0]["checks"]) == 3,
          "selftest event: %s" % st)
    check(not selftest_leftovers(), "left behind: %s" % selftest_leftovers())


def selftest_mode(mode):
    name = "st-" + mode
    d = os.path.join(WORK, name)
    sock = os.path.join(d, "control.sock")
    a = Agent(name, {"dir": os.path.join(d, "journal"), "flush_ms": 100}, mode=mode,
              extra="selftest:\n  socket: %s\n" % sock)
    # a real tenant holding a GPU (195:200, from the configuration): the cross-tenant check
    # must use its device
    cg_make("/%s-a" % TAG)
    try:
        a.start()
        st = os.stat(sock)
        check(stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600 and st.st_uid == 0,
              "control socket %s: mode %o uid %d" % (sock, st.st_mode, st.st_uid))
        junit = os.path.join(d, "junit.xml")
        r = selftest_run(a, "--junit", junit, "--json")
        check(r.returncode == 0, "selftest exit %d: %s %s" % (r.returncode, r.stdout, r.stderr))
        res = json.loads(r.stdout)
        time.sleep(0.2)
        check_selftest(a, mode, res, real_dev="195:200")
        import xml.etree.ElementTree as ET
        root = ET.parse(junit).getroot()
        suite = root.find("testsuite")
        check(suite.get("tests") == "3" and suite.get("failures") == "0",
              "junit: %s" % ET.tostring(root)[:300])
        check(sorted(t.get("name") for t in suite.findall("testcase")) ==
              ["allocated", "other_tenant", "unallocated"], "junit testcases")
        # the text form: one line per check with timings
        r = selftest_run(a)
        check(r.returncode == 0 and r.stdout.count(b" ms") >= 3 and b"3 of 3 checks passed" in
              r.stdout, "text output: %s" % r.stdout)
        check(a.stop() == 0, "agent exit")
    finally:
        a.stop(signal.SIGKILL)
        cg_remove("/%s-a" % TAG)


def test_selftest_enforce():
    selftest_mode("enforce")


def test_selftest_audit():
    selftest_mode("audit")


def test_selftest_scheduled():
    d = os.path.join(WORK, "st-sched")
    sock = os.path.join(d, "control.sock")
    a = Agent("st-sched", {"dir": os.path.join(d, "journal"), "flush_ms": 100}, mode="enforce",
              extra="selftest:\n  socket: %s\n  at_start: true\n  interval_s: 2\n" % sock)
    try:
        a.start()
        deadline = time.time() + 20
        runs = []
        while time.time() < deadline:
            runs = [json.loads(l) for l in a.lines() if b'"type":"selftest"' in l]
            if len(runs) >= 2:
                break
            time.sleep(0.2)
        check(len(runs) >= 2, "scheduled runs in the journal: %d; %s" % (len(runs), a.stderr()))
        res = runs[0]
        check(all(r["by"] == "agent" for r in runs), "by: %s" % [r["by"] for r in runs])
        check(a.stop() == 0, "agent exit")
        check_selftest(a, "enforce", res)
    finally:
        a.stop(signal.SIGKILL)


def test_selftest_no_agent():
    d = os.path.join(WORK, "st-none")
    a = Agent("st-none", {"dir": os.path.join(d, "journal")},
              extra="selftest:\n  socket: %s/control.sock\n" % d)
    a.start()
    a.stop()
    r = selftest_run(a)
    check(r.returncode == 1 and b"no running agent writes the journal" in r.stderr and
          b"ended with a summary" in r.stderr, "exit %d: %r" % (r.returncode, r.stderr))
    check(not selftest_leftovers(), "left behind: %s" % selftest_leftovers())


# ---- bundle and verify ----------------------------------------------------------------------

def evidence(a, out, *args):
    return subprocess.run([AGENT, "evidence", "--config", a.cfg, "--out", out] + list(args),
                          capture_output=True, timeout=120)


def verify(d, *args):
    return subprocess.run([AGENT, "evidence", "verify", d] + list(args), capture_output=True,
                          timeout=60)


def check_bundle(out, a):
    import csv
    import hashlib
    files = sorted(os.listdir(out))
    want = sorted(["PRODUCT.yaml", "access-matrix.csv", "access-matrix.json", "journal.jsonl",
                   "manifest.json", "report.html", "selftest-junit.xml", "selftest.json",
                   "exposure.json", "exposure.csv"])
    check([f for f in files if f != "manifest.json.sig"] == want, "bundle files: %s" % files)
    m = json.load(open(os.path.join(out, "manifest.json")))
    listed = {f["path"]: f for f in m["files"]}
    check(sorted(listed) == sorted(f for f in want if f != "manifest.json"),
          "manifest covers %s" % sorted(listed))
    for name, f in listed.items():
        data = open(os.path.join(out, name), "rb").read()
        check(hashlib.sha256(data).hexdigest() == f["sha256"] and len(data) == f["size"],
              "checksum of %s" % name)
    check(m["tier"] == "tracepoint" and m["node"] == os.uname().nodename and
          m["config"]["sha256"] == hashlib.sha256(open(a.cfg, "rb").read()).hexdigest(),
          "manifest facts: %s" % {k: m[k] for k in ("tier", "node", "config")})
    # the slice is the journal's lines; the matrix counts its access events exactly
    slice_ = strict_lines(open(os.path.join(out, "journal.jsonl"), "rb").read())
    ev = [json.loads(l) for l in slice_]
    counts = {}
    for e in ev:
        if e["type"] != "access":
            continue
        d = e["device"]
        key = (e["cgroup"]["path"], "%d:%d %s" % (d["major"], d["minor"], d["class"]))
        counts.setdefault(key, {}).setdefault(e["verdict"], 0)
        counts[key][e["verdict"]] += 1
    mat = json.load(open(os.path.join(out, "access-matrix.json")))["cells"]
    got = {(c["tenant"], c["device"]): {v: n for v, n in c["by_verdict"].items() if n}
           for c in mat}
    check(got == counts, "matrix %s != journal %s" % (got, counts))
    rows = list(csv.DictReader(open(os.path.join(out, "access-matrix.csv"))))
    check(len(rows) == len(mat) and all(
        int(r["total"]) == sum(counts[(r["tenant"], r["device"])].values()) for r in rows),
        "csv rows disagree with the journal")
    return m, ev


def check_report_in_browser(out, shot=False):
    """Debian's chromium renders report.html headless; the DOM's matrix cells and counts must
    be the bundle's JSON (a skip, named, where chromium is missing)."""
    from html.parser import HTMLParser
    chromium = shutil.which("chromium")
    if not chromium:
        raise Skip("chromium is not installed (tools/deps/test.txt)")
    prof = tempfile.mkdtemp(prefix="chromium-", dir=WORK)
    r = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu",
                        "--user-data-dir=" + prof, "--dump-dom",
                        "file://" + os.path.join(out, "report.html")],
                       capture_output=True, timeout=120)
    check(r.returncode == 0 and b"<table" in r.stdout, "chromium: %d %s" % (r.returncode,
                                                                       r.stderr[-300:]))

    class P(HTMLParser):
        """The matrix's cells (their attributes and the count in <b class="n">, the actions
        under it) and the violations table's rows, as the browser's DOM holds them."""

        def __init__(self):
            super().__init__()
            self.cells, self.cur, self.ids, self.vrows = [], None, set(), []
            self.in_vt, self.row, self.td, self.part = False, None, None, None
            self.vt_attrs = {}
            self.tags = set()

        def handle_starttag(self, tag, attrs):
            a = dict(attrs)
            self.tags.add(tag)
            if "id" in a:
                self.ids.add(a["id"])
            if tag == "td" and "data-tenant" in a:
                self.cur = a
                self.cur["n"], self.cur["small"] = "", []
            elif self.cur is not None and tag in ("b", "small"):
                self.part = tag
                if tag == "small":
                    self.cur["small"].append("")
            if tag == "table" and a.get("id") == "violations-table":
                self.in_vt, self.vt_attrs = True, a
            elif self.in_vt and tag == "tr":
                self.row = []
            elif self.in_vt and tag == "td" and self.row is not None:
                self.td = ""

        def handle_data(self, data):
            if self.cur is not None and self.part == "b":
                self.cur["n"] += data
            elif self.cur is not None and self.part == "small":
                self.cur["small"][-1] += data
            if self.td is not None:
                self.td += data

        def handle_endtag(self, tag):
            if tag in ("b", "small"):
                self.part = None
            if tag == "td" and self.cur is not None:
                self.cells.append(self.cur)
                self.cur = None
            if self.in_vt and tag == "td" and self.td is not None:
                self.row.append(self.td)
                self.td = None
            elif self.in_vt and tag == "tr" and self.row:
                self.vrows.append(self.row)
                self.row = None
            elif tag == "table":
                self.in_vt = False
    p = P()
    p.feed(r.stdout.decode())
    mat = json.load(open(os.path.join(out, "access-matrix.json")))["cells"]
    want = {(c["tenant"], c["device"]): c for c in mat}
    got = {(c["data-tenant"], c["data-device"]): c for c in p.cells}
    check(set(got) == set(want), "rendered cells %s != %s" % (sorted(got), sorted(want)))
    for k, c in want.items():
        g = got[k]
        check(int(g["n"]) == c["total"] and int(g["data-total"]) == c["total"] and
              all(int(g["data-" + v]) == n for v, n in c["by_verdict"].items()),
              "cell %s: rendered %s, bundle %s" % (k, g, c))
        red = any(c["by_verdict"][v] for v in ("cross_tenant", "unmediated"))
        check(("#e53935" in g.get("style", "")) == red, "cell %s colour %s" % (k, g.get("style")))
        # denied and observed violations are told apart in the cell, in words
        acts = c["violations_by_action"]
        check(all(int(g["data-" + x]) == n for x, n in acts.items()) and
              sorted(g["small"]) == sorted("%d %s" % (n, x) for x, n in acts.items() if n) and
              ("has-observed" in g["class"]) == bool(acts["observed"]),
              "cell %s: actions rendered %s, bundle %s" % (k, g, acts))
    check(not {"img", "script", "iframe", "object"} & p.tags, "markup from the journal "
          "became elements: %s" % p.tags)
    check({"matrix", "timeline", "tier", "selftest", "status", "violations", "exposure"} <= p.ids,
          "sections: %s" % p.ids)
    # the violations table: the newest N of the journal's violation events, newest first,
    # each with its time, node, tenant, process, operation, device, verdict and action
    ev = [json.loads(l) for l in open(os.path.join(out, "journal.jsonl"), "rb")]
    viol = [e for e in ev if e["type"] == "access" and
            e["verdict"] in ("unmediated", "cross_tenant", "unresolved")]
    shown = min(len(viol), 200)
    check(int(p.vt_attrs.get("data-total", -1)) == len(viol) and
          int(p.vt_attrs.get("data-shown", -1)) == shown and len(p.vrows) == shown,
          "violations table: %s, %d rows, journal %d" % (p.vt_attrs, len(p.vrows), len(viol)))
    for row, e in zip(p.vrows, reversed(viol[-shown:])):
        d = e["device"]
        tenant = ("pod %s/%s container %s" % (e["pod"]["namespace"], e["pod"]["name"],
                                              e.get("container", {}).get("name", "?"))
                  if e.get("pod", {}).get("name") else e["cgroup"]["path"])
        want_row = [e["time"], os.uname().nodename, tenant,
                    "%s (pid %d)" % (e["process"]["comm"], e["process"]["pid"]), e["op"],
                    "%d:%d %s" % (d["major"], d["minor"], d["class"]), e["verdict"], e["action"]]
        check(row[0][:19] == e["time"][:19] and row[1:] == want_row[1:],
              "violation row %s, journal %s" % (row, want_row))
    txt = open(os.path.join(out, "report.html")).read()
    check("%d violation events in the window" % len(viol) in txt, "the total is not said")
    # on paper: chromium prints it (the print stylesheet: A4 landscape), and a screenshot
    pdf = os.path.join(WORK, "report.pdf")
    r = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu",
                        "--user-data-dir=" + prof, "--no-pdf-header-footer",
                        "--print-to-pdf=" + pdf, "file://" + os.path.join(out, "report.html")],
                       capture_output=True, timeout=120)
    data = open(pdf, "rb").read() if os.path.exists(pdf) else b""
    check(r.returncode == 0 and data.startswith(b"%PDF") and b"/Type /Page" in data,
          "print to PDF: %d %s" % (r.returncode, r.stderr[-300:]))
    check("@media print" in txt and "@page{size:A4 landscape" in txt, "no print stylesheet")
    if not shot:
        return
    png = os.path.join(WORK, "evidence-report.png")
    r = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu",
                        "--user-data-dir=" + prof, "--hide-scrollbars", "--window-size=1200,1500",
                        "--screenshot=" + png, "file://" + os.path.join(out, "report.html")],
                       capture_output=True, timeout=120)
    check(r.returncode == 0 and open(png, "rb").read(8) == b"\x89PNG\r\n\x1a\n",
          "screenshot: %d %s" % (r.returncode, r.stderr[-300:]))
    if os.environ.get("EVIDENCE_SCREENSHOT"):
        shutil.copyfile(png, os.environ["EVIDENCE_SCREENSHOT"])


def product_status(out):
    text = open(os.path.join(out, "PRODUCT.yaml")).read()
    for line in text.splitlines():
        if line.strip().startswith("status:"):
            return json.loads(line.split(":", 1)[1].strip()), text
    raise Fail("no status in PRODUCT.yaml")


def test_evidence_bundle_enforce():
    d = os.path.join(WORK, "ev-enf")
    a = Agent("ev-enf", {"dir": os.path.join(d, "journal"), "flush_ms": 100}, mode="enforce",
              extra="selftest:\n  socket: %s/control.sock\n" % d)
    node = os.path.join(d, "gpu")
    mknod(node, 205)
    cg_make("/%s-a" % TAG)
    cg_make("/%s-e" % TAG)
    try:
        a.start()
        in_cgroup("/%s-e" % TAG, opens(node, 3))   # denied violations
        in_cgroup("/%s-a" % TAG, opens(node, 1))   # a GPU tenant opening one it was not given
        r = selftest_run(a)
        check(r.returncode == 0, "selftest: %s" % r.stderr)
        time.sleep(0.3)
        out = os.path.join(d, "bundle")
        r = evidence(a, out)
        check(r.returncode == 0, "evidence exit %d: %s" % (r.returncode, r.stderr))
        check(not os.path.exists(out + ".partial"), "partial dir left")
        m, ev = check_bundle(out, a)
        st, text = product_status(out)
        check(st == "Implemented", "status %s: %s" % (st, text))
        # no Kubernetes source: exposure is said to be unchecked, not "none"
        x = json.load(open(os.path.join(out, "exposure.json")))
        rd = [e for e in ev if e["type"] == "ready"]
        check(x["containers"] == [] and x["containers_total"] == 0 and rd and
              rd[-1].get("exposure") is False and "Not checked: the agent ran without its "
              "Kubernetes source" in open(os.path.join(out, "report.html")).read(),
              "exposure without a Kubernetes source: %s, ready %s" % (x, rd[-1:]))
        check("id: secure_accelerator_access" in text and "level: MUST" in text, text)
        for f in ["journal.jsonl", "access-matrix.json", "selftest-junit.xml", "report.html"]:
            check('- "%s"' % f in text and os.path.exists(os.path.join(out, f)),
                  "evidence path %s" % f)
        st_json = json.load(open(os.path.join(out, "selftest.json")))
        check(len(st_json) == 1 and st_json[0]["result"] == "pass", "selftest.json")
        import xml.etree.ElementTree as ET
        suites = ET.parse(os.path.join(out, "selftest-junit.xml")).getroot().findall("testsuite")
        check(len(suites) == 1 and suites[0].get("tests") == "3" and
              suites[0].get("failures") == "0", "bundle junit")
        html = open(os.path.join(out, "report.html")).read()
        check("<script" not in html and "http://" not in html.replace(
            'xmlns="http://www.w3.org/2000/svg"', "") and "https://" not in html,
            "the report loads something from outside")
        r = verify(out)
        check(r.returncode == 0 and b"ok (9 files)" in r.stdout, "verify: %s" % r.stdout)
        shutil.copytree(out, os.path.join(WORK, "bundle-for-browser"))
        # a changed, a missing and an extra file: each named, verify fails
        with open(os.path.join(out, "access-matrix.csv"), "a") as f:
            f.write("x\n")
        os.unlink(os.path.join(out, "selftest.json"))
        open(os.path.join(out, "notes.txt"), "w").write("x")
        r = verify(out)
        check(r.returncode == 1 and b"changed: access-matrix.csv" in r.stdout and
              b"missing: selftest.json" in r.stdout and b"extra: notes.txt" in r.stdout,
              "verify of a broken bundle: %s" % r.stdout)
        # an existing --out is refused
        r = evidence(a, out)
        check(r.returncode == 1 and b"exists" in r.stderr, "existing out: %s" % r.stderr)
        check(a.stop() == 0, "agent exit")
    finally:
        a.stop(signal.SIGKILL)
        cg_remove("/%s-a" % TAG)
        cg_remove("/%s-e" % TAG)


def test_evidence_report_in_browser():
    out = os.path.join(WORK, "bundle-for-browser")
    if not os.path.exists(out):
        test_evidence_bundle_enforce()  # run alone (a filter): make the bundle first
    check_report_in_browser(out, shot=True)


def test_evidence_status_audit():
    d = os.path.join(WORK, "ev-aud")
    a = Agent("ev-aud", {"dir": os.path.join(d, "journal"), "flush_ms": 100}, mode="audit",
              extra="selftest:\n  socket: %s/control.sock\n" % d)
    node = os.path.join(d, "gpu")
    mknod(node, 206)
    # a tenant whose cgroup name is markup: the report must show it as text
    hostile = "/%s-e<img src=x onerror=alert(1)>&'\"" % TAG
    cg_make(hostile)
    try:
        a.start()
        in_cgroup(hostile, opens(node, 2))   # observed, not denied
        time.sleep(0.3)
        out = os.path.join(d, "b1")
        check(evidence(a, out).returncode == 0, "evidence")
        check_bundle(out, a)
        st, text = product_status(out)
        check(st == "Not Implemented" and "No self-test ran" in text and "Audit mode" in text and
              "2 violation events in the window, 2 of them not denied" in text, text)
        check_report_in_browser(out)  # observed violations: said so in the cell and the table
        r = selftest_run(a)
        check(r.returncode == 0, "selftest: %s %s" % (r.stdout, r.stderr))
        time.sleep(0.3)
        out = os.path.join(d, "b2")
        check(evidence(a, out).returncode == 0, "evidence")
        st, text = product_status(out)
        check(st == "Partially Implemented" and "pass, mode audit" in text, text)
        # a window before the self-test: none in it
        r = evidence(a, os.path.join(d, "b3"), "--until", "-1d")
        check(r.returncode == 1 and b"no ready event" in r.stderr, "window: %s" % r.stderr)
        check(a.stop() == 0, "agent exit")
    finally:
        a.stop(signal.SIGKILL)
        cg_remove(hostile)


def test_evidence_report_many():
    """More violations than the table shows: the newest 200, newest first, and the total said."""
    d = os.path.join(WORK, "ev-many")
    a = Agent("ev-many", {"dir": os.path.join(d, "journal"), "flush_ms": 100}, mode="audit")
    node = os.path.join(d, "gpu")
    mknod(node, 207)
    cg_make("/%s-m" % TAG)
    try:
        a.start()
        in_cgroup("/%s-m" % TAG, opens(node, 230))
        time.sleep(0.5)
        out = os.path.join(d, "b")
        r = evidence(a, out)
        check(r.returncode == 0, "evidence: %s" % r.stderr)
        ev = [json.loads(l) for l in open(os.path.join(out, "journal.jsonl"), "rb")]
        n = sum(1 for e in ev if e["type"] == "access" and e["verdict"] == "unmediated")
        check(n == 230, "%d violation events in the journal, 230 opens" % n)
        txt = open(os.path.join(out, "report.html")).read()
        check("230 violation events in the window; the newest 200 below" in txt, "the total")
        check_report_in_browser(out)  # the rows: the journal's newest 200, newest first
        check(a.stop() == 0, "agent exit")
    finally:
        a.stop(signal.SIGKILL)
        cg_remove("/%s-m" % TAG)


def test_evidence_exposure():
    """The exposure section from a journal of two agent runs: a container reported before the
    window stands in it while no removal and no later start-up left it out; one removed before the
    window, one not reported again by the next start-up, and one reported after the window are
    left out; one removed in the window is said so; the devices and reasons are each container's
    latest report's; markup in a pod name stays text; the notes count them."""
    import exposure_section
    d = os.path.join(WORK, "ev-expo")
    jdir = os.path.join(d, "journal")
    os.makedirs(jdir)
    t0 = (int(time.time()) - 3600) * 10**9

    def ts(sec):
        ns = t0 + int(sec * 1e9)
        return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ns // 10**9)) + ".%09dZ" % (ns % 10**9)

    def gpu(m, *why):
        return {"path": "/dev/nvidia%d" % m, "major": 195, "minor": m, "reasons": list(why)}

    def expo(sec, cg, name, devs, more=0):
        e = {"type": "exposure", "time": ts(sec),
             "cgroup": {"id": cg, "path": "/kubepods/besteffort/pod-%s/c%d" % (TAG, cg)},
             "pod": {"namespace": "expo", "name": name, "uid": "uid-%d" % cg},
             "container": {"name": "main", "id": "%064x" % cg},
             "bundle": "/run/containerd/io.containerd.runtime.v2.task/k8s.io/%064x/config.json" % cg,
             "devices": devs}
        if more:
            e["more"] = more
        return e

    def removed(sec, cg):
        return {"type": "tenant", "time": ts(sec), "event": "removed", "state": "tenant",
                "cgroup": {"id": cg, "path": "/kubepods/besteffort/pod-%s/c%d" % (TAG, cg)}}

    def ready(sec):
        return {"type": "ready", "time": ts(sec), "version": "test", "tier": "lsm",
                "mode": "enforce", "kernel": os.uname().release, "exposure": True}

    hostile = "a<img src=x onerror=alert(1)>&'\""
    env = "env NVIDIA_VISIBLE_DEVICES=all"
    rule = ["device-rule c 195:* rwm", "CAP_MKNOD"]
    a1 = expo(0, 101, hostile, [gpu(0, "privileged"), gpu(1, "privileged")])
    g = expo(0.1, 107, "gone-before", [gpu(2, "device /dev/nvidia2")])
    b1 = expo(2, 102, "b", [gpu(1, *rule)], more=2)
    h = expo(3.5, 108, "gone-between-runs", [gpu(3, env)])
    a2 = expo(5, 101, hostile, [gpu(0, "privileged")])       # run 2's start-up: A changed
    b2 = expo(5.1, 102, "b", [gpu(1, *rule), gpu(2, *rule)], more=2)
    c = expo(8, 103, "c", [gpu(n, env) for n in range(4)])
    dd = expo(10, 104, "d", [gpu(3, "device /dev/nvidia3", "hostPath /dev")])
    e = expo(12, 105, "after", [gpu(0, env)])
    # one access: an exposure is what could be reached, the matrix what was
    acc = {"type": "access", "time": ts(10.5), "op": "open", "verdict": "unmediated",
           "action": "denied", "tier": "lsm", "hook": "lsm", "first": True,
           "device": {"major": 195, "minor": 3, "class": "nvidia-gpu"},
           "process": {"pid": 4242, "tid": 4242, "comm": "python3"},
           "cgroup": dd["cgroup"], "pod": dd["pod"], "container": dd["container"],
           "violations": {"total": 1, "suppressed": 0}}
    journal = [a1, g, ready(1), b1, removed(3, 107), h, {"type": "summary", "time": ts(4)},
               a2, b2, ready(6), c, removed(9, 102), dd, acc, e]
    with open(os.path.join(jdir, "seg-%020d.jsonl" % t0), "w") as f:
        for x in journal:
            f.write(json.dumps(x, separators=(",", ":")) + "\n")
    out = os.path.join(d, "b")
    r = subprocess.run([AGENT, "evidence", "--dir", jdir, "--out", out, "--since", ts(7),
                        "--until", ts(11)], capture_output=True, timeout=120)
    check(r.returncode == 0 and b"4 exposed containers" in r.stdout,
          "evidence: %d %s %s" % (r.returncode, r.stdout, r.stderr))
    bad, rendered = exposure_section.check(
        out, [a2, b2, c, dd], absent=[x["container"]["id"] for x in (g, h, e)],
        removed={(102, b2["cgroup"]["path"]): ts(9)}, work=d, need_browser=False)
    check(not bad, "; ".join(bad))
    x = json.load(open(os.path.join(out, "exposure.json")))["containers"]
    check([c_["reported_before_window"] for c_ in x] == [True, True, False, False] and
          x[0]["first_reported"] == ts(0), "before the window: %s" %
          [(c_["tenant"], c_["first_reported"], c_["reported_before_window"]) for c_ in x])
    st, text = product_status(out)
    check("4 containers could reach 10 accelerator nodes beyond their allocation" in text, text)
    r = verify(out)
    check(r.returncode == 0 and b"ok (9 files)" in r.stdout, "verify: %s" % r.stdout)
    if not rendered:
        raise Skip("chromium is not installed (tools/deps/test.txt): the report is unchecked")
    check_report_in_browser(out)  # markup in the pod name stays text; prints to PDF


def test_evidence_signed():
    d = os.path.join(WORK, "ev-sig")
    a = Agent("ev-sig", {"dir": os.path.join(d, "journal"), "flush_ms": 100})
    try:
        a.start()
        time.sleep(0.3)
        key, pub, other = (os.path.join(d, n) for n in ("key.pem", "pub.pem", "other.pem"))
        for k in (key, other):
            subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", k], check=True,
                           capture_output=True)
        subprocess.run(["openssl", "pkey", "-in", key, "-pubout", "-out", pub], check=True)
        out = os.path.join(d, "b")
        r = evidence(a, out, "--sign-key", key)
        check(r.returncode == 0 and os.path.exists(os.path.join(out, "manifest.json.sig")),
              "signed bundle: %s" % r.stderr)
        r = verify(out, "--pubkey", pub)
        check(r.returncode == 0 and b"signature good" in r.stdout, "verify: %s" % r.stdout)
        # the signature is checked with openssl too: the same bytes, the same key
        import base64
        sig = base64.b64decode(open(os.path.join(out, "manifest.json.sig")).read())
        open(os.path.join(d, "sig.bin"), "wb").write(sig)
        r = subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", pub, "-rawin",
                            "-in", os.path.join(out, "manifest.json"), "-sigfile",
                            os.path.join(d, "sig.bin")], capture_output=True)
        check(r.returncode == 0, "openssl does not accept the signature: %s" % r.stdout)
        subprocess.run(["openssl", "pkey", "-in", other, "-pubout", "-out", other + ".pub"],
                       check=True)
        r = verify(out, "--pubkey", other + ".pub")
        check(r.returncode == 1 and b"signature: does not match" in r.stdout, "wrong key: %s"
              % r.stdout)
        # a manifest changed after signing: checksums may still agree, the signature does not
        m = open(os.path.join(out, "manifest.json")).read().replace('"mode"', '"mode" ', 1)
        open(os.path.join(out, "manifest.json"), "w").write(m)
        r = verify(out, "--pubkey", pub)
        check(r.returncode == 1 and b"signature: does not match" in r.stdout, "tampered: %s"
              % r.stdout)
        # the same as a tarball: verified whole, signature included; one extra file is named
        tgz = os.path.join(d, "b.tar.gz")
        r = subprocess.run([AGENT, "evidence", "--config", a.cfg, "--tar", tgz, "--sign-key",
                            key], capture_output=True, timeout=60)
        check(r.returncode == 0 and os.path.exists(tgz), "--tar: %s" % r.stderr)
        r = subprocess.run(["tar", "tzf", tgz], capture_output=True)
        check(r.returncode == 0 and sorted(r.stdout.decode().split()) == sorted(
            ["PRODUCT.yaml", "access-matrix.csv", "access-matrix.json", "journal.jsonl",
             "manifest.json", "manifest.json.sig", "report.html", "selftest-junit.xml",
             "selftest.json", "exposure.json", "exposure.csv"]), "tar lists %s" % r.stdout)
        r = verify(tgz, "--pubkey", pub)
        check(r.returncode == 0 and b"b.tar.gz: ok (9 files, signature good)" in r.stdout,
              "verify tarball: %s" % r.stdout)
        x = os.path.join(d, "x")
        os.makedirs(x)
        subprocess.run(["tar", "xzf", tgz, "-C", x], check=True)
        open(os.path.join(x, "more.txt"), "w").write("x")
        subprocess.run("tar czf %s/bad.tar.gz *" % d, shell=True, cwd=x, check=True)
        r = verify(os.path.join(d, "bad.tar.gz"), "--pubkey", pub)
        check(r.returncode == 1 and b"extra: more.txt" in r.stdout, "bad tarball: %s" % r.stdout)
        # a member given twice (the second copy would replace what was checked): named
        import tarfile
        twice = os.path.join(d, "twice.tar.gz")
        with tarfile.open(twice, "w:gz", format=tarfile.USTAR_FORMAT) as t:
            for name in sorted(os.listdir(x)) + ["report.html"]:
                t.add(os.path.join(x, name), arcname=name)
        r = verify(twice, "--pubkey", pub)
        check(r.returncode == 1 and b"bad entry: report.html (given twice)" in r.stdout and
              b"File exists" not in r.stdout, "member twice: %s" % r.stdout)
        check(not glob.glob("/tmp/accelguard-verify.*") and
              not glob.glob("/tmp/accelguard-evidence.*"), "temporary directories left")
        r = evidence(a, os.path.join(d, "b2"), "--sign-key", pub)
        check(r.returncode == 1 and b"not an Ed25519 private key" in r.stderr and
              not os.path.exists(os.path.join(d, "b2")) and
              not os.path.exists(os.path.join(d, "b2.partial")), "bad key: %s" % r.stderr)
    finally:
        a.stop()


# ---- PRODUCT.yaml ------------------------------------------------------------------------

CHECKLISTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs",
                          "conformance")
VERSIONS = ["1.33", "1.34", "1.35", "1.36", "1.37"]


def product_check(path, *args):
    return subprocess.run([AGENT, "evidence", "product-check", path] + list(args),
                          capture_output=True, timeout=60)


def refusals(stdout):
    return [l[len("refused: "):] for l in stdout.decode().splitlines() if l.startswith("refused: ")]


def check_against_oracle(path, stdout):
    """accelguard's refusals are the validator's: the same rules, each line starting with the
    validator's own message (accelguard may add a hint after it)."""
    import product_oracle
    want = sorted(product_oracle.validate(path, CHECKLISTS))
    got = refusals(stdout)
    check(len(got) == len(want), "refusals of %s: accelguard %s, the validator %s"
          % (path, got, want))
    left = list(got)
    for rule, msg in want:
        hit = [g for g in left if g.startswith("[%s] %s" % (rule, msg))]
        check(hit, "the validator refuses [%s] %s; accelguard said %s" % (rule, msg, got))
        left.remove(hit[0])


def fill_vendor(path, version):
    """What the vendor fills in: the metadata, the other requirements (MUSTs Implemented with
    an evidence file beside PRODUCT.yaml, SHOULDs left empty)."""
    import yaml
    d = os.path.dirname(path)
    open(os.path.join(d, "attestation.md"), "w").write("self-attestation\n")
    doc = yaml.safe_load(open(path))
    doc["metadata"].update({
        "kubernetesVersion": "v" + version, "platformName": "Acme AI", "platformVersion": "2.0",
        "vendorName": "Acme", "websiteUrl": "https://acme.example", "repoUrl": "",
        "documentationUrl": "https://acme.example/docs", "productLogoUrl": "https://acme.example/l.svg",
        "description": "Acme's platform", "contactEmailAddress": "ai@acme.example",
        "k8sConformanceUrl": "https://github.com/cncf/k8s-conformance/tree/master/v%s/acme" % version})
    for cat, reqs in doc["spec"].items():
        for r in reqs:
            if r["id"] != "secure_accelerator_access" and r["level"] == "MUST":
                r.update({"status": "Implemented", "evidence": ["attestation.md"]})
    with open(path, "w") as f:
        yaml.safe_dump(doc, f, sort_keys=False, width=100000)


def test_evidence_product():
    import yaml
    d = os.path.join(WORK, "ev-prod")
    a = Agent("ev-prod", {"dir": os.path.join(d, "journal"), "flush_ms": 100}, mode="enforce",
              extra="selftest:\n  socket: %s/control.sock\n" % d)
    try:
        a.start()
        check(selftest_run(a).returncode == 0, "selftest")
        time.sleep(0.3)
        for v in VERSIONS:
            checklist = yaml.safe_load(open(os.path.join(CHECKLISTS, "AIConformance-%s.yaml" % v)))
            pdir = os.path.join(d, "repo", "v" + v, "acme")
            os.makedirs(pdir)
            prod = os.path.join(pdir, "PRODUCT.yaml")
            # 1. no PRODUCT.yaml yet: written whole from the checklist, the vendor's fields
            # left as placeholders: written, and refused naming each
            r = evidence(a, os.path.join(pdir, "accelguard"), "--product", prod)
            check(r.returncode == 3, "v%s template: exit %d %s %s" % (v, r.returncode, r.stdout,
                                                                     r.stderr))
            check_against_oracle(prod, r.stdout)
            doc = yaml.safe_load(open(prod))
            check({c: [x["id"] for x in l] for c, l in doc["spec"].items()} ==
                  {c: [x["id"] for x in l] for c, l in checklist["spec"].items()},
                  "v%s: the template's requirements" % v)
            entry = [x for x in doc["spec"]["security"] if x["id"] == "secure_accelerator_access"]
            sch = [x for x in checklist["spec"]["security"] if x["id"] == "secure_accelerator_access"][0]
            check(len(entry) == 1 and entry[0]["description"] == sch["description"] and
                  entry[0]["level"] == "MUST" and entry[0]["status"] == "Implemented" and
                  all(os.path.exists(os.path.join(pdir, e)) for e in entry[0]["evidence"]) and
                  "accelguard/selftest-junit.xml" in entry[0]["evidence"],
                  "v%s entry: %s" % (v, entry))
            out = r.stdout.decode()
            check("[metadata.placeholder] Metadata field vendorName" in out and
                  "k8sConformanceUrl" in out and "not checked offline" in out,
                  "v%s: %s" % (v, out))
            # 2. the vendor fills in the rest: valid offline, the online checks listed
            fill_vendor(prod, v)
            r = product_check(prod)
            check(r.returncode == 0 and b"valid offline for v" + v.encode() in r.stdout and
                  b"online: [url] websiteUrl: https://acme.example" in r.stdout and
                  b"online: [vendorName.member] vendorName 'Acme'" in r.stdout,
                  "v%s filled: %d %s" % (v, r.returncode, r.stdout))
            check_against_oracle(prod, r.stdout)
        # 3. a vendor's own file: the entry replaced in place, every other byte kept
        pdir = os.path.join(d, "repo", "v1.36", "acme")
        prod = os.path.join(pdir, "PRODUCT.yaml")
        text = open(prod).read()
        mine = ("# Acme's submission\n" + text.replace("spec:\n", "spec:  # filled by hand\n", 1))
        mine = mine.replace("  security:\n", "  security:\n  # the entry below is accelguard's\n", 1)
        open(prod, "w").write(mine)
        shutil.rmtree(os.path.join(pdir, "accelguard"))
        r = evidence(a, os.path.join(pdir, "accelguard"), "--product", prod)
        check(r.returncode == 0, "merge: %d %s %s" % (r.returncode, r.stdout, r.stderr))
        after = open(prod).read()
        cut = lambda t: re.sub(r"- id: secure_accelerator_access\n(    .*\n|      .*\n)*", "", t)
        check(cut(after) == cut(mine) and "# Acme's submission" in after and
              "# the entry below is accelguard's" in after, "merge changed other bytes")
        # the bundle elsewhere: paths relative to PRODUCT.yaml, with ..
        other = os.path.join(d, "elsewhere", "bundle")
        os.makedirs(os.path.dirname(other))
        r = evidence(a, other, "--product", prod)
        check(r.returncode == 0 and "../../../elsewhere/bundle/report.html" in open(prod).read(),
              "bundle elsewhere: %d %s %s" % (r.returncode, r.stdout, r.stderr))
        check_against_oracle(prod, product_check(prod).stdout)
        # 4. what the validator refuses, each named, against the oracle
        def case(name, edit, rule, path=None):
            p = path or os.path.join(d, "repo", "v1.36", name, "PRODUCT.yaml")
            os.makedirs(os.path.dirname(p), exist_ok=True)
            shutil.copytree(os.path.join(pdir, "accelguard"), os.path.join(os.path.dirname(p),
                                                                          "accelguard"),
                            dirs_exist_ok=True)
            open(os.path.join(os.path.dirname(p), "attestation.md"), "w").write("x\n")
            open(p, "w").write(edit(open(prod).read()))
            r = product_check(p)
            check(r.returncode == 1 and ("refused: [%s]" % rule).encode() in r.stdout,
                  "%s: %d %s" % (name, r.returncode, r.stdout))
            if rule not in ("load", "version.path"):
                check_against_oracle(p, r.stdout)
            return r
        sub = lambda a_, b: (lambda t: t.replace(a_, b, 1))
        case("partial", lambda t: re.sub(r'(id: secure_accelerator_access\n(?:.*\n)*?\s*status: )"Implemented"',
                                         r'\1"Partially Implemented"', t, count=1), "status.must")
        case("bogus", sub("status: Implemented", "status: Done"), "status")
        case("na", lambda t: t.replace("status: Implemented\n    evidence:\n    - attestation.md",
                                       "status: N/A\n    evidence: []", 1), "status.na_notes")
        case("nocat", lambda t: t.replace("  operator:", "  operators:"), "spec.category")
        case("noid", sub("id: robust_controller", "id: robust_controllers"), "spec.requirement")
        case("missing", sub("- attestation.md", "- results/e2e.log"), "evidence.file")
        r = case("fileurl", sub("- attestation.md", "- file://results/junit.xml#TestSecureAcceleratorAccess"),
                 "evidence.file")
        check(b"file:// entries for paths" in r.stdout, "file:// hint: %s" % r.stdout)
        case("badurl", sub("tree/master/v1.36/acme", "blob/master/v1.36/acme"),
             "metadata.k8sConformanceUrl")
        case("notstr", sub("platformVersion: '2.0'", "platformVersion: 2.0"), "metadata.string")
        case("empty", sub("platformName: Acme AI", "platformName: ''"), "metadata.empty")
        case("nometa", lambda t: t.replace("  contactEmailAddress: ai@acme.example\n", ""),
             "metadata.required")
        case("dupkey", lambda t: t.replace("metadata:\n", "metadata:\n  vendorName: Acme\n", 1), "load")
        case("evstr", sub("evidence:\n    - attestation.md", "evidence: attestation.md"), "load")
        case("noversion", lambda t: t, "version.path", path=os.path.join(d, "repo", "acme", "PRODUCT.yaml"))
        # accepted, with a note: a description that is not the checklist's
        p = os.path.join(d, "repo", "v1.36", "desc", "PRODUCT.yaml")
        os.makedirs(os.path.dirname(p))
        shutil.copytree(os.path.join(pdir, "accelguard"), os.path.join(os.path.dirname(p), "accelguard"))
        open(os.path.join(os.path.dirname(p), "attestation.md"), "w").write("x\n")
        open(p, "w").write(open(prod).read().replace("properly isolated", "isolated", 1))
        r = product_check(p)
        check(r.returncode == 0 and b"note: [description] 'secure_accelerator_access'" in r.stdout,
              "description note: %s" % r.stdout)
        # not merged into: a file that does not load, one without a block list under security;
        # each left as it was
        for name, text, why in (
                ("broken", open(prod).read().replace("metadata:\n", "metadata:\n  vendorName: A\n", 1),
                 b'mapping key \"vendorName\" already defined'),
                ("flow", "metadata: {}\nspec:\n  security: [{id: x}]\n", b"not a list of requirements in block style")):
            p = os.path.join(d, "repo", "v1.36", name, "PRODUCT.yaml")
            os.makedirs(os.path.dirname(p))
            open(p, "w").write(text)
            r = evidence(a, os.path.join(os.path.dirname(p), "accelguard"), "--product", p)
            check(r.returncode == 1 and why in r.stderr and b"cannot merge the entry" in r.stderr
                  and open(p).read() == text and not os.path.exists(p + ".tmp"),
                  "%s: %d %s" % (name, r.returncode, r.stderr))
        # appended where the list has no entry of ours (v1.37: after workload_sandboxing)
        p37 = os.path.join(d, "repo", "v1.37", "acme", "PRODUCT.yaml")
        doc = yaml.safe_load(open(p37))
        doc["spec"]["security"] = [x for x in doc["spec"]["security"]
                                   if x["id"] != "secure_accelerator_access"]
        with open(p37, "w") as f:
            yaml.safe_dump(doc, f, sort_keys=False, width=100000)
        shutil.rmtree(os.path.join(os.path.dirname(p37), "accelguard"))
        r = evidence(a, os.path.join(os.path.dirname(p37), "accelguard"), "--product", p37)
        doc = yaml.safe_load(open(p37))
        check(r.returncode == 0 and [x["id"] for x in doc["spec"]["security"]] ==
              ["workload_sandboxing", "secure_accelerator_access"],
              "appended: %d %s %s" % (r.returncode, r.stdout, doc["spec"]["security"]))
        check_against_oracle(p37, r.stdout)
        # accepted: snake_case metadata; a SHOULD left empty
        p = os.path.join(d, "repo", "v1.36", "snake", "PRODUCT.yaml")
        os.makedirs(os.path.dirname(p))
        shutil.copytree(os.path.join(pdir, "accelguard"), os.path.join(os.path.dirname(p), "accelguard"))
        open(os.path.join(os.path.dirname(p), "attestation.md"), "w").write("x\n")
        open(p, "w").write(open(prod).read().replace("platformName:", "platform_name:")
                           .replace("k8sConformanceUrl:", "k8s_conformance_url:"))
        r = product_check(p)
        check(r.returncode == 0, "snake_case: %s" % r.stdout)
        # a version given that is not the path's
        r = product_check(p, "--conformance-version", "1.35")
        check(r.returncode == 1 and b"[version.path]" in r.stdout and b"not v1.35/" in r.stdout,
              "version mismatch: %s" % r.stdout)
        # an audit bundle (no self-test: Not Implemented): written, and refused as a MUST
        a.stop()
        a2 = Agent("ev-prod-audit", {"dir": os.path.join(d, "journal-audit"), "flush_ms": 100},
                   mode="audit", extra="selftest:\n  socket: %s/control2.sock\n" % d)
        a2.start()
        try:
            time.sleep(0.3)
            p = os.path.join(d, "repo", "v1.37", "acme", "PRODUCT.yaml")
            r = evidence(a2, os.path.join(d, "repo", "v1.37", "acme", "audit"), "--product", p)
            check(r.returncode == 3 and b"refused: [status.must] Requirement "
                  b"'secure_accelerator_access' is MUST level but status is 'Not "
                  b"Implemented'" in r.stdout, "audit: %d %s" % (r.returncode, r.stdout))
        finally:
            a2.stop()
        # not into the bundle itself (its manifest seals it)
        inb = os.path.join(d, "repo", "v1.36", "inside")
        r = evidence(a, inb, "--product", os.path.join(inb, "PRODUCT.yaml"))
        check(r.returncode == 1 and b"inside the bundle" in r.stderr and
              verify(inb).returncode == 0, "--product inside the bundle: %s" % r.stderr)
        # usage errors: --product without --out; an unknown version
        r = subprocess.run([AGENT, "evidence", "--config", a.cfg, "--tar", os.path.join(d, "x.tgz"),
                            "--product", prod], capture_output=True)
        check(r.returncode == 2 and b"give --out DIR" in r.stderr, "tar only: %s" % r.stderr)
        r = evidence(a, os.path.join(d, "y"), "--product", os.path.join(d, "P.yaml"),
                     "--conformance-version", "1.32")
        check(r.returncode == 2 and b"1.32: no such checklist" in r.stderr, "1.32: %s" % r.stderr)
    finally:
        a.stop(signal.SIGKILL)


# ---- upload -------------------------------------------------------------------------------

def make_ca(d, name="127.0.0.1"):
    """A CA and a server certificate for 127.0.0.1 signed by it (openssl). Returns (ca, cert, key)."""
    ca, cakey, crt, key, csr, ext = (os.path.join(d, n) for n in (
        "ca.pem", "ca.key", "srv.pem", "srv.key", "srv.csr", "srv.ext"))
    run = lambda *a: subprocess.run(list(a), check=True, capture_output=True)
    run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", cakey, "-out", ca,
        "-days", "2", "-subj", "/CN=accelguard test CA")
    run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr,
        "-subj", "/CN=%s" % name)
    open(ext, "w").write("subjectAltName=IP:%s\n" % name)
    run("openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", cakey, "-CAcreateserial",
        "-out", crt, "-days", "2", "-extfile", ext)
    return ca, crt, key


class PutServer:
    """An HTTPS server on 127.0.0.1 that answers PUTs from a script of statuses, then stores."""

    def __init__(self, crt, key, script, store):
        import http.server
        import ssl
        import threading
        self.script, self.store, self.seen = list(script), store, []
        srv = self

        class H(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_PUT(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                srv.seen.append((time.monotonic(), self.path, len(body)))
                st = srv.script.pop(0) if srv.script else 200
                if isinstance(st, tuple):
                    st, hdrs = st
                else:
                    hdrs = {}
                if st < 300:
                    open(srv.store, "wb").write(body)
                self.send_response(st)
                for k, v in hdrs.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(crt, key)
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.t = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.t.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def test_evidence_upload():
    import socket
    d = os.path.join(WORK, "ev-up")
    with socket.socket() as s:  # a port of its own: another agent on the machine may hold 9464
        s.bind(("127.0.0.1", 0))
        mport = s.getsockname()[1]
    a = Agent("ev-up", {"dir": os.path.join(d, "journal"), "flush_ms": 100},
              extra="metrics:\n  listen: 127.0.0.1:%d\n" % mport)
    srv = bad = None
    try:
        a.start()
        time.sleep(0.3)
        ca, crt, key = make_ca(d)
        store = os.path.join(d, "stored.tar.gz")
        # 500, then 503 with Retry-After: 2, then stored
        srv = PutServer(crt, key, [500, (503, {"Retry-After": "2"}), 200], store)
        url = "https://127.0.0.1:%d/bucket/node-a.tar.gz?X-Sig=secret" % srv.port
        tgz = os.path.join(d, "b.tar.gz")
        r = subprocess.run([AGENT, "evidence", "--config", a.cfg, "--tar", tgz, "--upload", url,
                            "--upload-ca", ca], capture_output=True, timeout=120)
        check(r.returncode == 0, "upload: exit %d: %r" % (r.returncode, r.stderr))
        check(len(srv.seen) == 3 and all(p == "/bucket/node-a.tar.gz?X-Sig=secret"
                                         for _, p, _ in srv.seen), "attempts: %s" % srv.seen)
        gap1, gap2 = srv.seen[1][0] - srv.seen[0][0], srv.seen[2][0] - srv.seen[1][0]
        check(0.4 <= gap1 < 1.9, "backoff after 500: %.2fs" % gap1)
        check(gap2 >= 1.9, "Retry-After: 2 not honoured: %.2fs" % gap2)
        check(b"attempt 1: HTTP 500" in r.stderr and b"attempt 2: HTTP 503" in r.stderr and
              b"secret" not in r.stderr, "progress lines: %r" % r.stderr)
        check(open(store, "rb").read() == open(tgz, "rb").read(), "stored bytes differ")
        v = verify(store)
        check(v.returncode == 0 and b": ok (" in v.stdout, "verify stored: %s" % v.stdout)
        # without the private CA the server is not trusted: a TLS error, named
        r = subprocess.run([AGENT, "evidence", "--config", a.cfg, "--tar",
                            os.path.join(d, "c.tar.gz"), "--upload", url], capture_output=True,
                           timeout=120)
        check(r.returncode == 1 and b"--upload https://127.0.0.1:%d/bucket/node-a.tar.gz?..."
              % srv.port in r.stderr and b"certificate" in r.stderr.lower(),
              "untrusted: %r" % r.stderr)
        # a server that always fails: 5 attempts, then the URL and the last status
        bad = PutServer(crt, key, [502] * 10, os.path.join(d, "never"))
        burl = "https://127.0.0.1:%d/x.tar.gz" % bad.port
        r = subprocess.run([AGENT, "evidence", "--config", a.cfg, "--tar",
                            os.path.join(d, "e.tar.gz"), "--upload", burl, "--upload-ca", ca],
                           capture_output=True, timeout=120)
        check(r.returncode == 1 and len(bad.seen) == 5 and
              (b"--upload %s: failed after 5 attempts: HTTP 502" % burl.encode()) in r.stderr
              and os.path.exists(os.path.join(d, "e.tar.gz")) and
              not os.path.exists(os.path.join(d, "never")),
              "always failing: exit %d, %d attempts: %r" % (r.returncode, len(bad.seen), r.stderr))
        # a 403 is not retried
        bad.script = [403]
        bad.seen = []
        r = subprocess.run([AGENT, "evidence", "--config", a.cfg, "--tar",
                            os.path.join(d, "f.tar.gz"), "--upload", burl, "--upload-ca", ca],
                           capture_output=True, timeout=120)
        check(r.returncode == 1 and len(bad.seen) == 1 and
              b"failed after 1 attempt: HTTP 403" in r.stderr, "403: %r" % r.stderr)
        # nothing listens: the curl error is named
        port = bad.port
        bad.close()
        bad = None
        r = subprocess.run([AGENT, "evidence", "--config", a.cfg, "--tar",
                            os.path.join(d, "g.tar.gz"), "--upload",
                            "https://127.0.0.1:%d/x" % port, "--upload-ca", ca],
                           capture_output=True, timeout=120)
        check(r.returncode == 1 and b"failed after 5 attempts" in r.stderr and
              b"onnect" in r.stderr, "refused: %r" % r.stderr)
        r = subprocess.run([AGENT, "evidence", "--config", a.cfg, "--out", os.path.join(d, "h"),
                            "--upload", url], capture_output=True, timeout=60)
        check(r.returncode == 2 and b"give --tar" in r.stderr, "no --tar: %r" % r.stderr)
        # the agent's /evidence.tar.gz is off unless metrics.evidence: true
        import urllib.error
        import urllib.request
        try:
            urllib.request.urlopen("http://127.0.0.1:%d/evidence.tar.gz" % mport, timeout=10)
            check(False, "/evidence.tar.gz answered with metrics.evidence off")
        except urllib.error.HTTPError as e:
            check(e.code == 404 and b"metrics.evidence: true" in e.read(), "off: %s" % e)
    finally:
        for s in (srv, bad):
            if s:
                s.close()
        a.stop()


# ---- cluster roll-up -----------------------------------------------------------------------

PEER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "k8s", "peers", "api_peer.py")


def test_evidence_cluster():
    import base64
    d = os.path.join(WORK, "ev-cl")
    import socket
    import urllib.error
    import urllib.request
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        mport = s.getsockname()[1]
    a = Agent("ev-cl", {"dir": os.path.join(d, "journal"), "flush_ms": 100}, mode="enforce",
              extra="selftest:\n  socket: %s/control.sock\nmetrics:\n  listen: 127.0.0.1:%d\n"
              "  evidence: true\n  evidence_hours: 2\n" % (d, mport))
    peer = None
    try:
        a.start()
        time.sleep(0.5)  # the journal's ready event is flushed (flush_ms 100)
        # with upstream's subtests (no pods here: each skipped, said so), gathered per node
        r = selftest_run(a, "--conformance")
        check(r.returncode == 0 and b"skip TestSecureAcceleratorAccess/PositiveAccessTest: no "
              b"running container on this node holds an NVIDIA GPU" in r.stdout,
              "selftest: %s %s" % (r.stdout, r.stderr))
        time.sleep(0.3)
        # node bundles made by the real agent: GET /evidence.tar.gz on its HTTP server (the last
        # evidence_hours of its journal), and a copy with one file changed after the manifest
        good = os.path.join(d, "good.tar.gz")
        with urllib.request.urlopen("http://127.0.0.1:%d/evidence.tar.gz" % mport,
                                    timeout=60) as resp:
            check(resp.status == 200 and resp.headers["Content-Type"] == "application/gzip",
                  "/evidence.tar.gz: %s %s" % (resp.status, resp.headers))
            open(good, "wb").write(resp.read())
        v = verify(good)
        check(v.returncode == 0, "the served bundle: %s" % v.stdout)
        check(not glob.glob("/tmp/accelguard-evhttp.*"), "the endpoint left files in /tmp")
        x = os.path.join(d, "x")
        os.makedirs(x)
        subprocess.run(["tar", "xzf", good, "-C", x], check=True)
        with open(os.path.join(x, "journal.jsonl"), "a") as f:
            f.write('{"type":"forged"}\n')
        tampered = os.path.join(d, "tampered.tar.gz")
        subprocess.run("tar czf %s *" % tampered, shell=True, cwd=x, check=True)
        ca, crt, key = make_ca(d)
        tok = os.path.join(d, "token")
        open(tok, "w").write("cluster-reader-token\n")
        for n in ("pods", "claims", "slices"):
            open(os.path.join(d, n + ".json"), "w").write("[]")
        gpu = {"allocatable": {"cpu": "64", "nvidia.com/gpu": "8"}}
        nodes = [{"metadata": {"name": n}, "status": gpu} for n in ("gpu-a", "gpu-b", "gpu-c")]
        nodes.append({"metadata": {"name": "cpu-x"}, "status": {"allocatable": {"cpu": "8"}}})
        lab = {"app.kubernetes.io/name": "accelguard", "app.kubernetes.io/component": "agent"}
        pods = [{"metadata": {"name": "accelguard-" + n[-1], "namespace": "accelguard",
                              "labels": lab}, "spec": {"nodeName": n}}
                for n in ("gpu-a", "gpu-b", "gpu-c")]
        pods.append({"metadata": {"name": "other", "namespace": "accelguard",
                                  "labels": {"app.kubernetes.io/name": "other"}},
                     "spec": {"nodeName": "cpu-x"}})
        # gpu-a's bundle is forwarded by the peer from the agent itself, as the pod proxy does
        served = {"url": "http://127.0.0.1:%d/evidence.tar.gz" % mport}
        proxy = {"accelguard/accelguard-a:9464/evidence.tar.gz": served,
                 "accelguard/accelguard-b:9464/evidence.tar.gz": {"status": 503},
                 "accelguard/accelguard-c:9464/evidence.tar.gz": {"file": tampered}}
        cl = os.path.join(d, "cluster.json")
        json.dump({"nodes": nodes, "pods": pods, "proxy": proxy}, open(cl, "w"))
        pf = os.path.join(d, "port")
        peer = subprocess.Popen(["/usr/bin/python3", PEER, "--port-file", pf, "--cert", crt,
                                 "--key", key, "--token-file", tok,
                                 "--pods", os.path.join(d, "pods.json"),
                                 "--claims", os.path.join(d, "claims.json"),
                                 "--slices", os.path.join(d, "slices.json"),
                                 "--fault-file", os.path.join(d, "fault"),
                                 "--log", os.path.join(d, "peer.log"), "--cluster", cl])
        for _ in range(100):
            if os.path.exists(pf):
                break
            time.sleep(0.05)
        port = int(open(pf).read())
        kc = os.path.join(d, "kubeconfig")
        open(kc, "w").write("""apiVersion: v1
kind: Config
current-context: test
clusters:
- name: other
  cluster: {server: "https://192.0.2.1:6443"}
- name: peer
  cluster:
    server: https://127.0.0.1:%d
    certificate-authority-data: %s
contexts:
- name: test
  context: {cluster: peer, user: reader}
users:
- name: reader
  user:
    token: cluster-reader-token
""" % (port, base64.b64encode(open(ca, "rb").read()).decode()))
        sk, sp = os.path.join(d, "sign.pem"), os.path.join(d, "sign.pub")
        subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", sk], check=True,
                       capture_output=True)
        subprocess.run(["openssl", "pkey", "-in", sk, "-pubout", "-out", sp], check=True)
        out = os.path.join(d, "cluster")
        r = subprocess.run([AGENT, "evidence", "cluster", "--kubeconfig", kc, "--out", out,
                            "--sign-key", sk], capture_output=True, timeout=120)
        check(r.returncode == 3, "cluster exit %d: %r %r" % (r.returncode, r.stdout, r.stderr))
        check(sorted(os.listdir(out)) == ["PRODUCT.yaml", "manifest.json", "manifest.json.sig",
                                          "node-gpu-a.tar.gz", "node-gpu-c.tar.gz", "nodes.csv",
                                          "nodes.json"], "cluster bundle: %s" % os.listdir(out))
        t = {n["node"]: n for n in json.load(open(os.path.join(out, "nodes.json")))}
        check(sorted(t) == ["gpu-a", "gpu-b", "gpu-c"], "table nodes: %s" % sorted(t))
        ga, gb, gc = t["gpu-a"], t["gpu-b"], t["gpu-c"]
        m = json.load(open(os.path.join(x, "manifest.json")))
        check(ga["state"] == "verified" and ga["status"] == "Implemented" and
              ga["tier"] == m["tier"] and ga["mode"] == "enforce" and ga["selftest"] == "pass"
              and ga["violations"] == 0 and ga["pod"] == "accelguard-a" and
              ga["conformance"] == {"PositiveAccessTest": "skipped", "NegativeIsolationTest":
                                    "skipped", "MultiContainerIsolationTest": "skipped"},
              "gpu-a: %s" % ga)
        check(gb["state"] == "unreachable" and "HTTP 503" in gb["problem"] and
              "accelguard-b:9464/proxy/evidence.tar.gz" in gb["problem"], "gpu-b: %s" % gb)
        check(gc["state"] == "unverified" and "evidence verify" in gc["problem"], "gpu-c: %s" % gc)
        check(b"changed: journal.jsonl" in r.stdout, "verify output: %r" % r.stdout)
        check(verify(os.path.join(out, "node-gpu-a.tar.gz")).returncode == 0,
              "gpu-a's bundle as stored")
        csv = open(os.path.join(out, "nodes.csv")).read().splitlines()
        check(csv[0] == "node,gpu,state,tier,mode,selftest,conformance,violations,status,problem" and
              csv[1].startswith("gpu-a,yes,verified,tracepoint,enforce,pass,PositiveAccessTest="
                                "skipped NegativeIsolationTest=skipped MultiContainerIsolationTest="
                                "skipped,0,Implemented,") and
              csv[2].startswith("gpu-b,yes,unreachable,") and "HTTP 503" in csv[2],
              "nodes.csv: %s" % csv)
        st, text = product_status(out)
        check(st == "Not Implemented" or st == "Partially Implemented", "status %s" % st)
        check(st != "Implemented" and "gpu-b: unreachable" in text and "gpu-c: unverified" in text,
              "PRODUCT.yaml: %s" % text)
        v = verify(out, "--pubkey", sp)
        check(v.returncode == 0 and b"signature good" in v.stdout, "verify cluster: %s" % v.stdout)
        plog = open(os.path.join(d, "peer.log")).read()
        check("list pods accelguard app.kubernetes.io/name=accelguard: 3" in plog,
              "the pod list: %s" % plog)
        # a GPU node without an agent pod is missing; every node reachable and whole otherwise
        json.dump({"nodes": nodes + [{"metadata": {"name": "gpu-d"}, "status": gpu}],
                   "pods": pods, "proxy": {k: {"file": good} for k in proxy}}, open(cl, "w"))
        out2 = os.path.join(d, "cluster2")
        r = subprocess.run([AGENT, "evidence", "cluster", "--kubeconfig", kc, "--out", out2],
                           capture_output=True, timeout=120)
        t = {n["node"]: n for n in json.load(open(os.path.join(out2, "nodes.json")))}
        st, text = product_status(out2)
        check(r.returncode == 3 and t["gpu-d"]["state"] == "missing" and
              "no agent pod" in t["gpu-d"]["problem"] and st == "Partially Implemented" and
              all(t[n]["state"] == "verified" for n in ("gpu-a", "gpu-b", "gpu-c")),
              "missing node: %d %s %s" % (r.returncode, st, t))
        # all GPU nodes verified and Implemented: the cluster is
        json.dump({"nodes": nodes, "pods": pods, "proxy": {k: {"file": good} for k in proxy}},
                  open(cl, "w"))
        out3 = os.path.join(d, "cluster3")
        r = subprocess.run([AGENT, "evidence", "cluster", "--kubeconfig", kc, "--out", out3],
                           capture_output=True, timeout=120)
        st, _ = product_status(out3)
        check(r.returncode == 0 and st == "Implemented" and verify(out3).returncode == 0,
              "all good: %d %s %r" % (r.returncode, st, r.stderr))
        # --pubkey: the node bundles must be signed by that key; these are not
        out5 = os.path.join(d, "cluster5")
        r = subprocess.run([AGENT, "evidence", "cluster", "--kubeconfig", kc, "--out", out5,
                            "--pubkey", sp], capture_output=True, timeout=120)
        t = json.load(open(os.path.join(out5, "nodes.json")))
        check(r.returncode == 3 and all(n["state"] == "unverified" for n in t) and
              b"signature: manifest.json.sig is missing" in r.stdout, "--pubkey: %r" % r.stdout)
        # a wrong token: the API's answer is named; nothing is left behind
        open(tok, "w").write("rotated\n")
        out4 = os.path.join(d, "cluster4")
        r = subprocess.run([AGENT, "evidence", "cluster", "--kubeconfig", kc, "--out", out4],
                           capture_output=True, timeout=120)
        check(r.returncode == 1 and b"/api/v1/nodes: HTTP 401: Unauthorized" in r.stderr and
              not os.path.exists(out4) and not os.path.exists(out4 + ".partial"),
              "401: %r" % r.stderr)
        # a kubeconfig with an exec plugin: not supported, said so
        open(kc + "2", "w").write(open(kc).read().replace(
            "    token: cluster-reader-token", "    exec: {command: aws}"))
        r = subprocess.run([AGENT, "evidence", "cluster", "--kubeconfig", kc + "2", "--out", out4],
                           capture_output=True, timeout=60)
        check(r.returncode == 1 and b"exec and auth-provider plugins are not supported" in
              r.stderr, "exec: %r" % r.stderr)
        open(kc + "3", "w").write("current-context: nope\ncontexts: [\n")
        r = subprocess.run([AGENT, "evidence", "cluster", "--kubeconfig", kc + "3", "--out", out4],
                           capture_output=True, timeout=60)
        check(r.returncode == 1 and (b"--kubeconfig %s3: not YAML" % kc.encode()) in r.stderr,
              "bad yaml: %r" % r.stderr)
        # metrics.evidence needs a journal to build from: a configuration error, not a 500 later
        b = Agent("ev-cl-nojournal", None, extra="metrics:\n  listen: 127.0.0.1:%d\n"
                  "  evidence: true\n" % mport)
        try:
            b.start()
            b.stop()
            check(False, "the agent started with metrics.evidence and no journal")
        except Fail as e:
            check("metrics.evidence" in str(e) and "journal: section" in str(e), str(e))
    finally:
        if peer:
            peer.terminate()
            peer.wait(timeout=10)
        a.stop()


TESTS = [
    ("journal_rotation_compression_retention", test_journal_rotation_compression_retention),
    ("journal_rotation_by_age", test_journal_rotation_by_age),
    ("journal_torn_record", test_journal_torn_record),
    ("journal_sigkill_mid_stream", test_journal_sigkill_mid_stream),
    ("journal_full_disk", test_journal_full_disk),
    ("journal_full_at_start", test_journal_full_at_start),
    ("journal_follow", test_journal_follow),
    ("journal_time_arguments", test_journal_time_arguments),
    ("journal_bad_config", test_journal_bad_config),
    ("selftest_enforce", test_selftest_enforce),
    ("selftest_audit", test_selftest_audit),
    ("selftest_scheduled", test_selftest_scheduled),
    ("selftest_no_agent", test_selftest_no_agent),
    ("evidence_bundle_enforce", test_evidence_bundle_enforce),
    ("evidence_report_in_browser", test_evidence_report_in_browser),
    ("evidence_status_audit", test_evidence_status_audit),
    ("evidence_report_many", test_evidence_report_many),
    ("evidence_exposure", test_evidence_exposure),
    ("evidence_signed", test_evidence_signed),
    ("evidence_product", test_evidence_product),
    ("evidence_upload", test_evidence_upload),
    ("evidence_cluster", test_evidence_cluster),
]


def main():
    global AGENT, CG2, WORK
    ap = argparse.ArgumentParser()
    ap.add_argument("--agent", required=True)
    ap.add_argument("filter", nargs="?")
    args = ap.parse_args()
    AGENT = os.path.abspath(args.agent)
    names = [n for n, _ in TESTS if not args.filter or args.filter in n]
    if os.geteuid():
        for n in names:
            print("skip - %s: needs root (BPF, cgroups, mknod)" % n)
        print("0 passed, 0 failed, %d skipped" % len(names))
        return 0
    CG2 = cgroup2_mount()
    if not CG2:
        print("not ok - evidence: no cgroup2 mount\n0 passed, 1 failed")
        return 1
    WORK = tempfile.mkdtemp(prefix="evidence-test-")
    passed = failed = skipped = 0
    try:
        for name, fn in TESTS:
            if name not in names:
                continue
            t0 = time.time()
            try:
                fn()
                print("ok - %s (%.1fs)" % (name, time.time() - t0), flush=True)
                passed += 1
            except Skip as e:
                print("skip - %s: %s" % (name, e), flush=True)
                skipped += 1
            except Exception as e:  # a failed check, or anything unexpected
                print("not ok - %s: %s: %s" % (name, type(e).__name__, e), flush=True)
                failed += 1
    finally:
        for d in glob.glob(CG2 + "/%s-*" % TAG):
            try:
                os.rmdir(d)
            except OSError:
                pass
        for m in ("small", "noinode"):
            subprocess.run(["umount", "-l", os.path.join(WORK, m)], stderr=subprocess.DEVNULL)
        shutil.rmtree(WORK, ignore_errors=True)
    print("%d passed, %d failed, %d skipped" % (passed, failed, skipped))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
