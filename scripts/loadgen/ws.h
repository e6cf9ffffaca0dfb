/* ws — the WebSocket client over a child's connections: the HTTP upgrade,
 * framing through wslay's frame API, control frames, and the polite close
 * at the end of a run.
 *   - receiving: one wslay_frame_context per connection whose recv callback
 *     reads the socket itself, once per readable event (the loop is
 *     level-triggered, so a short read means "drained" and no EAGAIN probe is
 *     needed);
 *   - sending: ONE wslay_frame_context per process whose send callback
 *     appends the masked frame to the connection's output (conn_out_append);
 *     every frame queued for a connection during one loop turn leaves in a
 *     single write() at the end of the turn. wslay calls the send callback
 *     twice per frame (header, then payload: field notes, wslay #56); a
 *     socket write per call would double the syscalls and, with TCP_NODELAY,
 *     the segments.
 * The event API (wslay_event_*) would add a second 4 KiB buffer per
 * connection and a copy of every queued message for nothing we need.
 *
 * The request target is proto_path()'s (proto.h); the 101 goes up to the
 * on_up function given to ws_init().
 *
 * Pings are answered and a server's close frame is echoed, then the
 * connection is killed with its code; every complete text message goes up
 * to the on_text function given to ws_init(), in place when it arrived in
 * one piece (valid only during the call). Any error kills the connection
 * (conn_kill). */
#ifndef LOADGEN_WS_H
#define LOADGEN_WS_H

#include <stddef.h>
#include <stdint.h>

#include "conn.h"

typedef void (*ws_text_fn)(conn_t *c, const char *p, size_t n);
/* C got its 101 (it is CONN_WELCOME now); frames that came with it follow. */
typedef void (*ws_up_fn)(conn_t *c);

/* Sets up the shared send context. Returns 0, or -1 (ENOMEM). */
int  ws_init(ws_text_fn on_text, ws_up_fn on_up);
/* Queues one masked frame for C (written at the end of the loop turn). */
void ws_send_frame(conn_t *c, uint8_t op, const void *p, size_t n);
/* Epoll reported EV on C: completes the connect and sends the upgrade,
 * reads the 101, or reads frames, by C's state. */
void ws_event(conn_t *c, uint32_t ev);
/* Leave politely: a close frame on every WebSocket, then up to 3 s (on
 * epoll EP, where only connections may be left) for the server to answer
 * and close TCP first, so that the TIME_WAIT states land on its side and not
 * on the source ports the next run wants. Whatever is still open then (and
 * every connection that never got its welcome) is reset (SO_LINGER 0) for
 * the same reason. The last call of a child. */
void ws_close_all(int ep);

#endif
