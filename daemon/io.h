/* io — the small I/O layer under a worker's connections: the fd table,
 * the timer FIFOs, the dirty and reap lists. The WebSocket transport
 * (conn.c) and the HTTP API (api.c) each keep one io_set_t and embed an
 * io_item_t in every connection; what a connection does when its fd is
 * ready, its timer fires or it is written stays theirs.
 *
 * Rules, the same for both (Redis's freeClientAsync, nginx's posted events):
 *   - an item is registered with io_add() (table + epoll, data tag | fd)
 *     and stays reachable by fd until the end of the turn it was killed in;
 *   - io_kill() only moves it to the reap list; io_next_dead() hands it
 *     back once, at the one safe point of the loop, with its fd closed and
 *     its table slot free, for the owner to release;
 *   - a generation number tells a reused fd apart, so a completion for a
 *     connection that is gone finds nothing (io_lookup).
 * Timer lists are FIFOs of one duration each: appending at the tail keeps
 * them sorted, so expiry looks at heads only (czmq zloop's tickets).
 *
 * Worker process only, single-threaded; no allocation after io_init(). */
#ifndef ZWSD_IO_H
#define ZWSD_IO_H

#include <stdint.h>

#include "list.h"

#define IO_TL_MAX  8
#define IO_TL_NONE 0xff

typedef struct io_item {
    int         fd;
    uint32_t    gen;
    uint8_t     tl;             /* timer list, IO_TL_NONE when in none */
    uint8_t     dirty;          /* on the dirty list, or being serviced */
    uint8_t     dead;           /* on the reap list */
    link_t      tlink;          /* in a timer list */
    link_t      dlink;          /* in the dirty, later or reap list */
    int64_t     t_ms;           /* when it joined its timer list */
} io_item_t;

typedef struct io_set {
    int             epfd;
    uint64_t        tag;        /* epoll data of an item: tag | fd */
    io_item_t     **by_fd;
    int             cap;
    int             count;      /* registered items, dead ones included */
    uint32_t        gen;
    const int64_t  *now;
    int             ntl;
    int64_t         timeout[IO_TL_MAX];
    link_t          timers[IO_TL_MAX];
    link_t          dirty, later, reap;
} io_set_t;

/* cap: the fd table's size; timeout[ntl]: each timer list's duration (ms).
 * 0, or -1 on ENOMEM or ntl out of range. */
int        io_init(io_set_t *s, int epfd, uint64_t tag, int cap, const int64_t *now,
                   const int64_t *timeout, int ntl);
/* Frees the table. Every item must have been reaped. */
void       io_fini(io_set_t *s);

/* Registers it under fd (edge-triggered events as given): 0, or -1 when
 * fd is outside the table or epoll refuses (the caller closes fd). */
int        io_add(io_set_t *s, io_item_t *it, int fd, uint32_t events);
io_item_t *io_get(const io_set_t *s, int fd);                 /* dead too */
io_item_t *io_lookup(const io_set_t *s, int fd, uint32_t gen); /* live only */

void       io_set_timer(io_set_t *s, io_item_t *it, int tl);  /* restarts it */
void       io_clear_timer(io_item_t *it);
/* The head of timer list tl when its time is up, taken off the list
 * (so a handler that does nothing with it cannot spin), else NULL. */
io_item_t *io_expired(io_set_t *s, int tl);

/* Dirty: work for the flush (output to write, input to resume). While an
 * item is being serviced it stays marked, so it is not queued twice;
 * io_clean() ends that, io_later() keeps it for the next flush. */
void       io_mark_dirty(io_set_t *s, io_item_t *it);
io_item_t *io_next_dirty(io_set_t *s);
void       io_clean(io_item_t *it);
void       io_later(io_set_t *s, io_item_t *it);
void       io_flush_end(io_set_t *s);                          /* later → dirty */

void       io_kill(io_set_t *s, io_item_t *it);
io_item_t *io_next_dead(io_set_t *s);

#endif
