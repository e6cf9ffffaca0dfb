/* test_wsframe — daemon/wsframe.c: the client-stream scanner and the
 * outgoing accounting. Every stream is fed whole, one byte at a time and in
 * every two-way split; for each chunking the test checks the verdict, the
 * chunk that reports it (the one holding the byte that decides), how many
 * bytes were cleared for wslay (never a client's close frame), the close
 * frame's code, and wsf_at_boundary() after every chunk.
 * Run: make build/test/test_wsframe && build/test/test_wsframe */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wsframe.h"

static const uint8_t s_key[4] = { 0x37, 0xfa, 0x21, 0x3d };

/* A frame into buf: b0 as given, the length in the form `form` (0: minimal,
 * else 126 or 127 forced), masked with s_key or not, and `len` payload bytes
 * (from payload, or 'x' when NULL) unless with_payload is 0. Returns its size. */
static size_t
s_raw(uint8_t *buf, uint8_t b0, int form, uint64_t len, int masked, const void *payload,
      int with_payload)
{
    size_t h = 0;
    uint8_t m = masked ? 0x80 : 0;
    if (!form)
        form = len < 126 ? 0 : len < 65536 ? 126 : 127;
    buf[h++] = b0;
    if (form == 0) {
        buf[h++] = (uint8_t)(m | len);
    } else {
        buf[h++] = (uint8_t)(m | form);
        for (int i = form == 126 ? 1 : 7; i >= 0; i--)
            buf[h++] = (uint8_t)(len >> (8 * i));
    }
    if (masked) {
        memcpy(buf + h, s_key, 4);
        h += 4;
    }
    if (!with_payload)
        return h;
    const uint8_t *pl = payload;
    for (uint64_t i = 0; i < len; i++) {
        uint8_t b = pl ? pl[i] : 'x';
        buf[h + i] = masked ? b ^ s_key[i & 3] : b;
    }
    return h + (size_t)len;
}

/* A masked client frame with a minimal length. */
static size_t
s_frame(uint8_t *buf, uint8_t b0, uint64_t len, const void *payload)
{
    return s_raw(buf, b0, 0, len, 1, payload, 1);
}

/* A client close frame: code (big-endian) then reason bytes. */
static size_t
s_close(uint8_t *buf, uint16_t code, const char *reason, size_t rn)
{
    uint8_t pl[125];
    pl[0] = (uint8_t)(code >> 8);
    pl[1] = (uint8_t)code;
    memcpy(pl + 2, reason, rn);
    return s_frame(buf, 0x88, 2 + rn, pl);
}

typedef struct {
    const uint8_t *p;
    size_t         n;
    uint16_t       code;        /* expected verdict */
    size_t         bad_at;      /* violation: where the bad frame begins */
    size_t         det;         /* violation: the byte that decides it */
    const size_t  *bounds;      /* valid: offsets at a message boundary, */
    size_t         nbounds;     /* besides 0 and n */
    size_t         close_at;    /* where a close frame begins: wslay gets */
                                /* what comes before it; n when none */
    size_t         close_end;   /* valid: where that close frame ends */
    uint16_t       close_code;  /* valid: its status code */
} case_t;

static int
s_is_bound(const case_t *c, size_t off)
{
    if (c->close_end && off >= c->close_end)
        return 0;                               /* nothing after a close */
    if (off == 0 || off == c->n)
        return 1;
    for (size_t i = 0; i < c->nbounds; i++)
        if (c->bounds[i] == off)
            return 1;
    return 0;
}

