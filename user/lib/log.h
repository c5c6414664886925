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

/* The one way to fail: the code that meets an error logs it once, with the input and the cause,
 * and returns -errno (systemd's log_error_errno): "FMT...: strerror(err)" at level; err is an
 * errno value, either sign (0 reads as EIO); returns -|err|.
 *   return ag_err_errno(errno, "agent: timerfd_settime (the %d ms timer)", ms); */
int ag_log_errno(int level, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
#define ag_err_errno(err, ...) ag_log_errno(AG_LOG_ERROR, (err), __VA_ARGS__)
#define ag_warn_errno(err, ...) ag_log_errno(AG_LOG_WARN, (err), __VA_ARGS__)

#endif
