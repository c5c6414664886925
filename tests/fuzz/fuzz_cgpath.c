// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* cgroup paths: the kubelet's names (user/k8s/cgroup.c) and the patterns (user/lib/cgpattern.c).
 * The input is "PATTERN\nPATH". */
#include "cgpattern.h"
#include "fuzz.h"
#include "k8s/cgroup.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_str(data, size), *path = strchr(s, '\n'), buf[4096];
	struct ag_k8s_cgroup cg;

	if (path)
		*path++ = '\0';
	else
		path = s;
	(void)ag_k8s_cgroup_parse(path, &cg);
	if (!ag_cgpattern_check(s)) {
		(void)ag_cgpattern_match(s, path);
		(void)ag_cgpattern_match_or_ancestor(s, path);
		(void)ag_cgpattern_parent(s, buf, sizeof(buf));
	}
	free(s);
	return 0;
}
