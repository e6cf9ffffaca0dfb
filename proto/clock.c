/* clock — see clock.h. */
#include "clock.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

int64_t
clock_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
clock_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
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
    static int64_t cached_sec;
    static int cached_ok;
    static char cached[32];             /* "2026-11-25T09:30:00." */
    static size_t cached_len;
    int64_t sec = wall_ms / 1000, ms = wall_ms % 1000;
    if (ms < 0) {                       /* floor, for times before 1970 */
        sec--;
        ms += 1000;
    }
    if (!cached_ok || sec != cached_sec) {
        time_t t = (time_t)sec;
        struct tm tm;
        if (!gmtime_r(&t, &tm) || tm.tm_year + 1900 > 9999 || tm.tm_year + 1900 < 0) {
            buf[0] = '\0';              /* not representable in RFC 3339 */
            return 0;
        }
        cached_len = strftime(cached, sizeof cached, "%Y-%m-%dT%H:%M:%S.", &tm);
        cached_sec = sec;
        cached_ok = 1;
    }
    /* by hand: snprintf was a visible share of a message's user time */
    size_t n = cached_len;
    if (!n || n + 5 > CLOCK_RFC3339_LEN)
        return buf[0] = '\0', 0;       /* strftime failed: no stamp rather than a wrong one */
    memcpy(buf, cached, n);
    buf[n++] = (char)('0' + ms / 100);
    buf[n++] = (char)('0' + ms / 10 % 10);
    buf[n++] = (char)('0' + ms % 10);
    buf[n++] = 'Z';
    buf[n] = '\0';
    return n;
}
