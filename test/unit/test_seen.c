/* test_seen — daemon/seen.c: what a worker remembers of the chats it
 * handled, by (origin, req), so that a copy (a retry) is answered from the
 * first instead of delivered twice. One event at a time: a first put, a
 * copy looked up, the window sliding, origins forgotten and what may then
 * no longer be told.
 * Run: make build/test/test_seen && build/test/test_seen */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "seen.h"

static seen_t s;

static void
s_init(void)
{
    memset(&s, 0, sizeof s);
}

static void
s_fini(void)
{
    seen_free(&s);
}

TestSuite(seen, .init = s_init, .fini = s_fini);

#define A "0123456789abcdef"
#define B "fedcba9876543210"

static seen_state_t
s_get(const char *origin, uint64_t req, int64_t now)
{
    return seen_get(&s, origin, strlen(origin), req, now);
}

static void
s_put(const char *origin, uint64_t req, seen_state_t st, int64_t now)
{
    seen_put(&s, origin, strlen(origin), req, st, now);
}

Test(seen, empty_knows_nothing_was_handled)
{
    cr_expect_eq(s_get(A, 1, 1000), SEEN_NONE, "a new worker handled nothing");
    cr_expect_eq(s_get(A, 123456789, 1000), SEEN_NONE);
    cr_expect_eq(s_get(A, 0, 1000), SEEN_UNKNOWN, "req 0 asks for no receipt: no copy of it");
}

Test(seen, each_outcome_is_told_back)
{
    s_put(A, 10, SEEN_DELIVERED, 1000);
    s_put(A, 11, SEEN_NOSESSION, 1000);
    s_put(A, 13, SEEN_DROPPED, 1000);
    cr_expect_eq(s_get(A, 10, 1001), SEEN_DELIVERED);
    cr_expect_eq(s_get(A, 11, 1001), SEEN_NOSESSION);
    cr_expect_eq(s_get(A, 12, 1001), SEEN_NONE, "a gap: that chat went to another worker");
    cr_expect_eq(s_get(A, 13, 1001), SEEN_DROPPED);
    cr_expect_eq(s_get(A, 14, 1001), SEEN_NONE, "not yet handled");
    cr_expect_eq(s_get(B, 10, 1001), SEEN_NONE, "another origin's 10 is another chat");
}

Test(seen, below_the_first_req_nothing_was_forgotten)
{
    s_put(A, 5000, SEEN_DELIVERED, 1000);
    cr_expect_eq(s_get(A, 4999, 1000), SEEN_NONE, "nothing was forgotten: never handled");
}

Test(seen, a_copy_delivered_after_nosession_overwrites)
{
    s_put(A, 7, SEEN_NOSESSION, 1000);
    s_put(A, 7, SEEN_DELIVERED, 1300);
    cr_expect_eq(s_get(A, 7, 1300), SEEN_DELIVERED);
}

Test(seen, window_slides_and_old_reqs_become_unknown)
{
    s_put(A, 1, SEEN_DELIVERED, 1000);
    s_put(A, 2, SEEN_NOSESSION, 1000);
    s_put(A, SEEN_WINDOW, SEEN_DELIVERED, 1000);
    cr_expect_eq(s_get(A, 1, 1000), SEEN_DELIVERED, "still inside the window");
    s_put(A, SEEN_WINDOW + 1, SEEN_DELIVERED, 1000);
    cr_expect_eq(s_get(A, 1, 1000), SEEN_UNKNOWN, "just left the window");
    cr_expect_eq(s_get(A, 2, 1000), SEEN_NOSESSION);
    cr_expect_eq(s_get(A, SEEN_WINDOW + 1, 1000), SEEN_DELIVERED,
                 "its position was req 1's: reused, not mixed up");
    cr_expect_eq(s_get(A, SEEN_WINDOW + 2, 1000), SEEN_NONE);
}

Test(seen, reused_positions_are_cleared)
{
    /* every position holds a state; then the window slides by half of it */
    for (uint64_t r = 1; r <= SEEN_WINDOW; r++)
        s_put(A, r, SEEN_DROPPED, 1000);
    s_put(A, SEEN_WINDOW + SEEN_WINDOW / 2, SEEN_DELIVERED, 1000);
    for (uint64_t r = SEEN_WINDOW + 1; r < SEEN_WINDOW + SEEN_WINDOW / 2; r++)
        cr_assert_eq(s_get(A, r, 1000), SEEN_NONE, "req %llu", (unsigned long long)r);
    cr_expect_eq(s_get(A, SEEN_WINDOW / 2, 1000), SEEN_UNKNOWN);
    cr_expect_eq(s_get(A, SEEN_WINDOW / 2 + 1, 1000), SEEN_DROPPED);
}

