#!/usr/bin/python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""An HTTPS server that speaks the Kubernetes API's list/watch protocol for tests/k8s/k8s_test.c:
bearer token check (the accepted token is read from a file at each request, so the test can
rotate it), pods of one node by fieldSelector, watch as chunked newline-delimited JSON events
(ADDED, MODIFIED, DELETED from the changes of the pods file, BOOKMARK every 0.3 s when asked for,
ERROR 410 for an expired resourceVersion), ResourceClaims and ResourceSlices from fixtures.

Lists of reports across namespaces by labelSelector (one K=V). Writes (events.k8s.io/v1 Events; wgpolicyk8s.io/v1alpha2 PolicyReports; openreports.io/v1alpha1
Reports): POST (409 AlreadyExists), GET, PUT (metadata.resourceVersion must be the stored one,
else 409 Conflict), PATCH (application/merge-patch+json, RFC 7386), DELETE, validated as the API
server does (Event: reason/action <= 128, note <= 1024, reportingController/Instance, MicroTime
eventTime, type Normal|Warning; report results' result and severity values) with 422 Invalid.
What is stored is written to --store-file (JSON, atomically, within 50 ms of a change) and read back
at start, so a peer stopped and started again keeps it, as etcd would.

Faults, written by the test into --fault-file (consumed when acted upon):
  gone       every watch gets ERROR 410 and history is compacted: clients must relist
  gone-http  the next watch request is answered HTTP 410
  garbage    every watch gets a line that is not JSON
  oversized N     one write of two watch events: a pod of 10,000 containers (over the agent's
                  JSON bound), then the ADDED event of pod N (ml/after-N, container id as
                  mkfixtures' cid(N, 0)); both stay in the store, so a list holds both too
  list-only N     pod N joins the store without an event, and every watch gets ERROR 410: only
                  a relist can show it
  deny GROUP     every request to API group GROUP (events.k8s.io, ...) gets 403 Forbidden
  allow GROUP    undo deny
  nocrd GROUP    API group GROUP is not served (its CRD is not installed): 404 for everything
  conflict N     the next N PUTs get 409 Conflict (a concurrent writer)
  expire         every stored Event is gone (the API server's event TTL)
  throttle N S   the next N writes get 429 with Retry-After: S
  terminating NS  namespace NS is being deleted: creates in it get 403 Forbidden with the cause
                 NamespaceTerminating, as the NamespaceLifecycle admission plugin answers
  nonamespace NS  namespace NS is gone: creates in it get 404 NotFound of the namespace
  invalid NS     every Event written in NS gets 422 Invalid (a value the API does not take)
  ok NS          undo terminating, nonamespace and invalid for NS

With --cluster FILE (JSON, read at each request): GET /api/v1/nodes (FILE's nodes),
GET /api/v1/namespaces/NS/pods?labelSelector=K=V[,K=V] (FILE's pods in NS whose labels match all),
and the API server's pod proxy GET /api/v1/namespaces/NS/pods/NAME:PORT/proxy/PATH, answered from
FILE's proxy["NS/NAME:PORT/PATH"]: {"file": F} (its bytes, application/gzip), {"url": U} (the
bytes of a GET of U: forwarded to a real agent, as the API server's proxy does), or {"status": N}
(the Status the API server gives when the pod cannot be reached, e.g. 503); a pod not in FILE's
pods is 404 NotFound.
"""
import argparse
import json
import os
import re
import ssl
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

p = argparse.ArgumentParser()
p.add_argument("--port", type=int, default=0)
p.add_argument("--port-file", required=True)
p.add_argument("--cert", required=True)
p.add_argument("--key", required=True)
p.add_argument("--token-file", required=True)
p.add_argument("--pods", required=True)
p.add_argument("--claims", required=True)
p.add_argument("--slices", required=True)
p.add_argument("--fault-file", required=True)
p.add_argument("--rv-base", type=int, default=1000)
p.add_argument("--node", default="node-a")
p.add_argument("--log", required=True)
p.add_argument("--store-file")
p.add_argument("--cluster", help="JSON {nodes, pods, proxy}: node list, pod lists by namespace and "
               "labelSelector, and the pod proxy (evidence cluster roll-up)")
args = p.parse_args()

cv = threading.Condition()
S = {"rv": args.rv_base, "oldest": args.rv_base, "pods": {}, "events": [], "key": None,
     "gone_gen": 0, "garbage_gen": 0, "gone_http": False, "bookmarks": set(),
     "store": {}, "deny": set(), "nocrd": set(), "conflict": 0, "throttle": 0, "throttle_s": 1, "wrv": 5000,
     "terminating": set(), "nonamespace": set(), "invalid": set()}
if args.store_file and os.path.exists(args.store_file):
    with open(args.store_file) as f:
        _saved = json.load(f)
    S["store"] = {tuple(k.split("|")): v for k, v in _saved["objects"].items()}
    S["wrv"] = _saved["rv"]


def log(msg):
    with open(args.log, "a") as f:
        f.write(msg + "\n")


def load(path):
    with open(path) as f:
        return json.load(f)


def save_store():
    """cv held: what is stored, to --store-file (atomically)."""
    if not args.store_file or not S.get("dirty"):
        return
    S["dirty"] = False
    tmp = args.store_file + ".tmp"
    with open(tmp, "w") as f:
        json.dump({"rv": S["wrv"], "objects": {"|".join(k): v for k, v in S["store"].items()}}, f)
    os.rename(tmp, args.store_file)


def poll_files():
    """The pods file -> events; the fault file -> faults; the store -> --store-file."""
    while True:
        try:
            with cv:
                save_store()
            st = os.stat(args.pods)
            key = (st.st_mtime_ns, st.st_ino, st.st_size)
            if key != S["key"]:
                new = {x["metadata"]["uid"]: x for x in load(args.pods)}
                with cv:
                    first = S["key"] is None
                    S["key"] = key
                    for uid, pod in new.items():
                        old = S["pods"].get(uid)
                        if old is not None and json.dumps(old["spec"]) == json.dumps(pod["spec"]) and \
                                json.dumps(old["status"]) == json.dumps(pod["status"]):
                            continue
                        S["rv"] += 1
                        pod = json.loads(json.dumps(pod))
                        pod["metadata"]["resourceVersion"] = str(S["rv"])
                        S["pods"][uid] = pod
                        if not first:
                            S["events"].append((S["rv"], "MODIFIED" if old else "ADDED", pod))
                    for uid in [u for u in S["pods"] if u not in new]:
                        S["rv"] += 1
                        pod = S["pods"].pop(uid)
                        pod["metadata"]["resourceVersion"] = str(S["rv"])
                        S["events"].append((S["rv"], "DELETED", pod))
                    if first:
                        S["oldest"] = S["rv"]
                    cv.notify_all()
            if os.path.exists(args.fault_file):
                with open(args.fault_file) as f:
                    fault = f.read().strip()
                os.unlink(args.fault_file)
                log("fault " + fault)
                with cv:
                    if fault == "gone":
                        S["gone_gen"] += 1
                        S["oldest"] = S["rv"] + 1
                        S["events"] = []
                    elif fault == "gone-http":
                        S["gone_http"] = True
                    elif fault == "garbage":
                        S["garbage_gen"] += 1
                    elif fault.startswith("oversized "):
                        S["rv"] += 1
                        huge = huge_pod(S["rv"])
                        S["rv"] += 1
                        after = small_pod(int(fault.split()[1]), S["rv"])
                        S["pods"][huge["metadata"]["uid"]] = huge
                        S["pods"][after["metadata"]["uid"]] = after
                        raw = json.dumps({"type": "ADDED", "object": huge}) + "\n" + \
                            json.dumps({"type": "ADDED", "object": after})
                        S["events"].append((S["rv"], "RAW", raw))
                        log("oversized: %d bytes in one write" % len(raw))
                        cv.notify_all()
                    elif fault.startswith("list-only "):
                        S["rv"] += 1
                        p = small_pod(int(fault.split()[1]), S["rv"])
                        S["pods"][p["metadata"]["uid"]] = p
                        S["gone_gen"] += 1
                        S["oldest"] = S["rv"] + 1
                        cv.notify_all()
                    elif fault.startswith("deny "):
                        S["deny"].add(fault.split()[1])
                    elif fault.startswith("allow "):
                        S["deny"].discard(fault.split()[1])
                        S["nocrd"].discard(fault.split()[1])
                    elif fault == "expire":  # every stored Event expires (their TTL)
                        for k in [k for k in S["store"] if k[0] == "events.k8s.io"]:
                            del S["store"][k]
                        S["dirty"] = True
                    elif fault.startswith("nocrd "):
                        S["nocrd"].add(fault.split()[1])
                    elif fault.startswith("conflict "):
                        S["conflict"] = int(fault.split()[1])
                    elif fault.split()[0] in ("terminating", "nonamespace", "invalid"):
                        S[fault.split()[0]].add(fault.split()[1])
                    elif fault.startswith("ok "):
                        for k in ("terminating", "nonamespace", "invalid"):
                            S[k].discard(fault.split()[1])
                    elif fault.startswith("throttle "):
                        S["throttle"], S["throttle_s"] = int(fault.split()[1]), int(fault.split()[2])
                    cv.notify_all()
        except (OSError, ValueError) as e:
            log("poll: %s" % e)
        time.sleep(0.05)


def small_pod(n, rv):
    u = "%08x-1111-4222-8333-%012x" % (n, n)
    c = "%02x%02x" % (n, 0) + "c" * 60
    return {"kind": "Pod", "apiVersion": "v1",
            "metadata": {"name": "after-%d" % n, "namespace": "ml", "uid": u, "resourceVersion": str(rv)},
            "spec": {"nodeName": args.node, "serviceAccountName": "default",
                     "containers": [{"name": "main", "image": "registry.example/img:1"}]},
            "status": {"phase": "Running", "containerStatuses": [
                {"name": "main", "containerID": "containerd://" + c, "ready": True}]}}


def huge_pod(rv):
    n = 10000
    return {"kind": "Pod", "apiVersion": "v1",
            "metadata": {"name": "huge", "namespace": "ml", "uid": "0000ffff-1111-4222-8333-00000000ffff",
                         "resourceVersion": str(rv)},
            "spec": {"nodeName": args.node, "containers": [
                {"name": "c%d" % i, "image": "i", "resources": {"claims": [{"name": "x"}]}} for i in range(n)]},
            "status": {"containerStatuses": [
                {"name": "c%d" % i, "containerID": "containerd://%064x" % i} for i in range(n)]}}


def status(code, reason, message):
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}


class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body are two writes: no 40 ms delayed-ACK stall

    def log_message(self, fmt, *a):
        pass

    def send_json(self, code, obj):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def chunk(self, obj):
        data = (obj if isinstance(obj, str) else json.dumps(obj)) + "\n"
        data = data.encode()
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()

    def do_GET(self):
        u = urllib.parse.urlsplit(self.path)
        q = {k: v[0] for k, v in urllib.parse.parse_qs(u.query).items()}
        log("GET " + self.path)
        with open(args.token_file) as f:
            token = f.read().strip()
        if self.headers.get("Authorization") != "Bearer " + token:
            log("401 for " + str(self.headers.get("Authorization"))[:20])
            return self.send_json(401, status(401, "Unauthorized", "Unauthorized"))
        if args.cluster and self.cluster(u, q):
            return
        sel = "spec.nodeName=" + args.node
        if u.path == "/api/v1/pods":
            if q.get("fieldSelector") != sel:
                return self.send_json(400, status(400, "BadRequest", "want fieldSelector " + sel))
            if q.get("watch") in ("1", "true"):
                return self.watch(q)
            with cv:
                items = list(S["pods"].values())
                rv = S["rv"]
            log("list rv=%d" % rv)
            return self.send_json(200, {"kind": "PodList", "apiVersion": "v1",
                                        "metadata": {"resourceVersion": str(rv)}, "items": items})
        parts = u.path.strip("/").split("/")
        if self.writable(parts):
            return self.write("GET", parts)
        # /apis/GROUP/VERSION/PLURAL?labelSelector=K=V: a list across namespaces
        if len(parts) == 4 and parts[0] == "apis" and (parts[1], parts[2], parts[3]) in self.KINDS:
            with cv:
                if parts[1] in S["deny"] or parts[1] in S["nocrd"]:
                    code = 403 if parts[1] in S["deny"] else 404
                    return self.send_json(code, status(code, "Forbidden" if code == 403 else "NotFound", parts[1]))
                k, _, v = q.get("labelSelector", "").partition("=")
                items = [o for (g, pl, ns, n), o in sorted(S["store"].items())
                         if g == parts[1] and pl == parts[3] and
                         (not k or o["metadata"].get("labels", {}).get(k) == v)]
                log("list %s %s: %d" % (parts[3], q.get("labelSelector", ""), len(items)))
                return self.send_json(200, {"kind": self.KINDS[(parts[1], parts[2], parts[3])] + "List",
                                            "apiVersion": parts[1] + "/" + parts[2],
                                            "metadata": {"resourceVersion": str(S["wrv"])}, "items": items})
        # /apis/resource.k8s.io/v1/namespaces/NS/resourceclaims/NAME
        if len(parts) == 7 and parts[:3] == ["apis", "resource.k8s.io", "v1"] and parts[5] == "resourceclaims":
            for c in load(args.claims):
                if c["metadata"]["namespace"] == parts[4] and c["metadata"]["name"] == parts[6]:
                    return self.send_json(200, c)
            return self.send_json(404, status(404, "NotFound", 'resourceclaims.resource.k8s.io "%s" not found'
                                              % parts[6]))
        if parts == ["apis", "resource.k8s.io", "v1", "resourceslices"]:
            if q.get("fieldSelector") != sel:
                return self.send_json(400, status(400, "BadRequest", "want fieldSelector " + sel))
            return self.send_json(200, {"kind": "ResourceSliceList", "apiVersion": "resource.k8s.io/v1",
                                        "metadata": {"resourceVersion": "700"}, "items": load(args.slices)})
        return self.send_json(404, status(404, "NotFound", "the server could not find the requested resource"))

    def cluster(self, u, q):
        """The roll-up's reads (--cluster); False when the path is not one of them."""
        c = load(args.cluster)
        parts = u.path.strip("/").split("/")
        if parts == ["api", "v1", "nodes"]:
            self.send_json(200, {"kind": "NodeList", "apiVersion": "v1",
                                 "metadata": {"resourceVersion": "900"}, "items": c.get("nodes", [])})
            return True
        if len(parts) == 5 and parts[:3] == ["api", "v1", "namespaces"] and parts[4] == "pods":
            want = [kv.partition("=") for kv in q.get("labelSelector", "").split(",") if kv]
            items = [o for o in c.get("pods", []) if o["metadata"].get("namespace") == parts[3] and
                     all(o["metadata"].get("labels", {}).get(k) == v for k, _, v in want)]
            log("list pods %s %s: %d" % (parts[3], q.get("labelSelector", ""), len(items)))
            self.send_json(200, {"kind": "PodList", "apiVersion": "v1",
                                 "metadata": {"resourceVersion": "901"}, "items": items})
            return True
        if len(parts) >= 7 and parts[:3] == ["api", "v1", "namespaces"] and parts[4] == "pods" \
                and parts[6] == "proxy":
            ns, name = parts[3], parts[5].partition(":")[0]
            if not any(o["metadata"]["name"] == name and o["metadata"].get("namespace") == ns
                       for o in c.get("pods", [])):
                self.send_json(404, status(404, "NotFound", 'pods "%s" not found' % name))
                return True
            ent = c.get("proxy", {}).get("%s/%s/%s" % (ns, parts[5], "/".join(parts[7:])))
            log("proxy %s -> %s" % (self.path, ent))
            if not ent or "status" in ent:
                code = ent["status"] if ent else 503
                self.send_json(code, status(code, "ServiceUnavailable",
                                            "error trying to reach service: dial tcp: connect: "
                                            "connection refused"))
                return True
            if "url" in ent:  # forwarded to the pod, as the API server's proxy does
                import urllib.error
                import urllib.request
                try:
                    with urllib.request.urlopen(ent["url"], timeout=120) as r:
                        body = r.read()
                except (urllib.error.URLError, OSError) as e:
                    self.send_json(503, status(503, "ServiceUnavailable",
                                               "error trying to reach service: %s" % e))
                    return True
            else:
                with open(ent["file"], "rb") as f:
                    body = f.read()
            self.send_response(200)
            self.send_header("Content-Type", "application/gzip")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return True
        return False

    # ---- writes: Events and policy reports ----

    KINDS = {("events.k8s.io", "v1", "events"): "Event",
             ("wgpolicyk8s.io", "v1alpha2", "policyreports"): "PolicyReport",
             ("openreports.io", "v1alpha1", "reports"): "Report"}

    def writable(self, parts):
        # /apis/GROUP/VERSION/namespaces/NS/PLURAL[/NAME]
        return (len(parts) in (6, 7) and parts[0] == "apis" and parts[3] == "namespaces"
                and (parts[1], parts[2], parts[5]) in self.KINDS)

    def do_POST(self):
        self.write("POST", urllib.parse.urlsplit(self.path).path.strip("/").split("/"))

    def do_PUT(self):
        self.write("PUT", urllib.parse.urlsplit(self.path).path.strip("/").split("/"))

    def do_PATCH(self):
        self.write("PATCH", urllib.parse.urlsplit(self.path).path.strip("/").split("/"))

    def do_DELETE(self):
        self.write("DELETE", urllib.parse.urlsplit(self.path).path.strip("/").split("/"))

    def save(self):
        S["dirty"] = True  # written by poll_files() within 50 ms

    def invalid(self, kind, name, msg):
        return self.send_json(422, status(422, "Invalid", '%s "%s" is invalid: %s' % (kind, name, msg)))

    def validate(self, kind, obj):
        """The API server's validation of what the agent writes; a message, or None."""
        md = obj.get("metadata", {})
        if not md.get("name") or len(md["name"]) > 253:
            return "metadata.name: Required value or too long"
        if kind == "Event":
            for f in ("reason", "action", "reportingController", "reportingInstance"):
                v = obj.get(f)
                if not isinstance(v, str) or not v or len(v) > 128:
                    return "%s: Invalid value: must be 1..128 characters" % f
            if len(obj.get("note", "").encode()) > 1024:
                return "note: Too long: may not be longer than 1024"
            if obj.get("type") not in ("Normal", "Warning"):
                return "type: Unsupported value"
            if not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", obj.get("eventTime", "")):
                return "eventTime: Invalid value (MicroTime)"
            se = obj.get("series")
            if se is not None and (not isinstance(se.get("count"), int) or se["count"] < 2 or
                                   not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z",
                                                    se.get("lastObservedTime", ""))):
                return "series: Invalid value"
            if not obj.get("regarding", {}).get("kind"):
                return "regarding: Required value"
        else:
            for r in obj.get("results", []):
                if r.get("result") not in ("pass", "fail", "warn", "error", "skip"):
                    return "results.result: Unsupported value"
                if r.get("severity") not in (None, "critical", "high", "medium", "low", "info"):
                    return "results.severity: Unsupported value"
                if not isinstance(r.get("timestamp", {}).get("seconds", 0), int):
                    return "results.timestamp.seconds: Invalid value"
        return None

    def write(self, method, parts):
        group, version, ns, plural = parts[1], parts[2], parts[4], parts[5]
        name = parts[6] if len(parts) == 7 else None
        kind = self.KINDS[(group, version, plural)]
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n else b""
        log("%s %s %.3f" % (method, self.path, time.time()))
        with open(args.token_file) as f:
            token = f.read().strip()
        if self.headers.get("Authorization") != "Bearer " + token:
            return self.send_json(401, status(401, "Unauthorized", "Unauthorized"))
        with cv:
            if group in S["nocrd"]:
                log("404 %s %s (no such API group)" % (method, self.path))
                return self.send_json(404, status(404, "NotFound", "the server could not find the requested resource"))
            if group in S["deny"]:
                log("403 %s %s" % (method, self.path))
                return self.send_json(403, status(403, "Forbidden", '%s.%s is forbidden: User '
                                      '"system:serviceaccount:accelguard:accelguard" cannot %s resource '
                                      '"%s" in API group "%s"' % (plural, group, method.lower(), plural, group)))
            if method != "GET" and S["throttle"] > 0:
                S["throttle"] -= 1
                log("429 %s %s %.3f" % (method, self.path, time.time()))
                body = json.dumps(status(429, "TooManyRequests", "the server has received too many requests")).encode()
                self.send_response(429)
                self.send_header("Content-Type", "application/json")
                self.send_header("Retry-After", str(S["throttle_s"]))
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            if method == "POST" and ns in S["terminating"]:
                # staging/src/k8s.io/apiserver/pkg/admission/plugin/namespace/lifecycle
                log("403 %s %s (namespace terminating) %.3f" % (method, self.path, time.time()))
                st = status(403, "Forbidden", '%s.%s is forbidden: unable to create new content in '
                            'namespace %s because it is being terminated' % (plural, group, ns))
                st["details"] = {"group": group, "kind": plural, "causes": [
                    {"reason": "NamespaceTerminating", "message": "namespace %s is being terminated" % ns,
                     "field": "metadata.namespace"}]}
                return self.send_json(403, st)
            if method == "POST" and ns in S["nonamespace"]:
                log("404 %s %s (no namespace) %.3f" % (method, self.path, time.time()))
                st = status(404, "NotFound", 'namespaces "%s" not found' % ns)
                st["details"] = {"name": ns, "kind": "namespaces"}
                return self.send_json(404, st)
            if kind == "Event" and method in ("POST", "PATCH") and ns in S["invalid"]:
                log("422 %s %s (invalid in namespace) %.3f" % (method, self.path, time.time()))
                return self.invalid(kind, name or "?", "note: Invalid value: refused for the test")
            try:
                obj = json.loads(raw) if raw else None
            except ValueError:
                return self.send_json(400, status(400, "BadRequest", "the body is not JSON"))
            cur = S["store"].get((group, plural, ns, name)) if name else None
            gone = status(404, "NotFound", '%s.%s "%s" not found' % (plural, group, name))
            if method == "GET":
                return self.send_json(200, cur) if cur else self.send_json(404, gone)
            if method == "DELETE":
                if not cur:
                    return self.send_json(404, gone)
                del S["store"][(group, plural, ns, name)]
                self.save()
                return self.send_json(200, {"kind": "Status", "apiVersion": "v1", "status": "Success"})
            if method == "PATCH":
                if not cur:
                    return self.send_json(404, gone)
                if self.headers.get("Content-Type") != "application/merge-patch+json":
                    return self.send_json(415, status(415, "UnsupportedMediaType", "want merge-patch"))

                def merge(t, p):
                    if not isinstance(p, dict):
                        return p
                    t = dict(t) if isinstance(t, dict) else {}
                    for k, v in p.items():
                        if v is None:
                            t.pop(k, None)
                        else:
                            t[k] = merge(t.get(k), v)
                    return t
                obj = merge(cur, obj)
            if not isinstance(obj, dict) or obj.get("kind") != kind or \
                    obj.get("apiVersion") != group + "/" + version:
                return self.send_json(400, status(400, "BadRequest", "want a %s %s/%s" % (kind, group, version)))
            md = obj.setdefault("metadata", {})
            if md.get("namespace", ns) != ns:
                return self.send_json(400, status(400, "BadRequest", "the namespace of the object does not match"))
            md["namespace"] = ns
            if method == "POST":
                name = md.get("name")
            elif md.get("name") != name:
                return self.send_json(400, status(400, "BadRequest", "the name of the object does not match"))
            err = self.validate(kind, obj)
            if err:
                log("422 %s %s: %s" % (method, self.path, err))
                return self.invalid(kind, name, err)
            key = (group, plural, ns, name)
            if method == "POST" and key in S["store"]:
                return self.send_json(409, status(409, "AlreadyExists", '%s.%s "%s" already exists'
                                                  % (plural, group, name)))
            if method == "PUT":
                if not cur:
                    return self.send_json(404, gone)
                if S["conflict"] > 0 or md.get("resourceVersion") != cur["metadata"]["resourceVersion"]:
                    if S["conflict"] > 0:
                        S["conflict"] -= 1
                        # a concurrent writer changed it
                        S["wrv"] += 1
                        cur["metadata"]["resourceVersion"] = str(S["wrv"])
                    log("409 PUT %s" % self.path)
                    return self.send_json(409, status(409, "Conflict", 'Operation cannot be fulfilled on '
                                                      '%s.%s "%s": the object has been modified; please apply '
                                                      'your changes to the latest version and try again'
                                                      % (plural, group, name)))
            S["wrv"] += 1
            md["resourceVersion"] = str(S["wrv"])
            if cur:
                md["uid"] = cur["metadata"].get("uid")
                md["creationTimestamp"] = cur["metadata"].get("creationTimestamp")
            else:
                md["uid"] = "%08x-0000-4000-8000-%012x" % (S["wrv"], S["wrv"])
                md["creationTimestamp"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            S["store"][key] = obj
            self.save()
            return self.send_json(201 if method == "POST" else 200, obj)

    def watch(self, q):
        try:
            rv = int(q.get("resourceVersion", "0"))
        except ValueError:
            return self.send_json(400, status(400, "BadRequest", "bad resourceVersion"))
        with cv:
            if S["gone_http"]:
                S["gone_http"] = False
                log("watch rv=%d: HTTP 410" % rv)
                return self.send_json(410, status(410, "Expired", "too old resource version: %d" % rv))
            if rv in S["bookmarks"]:
                log("watch resumed from bookmark rv=%d" % rv)
        bookmarks = q.get("allowWatchBookmarks") == "true"
        deadline = time.time() + int(q.get("timeoutSeconds", "1800"))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            with cv:
                gone, garbage = S["gone_gen"], S["garbage_gen"]
                if rv < S["oldest"] - 1:
                    log("watch rv=%d: expired (oldest %d)" % (rv, S["oldest"]))
                    self.chunk({"type": "ERROR", "object": status(
                        410, "Expired", "too old resource version: %d (%d)" % (rv, S["oldest"] - 1))})
                    return self.end()
            next_bm = time.time() + 0.3
            while time.time() < deadline:
                with cv:
                    cv.wait(0.05)
                    evs = [e for e in S["events"] if e[0] > rv]
                    if S["gone_gen"] != gone:
                        self.chunk({"type": "ERROR", "object": status(
                            410, "Expired", "too old resource version: %d" % rv)})
                        return self.end()
                    if S["garbage_gen"] != garbage:
                        garbage = S["garbage_gen"]
                        self.chunk('{"type": "ADDED", "object": {"kind": "Pod", "metadata": {"na')
                    cur = S["rv"]
                for r, t, obj in evs:
                    self.chunk(obj if t == "RAW" else {"type": t, "object": obj})
                    rv = r
                if bookmarks and time.time() >= next_bm:
                    next_bm = time.time() + 0.3
                    with cv:
                        S["bookmarks"].add(cur)
                    rv = max(rv, cur)
                    self.chunk({"type": "BOOKMARK", "object": {"kind": "Pod", "apiVersion": "v1", "metadata": {
                        "resourceVersion": str(cur),
                        "annotations": {"k8s.io/initial-events-end": "true"}}}})
            self.end()
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
            pass

    def end(self):
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


threading.Thread(target=poll_files, daemon=True).start()
srv = Server(("127.0.0.1", args.port), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(args.cert, args.key)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
tmp = args.port_file + ".tmp"
with open(tmp, "w") as f:
    f.write(str(srv.server_address[1]))
os.rename(tmp, args.port_file)
log("ready port %d rv %d" % (srv.server_address[1], S["rv"]))
srv.serve_forever()
