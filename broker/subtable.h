/* subtable — the broker's table of user topics and how many subscribers
 * (worker SUB sockets) each has, plus the session counts workers report.
 *
 * Broker process only. subtable_new() returns NULL on ENOMEM; the caller
 * owns it and frees it with subtable_destroy(). subtable_apply() takes one
 * raw XPUB subscription message (first byte 1 = subscribe, 0 = unsubscribe,
 * then the topic) and ignores anything that is not a valid user topic. */
#ifndef ZWSD_SUBTABLE_H
#define ZWSD_SUBTABLE_H

#include <stddef.h>
#include <stdint.h>

typedef struct subtable subtable_t;

subtable_t *subtable_new(void);
void        subtable_destroy(subtable_t **self_p);
void        subtable_apply(subtable_t *self, const unsigned char *msg, size_t len);
/* Subscribers of user topic "u:<name>|" given by name; 0 when none. */
int         subtable_user_count(subtable_t *self, const char *name, size_t len);
size_t      subtable_users(subtable_t *self);        /* users with ≥ 1 subscriber */
/* Worker stats: remember origin's session count; forget it after 3 s. */
void        subtable_stats(subtable_t *self, const char *origin, size_t len,
                           int64_t nsessions, int64_t now_ms);
int64_t     subtable_sessions(subtable_t *self, int64_t now_ms);

#endif
