/* test_ack — daemon/ack.c: the link's liveness and routing proofs, and the
 * verdict of one chat's ack, fed one event at a time; daemon/transit.c:
 * lateness against each origin's fastest recent transit.
 * Run: make build/test/test_ack && build/test/test_ack */
#include <criterion/criterion.h>
#include <stdint.h>
#include <string.h>

#include "ack.h"
#include "transit.h"

/* A link whose probes returned every 100 ms up to `now`, the newest being
 * publish number `seq`. */
static ack_link_t
s_link_up(int64_t now, uint64_t seq)
{
    ack_link_t l = { 0 };
    for (int64_t t = now - 1000; t <= now; t += 100)
        ack_link_probe_back(&l, seq, t);
    return l;
}

Test(ack, link_down_until_a_probe_returns)
{
    ack_link_t l = { 0 };
    cr_expect(!ack_link_up(&l, 1000));
    cr_expect(!ack_link_ever_up(&l));
    ack_link_probe_back(&l, 5, 1000);
    cr_expect(ack_link_up(&l, 1000));
    cr_expect(ack_link_up(&l, 2000));
    cr_expect(!ack_link_up(&l, 2001), "no return for over a second: down");
}

Test(ack, routed_needs_a_later_probe)
{
    ack_link_t l = s_link_up(10000, 10);
    cr_expect(!ack_link_routed(&l, 10, 9000, 10000), "the probe is not later than the chat");
    ack_link_probe_back(&l, 11, 10050);
    cr_expect(ack_link_routed(&l, 10, 9000, 10050));
}

Test(ack, gap_in_returns_is_a_disturbance)
{
    ack_link_t l = s_link_up(10000, 10);
    ack_link_probe_back(&l, 20, 10400);         /* 400 ms silence */
    cr_expect(!ack_link_routed(&l, 15, 10100, 10400), "sent before the gap ended");
    ack_link_probe_back(&l, 30, 10500);
    cr_expect(ack_link_routed(&l, 25, 10450, 10500), "sent after the gap");
    cr_expect(!ack_link_calm(&l, 10500, 1000));
    cr_expect(ack_link_calm(&l, 10500, 100));
}

Test(ack, hello_is_a_disturbance)
{
    ack_link_t l = s_link_up(10000, 10);
    ack_link_hello(&l, 10010);
    ack_link_probe_back(&l, 12, 10050);
    cr_expect(!ack_link_routed(&l, 11, 10005, 10050));
    cr_expect(ack_link_routed(&l, 11, 10020, 10050));
}

Test(ack, routed_false_once_returns_stop)
{
    ack_link_t l = s_link_up(10000, 10);
    cr_expect(ack_link_routed(&l, 5, 9000, 10200));
    cr_expect(!ack_link_routed(&l, 5, 9000, 10300), "no return for 300 ms");
}

Test(ack, delivered_decides_at_once)
{
    ack_t a;
    ack_init(&a, 10, 1000, 1900);
    cr_expect_eq(ack_receipt(&a, ACK_RCPT_DELIVERED), ACK_DELIVERED);
    cr_expect_eq(ack_receipt(&a, ACK_RCPT_OFFLINE), ACK_PENDING, "decided once");
    ack_link_t l = s_link_up(2000, 20);
    cr_expect_eq(ack_tick(&a, &l, 2000), ACK_PENDING);
}

Test(ack, broker_offline_and_unavailable_decide)
{
    ack_t a, b;
    ack_init(&a, 10, 1000, 1900);
    ack_init(&b, 11, 1000, 1900);
    cr_expect_eq(ack_receipt(&a, ACK_RCPT_OFFLINE), ACK_OFFLINE);
    cr_expect_eq(ack_receipt(&b, ACK_RCPT_UNAVAILABLE), ACK_UNAVAILABLE);
}

