/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* `accelguard selftest`: what it does and how the agent knows its tenants: sources/selftest.h. */
#ifndef AG_SELFTEST_CMD_H
#define AG_SELFTEST_CMD_H

int ag_selftest_cmd(int argc, char **argv);

#endif
