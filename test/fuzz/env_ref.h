/* env_ref — the envelope decoder as it was before proto/envelope.c read the
 * map in one pass: env_check(), msgpack-c's unpack into a zone, then a table
 * of keys. The reference env_decode() must agree with (fuzz_envelope and
 * test_envelope compare them): env_ref_decode() returns 0 or -1 as
 * env_decode() did, or -2 when msgpack-c itself gave up on bytes env_check()
 * passed (nesting deeper than its stack), where there is nothing to compare.
 * Header only, for tests. */
#ifndef ZWSD_ENV_REF_H
#define ZWSD_ENV_REF_H

#include <msgpack.h>
#include <string.h>

#include "envelope.h"

static int
ref_key_is(const msgpack_object *k, const char *name)
{
    size_t n = strlen(name);
    return k->via.str.size == n && memcmp(k->via.str.ptr, name, n) == 0;
}

static int
ref_get_str(const msgpack_object *v, env_str_t *out)
{
    if (v->type != MSGPACK_OBJECT_STR)
        return -1;
    out->p = v->via.str.ptr;
    out->n = v->via.str.size;
    return 0;
}

static int
ref_get_int(const msgpack_object *v, int64_t *out)
{
    if (v->type == MSGPACK_OBJECT_POSITIVE_INTEGER) {
        if (v->via.u64 > INT64_MAX)
            return -1;
        *out = (int64_t)v->via.u64;
    } else if (v->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) {
        *out = v->via.i64;
    } else {
        return -1;
    }
    return 0;
}

static env_kind_t
ref_kind(const msgpack_object *v)
{
    for (int i = 1; env_kind_name((env_kind_t)i)[0]; i++)
        if (ref_key_is(v, env_kind_name((env_kind_t)i)))
            return (env_kind_t)i;
    return ENV_NONE;
}

static int
ref_decode_map(const msgpack_object *root, env_t *e)
{
    if (root->type != MSGPACK_OBJECT_MAP)
        return -1;
    for (uint32_t i = 0; i < root->via.map.size; i++) {
        const msgpack_object *k = &root->via.map.ptr[i].key;
        const msgpack_object *v = &root->via.map.ptr[i].val;
        int64_t iv;
        if (k->type != MSGPACK_OBJECT_STR)
            return -1;
        if (ref_key_is(k, "kind")) {
            if (v->type != MSGPACK_OBJECT_STR || (e->kind = ref_kind(v)) == ENV_NONE)
                return -1;
        } else if (ref_key_is(k, "mid")) {
            if (ref_get_str(v, &e->mid)) return -1;
        } else if (ref_key_is(k, "sender")) {
            if (ref_get_str(v, &e->sender)) return -1;
        } else if (ref_key_is(k, "to")) {
            if (ref_get_str(v, &e->to)) return -1;
        } else if (ref_key_is(k, "msg")) {
            if (ref_get_str(v, &e->msg)) return -1;
        } else if (ref_key_is(k, "origin")) {
            if (ref_get_str(v, &e->origin)) return -1;
        } else if (ref_key_is(k, "session")) {
            if (ref_get_str(v, &e->session)) return -1;
        } else if (ref_key_is(k, "status")) {
            if (ref_get_str(v, &e->status)) return -1;
        } else if (ref_key_is(k, "time")) {
            if (ref_get_int(v, &e->time)) return -1;
        } else if (ref_key_is(k, "req")) {
            if (ref_get_int(v, &iv) || iv < 0) return -1;
            e->req = (uint64_t)iv;
        } else if (ref_key_is(k, "retry")) {
            if (v->type != MSGPACK_OBJECT_BOOLEAN) return -1;
            e->retry = v->via.boolean;
        } else if (ref_key_is(k, "seq")) {
            if (ref_get_int(v, &iv) || iv < 0) return -1;
            e->seq = (uint64_t)iv;
        } else if (ref_key_is(k, "epoch")) {
            if (ref_get_str(v, &e->epoch)) return -1;
        } else if (ref_key_is(k, "stream")) {
            if (ref_get_str(v, &e->stream)) return -1;
        } else if (ref_key_is(k, "since")) {
            if (ref_get_str(v, &e->since)) return -1;
        } else if (ref_key_is(k, "item")) {
            if (v->type != MSGPACK_OBJECT_BIN) return -1;
            e->item.p = v->via.bin.ptr;
            e->item.n = v->via.bin.size;
        } else if (ref_key_is(k, "stored")) {
            if (v->type != MSGPACK_OBJECT_BOOLEAN) return -1;
            e->stored = v->via.boolean;
        } else if (ref_key_is(k, "recovered")) {
            if (v->type != MSGPACK_OBJECT_BOOLEAN) return -1;
            e->recovered = v->via.boolean;
        } else if (ref_key_is(k, "missed")) {
            if (ref_get_int(v, &e->missed) || e->missed < -1) return -1;
        } else if (ref_key_is(k, "nusers")) {
            if (ref_get_int(v, &e->nusers)) return -1;
        } else if (ref_key_is(k, "nsessions")) {
            if (ref_get_int(v, &e->nsessions)) return -1;
        } else if (ref_key_is(k, "users")) {
            if (v->type != MSGPACK_OBJECT_ARRAY || v->via.array.size > ENV_USERS_MAX)
                return -1;
            for (uint32_t j = 0; j < v->via.array.size; j++)
                if (ref_get_str(&v->via.array.ptr[j], &e->users[j]))
                    return -1;
            e->users_n = v->via.array.size;
        } else if (ref_key_is(k, "online")) {
            if (v->type != MSGPACK_OBJECT_ARRAY || v->via.array.size > ENV_USERS_MAX)
                return -1;
            for (uint32_t j = 0; j < v->via.array.size; j++) {
                if (v->via.array.ptr[j].type != MSGPACK_OBJECT_BOOLEAN)
                    return -1;
                e->online[j] = v->via.array.ptr[j].via.boolean;
            }
            e->online_n = v->via.array.size;
        }
        /* "v" and unknown keys: accepted and ignored */
    }
    if (e->recovered < 0)
        e->missed = -1;                 /* meaningful only with recovered (ENVELOPE.md) */
    return e->kind == ENV_NONE ? -1 : 0;
}

