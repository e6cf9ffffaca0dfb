/* test_pace — proto/pace.c: a busy loop's next turn starts turn_us after the
 * last one began, never later than the caller's cap; an idle or unpaced loop
 * polls at once. Run: build/test/test_pace */
#include <criterion/criterion.h>

#include "pace.h"

Test(pace, off_or_idle_never_waits)
{
    pace_t p;
    pace_init(&p, 0);
    pace_turn_at(&p, 1, 1000);
    cr_expect_eq(pace_due(&p, 1000, -1), 0, "turn_us 0 is off");
    pace_init(&p, 500);
    cr_expect_eq(pace_due(&p, 0, -1), 0, "a fresh loop polls at once");
    pace_turn_at(&p, 0, 1000);
    cr_expect_eq(pace_due(&p, 1100, -1), 0, "the last turn was idle: block in the poll");
}

Test(pace, busy_waits_out_the_rest_of_its_turn)
{
    pace_t p;
    pace_init(&p, 500);
    pace_turn_at(&p, 1, 1000);
    cr_expect_eq(pace_due(&p, 1000, -1), 500);
    cr_expect_eq(pace_due(&p, 1200, -1), 300);
    cr_expect_eq(pace_due(&p, 1500, -1), 0, "the turn is over");
    cr_expect_eq(pace_due(&p, 9000, -1), 0, "a long turn: the next at once");
}

Test(pace, the_cap_wins_so_no_timer_is_late)
{
    pace_t p;
    pace_init(&p, 500);
    pace_turn_at(&p, 1, 1000);
    cr_expect_eq(pace_due(&p, 1100, 50), 50);
    cr_expect_eq(pace_due(&p, 1100, 0), 0, "a timer due now");
    cr_expect_eq(pace_due(&p, 1100, 1000), 400);
}

Test(pace, a_clock_behind_the_turn_waits_one_turn_at_most)
{
    pace_t p;
    pace_init(&p, 500);
    pace_turn_at(&p, 1, 1000);
    cr_expect_eq(pace_due(&p, 10, -1), 500);
}

Test(pace, wait_sleeps_what_due_says)
{
    pace_t p;
    pace_init(&p, 2000);
    pace_turn(&p, 1);
    int64_t slept = pace_wait(&p, 100);
    cr_expect(slept >= 0 && slept <= 100, "slept %lld, capped at 100", (long long)slept);
    pace_turn(&p, 0);
    cr_expect_eq(pace_wait(&p, -1), 0, "idle: no sleep");
}
