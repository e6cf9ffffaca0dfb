/* conn — one client connection in a worker: the HTTP upgrade, the
 * WebSocket framing (wslay), bounded output, and the close handshake.
 *
 * Worker process only. conn_accept() takes a new socket (NULL if out of
 * memory; the fd is then closed). A conn is freed only in conn_reap(), at
 * the end of a loop turn, never inside a callback (so no stale pointer
 * survives a turn). Memory: an idle open conn holds only this struct; the
 * handshake parser, the wslay context (≈12 KiB) and the output buffer exist
 * only while there is work in flight.
 *
 * conn_send_text() queues one text frame: it returns 0, or -1 when the
 * conn cannot take it (closing, or it passed --max-outbound: the conn is
 * then being closed with 4008). conn_close() starts a close handshake with
 * a code; conn_drop() ends the TCP connection without one. */
#ifndef ZWSD_CONN_H
#define ZWSD_CONN_H

#include <stddef.h>
#include <stdint.h>
#include <wslay/wslay.h>

#include "list.h"
#include "worker.h"

typedef struct handshake handshake_t;

typedef enum {
    CONN_HANDSHAKE,     /* reading the HTTP head */
    CONN_PENDING,       /* 101 sent; waiting for the user's route */
    CONN_OPEN,          /* welcome sent */
    CONN_CLOSING,       /* close frame queued or sent */
    CONN_DEAD,          /* on the reap list */
} conn_state_t;

struct conn {
    int                 fd;
    uint32_t            gen;            /* tells reused fds apart (pending acks) */
    conn_state_t        state;
    uint8_t             tl;             /* timer list (TL_*) */
    uint8_t             dirty;
    uint8_t             eof;
    uint8_t             frag;           /* inside a fragmented message */
    link_t              tlink;          /* in worker->timers[tl] */
    link_t              dlink;          /* in worker->dirty or ->reap */
    int64_t             t_ms;           /* when it entered its timer list */
    handshake_t        *hs;
    char               *early;          /* frames that came with the HTTP head */
    size_t              early_len;
    wslay_event_context_ptr ws;
    buf_t               out;            /* bytes for the socket, whole frames */
    size_t              out_partial;    /* bytes left of a frame partly written */
    /* where wslay's recv callback reads from, during conn_feed() */
    const uint8_t      *in;
    size_t              in_len;
    /* frame-boundary scanner over client bytes: lets an idle conn drop its
     * wslay context without losing a half-received frame */
    uint8_t             sc_hdr[14];
    uint8_t             sc_have, sc_need;
    uint64_t            sc_left;
    /* session */
    route_t            *user;           /* the user's route (sessions list) */
    link_t              ulink;          /* in user->members */
    member_t           *groups;         /* memberships, singly linked */
    int                 ngroups;
    int64_t             login_wall;     /* ms since epoch, for 4001 ordering */
    char                session[40];
    /* rate limit: token bucket, in milli-tokens */
    int64_t             rl_tokens;
    int64_t             rl_ms;
    uint32_t            rl_refused;
    uint8_t             subproto;
};

/* Frame a text message once into out (any number of recipients can then
 * take the same bytes with conn_send_frame); 0, or -1 on ENOMEM. */
int     conn_frame(worker_t *w, buf_t *out, const char *p, size_t n);
int     conn_send_frame(worker_t *w, conn_t *c, const char *frame, size_t n);
void    conn_encoder_free(worker_t *w);

conn_t *conn_accept(worker_t *w, int fd);
void    conn_on_ready(worker_t *w, conn_t *c, uint32_t events);
int     conn_send_text(worker_t *w, conn_t *c, const char *p, size_t n);
void    conn_close(worker_t *w, conn_t *c, uint16_t code, const char *reason);
void    conn_drop(worker_t *w, conn_t *c);
void    conn_open(worker_t *w, conn_t *c);      /* route live: welcome, read */
void    conn_flush_all(worker_t *w);            /* write every dirty conn */
void    conn_reap(worker_t *w);                 /* free every dead conn */
void    conn_timers(worker_t *w);               /* expire the timer FIFOs */
void    conn_set_timer(worker_t *w, conn_t *c, int tl);
conn_t *conn_lookup(worker_t *w, int fd, uint32_t gen);

#endif
