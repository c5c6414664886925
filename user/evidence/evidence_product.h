/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * A conformance submission's PRODUCT.yaml (cncf/k8s-ai-conformance): the secure_accelerator_access
 * entry merged into a vendor's file, or a whole file written from the version's checklist, and
 * the file checked offline as that repository's scripts/validate.go checks it, each refusal named
 * by its rule. The checklists (AIConformance-1.33 ... 1.37) are docs/conformance/, built in.
 *
 * What validate.go does online is not done here, and said so: every http(s) URL (metadata and
 * evidence) must answer < 400, and vendorName must be a CNCF member in the landscape.
 */
#ifndef AG_EVIDENCE_PRODUCT_H
#define AG_EVIDENCE_PRODUCT_H

#include <stdio.h>

/* The checklist text of a version ("1.36"), NULL when there is none. */
const char *ag_product_checklist(const char *version, size_t *len);

/* Check path as validate.go would, printing to out one line per refusal ("refused: [RULE] ..."),
 * per note and per rule left to the network. version: "1.36", or NULL to take it from the path
 * (vX.Y/<product>/PRODUCT.yaml) as the validator does. Returns the number of refusals (0: the
 * validator accepts it, URL and membership checks aside), or -1 when nothing could be checked. */
int ag_product_check(const char *path, const char *version, FILE *out);

/* Merge entry (the requirement as YAML lines, each starting "- id:" or "  key:", at column 0)
 * into path's spec.security, replacing the secure_accelerator_access entry there; a path that
 * does not exist is written whole from the version's checklist, the vendor's fields left as
 * the checklist's [placeholders]. Written to path.tmp, then renamed. 0, or -errno with err set. */
int ag_product_merge(const char *path, const char *version, const char *entry, char *err,
		     size_t errlen);

/* `accelguard evidence product-check FILE [--conformance-version X.Y]` */
int ag_product_check_cmd(int argc, char **argv);

#endif
