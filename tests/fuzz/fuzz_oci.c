// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* A container's OCI config.json (user/k8s/oci.c) and its exposure (user/k8s/exposure.c) against a
 * host of four GPUs, an AMD GPU's DRM render node and a configured class. */
#include <stdio.h>

#include "fuzz.h"
#include "k8s/exposure.h"
#include "k8s/oci.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct k8s_hostdev host[] = {
		{ "/dev/nvidia0", 195, 0, true, false }, { "/dev/nvidia1", 195, 1, true, false },
		{ "/dev/nvidia2", 195, 2, true, false }, { "/dev/nvidia3", 195, 3, true, false },
		{ "/dev/kmsg", 1, 11, false, false },    { "/dev/dri/renderD128", 226, 128, false, true },
	};
	static struct ag_nv_gpu gpus[] = { { "GPU-a", "0000:1a:00.0", 2 }, { "GPU-b", "0000:3b:00.0", 0 } };
	static struct k8s_amd_gpu amdg[] = {
		{ { "/dev/dri/card1", "/dev/dri/renderD128" }, 2, 128, "0000:03:00:0", 0x1234abcdULL, true },
	};
	static struct ag_k8s_exposure x;
	struct ag_nv_table nv = { .gpus = gpus, .n_gpus = 2 };
	struct k8s_amd_table amd = { .gpus = amdg, .n = 1 };
	struct ag_dev_range alloc = { 195, 1, 1, 0 };
	struct k8s_oci o;
	char err[512];

	if (k8s_oci_parse((const char *)data, size, "/run/containerd/x/config.json", &o, err,
			  sizeof(err))) {
		if (!strstr(err, "/run/containerd/x/config.json"))
			abort(); /* every refusal names the file */
		return 0;
	}
	if (k8s_exposure_compute(&o, host, sizeof(host) / sizeof(host[0]), &alloc, 1, &nv, &amd, &x) !=
	    (int)(x.n + x.more))
		abort();
	k8s_oci_free(&o);
	return 0;
}
