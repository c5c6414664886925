// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The self-test's allocation source: the reserved cgroup root (selftest.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "config.h"
#include "selftest.h"

static int st_resolve(void *ctx, const char *path, struct ag_tenant *out)
{
	size_t rl = strlen(AG_SELFTEST_ROOT), kl;
	const char *run, *name, *end, *dash;
	unsigned int major, minor;
	char tail;

	if (strncmp(path, AG_SELFTEST_ROOT, rl) || (path[rl] && path[rl] != '/'))
		return AG_R_NOT_MINE;
	run = path + rl;
	name = *run ? strchr(run + 1, '/') : NULL;
	if (!name || !name[1]) {
		/* the root and a run's directory: their new children are tenants */
		out->state = AG_P_TENANT_PARENT;
		return AG_R_DONE;
	}
	name++;
	end = strchrnul(name, '/');
	kl = (size_t)(end - path);
	out->state = AG_P_TENANT;
	if (kl >= sizeof(out->key))
		kl = sizeof(out->key) - 1;
	memcpy(out->key, path, kl);
	out->key[kl] = 0;
	dash = memrchr(name, '-', (size_t)(end - name));
	if (dash && sscanf(dash + 1, "%u_%u%c", &major, &minor, &tail) >= 2 &&
	    (size_t)(end - dash - 1) == (size_t)snprintf(NULL, 0, "%u_%u", major, minor) &&
	    major == 195 && minor >= AG_SELFTEST_MINOR_LO && minor <= AG_SELFTEST_MINOR_HI) {
		out->devs[0] = (struct ag_dev_range){ major, minor, minor, 0 };
		out->n_devs = 1;
	}
	return AG_R_DONE;
}

static const char *const st_roots_v[] = { AG_SELFTEST_ROOT, NULL };

static const char *const *st_roots(void *ctx)
{
	return st_roots_v;
}

static void st_destroy(void *ctx)
{
	free(ctx);
}

struct ag_source *ag_selftest_source_new(void)
{
	struct ag_source *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->name = "selftest";
	s->ctx = s;
	s->resolve = st_resolve;
	s->tenant_roots = st_roots;
	s->destroy = st_destroy;
	return s;
}

const char *ag_selftest_socket(const struct ag_config *cfg)
{
	return cfg->selftest.socket ? cfg->selftest.socket : AG_SELFTEST_SOCKET;
}