/* Feed c in the chunks that end at cuts[0..ncuts) and then at n. */
static void
s_chunks(const case_t *c, const size_t *cuts, size_t ncuts, const char *how)
{
    wsf_scan_t s;
    memset(&s, 0, sizeof s);
    size_t pos = 0, fed = 0, bad_from = 0, bad_to = 0;
    uint16_t got = 0;
    for (size_t j = 0; j <= ncuts; j++) {
        size_t end = j < ncuts ? cuts[j] : c->n, good = 12345;
        uint16_t r = wsf_scan(&s, c->p + pos, end - pos, &good);
        if (got) {
            cr_assert_eq(r, got, "%s: a violation is final (chunk at %zu)", how, pos);
            cr_assert_eq(good, 0, "%s: nothing after a violation", how);
        } else if (r) {
            got = r;
            bad_from = pos;
            bad_to = end;
            cr_assert_leq(good, end - pos, "%s", how);
            fed += good;
        } else {
            size_t want = c->close_at <= pos ? 0
                        : c->close_at < end ? c->close_at - pos : end - pos;
            cr_assert_eq(good, want, "%s: chunk at %zu: %zu bytes for wslay, expected %zu",
                         how, pos, good, want);
            fed += good;
            if (!c->code)
                cr_assert_eq(wsf_at_boundary(&s), s_is_bound(c, end),
                             "%s: boundary after %zu bytes", how, end);
        }
        pos = end;
    }
    cr_assert_eq(got, c->code, "%s: verdict", how);
    if (c->code) {
        cr_assert(bad_from <= c->det && c->det < bad_to,
                  "%s: reported by chunk [%zu,%zu), decided at %zu", how, bad_from, bad_to, c->det);
        size_t want = c->bad_at > bad_from ? c->bad_at : bad_from;
        want = want < c->close_at ? want : c->close_at;
        cr_assert_eq(fed, want, "%s: %zu bytes for wslay, expected %zu", how, fed, want);
        cr_assert_not(wsf_at_boundary(&s), "%s: no boundary after a violation", how);
        cr_assert_not(wsf_close_seen(&s), "%s: a bad close is no close", how);
    } else {
        cr_assert_eq(fed, c->close_at, "%s", how);
        cr_assert_eq(wsf_close_seen(&s), c->close_end != 0, "%s: close seen", how);
        cr_assert_eq(wsf_close_code(&s), c->close_code, "%s: close code", how);
    }
}

/* Whole, one byte at a time, every two-way split. */
static void
s_check(const case_t *c)
{
    s_chunks(c, NULL, 0, "whole");
    size_t *cuts = calloc(c->n ? c->n : 1, sizeof *cuts);
    cr_assert_not_null(cuts);
    for (size_t i = 1; i < c->n; i++)
        cuts[i - 1] = i;
    s_chunks(c, cuts, c->n ? c->n - 1 : 0, "1-byte");
    for (size_t i = 1; i < c->n; i++) {
        char how[32];
        snprintf(how, sizeof how, "split %zu", i);
        s_chunks(c, &i, 1, how);
    }
    free(cuts);
}

static void
s_valid(const uint8_t *p, size_t n, const size_t *bounds, size_t nbounds)
{
    case_t c = { p, n, 0, 0, 0, bounds, nbounds, n, 0, 0 };
    s_check(&c);
}

/* A valid stream with a close frame at [at, end) carrying code. */
static void
s_valid_close(const uint8_t *p, size_t n, const size_t *bounds, size_t nbounds, size_t at,
              size_t end, uint16_t code)
{
    case_t c = { p, n, 0, 0, 0, bounds, nbounds, at, end, code };
    s_check(&c);
}

static void
s_bad(const uint8_t *p, size_t n, uint16_t code, size_t bad_at, size_t det)
{
    case_t c = { p, n, code, bad_at, det, NULL, 0, n, 0, 0 };
    s_check(&c);
}

/* A violation inside a close frame that begins at bad_at. */
static void
s_bad_close(const uint8_t *p, size_t n, uint16_t code, size_t bad_at, size_t det)
{
    case_t c = { p, n, code, bad_at, det, NULL, 0, bad_at, 0, 0 };
    s_check(&c);
}

static uint8_t s_big[2 * 65536 + 64];

/* ---- the client scanner: valid streams --------------------------------- */

