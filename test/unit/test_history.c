/* test_history — broker/history.c: numbering per stream, replay oldest first,
 * the recovered/missed verdicts of zwsd-protocol(7) "History and recovery",
 * the three bounds (size per stream, TTL, a global memory cap with oldest
 * first), epochs that change when a stream's record is dropped, the table
 * under many streams and drops, and the cost (bytes per message, ns per call:
 * printed; ZWSD_BENCH=1 for a bigger run).
 * Run: make build/test/test_history && build/test/test_history */
#include <criterion/criterion.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "history.h"

static hist_t *h;

static hist_t *
s_new(uint32_t size, int64_t ttl_ms, size_t cap)
{
    hist_cfg_t cfg;
    hist_cfg_default(&cfg);
    cfg.size = size;
    cfg.ttl_ms = ttl_ms;
    cfg.mem_cap = cap;
    cfg.seed[0] = 0x0123456789abcdefULL;
    cfg.seed[1] = 0xfedcba9876543210ULL;
    hist_t *n = hist_new(&cfg, "r7Kq2");
    cr_assert_not_null(n);
    return n;
}

static void
s_fini(void)
{
    hist_destroy(&h);
    cr_expect_null(h);
}

TestSuite(history, .fini = s_fini);

/* Append a text payload to a stream; return the seq. */
static uint64_t
s_add(const char *stream, const char *payload, int64_t now, hist_pos_t *pos)
{
    hist_pos_t p;
    cr_assert_eq(hist_append(h, stream, strlen(stream), payload, strlen(payload), now,
                             pos ? pos : &p), 0);
    return pos ? pos->seq : p.seq;
}

/* What a replay delivered. */
typedef struct {
    size_t   n, stop_after;
    uint64_t seq[256];
    char     text[256][128];
} got_t;

static int
s_collect(void *arg, uint64_t seq, const void *payload, size_t len)
{
    got_t *g = arg;
    cr_assert_lt(g->n, 256);
    cr_assert_lt(len, 128);
    g->seq[g->n] = seq;
    memcpy(g->text[g->n], payload, len);
    g->text[g->n][len] = '\0';
    g->n++;
    return g->stop_after && g->n >= g->stop_after;
}

static hist_result_t
s_since(const char *stream, const char *epoch, uint64_t after, int64_t now, got_t *g)
{
    hist_result_t r;
    memset(g, 0, sizeof *g);
    cr_assert_eq(hist_since(h, stream, strlen(stream), epoch, strlen(epoch), after, now,
                            s_collect, g, &r), 0);
    cr_expect_eq(r.replayed, g->n);
    return r;
}

static hist_pos_t
s_last(const char *stream)
{
    hist_pos_t p;
    cr_assert_eq(hist_last(h, stream, strlen(stream), &p), 0);
    return p;
}

Test(history, append_then_since_replays_oldest_first)
{
    h = s_new(100, 0, HIST_MEM_DEFAULT);
    hist_pos_t p;
    char text[16];
    for (int i = 1; i <= 5; i++) {
        snprintf(text, sizeof text, "m%d", i);
        cr_assert_eq(s_add("u:bob|", text, 10, &p), (uint64_t)i);
    }
    got_t g;
    hist_result_t r = s_since("u:bob|", p.epoch, 2, 10, &g);
    cr_expect(r.recovered);
    cr_expect_eq(r.missed, 0);
    cr_assert_eq(g.n, 3);
    for (int i = 0; i < 3; i++) {
        cr_expect_eq(g.seq[i], (uint64_t)(3 + i));
        snprintf(text, sizeof text, "m%d", 3 + i);
        cr_expect_str_eq(g.text[i], text);
    }
    cr_expect_eq(r.last.seq, 5);
    cr_expect_str_eq(r.last.epoch, p.epoch);
    cr_expect_eq(r.last.epoch_len, strlen(p.epoch));
}

