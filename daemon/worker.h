/* worker — one zwsd-worker process: an epoll loop that owns its sessions.
 *
 * Forked by the supervisor, which passes the listening sockets and a
 * status socket. worker_run() creates the worker's ZeroMQ context (after
 * fork), accepts WebSocket connections, routes messages through the broker,
 * and returns the process exit code: 0 after SIGTERM once every client was
 * closed with 1001 (or shutdown_timeout passed), 1 on a fatal error.
 *
 * worker.c owns the loop and wires the modules together with the callbacks
 * it registers (conn events, the bus's on_message, the API's completions);
 * every module below it calls only downward:
 *   worker → client, deliver → session → member → reply → conn
 *            push → bus, pending        route → bus        ack (pure)
 * One loop turn: epoll_wait → on_ready per fd → timers → bus drain →
 * settle (deferred opens and closes) → flush → reap.
 *
 * worker_t is opened to the HTTP API (api.c), which still reads the loop's
 * clock, options, epoll fd and read buffer from it. */
#ifndef ZWSD_WORKER_H
#define ZWSD_WORKER_H

#include <stddef.h>
#include <stdint.h>

#include "options.h"

typedef struct api api_t;
typedef struct bus bus_t;

typedef struct {
    int         slot;               /* 0..workers-1, for logs */
    int         listen_fd;          /* WebSocket listener (SO_REUSEPORT, ours) */
    int         api_fd;             /* HTTP API listener or -1 */
    int         status_fd;          /* to the supervisor: ready and counts */
    options_t   opt;
    char        pub_ep[256], sub_ep[256];
} worker_cfg_t;

struct worker;

/* A listening socket of the worker. worker_accept() takes connections until
 * EAGAIN and hands each fd to take(); on EMFILE and the like it takes the
 * listener out of epoll for 100 ms and keeps serving (nginx's answer),
 * logging once per episode, and worker_accept_resume(), called every turn,
 * puts it back. */
typedef struct acceptor {
    int           fd;
    uint64_t      tag;              /* epoll data: tag | fd */
    const char   *what;             /* for log lines */
    void        (*take)(struct worker *w, int fd);
    int           paused;
    int           episode;          /* paused since the last accept that worked */
    int64_t       resume_at;
} acceptor_t;

/* What the HTTP API reads of its worker. */
typedef struct worker {
    worker_cfg_t *cfg;
    options_t    *opt;              /* live options (the supervisor sends reloads) */
    int           epfd;
    int           stopping;         /* SIGTERM seen: closing every session */
    int           draining;         /* SIGUSR1 (rotation): no new sessions */
    int64_t       now;              /* clock_now_ms() at the top of the turn */
    int           conns_cap;        /* the fd table's size */
    char         *rbuf;             /* shared read buffer */
    size_t        rbuf_len;
    api_t        *api;              /* NULL when --api-listen off */
    bus_t        *bus;
    struct core  *core;             /* the modules, worker.c's own */
} worker_t;

/* epoll data of the API listener / an API connection: tag | fd (conns use the bare fd) */
#define WORKER_TAG_API     (4ULL << 40)
#define WORKER_TAG_APICONN (5ULL << 40)

int  worker_run(worker_cfg_t *cfg);
void worker_accept(worker_t *w, acceptor_t *a);
void worker_accept_resume(worker_t *w, acceptor_t *a);

#endif
