// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* mountinfo and /proc/PID/cgroup (user/sources/cgroups.c). */
#include "cgroups.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_str(data, size), out[4096];

	if (ag_mountinfo_cgroup2(s, out, sizeof(out)) == 0 && strlen(out) >= sizeof(out))
		abort();
	if (ag_proc_cgroup_parse(s, out, sizeof(out)) == 0 && strlen(out) >= sizeof(out))
		abort();
	free(s);
	return 0;
}
