/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Upload of an evidence tarball (evidence_upload.c): PUT with retries and backoff. */
#ifndef AG_EVIDENCE_UPLOAD_H
#define AG_EVIDENCE_UPLOAD_H

#include <stddef.h>

/* PUT the file at path to url (ca: a CA bundle in PEM, or NULL for the system's). 0 when a 2xx
 * came back; -1 with err naming the URL and the last HTTP status or curl error. */
int ag_evidence_upload(const char *path, const char *url, const char *ca, char *err, size_t errlen);

#endif
