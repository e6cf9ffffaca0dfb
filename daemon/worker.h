/* worker — one zwsd-worker process: an epoll loop that owns its sessions.
 *
 * Forked by the supervisor, which passes the listening sockets and a
 * status socket. worker_run() creates the worker's ZeroMQ context (after
 * fork), accepts WebSocket connections, routes messages through the broker,
 * and returns the process exit code: 0 after SIGTERM once every client was
 * closed with 1001 (or shutdown_timeout passed), 1 on a fatal error.
 *
 * worker_t is shared by the worker's modules (conn, bus, route, handlers);
 * nothing outside the worker process touches it. One loop turn:
 *   epoll_wait → on_ready per fd → timers → bus drain → flush → reap. */
#ifndef ZWSD_WORKER_H
#define ZWSD_WORKER_H

#include <stdint.h>

#include "buf.h"
#include "list.h"
#include "options.h"

typedef struct conn conn_t;
typedef struct bus bus_t;
typedef struct routes routes_t;
typedef struct pending pending_t;
typedef struct api api_t;
typedef struct route route_t;
typedef struct member member_t;

typedef struct {
    int         slot;               /* 0..workers-1, for logs */
    int         listen_fd;          /* WebSocket listener (SO_REUSEPORT, ours) */
    int         api_fd;             /* HTTP API listener or -1 */
    int         status_fd;          /* to the supervisor: ready and counts */
    options_t   opt;
    char        pub_ep[256], sub_ep[256];
} worker_cfg_t;

/* Timer FIFOs: a conn is in exactly one, by state. Each has one duration,
 * so appending at the tail keeps it sorted. */
enum {
    TL_HANDSHAKE,       /* HTTP head not complete yet: 10 s */
    TL_PENDING,         /* upgraded, route not live: 5 s, then 1013 */
    TL_IDLE,            /* open, ordered by last input: ping after 30 s */
    TL_PING,            /* pinged: dropped if silent 30 s more */
    TL_LINGER,          /* close sent, waiting for the peer: 5 s */
    TL_SLOW,            /* closed with 4008: 30 s */
    TL_COUNT
};

struct worker;

/* A listening socket of the worker. worker_accept() takes connections until
 * EAGAIN and hands each fd to take(); on EMFILE and the like it takes the
 * listener out of epoll for 100 ms and keeps serving (nginx's answer), and
 * worker_accept_resume(), called every turn, puts it back. */
typedef struct acceptor {
    int           fd;
    uint64_t      tag;              /* epoll data: tag | fd */
    const char   *what;             /* for log lines */
    void        (*take)(struct worker *w, int fd);
    int           paused;
    int64_t       resume_at;
} acceptor_t;

typedef struct worker {
    worker_cfg_t *cfg;
    options_t    *opt;              /* live options (SIGHUP may update) */
    int           epfd;
    int           stopping;         /* SIGTERM seen: closing every session */
    int           draining;         /* SIGUSR1 (rotation): no new sessions */
    int64_t       stop_deadline;
    int64_t       now;              /* clock_now_ms() at the top of the turn */

    conn_t      **conns;            /* by fd */
    int           conns_cap;
    int           nconns;           /* every accepted socket */
    int           nsessions;        /* upgraded (pending or open) */
    link_t        timers[TL_COUNT];
    link_t        dirty;            /* conns with output to write this turn */
    link_t        reap;             /* conns to free at the end of the turn */
    acceptor_t    ws_listener;      /* --listen */
    acceptor_t    api_listener;     /* --api-listen (fd -1: off) */

    bus_t        *bus;
    routes_t     *routes;
    pending_t    *pending;
    api_t        *api;              /* NULL when --api-listen off */
    int64_t       next_online_log;
    char          origin[17];       /* this process's inbox id (hex) */
    uint64_t      seq;              /* for mids and session ids */

    char         *rbuf;             /* shared read buffer */
    size_t        rbuf_len;
    buf_t         frame;            /* a delivered message, rendered once */
    buf_t         wire;             /* ... and framed once (conn_frame) */
    void         *encoder;          /* wslay context used only to frame */
    buf_t        *enc_out;
    buf_t         ctl;              /* small control frames: ack, error */
    conn_t      **targets;          /* delivery snapshot (conns stay valid */
    size_t        targets_cap;      /*  until conn_reap, so no stale ptr) */
    int           ready_sent;
} worker_t;

/* epoll data of the API listener / an API connection: tag | fd (conns use the bare fd) */
#define WORKER_TAG_API     (4ULL << 40)
#define WORKER_TAG_APICONN (5ULL << 40)

int  worker_run(worker_cfg_t *cfg);
void worker_accept(worker_t *w, acceptor_t *a);
void worker_accept_resume(worker_t *w, acceptor_t *a);

/* A fresh id "<origin>-<seq hex>" in buf (at least 40 bytes); returns length. */
size_t worker_new_id(worker_t *w, char *buf);

#endif
