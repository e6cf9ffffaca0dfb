/* test_pace — proto/pace.c: a busy loop's next turn starts at the first
 * point of its turn_us grid (shifted by its phase) after the last turn
 * began, never more than turn_us away and never later than the caller's
 * cap; an idle or unpaced loop polls at once; a readable wake fd ends the
 * sleep early. Run: build/test/test_pace */
#include <criterion/criterion.h>
#include <unistd.h>

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

Test(pace, busy_waits_for_the_next_grid_point)
{
    pace_t p;
    pace_init(&p, 500);
    pace_turn_at(&p, 1, 1000);              /* on a point: the next one */
    cr_expect_eq(pace_due(&p, 1000, -1), 500);
    cr_expect_eq(pace_due(&p, 1200, -1), 300);
    cr_expect_eq(pace_due(&p, 1500, -1), 0, "the turn is over");
    cr_expect_eq(pace_due(&p, 9000, -1), 0, "a long turn: the next at once");
    pace_turn_at(&p, 1, 1300);              /* between points: the grid, not start + turn */
    cr_expect_eq(pace_due(&p, 1300, -1), 200);
    pace_turn_at(&p, 1, 1499);
    cr_expect_eq(pace_due(&p, 1499, -1), 1);
}

Test(pace, the_phase_shifts_the_grid)
{
    pace_t p;
    pace_init(&p, 1000);
    pace_set_phase(&p, 250);
    pace_turn_at(&p, 1, 10000);
    cr_expect_eq(pace_due(&p, 10000, -1), 250, "points at ...250");
    pace_turn_at(&p, 1, 10250);
    cr_expect_eq(pace_due(&p, 10250, -1), 1000);
    pace_turn_at(&p, 1, 10900);
    cr_expect_eq(pace_due(&p, 10900, -1), 350);
    pace_set_phase(&p, 1250);               /* modulo turn_us */
    cr_expect_eq(pace_due(&p, 10900, -1), 350);
    pace_turn_at(&p, 1, 100);               /* before the first point */
    cr_expect_eq(pace_due(&p, 100, -1), 150);
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

Test(pace, wait_says_whether_it_slept)
{
    pace_t p;
    pace_init(&p, 2000);
    pace_turn(&p, 1);
    cr_expect_eq(pace_wait(&p, 100, NULL, 0), PACE_SLEPT, "busy: it sleeps (capped at 100 us)");
    cr_expect_eq(pace_wait(&p, 0, NULL, 0), PACE_NOW, "a timer due now: no sleep");
    pace_turn(&p, 0);
    cr_expect_eq(pace_wait(&p, -1, NULL, 0), PACE_NOW, "idle: no sleep");
}

Test(pace, a_readable_wake_fd_ends_the_sleep)
{
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    pace_t p;
    pace_init(&p, 10000);
    pace_turn(&p, 1);
    cr_expect_eq(pace_wait(&p, 100, &fds[0], 1), PACE_SLEPT, "nothing to read: the full sleep");
    cr_assert_eq(write(fds[1], "x", 1), 1);
    pace_turn(&p, 1);
    /* a 10 s cap: only the fd can end this wait before the test times out */
    cr_expect_eq(pace_wait(&p, 10000000, &fds[0], 1), PACE_WOKEN);
    close(fds[0]);
    close(fds[1]);
}
