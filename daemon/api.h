/* api — the HTTP API listener of a worker: backend push, online counts,
 * presence, /healthz and /metrics (zwsd-protocol(7) "Backend push (HTTP)").
 *
 * Worker process only; every worker has its own SO_REUSEPORT socket on
 * --api-listen. Requests are parsed with http-parser; HTTP/1.1 keep-alive
 * and pipelining are supported (one request answered at a time, in order).
 * API connections live in their own table (w->api), by fd, with a
 * generation number so a late completion for a closed one is ignored.
 * Like conns they are freed only in api_reap(). Bodies over --max-message
 * get 413; with --api-key-file every request needs "Authorization: Bearer
 * <key>" (constant-time compare), else 401: one with a body (or "Expect:
 * 100-continue") is refused as soon as its head is read, without 100
 * Continue, and the connection is closed without reading the body.
 *
 * Completions: the worker calls api_push_done() when a 1:1 push's outcome
 * is known, api_online_done() / api_presence_done() when the broker
 * answered (or with users < 0 / e NULL when it did not in time: 503). */
#ifndef ZWSD_API_H
#define ZWSD_API_H

#include <stdint.h>

#include "envelope.h"
#include "worker.h"

typedef struct api api_t;

api_t *api_new(worker_t *w);            /* NULL when --api-listen off or ENOMEM */
void   api_destroy(api_t **self_p);
void   api_take(worker_t *w, int fd);   /* a connection from the listener */
void   api_on_ready(worker_t *w, int fd, uint32_t events);
void   api_timers(worker_t *w);         /* idle keep-alive and slow requests: 30 s */
void   api_flush(worker_t *w);          /* write pending responses */
void   api_reap(worker_t *w);
int    api_count(worker_t *w);          /* open API connections */

void   api_push_done(worker_t *w, int fd, uint32_t gen, const char *mid, const char *status);
void   api_online_done(worker_t *w, int fd, uint32_t gen, int64_t users, int64_t sessions);
void   api_presence_done(worker_t *w, int fd, uint32_t gen, const env_t *e);

#endif
