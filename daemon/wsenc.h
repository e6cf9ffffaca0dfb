/* wsenc — frames server messages once, for any number of recipients.
 *
 * A server wslay context that never sees a close keeps no per-connection
 * state, and server frames are unmasked, so the same bytes serve every
 * recipient: a delivered message is framed once and memcpy'd to each
 * connection's queue. wsenc_frame() appends the frame to out; 0, or -1 on
 * ENOMEM. Text and binary messages are framed here, byte for byte as wslay
 * frames them (one final frame); control frames go through wslay. One
 * encoder per process, freed by wsenc_free(). */
#ifndef ZWSD_WSENC_H
#define ZWSD_WSENC_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

typedef struct {
    void  *ctx;                 /* wslay_event_context_ptr, made on first use */
    buf_t *out;                 /* where the send callback appends */
} wsenc_t;

int  wsenc_frame(wsenc_t *e, buf_t *out, uint8_t opcode, const char *p, size_t n);
void wsenc_free(wsenc_t *e);

#endif
