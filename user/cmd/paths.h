/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/*
 * `accelguard paths`: every host path the agent opens for a configuration, with the access it
 * needs, one per line ("PATH<TAB>ro|rw|hostPID|own<TAB>what needs it"). The DaemonSet's mounts
 * are checked against it (tests/deploy/): hostPID lines are reached through the host PID
 * namespace's procfs, own lines are the container's own (an emptyDir).
 */
#ifndef AG_PATHS_H
#define AG_PATHS_H

int ag_cmd_paths(int argc, char **argv);

#endif
