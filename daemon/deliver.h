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
 * must stay the truth.
 *
 * Every chat with a req is remembered (seen.h) with what came of it, so a
 * copy of it (envelope `retry`, published by its sender when no receipt
 * came: ack.h) never reaches a session twice: if the first was delivered
 * here the copy draws `delivered` again and goes nowhere; if it was dropped
 * as too late, or cannot be placed, the copy is dropped too; otherwise
 * (never seen here, or no session took it then) the copy is delivered like
 * a first. deliver_expire() publishes the copies ack_tick() asks for, and
 * holds a final verdict one more turn, once, when receipts may be waiting
 * unread (after a stalled turn, or while the bus has input just past the
 * deadline): a receipt that came in time is not overtaken by silence. */
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
#include "seen.h"
#include "session.h"
#include "transit.h"

typedef struct {
    void (*push_done)(void *arg, int fd, uint32_t gen, const char *mid, const char *status);
    void (*online_done)(void *arg, int fd, uint32_t gen, int64_t users, int64_t sessions);
    void (*presence_done)(void *arg, int fd, uint32_t gen, const env_t *reply);
    void (*history_item)(void *arg, int fd, uint32_t gen, const char *frame, size_t n);
    void (*history_done)(void *arg, int fd, uint32_t gen, const env_t *end);
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
    env_t       item;               /* a history item's envelope (big: not on the stack) */
    transit_t   transit;            /* lateness of chats, per origin */
    seen_t      seen;               /* chats handled here, for their copies */
    uint64_t    expired;            /* chats not delivered: too late */
    uint64_t    copies;             /* copies published (ACK_RETRY) */
    int64_t     last_expire;        /* the previous deliver_expire() */
    uint8_t     confirmed;          /* see deliver_confirmed() */
    int         via;                /* the shard the message in hand came through */
} deliver_t;

/* bus.h's on_message: answers (receipts) go back through shard. */
void deliver_on_message(void *arg, int shard, const char *topic, size_t tlen, const env_t *e);
/* Requests past their deadline: answer them (ack.h's verdict), or publish
 * the copy of a chat that had no receipt in time. */
void deliver_expire(deliver_t *d);
void deliver_free(deliver_t *d);    /* its buffers and memory of chats */
/* 1 when chats whose `delivered` receipts are queued on the bus were given
 * to sessions since the last call, which clears it. The owner then flushes
 * the bus before it writes the sessions' output: a receipt leaves before
 * the chat it confirms, so a worker killed -9 in between loses both rather
 * than the receipt alone (which would make its sender's copy come back a
 * false `offline`, ack.h). ZeroMQ's I/O thread still writes asynchronously:
 * this narrows that window to its wake-up, it cannot close it. */
int  deliver_confirmed(deliver_t *d);

#endif
