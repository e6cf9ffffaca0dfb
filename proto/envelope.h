/* envelope — the msgpack map carried as the second frame of every bus
 * message (the first is the topic, topic.h). Field meanings: ENVELOPE.md.
 *
 * env_encode() appends the encoding of e to out (a reusable sbuffer the
 * caller clears); 0, or -1 on ENOMEM. env_decode() parses data into e
 * WITHOUT copying: every env_str_t points into data, which must outlive e.
 * It returns 0, or -1 for anything malformed (not a map, wrong types, more
 * than ENV_USERS_MAX users, unknown kind). Used by workers, broker, tools. */
#ifndef ZWSD_ENVELOPE_H
#define ZWSD_ENVELOPE_H

#include <msgpack.h>
#include <stdint.h>

#define ENV_VERSION   1
#define ENV_USERS_MAX 100

typedef enum {
    ENV_NONE = 0,
    ENV_CHAT,           /* to a user's sessions */
    ENV_GROUP,          /* to a group's members */
    ENV_BCAST,          /* to every session */
    ENV_KICK,           /* single-session: close sessions of `to` older than `session` */
    ENV_PROBE,          /* route check: comes back to the origin */
    ENV_RCPT,           /* receipt for a chat: `status` delivered/offline */
    ENV_PRESENCE,       /* query to the broker (users) / reply (online) */
    ENV_STATS,          /* a worker's counts, to the broker */
    ENV_ONLINE,         /* cluster counts: query (no counts) / reply */
    ENV_HISTORY,        /* history: query to the broker / item / end (ENVELOPE.md) */
} env_kind_t;

typedef struct {
    const char *p;      /* NULL when absent */
    uint32_t    n;
} env_str_t;

typedef struct {
    env_kind_t kind;
    env_str_t  mid, sender, to, msg, origin, session, status;
    int64_t    time;                    /* ms since the epoch; 0 = absent */
    uint64_t   req;                     /* 0 = no receipt/reply wanted */
    uint8_t    retry;                   /* chat: a copy of one sent before, same
                                         * mid and req (ENVELOPE.md) */
    int64_t    nusers, nsessions;       /* stats / online; -1 = absent */
    /* history and recovery (ENVELOPE.md): the broker numbers chat and group
     * messages; a history query names a stream and a since, and is answered
     * by items (a stored envelope each) and an end */
    uint64_t   seq;                     /* 0 = absent */
    env_str_t  epoch, stream, since;
    env_str_t  item;                    /* msgpack bin */
    uint8_t    stored;                  /* receipt: kept in the receiver's stream */
    int8_t     recovered;               /* history end: 0/1; -1 = absent */
    int64_t    missed;                  /* history end: -1 = unknown */
    uint32_t   users_n;                 /* presence: users (query) */
    env_str_t  users[ENV_USERS_MAX];
    uint32_t   online_n;                /* presence: online (reply) */
    uint8_t    online[ENV_USERS_MAX];
} env_t;

void        env_init(env_t *e, env_kind_t kind);     /* zero it, counts -1 */
int         env_encode(const env_t *e, msgpack_sbuffer *out);
int         env_decode(const char *data, size_t len, env_t *e);
/* One msgpack object, exactly len bytes, no container claiming more
 * elements than bytes remain: 0, else -1. env_decode() accepts nothing this
 * refuses: it reads the map in place, in one pass, allocating nothing, and a
 * count the bytes cannot hold is malformed there too. */
int         env_check(const char *data, size_t len);
/* What env_stamp() writes into an envelope: always seq and epoch; mid and
 * time too when set (mid.p not NULL, time not 0). */
typedef struct {
    uint64_t  seq;
    env_str_t epoch;
    env_str_t mid;
    int64_t   time;
} env_stamp_t;

/* The envelope data (a msgpack map with str keys, as env_check() accepts)
 * with the fields of st set: the pairs of the same keys, if any, are left
 * out, every other pair is copied byte for byte in its order (unknown keys
 * included: a newer publisher's fields survive), and the new pairs go
 * last. Appends to out (the caller clears it). 0, or -1 if data is not
 * such a map, or on ENOMEM. Pure: the broker numbers what it forwards with
 * it (ENVELOPE.md, History). */
int         env_stamp(const char *data, size_t len, const env_stamp_t *st,
                      msgpack_sbuffer *out);
const char *env_kind_name(env_kind_t kind);
env_str_t   env_cstr(const char *s);                 /* NULL stays absent */

#endif
