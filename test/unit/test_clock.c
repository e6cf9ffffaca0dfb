/* test_clock — proto/clock.c: RFC 3339 stamps of known instants (the cached
 * second must never leak into another second), the monotonic clock never
 * going back, the wall clock near time(2).
 * Run: make build/test/test_clock && build/test/test_clock */
#include <criterion/criterion.h>
#include <regex.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "clock.h"

static void
s_expect_stamp(int64_t ms, const char *want)
{
    char buf[CLOCK_RFC3339_LEN + 8];
    memset(buf, 'Z', sizeof buf);
    size_t n = clock_rfc3339(ms, buf);
    cr_expect_eq(n, 24, "length for %lld", (long long)ms);
    cr_expect_str_eq(buf, want, "stamp for %lld", (long long)ms);
    cr_expect_eq(buf[CLOCK_RFC3339_LEN], 'Z', "wrote past CLOCK_RFC3339_LEN");
}

Test(clock, known_instants)
{
    s_expect_stamp(0, "1970-01-01T00:00:00.000Z");
    s_expect_stamp(1, "1970-01-01T00:00:00.001Z");
    s_expect_stamp(999, "1970-01-01T00:00:00.999Z");
    s_expect_stamp(1000, "1970-01-01T00:00:01.000Z");
    s_expect_stamp(1764063000123, "2025-11-25T09:30:00.123Z");
    s_expect_stamp(1795599000123, "2026-11-25T09:30:00.123Z");   /* zwsd-protocol(7)'s example */
    s_expect_stamp(951782400000, "2000-02-29T00:00:00.000Z");    /* leap day */
    s_expect_stamp(1767225599999, "2025-12-31T23:59:59.999Z");
    s_expect_stamp(1767225600000, "2026-01-01T00:00:00.000Z");
    s_expect_stamp(4102444800000, "2100-01-01T00:00:00.000Z");
    s_expect_stamp(253402300799999, "9999-12-31T23:59:59.999Z");
}

/* A backend may put any int in the envelope's "time" (ENVELOPE.md); the
 * worker stamps it as createTime. Before the epoch the milliseconds must
 * still be 000-999 and the stamp well formed. */
Test(clock, before_epoch)
{
    s_expect_stamp(-1, "1969-12-31T23:59:59.999Z");
    s_expect_stamp(-1000, "1969-12-31T23:59:59.000Z");
    s_expect_stamp(-1500, "1969-12-31T23:59:58.500Z");
    s_expect_stamp(-31536000000, "1969-01-01T00:00:00.000Z");
}

/* Whatever the input, the length returned is the length written: the
 * caller appends exactly that many bytes (cj_render_message). */
Test(clock, return_value_is_what_was_written)
{
    int64_t v[] = { 0, -1, -999, -1500, -86400001, 253402300799999, 253402300800000,
                    100000000000000000LL, INT64_MAX, INT64_MIN, INT64_MIN + 1 };
    for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
        char buf[CLOCK_RFC3339_LEN + 8];
        memset(buf, 'Z', sizeof buf);
        size_t n = clock_rfc3339(v[i], buf);
        cr_expect_leq(n, CLOCK_RFC3339_LEN - 1, "%lld: returned %zu", (long long)v[i], n);
        cr_expect_eq(memchr(buf, '\0', CLOCK_RFC3339_LEN) != NULL, 1, "%lld: not terminated",
                     (long long)v[i]);
        cr_expect_eq(n, strnlen(buf, CLOCK_RFC3339_LEN), "%lld: returned %zu, wrote \"%s\"",
                     (long long)v[i], n, buf);
        cr_expect_eq(buf[CLOCK_RFC3339_LEN], 'Z', "%lld: wrote past CLOCK_RFC3339_LEN",
                     (long long)v[i]);
    }
}

Test(clock, cache_does_not_leak_between_seconds)
{
    /* the formatted second is cached: alternate seconds and come back */
    s_expect_stamp(1764063000123, "2025-11-25T09:30:00.123Z");
    s_expect_stamp(1764063000999, "2025-11-25T09:30:00.999Z");
    s_expect_stamp(1764063001000, "2025-11-25T09:30:01.000Z");
    s_expect_stamp(1764063000000, "2025-11-25T09:30:00.000Z");
    s_expect_stamp(0, "1970-01-01T00:00:00.000Z");
    s_expect_stamp(1764063000042, "2025-11-25T09:30:00.042Z");
    s_expect_stamp(1764063000042 + 86400000, "2025-11-26T09:30:00.042Z");
}

Test(clock, all_milliseconds)
{
    char buf[CLOCK_RFC3339_LEN], want[8];
    for (int ms = 0; ms < 1000; ms++) {
        clock_rfc3339(1764063000000 + ms, buf);
        snprintf(want, sizeof want, ".%03dZ", ms);
        cr_assert_str_eq(buf + 19, want);
        cr_assert(strncmp(buf, "2025-11-25T09:30:00", 19) == 0);
    }
}

Test(clock, wall_now_has_rfc3339_shape)
{
    regex_t re;
    cr_assert_eq(regcomp(&re, "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z$",
                         REG_EXTENDED | REG_NOSUB), 0);
    char buf[CLOCK_RFC3339_LEN];
    cr_expect_eq(clock_rfc3339(clock_wall_ms(), buf), 24);
    cr_expect_eq(regexec(&re, buf, 0, NULL, 0), 0, "%s", buf);
    regfree(&re);
}

Test(clock, wall_matches_time)
{
    /* time() reads the coarse clock, which may trail CLOCK_REALTIME by a
     * tick: a second of slack either side still catches a wrong unit or
     * epoch */
    int64_t before = ((int64_t)time(NULL) - 1) * 1000;
    int64_t w = clock_wall_ms();
    int64_t after = ((int64_t)time(NULL) + 1) * 1000;
    cr_expect(w >= before && w <= after, "wall %lld not within [%lld, %lld]", (long long)w,
              (long long)before, (long long)after);
}

Test(clock, monotonic_non_decreasing)
{
    int64_t prev = clock_now_ms();
    cr_expect_geq(prev, 0);
    for (int i = 0; i < 200000; i++) {
        int64_t now = clock_now_ms();
        cr_assert_geq(now, prev, "went back from %lld to %lld", (long long)prev, (long long)now);
        prev = now;
    }
}

Test(clock, monotonic_advances)
{
    int64_t a = clock_now_ms();
    struct timespec ts = { 0, 30 * 1000000 };
    nanosleep(&ts, NULL);           /* a bounded wait on the clock under test itself */
    int64_t b = clock_now_ms();
    cr_expect_geq(b - a, 29, "30 ms sleep advanced only %lld ms", (long long)(b - a));
    cr_expect_lt(b - a, 5000);
}
