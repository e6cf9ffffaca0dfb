/* wsframe — the WebSocket frame-header logic conn.c needs beside wslay:
 * an incremental scanner over client bytes (where messages end, where a
 * close frame goes by, and the RFC 6455 violations wslay answers with a bare
 * TCP close), and the length of a frame from its header for the outgoing
 * accounting. Pure: bytes in, verdicts out; no I/O.
 *
 * wsf_scan() follows the client stream chunk by chunk (any split, down to
 * one byte). It returns 0, or the close code a violation calls for (1002)
 * with *bad_at set to how many bytes of this chunk precede the bad frame's
 * header (0 when it began in an earlier chunk); bytes after a violation are
 * not looked at. Checked once a header is complete (RFC 6455 5.2, 5.4, 5.5):
 * RSV bits without an extension, reserved opcodes, an unmasked client
 * frame, a control frame with FIN=0 or a payload over 125 bytes, a close
 * frame with a 1-byte payload, a continuation with no message open, a new
 * data frame while one is open, a 64-bit length with its top bit set. */
#ifndef ZWSD_WSFRAME_H
#define ZWSD_WSFRAME_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint64_t left;              /* payload bytes of the current frame to skip */
    uint8_t  hdr[14];
    uint8_t  have, need;
    uint8_t  frag;              /* inside a fragmented message */
    uint8_t  close_seen;        /* a close frame's header went by */
} wsf_scan_t;

int      wsf_scan(wsf_scan_t *s, const uint8_t *p, size_t n, size_t *bad_at);
int      wsf_at_boundary(const wsf_scan_t *s);
/* The violation code of a complete client header (0 if none); frag_open:
 * a fragmented message is open. */
uint16_t wsf_check(const uint8_t *hdr, int frag_open);
/* Header and payload length of the frame whose complete header is at h. */
size_t   wsf_header_len(const uint8_t *h);
uint64_t wsf_payload_len(const uint8_t *h);

#endif
