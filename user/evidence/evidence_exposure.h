/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The evidence bundle's exposure section (issue 22): the containers whose OCI spec let them reach
 * accelerator nodes beyond their allocation (the journal's `exposure` events), as exposure.json,
 * exposure.csv and a table of report.html.
 *
 * A container belongs to a window [since, until] when the agent reported its exposure in the
 * window, or reported it before the window and the container still stood at the window's start:
 * no `tenant` `removed` event of its cgroup before `since`, and no agent start (a `ready` event)
 * before `since` whose own start-up left it out (an agent reports every running container's
 * exposure at start-up, so one it did not report again was gone). Events after `until` are not
 * read. A container is keyed by its cgroup (id and path); its devices and reasons are those of its
 * latest exposure event up to `until`.
 */
#ifndef AG_EVIDENCE_EXPOSURE_H
#define AG_EVIDENCE_EXPOSURE_H

#include <stdbool.h>
#include <stdio.h>
#include <linux/types.h>

struct json_object;
struct ag_expo;

struct ag_expo *ag_expo_new(__s64 since, __s64 until);
void ag_expo_free(struct ag_expo *x);
/* Every journal record, in the journal's order, whatever its time (type: its "type"). */
void ag_expo_event(struct ag_expo *x, const char *type, struct json_object *e, __s64 t);
/* The containers of the window and their exposed devices (every one, past the events' bound of
 * 64 too: "more"). */
size_t ag_expo_containers(const struct ag_expo *x);
unsigned long long ag_expo_devices(const struct ag_expo *x);
void ag_expo_write_json(const struct ag_expo *x, FILE *f);
void ag_expo_write_csv(const struct ag_expo *x, FILE *f);
/* The report's section: a heading, a sentence with the counts, a table (at most 500 rows, one per
 * container and device, each row whole on paper: first reported, tenant, container id, device,
 * reasons, removed or not). checked: the agent checked exposure (its Kubernetes source), so that
 * none is "none", not "not checked". */
void ag_expo_write_html(const struct ag_expo *x, FILE *f, bool checked);

/* the tenant of an event: "pod NS/NAME container C" when known, else its cgroup's path */
void ag_evidence_tenant(struct json_object *e, char *buf, size_t len);

#endif