Test(wsframe, state_is_small)
{
    cr_expect_leq(sizeof(wsf_scan_t), 24);
    wsf_scan_t s;
    memset(&s, 0, sizeof s);
    cr_expect(wsf_at_boundary(&s), "zeroed: a fresh stream, at a boundary");
    cr_expect_not(wsf_close_seen(&s));
}

Test(wsframe, lengths_in_every_form)
{
    static const uint64_t lens[] = { 0, 1, 125, 126, 65535, 65536 };
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        s_valid(s_big, s_frame(s_big, 0x81, lens[i], NULL), NULL, 0);
        s_valid(s_big, s_frame(s_big, 0x82, lens[i], NULL), NULL, 0);
    }
}

Test(wsframe, messages_back_to_back)
{
    size_t b[3], n = 0;
    b[0] = n += s_frame(s_big + n, 0x81, 5, NULL);
    b[1] = n += s_frame(s_big + n, 0x89, 0, NULL);          /* ping */
    b[2] = n += s_frame(s_big + n, 0x82, 300, NULL);
    n += s_frame(s_big + n, 0x8a, 125, NULL);               /* pong */
    s_valid(s_big, n, b, 3);
}

Test(wsframe, fragmented_text_with_control_frames_between)
{
    /* text FIN=0 (16-bit length), ping, continuation, pong, final
     * continuation (64-bit length): a boundary only at the very end */
    size_t n = 0;
    n += s_frame(s_big + n, 0x01, 200, NULL);
    n += s_frame(s_big + n, 0x89, 4, "ping");
    n += s_frame(s_big + n, 0x00, 3, NULL);
    n += s_frame(s_big + n, 0x8a, 0, NULL);
    n += s_frame(s_big + n, 0x80, 65536, NULL);
    s_valid(s_big, n, NULL, 0);
    size_t b[1];
    b[0] = n;                                               /* then one more */
    n += s_frame(s_big + n, 0x81, 2, "{}");
    s_valid(s_big, n, b, 1);
}

Test(wsframe, close_frames)
{
    uint8_t b[256];
    size_t n;
    n = s_frame(b, 0x88, 0, NULL);                          /* no code */
    s_valid_close(b, n, NULL, 0, 0, n, 0);
    n = s_close(b, 1000, "", 0);
    s_valid_close(b, n, NULL, 0, 0, n, 1000);
    const char *r = "bye \xc3\xa9 \xe6\x97\xa5 \xf0\x9d\x84\x9e \xe0\xa0\x80 \xed\x9f\xbf "
                    "\xef\xbf\xbf \xf4\x8f\xbf\xbf";
    n = s_close(b, 1000, r, strlen(r));
    s_valid_close(b, n, NULL, 0, 0, n, 1000);
    char max[123];
    memset(max, 'r', sizeof max);
    n = s_close(b, 4999, max, sizeof max);                  /* 125 bytes */
    s_valid_close(b, n, NULL, 0, 0, n, 4999);

    /* every code a client may send; 1012-1014 too, which wslay refuses */
    static const uint16_t ok[] = { 1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010,
                                   1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999 };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        n = s_close(b, ok[i], "ok", 2);
        s_valid_close(b, n, NULL, 0, 0, n, ok[i]);
    }

    /* frames before the close go to wslay, the close does not */
    size_t bd[2];
    size_t at = bd[0] = s_frame(b, 0x81, 2, "{}");
    at = bd[1] = at + s_frame(b + at, 0x89, 1, "p");
    n = at + s_close(b + at, 1001, "away", 4);
    s_valid_close(b, n, bd, 2, at, n, 1001);

    /* inside a fragmented message (a control frame may come between) */
    at = s_frame(b, 0x01, 3, NULL);
    n = at + s_close(b + at, 1001, "\xc3\xa9", 2);
    s_valid_close(b, n, NULL, 0, at, n, 1001);

    /* nothing after a close is looked at: not even a bad frame */
    at = bd[0] = s_frame(b, 0x81, 2, "{}");
    size_t end = at + s_close(b + at, 3000, "", 0);
    n = end + s_raw(b + end, 0xf3, 0, 2, 0, "zz", 1);
    s_valid_close(b, n, bd, 1, at, end, 3000);

    wsf_scan_t s;
    memset(&s, 0, sizeof s);
    n = s_close(b, 1000, "", 0);
    size_t good;
    cr_expect_eq(wsf_scan(&s, b, n - 1, &good), 0);
    cr_expect_eq(good, 0, "a close frame is never wslay's");
    cr_expect_not(wsf_close_seen(&s), "not before its last byte");
    cr_expect_eq(wsf_close_code(&s), 0);
    cr_expect_not(wsf_at_boundary(&s), "a payload byte is still to come");
    cr_expect_eq(wsf_scan(&s, b + n - 1, 1, &good), 0);
    cr_expect(wsf_close_seen(&s));
    cr_expect_eq(wsf_close_code(&s), 1000);
    cr_expect_not(wsf_at_boundary(&s), "nothing may follow a close");
}

