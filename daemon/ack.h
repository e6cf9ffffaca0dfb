/* ack — the truthful verdict on a chat sent with an id (or an HTTP push to
 * a user): delivered, offline or unavailable. Pure: no I/O, no clock of its
 * own; the worker feeds it events and acts on the verdicts it returns.
 *
 * Two small state machines live here, fed one event at a time:
 *
 * ack_link_t follows the worker's way through the broker and back. Every
 * probe the worker publishes (to its inbox or to a route's topic) carries
 * its place in the worker's publish order; when one comes back, everything
 * published before it has been through the broker (one pipe, FIFO). The
 * link is up while a probe came back within ACK_ALIVE_MS; a longer silence
 * between returns, or the broker's hello (a subscriber re-attached), is a
 * disturbance: what was in flight then may be lost.
 *
 * ack_t is one outstanding request. Receipts decide at once: `delivered`
 * (a worker queued it for a live session of the receiver), `offline` from
 * the broker (no worker subscribed to the receiver), `unavailable` from a
 * broker still learning its routes. A worker that holds the receiver's route
 * but no open session says `nosession`: that alone does not decide, since
 * another worker may still deliver. At the deadline (ack_tick): `offline`
 * if a worker said nosession and the link proves the chat went through;
 * otherwise `unavailable` — the chat reached a subscriber that never
 * answered (a stalled or killed worker, a dropped message) or the broker
 * never processed it. Never a false `offline`, never a false `delivered`. */
#ifndef ZWSD_ACK_H
#define ZWSD_ACK_H

#include <stdint.h>

#define ACK_ALIVE_MS  1000      /* link up: a probe came back this recently */
#define ACK_GAP_MS    250       /* returns further apart: a disturbance */

typedef enum {
    ACK_PENDING = 0,
    ACK_DELIVERED,
    ACK_OFFLINE,
    ACK_UNAVAILABLE,
} ack_verdict_t;

typedef enum {
    ACK_RCPT_DELIVERED,         /* a worker queued it for a live session */
    ACK_RCPT_OFFLINE,           /* the broker: no subscriber at all */
    ACK_RCPT_NOSESSION,         /* a subscribed worker had no open session */
    ACK_RCPT_UNAVAILABLE,       /* the broker: routes not learnt yet */
} ack_rcpt_t;

typedef struct {
    uint64_t confirmed;         /* publish number of the newest probe back */
    int64_t  last_back;         /* when a probe last came back; 0 never */
    int64_t  disturbed_at;      /* last gap in returns or broker hello */
} ack_link_t;

typedef struct {
    uint64_t seq;               /* publish number of the request itself */
    int64_t  sent_ms;
    int64_t  deadline;
    uint8_t  nosession;         /* some worker said nosession */
    uint8_t  verdict;           /* ack_verdict_t, once decided */
} ack_t;

/* The link. */
void ack_link_probe_back(ack_link_t *l, uint64_t seq, int64_t now);
void ack_link_hello(ack_link_t *l, int64_t now);   /* also: this process stalled */
int  ack_link_up(const ack_link_t *l, int64_t now);
int  ack_link_ever_up(const ack_link_t *l);
/* Did message number seq, published at sent_ms, provably go through the
 * broker with an intact way back: a later probe returned, no disturbance
 * since it was sent, and probes are still returning on time. */
int  ack_link_routed(const ack_link_t *l, uint64_t seq, int64_t sent_ms, int64_t now);
/* No disturbance within the last `window` ms and probes returning on time. */
int  ack_link_calm(const ack_link_t *l, int64_t now, int64_t window);

/* One request. */
void          ack_init(ack_t *a, uint64_t seq, int64_t now, int64_t deadline);
ack_verdict_t ack_receipt(ack_t *a, ack_rcpt_t r);
ack_verdict_t ack_tick(ack_t *a, const ack_link_t *l, int64_t now);
/* "delivered", "offline", "unavailable" (NULL while pending). */
const char   *ack_verdict_name(ack_verdict_t v);
/* Receipt status strings of the bus envelope; -1 for an unknown one. */
int           ack_rcpt_parse(const char *s, uint32_t n, ack_rcpt_t *out);
const char   *ack_rcpt_name(ack_rcpt_t r);

#endif
