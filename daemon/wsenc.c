/* wsenc — see wsenc.h. */
#include "wsenc.h"

#include <stdint.h>
#include <wslay/wslay.h>

static ssize_t
s_send(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags, void *ud)
{
    wsenc_t *e = ud;
    (void)flags;
    if (buf_append(e->out, data, len) < 0) {
        wslay_event_set_error(ctx, WSLAY_ERR_NOMEM);
        return -1;
    }
    return (ssize_t)len;
}

static ssize_t
s_recv(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags, void *ud)
{
    (void)buf; (void)len; (void)flags; (void)ud;
    wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
    return -1;
}

/* A text or binary message as one final, unmasked frame (RFC 6455 5.2),
 * the bytes wslay_event_queue_msg() + wslay_event_send() write for it
 * (test_wsenc compares them), without wslay's queue: it mallocs, copies
 * and frees each message, and every delivered message is one. */
static int
s_data_frame(buf_t *out, uint8_t opcode, const char *p, size_t n)
{
    unsigned char h[10];
    size_t hn;
    h[0] = (unsigned char)(0x80 | opcode);
    if (n <= 125) {
        h[1] = (unsigned char)n;
        hn = 2;
    } else if (n <= 0xffff) {
        h[1] = 126;
        h[2] = (unsigned char)(n >> 8);
        h[3] = (unsigned char)n;
        hn = 4;
    } else {
        h[1] = 127;
        for (int i = 0; i < 8; i++)
            h[2 + i] = (unsigned char)((uint64_t)n >> (56 - 8 * i));
        hn = 10;
    }
    if (n > SIZE_MAX - hn || buf_reserve(out, hn + n) < 0)
        return -1;
    buf_append(out, h, hn);             /* reserved: cannot fail */
    buf_append(out, p, n);
    return 0;
}

int
wsenc_frame(wsenc_t *e, buf_t *out, uint8_t opcode, const char *p, size_t n)
{
    if (opcode == WSLAY_TEXT_FRAME || opcode == WSLAY_BINARY_FRAME)
        return s_data_frame(out, opcode, p, n);
    /* control frames (rare): wslay checks and frames them */
    static const struct wslay_event_callbacks cb = { .recv_callback = s_recv,
                                                     .send_callback = s_send };
    if (!e->ctx && wslay_event_context_server_init((wslay_event_context_ptr *)&e->ctx, &cb, e)) {
        e->ctx = NULL;
        return -1;
    }
    struct wslay_event_msg m = { opcode, (const uint8_t *)p, n };
    e->out = out;
    int rc = wslay_event_queue_msg(e->ctx, &m) || wslay_event_send(e->ctx);
    e->out = NULL;
    return rc ? -1 : 0;
}

void
wsenc_free(wsenc_t *e)
{
    if (e->ctx)
        wslay_event_context_free(e->ctx);
    e->ctx = NULL;
}
