/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * The self-test: proves isolation on this node, now, against the agent that is running.
 *
 * How the running agent knows the test's tenants: every agent has a built-in allocation source
 * for the reserved cgroup root /accelguard-selftest. A cgroup /accelguard-selftest/RUN/NAME is a
 * tenant; NAME "LABEL-MAJOR_MINOR" is allocated that one device, and only when it is one of the
 * reserved NVIDIA minors 195:240-247 (numbers no GPU driver gives a device: the nodes made for
 * them reach every hook, and their opens end in ENXIO). So whoever can make a cgroup at the
 * host's cgroup2 root (root on the host) can grant itself nothing a workload could use.
 *
 * `accelguard selftest` reads the running agent's journal (its ready event: pid, mode, tier; the
 * tenant events; then the access events of its own probes), makes two throwaway tenants (A
 * holding 195:240, B holding 195:241) and opens from A: its own device (allowed), another
 * tenant's (cross_tenant: a device a real tenant holds exclusively, which the agent names on
 * its control socket ("owner"), else B's), and 195:242, allocated to nobody (unmediated). It checks each verdict and action in the
 * journal and, in enforce mode, that the open failed with EPERM (opens are denied synchronously
 * on every tier). It removes what it made, prints per-check results with timings, writes JUnit
 * XML (--junit), and hands the result to the agent over its control socket, which writes it
 * into the journal as a "selftest" event.
 */
#ifndef AG_SELFTEST_H
#define AG_SELFTEST_H

#include <stdbool.h>
#include "source.h"

#define AG_SELFTEST_ROOT "/accelguard-selftest"
#define AG_SELFTEST_MINOR_LO 240u
#define AG_SELFTEST_MINOR_HI 247u
#define AG_SELFTEST_SOCKET "/run/accelguard/control.sock"

struct ag_config;

/* The allocation source of the reserved root (always registered by the agent). */
struct ag_source *ag_selftest_source_new(void);

/* The control socket of the configuration (selftest.socket), else AG_SELFTEST_SOCKET. */
const char *ag_selftest_socket(const struct ag_config *cfg);

/* The agent's side, its control socket and scheduled runs: run/control.h; the command:
 * cmd/selftest_cmd.h. */

#endif