static int
env_ref_decode(const char *data, size_t len, env_t *e)
{
    env_init(e, ENV_NONE);
    if (env_check(data, len) < 0)
        return -1;
    msgpack_zone *zone = msgpack_zone_new(4096);
    if (!zone)
        return -2;
    msgpack_object root;
    size_t off = 0;
    msgpack_unpack_return r = msgpack_unpack(data, len, &off, zone, &root);
    int rc = r != MSGPACK_UNPACK_SUCCESS ? -2 : off == len ? ref_decode_map(&root, e) : -1;
    msgpack_zone_free(zone);
    return rc;
}

/* a (env_decode()) and ref (env_ref_decode()), both accepted, hold the same
 * envelope. Where an empty string points does not matter (msgpack-c points
 * at bytes before it), and one difference is allowed, msgpack-c's: it hands
 * some empty strings over as NULL (the first element of an array, for one),
 * which made them absent; env_decode() keeps every empty string present, as
 * zwsd-protocol and test_envelope say. */
static int
env_ref_same(const env_t *a, const env_t *ref)
{
    static env_t x;
    memcpy(&x, a, sizeof x);
    env_str_t *xs[] = { &x.mid, &x.sender, &x.to, &x.msg, &x.origin, &x.session, &x.status,
                        &x.epoch, &x.stream, &x.since, &x.item };
    const env_str_t *rs[] = { &ref->mid, &ref->sender, &ref->to, &ref->msg, &ref->origin,
                              &ref->session, &ref->status, &ref->epoch, &ref->stream,
                              &ref->since, &ref->item };
    for (size_t i = 0; i < sizeof xs / sizeof *xs; i++)
        if (xs[i]->p && xs[i]->n == 0 && rs[i]->n == 0)
            xs[i]->p = rs[i]->p;
    if (memcmp(&x, ref, offsetof(env_t, users)) || x.users_n != ref->users_n
        || x.online_n != ref->online_n || memcmp(x.online, ref->online, x.online_n))
        return 0;
    for (uint32_t i = 0; i < x.users_n; i++) {
        const env_str_t *u = &x.users[i], *r = &ref->users[i];
        if (u->n != r->n || (u->n && memcmp(u->p, r->p, u->n)) || !u->p)
            return 0;
    }
    return 1;
}

#endif
