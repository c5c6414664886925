#!/usr/bin/python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""What `accelguard selftest --conformance` said about the containerd stage's pods, checked
against what the stage made (run.sh): prints "ok NAME" / "not ok NAME: WHY" lines.

The pods: team-a/train-a/main holds 195:0 at /dev/nvidia0; team-b/train-b/main holds 195:1 and
was given 195:0 too (a device it was not allocated: PositiveAccessTest must fail for it, naming
195:0); team-m/multi has "authorized" (195:2 at /dev/nvidia2) and "unauthorized" (nothing);
team-n/cpu/main has nothing; team-c/web/main is privileged (it sees what the host's /dev had).
"""
import argparse
import json
import xml.etree.ElementTree as ET

ap = argparse.ArgumentParser()
for a in ("--rc", "--result", "--junit", "--bundle", "--events", "--stderr", "--journal-result"):
    ap.add_argument(a, required=True)
args = ap.parse_args()


def check(name, cond, why):
    print(("ok conformance: %s" % name) if cond else ("not ok conformance: %s: %s" % (name, why)))


try:
    res = json.load(open(args.result))
except ValueError:
    print("not ok conformance: selftest --json: %s" % open(args.stderr).read()[-500:])
    raise SystemExit(0)
subs = {s["name"]: s for s in res.get("conformance", [])}
check("the containers judged are the agent's (asked on its control socket)",
      res.get("conformance_containers_from") == "the agent (control socket)",
      res.get("conformance_containers_from"))
check("three subtests with upstream's names", sorted(subs) == sorted(
    ["PositiveAccessTest", "NegativeIsolationTest", "MultiContainerIsolationTest"]), sorted(subs))


def ctr(sub, ns, pod, c):
    hit = [x for x in subs.get(sub, {}).get("containers", [])
           if (x["namespace"], x["pod"], x["container"]) == (ns, pod, c)]
    return hit[0] if len(hit) == 1 else None


def devs(x):
    return sorted(v["device"] for v in x["visible"]) if x else None


a = ctr("PositiveAccessTest", "team-a", "train-a", "main")
check("PositiveAccessTest: train-a/main sees exactly its 195:0, at /dev/nvidia0, in its mount namespace",
      a and a["result"] == "pass" and devs(a) == ["195:0"] and a["allocated"] == ["195:0"] and
      a["visible"][0]["path"] == "/dev/nvidia0" and a["accelerator_count"] == 1, a)
b = ctr("PositiveAccessTest", "team-b", "train-b", "main")
check("PositiveAccessTest: train-b/main, given 195:0 beside its 195:1, fails naming 195:0",
      b and b["result"] == "fail" and devs(b) == ["195:0", "195:1"] and
      b["allocated"] == ["195:1"] and "sees 195:0 (/dev/nvidia0), not allocated to it" in b["why"], b)
m = ctr("PositiveAccessTest", "team-m", "multi", "authorized")
check("PositiveAccessTest: multi/authorized sees exactly its 195:2",
      m and m["result"] == "pass" and devs(m) == ["195:2"], m)
check("PositiveAccessTest fails (one container sees a GPU it was not allocated)",
      subs["PositiveAccessTest"]["result"] == "fail", subs["PositiveAccessTest"])
n = ctr("NegativeIsolationTest", "team-n", "cpu", "main")
check("NegativeIsolationTest: cpu/main, without an allocation, sees none",
      n and n["result"] == "pass" and devs(n) == [] and n["accelerator_count"] == 0, n)
w = ctr("NegativeIsolationTest", "team-c", "web", "main")
print("# NegativeIsolationTest: the privileged team-c/web/main sees %s (the host's /dev at its start): %s"
      % (devs(w), w and w["result"]))
neg_bad = [x for x in subs["NegativeIsolationTest"]["containers"] if x["result"] != "pass"]
check("NegativeIsolationTest's result is its containers'",
      subs["NegativeIsolationTest"]["result"] == ("fail" if neg_bad else "pass"),
      subs["NegativeIsolationTest"])
mu = ctr("MultiContainerIsolationTest", "team-m", "multi", "unauthorized")
ma = ctr("MultiContainerIsolationTest", "team-m", "multi", "authorized")
check("MultiContainerIsolationTest: of multi's two containers each sees only its own",
      ma and mu and ma["result"] == "pass" and devs(ma) == ["195:2"] and mu["result"] == "pass" and
      devs(mu) == [] and subs["MultiContainerIsolationTest"]["result"] == "pass",
      subs["MultiContainerIsolationTest"])
check("the runtime checks pass: allocated, other_tenant (a real pod's GPU), unallocated",
      res["passed"] == 3 and res["mode"] == "enforce" and res["real_tenant_device"] and
      all(c["result"] == "pass" for c in res["checks"]), res.get("checks"))
# the cross-pod attempt: denied with EPERM, and the agent's own event for it
ot = [c for c in res["checks"] if c["name"] == "other_tenant"][0]
maj, mi = map(int, ot["device"].split(":"))
ev = []
for l in open(args.events):
    try:
        ev.append(json.loads(l))
    except ValueError:
        pass
hits = [e for e in ev if e.get("type") == "access" and e["cgroup"]["path"] == ot["cgroup"] and
        e["device"]["major"] == maj and e["device"]["minor"] == mi]
check("cross-pod access (%s, a pod's GPU, from another tenant): EPERM, cross_tenant/denied event"
      % ot["device"], ot["got"]["errno"] == "EPERM" and maj == 195 and mi in (0, 1, 2) and
      len(hits) == 1 and hits[0]["verdict"] == "cross_tenant" and hits[0]["action"] == "denied",
      (ot, hits))
check("exit 1 and result fail (a subtest failed)", args.rc == "1" and res["result"] == "fail",
      (args.rc, res["result"]))


def suites(path):
    root = ET.parse(path).getroot()
    out = {}
    for s in root.findall("testsuite"):
        cases = {}
        for t in s.findall("testcase"):
            st = "fail" if t.find("failure") is not None else \
                 "skipped" if t.find("skipped") is not None else "pass"
            cases[t.get("name")] = (st, t.findtext("system-out") or "")
        out[s.get("name")] = (s, cases)
    return root, out


for label, path in (("--junit", args.junit), ("the bundle's selftest-junit.xml",
                                                args.bundle + "/selftest-junit.xml")):
    root, ss = suites(path)
    names = [s.get("name") for s in root.findall("testsuite")]
    up = ss.get("TestSecureAcceleratorAccess", (None, {}))[1]
    want = {"TestSecureAcceleratorAccess": "fail"}
    want.update({"TestSecureAcceleratorAccess/" + k: v["result"] for k, v in subs.items()})
    got = {k: v[0] for k, v in up.items()}
    own = ss.get("accelguard-selftest", (None, {}))
    check("%s: upstream's suite first, with its test and subtest names and results, then "
          "accelguard's" % label,
          names == ["TestSecureAcceleratorAccess", "accelguard-selftest"] and got == want and
          "team-b/train-b/main: RESULT: ACCELERATOR_COUNT=2 fail" in
          up["TestSecureAcceleratorAccess/PositiveAccessTest"][1] and
          own[0] is not None and own[0].get("tests") == "3" and own[0].get("failures") == "0",
          (names, got, want))

html = open(args.bundle + "/report.html").read()
check("the bundle's report shows the subtests container by container",
      'id="conformance"' in html and "team-b/train-b/main" in html and
      "sees 195:0 (/dev/nvidia0), not allocated to it" in html and "MultiContainerIsolationTest" in html,
      html[-600:])


def table(r):
    return sorted((t["name"], t["result"], x["namespace"], x["pod"], x["container"], x["result"],
                   tuple(sorted(v["device"] for v in x["visible"])))
                  for t in r.get("conformance", []) for x in t["containers"])


try:
    jr = json.load(open(args.journal_result))
except ValueError:
    jr = {}
check("from the journal's tenant events alone, the same judgements",
      jr.get("conformance_containers_from") == "the journal's tenant events" and
      table(jr) == table(res) and table(res), (jr.get("conformance_containers_from"),
                                               table(jr), table(res)))
