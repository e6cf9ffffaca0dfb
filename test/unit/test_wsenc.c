/* test_wsenc — daemon/wsenc.c: a message is framed byte for byte as wslay
 * frames it (its queue_msg + send into a buffer, done here as wsenc did it
 * before text and binary frames were written by hand), at every length
 * encoding's edges, for text, binary, ping and pong frames.
 * Run: make build/test/test_wsenc && build/test/test_wsenc */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <wslay/wslay.h>

#include "wsenc.h"

static ssize_t
s_send(wslay_event_context_ptr ctx, const uint8_t *data, size_t len, int flags, void *ud)
{
    (void)ctx; (void)flags;
    return buf_append(ud, data, len) < 0 ? -1 : (ssize_t)len;
}

static ssize_t
s_recv(wslay_event_context_ptr ctx, uint8_t *buf, size_t len, int flags, void *ud)
{
    (void)buf; (void)len; (void)flags; (void)ud;
    wslay_event_set_error(ctx, WSLAY_ERR_WOULDBLOCK);
    return -1;
}

/* What a fresh wslay server context writes for the message. */
static void
s_wslay(buf_t *out, uint8_t opcode, const char *p, size_t n)
{
    static const struct wslay_event_callbacks cb = { .recv_callback = s_recv,
                                                     .send_callback = s_send };
    wslay_event_context_ptr ctx;
    cr_assert_eq(wslay_event_context_server_init(&ctx, &cb, out), 0);
    struct wslay_event_msg m = { opcode, (const uint8_t *)p, n };
    cr_assert_eq(wslay_event_queue_msg(ctx, &m), 0);
    cr_assert_eq(wslay_event_send(ctx), 0);
    wslay_event_context_free(ctx);
}

static void
s_same(wsenc_t *e, uint8_t opcode, const char *p, size_t n)
{
    buf_t want = { 0 }, got = { 0 };
    s_wslay(&want, opcode, p, n);
    cr_assert_eq(buf_append(&got, "prefix", 6), 0);     /* appends, keeps what was there */
    cr_assert_eq(wsenc_frame(e, &got, opcode, p, n), 0);
    cr_assert_eq(got.len, 6 + want.len, "opcode %u, %zu bytes: %zu vs %zu", opcode, n,
                 got.len - 6, want.len);
    cr_expect(!memcmp(got.data, "prefix", 6));
    cr_expect(!memcmp(got.data + 6, want.data, want.len), "opcode %u, %zu bytes", opcode, n);
    buf_free(&want);
    buf_free(&got);
}

Test(wsenc, data_frames_as_wslay_frames_them)
{
    static const size_t lens[] = { 0, 1, 124, 125, 126, 127, 1000, 65534, 65535, 65536, 65537,
                                   300000 };
    char *p = malloc(300000);
    cr_assert_not_null(p);
    for (size_t i = 0; i < 300000; i++)
        p[i] = (char)('a' + i % 26);
    wsenc_t e = { 0 };
    for (size_t k = 0; k < sizeof lens / sizeof *lens; k++) {
        s_same(&e, WSLAY_TEXT_FRAME, p, lens[k]);
        s_same(&e, WSLAY_BINARY_FRAME, p, lens[k]);
    }
    wsenc_free(&e);
    free(p);
}

Test(wsenc, control_frames_through_wslay)
{
    wsenc_t e = { 0 };
    s_same(&e, WSLAY_PING, "", 0);
    s_same(&e, WSLAY_PONG, "abc", 3);   /* (closes go through each connection's own context) */
    s_same(&e, WSLAY_PING, "x", 1);     /* the same context, again */
    wsenc_free(&e);
    wsenc_free(&e);                     /* safe twice */
}
