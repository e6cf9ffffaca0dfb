/* test_rate — daemon/rate.c: the per-connection token bucket of
 * zwsd-protocol(7): bursts of 2n, refill at n per second, abuse after 3n
 * refusals in a row, a pause forgives. Run: build/test/test_rate */
#include <criterion/criterion.h>

#include "rate.h"

Test(rate, burst_then_refusals_then_abuse)
{
    rate_t r;
    rate_init(&r, 10, 0);
    for (int i = 0; i < 20; i++)
        cr_assert_eq(rate_take(&r, 10, 0), RATE_OK, "burst %d", i);
    for (int i = 0; i < 29; i++)
        cr_assert_eq(rate_take(&r, 10, 0), RATE_REFUSED, "refusal %d", i);
    cr_expect_eq(rate_take(&r, 10, 0), RATE_ABUSE, "the 30th refusal in a row");
}

Test(rate, refills_at_n_per_second)
{
    rate_t r;
    rate_init(&r, 10, 0);
    for (int i = 0; i < 20; i++)
        rate_take(&r, 10, 0);
    cr_expect_eq(rate_take(&r, 10, 99), RATE_REFUSED, "0.99 tokens after 99 ms");
    cr_expect_eq(rate_take(&r, 10, 100), RATE_OK, "one token after 100 ms");
    cr_expect_eq(rate_take(&r, 10, 100), RATE_REFUSED);
}

Test(rate, a_pass_forgives_refusals_and_the_cap_holds)
{
    rate_t r;
    rate_init(&r, 1, 0);
    rate_take(&r, 1, 0);
    rate_take(&r, 1, 0);
    cr_expect_eq(rate_take(&r, 1, 0), RATE_REFUSED);
    cr_expect_eq(rate_take(&r, 1, 0), RATE_REFUSED);
    cr_expect_eq(rate_take(&r, 1, 1000), RATE_OK, "refilled: the count starts over");
    cr_expect_eq(r.refused, 0u);
    cr_expect_eq(rate_take(&r, 1, 1000000), RATE_OK, "an hour idle refills only 2n");
    cr_expect_eq(rate_take(&r, 1, 1000000), RATE_OK);
    cr_expect_eq(rate_take(&r, 1, 1000000), RATE_REFUSED);
}

Test(rate, off_means_no_limit)
{
    rate_t r;
    rate_init(&r, 0, 0);
    for (int i = 0; i < 1000; i++)
        cr_assert_eq(rate_take(&r, 0, 0), RATE_OK);
}
