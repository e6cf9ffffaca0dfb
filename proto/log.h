/* log — one line per event on stderr, with sd-daemon priority prefixes.
 *
 * Any process (supervisor, worker, broker, tools). Each line reads
 * "<N>role[pid]: message", so journald takes the priority from <N> and a
 * terminal still reads it. log_warn()/log_err() append ": strerror(errno)";
 * the *x variants do not. errno is preserved across every call. Not
 * thread-safe: zwsd has no threads. Never call from a signal handler. */
#ifndef ZWSD_LOG_H
#define ZWSD_LOG_H

#include <stdarg.h>
#include <stddef.h>

/* Verbosity: 0 logs errors, warnings and info; 1 (-v) adds debug. */
void log_init(const char *role, int verbosity);
void log_set_role(const char *role);       /* after fork: "zwsd-worker" */
void log_set_verbosity(int verbosity);
int  log_verbosity(void);

void log_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_errx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Copy up to dstlen-1 bytes of untrusted data into dst for a log line,
 * replacing non-printable bytes with '.'; returns dst. */
char *log_sample(char *dst, size_t dstlen, const void *data, size_t len);

#endif
