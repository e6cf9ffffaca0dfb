/* route — see route.h. */
#include "route.h"

#include <czmq.h>
#include <string.h>

#define PROBE_RETRY_MS 250

struct routes {
    bus_t         *bus;
    const int64_t *now;
    zhashx_t      *map;         /* topic -> route_t (owned) */
    link_t         not_live;    /* routes waiting for their probe */
    size_t         users;
};

static void
s_route_free(void **item)
{
    free(*item);
    *item = NULL;
}

routes_t *
routes_new(bus_t *bus, const int64_t *now)
{
    routes_t *self = calloc(1, sizeof *self);
    if (!self || !(self->map = zhashx_new())) {
        free(self);
        return NULL;
    }
    self->bus = bus;
    self->now = now;
    zhashx_set_destructor(self->map, s_route_free);
    list_init(&self->not_live);
    return self;
}

void
routes_destroy(routes_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    zhashx_destroy(&(*self_p)->map);
    free(*self_p);
    *self_p = NULL;
}

route_t *
route_get(routes_t *self, topic_kind_t kind, const char *name, size_t len)
{
    char topic[TOPIC_MAX];
    if (!topic_make(topic, kind, name, len))
        return NULL;
    return zhashx_lookup(self->map, topic);
}

static void
s_probe(routes_t *self, route_t *r)
{
    uint64_t req = bus_probe(self->bus, r->topic, r->tlen);
    if (req && !r->probe_min)
        r->probe_min = req;
    r->probe_ms = *self->now;
}

route_t *
route_ref(routes_t *self, topic_kind_t kind, const char *name, size_t len)
{
    route_t *r = route_get(self, kind, name, len);
    if (r)
        return r;
    if (len > 64 || !(r = calloc(1, sizeof *r)))
        return NULL;
    r->kind = (uint8_t)kind;
    r->tlen = (uint8_t)topic_make(r->topic, kind, name, len);
    memcpy(r->name, name, len);
    r->name[len] = '\0';
    r->nlen = (uint8_t)len;
    list_init(&r->members);
    if (!r->tlen || zhashx_insert(self->map, r->topic, r) != 0) {
        free(r);
        return NULL;
    }
    bus_subscribe(self->bus, r->topic, r->tlen);
    if (kind == TOPIC_USER)
        self->users++;
    list_push_tail(&self->not_live, &r->plink);
    s_probe(self, r);
    return r;
}

void
route_release(routes_t *self, route_t *r)
{
    if (!r || r->nmembers > 0)
        return;
    char topic[TOPIC_MAX];
    memcpy(topic, r->topic, sizeof topic);
    bus_unsubscribe(self->bus, topic, r->tlen);
    if (r->kind == TOPIC_USER)
        self->users--;
    list_unlink(&r->plink);
    zhashx_delete(self->map, topic);    /* frees r */
}

route_t *
route_probe_back(routes_t *self, uint64_t req, const char *topic, size_t len)
{
    char key[TOPIC_MAX];
    if (len >= TOPIC_MAX)
        return NULL;
    memcpy(key, topic, len);
    key[len] = '\0';
    route_t *r = zhashx_lookup(self->map, key);
    /* any probe sent since this subscription was made proves it: the
     * broker forwards a probe only to subscribers it already knows */
    if (!r || r->live || !r->probe_min || req < r->probe_min)
        return NULL;
    r->live = 1;
    list_unlink(&r->plink);
    return r;
}

void
route_reprobe(routes_t *self, route_t *r)
{
    if (!r->live)
        return;
    r->live = 0;
    r->probe_min = 0;
    list_push_tail(&self->not_live, &r->plink);
    s_probe(self, r);
}

void
route_tick(routes_t *self)
{
    int64_t now = *self->now;
    for (link_t *l = self->not_live.next; l != &self->not_live; l = l->next) {
        route_t *r = list_entry(l, route_t, plink);
        if (now - r->probe_ms >= PROBE_RETRY_MS)
            s_probe(self, r);
    }
}

size_t
routes_users(routes_t *self)
{
    return self->users;
}

void
route_epoch(route_t *r, const char *epoch, size_t n)
{
    if (!epoch || n == 0 || n > VALID_EPOCH_MAX)
        return;
    if (n == r->epoch_len && !memcmp(r->epoch, epoch, n))
        return;
    memcpy(r->epoch, epoch, n);
    r->epoch[n] = '\0';
    r->epoch_len = (uint8_t)n;
    r->epoch_gen++;
}

int
route_pos_take(const route_t *r, route_pos_t *pos, uint64_t seq)
{
    if (seq == 0)
        return 1;
    if (pos->gen == r->epoch_gen && seq <= pos->seq)
        return 0;
    pos->seq = seq;
    pos->gen = r->epoch_gen;
    return 1;
}

void
route_pos_set(const route_t *r, route_pos_t *pos, uint64_t seq)
{
    pos->seq = seq;
    pos->gen = r->epoch_gen;
}
