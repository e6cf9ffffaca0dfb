/* api — the HTTP API listener of a worker: backend push, online counts,
 * presence, /healthz and /metrics (zwsd-protocol(7) "Backend push (HTTP)").
 *
 * Worker process only; every worker has its own SO_REUSEPORT socket on
 * --api-listen. Requests are parsed with http-parser; HTTP/1.1 keep-alive
 * and pipelining are supported (one request answered at a time, in order).
 * API connections live in the API's own io set (io.h), by fd, with a
 * generation number so a late completion for a closed one is ignored;
 * they are freed only in api_reap(). Bodies over --max-message
 * get 413; with --api-key-file every request needs "Authorization: Bearer
 * <key>" (constant-time compare), else 401: one with a body (or "Expect:
 * 100-continue") is refused as soon as its head is read, without 100
 * Continue, and the connection is closed without reading the body.
 *
 * It knows nothing of the worker: what a request asks goes up through the
 * api_events_t callbacks the owner (worker.c) registered, and the owner
 * answers later through the completions: api_push_done() when a 1:1
 * push's outcome is known, api_online_done() / api_presence_done() when the
 * broker answered (or with users < 0 / e NULL when it did not in time:
 * 503). Every completion and api_* call accepts a NULL api (API off). */
#ifndef ZWSD_API_H
#define ZWSD_API_H

#include <stddef.h>
#include <stdint.h>

#include "api_types.h"

api_t *api_new(const api_cfg_t *cfg);   /* NULL on ENOMEM or an unreadable key file */
void   api_destroy(api_t **self_p);
void   api_take(api_t *self, int fd);   /* a connection from the listener */
void   api_on_ready(api_t *self, int fd, uint32_t events);
void   api_timers(api_t *self);         /* idle keep-alive and slow requests: 30 s */
void   api_wind_down(api_t *self);      /* stop or rotation: no more keep-alive */
void   api_flush(api_t *self);          /* write pending responses */
void   api_reap(api_t *self);           /* the only place a connection is freed */
int    api_count(const api_t *self);    /* open API connections */

void   api_push_done(api_t *self, int fd, uint32_t gen, const char *mid, const char *status);
void   api_online_done(api_t *self, int fd, uint32_t gen, int64_t users, int64_t sessions);
void   api_presence_done(api_t *self, int fd, uint32_t gen, const env_t *e);
/* GET /api/v1/history: each frame of the stream, then the end (NULL: the
 * broker did not answer in time, 503). */
void   api_history_item(api_t *self, int fd, uint32_t gen, const char *frame, size_t n);
void   api_history_done(api_t *self, int fd, uint32_t gen, const env_t *e);

#endif
