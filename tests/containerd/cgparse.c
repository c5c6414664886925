// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The project's cgroup-path parser (user/k8s/cgroup.c) on paths given as arguments, one line each:
 * "PATH KIND QOS POD_UID CONTAINER_ID" (kind none|kubepods|pod|container|bare, "-" for empty),
 * for tests/containerd/run.sh to compare with what runc really made. */
#include <stdio.h>
#include "k8s/cgroup.h"

static const char *const kinds[] = { "none", "kubepods", "pod", "container", "bare" };

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		struct ag_k8s_cgroup c;

		if (ag_k8s_cgroup_parse(argv[i], &c)) {
			printf("%s invalid - - -\n", argv[i]);
			continue;
		}
		printf("%s %s %s %s %s\n", argv[i], c.kind >= 0 && c.kind <= 4 ? kinds[c.kind] : "?",
		       c.qos ? ag_k8s_qos_name(c.qos) : "-", c.pod_uid[0] ? c.pod_uid : "-",
		       c.container_id[0] ? c.container_id : "-");
	}
	return 0;
}