Test(seen, a_jump_past_the_whole_window)
{
    s_put(A, 3, SEEN_DELIVERED, 1000);
    s_put(A, 3 + 5 * (uint64_t)SEEN_WINDOW, SEEN_NOSESSION, 1000);
    cr_expect_eq(s_get(A, 3, 1000), SEEN_UNKNOWN);
    cr_expect_eq(s_get(A, 3 + 4 * (uint64_t)SEEN_WINDOW + 1, 1000), SEEN_NONE,
                 "inside the new window, never handled");
    cr_expect_eq(s_get(A, 3 + 5 * (uint64_t)SEEN_WINDOW, 1000), SEEN_NOSESSION);
}

Test(seen, a_late_put_below_the_window_is_not_recorded)
{
    s_put(A, 2 * (uint64_t)SEEN_WINDOW, SEEN_DELIVERED, 1000);
    s_put(A, 5, SEEN_DELIVERED, 1000);
    cr_expect_eq(s_get(A, 5, 1000), SEEN_UNKNOWN);
    cr_expect_eq(s_get(A, 5 + SEEN_WINDOW, 1000), SEEN_NONE, "its position was not touched");
}

static void
s_origin(char *buf, int i)
{
    snprintf(buf, 17, "%016x", i);
}

Test(seen, quiet_origins_make_room_and_are_forgotten_safely)
{
    char o[17];
    for (int i = 0; i < SEEN_ORIGINS; i++) {
        s_origin(o, i);
        s_put(o, 100, SEEN_DELIVERED, 1000 + i);
    }
    /* every slot is busy: a new origin cannot be recorded */
    s_origin(o, 1000);
    s_put(o, 5, SEEN_DELIVERED, 2000);
    cr_expect_eq(s_get(o, 5, 2000), SEEN_UNKNOWN, "refused: cannot tell");
    s_origin(o, 1001);
    cr_expect_eq(s_get(o, 9, 2000), SEEN_UNKNOWN,
                 "after a refusal an origin without a slot may have been forgotten");
    /* origin 0's slot has been quiet SEEN_IDLE_MS: it is reused */
    int64_t later = 1000 + SEEN_IDLE_MS;
    s_origin(o, 1002);
    s_put(o, 50, SEEN_NOSESSION, later);
    cr_expect_eq(s_get(o, 50, later), SEEN_NOSESSION);
    cr_expect_eq(s_get(o, 49, later), SEEN_UNKNOWN,
                 "created while something was lately forgotten: below its first, unknown");
    s_origin(o, 0);
    cr_expect_eq(s_get(o, 100, later), SEEN_UNKNOWN, "forgotten within SEEN_IDLE_MS");
    cr_expect_eq(s_get(o, 100, 2000 + SEEN_IDLE_MS), SEEN_NONE,
                 "long after: what it handled is older than any copy can be");
    s_origin(o, 1);
    cr_expect_eq(s_get(o, 100, later), SEEN_DELIVERED, "the others are kept");
}

Test(seen, bad_origins_are_never_recorded)
{
    char longo[80];
    memset(longo, 'a', sizeof longo - 1);
    longo[sizeof longo - 1] = '\0';
    s_put(longo, 5, SEEN_DELIVERED, 1000);
    cr_expect_eq(s_get(longo, 5, 1000), SEEN_UNKNOWN);
    seen_put(&s, NULL, 0, 5, SEEN_DELIVERED, 1000);
    cr_expect_eq(seen_get(&s, NULL, 0, 5, 1000), SEEN_UNKNOWN);
}

Test(seen, free_is_idempotent, .init = NULL, .fini = NULL)
{
    seen_t z;
    memset(&z, 0, sizeof z);
    seen_free(&z);
    seen_put(&z, A, 16, 1, SEEN_DELIVERED, 0);
    seen_free(&z);
    seen_free(&z);
    cr_expect_null(z.slot[0]);
}