/* ---- the client scanner: violations ------------------------------------ */

Test(wsframe, control_frame_over_125)
{
    size_t n = s_frame(s_big, 0x89, 126, NULL);             /* 16-bit form */
    s_bad(s_big, n, 1002, 0, 1);
    n = s_frame(s_big, 0x8a, 65536, NULL);                  /* 64-bit form */
    s_bad(s_big, n, 1002, 0, 1);
    n = s_frame(s_big, 0x88, 126, NULL);
    s_bad_close(s_big, n, 1002, 0, 1);
}

Test(wsframe, fragmented_control_frame)
{
    uint8_t b[64];
    s_bad(b, s_frame(b, 0x09, 1, NULL), 1002, 0, 0);        /* ping, FIN=0 */
    s_bad(b, s_frame(b, 0x0a, 0, NULL), 1002, 0, 0);
    s_bad(b, s_frame(b, 0x08, 2, "\x03\xe8"), 1002, 0, 0);
}

Test(wsframe, close_with_one_byte)
{
    uint8_t b[64];
    s_bad_close(b, s_frame(b, 0x88, 1, "\x03"), 1002, 0, 1);
}

Test(wsframe, reserved_opcodes)
{
    uint8_t b[64];
    for (uint8_t op = 3; op <= 0xf; op++) {
        if (op >= 8 && op <= 0xa)
            continue;
        s_bad(b, s_frame(b, 0x80 | op, 1, NULL), 1002, 0, 0);
    }
}

Test(wsframe, rsv_bits)
{
    uint8_t b[64];
    for (uint8_t rsv = 1; rsv <= 7; rsv++) {
        s_bad(b, s_frame(b, (uint8_t)(0x81 | rsv << 4), 2, "{}"), 1002, 0, 0);
        s_bad(b, s_frame(b, (uint8_t)(0x89 | rsv << 4), 0, NULL), 1002, 0, 0);
    }
}

Test(wsframe, unmasked_frames)
{
    uint8_t b[64];
    s_bad(b, s_raw(b, 0x81, 0, 2, 0, "{}", 1), 1002, 0, 1);
    s_bad(b, s_raw(b, 0x89, 0, 0, 0, NULL, 1), 1002, 0, 1);
    size_t n = s_frame(b, 0x81, 2, "{}");                   /* a good one first */
    s_bad(b, n + s_raw(b + n, 0x82, 0, 3, 0, NULL, 1), 1002, n, n + 1);
}

Test(wsframe, continuation_of_nothing)
{
    uint8_t b[64];
    s_bad(b, s_frame(b, 0x80, 1, NULL), 1002, 0, 0);
    s_bad(b, s_frame(b, 0x00, 1, NULL), 1002, 0, 0);
    size_t n = s_frame(b, 0x81, 1, NULL);                   /* after a whole message */
    s_bad(b, n + s_frame(b + n, 0x80, 1, NULL), 1002, n, n);
}

