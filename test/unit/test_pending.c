/* test_pending — daemon/pending.c: the worker's table of outstanding
 * requests, a ring indexed by request number. add/find/done, growth past the
 * initial 1024 slots with every entry still found, wrap-around, expiry of the
 * head in order, parked requests passed by, kept copies, and stale or
 * unknown numbers.
 * Run: make build/test/test_pending && build/test/test_pending */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "pending.h"

static pending_t *p;

static void
s_init(void)
{
    p = pending_new();
    cr_assert_not_null(p);
}

static void
s_fini(void)
{
    pending_destroy(&p);
    cr_expect_null(p);
}

TestSuite(pending, .init = s_init, .fini = s_fini);

/* Fill a request with data derived from its number, to check it later. */
static void
s_stamp(pq_t *q)
{
    q->fd = (int)(q->req * 3 % 100000);
    q->gen = (uint32_t)(q->req * 7);
    snprintf(q->id, sizeof q->id, "id-%llu", (unsigned long long)q->req);
    snprintf(q->mid, sizeof q->mid, "mid-%llu", (unsigned long long)q->req);
}

static void
s_check(uint64_t req)
{
    pq_t *q = pending_find(p, req);
    cr_assert_not_null(q, "req %llu not found", (unsigned long long)req);
    cr_assert_eq(q->req, req);
    cr_assert_eq(q->fd, (int)(req * 3 % 100000), "fd of %llu", (unsigned long long)req);
    cr_assert_eq(q->gen, (uint32_t)(req * 7));
    char want[80];
    snprintf(want, sizeof want, "id-%llu", (unsigned long long)req);
    cr_assert_str_eq(q->id, want);
    snprintf(want, sizeof want, "mid-%llu", (unsigned long long)req);
    cr_assert_str_eq(q->mid, want);
}

Test(pending, add_sets_fields)
{
    pq_t *q = pending_add(p, PQ_CHAT, 1234);
    cr_assert_not_null(q);
    cr_expect_eq(q->req, 1, "numbers start at 1 (0 means none)");
    cr_expect_eq(q->kind, PQ_CHAT);
    cr_expect_eq(q->deadline, 1234);
    cr_expect_eq(q->fd, -1);
    cr_expect_eq(q->gen, 0);
    cr_expect_str_eq(q->id, "");
    cr_expect_str_eq(q->mid, "");
    pq_t *q2 = pending_add(p, PQ_API_PRESENCE, 99);
    cr_assert_not_null(q2);
    cr_expect_eq(q2->req, 2);
    cr_expect_eq(q2->kind, PQ_API_PRESENCE);
}

Test(pending, find_and_done)
{
    pq_t *a = pending_add(p, PQ_CHAT, 0);
    pq_t *b = pending_add(p, PQ_PRESENCE, 0);
    pq_t *c = pending_add(p, PQ_ONLINE, 0);
    uint64_t ra = a->req, rb = b->req, rc = c->req;
    cr_expect_eq(pending_find(p, ra), a);
    cr_expect_eq(pending_find(p, rb), b);
    cr_expect_eq(pending_find(p, rc), c);
    cr_expect_null(pending_find(p, 0), "0 is never a request");
    cr_expect_null(pending_find(p, rc + 1), "not yet issued");
    cr_expect_null(pending_find(p, UINT64_MAX));

    pending_done(p, b);                 /* out of order: the middle one */
    cr_expect_null(pending_find(p, rb), "done");
    cr_expect_eq(pending_find(p, ra), a);
    cr_expect_eq(pending_find(p, rc), c);
    pending_done(p, a);
    cr_expect_null(pending_find(p, ra));
    cr_expect_null(pending_find(p, rb));
    cr_expect_eq(pending_find(p, rc), c);
    pending_done(p, c);
    cr_expect_null(pending_find(p, rc));
    pq_t *d = pending_add(p, PQ_CHAT, 0);
    cr_expect_eq(d->req, rc + 1, "numbers keep growing after done");
    cr_expect_null(pending_find(p, rc));
}

