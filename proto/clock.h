/* clock — time helpers shared by every process.
 *
 * clock_now_ms(): CLOCK_MONOTONIC in milliseconds, for timers and deadlines.
 * clock_wall_ms(): CLOCK_REALTIME in milliseconds since the epoch, for
 * createTime stamps. clock_rfc3339() formats a wall time as
 * "2026-11-25T09:30:00.123Z" into buf (at least CLOCK_RFC3339_LEN bytes) and
 * returns the length written (24), or 0 for a time outside years 0–9999. */
#ifndef ZWSD_CLOCK_H
#define ZWSD_CLOCK_H

#include <stddef.h>
#include <stdint.h>

#define CLOCK_RFC3339_LEN 25

int64_t clock_now_ms(void);
int64_t clock_now_us(void);       /* CLOCK_MONOTONIC in microseconds */
int64_t clock_wall_ms(void);
size_t  clock_rfc3339(int64_t wall_ms, char *buf);

#endif
