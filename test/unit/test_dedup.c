/* test_dedup — daemon/dedup.c: the first copy passes, the second not; the
 * window forgets its oldest keys first and only them, through many
 * evictions (the deletion keeps probe chains whole).
 * Run: make build/test/test_dedup && build/test/test_dedup */
#include <criterion/criterion.h>
#include <stdio.h>

#include "dedup.h"

static dedup_t d;

static void s_init(void) { cr_assert_eq(dedup_init(&d), 0); }
static void s_fini(void) { dedup_free(&d); }

TestSuite(dedup, .init = s_init, .fini = s_fini);

Test(dedup, first_passes_second_not)
{
    uint64_t a = dedup_key("abc-1", 5, 0), b = dedup_key("abc-1", 5, 1);
    cr_assert_neq(a, b, "a copy (variant 1) is another key");
    cr_assert_eq(dedup_check(&d, a), 0);
    cr_assert_eq(dedup_check(&d, a), 1);
    cr_assert(dedup_seen(&d, a));
    cr_assert_not(dedup_seen(&d, b));
    cr_assert_eq(dedup_check(&d, b), 0);
    cr_assert_eq(dedup_check(&d, 0), 0, "0 is a key like any other");
    cr_assert_eq(dedup_check(&d, 0), 1);
}

Test(dedup, window_forgets_oldest_only)
{
    const uint64_t N = 5 * DEDUP_WINDOW + 123;
    for (uint64_t i = 1; i <= N; i++) {
        /* clustered keys stress the probe chains */
        uint64_t k = (i % 7 == 0) ? (i << 16) : i * 0x9e3779b97f4a7c15ULL;
        cr_assert_eq(dedup_check(&d, k), 0, "key %llu seen before it was given",
                     (unsigned long long)i);
    }
    size_t kept = 0;
    for (uint64_t i = 1; i <= N; i++) {
        uint64_t k = (i % 7 == 0) ? (i << 16) : i * 0x9e3779b97f4a7c15ULL;
        int want = i > N - DEDUP_WINDOW;
        cr_assert_eq(dedup_seen(&d, k), want, "key %llu of %llu: seen %d", (unsigned long long)i,
                     (unsigned long long)N, !want);
        kept += (size_t)want;
    }
    cr_assert_eq(kept, DEDUP_WINDOW);
}
