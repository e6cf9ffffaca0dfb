/* wsframe — see wsframe.h.
 *
 * One decoder, s_hdr_byte(), takes a frame header a byte at a time: the
 * client scanner feeds it the stream as it comes, the outgoing accounting
 * feeds it the header at the head of the queue. The client checks run on
 * top of it as soon as the byte they need has arrived, so a bad frame is
 * refused before the rest of its header comes. A close frame's payload
 * (at most 125 bytes) is unmasked a byte at a time: its code is kept in
 * s->code, its reason only goes through the UTF-8 automaton. */
#include "wsframe.h"

#include <assert.h>
#include <string.h>

/* wsf_scan_t.st: bits 0-3 flags, bits 4-6 the UTF-8 state of a close
 * reason (s_utf8). */
enum {
    ST_FRAG  = 0x01,        /* a fragmented message is open */
    ST_CLOSE = 0x02,        /* a whole, valid close frame went by: stop */
    ST_E1002 = 0x04,        /* failed: protocol error */
    ST_E1007 = 0x08,        /* failed: invalid UTF-8 */
    ST_U8    = 0x70,        /* UTF-8 state, 0 = between characters */
};
#define ST_U8_SHIFT 4

enum { OP_CONT = 0x0, OP_BINARY = 0x2, OP_CLOSE = 0x8, OP_PONG = 0xA };

/* Extended length bytes after the second header byte: 0, 2 or 8. */
static unsigned
s_ext_len(uint8_t b1)
{
    uint8_t l7 = b1 & 0x7f;
    return l7 == 126 ? 2 : l7 == 127 ? 8 : 0;
}

/* Whole header length: 2, 4 or 10, plus 4 for a masking key. */
static unsigned
s_hdr_len(uint8_t b1)
{
    return 2 + s_ext_len(b1) + ((b1 & 0x80) ? 4 : 0);
}

/* The shared decoder: one header byte into s. Returns 1 when the header is
 * complete: s->left is then the payload length, s->have is 0 again. */
static int
s_hdr_byte(wsf_scan_t *s, uint8_t b)
{
    unsigned at = s->have++;
    if (at == 0) {
        s->b0 = b;
        return 0;
    }
    if (at == 1) {
        s->b1 = b;
        s->left = (b & 0x7f) < 126 ? (b & 0x7f) : 0;
    } else if (at < 2 + s_ext_len(s->b1)) {
        s->left = s->left << 8 | b;             /* network byte order */
    } else {
        s->mask[at - 2 - s_ext_len(s->b1)] = b;
    }
    if (s->have < s_hdr_len(s->b1))
        return 0;
    s->have = 0;
    return 1;
}

/* The first header byte of a client frame (5.2, 5.4, 5.5). */
static uint16_t
s_check_b0(const wsf_scan_t *s)
{
    uint8_t op = s->b0 & 0x0f;
    int fin = s->b0 & 0x80, frag = s->st & ST_FRAG;
    if (s->b0 & 0x70)                           /* RSV1-3: no extension */
        return 1002;
    if (op >= OP_CLOSE)                         /* control: never fragmented */
        return op > OP_PONG || !fin ? 1002 : 0;
    if (op > OP_BINARY)                         /* reserved data opcodes */
        return 1002;
    if (op == OP_CONT ? !frag : frag)           /* continuation of nothing, */
        return 1002;                            /* or a message inside one */
    return 0;
}

/* The second: mask bit and 7-bit length. */
static uint16_t
s_check_b1(const wsf_scan_t *s)
{
    uint8_t op = s->b0 & 0x0f, l7 = s->b1 & 0x7f;
    if (!(s->b1 & 0x80))                        /* clients mask (5.1) */
        return 1002;
    if (op >= OP_CLOSE && l7 > 125)
        return 1002;
    if (op == OP_CLOSE && l7 == 1)              /* half a status code */
        return 1002;
    return 0;
}

/* The whole header: the length in its minimal form, 63 bits at most. */
static uint16_t
s_check_len(const wsf_scan_t *s)
{
    uint8_t l7 = s->b1 & 0x7f;
    if (l7 == 126 && s->left < 126)
        return 1002;
    if (l7 == 127 && (s->left >> 63 || s->left < 65536))
        return 1002;
    return 0;
}