Test(wsframe, new_message_inside_a_fragmented_one)
{
    uint8_t b[128];
    size_t n = s_frame(b, 0x01, 3, NULL);
    size_t m = n + s_frame(b + n, 0x89, 0, NULL);           /* a ping is allowed */
    s_bad(b, m + s_frame(b + m, 0x81, 2, "{}"), 1002, m, m);
    s_bad(b, m + s_frame(b + m, 0x02, 2, "{}"), 1002, m, m);
}

Test(wsframe, length_forms)
{
    uint8_t b[64];
    /* 64-bit length with the top bit set: decided by the last header byte */
    size_t n = s_raw(b, 0x82, 127, 1ull << 63, 1, NULL, 0);
    s_bad(b, n, 1002, 0, n - 1);
    n = s_raw(b, 0x82, 127, ~0ull, 1, NULL, 0);
    s_bad(b, n, 1002, 0, n - 1);
    /* not minimal: 5 in the 16-bit form, 65535 in the 64-bit form */
    n = s_raw(b, 0x81, 126, 5, 1, NULL, 1);
    s_bad(b, n, 1002, 0, 7);
    n = s_raw(s_big, 0x81, 127, 65535, 1, NULL, 1);
    s_bad(s_big, n, 1002, 0, 13);
    /* the largest 63-bit length is fine (as far as its header goes) */
    n = s_raw(b, 0x82, 127, (1ull << 63) - 1, 1, NULL, 0);
    wsf_scan_t s;
    memset(&s, 0, sizeof s);
    size_t good;
    cr_expect_eq(wsf_scan(&s, b, n, &good), 0);
    cr_expect_eq(good, n);
    cr_expect_not(wsf_at_boundary(&s));
}

Test(wsframe, close_reason_not_utf8)
{
    static const struct {
        const char *reason;
        size_t      bad;            /* index in the reason of the deciding byte */
    } cases[] = {
        { "ab\xff", 2 },
        { "\x80", 0 },              /* a lone continuation byte */
        { "\xc0\x80", 0 },          /* overlong NUL */
        { "\xc1\xbf", 0 },
        { "\xe0\x9f\xbf", 1 },      /* overlong 3-byte */
        { "\xed\xa0\x80", 1 },      /* surrogate U+D800 */
        { "\xf0\x8f\xbf\xbf", 1 },  /* overlong 4-byte */
        { "\xf4\x90\x80\x80", 1 },  /* above U+10FFFF */
        { "\xf5\x80\x80\x80", 0 },
        { "\xc3\x28", 1 },          /* continuation expected */
        { "ok\xe6\x97", 3 },        /* cut short at the frame's end */
        { "\xf0\x9d\x84", 2 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t b[256];
        size_t lead = s_frame(b, 0x81, 4, "{\"a\"");        /* a good frame first */
        size_t rn = strlen(cases[i].reason);
        size_t n = lead + s_close(b + lead, 1000, cases[i].reason, rn);
        s_bad_close(b, n, 1007, lead, lead + 6 + 2 + cases[i].bad);
    }
}

Test(wsframe, close_inside_a_fragmented_message)
{
    uint8_t b[128];
    size_t n = s_frame(b, 0x01, 3, NULL);
    size_t m = n + s_close(b + n, 1000, "\xc3", 1);         /* the close's reason is */
    s_bad_close(b, m, 1007, n, m - 1);                      /* checked on its own */
}

Test(wsframe, close_codes_not_allowed)
{
    /* 0-999, the never-sent 1004-1006 and 1015, the rest below 3000, and
     * above 4999: 1002, decided by the code's second byte */
    static const uint16_t bad[] = { 0, 1, 999, 1004, 1005, 1006, 1015, 1016, 1100,
                                    2000, 2999, 5000, 0xffff };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint8_t b[64];
        size_t lead = s_frame(b, 0x81, 2, "{}");
        size_t n = lead + s_close(b + lead, bad[i], "", 0);
        s_bad_close(b, n, 1002, lead, lead + 6 + 1);
        n = lead + s_close(b + lead, bad[i], "why", 3);
        s_bad_close(b, n, 1002, lead, lead + 6 + 1);
    }
}

