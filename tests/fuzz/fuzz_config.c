// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The YAML configuration (user/sources/config.c) from memory. */
#include "config.h"
#include "fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ag_config cfg;
	char err[512];

	if (ag_config_parse("fuzz.yaml", (const char *)data, size, &cfg, err, sizeof(err)) == 0)
		ag_config_free(&cfg);
	else if (!err[0])
		abort(); /* every refusal says why */
	return 0;
}
