/* clock — see clock.h. */
#include "clock.h"

#include <stdio.h>
#include <time.h>

int64_t
clock_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
clock_wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

size_t
clock_rfc3339(int64_t wall_ms, char *buf)
{
    /* gmtime_r per call costs ~100 ns; cache the formatted second since
     * a busy worker stamps thousands of messages within one second. */
    static int64_t cached_sec = -1;
    static char cached[21];             /* "2026-11-25T09:30:00." */
    int64_t sec = wall_ms / 1000;
    if (sec != cached_sec) {
        time_t t = (time_t)sec;
        struct tm tm;
        gmtime_r(&t, &tm);
        strftime(cached, sizeof cached, "%Y-%m-%dT%H:%M:%S.", &tm);
        cached_sec = sec;
    }
    int n = snprintf(buf, CLOCK_RFC3339_LEN, "%s%03dZ", cached, (int)(wall_ms % 1000));
    return n > 0 ? (size_t)n : 0;
}