Test(ack, nosession_waits_for_another_worker)
{
    ack_t a;
    ack_init(&a, 10, 1000, 1900);
    cr_expect_eq(ack_receipt(&a, ACK_RCPT_NOSESSION), ACK_PENDING);
    cr_expect_eq(ack_receipt(&a, ACK_RCPT_DELIVERED), ACK_DELIVERED,
                 "a second worker delivered: delivered wins");
}

Test(ack, nosession_then_deadline_is_offline_over_a_proven_link)
{
    ack_t a;
    ack_init(&a, 10, 1000, 1900);
    ack_receipt(&a, ACK_RCPT_NOSESSION);
    ack_link_t l = s_link_up(1900, 20);
    cr_expect_eq(ack_tick(&a, &l, 1899), ACK_PENDING, "before the deadline");
    cr_expect_eq(ack_tick(&a, &l, 1900), ACK_OFFLINE);
}

Test(ack, nosession_over_a_disturbed_link_is_unavailable)
{
    ack_t a;
    ack_init(&a, 10, 1000, 1900);
    ack_receipt(&a, ACK_RCPT_NOSESSION);
    ack_link_t l = s_link_up(1900, 20);
    ack_link_hello(&l, 1500);
    cr_expect_eq(ack_tick(&a, &l, 1900), ACK_UNAVAILABLE);
}

Test(ack, silence_is_never_offline)
{
    ack_t a;
    ack_init(&a, 10, 1000, 1900);
    ack_link_t l = s_link_up(1900, 20);
    cr_expect_eq(ack_tick(&a, &l, 1900), ACK_UNAVAILABLE,
                 "a subscriber got it and never answered: not offline");
}

/* ---- the copy: no receipt ACK_RETRY_MS after the send ------------------ */

/* Probes keep returning every 100 ms after from, up to to. */
static void
s_returns(ack_link_t *l, int64_t from, int64_t to, uint64_t seq)
{
    for (int64_t t = from + 100; t <= to; t += 100)
        ack_link_probe_back(l, seq, t);
}

/* A chat sent at 1000 as publish number 10, answered by 1900, with a copy kept. */
static ack_t
s_copyable(void)
{
    ack_t a;
    ack_init(&a, 10, 1000, 1900);
    ack_copyable(&a);
    return a;
}

Test(ack, link_reproven_once_a_probe_returns_after_the_disturbance)
{
    ack_link_t l = s_link_up(10000, 10);
    cr_expect(ack_link_reproven(&l, 10000), "never disturbed");
    ack_link_hello(&l, 10010);
    cr_expect(!ack_link_reproven(&l, 10010), "the hello came after the last return");
    ack_link_probe_back(&l, 11, 10010);
    cr_expect(!ack_link_reproven(&l, 10010), "same millisecond: cannot tell which was first");
    ack_link_probe_back(&l, 12, 10060);
    cr_expect(ack_link_reproven(&l, 10060));
    cr_expect(!ack_link_reproven(&l, 10400), "then probes stopped returning");
    /* a gap is a disturbance seen at the first return after it */
    ack_link_probe_back(&l, 20, 10500);
    cr_expect(!ack_link_reproven(&l, 10500));
    ack_link_probe_back(&l, 21, 10600);
    cr_expect(ack_link_reproven(&l, 10600));
}

Test(ack, no_copy_without_one_kept)
{
    ack_t a;
    ack_init(&a, 10, 1000, 1900);
    ack_link_t l = s_link_up(1300, 20);
    cr_expect_eq(ack_tick(&a, &l, 1300), ACK_PENDING);
    cr_expect_eq(ack_wake(&a, 1300), 1900, "nothing to do before the deadline");
}

Test(ack, copy_due_after_retry_ms_once)
{
    ack_t a = s_copyable();
    cr_expect_eq(ack_wake(&a, 1000), 1000 + ACK_RETRY_MS);
    ack_link_t l = s_link_up(1000 + ACK_RETRY_MS, 20);
    cr_expect_eq(ack_tick(&a, &l, 1000 + ACK_RETRY_MS - 1), ACK_PENDING, "not yet");
    cr_expect_eq(ack_tick(&a, &l, 1000 + ACK_RETRY_MS), ACK_RETRY);
    cr_expect_eq(ack_tick(&a, &l, 1000 + ACK_RETRY_MS + 1), ACK_PENDING, "one copy");
    cr_expect_eq(ack_wake(&a, 1000 + ACK_RETRY_MS), 1900, "then the deadline");
}

