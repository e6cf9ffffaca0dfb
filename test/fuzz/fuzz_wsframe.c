/* fuzz_wsframe — daemon/wsframe.c: the client-stream scanner and the
 * outgoing accounting.
 *
 * Input: the fz_splits() header (fuzz.h), then client bytes. The stream is
 * scanned one byte per call, whole, and split at the chosen points. Checked:
 *   - the whole-stream verdict (code, bytes cleared for wslay, boundary,
 *     close seen and its code) against s_ref(), a second, independent
 *     reading of RFC 6455 and wsframe.h written for this target;
 *   - every chunking against the byte-by-byte run: the same verdict,
 *     reported by the chunk holding the byte that decides it, the same
 *     boundary and close state after every chunk, and the cleared bytes
 *     wsframe.h promises (a violating frame begun in an earlier chunk was
 *     cleared up to that chunk; a close frame never);
 *   - a decided stream stays decided and clears nothing more.
 * Flags (byte 0's high nibble), when not 0, also check wsf_sent(): an
 * opaque prefix and flags & 3 server frames, sized from the first stream
 * bytes (all three length forms), taken by the socket in writes cut at the
 * same points scaled to the queue; each call must return the bytes owed up
 * to the next frame boundary.
 * Run: make fuzz FUZZ_TARGETS=wsframe, or build/fuzz/fuzz_wsframe DIR */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "wsframe.h"

/* ---- the reference ---------------------------------------------------- */

typedef struct {
    uint16_t code;          /* 0, 1002 or 1007 */
    size_t   good;          /* bytes wslay may see */
    int      boundary, close;
    uint16_t close_code;
} verdict_t;

/* Valid so far: p[0..n) is a prefix of some UTF-8 text (Unicode Table 3-7,
 * well-formed byte sequences). *whole: it also ends between characters. */
static int
s_utf8_prefix(const uint8_t *p, size_t n, int *whole)
{
    size_t i = 0;
    *whole = 1;
    while (i < n) {
        uint8_t b = p[i];
        size_t need;
        uint8_t lo = 0x80, hi = 0xbf;           /* range of the second byte */
        if (b <= 0x7f) {
            i++;
            continue;
        } else if (b >= 0xc2 && b <= 0xdf) {
            need = 1;
        } else if (b >= 0xe0 && b <= 0xef) {
            need = 2;
            if (b == 0xe0) lo = 0xa0;
            if (b == 0xed) hi = 0x9f;
        } else if (b >= 0xf0 && b <= 0xf4) {
            need = 3;
            if (b == 0xf0) lo = 0x90;
            if (b == 0xf4) hi = 0x8f;
        } else {
            return 0;
        }
        for (size_t k = 1; k <= need; k++) {
            if (i + k >= n) {
                *whole = 0;
                return 1;                       /* cut short, fine so far */
            }
            uint8_t c = p[i + k];
            if (k == 1 ? (c < lo || c > hi) : (c & 0xc0) != 0x80)
                return 0;
        }
        i += need + 1;
    }
    return 1;
}

static int
s_code_allowed(unsigned c)
{
    return (c >= 1000 && c <= 1003) || (c >= 1007 && c <= 1014) || (c >= 3000 && c <= 4999);
}

