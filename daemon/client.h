/* client — what a worker does with each text frame from an open session:
 * one function per frame type of zwsd-protocol(7) (chat, join, leave,
 * group, broadcast, presence, refresh), and the answers to refused frames.
 *
 * Worker process only; calls push (publish), member (join/leave), gate
 * (refresh), reply and conn. Registered by worker.c as conn's
 * on_text/on_reject. Never frees a conn or a session: closes it may decide
 * (4008 while answering) are deferred by conn. */
#ifndef ZWSD_CLIENT_H
#define ZWSD_CLIENT_H

#include <stddef.h>

#include "conn.h"
#include "gate.h"
#include "member.h"
#include "options.h"
#include "push.h"

typedef struct {
    conns_t         *conns;
    members_t       *members;
    push_t          *push;
    const options_t *opt;
    gate_t          *gate;          /* refresh */
} client_t;

void client_on_text(client_t *cl, conn_t *c, const char *text, size_t len);
/* refused: over the rate limit (rate_limited, with the frame's id when it
 * has a valid one); else a binary frame (unsupported). */
void client_on_reject(client_t *cl, conn_t *c, const char *text, size_t len, int refused);

#endif
