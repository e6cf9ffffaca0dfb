/* conn — the WebSocket transport of a worker: every client connection from
 * accept to close. The HTTP upgrade, wslay framing, bounded output, the
 * rate limit, ping/idle timers and the close handshake. It knows nothing of
 * users, groups or the bus: what a connection carries goes up through the
 * conn_events_t callbacks the owner (worker.c) registered.
 *
 * Worker process only. A conn is freed only in conns_reap(), at the end of
 * a loop turn, never inside a callback, so no stale pointer survives a turn.
 * Decisions taken while another module is iterating are deferred to one
 * safe point, conns_settle(), as Redis frees clients asynchronously:
 *   - a conn that leaves the session states (closed by us or the peer, or
 *     dropped) is reported once through on_closed there, never inside
 *     conn_close();
 *   - a conn made open by conn_open() reads its early frames and socket
 *     there, so no client frame is handled from inside the bus drain.
 * Memory: an idle open conn holds only this struct; the handshake parser,
 * the wslay context (~12 KiB) and the output buffer exist only while there
 * is work in flight.
 *
 * conn_send_text()/conn_send_frame() queue one text frame: 0, or -1 when
 * the conn cannot take it (not open, or it passed --max-outbound: it is then
 * being closed with 4008). conn_close() starts a close handshake with a
 * code; conn_drop() ends the TCP connection without one. */
#ifndef ZWSD_CONN_H
#define ZWSD_CONN_H

#include <stddef.h>
#include <stdint.h>
#include <wslay/wslay.h>

#include "buf.h"
#include "handshake.h"
#include "io.h"
#include "options.h"
#include "rate.h"
#include "wsenc.h"
#include "wsframe.h"

typedef struct conn conn_t;
typedef struct conns conns_t;
typedef struct handshake handshake_t;
struct session;

typedef enum {
    CONN_HANDSHAKE,     /* reading the HTTP head */
    CONN_PENDING,       /* 101 sent; waiting for the owner's conn_open() */
    CONN_OPEN,          /* welcome sent */
    CONN_CLOSING,       /* close frame queued or sent */
    CONN_PAGE,          /* not an upgrade: a page (--demo) being written, then
                         * closed; never a session, never a WebSocket */
    CONN_DEAD,          /* on the reap list */
} conn_state_t;

/* Timer FIFOs: a conn is in exactly one, by state. Each has one duration,
 * so appending at the tail keeps it sorted (czmq zloop's tickets). */
enum {
    TL_HANDSHAKE,       /* HTTP head not complete yet: 10 s */
    TL_PENDING,         /* upgraded, not open yet: 5 s, then 1013 */
    TL_IDLE,            /* open, ordered by last input: ping after 30 s */
    TL_PING,            /* pinged: dropped if silent 30 s more */
    TL_LINGER,          /* close sent (or a page out), waiting for the peer: 5 s */
    TL_SLOW,            /* closed with 4008, or a page being written: 30 s */
    TL_COUNT
};

struct conn {
    io_item_t           io;             /* fd, generation, timer (TL_*), dirty/reap */
    uint8_t             state;          /* conn_state_t */
    uint8_t             settle;         /* queued for conns_settle() */
    uint8_t             reported;       /* on_closed already called */
    uint8_t             subproto;
    uint32_t            tag;            /* the owner's; conn never reads it (worker:
                                         * gate.h's peer slot and refusal) */
    handshake_t        *hs;
    char               *early;          /* frames that came with the HTTP head */
    size_t              early_len;
    wslay_event_context_ptr ws;
    buf_t               out;            /* bytes for the socket, whole frames */
    size_t              out_partial;    /* bytes left of a frame partly written */
    /* frame-boundary scanner over client bytes: lets an idle conn drop its
     * wslay context without losing a half-received frame, catches the
     * protocol errors wslay gets wrong, and takes the client's close frame,
     * which wslay never sees (wsframe.h) */
    wsf_scan_t          sc;
    rate_t              rl;             /* rate limit */
    struct session     *sess;           /* the owner's, set in on_upgrade */
};

/* What on_upgrade decides on: the request's, then the owner's answer. */
typedef struct {
    const char *user;               /* the path's userId */
    const char *token;              /* the JWT (handshake_token()) or NULL */
    const char *since;              /* ?since= (handshake_since()) or NULL */
    /* a refusal, set by on_upgrade when it returns 1: */
    int         status;             /* the HTTP status: 401, 403, 429, 503... */
    const char *body;               /* its body (handshake_error_response()) */
    const char *headers;            /* extra header lines, or NULL */
} conn_upgrade_t;

