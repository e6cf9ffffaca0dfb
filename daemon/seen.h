/* seen — which chats this worker has already handled, by (origin, req),
 * and what came of each: so that a copy of a chat (envelope `retry`: its
 * sender had no receipt in time and published it again, same mid and req)
 * is answered from what happened to the first one instead of reaching a
 * session twice.
 *
 * Worker process only; pure bookkeeping: it allocates, does no I/O and
 * takes the owner's clock. A zeroed seen_t is empty and ready; seen_free()
 * releases it. deliver.c records every chat with a req it handles
 * (seen_put) and looks a copy up (seen_get) before delivering it.
 *
 * Why this is exact: a worker receives one origin's messages in the order
 * they were published (one broker, FIFO pipes), so a copy always comes
 * after its first, or the first never came. The origin's req numbers grow
 * by one per request, so for each origin a window of the newest
 * SEEN_WINDOW numbers, two bits each, says exactly what was handled; what
 * fell out of the window, or was forgotten with its origin's slot, is
 * SEEN_UNKNOWN, and the caller must not deliver a copy it cannot place.
 * An origin's slot is reused only after SEEN_IDLE_MS without a chat from
 * it; a copy that comes that long after its first is not a case the
 * sender's one-second deadline leaves (see zwsd-protocol(7), Acks). */
#ifndef ZWSD_SEEN_H
#define ZWSD_SEEN_H

#include <stddef.h>
#include <stdint.h>

#define SEEN_WINDOW  (1u << 17)     /* requests remembered per origin: 32 KB */
#define SEEN_ORIGINS 64             /* origins remembered at once */
#define SEEN_IDLE_MS 10000          /* a slot this quiet may be reused */

typedef enum {
    SEEN_NONE = 0,      /* never handled here */
    SEEN_DELIVERED,     /* queued for at least one live session */
    SEEN_NOSESSION,     /* handled; no open session took it */
    SEEN_DROPPED,       /* came too late: not delivered, no receipt sent */
    SEEN_UNKNOWN,       /* forgotten: cannot tell */
} seen_state_t;

typedef struct seen_origin seen_origin_t;

typedef struct {
    seen_origin_t *slot[SEEN_ORIGINS];
    seen_origin_t *last;            /* the slot used last: chats come in runs */
    int64_t        forgot_ms;       /* newest activity of anything forgotten */
    uint8_t        forgot;          /* forgot_ms is set */
} seen_t;

/* Record what came of chat (origin, req); req 0 is ignored. A later put of
 * the same chat overwrites (a copy delivered where the first found no
 * session). Out of memory or out of slots, the chat is forgotten: seen_get
 * then says SEEN_UNKNOWN for that origin. */
void         seen_put(seen_t *s, const char *origin, size_t n, uint64_t req, seen_state_t st,
                      int64_t now);
/* What came of chat (origin, req) here: SEEN_NONE when it was never
 * handled, SEEN_UNKNOWN when that cannot be told. */
seen_state_t seen_get(const seen_t *s, const char *origin, size_t n, uint64_t req,
                      int64_t now);
void         seen_free(seen_t *s);

#endif
