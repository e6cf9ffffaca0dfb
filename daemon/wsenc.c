/* wsenc — see wsenc.h. */
#include "wsenc.h"

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

int
wsenc_frame(wsenc_t *e, buf_t *out, uint8_t opcode, const char *p, size_t n)
{
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
