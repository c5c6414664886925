// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Joining the host's cgroup namespace (hostns.h). */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hostns.h"
#include "log.h"

int ag_join_host_cgroupns(const char *proc)
{
	char p1[64], self[64], path[4096];
	ssize_t n1, ns;
	int fd, r = 0;

	const char *env = getenv("ACCELGUARD_HOST_CGROUPNS"); /* tests: another "host" */

	if (env && *env)
		snprintf(path, sizeof(path), "%s", env);
	else
		snprintf(path, sizeof(path), "%s/1/ns/cgroup", proc ? proc : "/proc");
	n1 = readlink(path, p1, sizeof(p1) - 1);
	ns = readlink("/proc/self/ns/cgroup", self, sizeof(self) - 1);
	if (n1 < 0 || ns < 0) {
		/* no cgroup namespaces in this kernel, or PID 1 not ours to inspect (a user
		 * namespace): nothing to compare with */
		if (errno != ENOENT)
			ag_info("cgroup: cannot compare the cgroup namespace with %s's: %s (in a pod: "
				"hostPID and CAP_SYS_PTRACE)", path, strerror(errno));
		return 0;
	}
	if (n1 == ns && !memcmp(p1, self, (size_t)n1))
		return 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || setns(fd, CLONE_NEWCGROUP)) {
		r = -errno;
		ag_err("cgroup: the agent runs in a cgroup namespace of its own and cannot join the "
		       "host's (%s): %s; cgroup paths would be relative to its container. In a pod it "
		       "needs hostPID and CAP_SYS_ADMIN.", path, strerror(-r));
	} else {
		ag_info("cgroup: joined the host's cgroup namespace (%.*s)", (int)n1, p1);
		r = 1;
	}
	if (fd >= 0)
		close(fd);
	return r;
}
