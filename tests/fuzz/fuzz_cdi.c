// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* A CDI spec (user/k8s/cdi.c), with a long file name so that the warnings fill their buffer. */
#include "fuzz.h"
#include "k8s/cdi.h"

static void warn(void *arg, const char *msg)
{
	(void)arg;
	if (strlen(msg) >= 1024)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char name[1100];
	struct ag_cdi_cache c;
	size_t cap = 0;

	if (!name[0]) {
		memset(name, 'd', sizeof(name) - 1);
		name[0] = '/';
	}
	memset(&c, 0, sizeof(c));
	/* twice: a second spec of the same directory meets the first one's devices */
	if (ag_cdi_load_buf(&c, &cap, size & 1 ? name : "/etc/cdi/f.yaml", (const char *)data, size, 0,
			    "/nonexistent", warn, NULL) == 0)
		ag_cdi_load_buf(&c, &cap, "/var/run/cdi/g.yaml", (const char *)data, size, 1,
				"/nonexistent", warn, NULL);
	for (size_t i = 0; i < c.n; i++)
		(void)ag_cdi_find_vendor(&c, "nvidia.com", NULL, c.devs[i].name);
	ag_cdi_free(&c);
	return 0;
}