/* ---- outgoing accounting ----------------------------------------------- */

/* Write q[0..n) in the chunks that end at cuts[0..ncuts) and then at n,
 * starting with `first` bytes owed (an opaque prefix); after each write the
 * bytes owed must run to the next frame end (0 on one). */
static void
s_sent_chunks(const uint8_t *q, size_t n, size_t first, const size_t *ends, const size_t *cuts,
              size_t ncuts, const char *how)
{
    size_t partial = first, pos = 0;
    for (size_t j = 0; j <= ncuts; j++) {
        size_t end = j < ncuts ? cuts[j] : n;
        partial = wsf_sent(partial, q + pos, n - pos, end - pos);
        pos = end;
        size_t e = 0;
        while (ends[e] < pos)
            e++;
        cr_assert_eq(partial, ends[e] - pos, "%s: after %zu bytes %zu owed, expected %zu",
                     how, pos, partial, ends[e] - pos);
    }
}

Test(wsframe, sent_walks_whole_frames)
{
    /* an opaque 19-byte prefix (the 101), then unmasked server frames in
     * every length form, a masked frame and a close */
    static uint8_t q[2 * 65536 + 1024];
    static const uint64_t lens[] = { 0, 125, 126, 65535, 65536 };
    size_t ends[16] = { 0 }, ne = 0, n = 19;
    memset(q, 'H', n);
    ends[ne++] = n;
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++)
        ends[ne++] = n += s_raw(q + n, 0x81, 0, lens[i], 0, NULL, 1);
    ends[ne++] = n += s_raw(q + n, 0x89, 0, 3, 1, NULL, 1);
    ends[ne++] = n += s_raw(q + n, 0x88, 0, 2, 0, "\x03\xe8", 1);

    s_sent_chunks(q, n, 19, ends, NULL, 0, "whole");
    size_t *cuts = calloc(n, sizeof *cuts);
    cr_assert_not_null(cuts);
    for (size_t i = 1; i < n; i++)
        cuts[i - 1] = i;
    s_sent_chunks(q, n, 19, ends, cuts, n - 1, "1-byte");
    free(cuts);
    for (size_t i = 1; i < n; i++) {
        char how[32];
        snprintf(how, sizeof how, "split %zu", i);
        s_sent_chunks(q, n, 19, ends, &i, 1, how);
    }
}

Test(wsframe, sent_of_nothing_keeps_partial)
{
    uint8_t q[8] = { 0x81, 0x02, '{', '}' };
    cr_expect_eq(wsf_sent(0, q, 4, 0), 0);
    cr_expect_eq(wsf_sent(3, q, 4, 0), 3);
    cr_expect_eq(wsf_sent(0, q, 4, 1), 3, "one header byte of a 4-byte frame");
    cr_expect_eq(wsf_sent(3, q + 1, 3, 3), 0);
}

/* ---- the fast path (wsf_texts, wsf_utf8) -------------------------------- */

/* A masked client frame: header (FIN/opcode b0), mask, masked payload. */
static size_t
s_cframe(uint8_t *out, uint8_t b0, const char *payload, size_t n)
{
    static const uint8_t m[4] = { 0x37, 0xfa, 0x21, 0x3d };
    size_t h = 0;
    out[h++] = b0;
    if (n < 126) {
        out[h++] = (uint8_t)(0x80 | n);
    } else {
        out[h++] = 0x80 | 126;
        out[h++] = (uint8_t)(n >> 8);
        out[h++] = (uint8_t)n;
    }
    memcpy(out + h, m, 4);
    h += 4;
    for (size_t i = 0; i < n; i++)
        out[h + i] = (uint8_t)payload[i] ^ m[i & 3];
    return h + n;
}

