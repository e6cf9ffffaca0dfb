/* pace — a busy event loop starts its turns at most every turn_us.
 *
 * At moderate rates every message would otherwise pay its own wake-ups:
 * the loop's, ZeroMQ's I/O threads', the broker's and the client's. A loop
 * that did work in its last turn sleeps until turn_us after that turn
 * began, then polls without waiting: what arrived meanwhile is read,
 * published and written together, so each party wakes once per turn. A
 * loop whose last turn found nothing blocks in its poll as usual, so the
 * first message after a quiet spell is handled at once; the cost is at most
 * turn_us of added latency per hop while busy. turn_us 0 turns it off.
 *
 * Use: pace_wait(&p, cap_us) right before the poll (cap_us: the poll's own
 * timeout, so no timer is made late; < 0 = none), then pace_turn(&p, busy)
 * right after it, busy = whether the poll returned work. Not thread-safe;
 * one per loop. */
#ifndef ZWSD_PACE_H
#define ZWSD_PACE_H

#include <stdint.h>

typedef struct {
    int64_t turn_us;        /* 0 = no pacing */
    int64_t start_us;       /* when the last turn began (CLOCK_MONOTONIC) */
    int     busy;           /* the last turn had work */
} pace_t;

void pace_init(pace_t *p, int64_t turn_us);
/* How long to sleep at now_us before the next turn: 0 when off, when the
 * last turn was idle or when its turn_us has passed; never over cap_us. */
int64_t pace_due(const pace_t *p, int64_t now_us, int64_t cap_us);
/* Sleeps pace_due(now) microseconds and returns them. */
int64_t pace_wait(pace_t *p, int64_t cap_us);
/* A turn begins at now_us; busy: it has work. */
void pace_turn_at(pace_t *p, int busy, int64_t now_us);
void pace_turn(pace_t *p, int busy);    /* pace_turn_at(p, busy, now) */

#endif
