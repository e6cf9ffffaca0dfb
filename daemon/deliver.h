/* deliver — what a worker does with each message from the bus: chat, group
 * and broadcast messages to its sessions (rendered and framed once, the
 * same bytes queued to every target), kicks, route probes coming back, and
 * the answers to its own requests (receipts, presence, online counts),
 * including the verdict of requests that ran out of time.
 *
 * Worker process only; calls session, member, route, reply, conn, bus and
 * pending. deliver_on_message() is the bus's on_message callback. API
 * requests are answered through the callbacks in deliver_api_t, which
 * worker.c registers (the API is a peer above, never called by name).
 * Bus input is not trusted: names, topics, mids and times are checked, a
 * malformed message is dropped and counted in the debug log.
 *
 * A chat that waits for an ack and comes so late that its sender has
 * answered already (a stall of this worker or of the broker held it; see
 * transit.h) is not delivered: the sender said `unavailable`, and that
 * must stay the truth. */
#ifndef ZWSD_DELIVER_H
#define ZWSD_DELIVER_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "bus.h"
#include "conn.h"
#include "envelope.h"
#include "idgen.h"
#include "member.h"
#include "pending.h"
#include "route.h"
#include "session.h"
#include "transit.h"

typedef struct {
    void (*push_done)(void *arg, int fd, uint32_t gen, const char *mid, const char *status);
    void (*online_done)(void *arg, int fd, uint32_t gen, int64_t users, int64_t sessions);
    void (*presence_done)(void *arg, int fd, uint32_t gen, const env_t *reply);
    void  *arg;
} deliver_api_t;

typedef struct {
    conns_t    *conns;
    sessions_t *sessions;
    members_t  *members;
    routes_t   *routes;
    bus_t      *bus;
    pending_t  *pending;
    idgen_t    *ids;
    const int64_t *now;
    deliver_api_t api;
    buf_t       frame;              /* a delivered message, rendered once */
    buf_t       wire;               /* ... and framed once */
    transit_t   transit;            /* lateness of chats, per origin */
    uint64_t    expired;            /* chats not delivered: too late */
} deliver_t;

void deliver_on_message(void *arg, const char *topic, size_t tlen, const env_t *e);
/* Requests past their deadline: answer them (ack.h's verdict). */
void deliver_expire(deliver_t *d);
void deliver_free(deliver_t *d);    /* its buffers */

#endif
