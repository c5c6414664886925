/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * GET /evidence.tar.gz on the agent's HTTP server (metrics.evidence: true): a bundle of the last
 * metrics.evidence_hours of the journal, for `accelguard evidence cluster` through the API
 * server's pod proxy. Built by a child `accelguard evidence --config CFG --since -Nh --tar T`
 * (posix_spawn of /proc/self/exe: the agent's own code, none of its state), one at a time (a
 * second request meanwhile is 503), killed after 120 s; the reply is the tarball whole or an
 * error, never part of one.
 */
#ifndef AG_EVIDENCE_HTTP_H
#define AG_EVIDENCE_HTTP_H

#include "http.h"

struct ag_evidence_http;

/* config: the agent's configuration file (its journal: section names the journal). */
struct ag_evidence_http *ag_evidence_http_new(const char *config, unsigned int hours);
void ag_evidence_http_free(struct ag_evidence_http *e);
/* On the HTTP server's thread: fill r (200 application/gzip, or 500/503 text). */
int ag_evidence_http_reply(void *ctx, struct ag_http_reply *r);

#endif
