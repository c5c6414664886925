// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* /proc/devices (user/sources/devices.c) and the device specs of the configuration ("195:0-3"). */
#include "devices.h"
#include "fuzz.h"
#include <errno.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const names[] = { "nvidia-uvm", "nvidia-caps", "accel", "nvidia" };
	__u32 major, lo, hi;
	char *s;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		int m = ag_proc_devices_major_buf((const char *)data, size, names[i]);

		if (m != -ENOENT && (m <= 0 || m >= AG_MAX_MAJOR))
			abort();
	}
	s = fuzz_str(data, size);
	if (ag_parse_devspec(s, &major, &lo, &hi) == 0 && lo > hi)
		abort();
	free(s);
	return 0;
}
