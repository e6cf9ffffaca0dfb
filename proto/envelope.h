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
    int64_t    nusers, nsessions;       /* stats / online; -1 = absent */
    uint32_t   users_n;                 /* presence: users (query) */
    env_str_t  users[ENV_USERS_MAX];
    uint32_t   online_n;                /* presence: online (reply) */
    uint8_t    online[ENV_USERS_MAX];
} env_t;

void        env_init(env_t *e, env_kind_t kind);     /* zero it, counts -1 */
int         env_encode(const env_t *e, msgpack_sbuffer *out);
int         env_decode(const char *data, size_t len, env_t *e);
/* One msgpack object, exactly len bytes, no container claiming more
 * elements than bytes remain: 0, else -1. env_decode() runs it first, so
 * hostile input never makes msgpack-c allocate for a fake count. */
int         env_check(const char *data, size_t len);
const char *env_kind_name(env_kind_t kind);
env_str_t   env_cstr(const char *s);                 /* NULL stays absent */

#endif
