/* broker — the XSUB/XPUB forwarder at the centre of a zwsd cluster.
 *
 * Runs in its own process: the standalone zwsd-broker, or the child the zwsd
 * supervisor forks in embedded mode. Publishers (workers, backends,
 * zwsd-send) connect PUB sockets to pub_ep; workers connect SUB sockets to
 * sub_ep. The broker subscribes its XSUB to everything once, so publishers
 * keep no copy of the subscription table; filtering happens here, in the
 * XPUB. Subscriptions travel with no high-water mark (never dropped).
 *
 * It counts subscribers per user topic (XPUB_VERBOSER reports every
 * subscribe, unsubscribe and the unsubscriptions of a subscriber that went
 * away), answers a chat that has no subscriber with an "offline" receipt to
 * its origin (during its first second, while subscribers replay their
 * subscriptions, "unavailable" instead), and answers presence and
 * online-count queries sent to "s|".
 *
 * Queues are bounded (hwm messages per peer, --hwm): publishers that
 * outpace the broker meet back-pressure (their PUB's NODROP queue fills and
 * they answer `unavailable`); a subscriber (worker) more than hwm messages
 * behind loses what is for it and nobody else does — libzmq's XPUB in mute
 * state drops, and does not tell: the broker cannot count those messages.
 * Chats lost so are answered `unavailable` by their sender (no receipt
 * came), never `offline` or `delivered`. The subscription path stays
 * unbounded (HWM 0 both ways).
 *
 * broker_run() creates its own ZeroMQ context (call it after fork), returns
 * 0 after SIGTERM/SIGINT, or 1 if an endpoint cannot be bound (logged). It
 * installs its own handlers for SIGTERM and SIGINT. With curve_cert, both
 * endpoints are CURVE servers: the context is czmq's and a zauth thread
 * checks each client's key against curve_allow (curve.h), both created
 * here too, so also after fork. */
#ifndef ZWSD_BROKER_H
#define ZWSD_BROKER_H

#define BROKER_HWM_DEFAULT 100000   /* --hwm: messages queued per peer */
#define BROKER_WARMUP_MS 1000       /* after start: no "offline" answers */
#define BROKER_TURN_US_DEFAULT 1000 /* --turn-us */
#define BROKER_PHASE_US 250         /* our turns after the workers' (pace.h); at most half a turn */

#include <stddef.h>
#include <stdint.h>

#include "curve.h"

typedef struct {
    const char *pub_ep, *sub_ep;
    /* for how long after start an unsubscribed chat is answered
     * "unavailable" rather than "offline", because subscribers may still
     * be replaying their subscriptions: 0 for a first start,
     * BROKER_WARMUP_MS for a restart (the standalone broker always
     * assumes one) */
    int         warmup_ms;
    int         hwm;                /* messages queued per peer */
    int         turn_us;            /* busy: a turn at most every turn_us (pace.h); 0 = off */
    /* history (zwsd-protocol(7) "History and recovery"; ENVELOPE.md) */
    uint32_t    history_size;       /* messages kept per stream; 0 = none */
    int64_t     history_ttl_ms;
    size_t      history_memory;     /* bytes for all of it */
    /* CURVE (curve.h): the broker's certificate, with its secret key, and
     * the directory of allowed clients' certificates; NULL = none (the
     * embedded broker, whose ipc:// sockets are in a 0700 directory) */
    const curve_cert_t *curve_cert;
    const char         *curve_allow;
} broker_cfg_t;

/* Fills the defaults: hwm BROKER_HWM_DEFAULT, warmup 0, turn
 * BROKER_TURN_US_DEFAULT, history 100 messages, 300 s, 64 MiB. */
void broker_cfg_default(broker_cfg_t *cfg, const char *pub_ep, const char *sub_ep);
int  broker_run(const broker_cfg_t *cfg);

#endif