/* UTF-8 (RFC 3629: no overlong forms, no surrogates, at most U+10FFFF) one
 * byte at a time. States: 0 between characters; 1-3 that many continuation
 * bytes (80-BF) to come; 4-7 the second byte of E0 (A0-BF), ED (80-9F), F0
 * (90-BF), F4 (80-8F). Returns the next state, or -1. */
static int
s_utf8(int st, uint8_t b)
{
    switch (st) {
    case 0:
        if (b < 0x80)
            return 0;
        if (b < 0xc2)
            return -1;                          /* continuation, overlong */
        if (b < 0xe0)
            return 1;
        if (b == 0xe0)
            return 4;
        if (b == 0xed)
            return 5;
        if (b < 0xf0)
            return 2;
        if (b == 0xf0)
            return 6;
        if (b < 0xf4)
            return 3;
        return b == 0xf4 ? 7 : -1;
    case 4:
        return b >= 0xa0 && b <= 0xbf ? 1 : -1;
    case 5:
        return b >= 0x80 && b <= 0x9f ? 1 : -1;
    case 6:
        return b >= 0x90 && b <= 0xbf ? 2 : -1;
    case 7:
        return b >= 0x80 && b <= 0x8f ? 2 : -1;
    default:
        return (b & 0xc0) == 0x80 ? st - 1 : -1;
    }
}

/* Status codes a client may send (RFC 6455 7.4.1-7.4.2; 1012-1014 are
 * registered with IANA since): not 1004-1006 or 1015, which are never sent,
 * and nothing else below 3000, which is reserved for the protocol. */
static int
s_code_ok(uint16_t code)
{
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014)
           || (code >= 3000 && code <= 4999);
}

/* One payload byte of a close frame (at most 125 of them, so the offset is
 * the 7-bit length minus what is left). Bytes 0-1 are the code, the rest
 * the reason, which must be UTF-8, complete at the frame's end. At the end
 * of a valid frame ST_CLOSE is set. Returns 0 or the violation's code. */
static uint16_t
s_close_byte(wsf_scan_t *s, uint8_t b)
{
    unsigned pos = (unsigned)((s->b1 & 0x7f) - s->left);
    int u = (s->st & ST_U8) >> ST_U8_SHIFT;
    b ^= s->mask[pos & 3];
    s->left--;
    if (pos == 0) {
        s->code = (uint16_t)(b << 8);
    } else if (pos == 1) {
        s->code |= b;
        if (!s_code_ok(s->code))
            return 1002;
    } else if ((u = s_utf8(u, b)) < 0) {
        return 1007;
    }
    s->st = (uint8_t)((s->st & ~ST_U8) | u << ST_U8_SHIFT);
    if (s->left > 0)
        return 0;
    if (u != 0)
        return 1007;                            /* a character cut short */
    s->st |= ST_CLOSE;
    return 0;
}

/* A client header is complete and valid: the frame begins. */
static void
s_frame_begins(wsf_scan_t *s)
{
    uint8_t op = s->b0 & 0x0f;
    if (op < OP_CLOSE)                          /* data frame: FIN decides */
        s->st = (uint8_t)((s->b0 & 0x80) ? s->st & ~ST_FRAG : s->st | ST_FRAG);
    if (op == OP_CLOSE) {
        s->st &= (uint8_t)~ST_U8;
        s->code = 0;
        if (s->left == 0)
            s->st |= ST_CLOSE;                  /* no payload: no code */
    }
}

/* Inside a close frame (its header or payload), begun in an earlier chunk. */
static int
s_in_close(const wsf_scan_t *s)
{
    return (s->have > 0 || s->left > 0) && (s->b0 & 0x0f) == OP_CLOSE;
}

