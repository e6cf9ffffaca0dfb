/* proto — the one place that knows which server the children speak to
 * (--proto): zwsd (zwsd-protocol(7)) or nginx with nchan's pub/sub
 * WebSockets (scripts/nchan.conf.in). The frames we send are the same for
 * both (chat.c); what differs is here:
 *   - the upgrade's target: zwsd /ws/<user>; nchan /ps/<user>/<peer> in chat
 *     mode (the user's channel in, every text frame published as it is to
 *     the peer's channel), /sub/<user> in idle mode (subscribed, nothing
 *     else);
 *   - when a connection is ready: zwsd's welcome; nchan sends none, so its
 *     101 (it answers the upgrade once the subscriber is queued on the
 *     channel);
 *   - what arrives: zwsd wraps a chat in {"type":"chat",...,"msg":<ours>};
 *     nchan delivers the publisher's frame unchanged, so every text frame is
 *     one of our chats, with our "msg" inside.
 * nchan answers a publishing WebSocket nothing (no ack, no error) and has no
 * groups: --ack and the group and soak modes are zwsd's only (main.c). */
#ifndef LOADGEN_PROTO_H
#define LOADGEN_PROTO_H

#include <stdbool.h>
#include <stddef.h>

#include "cfg.h"
#include "conn.h"

/* Writes C's request target ("/ws/u7") at p, no NUL; returns the end. At
 * most 130 bytes. */
char       *proto_path(char *p, const conn_t *c);
/* Does the server send a welcome after its 101? If not, the 101 is ready. */
bool        proto_greets(void);
/* The kind of the text frame [p, end), as zwsd's "type" names it ("chat",
 * "ack", "welcome", …): *tlen bytes at the pointer returned, or NULL and
 * *tlen 0 if it has none. */
const char *proto_type(const char *p, const char *end, size_t *tlen);

#endif
