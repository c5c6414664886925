// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The agent's start: the sources' first snapshot, the end of the kernel's not-ready state. */
#include <errno.h>
#include <string.h>
#include <time.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "k8s/k8s.h"
#include "log.h"
#include "startup.h"
#include "util.h"

void ag_startup_wait_first(const struct ag_source *k8s)
{
	__u64 t0 = ag_now_ns(CLOCK_MONOTONIC);
	int r;

	if (!k8s)
		return;
	r = ag_k8s_source_wait_first(k8s, AG_FIRST_SNAPSHOT_MS);
	if (r == -ETIMEDOUT)
		ag_warn("kubernetes: no first answer from every peer in %d ms: the scan judges with "
			"what is known; the rest resolves when it arrives", AG_FIRST_SNAPSHOT_MS);
	else
		ag_info("kubernetes: first snapshot of the peers in %.1f ms",
			(ag_now_ns(CLOCK_MONOTONIC) - t0) / 1e6);
}

/* through the mmapped .bss, or the map itself where the kernel cannot mmap it */
void ag_startup_ready(struct accelguard_bpf *k)
{
	struct accelguard_bpf__bss v = { .ag_ready = 1 };
	__u32 zero = 0;

	if (k->bss) {
		k->bss->ag_ready = 1;
		return;
	}
	if (bpf_map_update_elem(bpf_map__fd(k->maps.bss), &zero, &v, BPF_ANY))
		ag_err("bpf: cannot leave the not-ready state: %s (accesses stay judged unresolved, "
		       "never denied as such)", strerror(errno));
}
