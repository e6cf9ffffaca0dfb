/* conn — a child's client connections below the WebSocket layer: the
 * connection table's entries, their sockets, their output, and their end.
 *
 * Sockets are non-blocking and sit in the child's level-triggered epoll
 * (created by child.c, handed to conn_init()). Each is bound to the child's
 * own loopback source address (127.0.0.2 + child index: 100k connections
 * would not fit in one address's ~28k ephemeral ports) on source ports it
 * picks itself (see s_next_port in conn.c).
 *
 * Output: whatever is queued for a connection during one loop turn
 * (conn_out_append) leaves in a single write() when the loop calls
 * conn_flush() at the end of the turn; a short write arms EPOLLOUT and
 * conn_write() continues on the event.
 *
 * The end of a connection: any module calls conn_kill() on any error, also
 * from inside a wslay callback; it only marks the connection and tells the
 * owner (conn_hooks_t.killed: child.c counts and logs, soak.c records). The
 * loop calls conn_reap() once per turn, the only place a connection's fd and
 * buffers are released; then the owner's reaped hook may start it again
 * (soak). Owner of the table's memory: child.c; conn.c owns the dirty and
 * dead lists. */
#ifndef LOADGEN_CONN_H
#define LOADGEN_CONN_H

#include <stddef.h>
#include <stdint.h>
#include <wslay/wslay.h>

#define MAX_OUT (16u << 20)     /* unsent bytes per connection before we give up */

/* Connection states, in the order a connection passes them. */
enum { CONN_NEW, CONN_CONNECTING, CONN_HANDSHAKE, CONN_WELCOME, CONN_JOIN, CONN_OPEN,
       CONN_CLOSING, CONN_CLOSED };

typedef struct conn {
    int fd;
    uint8_t state;
    uint8_t dirty;              /* on the dirty list: output queued this turn */
    uint8_t dead;               /* on the dead list: freed by conn_reap() */
    uint8_t want_out;           /* EPOLLOUT armed */
    uint8_t drained;            /* recv callback: the last recv() came short */
    uint8_t eof;
    uint8_t sender;             /* the group sender */
    uint8_t msgop;              /* opcode of the message being reassembled */
    uint64_t user;              /* global user index */
    uint64_t peer;              /* chat target's user index */
    wslay_frame_context_ptr fr;
    uint8_t *pre;               /* handshake bytes, then leftover frame bytes */
    uint32_t prelen, preoff;
    uint8_t *out;
    uint32_t outlen, outoff, outcap;
    uint8_t *msg;
    uint32_t msglen, msgcap;
    uint32_t fgot;              /* payload bytes of the current frame so far */
    uint8_t ctl[128];           /* a control frame split across reads */
    int64_t seq_out;            /* next "s" to send */
    int64_t seq_in;             /* last "s" received */
    int64_t deadline;           /* µs: must be open by then */
    /* soak: the n-th connection of this user (1, 2, …), when it got its 101
     * and its welcome, when and how it ended, when to try again */
    uint32_t inst;
    uint8_t ours;               /* we reset it */
    uint8_t fails;              /* attempts in a row that never got a welcome */
    int32_t close_code;
    int64_t t_up, t_open, t_close, retry_at;
} conn_t;

typedef struct {
    /* C was just marked dead: WHY says what happened, CODE is the server's
     * close code (0: none). C's fd is still open. */
    void (*killed)(conn_t *c, const char *why, int code);
    /* C's resources are gone and it is CONN_CLOSED. May be NULL. */
    void (*reaped)(conn_t *c);
} conn_hooks_t;

/* Sets up for proc.n connections on epoll EP, binding to SRC_IP (host
 * order; 0: let the kernel choose the address and port). HOOKS must outlive
 * the child. Returns 0, or -1 (ENOMEM). */
int         conn_init(int ep, uint32_t src_ip, const conn_hooks_t *hooks);
/* Starts a non-blocking connect for C (CONN_CONNECTING, EPOLLIN|EPOLLOUT),
 * due to be open within --timeout; on failure C is killed. */
void        conn_start(conn_t *c);
/* Marks C dead (once; not a connection that never started or is closed). */
void        conn_kill(conn_t *c, const char *why, int code);
/* Queues N bytes for C's next write; kills C past MAX_OUT or on ENOMEM. */
void        conn_out_append(conn_t *c, const void *p, size_t n);
/* Writes what C has queued, now; on EAGAIN arms EPOLLOUT, and disarms it
 * once all is out (not while connecting). */
void        conn_write(conn_t *c);
/* End of a loop turn: one conn_write() per connection with output queued. */
void        conn_flush(void);
/* End of a loop turn: releases every connection killed since the last. */
void        conn_reap(void);
/* The next open user connection, round robin, or NULL if none is. */
conn_t     *conn_next_open(void);
/* Writes user USER's name (--user-prefix, then the index; "sender" for the
 * group sender C, C may be NULL) at p, no NUL; returns the end. At most 60
 * bytes. */
char       *conn_user_name(char *p, const conn_t *c, uint64_t user);
/* "open", "waiting for welcome", … for log lines. */
const char *conn_state_name(unsigned state);

#endif