Test(history, streams_number_independently_and_continuously)
{
    h = s_new(100, 0, HIST_MEM_DEFAULT);
    hist_pos_t a, b;
    for (uint64_t i = 1; i <= 50; i++) {
        cr_assert_eq(s_add("u:alice|", "x", 1, &a), i);
        if (i % 2 == 0)
            cr_assert_eq(s_add("g:team|", "y", 1, &b), i / 2);
    }
    cr_expect_eq(s_last("u:alice|").seq, 50);
    cr_expect_eq(s_last("g:team|").seq, 25);
    cr_expect_eq(s_last("u:alic|").seq, 0, "names are exact");
    cr_expect_eq(s_last("u:alice|x").seq, 0);
    hist_stats_t st;
    hist_stats(h, &st);
    cr_expect_eq(st.streams, 2);
    cr_expect_eq(st.messages, 75);
    cr_expect_eq(st.appended, 75);
}

Test(history, since_at_the_last_seq_replays_nothing_and_recovers)
{
    h = s_new(2, 1000, HIST_MEM_DEFAULT);
    hist_pos_t p;
    for (int i = 0; i < 5; i++)
        s_add("u:bob|", "m", 0, &p);
    got_t g;
    hist_result_t r = s_since("u:bob|", p.epoch, 5, 0, &g);
    cr_expect(r.recovered);
    cr_expect_eq(g.n, 0);
    /* all gone by TTL: still nothing missed after 5 */
    r = s_since("u:bob|", p.epoch, 5, 5000, &g);
    cr_expect(r.recovered);
    cr_expect_eq(r.missed, 0);
    cr_expect_eq(g.n, 0);
    r = s_since("u:bob|", p.epoch, 4, 5000, &g);
    cr_expect_not(r.recovered);
    cr_expect_eq(r.missed, 1);
}

Test(history, size_eviction_keeps_the_newest_and_counts_the_missed)
{
    h = s_new(3, 0, HIST_MEM_DEFAULT);
    hist_pos_t p;
    char text[16];
    for (int i = 1; i <= 10; i++) {
        snprintf(text, sizeof text, "m%d", i);
        s_add("u:bob|", text, 0, &p);
    }
    hist_stats_t st;
    hist_stats(h, &st);
    cr_expect_eq(st.messages, 3);
    cr_expect_eq(st.evicted_size, 7);
    got_t g;
    hist_result_t r = s_since("u:bob|", p.epoch, 7, 0, &g);
    cr_expect(r.recovered, "8 is still held");
    cr_expect_eq(g.n, 3);
    r = s_since("u:bob|", p.epoch, 5, 0, &g);
    cr_expect_not(r.recovered);
    cr_expect_eq(r.missed, 2, "6 and 7");
    cr_assert_eq(g.n, 3, "what is still held is sent");
    cr_expect_eq(g.seq[0], 8);
    cr_expect_str_eq(g.text[0], "m8");
    cr_expect_str_eq(g.text[2], "m10");
}

Test(history, epoch_zero_is_everything_recovered_until_the_first_eviction)
{
    h = s_new(3, 0, HIST_MEM_DEFAULT);
    hist_pos_t p = s_last("u:bob|");
    got_t g;
    hist_result_t r = s_since("u:bob|", p.epoch, 0, 0, &g);
    cr_expect(r.recovered, "empty, unknown stream, its own epoch");
    cr_expect_eq(g.n, 0);
    for (int i = 0; i < 3; i++)
        s_add("u:bob|", "m", 0, &p);
    r = s_since("u:bob|", p.epoch, 0, 0, &g);
    cr_expect(r.recovered);
    cr_expect_eq(g.n, 3);
    s_add("u:bob|", "m", 0, &p);
    r = s_since("u:bob|", p.epoch, 0, 0, &g);
    cr_expect_not(r.recovered);
    cr_expect_eq(r.missed, 1);
    cr_expect_eq(g.n, 3);
    cr_expect_eq(g.seq[0], 2);
}

