#!/usr/bin/python3
# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""An HTTPS server that speaks the Kubernetes API's list/watch protocol for tests/k8s/k8s_test.c:
bearer token check (the accepted token is read from a file at each request, so the test can
rotate it), pods of one node by fieldSelector, watch as chunked newline-delimited JSON events
(ADDED, MODIFIED, DELETED from the changes of the pods file, BOOKMARK every 0.3 s when asked for,
ERROR 410 for an expired resourceVersion), ResourceClaims and ResourceSlices from fixtures.

Faults, written by the test into --fault-file (consumed when acted upon):
  gone       every watch gets ERROR 410 and history is compacted: clients must relist
  gone-http  the next watch request is answered HTTP 410
  garbage    every watch gets a line that is not JSON
"""
import argparse
import json
import os
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
args = p.parse_args()

cv = threading.Condition()
S = {"rv": args.rv_base, "oldest": args.rv_base, "pods": {}, "events": [], "key": None,
     "gone_gen": 0, "garbage_gen": 0, "gone_http": False, "bookmarks": set()}


def log(msg):
    with open(args.log, "a") as f:
        f.write(msg + "\n")


def load(path):
    with open(path) as f:
        return json.load(f)


def poll_files():
    """The pods file -> events; the fault file -> faults."""
    while True:
        try:
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
                    cv.notify_all()
        except (OSError, ValueError) as e:
            log("poll: %s" % e)
        time.sleep(0.05)


def status(code, reason, message):
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}


class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

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
                    self.chunk({"type": t, "object": obj})
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
