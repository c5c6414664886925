/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The agent's logger: human lines on stderr, "accelguard: <level>: ...". */
#ifndef AG_LOG_H
#define AG_LOG_H

enum ag_log_level { AG_LOG_ERROR = 0, AG_LOG_WARN = 1, AG_LOG_INFO = 2, AG_LOG_DEBUG = 3 };

extern int ag_log_level;

void ag_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Route libbpf's own messages through ag_log (debug ones only at -v). */
void ag_log_setup_libbpf(void);

#define ag_err(...) ag_log(AG_LOG_ERROR, __VA_ARGS__)
#define ag_warn(...) ag_log(AG_LOG_WARN, __VA_ARGS__)
#define ag_info(...) ag_log(AG_LOG_INFO, __VA_ARGS__)
#define ag_dbg(...) ag_log(AG_LOG_DEBUG, __VA_ARGS__)

#endif