Test(history, ttl_expires_oldest_first_and_numbering_goes_on)
{
    h = s_new(100, 1000, HIST_MEM_DEFAULT);
    hist_pos_t p;
    s_add("u:bob|", "a", 0, &p);
    s_add("u:ann|", "b", 500, &p);
    s_add("u:bob|", "c", 900, &p);
    hist_expire(h, 1000);
    hist_stats_t st;
    hist_stats(h, &st);
    cr_expect_eq(st.messages, 3, "exactly the TTL is not past it");
    hist_expire(h, 1001);
    hist_stats(h, &st);
    cr_expect_eq(st.messages, 2);
    cr_expect_eq(st.evicted_ttl, 1);
    /* since() applies the TTL itself, without the timer */
    got_t g;
    hist_result_t r = s_since("u:bob|", p.epoch, 0, 1600, &g);
    cr_expect_not(r.recovered);
    cr_expect_eq(r.missed, 1);
    cr_assert_eq(g.n, 1);
    cr_expect_str_eq(g.text[0], "c");
    hist_expire(h, 5000);
    hist_stats(h, &st);
    cr_expect_eq(st.messages, 0);
    cr_expect_eq(st.streams, 2, "records outlive their messages");
    cr_expect_eq(st.empty, 2);
    hist_pos_t q;
    cr_expect_eq(s_add("u:bob|", "d", 5000, &q), 3);
    cr_expect_str_eq(q.epoch, p.epoch, "same epoch: the numbering was kept");
}

Test(history, a_clock_that_goes_back_does_not_reorder_ages)
{
    h = s_new(100, 1000, HIST_MEM_DEFAULT);
    s_add("u:bob|", "a", 10000, NULL);
    s_add("u:bob|", "b", 500, NULL);        /* stamped 10000, not 500 */
    hist_expire(h, 10500);
    hist_stats_t st;
    hist_stats(h, &st);
    cr_expect_eq(st.messages, 2);
    hist_expire(h, 11001);
    hist_stats(h, &st);
    cr_expect_eq(st.messages, 0);
}

Test(history, an_unknown_epoch_is_not_recovered_and_missed_is_unknown)
{
    h = s_new(100, 0, HIST_MEM_DEFAULT);
    hist_pos_t p;
    s_add("u:bob|", "a", 0, &p);
    s_add("u:bob|", "b", 0, &p);
    got_t g;
    hist_result_t r = s_since("u:bob|", "oldrun.0", 1, 0, &g);
    cr_expect_not(r.recovered);
    cr_expect_eq(r.missed, -1);
    cr_expect_eq(g.n, 2, "all it has");
    cr_expect_str_eq(r.last.epoch, p.epoch);
    cr_expect_eq(r.last.seq, 2);
    /* a prefix of the epoch is another epoch */
    char shorter[HIST_EPOCH_MAX + 1];
    snprintf(shorter, sizeof shorter, "%.*s", (int)p.epoch_len - 1, p.epoch);
    r = s_since("u:bob|", shorter, 2, 0, &g);
    cr_expect_not(r.recovered);
    /* a seq never issued on this epoch */
    r = s_since("u:bob|", p.epoch, 3, 0, &g);
    cr_expect_not(r.recovered);
    cr_expect_eq(r.missed, -1);
    /* unknown stream, wrong epoch */
    r = s_since("u:nobody|", "oldrun.0", 7, 0, &g);
    cr_expect_not(r.recovered);
    cr_expect_eq(r.missed, -1);
    cr_expect_eq(r.last.seq, 0);
    cr_expect_eq(g.n, 0);
}

Test(history, the_welcome_of_an_unknown_stream_agrees_with_its_first_message)
{
    h = s_new(100, 0, HIST_MEM_DEFAULT);
    hist_pos_t w = s_last("u:carol|");
    cr_expect_eq(w.seq, 0);
    cr_expect_gt(w.epoch_len, 0);
    cr_expect_leq(w.epoch_len, HIST_EPOCH_MAX);
    cr_expect_eq(strncmp(w.epoch, "r7Kq2.", 6), 0);
    for (size_t i = 0; i < w.epoch_len; i++)
        cr_expect(w.epoch[i] >= 0x21 && w.epoch[i] <= 0x7e && w.epoch[i] != ':');
    hist_stats_t st;
    hist_stats(h, &st);
    cr_expect_eq(st.streams, 0, "hist_last creates nothing");
    hist_pos_t p;
    s_add("u:carol|", "hi", 0, &p);
    cr_expect_eq(p.seq, 1);
    cr_expect_str_eq(p.epoch, w.epoch);
    got_t g;
    hist_result_t r = s_since("u:carol|", w.epoch, 0, 0, &g);
    cr_expect(r.recovered);
    cr_expect_eq(g.n, 1);
}