Test(ack, a_receipt_before_the_copy_decides_as_before)
{
    ack_t a = s_copyable(), b = s_copyable(), c = s_copyable();
    cr_expect_eq(ack_receipt(&a, ACK_RCPT_DELIVERED), ACK_DELIVERED);
    cr_expect_eq(ack_receipt(&b, ACK_RCPT_OFFLINE), ACK_OFFLINE);
    cr_expect_eq(ack_receipt(&c, ACK_RCPT_UNAVAILABLE), ACK_UNAVAILABLE);
    ack_link_t l = s_link_up(1300, 20);
    cr_expect_eq(ack_tick(&a, &l, 1300), ACK_PENDING, "decided: no copy");
    cr_expect_eq(ack_wake(&a, 1300), INT64_MAX);
}

Test(ack, copy_waits_for_the_link_proven_again)
{
    ack_t a = s_copyable();
    ack_link_t l = s_link_up(1200, 20);
    ack_link_hello(&l, 1250);                   /* the broker came back */
    cr_expect_eq(ack_tick(&a, &l, 1300), ACK_PENDING, "no probe back since the hello");
    cr_expect_eq(ack_wake(&a, 1300), 1300 + ACK_RECHECK_MS, "look again soon");
    ack_link_probe_back(&l, 21, 1340);
    cr_expect_eq(ack_tick(&a, &l, 1340), ACK_RETRY);
}

Test(ack, no_copy_after_retry_last)
{
    ack_t a = s_copyable();
    ack_link_t l = s_link_up(1200, 20);
    ack_link_hello(&l, 1250);
    int64_t late = 1000 + ACK_RETRY_LAST_MS + 1;
    ack_link_probe_back(&l, 21, late);
    cr_expect_eq(ack_tick(&a, &l, late), ACK_PENDING, "too late for a copy to be answered");
    cr_expect_eq(ack_wake(&a, late), 1900);
    cr_expect_eq(ack_tick(&a, &l, 1900), ACK_UNAVAILABLE, "disturbed: silence stays unavailable");
}

Test(ack, copy_delivered)
{
    ack_t a = s_copyable();
    ack_link_t l = s_link_up(1300, 20);
    cr_assert_eq(ack_tick(&a, &l, 1300), ACK_RETRY);
    cr_expect_eq(ack_receipt(&a, ACK_RCPT_DELIVERED), ACK_DELIVERED,
                 "the first's worker answered again, or a new session got it");
}

Test(ack, copy_offline_over_a_calm_link_is_offline_at_the_deadline)
{
    /* the receiver's worker was killed with the chat: nobody holds it now */
    ack_t a = s_copyable();
    ack_link_t l = s_link_up(1300, 20);
    cr_assert_eq(ack_tick(&a, &l, 1300), ACK_RETRY);
    cr_expect_eq(ack_receipt(&a, ACK_RCPT_OFFLINE), ACK_PENDING,
                 "a late delivered may still come: wait");
    s_returns(&l, 1300, 1900, 30);
    cr_expect_eq(ack_tick(&a, &l, 1899), ACK_PENDING);
    cr_expect_eq(ack_tick(&a, &l, 1900), ACK_OFFLINE);
}

Test(ack, copy_offline_then_a_late_delivered_wins)
{
    ack_t a = s_copyable();
    ack_link_t l = s_link_up(1300, 20);
    cr_assert_eq(ack_tick(&a, &l, 1300), ACK_RETRY);
    ack_receipt(&a, ACK_RCPT_OFFLINE);
    cr_expect_eq(ack_receipt(&a, ACK_RCPT_DELIVERED), ACK_DELIVERED);
}

