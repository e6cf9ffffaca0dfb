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
 *   - whether a close frame went by (wsf_close_seen);
 *   - the first RFC 6455 violation and the close code it calls for. Header
 *     checks, each answered 1002 (5.2, 5.4, 5.5): an RSV bit set (no
 *     extension is negotiated), a reserved opcode (3-7, 0xB-0xF), an
 *     unmasked frame (5.1), a control frame with FIN=0 or a payload length
 *     over 125, a close frame with a 1-byte payload (5.5.1), a continuation
 *     with no message open, a text/binary frame while a fragmented message is
 *     open, a length not in its minimal form (126 for < 126, 127 for
 *     < 65536) or with the top bit of the 64-bit form set. Close payload:
 *     the reason after the 2-byte code is unmasked and must be UTF-8, else
 *     1007 (7.4.1, 8.1).
 * Not checked here, because wslay already answers them right: the close
 * code's range (1002), UTF-8 of text messages (1007), the message size
 * limit (1009). Why the rest is checked here: wslay answers an oversized or
 * fragmented control frame and a bad length with a close frame without
 * code (and wslay_event_recv() fails, so the conn is dropped), a 1-byte close
 * with a close without code, and checks a close reason's UTF-8 per received
 * chunk, skipping the first two bytes of every chunk: a bad reason split
 * across reads passes (caught here), and a good one split so may still be
 * answered 1007 by wslay (not fixable from outside; a close frame is small
 * and rarely split).
 *
 * Outgoing (server frames, unmasked): wsf_sent() advances over the bytes the
 * socket took and returns how much of the head frame is still owed.
 *
 * A zeroed wsf_scan_t is a fresh stream, at a boundary. 16 bytes: it lives in
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
} wsf_scan_t;

/* Scan n client bytes. Returns 0, with *good = n; or the close code of the
 * first violation (1002 or 1007), with *good = the bytes of p before the
 * frame that broke the rules (0 when that frame began in an earlier chunk):
 * those, and only those, may still be handed to wslay. A violation is final:
 * later calls return the same code with *good = 0 and look at nothing. */
uint16_t wsf_scan(wsf_scan_t *s, const uint8_t *p, size_t n, size_t *good);

/* 1 when the bytes so far end exactly at a message boundary (see above);
 * 0 inside a frame or a fragmented message, and after a violation. */
int      wsf_at_boundary(const wsf_scan_t *s);

/* 1 once a close frame's header has gone by (with no violation before). */
int      wsf_close_seen(const wsf_scan_t *s);

/* Outgoing accounting. q (qlen bytes) is the output queue as it was when the
 * socket took n <= qlen bytes of it: `partial` bytes that finish a frame
 * begun earlier (or any opaque prefix, such as the HTTP 101), then whole
 * frames. Returns the bytes of the frame at q + n still owed to the peer:
 * 0 when n ended on a frame boundary. */
size_t   wsf_sent(size_t partial, const uint8_t *q, size_t qlen, size_t n);

#endif
