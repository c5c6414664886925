/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Names of known accelerator ioctl commands (NVIDIA frontend, RM escapes, UVM; AMD KFD). */
#ifndef AG_IOCTL_NAMES_H
#define AG_IOCTL_NAMES_H

#include <linux/types.h>

/* The name of cmd on a device of the given class, or NULL. xfer_cmd: the escape carried by an
 * NVIDIA IOCTL_XFER_CMD (0 when none). */
const char *ag_ioctl_name(const char *class_name, __u32 cmd, __u32 xfer_cmd);

#endif