Test(wsframe, fast_path_takes_whole_text_frames)
{
    uint8_t in[1024], out[1024];
    char big[300];
    memset(big, 'x', sizeof big);
    size_t n = s_cframe(in, 0x81, "{\"type\":\"chat\"}", 15);
    n += s_cframe(in + n, 0x81, big, sizeof big);
    n += s_cframe(in + n, 0x81, "h\xc3\xa9", 3);
    size_t lens[4];
    cr_assert_eq(wsf_texts(in, n, 65536, out, lens, 4), 3);
    cr_assert(lens[0] == 15 && lens[1] == 300 && lens[2] == 3);
    cr_assert(memcmp(out, "{\"type\":\"chat\"}", 15) == 0);
    cr_assert(memcmp(out + 15, big, 300) == 0);
    cr_assert(memcmp(out + 315, "h\xc3\xa9", 3) == 0);
    cr_assert_eq(wsf_texts(in, n, 65536, out, lens, 2), 0, "more frames than lens: a miss");
    cr_assert_eq(wsf_texts(in, n, 299, out, lens, 4), 0, "over max: the general way (1009)");
    for (size_t cut = 1; cut < n; cut++) {
        size_t whole = cut == 21 || cut == 329;  /* frame boundaries */
        size_t k = wsf_texts(in, cut, 65536, out, lens, 4);
        cr_assert(whole ? k > 0 : k == 0, "cut at %zu: %zu", cut, k);
    }
}

Test(wsframe, fast_path_refuses_everything_else)
{
    uint8_t in[256], out[256];
    size_t lens[4];
    size_t n = s_cframe(in, 0x01, "part", 4);                 /* FIN=0 */
    cr_assert_eq(wsf_texts(in, n, 65536, out, lens, 4), 0);
    n = s_cframe(in, 0x82, "bin", 3);                         /* binary */
    cr_assert_eq(wsf_texts(in, n, 65536, out, lens, 4), 0);
    n = s_cframe(in, 0x89, "p", 1);                           /* ping */
    cr_assert_eq(wsf_texts(in, n, 65536, out, lens, 4), 0);
    n = s_cframe(in, 0xc1, "rsv", 3);                         /* RSV1 */
    cr_assert_eq(wsf_texts(in, n, 65536, out, lens, 4), 0);
    n = s_cframe(in, 0x81, "\xc3(", 2);                       /* bad UTF-8: 1007 */
    cr_assert_eq(wsf_texts(in, n, 65536, out, lens, 4), 0);
    n = s_cframe(in, 0x81, "ok", 2);
    in[1] &= 0x7f;                                           /* unmasked: 1002 */
    cr_assert_eq(wsf_texts(in, n, 65536, out, lens, 4), 0);
    uint8_t nm[12] = { 0x81, 0x80 | 126, 0, 5, 1, 2, 3, 4, 'a', 'b', 'c', 'd' };
    cr_assert_eq(wsf_texts(nm, sizeof nm, 65536, out, lens, 4), 0, "non-minimal length");
}

Test(wsframe, utf8)
{
    cr_assert(wsf_utf8((const uint8_t *)"", 0));
    cr_assert(wsf_utf8((const uint8_t *)"plain ascii, longer than eight", 30));
    cr_assert(wsf_utf8((const uint8_t *)"\xe2\x82\xac\xf0\x9f\x98\x80", 7));
    cr_assert_not(wsf_utf8((const uint8_t *)"abcdefgh\xc0\x80", 10), "overlong");
    cr_assert_not(wsf_utf8((const uint8_t *)"\xed\xa0\x80", 3), "surrogate");
    cr_assert_not(wsf_utf8((const uint8_t *)"\xf4\x90\x80\x80", 4), "over U+10FFFF");
    cr_assert_not(wsf_utf8((const uint8_t *)"abc\xe2\x82", 5), "truncated");
}
