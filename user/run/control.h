/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The agent's control socket (mode 0600, root only): the self-test hands its result there (the
 * agent writes it into the journal as a "selftest" event) and asks for a real tenant's device
 * ("owner") and the tenants with a pod and a container ("tenants"); and the self-test runs that
 * the configuration schedules (selftest.at_start, selftest.interval_s). The self-test itself:
 * sources/selftest.h.
 */
#ifndef AG_CONTROL_H
#define AG_CONTROL_H

#include <stdbool.h>
#include <stddef.h>

struct ag_config;
struct ag_selftest_svc;
/* Emit one event: type "selftest", fields: a JSON object's members (text without braces). */
typedef void (*ag_selftest_emit_fn)(void *ctx, const char *members, size_t len);

/* Listen on the control socket when the configuration has a journal (the self-test reads it);
 * NULL (and nothing to do) otherwise or on error (logged). journal_dir and config are passed to
 * the self-test the agent spawns. */
struct ag_policy_db;
struct ag_selftest_svc *ag_selftest_svc_new(const struct ag_config *cfg, const char *config_path,
					    const struct ag_policy_db *db, int epfd,
					    ag_selftest_emit_fn emit, void *ctx);
/* An epoll fd fired: true when it was the service's (handled). */
bool ag_selftest_svc_handle(struct ag_selftest_svc *s, int fd);
/* Every second: start a scheduled run when due (selftest.at_start, selftest.interval_s), reap. */
void ag_selftest_svc_tick(struct ag_selftest_svc *s);
void ag_selftest_svc_free(struct ag_selftest_svc *s);

#endif
