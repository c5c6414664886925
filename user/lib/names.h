/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The names of the ABI's enums (include/accelguard.h) as the events, the summary, the metrics and
 * the evidence spell them: one table each, so that a new operation or verdict is named once. */
#ifndef AG_NAMES_H
#define AG_NAMES_H

#include <linux/types.h>
#include "accelguard.h"

/* "unknown" for a value outside the enum */
const char *ag_op_name(unsigned int op);
const char *ag_verdict_name(unsigned int verdict);
const char *ag_action_name(unsigned int action);
const char *ag_hook_name(unsigned int hook);
const char *ag_drop_name(unsigned int kind);
const char *ag_pt_route_name(unsigned int route); /* AG_OP_PTRACE's route */

/* The enum value of a name, -1 for none. */
int ag_op_parse(const char *name);
int ag_verdict_parse(const char *name);

#endif