Test(pending, growth_past_1024)
{
    const uint64_t n = 5000;
    for (uint64_t i = 1; i <= n; i++) {
        pq_t *q = pending_add(p, PQ_CHAT, (int64_t)i);
        cr_assert_not_null(q);
        cr_assert_eq(q->req, i);
        s_stamp(q);
    }
    for (uint64_t i = 1; i <= n; i++)
        s_check(i);
    cr_expect_null(pending_find(p, n + 1));
    /* done every other one, the rest are still found */
    for (uint64_t i = 1; i <= n; i += 2)
        pending_done(p, pending_find(p, i));
    for (uint64_t i = 1; i <= n; i++) {
        if (i % 2)
            cr_assert_null(pending_find(p, i), "req %llu was done", (unsigned long long)i);
        else
            s_check(i);
    }
}

Test(pending, growth_while_wrapped)
{
    /* move base off 1 so the live range wraps the ring, then grow */
    for (int i = 0; i < 1000; i++)
        s_stamp(pending_add(p, PQ_CHAT, 0));
    for (uint64_t r = 1; r <= 700; r++)
        pending_done(p, pending_find(p, r));
    /* 300 live (701..1000); 2000 more wraps past slot 0 and forces growth */
    for (int i = 0; i < 2000; i++)
        s_stamp(pending_add(p, PQ_CHAT, 0));
    for (uint64_t r = 1; r <= 700; r++)
        cr_assert_null(pending_find(p, r));
    for (uint64_t r = 701; r <= 3000; r++)
        s_check(r);
    /* exactly full at a power of two, then one more */
    for (uint64_t r = 701; r <= 3000; r++)
        pending_done(p, pending_find(p, r));
    for (int i = 0; i < 4096 + 1; i++)
        s_stamp(pending_add(p, PQ_CHAT, 0));
    for (uint64_t r = 3001; r <= 3000 + 4097; r++)
        s_check(r);
}

Test(pending, old_head_with_long_churn)
{
    /* one request stays outstanding while thousands come and go: its slot
     * must not be reused and stale numbers must stay unknown */
    pq_t *head = pending_add(p, PQ_API_ONLINE, 0);
    s_stamp(head);
    for (int i = 0; i < 10000; i++) {
        pq_t *q = pending_add(p, PQ_CHAT, 0);
        cr_assert_not_null(q);
        uint64_t r = q->req;
        s_stamp(q);
        pending_done(p, q);
        cr_assert_null(pending_find(p, r));
    }
    s_check(1);
    for (uint64_t r = 2; r <= 10001; r++)
        cr_assert_null(pending_find(p, r));
}

Test(pending, steady_state_churn)
{
    /* a window of 50 outstanding requests sliding over 20000 numbers */
    for (uint64_t r = 1; r <= 20000; r++) {
        pq_t *q = pending_add(p, PQ_CHAT, 0);
        cr_assert_eq(q->req, r);
        s_stamp(q);
        if (r > 50) {
            pq_t *old = pending_find(p, r - 50);
            cr_assert_not_null(old);
            pending_done(p, old);
        }
    }
    for (uint64_t r = 1; r <= 19950; r++)
        cr_assert_null(pending_find(p, r));
    for (uint64_t r = 19951; r <= 20000; r++)
        s_check(r);
}

Test(pending, expiry_in_order)
{
    pq_t *a = pending_add(p, PQ_CHAT, 100);
    pq_t *b = pending_add(p, PQ_CHAT, 200);
    pq_t *c = pending_add(p, PQ_PRESENCE, 300);
    uint64_t ra = a->req, rb = b->req, rc = c->req;
    cr_expect_null(pending_expired(p, 99));
    pq_t *q = pending_expired(p, 100);
    cr_assert_not_null(q, "deadline reached at == now");
    cr_expect_eq(q->req, ra);
    cr_expect_eq(pending_expired(p, 100), q, "still the head until done");
    pending_done(p, q);
    cr_expect_null(pending_expired(p, 199));
    q = pending_expired(p, 1000);
    cr_assert_not_null(q);
    cr_expect_eq(q->req, rb);
    pending_done(p, q);
    q = pending_expired(p, 1000);
    cr_assert_not_null(q);
    cr_expect_eq(q->req, rc);
    cr_expect_eq(q->kind, PQ_PRESENCE);
    pending_done(p, q);
    cr_expect_null(pending_expired(p, INT64_MAX), "empty");
}

