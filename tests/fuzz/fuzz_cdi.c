// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* A CDI spec (user/k8s/cdi.c), with a long file name: every warning must still say its cause. */
#include "fuzz.h"
#include "k8s/cdi.h"

static char name[1100];

/* every warning names its file whole, then its cause (they were cut at 1,023 bytes) */
static void warn(void *arg, const char *msg)
{
	size_t n = strlen(name);

	(void)arg;
	if (strncmp(msg, "cdi: ", 5))
		abort();
	if (!strncmp(msg + 5, "/dd", 3) &&
	    (strncmp(msg + 5, name, n) || strncmp(msg + 5 + n, ": ", 2) || !msg[5 + n + 2]))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
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
