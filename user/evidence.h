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

int ag_evidence_cmd(int argc, char **argv);

#endif