Test(pending, expiry_skips_done_and_waits_for_head)
{
    pq_t *a = pending_add(p, PQ_CHAT, 100);
    pq_t *b = pending_add(p, PQ_CHAT, 50);      /* earlier deadline behind the head */
    pq_t *c = pending_add(p, PQ_CHAT, 60);
    uint64_t rb = b->req, rc = c->req;
    (void)a;
    cr_expect_null(pending_expired(p, 70), "only the head is checked (pending.c)");
    pending_done(p, b);
    pending_done(p, pending_find(p, 1));        /* head done: c is the new head */
    pq_t *q = pending_expired(p, 70);
    cr_assert_not_null(q);
    cr_expect_eq(q->req, rc);
    cr_expect_null(pending_find(p, rb));
    pending_done(p, q);
    cr_expect_null(pending_expired(p, 1000));
}

Test(pending, drain_all_expired_in_order)
{
    for (int i = 0; i < 3000; i++)
        pending_add(p, PQ_CHAT, 1000 + i);
    uint64_t want = 1;
    pq_t *q;
    while ((q = pending_expired(p, 1000 + 1999))) {
        cr_assert_eq(q->req, want++);
        pending_done(p, q);
    }
    cr_expect_eq(want, 2001, "2000 expired");
    q = pending_find(p, 2001);
    cr_assert_not_null(q);
    cr_expect_eq(q->deadline, 3000);
}

Test(pending, parked_requests_are_passed_by)
{
    pq_t *a = pending_add(p, PQ_CHAT, 100);
    uint64_t ra = a->req;
    pq_t *b = pending_add(p, PQ_CHAT, 110);
    uint64_t rb = b->req;
    pq_t *q = pending_expired(p, 100);
    cr_assert_eq(q->req, ra);
    pending_park(p, q, 500);                    /* waits for its copy's answer */
    q = pending_expired(p, 100);
    cr_expect_null(q, "a parked head does not make b due early");
    q = pending_expired(p, 110);
    cr_assert_not_null(q, "nor does it hold b back");
    cr_expect_eq(q->req, rb);
    pending_done(p, q);
    cr_expect_null(pending_expired(p, 499));
    q = pending_expired(p, 500);
    cr_assert_not_null(q, "due again at its new deadline");
    cr_expect_eq(q->req, ra);
    pending_done(p, q);
    cr_expect_null(pending_expired(p, INT64_MAX));
}

Test(pending, one_turn_drains_around_parked_ones)
{
    /* every other request gets parked as it expires, all in one `now` */
    for (int i = 0; i < 3000; i++)
        pending_add(p, PQ_CHAT, 1000 + i);
    int done = 0, parked = 0;
    pq_t *q;
    while ((q = pending_expired(p, 5000))) {
        if (q->parked) {
            cr_assert_fail("a parked request came back before its deadline");
        } else if (q->req % 2) {
            pending_park(p, q, 9000);
            parked++;
        } else {
            pending_done(p, q);
            done++;
        }
    }
    cr_expect_eq(done, 1500);
    cr_expect_eq(parked, 1500);
    int again = 0;
    while ((q = pending_expired(p, 9000))) {
        cr_assert(q->parked && q->req % 2);
        pending_done(p, q);
        again++;
    }
    cr_expect_eq(again, 1500);
}

Test(pending, an_unparked_request_not_due_stops_the_scan)
{
    pq_t *a = pending_add(p, PQ_CHAT, 100);
    pending_park(p, a, 1000);
    pending_add(p, PQ_CHAT, 300);               /* not due at 200 */
    pending_add(p, PQ_CHAT, 150);               /* earlier, behind it */
    cr_expect_null(pending_expired(p, 200), "waits for the one in front, as before");
    cr_expect_eq(pending_expired(p, 300)->req, 2);
}