Test(history, a_dropped_record_comes_back_under_a_new_epoch)
{
    h = s_new(100, 0, HIST_MEM_MIN);
    hist_pos_t old;
    s_add("u:x|", "one", 0, NULL);
    s_add("u:x|", "two", 0, &old);
    /* others flood the cap: x's messages go, then its record */
    char name[32];
    int i;
    for (i = 0; i < 100000; i++) {
        snprintf(name, sizeof name, "u:f%d|", i);
        s_add(name, "flood flood flood flood", 1, NULL);
        if (strcmp(s_last("u:x|").epoch, old.epoch) != 0)
            break;
    }
    cr_assert_lt(i, 100000, "x's record was dropped");
    hist_pos_t w = s_last("u:x|");
    cr_expect_eq(w.seq, 0);
    hist_pos_t p;
    s_add("u:x|", "three", 2, &p);
    cr_expect_eq(p.seq, 1);
    cr_expect_str_neq(p.epoch, old.epoch);
    cr_expect_str_eq(p.epoch, w.epoch);
    got_t g;
    hist_result_t r = s_since("u:x|", old.epoch, 2, 2, &g);
    cr_expect_not(r.recovered, "old numbers mean nothing now");
    cr_expect_eq(r.missed, -1);
    cr_assert_eq(g.n, 1);
    cr_expect_str_eq(g.text[0], "three");
    r = s_since("u:x|", old.epoch, 0, 2, &g);
    cr_expect_not(r.recovered, "not even EPOCH:0 of the old epoch");
    hist_stats_t st;
    hist_stats(h, &st);
    cr_expect_gt(st.dropped, 0);
    cr_expect_leq(st.bytes, HIST_MEM_MIN);
}

/* Heap bytes in use, as glibc sees them (0 under ASan, which has its own). */
static size_t
s_heap(void)
{
    return mallinfo2().uordblks;
}

Test(history, a_flood_to_many_users_stays_under_the_cap)
{
    size_t cap = 1 << 20;
    size_t heap0 = s_heap();
    h = s_new(100, 0, cap);
    char name[32], payload[120];
    memset(payload, 'p', sizeof payload);
    hist_stats_t st;
    size_t peak = 0;
    for (int round = 0; round < 3; round++) {
        for (int u = 0; u < 50000; u++) {
            snprintf(name, sizeof name, "u:user%d|", u);
            hist_pos_t p;
            cr_assert_eq(hist_append(h, name, strlen(name), payload, sizeof payload,
                                     round, &p), 0);
            hist_stats(h, &st);
            cr_assert_leq(st.bytes, cap, "after append %d/%d", round, u);
            if (st.bytes > peak)
                peak = st.bytes;
        }
    }
    hist_stats(h, &st);
    cr_expect_gt(st.messages, 1000);
    cr_expect_gt(st.evicted_memory, 0);
    cr_expect_gt(st.dropped, 0);
    cr_expect_eq(st.evicted_size, 0);
#ifndef __SANITIZE_ADDRESS__
    size_t heap = s_heap() - heap0;
    cr_expect_leq(heap, peak, "the accounting is honest: heap %zu, accounted %zu", heap,
                  st.bytes);
    cr_expect_geq(heap * 100, st.bytes * 95, "and not wildly pessimistic: heap %zu, "
                  "accounted %zu", heap, st.bytes);
#else
    (void)heap0;
#endif
    /* the newest message survived (under a new epoch: the record of its
     * stream was dropped in an earlier round, the empty ones go first) */
    hist_pos_t p = s_last("u:user49999|");
    got_t g;
    hist_result_t r = s_since("u:user49999|", p.epoch, p.seq - 1, 2, &g);
    cr_expect(r.recovered);
    cr_expect_eq(g.n, 1);
}

/* The expected bytes of payload_bytes_are_kept_exactly. */
typedef struct {
    unsigned char (*buf)[3000];
    size_t        *len;
    int            n;
} expect_t;

static int
s_check(void *arg, uint64_t seq, const void *payload, size_t n)
{
    expect_t *x = arg;
    int i = x->n++;
    cr_assert_eq(seq, (uint64_t)i + 1);
    cr_assert_eq(n, x->len[i], "length of %d", i);
    cr_assert_eq(memcmp(payload, x->buf[i], n), 0, "bytes of %d", i);
    return 0;
}