uint16_t
wsf_scan(wsf_scan_t *s, const uint8_t *p, size_t n, size_t *good)
{
    size_t frame_at = 0;                        /* 0: began in an earlier chunk */
    size_t clear = s_in_close(s) ? 0 : n;       /* bytes for wslay */
    uint16_t bad = s->st & ST_E1007 ? 1007 : s->st & ST_E1002 ? 1002 : 0;
    if (bad || (s->st & ST_CLOSE)) {
        *good = 0;
        return bad;
    }
    size_t i = 0;
    while (i < n && !bad && !(s->st & ST_CLOSE)) {
        if (s->have == 0 && s->left == 0)
            frame_at = i;                       /* a new frame starts here */
        if (s->have == 0 && s->left > 0) {      /* payload */
            if ((s->b0 & 0x0f) == OP_CLOSE) {
                bad = s_close_byte(s, p[i++]);
            } else {
                size_t k = n - i < s->left ? n - i : (size_t)s->left;
                s->left -= k;
                i += k;
            }
            continue;
        }
        unsigned at = s->have;
        int done = s_hdr_byte(s, p[i++]);
        if (at == 0) {
            bad = s_check_b0(s);
            if (!bad && (s->b0 & 0x0f) == OP_CLOSE)
                clear = i - 1;                  /* wslay never sees a close */
        } else if (at == 1) {
            bad = s_check_b1(s);
        }
        if (!bad && done && !(bad = s_check_len(s)))
            s_frame_begins(s);
    }
    if (bad) {
        s->st |= bad == 1007 ? ST_E1007 : ST_E1002;
        *good = frame_at < clear ? frame_at : clear;
        return bad;
    }
    *good = clear;
    return 0;
}

int
wsf_at_boundary(const wsf_scan_t *s)
{
    return s->have == 0 && s->left == 0
           && !(s->st & (ST_FRAG | ST_CLOSE | ST_E1002 | ST_E1007));
}

int
wsf_close_seen(const wsf_scan_t *s)
{
    return (s->st & ST_CLOSE) != 0;
}

uint16_t
wsf_close_code(const wsf_scan_t *s)
{
    return s->st & ST_CLOSE ? s->code : 0;
}

size_t
wsf_sent(size_t partial, const uint8_t *q, size_t qlen, size_t n)
{
    assert(n <= qlen);
    size_t pos = 0;
    while (pos < n) {
        if (partial == 0) {                     /* a frame starts at q + pos */
            wsf_scan_t h = { 0 };
            size_t k = 0;
            do {
                assert(pos + k < qlen);         /* the queue holds whole frames */
            } while (!s_hdr_byte(&h, q[pos + k++]));
            partial = k + (size_t)h.left;
        }
        size_t k = n - pos < partial ? n - pos : partial;
        partial -= k;
        pos += k;
    }
    return partial;
}

/* ---- the fast path ----------------------------------------------------- */

int
wsf_utf8(const uint8_t *p, size_t n)
{
    size_t i = 0;
    int st = 0;
    while (i < n) {
        if (st == 0 && i + 8 <= n) {
            uint64_t w;
            memcpy(&w, p + i, 8);
            if (!(w & 0x8080808080808080ULL)) {
                i += 8;                         /* eight ASCII bytes */
                continue;
            }
        }
        if ((st = s_utf8(st, p[i++])) < 0)
            return 0;
    }
    return st == 0;
}

static void
s_unmask(uint8_t *dst, const uint8_t *src, size_t n, const uint8_t m[4])
{
    uint32_t k;
    memcpy(&k, m, 4);
    uint64_t k8 = (uint64_t)k << 32 | k;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, src + i, 8);
        w ^= k8;
        memcpy(dst + i, &w, 8);
    }
    for (; i < n; i++)
        dst[i] = src[i] ^ m[i & 3];
}

size_t
wsf_texts(const uint8_t *p, size_t n, uint64_t max, uint8_t *out, size_t *lens, size_t nlens)
{
    size_t k = 0, off = 0, o = 0;
    while (off < n) {
        if (k == nlens || n - off < 6 || p[off] != 0x81 || !(p[off + 1] & 0x80))
            return 0;                           /* FIN, no RSV, text; masked */
        uint64_t len = p[off + 1] & 0x7f;
        size_t h = 2;
        if (len == 126) {
            if (n - off < 8)
                return 0;
            len = (uint64_t)p[off + 2] << 8 | p[off + 3];
            if (len < 126)
                return 0;                       /* not minimal: RFC 6455 5.2 */
            h = 4;
        } else if (len == 127) {
            return 0;                           /* > 64 KiB: the general way */
        }
        if (len > max || n - off - h - 4 < len)
            return 0;
        const uint8_t *mask = p + off + h;
        s_unmask(out + o, mask + 4, (size_t)len, mask);
        if (!wsf_utf8(out + o, (size_t)len))
            return 0;
        lens[k++] = (size_t)len;
        o += (size_t)len;
        off += h + 4 + (size_t)len;
    }
    return k;
}
