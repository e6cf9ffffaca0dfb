/* conn_int — what conn.c and conns.c share: the connection set's fields
 * and the few internal steps both use. Not for other modules. */
#ifndef ZWSD_CONN_INT_H
#define ZWSD_CONN_INT_H

#include "conn.h"
#include "wsenc.h"

#define HANDSHAKE_MS 10000
#define PENDING_MS   5000
#define IDLE_MS      30000
#define PING_MS      30000
#define LINGER_MS    5000
#define SLOW_MS      30000
#define RBUF_LEN     (64 * 1024)

struct conns {
    int               epfd;
    const options_t  *opt;
    const int64_t    *now;
    conn_events_t     ev;
    conn_t          **by_fd;
    int               cap;
    int               count;
    uint32_t          gen;
    link_t            timers[TL_COUNT];
    link_t            dirty;            /* output to write this turn */
    link_t            reap;             /* to free at the end of the turn */
    conn_t          **settle;           /* deferred opens and closes */
    size_t            nsettle, settle_cap;
    char             *rbuf;
    const uint8_t    *in;               /* wslay's recv source, in s_feed() */
    size_t            in_len;
    wsenc_t           enc;              /* frames once for every recipient */
    buf_t             wire;             /* scratch: one framed control message */
};

/* wslay's callbacks get the conn; they reach the set through this (one
 * worker per process, one set per worker). */
extern conns_t *conn__set;

static inline int64_t
s_now(const conns_t *cs)
{
    return *cs->now;
}

void conn__set_timer(conns_t *cs, conn_t *c, int tl);
void conn__mark_dirty(conns_t *cs, conn_t *c);
int  conn__encode(conns_t *cs, buf_t *out, uint8_t opcode, const char *p, size_t n);

#endif