Test(history, payload_bytes_are_kept_exactly)
{
    h = s_new(100, 0, HIST_MEM_DEFAULT);
    static unsigned char buf[100][3000], copy[100][3000];
    size_t len[100];
    srand(7);
    for (int i = 0; i < 100; i++) {
        len[i] = i == 0 ? 0 : (size_t)(rand() % 3000);
        for (size_t j = 0; j < len[i]; j++)
            buf[i][j] = (unsigned char)rand();      /* NULs included */
        memcpy(copy[i], buf[i], len[i]);
        hist_pos_t p;
        cr_assert_eq(hist_append(h, "g:bin|", 6, buf[i], len[i], 0, &p), 0);
    }
    memset(buf, 0, sizeof buf);                     /* the store has its own copy */
    expect_t x = { copy, len, 0 };
    hist_result_t r;
    hist_pos_t p = s_last("g:bin|");
    cr_assert_eq(hist_since(h, "g:bin|", 6, p.epoch, p.epoch_len, 0, 0, s_check, &x, &r), 0);
    cr_expect_eq(x.n, 100);
    cr_expect(r.recovered);
}

Test(history, the_callback_can_stop_the_replay)
{
    h = s_new(100, 0, HIST_MEM_DEFAULT);
    hist_pos_t p;
    for (int i = 0; i < 10; i++)
        s_add("u:bob|", "m", 0, &p);
    got_t g;
    memset(&g, 0, sizeof g);
    g.stop_after = 4;
    hist_result_t r;
    cr_assert_eq(hist_since(h, "u:bob|", 6, p.epoch, p.epoch_len, 0, 0, s_collect, &g, &r), 0);
    cr_expect_eq(g.n, 4);
    cr_expect_eq(r.replayed, 4);
    cr_expect(r.recovered);
}

Test(history, size_zero_numbers_and_keeps_nothing)
{
    h = s_new(0, 0, HIST_MEM_DEFAULT);
    hist_pos_t p;
    for (int i = 0; i < 5; i++)
        s_add("u:bob|", "m", 0, &p);
    cr_expect_eq(p.seq, 5);
    got_t g;
    hist_result_t r = s_since("u:bob|", p.epoch, 3, 0, &g);
    cr_expect_not(r.recovered);
    cr_expect_eq(r.missed, 2);
    cr_expect_eq(g.n, 0);
    r = s_since("u:bob|", p.epoch, 5, 0, &g);
    cr_expect(r.recovered);
    hist_stats_t st;
    hist_stats(h, &st);
    cr_expect_eq(st.messages, 0);
    cr_expect_eq(st.streams, 1);
}

Test(history, a_message_bigger_than_the_cap_is_numbered_not_kept)
{
    h = s_new(100, 0, HIST_MEM_MIN);
    static char big[HIST_MEM_MIN];
    hist_pos_t p;
    s_add("u:bob|", "small", 0, &p);
    cr_assert_eq(hist_append(h, "u:bob|", 6, big, sizeof big, 0, &p), 0);
    cr_expect_eq(p.seq, 2);
    hist_stats_t st;
    hist_stats(h, &st);
    cr_expect_leq(st.bytes, HIST_MEM_MIN);
    cr_expect_eq(st.messages, 0);
    cr_expect_eq(st.evicted_memory, 2);
    cr_expect_eq(st.streams, 1, "its own record stays");
    cr_expect_eq(s_add("u:bob|", "next", 0, &p), 3);
}

/* Size and TTL against a model, random appends and resumes over a few
 * streams: rings grow, wrap, shrink and empty; every replay is checked seq by
 * seq and byte by byte, every verdict against the rule of history.h. */