/* Events to the owner. Each may call conn_* functions on any conn. */
typedef struct {
    /* A valid upgrade request for u->user, its 101 queued: attach a session
     * (c->sess) and return 0; -1 drops the conn; or, without attaching,
     * fill u->status (and body, headers) and return 1: the refusal goes
     * out instead of the 101 and the conn is closed. */
    int  (*on_upgrade)(void *arg, conn_t *c, conn_upgrade_t *u);
    /* A complete text message of an open conn, within the rate limit. */
    void (*on_text)(void *arg, conn_t *c, const char *text, size_t len);
    /* A binary message (unsupported), or a text message over the rate
     * limit (refused = 1): the owner answers it. */
    void (*on_reject)(void *arg, conn_t *c, const char *text, size_t len, int refused);
    /* At conns_settle(), once: an upgraded conn left PENDING/OPEN. */
    void (*on_closed)(void *arg, conn_t *c);
    void  *arg;
    /* In conns_reap(), for every accepted conn, just before it is freed
     * (its fd is closed already); may be NULL. */
    void (*on_freed)(void *arg, conn_t *c);
} conn_events_t;

/* epoll data of a conn: tag | fd (io.h); cap: the fd table's size. */
conns_t *conns_new(int epfd, uint64_t tag, int cap, const options_t *opt, const int64_t *now,
                   const conn_events_t *ev);
void     conns_destroy(conns_t **self_p);      /* drops every conn first */
int      conns_count(const conns_t *self);      /* accepted sockets */
conn_t  *conns_lookup(conns_t *self, int fd, uint32_t gen);
conn_t  *conns_get(conns_t *self, int fd);     /* epoll data: the bare fd */
/* Frame a text message once into out: any number of recipients can then
 * take the same bytes with conn_send_frame(). 0, or -1 on ENOMEM. */
int      conns_frame(conns_t *self, buf_t *out, const char *p, size_t n);
/* Close every conn with code (shutdown). */
void     conns_close_all(conns_t *self, uint16_t code, const char *reason);
/* The origin allow-list, head limit and pages of every handshake from now on; cfg
 * is the owner's and must outlive the set (NULL: none, 8 KiB). The
 * handshake timeout is the live options' handshake_timeout. */
void     conns_set_handshake(conns_t *self, const handshake_cfg_t *cfg);
void     conns_timers(conns_t *self);           /* expire the timer FIFOs */
void     conns_settle(conns_t *self);           /* the safe point, see above */
void     conns_flush(conns_t *self);            /* write every dirty conn */
void     conns_reap(conns_t *self);             /* free every dead conn */

conn_t  *conn_accept(conns_t *self, int fd);
void     conn_on_ready(conns_t *self, conn_t *c, uint32_t events);
int      conn_send_text(conns_t *self, conn_t *c, const char *p, size_t n);
int      conn_send_frame(conns_t *self, conn_t *c, const char *frame, size_t n);
/* A frame for a conn still PENDING, ahead of its welcome (a resumed
 * session's replay): like conn_send_frame, --max-outbound included. */
int      conn_send_early(conns_t *self, conn_t *c, const char *frame, size_t n);
void     conn_close(conns_t *self, conn_t *c, uint16_t code, const char *reason);
void     conn_drop(conns_t *self, conn_t *c);
/* The session is live: send welcome (text) and start reading. */
void     conn_open(conns_t *self, conn_t *c, const char *welcome, size_t n);

/* ---- internal: conn.c and conns.c only ---------------------------------
 * The set's fields and the steps both files take; no other module may use
 * them (they see conns_t as opaque and call the functions above). */

#define HANDSHAKE_MS 10000   /* when opt->handshake_timeout is 0 */
#define PENDING_MS   5000
#define IDLE_MS      30000
#define PING_MS      30000
#define LINGER_MS    5000
#define SLOW_MS      30000
#define RBUF_LEN     (64 * 1024)

struct conns {
    const options_t  *opt;
    const int64_t    *now;
    conn_events_t     ev;
    const handshake_cfg_t *hcfg;        /* conns_set_handshake() */
    io_set_t          io;               /* fd table, timer FIFOs, dirty and reap */
    conn_t          **settle;           /* deferred opens and closes */
    size_t            nsettle, settle_cap;
    char             *rbuf;
    const uint8_t    *in;               /* wslay's recv source, in s_feed() */
    size_t            in_len;
    wsenc_t           enc;              /* frames once for every recipient */
    buf_pool_t        pool;             /* emptied output buffers, for reuse */
    uint8_t          *fast;             /* unmasked messages of the fast path */
    size_t            fast_cap;
    buf_t             wire;             /* scratch: one framed control message */
};


static inline int64_t
conn__now(const conns_t *cs)
{
    return *cs->now;
}

/* wslay's callbacks get the conn; they reach the set through this (one
 * worker per process, one set per worker). */
extern conns_t *conn__set;

int  conn__out(conns_t *cs, conn_t *c, const void *p, size_t n);
void conn__out_release(conns_t *cs, conn_t *c);  /* the queue back to the pool */
void conn__set_timer(conns_t *cs, conn_t *c, int tl);
void conn__mark_dirty(conns_t *cs, conn_t *c);
int  conn__encode(conns_t *cs, buf_t *out, uint8_t opcode, const char *p, size_t n);
void conn__feed(conns_t *cs, conn_t *c, const uint8_t *p, size_t n);
/* events: what epoll reported (a short read then ends it), 0 = read to EAGAIN */
void conn__read(conns_t *cs, conn_t *c, uint32_t events);
void conn__flush(conns_t *cs, conn_t *c);

#endif
