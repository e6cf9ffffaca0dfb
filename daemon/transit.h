/* transit — how late a bus message is, measured without trusting clocks.
 *
 * Pure. A sender stamps each chat with its wall clock; hosts' clocks differ,
 * so the raw delay (now - stamp) means nothing alone. For each origin (a
 * worker's inbox id) transit keeps the smallest delay seen recently: that is
 * the clock offset plus the fastest transit. A message's lateness is its
 * delay above that minimum: about 0 normally, large after this worker or
 * the broker stalled (stopped, swapped, overloaded) with messages queued.
 *
 * deliver.c uses it so a chat whose sender already answered its ack (the
 * deadline passed) is not delivered behind the sender's back: the sender
 * said `unavailable`, so the message must not arrive. Direct-mapped table
 * of TRANSIT_SLOTS origins; an origin that loses its slot starts afresh
 * (lateness 0 until it is calibrated again). */
#ifndef ZWSD_TRANSIT_H
#define ZWSD_TRANSIT_H

#include <stddef.h>
#include <stdint.h>

#define TRANSIT_SLOTS  64
#define TRANSIT_WINDOW 10000     /* ms: minima are kept for one to two windows */

typedef struct {
    char    origin[17];
    int64_t min_cur, min_prev;   /* INT64_MAX: no sample */
    int64_t window_start;
} transit_slot_t;

typedef struct {
    transit_slot_t slot[TRANSIT_SLOTS];
} transit_t;

/* Records the sample and returns the lateness in ms (>= 0). */
int64_t transit_late(transit_t *t, const char *origin, size_t n, int64_t sent_wall,
                     int64_t now_wall);

#endif