Test(history, replays_match_a_model_of_size_and_ttl)
{
    enum { STREAMS = 8, SIZE = 20, TTL = 60, OPS = 40000 };
    h = s_new(SIZE, TTL, HIST_MEM_DEFAULT);
    static int64_t ts[STREAMS][OPS + 1];      /* append time by seq */
    uint64_t last[STREAMS] = { 0 };
    char epoch[STREAMS][HIST_EPOCH_MAX + 1];
    char name[16], text[32];
    int64_t now = 0;
    srand(11);
    for (int op = 0; op < OPS; op++) {
        int u = rand() % STREAMS;
        snprintf(name, sizeof name, "u:m%d|", u);
        now += rand() % 300 == 0 ? rand() % 80 : rand() % 20 == 0;  /* quiet, then jumps */
        if (rand() % 4) {
            hist_pos_t p;
            snprintf(text, sizeof text, "%d/%llu", u, (unsigned long long)last[u] + 1);
            cr_assert_eq(s_add(name, text, now, &p), last[u] + 1);
            ts[u][++last[u]] = now;
            if (last[u] == 1)
                strcpy(epoch[u], p.epoch);
            cr_assert_str_eq(p.epoch, epoch[u]);
            continue;
        }
        if (!last[u])
            continue;
        /* the model: held = the newest SIZE, none older than TTL */
        uint64_t first = last[u] + 1;
        while (first > 1 && last[u] - (first - 1) < SIZE && now - ts[u][first - 1] <= TTL)
            first--;
        uint64_t after = (uint64_t)rand() % (last[u] + 1);
        got_t g;
        hist_result_t r = s_since(name, epoch[u], after, now, &g);
        int recovered = after + 1 >= first;
        cr_assert_eq(r.recovered, recovered, "op %d stream %d after %llu first %llu", op, u,
                     (unsigned long long)after, (unsigned long long)first);
        cr_assert_eq(r.missed, recovered ? 0 : (int64_t)(first - 1 - after));
        uint64_t from = recovered ? after + 1 : first;
        cr_assert_eq(g.n, last[u] + 1 - from, "op %d", op);
        for (size_t i = 0; i < g.n; i++) {
            snprintf(text, sizeof text, "%d/%llu", u, (unsigned long long)(from + i));
            cr_assert_eq(g.seq[i], from + i);
            cr_assert_str_eq(g.text[i], text);
        }
    }
    hist_stats_t st;
    hist_stats(h, &st);
    cr_expect_gt(st.evicted_size, 0);
    cr_expect_gt(st.evicted_ttl, 0);
    cr_expect_eq(st.evicted_memory, 0);
    cr_expect_eq(st.dropped, 0);
}

/* The table against a model: many streams, drops under a tight cap, and
 * every record still found with its numbers (backward-shift deletion). */
Test(history, the_table_stays_consistent_through_growth_and_drops)
{
    enum { N = 20000 };
    h = s_new(0, 0, HIST_MEM_MIN * 8);
    static hist_pos_t model[N];
    static int known[N];
    char name[32];
    srand(3);
    for (int op = 0; op < 200000; op++) {
        int u = rand() % N;
        snprintf(name, sizeof name, "g:%d|", u);
        hist_pos_t p;
        cr_assert_eq(hist_append(h, name, strlen(name), NULL, 0, 0, &p), 0);
        if (known[u] && strcmp(p.epoch, model[u].epoch) == 0)
            cr_assert_eq(p.seq, model[u].seq + 1, "stream %d", u);
        else
            cr_assert_eq(p.seq, 1, "stream %d: a new epoch starts at 1", u);
        model[u] = p;
        known[u] = 1;
    }
    size_t alive = 0;
    for (int u = 0; u < N; u++) {
        if (!known[u])
            continue;
        snprintf(name, sizeof name, "g:%d|", u);
        hist_pos_t p = s_last(name);
        if (strcmp(p.epoch, model[u].epoch) == 0) {
            cr_assert_eq(p.seq, model[u].seq, "stream %d", u);
            alive++;
        } else {
            cr_assert_eq(p.seq, 0, "stream %d dropped", u);
        }
    }
    hist_stats_t st;
    hist_stats(h, &st);
    cr_expect_eq(st.streams, alive);
    cr_expect_gt(st.dropped, 0);
    cr_expect_lt(alive, (size_t)N);
    cr_expect_leq(st.bytes, HIST_MEM_MIN * 8);
}

