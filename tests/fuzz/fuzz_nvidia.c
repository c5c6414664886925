// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The NVIDIA procfs files (user/k8s/nvidia.c): a GPU's information file, mig-minors. */
#include "fuzz.h"
#include "k8s/nvidia.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ag_nv_table t;
	struct ag_nv_gpu g;
	char err[512];

	memset(&t, 0, sizeof(t));
	if (ag_nv_parse_gpu("information", (const char *)data, size, "0000:3B:00.0", &g, err,
			    sizeof(err)) == 0) {
		t.gpus = &g;
		t.n_gpus = 1;
		(void)ag_nv_minor_by_uuid(&t, g.uuid);
		(void)ag_nv_minor_by_bus(&t, "3b:00.0");
		t.gpus = NULL;
		t.n_gpus = 0;
	}
	if (ag_nv_parse_caps(&t, "mig-minors", (const char *)data, size, err, sizeof(err)) == 0 &&
	    t.n_caps)
		(void)ag_nv_cap_minor(&t, t.caps[t.n_caps - 1].name);
	ag_nv_free(&t);
	return 0;
}
