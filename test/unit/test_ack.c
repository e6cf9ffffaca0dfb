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