Test(history, the_table_shrinks_when_streams_go)
{
    h = s_new(100, 1000, 1 << 20);
    char name[32];
    for (int i = 0; i < 5000; i++) {
        snprintf(name, sizeof name, "u:short%d|", i);
        s_add(name, "a short message", 0, NULL);
    }
    hist_stats_t st;
    hist_stats(h, &st);
    cr_assert_gt(st.streams, 1000);
    static char big[20000];
    hist_pos_t p;
    for (int i = 0; i < 200; i++)
        cr_assert_eq(hist_append(h, "u:big|", 6, big, sizeof big, 10, &p), 0);
    hist_stats(h, &st);
    cr_expect_eq(st.streams, 1, "the others were emptied, then dropped");
    hist_expire(h, 2000);
    hist_stats(h, &st);
    cr_expect_eq(st.messages, 0);
    cr_expect_lt(st.bytes, 40000, "the store, a 64-slot table and one record: %zu", st.bytes);
    cr_expect_eq(s_last("u:big|").seq, 200);
    cr_expect_eq(s_last("u:short4999|").seq, 0);
    cr_expect_eq(s_add("u:short1|", "again", 2000, NULL), 1);
    cr_expect_eq(s_add("u:big|", "again", 2000, NULL), 201);
}

Test(history, bad_arguments_are_refused)
{
    hist_cfg_t cfg;
    hist_cfg_default(&cfg);
    cr_expect_null(hist_new(&cfg, ""));
    cr_expect_null(hist_new(&cfg, "has.dot"));
    cr_expect_null(hist_new(&cfg, "has:colon"));
    cr_expect_null(hist_new(&cfg, "twelve-bytes"));
    cr_expect_null(hist_new(&cfg, "sp ace"));
    cr_expect_null(hist_new(NULL, "ok"));
    cfg.mem_cap = HIST_MEM_MIN - 1;
    cr_expect_null(hist_new(&cfg, "ok"));
    hist_cfg_default(&cfg);
    cfg.ttl_ms = (int64_t)INT32_MAX + 1;
    cr_expect_null(hist_new(&cfg, "ok"));
    cfg.ttl_ms = -1;
    cr_expect_null(hist_new(&cfg, "ok"));
    hist_cfg_default(&cfg);
    h = hist_new(&cfg, "elevenbytes");
    cr_assert_not_null(h);
    hist_pos_t p;
    static char longname[HIST_STREAM_MAX + 1];
    memset(longname, 'a', sizeof longname);
    cr_expect_eq(hist_append(h, "", 0, "x", 1, 0, &p), -1);
    cr_expect_eq(hist_append(h, longname, sizeof longname, "x", 1, 0, &p), -1);
    cr_expect_eq(hist_append(h, longname, HIST_STREAM_MAX, "x", 1, 0, &p), 0);
    cr_expect_eq(p.epoch_len, 13, "elevenbytes.0");
    cr_expect_eq(hist_last(h, "", 0, &p), -1);
    hist_destroy(NULL);
}

Test(history, parse_since)
{
    const char *e;
    size_t el;
    uint64_t seq;
    cr_assert_eq(hist_parse_since("r7Kq2.0:42", 10, &e, &el, &seq), 0);
    cr_expect_eq(el, 7);
    cr_expect_eq(strncmp(e, "r7Kq2.0", el), 0);
    cr_expect_eq(seq, 42);
    cr_assert_eq(hist_parse_since("a:b:0", 5, &e, &el, &seq), 0, "split at the last ':'");
    cr_expect_eq(el, 3);
    cr_expect_eq(seq, 0);
    cr_assert_eq(hist_parse_since("E:18446744073709551615", 22, &e, &el, &seq), 0);
    cr_expect_eq(seq, UINT64_MAX);
    const char *bad[] = { "", ":", "E:", ":5", "E5", "E:18446744073709551616", "E:-1",
                          "E:1x", "E:+1", "E :1", "E\x7f:1",
                          "123456789012345678901234567890123:1",
                          "E:000000000000000000001" };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        cr_expect_eq(hist_parse_since(bad[i], strlen(bad[i]), &e, &el, &seq), -1,
                     "%s", bad[i]);
    cr_expect_eq(hist_parse_since("E:\0" "1", 4, &e, &el, &seq), -1, "NUL");
    cr_expect_eq(hist_parse_since("12345678901234567890123456789012:1", 34, &e, &el,
                                  &seq), 0, "32 bytes");
}

/* ---- cost -------------------------------------------------------------- */

static double
s_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);     /* CPU time: the box may be shared */
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static long
s_rss_kb(void)
{
    long pages = 0, rss = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
            rss = 0;
        fclose(f);
    }
    return rss * 4;
}

static int
s_count(void *arg, uint64_t seq, const void *payload, size_t len)
{
    (void)seq;
    (void)payload;
    *(size_t *)arg += len;
    return 0;
}

