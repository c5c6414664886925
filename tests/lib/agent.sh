# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
# tests/lib/agent.sh: the agent's events (JSON lines, `accelguard run --events FILE`) as the tests
# wait for and query them. q, has and wait_for read the file named by $ev. Safe under set -eu.

# agent_wait_ready EVENTS: wait (20 s at most) for the agent's "ready" event in EVENTS; fails without it
agent_wait_ready() {
	for _ in $(seq 400); do grep -q '"type":"ready"' "$1" 2>/dev/null && return 0; sleep 0.05; done
	return 1
}

# q EXPR: print the events of $ev for which the Python expression EXPR holds (e: the event;
# g(KEY...): a nested field, "" when absent)
q() {
	/usr/bin/python3 -c '
import json, sys
def g(*k):
    d = e
    for x in k:
        d = d.get(x) if isinstance(d, dict) else None
    return d if d is not None else ""
for l in open(sys.argv[1]):
    try:
        e = json.loads(l)
    except ValueError:
        continue
    if eval(sys.argv[2]):
        print(l, end="")' "$ev" "$1"
}

# has EXPR: whether some event of $ev satisfies EXPR (as q)
has() { [ -n "$(q "$1")" ]; }

# wait_for EXPR: wait (5 s at most) for an event of $ev that satisfies EXPR; fails without one
wait_for() {
	for _ in $(seq 50); do has "$1" && return 0; sleep 0.1; done
	return 1
}
