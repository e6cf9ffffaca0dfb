/* test_wsframe — daemon/wsframe.c: the client-stream scanner fed whole, one
 * byte at a time and in every two-way split; each RFC 6455 violation it
 * must catch; boundaries; header and payload lengths.
 * Run: make build/test/test_wsframe && build/test/test_wsframe */
#include <criterion/criterion.h>
#include <string.h>

#include "wsframe.h"

/* A masked client frame (mask 0) into buf; returns its length. */
static size_t
s_frame(uint8_t *buf, uint8_t b0, uint64_t len)
{
    size_t h = 0;
    buf[h++] = b0;
    if (len < 126) {
        buf[h++] = (uint8_t)(0x80 | len);
    } else if (len < 65536) {
        buf[h++] = 0x80 | 126;
        buf[h++] = (uint8_t)(len >> 8);
        buf[h++] = (uint8_t)len;
    } else {
        buf[h++] = 0x80 | 127;
        for (int i = 7; i >= 0; i--)
            buf[h++] = (uint8_t)(len >> (8 * i));
    }
    memset(buf + h, 0, 4);
    h += 4;
    memset(buf + h, 'x', (size_t)len);
    return h + (size_t)len;
}

/* Feed n bytes in chunks of `step` (0: whole); returns the first code. */
static int
s_feed(wsf_scan_t *s, const uint8_t *p, size_t n, size_t step)
{
    size_t at;
    for (size_t i = 0; i < n;) {
        size_t k = step && n - i > step ? step : n - i;
        int bad = wsf_scan(s, p + i, k, &at);
        if (bad)
            return bad;
        i += k;
    }
    return 0;
}

static uint8_t big[70000 + 64];

static void
s_expect(const uint8_t *p, size_t n, int code, int boundary)
{
    for (size_t step = 0; step <= 2; step++) {
        wsf_scan_t s;
        memset(&s, 0, sizeof s);
        cr_expect_eq(s_feed(&s, p, n, step), code, "step %zu", step);
        if (!code)
            cr_expect_eq(wsf_at_boundary(&s), boundary, "step %zu", step);
    }
    for (size_t cut = 1; cut < n && n < 300; cut++) {     /* every 2-way split */
        wsf_scan_t s;
        memset(&s, 0, sizeof s);
        size_t at;
        int a = wsf_scan(&s, p, cut, &at);
        int b = a ? a : wsf_scan(&s, p + cut, n - cut, &at);
        cr_expect_eq(b, code, "cut %zu", cut);
    }
}

Test(wsframe, valid_frames_end_at_a_boundary)
{
    static const uint64_t lens[] = { 0, 125, 126, 65535, 65536 };
    for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
        size_t n = s_frame(big, 0x81, lens[i]);
        s_expect(big, n, 0, 1);
    }
}

Test(wsframe, fragments_with_a_ping_between)
{
    uint8_t b[256];
    size_t n = s_frame(b, 0x01, 3);
    n += s_frame(b + n, 0x89, 2);       /* ping inside a fragmented message */
    s_expect(b, n, 0, 0);               /* still inside the message */
    n += s_frame(b + n, 0x80, 3);
    s_expect(b, n, 0, 1);
}

Test(wsframe, control_frame_rules)
{
    uint8_t b[256];
    s_expect(b, s_frame(b, 0x89, 126), 1002, 0);         /* ping over 125 */
    s_expect(b, s_frame(b, 0x09, 1), 1002, 0);           /* fragmented ping */
    s_expect(b, s_frame(b, 0x88, 1), 1002, 0);           /* close with 1 byte */
    s_expect(b, s_frame(b, 0x88, 0), 0, 1);
    s_expect(b, s_frame(b, 0x88, 2), 0, 1);
    s_expect(b, s_frame(b, 0x8b, 0), 1002, 0);           /* reserved control */
}

Test(wsframe, data_frame_rules)
{
    uint8_t b[256];
    s_expect(b, s_frame(b, 0x83, 1), 1002, 0);           /* reserved opcode */
    s_expect(b, s_frame(b, 0xc1, 1), 1002, 0);           /* RSV1 */
    s_expect(b, s_frame(b, 0x80, 1), 1002, 0);           /* continuation of nothing */
    size_t n = s_frame(b, 0x01, 1);
    n += s_frame(b + n, 0x81, 1);                        /* new message inside one */
    s_expect(b, n, 1002, 0);
    uint8_t un[] = { 0x81, 0x01, 'x' };                  /* unmasked */
    s_expect(un, sizeof un, 1002, 0);
    uint8_t huge[14] = { 0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 };
    s_expect(huge, sizeof huge, 1002, 0);
}

Test(wsframe, bad_at_counts_the_bytes_before_the_bad_header)
{
    uint8_t b[256];
    size_t n = s_frame(b, 0x81, 5);
    size_t m = s_frame(b + n, 0x89, 126);
    wsf_scan_t s;
    memset(&s, 0, sizeof s);
    size_t at = 99;
    cr_expect_eq(wsf_scan(&s, b, n + m, &at), 1002);
    cr_expect_eq(at, n);
}

Test(wsframe, close_seen_and_lengths)
{
    uint8_t b[256];
    size_t n = s_frame(b, 0x88, 2);
    wsf_scan_t s;
    memset(&s, 0, sizeof s);
    size_t at;
    cr_expect_eq(wsf_scan(&s, b, n, &at), 0);
    cr_expect(s.close_seen);
    uint8_t out[] = { 0x81, 126, 0x01, 0x00 };           /* server frame, 256 */
    cr_expect_eq(wsf_header_len(out), 4);
    cr_expect_eq(wsf_payload_len(out), 256);
}