Test(ack, copy_offline_after_a_disturbance_is_unavailable)
{
    /* the broker died with the first's receipt: the first may have reached a
     * session since closed; offline could be a lie */
    ack_t a = s_copyable();
    ack_link_t l = s_link_up(1000, 10);
    ack_link_hello(&l, 1010);
    ack_link_probe_back(&l, 20, 1250);
    ack_link_probe_back(&l, 21, 1300);
    cr_assert_eq(ack_tick(&a, &l, 1300), ACK_RETRY);
    cr_expect_eq(ack_receipt(&a, ACK_RCPT_OFFLINE), ACK_PENDING);
    s_returns(&l, 1300, 1900, 30);
    cr_expect_eq(ack_tick(&a, &l, 1900), ACK_UNAVAILABLE);
}

Test(ack, copy_nosession_over_a_calm_link_is_offline)
{
    /* the receiver is logging in again elsewhere: subscribed, not welcomed */
    ack_t a = s_copyable();
    ack_link_t l = s_link_up(1300, 20);
    cr_assert_eq(ack_tick(&a, &l, 1300), ACK_RETRY);
    cr_expect_eq(ack_receipt(&a, ACK_RCPT_NOSESSION), ACK_PENDING);
    s_returns(&l, 1300, 1900, 30);
    cr_expect_eq(ack_tick(&a, &l, 1900), ACK_OFFLINE);
}

Test(ack, copy_unavailable_from_a_warming_broker_waits)
{
    ack_t a = s_copyable();
    ack_link_t l = s_link_up(1300, 20);
    cr_assert_eq(ack_tick(&a, &l, 1300), ACK_RETRY);
    cr_expect_eq(ack_receipt(&a, ACK_RCPT_UNAVAILABLE), ACK_PENDING,
                 "the copy was not forwarded; the first may still be answered");
    cr_expect_eq(ack_receipt(&a, ACK_RCPT_DELIVERED), ACK_DELIVERED);
}

Test(ack, copy_unanswered_is_unavailable)
{
    /* the broker still forwards to the dead worker, or the copy was lost */
    ack_t a = s_copyable();
    ack_link_t l = s_link_up(1300, 20);
    cr_assert_eq(ack_tick(&a, &l, 1300), ACK_RETRY);
    s_returns(&l, 1300, 1900, 30);
    cr_expect_eq(ack_tick(&a, &l, 1900), ACK_UNAVAILABLE, "calm, yet nobody answered");
}

Test(ack, a_second_copy_when_the_first_found_no_session)
{
    /* the receiver's worker was killed; he is logging in again */
    ack_t a = s_copyable();
    ack_link_t l = s_link_up(1300, 20);
    cr_assert_eq(ack_tick(&a, &l, 1300), ACK_RETRY);
    cr_expect_eq(ack_receipt(&a, ACK_RCPT_OFFLINE), ACK_PENDING);
    cr_expect_eq(ack_wake(&a, 1310), 1000 + ACK_RETRY2_MS, "the second copy's time");
    s_returns(&l, 1300, 1000 + ACK_RETRY2_MS, 30);
    cr_expect_eq(ack_tick(&a, &l, 1000 + ACK_RETRY2_MS - 1), ACK_PENDING);
    cr_expect_eq(ack_tick(&a, &l, 1000 + ACK_RETRY2_MS), ACK_RETRY);
    cr_expect_eq(ack_wake(&a, 1000 + ACK_RETRY2_MS), 1900, "no third");
    cr_expect_eq(ack_receipt(&a, ACK_RCPT_DELIVERED), ACK_DELIVERED, "back in time");
}

Test(ack, the_second_copy_also_finds_none_then_offline)
{
    ack_t a = s_copyable();
    ack_link_t l = s_link_up(1300, 20);
    cr_assert_eq(ack_tick(&a, &l, 1300), ACK_RETRY);
    ack_receipt(&a, ACK_RCPT_NOSESSION);
    s_returns(&l, 1300, 1000 + ACK_RETRY2_MS, 30);
    cr_assert_eq(ack_tick(&a, &l, 1000 + ACK_RETRY2_MS), ACK_RETRY);
    ack_receipt(&a, ACK_RCPT_OFFLINE);
    s_returns(&l, 1000 + ACK_RETRY2_MS, 1900, 40);
    cr_expect_eq(ack_tick(&a, &l, 1900), ACK_OFFLINE);
}

