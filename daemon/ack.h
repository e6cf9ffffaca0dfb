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
 * another worker may still deliver.
 *
 * Silence is not an answer: the chat may sit with a worker that was then
 * killed, or its receipt may have died with a broker. So when no receipt
 * has come ACK_RETRY_MS after the send, ack_tick() says ACK_RETRY (while
 * the link is proven again, no later than ACK_RETRY_LAST_MS): the
 * caller publishes a copy, same mid and req, marked `retry`. A worker that
 * handled the first answers from what it did then and never delivers twice
 * (seen.h); one that never saw it (the receiver logged in again elsewhere)
 * delivers it now; the broker says `offline` if nobody subscribes to the
 * receiver any more. If the copy found no session (`offline`, `nosession`),
 * a second one goes at ACK_RETRY2_MS: a receiver whose worker was killed is
 * often logged in again by then. After a copy, answers that are not
 * `delivered` wait for the deadline, where a slower `delivered` still wins.
 *
 * At the deadline (ack_tick): `offline` if a worker said nosession, or the
 * broker said offline to the copy, and the link proves the chat itself went
 * through the broker with no disturbance since it was sent: then every
 * worker that got it and never answered is gone (a live one answers), and
 * no session of the receiver is open where it went or anywhere now. Else
 * `unavailable`. Never a false `delivered`. The one `offline` that can be
 * wrong: a worker killed between writing the chat to the receiver's socket
 * and its receipt leaving the process (zwsd-protocol(7), Acknowledgements).
 * After a disturbance, an offline to the copy proves nothing about the
 * first (it may have reached a session since closed, its receipt lost with
 * the broker): `unavailable`. */
#ifndef ZWSD_ACK_H
#define ZWSD_ACK_H

#include <stdint.h>

#define ACK_ALIVE_MS  1000      /* link up: a probe came back this recently */
#define ACK_GAP_MS    250       /* returns further apart: a disturbance */
#define ACK_RETRY_MS      300   /* no receipt this long after the send: a copy */
#define ACK_RETRY2_MS     550   /* the copy found no session: a second one */
#define ACK_RETRY_LAST_MS 600   /* no copy later: it must be delivered within the
                                 * receiver's lateness bound (deliver.c) and answered */
#define ACK_RECHECK_MS    20    /* waiting for the link before a copy: look again */

typedef enum {
    ACK_PENDING = 0,
    ACK_DELIVERED,
    ACK_OFFLINE,
    ACK_UNAVAILABLE,
    ACK_RETRY,                  /* not a verdict: publish a copy now */
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
    uint8_t  offline;           /* the broker said offline after the copy went */
    uint8_t  copyable;          /* the caller kept what a copy needs */
    uint8_t  retried;           /* copies sent (or whose publishing failed) */
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
/* Probes return on time and one came back after the last disturbance: what
 * is published now goes through a broker that knows our inbox. */
int  ack_link_reproven(const ack_link_t *l, int64_t now);

/* One request: seq its place in the publish order, answered by deadline. */
void          ack_init(ack_t *a, uint64_t seq, int64_t now, int64_t deadline);
/* The caller kept a copy of the chat: ack_tick() may ask for it (ACK_RETRY). */
void          ack_copyable(ack_t *a);
/* A receipt: a verdict, or ACK_PENDING. */
ack_verdict_t ack_receipt(ack_t *a, ack_rcpt_t r);
/* Time passes: a verdict at the deadline; ACK_RETRY when a copy is due (at
 * most two); else ACK_PENDING. */
ack_verdict_t ack_tick(ack_t *a, const ack_link_t *l, int64_t now);
/* When ack_tick() next has something to do (> now); INT64_MAX once decided. */
int64_t       ack_wake(const ack_t *a, int64_t now);
/* "delivered", "offline", "unavailable" (NULL while pending). */
const char   *ack_verdict_name(ack_verdict_t v);
/* Receipt status strings of the bus envelope; -1 for an unknown one. */
int           ack_rcpt_parse(const char *s, uint32_t n, ack_rcpt_t *out);
const char   *ack_rcpt_name(ack_rcpt_t r);

#endif