Test(pending, kept_bytes_go_with_the_request)
{
    pq_t *q = pending_add(p, PQ_CHAT, 100);
    char *k = pending_keep(p, q, 5);
    cr_assert_not_null(k);
    memcpy(k, "hello", 5);
    cr_expect_eq(q->kept, k);
    cr_expect_eq(q->kept_len, 5);
    cr_expect_null(pending_keep(p, q, 3), "one copy per request");
    cr_expect_eq(pending_kept(p), 5);
    pq_t *r = pending_add(p, PQ_CHAT, 100);     /* may move the table */
    q = pending_find(p, 1);
    cr_expect_eq(memcmp(q->kept, "hello", 5), 0, "kept across a move");
    cr_expect_null(r->kept);
    pending_done(p, q);
    cr_expect_eq(pending_kept(p), 0);
    /* at most PENDING_KEEP_MAX in all */
    cr_expect_null(pending_keep(p, r, PENDING_KEEP_MAX + 1));
    cr_expect_null(r->kept);
    cr_expect_not_null(pending_keep(p, r, PENDING_KEEP_MAX));
    pq_t *s3 = pending_add(p, PQ_CHAT, 100);
    cr_expect_null(pending_keep(p, s3, 1), "full");
    /* the rest is freed by pending_destroy (s_fini): no leak under ASan */
}

Test(pending, a_later_delivered_chat_of_the_same_session_is_found)
{
    pq_t *m1 = pending_add(p, PQ_CHAT, 100);
    m1->fd = 7;
    m1->gen = 3;
    m1->to_hash = pending_hash("bob", 3);
    uint64_t r1 = m1->req;
    pq_t *other = pending_add(p, PQ_CHAT, 100);     /* another session */
    other->fd = 8;
    other->to_hash = pending_hash("bob", 3);
    other->gen = 3;
    other->ack.verdict = ACK_DELIVERED;
    pending_done(p, other);
    pq_t *query = pending_add(p, PQ_PRESENCE, 100); /* same session, not a chat */
    query->fd = 7;
    query->to_hash = pending_hash("bob", 3);
    query->gen = 3;
    pending_done(p, query);
    pq_t *old = pending_add(p, PQ_CHAT, 100);       /* same fd, an earlier conn */
    old->fd = 7;
    old->to_hash = pending_hash("bob", 3);
    old->gen = 2;
    old->ack.verdict = ACK_DELIVERED;
    pending_done(p, old);
    pq_t *lost = pending_add(p, PQ_CHAT, 100);      /* same session, unavailable */
    lost->fd = 7;
    lost->to_hash = pending_hash("bob", 3);
    lost->gen = 3;
    lost->ack.verdict = ACK_UNAVAILABLE;
    pending_done(p, lost);
    pq_t *self = pending_add(p, PQ_CHAT, 100);      /* same session, another receiver */
    self->fd = 7;
    self->gen = 3;
    self->to_hash = pending_hash("alice", 5);
    self->ack.verdict = ACK_DELIVERED;
    pending_done(p, self);
    pq_t *open = pending_add(p, PQ_CHAT, 100);      /* same session, still waiting */
    open->fd = 7;
    open->to_hash = pending_hash("bob", 3);
    open->gen = 3;
    m1 = pending_find(p, r1);
    cr_expect(!pending_later_delivered(p, m1), "nothing later of this session delivered");
    open->ack.verdict = ACK_DELIVERED;
    cr_expect(!pending_later_delivered(p, m1), "decided but not done yet: not counted");
    pending_done(p, open);
    cr_expect(pending_later_delivered(p, m1), "done, delivered: the copy would overtake it");
    pq_t *n = pending_add(p, PQ_CHAT, 100);
    cr_expect(!pending_later_delivered(p, n), "nothing after the newest");
}

Test(pending, destroy_null_safe, .init = NULL, .fini = NULL)
{
    pending_t *n = NULL;
    pending_destroy(&n);
    pending_destroy(NULL);
    pending_t *x = pending_new();
    cr_assert_not_null(x);
    for (int i = 0; i < 3000; i++)
        pending_add(x, PQ_CHAT, 0);     /* grown, then destroyed: no leak */
    pending_destroy(&x);
    cr_expect_null(x);
}
