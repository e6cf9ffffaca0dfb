/* worker — one zwsd-worker process: an epoll loop that owns its sessions.
 *
 * Forked by the supervisor, which passes the listening sockets and a
 * status socket. worker_run() creates the worker's ZeroMQ context (after
 * fork), accepts WebSocket connections, routes messages through the broker,
 * and returns the process exit code: 0 after SIGTERM once every client was
 * closed with 1001 (or shutdown_timeout passed), 1 on a fatal error.
 *
 * worker.c owns the loop and wires the modules together with the callbacks
 * it registers (conn events, the bus's on_message, the API's requests and
 * completions); every module below it calls only downward:
 *   worker → client, deliver → session → member → reply → conn → io
 *            push → bus, pending        route → bus        ack (pure)
 *   worker → api → api_routes → api_http → io, httphead
 *   conn → handshake → httphead
 * One loop turn: epoll_wait → on_ready per fd → timers → bus drain →
 * settle (deferred opens and closes) → flush → reap.
 * Nothing includes this header but main.c and the supervisor: the
 * worker's state is worker.c's own. */
#ifndef ZWSD_WORKER_H
#define ZWSD_WORKER_H

#include <stddef.h>
#include <stdint.h>

#include "curve.h"
#include "options.h"

typedef struct {
    int         slot;               /* 0..workers-1, for logs */
    int         listen_fd;          /* WebSocket listener (SO_REUSEPORT, ours) */
    int         api_fd;             /* HTTP API listener or -1 */
    int         status_fd;          /* to the supervisor: ready and counts */
    options_t   opt;
    shard_spec_t brokers;           /* the broker tier (options_brokers) */
    curve_client_t curve;           /* --broker-curve, loaded; .on = 0: none */
} worker_cfg_t;

int  worker_run(worker_cfg_t *cfg);

#endif
