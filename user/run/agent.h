/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* `accelguard run`: the agent's event loop (ring buffer, timers, signals, sources in one epoll). */
#ifndef AG_AGENT_H
#define AG_AGENT_H

#include <stdbool.h>
#include "config.h"

struct ag_run_opts {
	const char *config;      /* NULL: an empty configuration (audit, no tenants) */
	int mode;                /* -1: the configuration's */
	const char *events;      /* "-" or NULL: stdout */
	double duration;         /* seconds, 0: until SIGINT/SIGTERM */
	int force_tier;          /* 0: probe */
	unsigned int max_cgroups;
	unsigned int ringbuf_kb;
	const char *pin_dir;     /* NULL: the configuration's (pins.h); "off": no pins */
};

int ag_run(const struct ag_run_opts *o);

#endif