/* Not a check of speed (it would fail on a slow box), a measurement. */
Test(history, cost_per_message)
{
    int big = getenv("ZWSD_BENCH") != NULL;
    int nstreams = big ? 100000 : 10000;
    int nmsg = big ? 10000000 : 1000000;
    char payload[120];
    memset(payload, 'p', sizeof payload);
    char (*names)[32] = malloc((size_t)nstreams * 32);
    cr_assert_not_null(names);
    for (int i = 0; i < nstreams; i++)
        snprintf(names[i], 32, "u:user%07d|", i);

    /* bytes per held message: 2,000 streams x 100 (all held, no eviction) */
    size_t heap0 = s_heap();
    long rss0 = s_rss_kb();
    h = s_new(100, 0, (size_t)1 << 30);
    hist_pos_t p;
    for (int i = 0; i < 200000; i++)
        hist_append(h, names[i % 2000], strlen(names[i % 2000]), payload, 120, 0, &p);
    hist_stats_t st;
    hist_stats(h, &st);
    cr_assert_eq(st.messages, 200000);
    size_t heap = s_heap() - heap0;
    long rss = s_rss_kb() - rss0;
    fprintf(stderr, "history: 120-byte payload: %.1f B accounted, %.1f B heap, %.1f B RSS "
            "per held message (2,000 streams x 100)\n", (double)st.bytes / st.messages,
            (double)heap / st.messages, rss * 1024.0 / st.messages);
    hist_destroy(&h);

    /* append at steady state, every append evicting: by size (1,000 streams
     * under the cap), then by memory (more streams, 64 MiB cap reached) */
    for (int pass = 0; pass < 2; pass++) {
        int ns = pass ? nstreams : 1000;
        hist_destroy(&h);
        h = s_new(100, HIST_TTL_DEFAULT, HIST_MEM_DEFAULT);
        for (int i = 0; i < ns * 100; i++)
            hist_append(h, names[i % ns], strlen(names[i % ns]), payload, 120, 0, &p);
        unsigned r = 12345;
        double t0 = s_ns();
        for (int i = 0; i < nmsg; i++) {
            r = r * 1103515245u + 12345u;
            const char *n = names[(r >> 8) % (unsigned)ns];
            hist_append(h, n, strlen(n), payload, 120, 1, &p);
        }
        double t1 = s_ns();
        hist_stats(h, &st);
        fprintf(stderr, "history: append %.0f ns (%d streams, random order, %zu held, "
                "%.1f MB, evicted %llu by size, %llu by memory)\n", (t1 - t0) / nmsg, ns,
                st.messages, st.bytes / 1e6, (unsigned long long)st.evicted_size,
                (unsigned long long)st.evicted_memory);
    }
    double t0, t1;

    /* since: a resume 10 behind, and a resume at the last seq */
    size_t sum = 0;
    hist_result_t res;
    int nq = nmsg / 10;
    t0 = s_ns();
    for (int i = 0; i < nq; i++) {
        const char *n = names[i % nstreams];
        hist_pos_t l;
        hist_last(h, n, strlen(n), &l);
        hist_since(h, n, strlen(n), l.epoch, l.epoch_len, l.seq - 10, 1, s_count, &sum, &res);
    }
    t1 = s_ns();
    fprintf(stderr, "history: last + since 10 behind %.0f ns (10 replayed)\n", (t1 - t0) / nq);
    t0 = s_ns();
    for (int i = 0; i < nq; i++) {
        const char *n = names[i % nstreams];
        hist_pos_t l;
        hist_last(h, n, strlen(n), &l);
        hist_since(h, n, strlen(n), l.epoch, l.epoch_len, l.seq, 1, s_count, &sum, &res);
    }
    t1 = s_ns();
    fprintf(stderr, "history: last + since at the last seq %.0f ns\n", (t1 - t0) / nq);
    t0 = s_ns();
    for (int i = 0; i < nq; i++) {
        const char *n = names[i % nstreams];
        hist_last(h, n, strlen(n), &p);
    }
    t1 = s_ns();
    fprintf(stderr, "history: last alone %.0f ns\n", (t1 - t0) / nq);
    cr_expect_gt(sum, 0);
    free(names);
}
