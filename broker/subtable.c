/* subtable — see subtable.h. Keys are user names (not whole topics), so a
 * presence query looks a user up without building a topic string. */
#include "subtable.h"

#include <czmq.h>
#include <string.h>

#include "topic.h"
#include "valid.h"

#define STATS_TTL_MS 3000

struct subtable {
    zhashx_t *users;        /* name -> (intptr_t) subscriber count */
    zhashx_t *stats;        /* origin -> stat_t */
};

typedef struct {
    int64_t nsessions;
    int64_t seen_ms;
} stat_t;

static void
s_stat_free(void **item)
{
    free(*item);
    *item = NULL;
}

subtable_t *
subtable_new(void)
{
    subtable_t *self = calloc(1, sizeof *self);
    if (!self)
        return NULL;
    self->users = zhashx_new();
    self->stats = zhashx_new();
    if (!self->users || !self->stats) {
        subtable_destroy(&self);
        return NULL;
    }
    zhashx_set_destructor(self->stats, s_stat_free);
    return self;
}

void
subtable_destroy(subtable_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    subtable_t *self = *self_p;
    zhashx_destroy(&self->users);
    zhashx_destroy(&self->stats);
    free(self);
    *self_p = NULL;
}

void
subtable_apply(subtable_t *self, const unsigned char *msg, size_t len)
{
    topic_kind_t kind;
    const char *name;
    size_t nlen;
    if (len < 1 || msg[0] > 1)
        return;
    if (topic_parse((const char *)msg + 1, len - 1, &kind, &name, &nlen) < 0
        || kind != TOPIC_USER || !valid_name(name, nlen))
        return;
    char key[VALID_NAME_MAX + 1];
    memcpy(key, name, nlen);
    key[nlen] = '\0';
    intptr_t n = (intptr_t)zhashx_lookup(self->users, key);
    n += msg[0] ? 1 : -1;
    if (n <= 0)
        zhashx_delete(self->users, key);
    else if (zhashx_insert(self->users, key, (void *)n) != 0)
        zhashx_update(self->users, key, (void *)n);
}

int
subtable_user_count(subtable_t *self, const char *name, size_t len)
{
    char key[VALID_NAME_MAX + 1];
    if (!valid_name(name, len))
        return 0;                       /* also keeps "bob\0x" from matching bob */
    memcpy(key, name, len);
    key[len] = '\0';
    return (int)(intptr_t)zhashx_lookup(self->users, key);
}

size_t
subtable_users(subtable_t *self)
{
    return zhashx_size(self->users);
}

void
subtable_stats(subtable_t *self, const char *origin, size_t len, int64_t nsessions,
               int64_t now_ms)
{
    char key[VALID_NAME_MAX + 1];
    if (len == 0 || len > VALID_NAME_MAX)
        return;
    memcpy(key, origin, len);
    key[len] = '\0';
    stat_t *st = zhashx_lookup(self->stats, key);
    if (!st) {
        if (!(st = calloc(1, sizeof *st)))
            return;
        zhashx_insert(self->stats, key, st);
    }
    st->nsessions = nsessions;
    st->seen_ms = now_ms;
}

int64_t
subtable_sessions(subtable_t *self, int64_t now_ms)
{
    int64_t sum = 0;
    zlistx_t *stale = NULL;
    for (stat_t *st = zhashx_first(self->stats); st; st = zhashx_next(self->stats)) {
        if (now_ms - st->seen_ms > STATS_TTL_MS) {
            if (!stale)
                stale = zlistx_new();
            if (stale)
                zlistx_add_end(stale, strdup(zhashx_cursor(self->stats)));
            continue;
        }
        sum += st->nsessions;
    }
    if (stale) {
        for (char *k = zlistx_first(stale); k; k = zlistx_next(stale)) {
            zhashx_delete(self->stats, k);
            free(k);
        }
        zlistx_destroy(&stale);
    }
    return sum;
}
