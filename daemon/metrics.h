/* metrics — counters every worker updates and any worker can report for
 * the whole host (GET /metrics), without locks or messages.
 *
 * The supervisor calls metrics_init() before forking: one shared anonymous
 * mapping with a row of counters per worker slot plus a supervisor row.
 * A worker calls metrics_attach(slot) and then only touches its own row
 * (single writer per row, so plain 64-bit stores are enough); readers sum
 * the rows, and metrics_render() writes them out for GET /metrics. Without
 * metrics_init() every call is a cheap no-op and every count reads 0. */
#ifndef ZWSD_METRICS_H
#define ZWSD_METRICS_H

#include <stdint.h>

#include "buf.h"

typedef enum {
    M_CONNECTIONS,          /* gauge: open TCP connections */
    M_SESSIONS,             /* gauge: upgraded sessions */
    M_HANDSHAKES_OK,
    M_REFUSED_400, M_REFUSED_401, M_REFUSED_403, M_REFUSED_404,
    M_REFUSED_426, M_REFUSED_429, M_REFUSED_431, M_REFUSED_503, M_REFUSED_OTHER,
    M_FRAMES_IN, M_FRAMES_OUT,
    M_ROUTED_CHAT, M_ROUTED_GROUP, M_ROUTED_BCAST,
    M_ACK_DELIVERED, M_ACK_OFFLINE, M_ACK_SENT, M_ACK_UNAVAILABLE,
    M_ACK_JOINED, M_ACK_LEFT,
    M_ERR_BASE,             /* + cj_code_t: errors by code (16 slots) */
    M_CLOSE_SLOW = M_ERR_BASE + 16,
    M_CLOSE_RATE,
    M_KICKED,
    M_AUTH_BASE,            /* + auth_verdict_t: handshakes refused by auth (12 slots) */
    M_LIMIT_PER_IP = M_AUTH_BASE + 12,  /* refused: --max-conns-per-ip (429) */
    M_LIMIT_CONNS,          /* refused: --max-conns (503) */
    M_LIMIT_DROPPED,        /* over a limit, closed without an answer */
    M_LIMIT_HS_TIMEOUT,     /* no complete request head within --handshake-timeout */
    M_TOKEN_EXPIRED,        /* sessions closed with 4003 */
    M_TOKEN_REFRESHED,      /* refresh frames accepted */
    M_WORKER_RESTARTS,      /* supervisor row */
    M_BROKER_RESTARTS,      /* supervisor row */
    M_BUS_UP,               /* gauge per worker: 1 when the broker answers */
    M_USERS,                /* gauge per worker: users it holds sessions of */
    M_OUTBOUND_BYTES,       /* gauge: bytes allocated to sessions' outbound queues */
    M_COUNT
} metric_t;

int      metrics_init(int slots);           /* 0, or -1 (logged) */
void     metrics_attach(int slot);          /* slot -1: the supervisor row */
void     metrics_inc(metric_t m);
void     metrics_dec(metric_t m);
void     metrics_set(metric_t m, int64_t v);
void     metrics_add(metric_t m, int64_t delta);
void     metrics_refused(int http_status);
int64_t  metrics_sum(metric_t m);
int64_t  metrics_get(int slot, metric_t m);
int      metrics_slots(void);
void     metrics_reset_slot(int slot);      /* supervisor, before a respawn */

/* Appends the whole host's counters to b in the Prometheus text
 * exposition format 0.0.4: every family with its HELP and TYPE lines, the
 * rows summed, plus open connections per worker slot. bus_up (1 or 0) is
 * the caller's own view of the broker, reported as zwsd_broker_up: it is
 * the one value not kept in shared memory. Returns 0, or -1 on ENOMEM with
 * part of the text appended: the caller discards it. */
int      metrics_render(buf_t *b, int bus_up);

#endif
