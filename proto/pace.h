/* pace — a busy event loop starts its turns on a grid of turn_us.
 *
 * At moderate rates every message would otherwise pay its own wake-ups:
 * the loop's, ZeroMQ's I/O threads', the broker's and the client's. A loop
 * that did work in its last turn sleeps until the next point of a grid of
 * turn_us (CLOCK_MONOTONIC, so every process of a host shares it; phase_us
 * shifts a loop's points), then polls without waiting: what arrived
 * meanwhile is read, published and written together, so each party wakes
 * once per turn. The grid keeps processes in step: every worker's burst
 * reaches the broker together and the broker's answers come back together,
 * instead of three loops adding up three independent waits. A loop whose
 * last turn found nothing blocks in its poll as usual, so the first message
 * after a quiet spell is handled at once; the added latency is at most
 * turn_us while busy. turn_us 0 turns it off.
 *
 * The sleep ends early when one of the caller's wake fds is readable: a
 * worker paces what clients send but not what the bus brings back (it
 * writes that out in a turn of its own, reading no client), so a chat
 * waits for one grid point on its way, not two.
 *
 * Use: pace_wait(&p, cap_us, fds, nfds) right before the poll (cap_us: the
 * poll's own timeout, so no timer is made late; < 0 = none), then
 * pace_turn(&p, busy) right after it, busy = whether the poll returned
 * work. Not thread-safe; one per loop. */
#ifndef ZWSD_PACE_H
#define ZWSD_PACE_H

#include <stdint.h>

typedef struct {
    int64_t turn_us;        /* grid spacing; 0 = no pacing */
    int64_t phase_us;       /* this loop's offset on the grid, 0..turn_us-1 */
    int64_t start_us;       /* when the last turn began (CLOCK_MONOTONIC) */
    int     busy;           /* the last turn had work */
} pace_t;

void pace_init(pace_t *p, int64_t turn_us);            /* phase 0 */
void pace_set_phase(pace_t *p, int64_t phase_us);      /* taken modulo turn_us */
/* How long to sleep at now_us before the next turn: until the first grid
 * point after the last turn began; 0 when off, when the last turn was idle
 * or when that point has passed; never over turn_us nor cap_us. */
int64_t pace_due(const pace_t *p, int64_t now_us, int64_t cap_us);
/* Sleeps pace_due(now) microseconds, or less if one of fds (nfds of them,
 * 0 to 32) becomes readable or a signal arrives. Returns PACE_NOW when it
 * did not sleep, PACE_SLEPT after the sleep (poll without waiting) and
 * PACE_WOKEN when an fd ended it early. */
enum { PACE_NOW, PACE_SLEPT, PACE_WOKEN };
int pace_wait(pace_t *p, int64_t cap_us, const int *fds, int nfds);
/* A turn begins at now_us; busy: it has work. */
void pace_turn_at(pace_t *p, int busy, int64_t now_us);
void pace_turn(pace_t *p, int busy);    /* pace_turn_at(p, busy, now) */

#endif
