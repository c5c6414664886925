#!/usr/bin/python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""The Grafana dashboard against a real scrape of the agent: every query names only metrics the
scrape has, groups and filters only by labels those metrics carry (or that Prometheus adds:
instance, job), and is valid PromQL (promtool check rules on the queries as recording rules).
Usage: dashboard_check.py DASHBOARD.json SCRAPE.prom WORKDIR"""
import json
import re
import subprocess
import sys

dash, scrape, work = sys.argv[1:4]
d = json.load(open(dash))
labels = {}  # metric name -> label names seen
for line in open(scrape):
    if line.startswith("#") or not line.strip():
        continue
    m = re.match(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})?\s", line)
    labels.setdefault(m.group(1), set()).update(re.findall(r'([a-zA-Z_][a-zA-Z0-9_]*)="', m.group(3) or ""))
npass = nfail = 0


def ok(name, cond, why=""):
    global npass, nfail
    print(("ok - dashboard/%s" % name) if cond else "not ok - dashboard/%s: %s" % (name, why))
    npass += bool(cond)
    nfail += not cond


exprs = []
for p in d["panels"]:
    for t in p.get("targets", []):
        exprs.append(("panel %d %s" % (p["id"], t["refId"]), t["expr"]))
for v in d.get("templating", {}).get("list", []):
    q = v.get("query")
    if isinstance(q, dict):
        exprs.append(("variable %s" % v["name"], q["query"]))
ok("has-queries", len(exprs) >= 10, "%d queries" % len(exprs))
rules = []
for where, e in exprs:
    prom = e.replace("$__rate_interval", "5m").replace('"$instance"', '".*"')
    names = set(re.findall(r"\baccelguard_[a-z0-9_]+", prom))
    ok("%s names a metric" % where, names, e)
    for n in sorted(names):
        ok("%s: %s exported" % (where, n), n in labels, "the agent's scrape has no %s" % n)
    have = set().union(*(labels.get(n, set()) for n in names)) | {"instance", "job"}
    used = set()
    for grp in re.findall(r"\bby\s*\(([^)]*)\)", prom):
        used.update(x.strip() for x in grp.split(",") if x.strip())
    for sel in re.findall(r"\{([^}]*)\}", prom):
        used.update(re.findall(r"([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)", sel))
    for l in sorted(used):
        ok("%s: label %s exists" % (where, l), l in have, "no metric of %s carries label %s" % (sorted(names), l))
    if not prom.startswith("label_values("):
        rules.append({"record": "dashboard:q%d" % len(rules), "expr": prom})
with open(work + "/dashboard-rules.yml", "w") as f:
    json.dump({"groups": [{"name": "dashboard", "rules": rules}]}, f)  # JSON is YAML
p = subprocess.run(["promtool", "check", "rules", work + "/dashboard-rules.yml"], capture_output=True, text=True)
ok("promql-valid (%d queries, promtool check rules)" % len(rules), p.returncode == 0, (p.stdout + p.stderr).strip()[-400:])
print("%d passed, %d failed" % (npass, nfail))
sys.exit(1 if nfail else 0)