/* The verdict for the whole stream p[0..n), frame by frame. */
static verdict_t
s_ref(const uint8_t *p, size_t n)
{
    verdict_t v = { 0, n, 0, 0, 0 };
    size_t pos = 0;
    int frag = 0;
    while (pos < n) {
        size_t fs = pos;
        uint8_t b0 = p[pos], op = b0 & 0x0f;
        int fin = b0 >> 7, control = op >= 8;
        int bad = (b0 & 0x70) || (control ? op > 0xa || !fin
                                          : op > 2 || (op == 0) != (frag != 0));
        if (bad) goto e1002;
        if (n - pos < 2) goto partial;
        uint8_t b1 = p[pos + 1], l7 = b1 & 0x7f;
        if (!(b1 & 0x80) || (control && l7 > 125) || (op == 8 && l7 == 1)) goto e1002;
        size_t ext = l7 == 126 ? 2 : l7 == 127 ? 8 : 0;
        if (n - pos < 2 + ext + 4) goto partial;
        uint64_t len = l7 < 126 ? l7 : 0;
        for (size_t i = 0; i < ext; i++)
            len = len << 8 | p[pos + 2 + i];
        if ((l7 == 126 && len < 126) || (l7 == 127 && (len < 65536 || len >> 63))) goto e1002;
        const uint8_t *mask = p + pos + 2 + ext;
        size_t h = pos + 2 + ext + 4, have = n - h;
        if (op == 8) {
            uint8_t pl[125];
            size_t k = have < len ? have : (size_t)len;
            for (size_t i = 0; i < k; i++)
                pl[i] = p[h + i] ^ mask[i & 3];
            unsigned code = k >= 2 ? (unsigned)pl[0] << 8 | pl[1] : 0;
            if (k >= 2 && !s_code_allowed(code)) goto e1002;
            int whole = 1;
            if (k > 2 && !s_utf8_prefix(pl + 2, k - 2, &whole)) goto e1007;
            if (k < len) goto partial;
            if (!whole) goto e1007;
            v.good = fs;
            v.close = 1;
            v.close_code = (uint16_t)code;
            return v;
        }
        if (len > have) {
            pos = n;
            v.boundary = 0;
            return v;                           /* payload still to come */
        }
        if (!control)
            frag = !fin;
        pos = h + (size_t)len;
    }
    v.boundary = !frag;
    return v;
partial:                                        /* a header or close cut short */
    v.good = (p[pos] & 0x0f) == 8 ? pos : n;
    return v;
e1007:
    v.code = 1007;
    v.good = pos;
    return v;
e1002:
    v.code = 1002;
    v.good = pos;
    return v;
}

/* ---- running the scanner ---------------------------------------------- */

typedef struct {
    uint16_t code;
    size_t   good;          /* summed over the chunks */
    size_t   decided_at;    /* the start of the chunk that returned code */
    size_t   decided_end;
    wsf_scan_t s;
} run_t;

/* Scans p[0..len) one byte per call (bytewise), or in chunks ending at
 * ends[0..k) and then len, plus an empty chunk. bnd[] and cls[] (len + 1
 * each) hold wsf_at_boundary() and wsf_close_seen() after every prefix: the
 * bytewise run fills them, the others must agree after each chunk. */
static void
s_scan(const uint8_t *p, size_t len, const size_t *ends, size_t k, int bytewise,
       uint8_t *bnd, uint8_t *cls, run_t *r)
{
    memset(r, 0, sizeof *r);
    size_t at = 0, nfeeds = bytewise ? len + 1 : k + 2;
    if (bytewise) {
        bnd[0] = (uint8_t)wsf_at_boundary(&r->s);
        cls[0] = (uint8_t)wsf_close_seen(&r->s);
    }
    for (size_t f = 0; f < nfeeds; f++) {
        size_t end = bytewise ? (f < len ? f + 1 : len) : f < k ? ends[f] : len;
        size_t n = end - at, good = (size_t)-1;
        int closed = wsf_close_seen(&r->s);
        uint16_t c = wsf_scan(&r->s, p + at, n, &good);
        FZ_CHECK(c == 0 || c == 1002 || c == 1007);
        FZ_CHECK(good <= n);
        if (r->code || closed) {                /* decided: final */
            FZ_CHECK(c == r->code && good == 0);
        } else if (c) {
            r->code = c;
            r->decided_at = at;
            r->decided_end = end;
        }
        if (c)
            FZ_CHECK(!wsf_close_seen(&r->s));
        r->good += good;
        FZ_CHECK(!(wsf_at_boundary(&r->s) && (c || wsf_close_seen(&r->s))));
        if (!wsf_close_seen(&r->s))
            FZ_CHECK(wsf_close_code(&r->s) == 0);
        if (bytewise) {
            bnd[end] = (uint8_t)wsf_at_boundary(&r->s);
            cls[end] = (uint8_t)wsf_close_seen(&r->s);
        } else {
            FZ_CHECK(bnd[end] == wsf_at_boundary(&r->s));
            FZ_CHECK(cls[end] == wsf_close_seen(&r->s));
        }
        at = end;
    }
}

/* ---- outgoing --------------------------------------------------------- */

/* Up to 3 unmasked server frames after a prefix; the socket takes the queue
 * in writes ending at cuts[]; each wsf_sent() must report the bytes to the
 * next frame boundary. */
