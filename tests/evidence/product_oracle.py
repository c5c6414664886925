# SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
"""The offline rules of cncf/k8s-ai-conformance scripts/validate.go, written again in Python (with
PyYAML) as the test's independent oracle for `accelguard evidence product-check`: returns the
refusals as (rule, the validator's own message) pairs. Online rules (URLs answering, vendorName a
CNCF member) are left out, as accelguard leaves them out.
"""
import os
import re

import yaml

FIELDS = [("kubernetesVersion", True), ("platformName", True), ("platformVersion", True),
          ("vendorName", True), ("websiteUrl", True), ("repoUrl", False),
          ("documentationUrl", True), ("productLogoUrl", True), ("description", True),
          ("contactEmailAddress", True), ("k8sConformanceUrl", True)]
URL_RE = re.compile(r"^https://github\.com/cncf/k8s-conformance/tree/(master|main)/v\d+\.\d+/[^/]+/?$")
STATUSES = ("Implemented", "Not Implemented", "Partially Implemented", "N/A")


def snake(s):
    s = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", s)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", s).lower()


def validate(path, checklist_dir):
    m = re.search(r"(?:^|/)(v\d+\.\d+)/", path)
    if not m:
        return [("version.path", "Could not determine version from path %s" % path)]
    schema = yaml.safe_load(open(os.path.join(checklist_dir, "AIConformance-%s.yaml"
                                              % m.group(1)[1:])))
    try:
        prod = yaml.safe_load(open(path)) or {}
    except yaml.YAMLError as e:
        return [("load", "Error loading product: %s" % e)]
    out = []
    md = prod.get("metadata")
    if md is None:
        out.append(("metadata", "Missing 'metadata' section"))
    else:
        for f, req in FIELDS:
            v = md.get(f, md.get(snake(f))) if f in md else md.get(snake(f))
            if v is None:
                if req:
                    out.append(("metadata.required", "Missing metadata field: %s (or %s)"
                                % (f, snake(f))))
                continue
            if not isinstance(v, str):
                out.append(("metadata.string", "Metadata field %s is not a string" % f))
                continue
            if v == "":
                if req:
                    out.append(("metadata.empty", "Metadata field %s is empty" % f))
            elif v.startswith("[") and v.endswith("]"):
                out.append(("metadata.placeholder", "Metadata field %s has placeholder value: %s"
                            % (f, v)))
            elif f == "k8sConformanceUrl" and not URL_RE.match(v):
                out.append(("metadata.k8sConformanceUrl", "Invalid k8sConformanceUrl format: %s"
                            % v))
    # what yaml.v3 would not decode into the validator's types
    for cat, reqs in ((prod.get("spec") or {}).items() if isinstance(prod.get("spec"), dict) else []):
        for r in reqs or []:
            ev = (r or {}).get("evidence")
            if ev is not None and not isinstance(ev, list):
                return [("load", "Error loading product")]
    spec = prod.get("spec")
    if spec is None:
        out.append(("spec", "Missing 'spec' section"))
        return out
    pdir = os.path.dirname(path) or "."
    for cat, sreqs in schema["spec"].items():
        if cat not in spec:
            out.append(("spec.category", "Missing spec category: %s" % cat))
            continue
        byid = {(r or {}).get("id") or "": r or {} for r in (spec[cat] or [])}
        for s in sreqs:
            if s["id"] not in byid:
                out.append(("spec.requirement", "Missing requirement '%s' in category '%s'"
                            % (s["id"], cat)))
                continue
            p = byid[s["id"]]
            st, ev = p.get("status") or "", p.get("evidence") or []
            if s["level"] == "SHOULD" and st == "" and not ev:
                continue
            if st not in STATUSES:
                out.append(("status", "Invalid status '%s' for '%s'" % (st, s["id"])))
            if s["level"] == "MUST" and st != "Implemented":
                out.append(("status.must", "Requirement '%s' is MUST level but status is '%s'. "
                            "It must be 'Implemented'." % (s["id"], st)))
            if st == "N/A" and not p.get("notes"):
                out.append(("status.na_notes", "Notes required for '%s' when status is N/A"
                            % s["id"]))
            for e in ev:
                if not e or e.startswith("http://") or e.startswith("https://"):
                    continue
                full = os.path.normpath(pdir + "/" + e)  # filepath.Join: never absolute
                if not os.path.exists(full):
                    out.append(("evidence.file", "Invalid evidence file for '%s': %s (not found at %s)"
                                % (s["id"], e, full)))
    return out
