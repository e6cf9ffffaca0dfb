/* test_theap — the deadline heap (daemon/theap.c): order, moves both ways,
 * removal anywhere, due-only pops, and a long random run against a plain
 * array, with the heap property and every node's pos checked after each
 * step. Run: make build/test/test_theap && build/test/test_theap */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "theap.h"

/* The heap property and the back-pointers, everywhere. */
static void
s_check(const theap_t *h)
{
    for (uint32_t i = 0; i < h->n; i++) {
        cr_assert_eq(h->v[i]->pos, i + 1, "node %u has pos %u", i, h->v[i]->pos);
        if (i > 0)
            cr_assert_leq(h->v[(i - 1) / 2]->at, h->v[i]->at, "heap order broken at %u", i);
    }
}

Test(theap, empty)
{
    theap_t h;
    theap_init(&h);
    cr_assert_null(theap_min(&h));
    cr_assert_null(theap_pop_due(&h, INT64_MAX));
    theap_node_t x = { 0, 0 };
    theap_remove(&h, &x);                   /* not in: a no-op */
    cr_assert_eq(theap_count(&h), 0);
    theap_fini(&h);
}

Test(theap, pops_in_deadline_order_and_only_when_due)
{
    theap_t h;
    theap_init(&h);
    theap_node_t n[8] = { { 0, 0 } };
    int64_t at[8] = { 50, 10, 40, 10, 70, 0, 30, 60 };
    for (int i = 0; i < 8; i++) {
        cr_assert_eq(theap_set(&h, &n[i], at[i]), 0);
        cr_assert(theap_has(&n[i]));
        s_check(&h);
    }
    cr_assert_eq(theap_min(&h)->at, 0);
    cr_assert_null(theap_pop_due(&h, -1), "nothing is due before 0");
    int64_t last = -1;
    int popped = 0;
    theap_node_t *x;
    while ((x = theap_pop_due(&h, 45))) {
        cr_assert_geq(x->at, last);
        cr_assert_leq(x->at, 45);
        cr_assert_not(theap_has(x));
        last = x->at;
        popped++;
        s_check(&h);
    }
    cr_assert_eq(popped, 5);                /* 0 10 10 30 40 */
    cr_assert_eq(theap_count(&h), 3);
    cr_assert_eq(theap_min(&h)->at, 50);
    theap_fini(&h);
}

Test(theap, set_moves_a_node_up_and_down)
{
    theap_t h;
    theap_init(&h);
    theap_node_t n[5] = { { 0, 0 } };
    for (int i = 0; i < 5; i++)
        theap_set(&h, &n[i], 100 + 10 * i);
    theap_set(&h, &n[4], 1);                /* the latest becomes the first */
    s_check(&h);
    cr_assert_eq(theap_min(&h), &n[4]);
    theap_set(&h, &n[4], 1000);             /* and the last again */
    s_check(&h);
    cr_assert_eq(theap_min(&h), &n[0]);
    cr_assert_eq(theap_count(&h), 5, "a move adds nothing");
    theap_fini(&h);
}

Test(theap, remove_anywhere)
{
    theap_t h;
    theap_init(&h);
    theap_node_t n[16] = { { 0, 0 } };
    for (int i = 0; i < 16; i++)
        theap_set(&h, &n[i], (i * 7) % 16);
    theap_remove(&h, theap_min(&h));        /* the root */
    s_check(&h);
    theap_remove(&h, h.v[h.n - 1]);         /* the last slot */
    s_check(&h);
    theap_remove(&h, h.v[3]);               /* the middle */
    s_check(&h);
    theap_remove(&h, h.v[3]);
    s_check(&h);
    cr_assert_eq(theap_count(&h), 12);
    int left = 0;
    for (int i = 0; i < 16; i++)
        left += theap_has(&n[i]);
    cr_assert_eq(left, 12);
    theap_fini(&h);
}

Test(theap, reserve_makes_room)
{
    theap_t h;
    theap_init(&h);
    cr_assert_eq(theap_reserve(&h, 1000), 0);
    cr_assert_geq(h.cap, 1000);
    cr_assert_eq(theap_reserve(&h, 10), 0, "shrinking is never asked for");
    cr_assert_geq(h.cap, 1000);
    theap_fini(&h);
}

/* 20,000 random adds, moves, removes and due pops; the reference is the
 * array of deadlines of the nodes that are in. */
Test(theap, random_against_a_plain_array)
{
    enum { N = 300 };
    theap_t h;
    theap_node_t n[N];
    int in[N] = { 0 };
    theap_init(&h);
    for (int i = 0; i < N; i++)
        n[i] = (theap_node_t){ 0, 0 };
    srand(17);
    int64_t now = 0;
    for (int step = 0; step < 20000; step++) {
        int i = rand() % N, op = rand() % 4;
        if (op <= 1) {
            cr_assert_eq(theap_set(&h, &n[i], now + rand() % 1000), 0);
            in[i] = 1;
        } else if (op == 2) {
            theap_remove(&h, &n[i]);
            in[i] = 0;
        } else {
            now += rand() % 20;
            int64_t min = INT64_MAX;
            for (int j = 0; j < N; j++)
                if (in[j] && n[j].at < min)
                    min = n[j].at;
            theap_node_t *x = theap_pop_due(&h, now);
            if (min <= now) {
                cr_assert_not_null(x);
                cr_assert_eq(x->at, min);
                in[x - n] = 0;
            } else {
                cr_assert_null(x);
            }
        }
        size_t count = 0;
        for (int j = 0; j < N; j++) {
            count += (size_t)in[j];
            cr_assert_eq(theap_has(&n[j]), in[j]);
        }
        cr_assert_eq(theap_count(&h), count);
        s_check(&h);
    }
    theap_fini(&h);
}