static void
s_outgoing(const uint8_t *p, size_t len, const size_t *cuts, size_t k, unsigned flags)
{
    size_t nframes = flags & 3, sizes[4], bounds[5], total = 0;
    size_t prefix = len > 0 ? p[0] : 0;         /* opaque: the HTTP 101, a frame's tail */
    bounds[0] = prefix;
    total = prefix;
    for (size_t i = 0; i < nframes; i++) {
        uint8_t b = i + 1 < len ? p[i + 1] : (uint8_t)i;
        sizes[i] = b < 0x80 ? b : b < 0xc0 ? 126 + (size_t)(b & 0x3f) * 1021
                                           : 65536 + (size_t)(b & 0x3f);
        size_t hdr = sizes[i] < 126 ? 2 : sizes[i] < 65536 ? 4 : 10;
        total += hdr + sizes[i];
        bounds[i + 1] = total;
    }
    uint8_t *q = calloc(1, total + 1);
    FZ_CHECK(q != NULL);
    size_t w = prefix;
    for (size_t i = 0; i < nframes; i++) {
        uint64_t n = sizes[i];
        q[w++] = 0x81;
        if (n < 126) {
            q[w++] = (uint8_t)n;
        } else if (n < 65536) {
            q[w++] = 126;
            q[w++] = (uint8_t)(n >> 8);
            q[w++] = (uint8_t)n;
        } else {
            q[w++] = 127;
            for (int s = 56; s >= 0; s -= 8)
                q[w++] = (uint8_t)(n >> s);
        }
        w += sizes[i];
    }
    FZ_CHECK(w == total);
    size_t taken = 0, partial = prefix;
    for (size_t i = 0; i <= k; i++) {
        /* cut offsets are into the client stream; scale them onto the queue */
        size_t end = i < k ? (len ? cuts[i] * total / len : 0) : total;
        if (end < taken)
            end = taken;
        size_t n = end - taken;
        partial = wsf_sent(partial, q + taken, total - taken, n);
        taken = end;
        size_t next = total;
        for (size_t b = 0; b <= nframes; b++)
            if (bounds[b] >= taken) {
                next = bounds[b];
                break;
            }
        FZ_CHECK(partial == next - taken);
    }
    FZ_CHECK(partial == 0);
    free(q);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t len, cuts[FZ_CUTS_MAX], ncuts;
    unsigned flags;
    const uint8_t *p = fz_splits(data, size, &len, cuts, &ncuts, &flags);
    if (!p)
        return 0;
    uint8_t *bnd = malloc(len + 1), *cls = malloc(len + 1);
    FZ_CHECK(bnd && cls);
    run_t bytes, whole, split;
    s_scan(p, len, NULL, 0, 1, bnd, cls, &bytes);
    s_scan(p, len, NULL, 0, 0, bnd, cls, &whole);
    s_scan(p, len, cuts, ncuts, 0, bnd, cls, &split);

    verdict_t v = s_ref(p, len);
    FZ_CHECK(whole.code == v.code && whole.good == v.good);
    FZ_CHECK(wsf_at_boundary(&whole.s) == v.boundary);
    FZ_CHECK(wsf_close_seen(&whole.s) == v.close);
    FZ_CHECK(wsf_close_code(&whole.s) == v.close_code);

    /* One byte per call: the byte that decides is the one fed. */
    FZ_CHECK(bytes.code == v.code);
    FZ_CHECK(wsf_close_code(&bytes.s) == v.close_code);
    FZ_CHECK(split.code == v.code);
    FZ_CHECK(wsf_close_code(&split.s) == v.close_code);
    if (v.code) {
        size_t d = bytes.decided_at;            /* the deciding byte */
        FZ_CHECK(split.decided_at <= d && d < split.decided_end);
        /* cleared: up to the bad frame, or up to the chunk that saw the
         * violation when the frame began before it; a close frame never */
        int close = (p[v.good] & 0x0f) == 8;
        size_t want = close || split.decided_at < v.good ? v.good : split.decided_at;
        FZ_CHECK(split.good == want);
        want = close || bytes.decided_at < v.good ? v.good : bytes.decided_at;
        FZ_CHECK(bytes.good == want);
    } else {
        FZ_CHECK(split.good == v.good && bytes.good == v.good);
    }

    if (flags)
        s_outgoing(p, len, cuts, ncuts, flags);
    free(bnd);
    free(cls);
    return 0;
}