Test(ack, no_second_copy_after_silence)
{
    /* the first copy drew nothing: the broker still forwards to a dead
     * worker, or the copy was lost; sending more cannot settle it */
    ack_t a = s_copyable();
    ack_link_t l = s_link_up(1300, 20);
    cr_assert_eq(ack_tick(&a, &l, 1300), ACK_RETRY);
    s_returns(&l, 1300, 1000 + ACK_RETRY2_MS, 30);
    cr_expect_eq(ack_tick(&a, &l, 1000 + ACK_RETRY2_MS), ACK_PENDING);
    cr_expect_eq(ack_wake(&a, 1000 + ACK_RETRY2_MS), 1900);
}

Test(ack, wake_while_waiting_stops_at_retry_last)
{
    ack_t a = s_copyable();
    int64_t t = 1000 + ACK_RETRY_LAST_MS - 5;
    cr_expect_eq(ack_wake(&a, t), t + ACK_RECHECK_MS, "one last look");
    cr_expect_eq(ack_wake(&a, 1000 + ACK_RETRY_LAST_MS), 1900, "then only the deadline");
    ack_init(&a, 10, 1000, 1200);
    ack_copyable(&a);
    cr_expect_eq(ack_wake(&a, 1000), 1200, "a deadline before the copy is due comes first");
}

Test(ack, names_round_trip)
{
    for (int r = ACK_RCPT_DELIVERED; r <= ACK_RCPT_UNAVAILABLE; r++) {
        ack_rcpt_t out;
        const char *n = ack_rcpt_name((ack_rcpt_t)r);
        cr_assert_eq(ack_rcpt_parse(n, (uint32_t)strlen(n), &out), 0, "%s", n);
        cr_expect_eq((int)out, r);
    }
    ack_rcpt_t out;
    cr_expect_eq(ack_rcpt_parse("deliver", 7, &out), -1);
    cr_expect_eq(ack_rcpt_parse(NULL, 0, &out), -1);
    cr_expect_str_eq(ack_verdict_name(ACK_OFFLINE), "offline");
    cr_expect_null(ack_verdict_name(ACK_PENDING));
}

Test(transit, late_against_the_fastest_recent)
{
    transit_t t;
    memset(&t, 0, sizeof t);
    /* the origin's clock runs 5 s ahead: raw delays are negative */
    cr_expect_eq(transit_late(&t, "aaaa", 4, 15000, 10000), 0, "first sample calibrates");
    cr_expect_eq(transit_late(&t, "aaaa", 4, 15100, 10103), 3);
    cr_expect_eq(transit_late(&t, "aaaa", 4, 15200, 11200), 1000, "held a second");
    cr_expect_eq(transit_late(&t, "bbbb", 4, 9000, 11200), 0, "another origin, its own base");
}

Test(transit, minimum_survives_one_window)
{
    transit_t t;
    memset(&t, 0, sizeof t);
    transit_late(&t, "o", 1, 1000, 1001);
    /* a stall: every sample of the next window is late */
    cr_expect_eq(transit_late(&t, "o", 1, 2000, 2001 + TRANSIT_WINDOW), TRANSIT_WINDOW);
    cr_expect_eq(transit_late(&t, "o", 1, 3000, 3501 + TRANSIT_WINDOW), TRANSIT_WINDOW + 500);
}

Test(transit, bad_origin_is_never_late)
{
    transit_t t;
    memset(&t, 0, sizeof t);
    cr_expect_eq(transit_late(&t, NULL, 0, 0, 100000), 0);
    cr_expect_eq(transit_late(&t, "0123456789abcdef0", 17, 0, 100000), 0, "too long");
}
