/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * Evidence bundles for a conformance submission, from the journal (journal.h).
 *
 * `accelguard evidence --out DIR` writes, over a time window of the journal: journal.jsonl (the
 * slice), access-matrix.json and .csv (tenant x device: counts by verdict and op, first and last
 * seen), selftest.json and selftest-junit.xml (the self-tests in the window), report.html (one
 * self-contained page), PRODUCT.yaml (the secure_accelerator_access entry, its status from the
 * facts) and manifest.json (sha256 and size of every other file; version, node, kernel, tier,
 * mode, window, configuration digest). With --sign-key the manifest is signed (Ed25519,
 * libcrypto): manifest.json.sig, base64. The bundle is made in DIR.partial and renamed into
 * place whole.
 *
 * `accelguard evidence verify DIR` checks every checksum, that the manifest covers every file
 * and nothing else (a changed, missing or extra file is named), and with --pubkey the signature.
 */
#ifndef AG_EVIDENCE_H
#define AG_EVIDENCE_H

#include <stddef.h>
#include <stdio.h>

int ag_evidence_cmd(int argc, char **argv);

/* for `accelguard evidence cluster` (evidence_cluster.c) */
int ag_evidence_cluster_cmd(int argc, char **argv);
int ag_evidence_verify(const char *path, const char *pubkey); /* a directory or a .tar.gz */
int ag_evidence_unpack(const char *tarpath, const char *dir);
int ag_evidence_sign(const char *keypath, const char *dir, char *err, size_t errlen);
/* Add "files" (path, sha256, size of each named file of dir) to m and write it as
 * dir/manifest.json (whole, fsynced); m is consumed. 0 or -errno. */
struct json_object;
int ag_evidence_write_manifest(const char *dir, struct json_object *m, const char *const *names,
			       size_t n);
int ag_evidence_sha256(const char *path, char hex[65], unsigned long long *size);
void ag_evidence_rm_flat(const char *dir);
/* s as a YAML double-quoted scalar (a control byte as \xNN): the PRODUCT.yaml entries. */
void ag_evidence_yaml_dq(FILE *f, const char *s);

#endif
