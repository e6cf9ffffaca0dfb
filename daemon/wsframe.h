/* wsframe — the RFC 6455 frame-header logic conn.c needs beside wslay, with
 * one header decoder for both directions. Pure: bytes in, verdicts out; no
 * I/O, no allocation, no wslay. Worker process (conn.c); any caller may use
 * it on any bytes.
 *
 * Client input: wsf_scan() follows the client's byte stream chunk by chunk,
 * split anywhere (down to one byte), and tells
 *   - whether the stream is at a message boundary (wsf_at_boundary): no
 *     header half read, no payload still to come, no fragmented message
 *     open; only then may conn.c free its wslay context;
 *   - whether the client's close frame went by, whole and valid
 *     (wsf_close_seen), and its status code (wsf_close_code);
 *   - the first RFC 6455 violation and the close code it calls for. Header
 *     checks, each answered 1002 (5.2, 5.4, 5.5): an RSV bit set (no
 *     extension is negotiated), a reserved opcode (3-7, 0xB-0xF), an
 *     unmasked frame (5.1), a control frame with FIN=0 or a payload length
 *     over 125, a close frame with a 1-byte payload (5.5.1), a continuation
 *     with no message open, a text/binary frame while a fragmented message is
 *     open, a length not in its minimal form (126 for < 126, 127 for
 *     < 65536) or with the top bit of the 64-bit form set. Close payload
 *     (unmasked here, a byte at a time): a status code outside 1000-1003,
 *     1007-1014 and 3000-4999 is 1002 (7.4.1, 7.4.2, and the IANA registry
 *     for 1012-1014); a reason that is not UTF-8 is 1007 (8.1).
 * The client's close frame never reaches wslay: the scanner clears for wslay
 * only the bytes before it, and conn.c answers it with the same code. wslay
 * 1.1.1 gets closes wrong: it answers a 1-byte close with a close without
 * code, refuses the registered codes 1012-1014 with 1002, and checks the
 * reason's UTF-8 per received chunk, skipping the first two bytes of every
 * chunk, so a reason split across reads is misjudged both ways (a bad one
 * passes, a good one gets 1007). It also answers an oversized or fragmented
 * control frame and a bad length with a close without code, and its
 * wslay_event_recv() then fails (the conn was dropped with no close frame).
 * Left to wslay, which answers them right: UTF-8 of text messages (1007) and
 * the message size limit (1009).
 *
 * Outgoing (server frames, unmasked): wsf_sent() advances over the bytes the
 * socket took and returns how much of the head frame is still owed.
 *
 * A zeroed wsf_scan_t is a fresh stream, at a boundary. 24 bytes: it lives in
 * every connection. */
#ifndef ZWSD_WSFRAME_H
#define ZWSD_WSFRAME_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t left;          /* in a header: its extended length so far;
                             * after it: payload bytes still to come */
    uint8_t  mask[4];       /* the frame's masking key */
    uint8_t  b0, b1;        /* the frame's first two header bytes */
    uint8_t  have;          /* header bytes read; 0 outside a header */
    uint8_t  st;            /* flags and the close reason's UTF-8 state (.c) */
    uint16_t code;          /* the close frame's status code, 0 for none */
} wsf_scan_t;

/* Scan n client bytes. *good is how many leading bytes of p may be handed to
 * wslay: those before the first frame that broke the rules or is a close
 * frame (0 when that frame began in an earlier chunk), else all n. Returns
 * 0, or the close code of the first violation (1002 or 1007). A violation
 * and a whole close frame are final: later calls return the same (0 after a
 * close) with *good = 0 and look at nothing, as nothing may follow a close. */
uint16_t wsf_scan(wsf_scan_t *s, const uint8_t *p, size_t n, size_t *good);

/* 1 when the bytes so far end exactly at a message boundary (see above);
 * 0 inside a frame or a fragmented message, and after a violation or a
 * close. */
int      wsf_at_boundary(const wsf_scan_t *s);

/* 1 once a whole, valid close frame has gone by (no violation before). */
int      wsf_close_seen(const wsf_scan_t *s);
/* That close frame's status code, 0 when it had none (an empty payload). */
uint16_t wsf_close_code(const wsf_scan_t *s);

/* The fast path of an idle connection (no wslay context): when p[0..n) is
 * one or more whole frames, each a final, masked, unextended text frame of
 * at most max payload bytes in its minimal length form, wsf_texts()
 * unmasks every payload into out (room for n bytes), checks it is UTF-8,
 * and returns how many messages there are, with each one's length in
 * lens[] (at most nlens; more frames than that is a miss). 0 means "not
 * that simple" (a partial frame, a control frame, a fragment, a bad
 * length or bad UTF-8): feed the bytes the general way, which answers
 * them as RFC 6455 says. The messages lie back to back in out. */
size_t   wsf_texts(const uint8_t *p, size_t n, uint64_t max, uint8_t *out, size_t *lens,
                   size_t nlens);
/* 1 when p[0..n) is UTF-8 (RFC 3629), else 0. */
int      wsf_utf8(const uint8_t *p, size_t n);

/* Outgoing accounting. q (qlen bytes) is the output queue as it was when the
 * socket took n <= qlen bytes of it: `partial` bytes that finish a frame
 * begun earlier (or any opaque prefix, such as the HTTP 101), then whole
 * frames. Returns the bytes of the frame at q + n still owed to the peer:
 * 0 when n ended on a frame boundary. */
size_t   wsf_sent(size_t partial, const uint8_t *q, size_t qlen, size_t n);

#endif
