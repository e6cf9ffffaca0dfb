/* envelope — see envelope.h. Keys are short words, so a backend in any
 * language can build the map by hand; unknown keys are skipped so newer
 * publishers can add fields without breaking older workers. */
#include "envelope.h"

#include <string.h>

static const char *s_kinds[] = {
    [ENV_NONE] = "", [ENV_CHAT] = "chat", [ENV_GROUP] = "group",
    [ENV_BCAST] = "broadcast", [ENV_KICK] = "kick", [ENV_PROBE] = "probe",
    [ENV_RCPT] = "receipt", [ENV_PRESENCE] = "presence", [ENV_STATS] = "stats",
    [ENV_ONLINE] = "online",
};

const char *
env_kind_name(env_kind_t kind)
{
    return (unsigned)kind < sizeof s_kinds / sizeof *s_kinds ? s_kinds[kind] : "";
}

env_str_t
env_cstr(const char *s)
{
    env_str_t r = { s, s ? (uint32_t)strlen(s) : 0 };
    return r;
}

void
env_init(env_t *e, env_kind_t kind)
{
    memset(e, 0, offsetof(env_t, users));  /* the arrays are read only up to their counts */
    e->online_n = 0;
    e->kind = kind;
    e->nusers = e->nsessions = -1;
}

static int
s_pack_str(msgpack_packer *pk, const char *s, size_t n)
{
    return msgpack_pack_str(pk, n) || msgpack_pack_str_body(pk, s, n);
}

static int
s_pack_key_str(msgpack_packer *pk, const char *key, env_str_t v)
{
    return s_pack_str(pk, key, strlen(key)) || s_pack_str(pk, v.p, v.n);
}

int
env_encode(const env_t *e, msgpack_sbuffer *out)
{
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
    const env_str_t *strs[] = { &e->mid, &e->sender, &e->to, &e->msg,
                                &e->origin, &e->session, &e->status };
    static const char *names[] = { "mid", "sender", "to", "msg",
                                   "origin", "session", "status" };
    uint32_t n = 2;                                 /* v, kind */
    for (size_t i = 0; i < sizeof strs / sizeof *strs; i++)
        n += strs[i]->p != NULL;
    n += (e->time != 0) + (e->req != 0) + (e->nusers >= 0) + (e->nsessions >= 0)
         + (e->users_n > 0) + (e->online_n > 0);
    int rc = msgpack_pack_map(&pk, n)
             || s_pack_str(&pk, "v", 1) || msgpack_pack_int(&pk, ENV_VERSION)
             || s_pack_str(&pk, "kind", 4)
             || s_pack_str(&pk, env_kind_name(e->kind), strlen(env_kind_name(e->kind)));
    for (size_t i = 0; !rc && i < sizeof strs / sizeof *strs; i++)
        if (strs[i]->p)
            rc = s_pack_key_str(&pk, names[i], *strs[i]);
    if (!rc && e->time)
        rc = s_pack_str(&pk, "time", 4) || msgpack_pack_int64(&pk, e->time);
    if (!rc && e->req)
        rc = s_pack_str(&pk, "req", 3) || msgpack_pack_uint64(&pk, e->req);
    if (!rc && e->nusers >= 0)
        rc = s_pack_str(&pk, "nusers", 6) || msgpack_pack_int64(&pk, e->nusers);
    if (!rc && e->nsessions >= 0)
        rc = s_pack_str(&pk, "nsessions", 9) || msgpack_pack_int64(&pk, e->nsessions);
    if (!rc && e->users_n > 0) {
        rc = s_pack_str(&pk, "users", 5) || msgpack_pack_array(&pk, e->users_n);
        for (uint32_t i = 0; !rc && i < e->users_n; i++)
            rc = s_pack_str(&pk, e->users[i].p, e->users[i].n);
    }
    if (!rc && e->online_n > 0) {
        rc = s_pack_str(&pk, "online", 6) || msgpack_pack_array(&pk, e->online_n);
        for (uint32_t i = 0; !rc && i < e->online_n; i++)
            rc = e->online[i] ? msgpack_pack_true(&pk) : msgpack_pack_false(&pk);
    }
    return rc ? -1 : 0;
}

static int
s_key_is(const msgpack_object *k, const char *name)
{
    size_t n = strlen(name);
    return k->via.str.size == n && memcmp(k->via.str.ptr, name, n) == 0;
}

static int
s_get_str(const msgpack_object *v, env_str_t *out)
{
    if (v->type != MSGPACK_OBJECT_STR)
        return -1;
    out->p = v->via.str.ptr;
    out->n = v->via.str.size;
    return 0;
}

static int
s_get_int(const msgpack_object *v, int64_t *out)
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
s_kind(const msgpack_object *v)
{
    for (size_t i = 1; i < sizeof s_kinds / sizeof *s_kinds; i++)
        if (s_key_is(v, s_kinds[i]))
            return (env_kind_t)i;
    return ENV_NONE;
}

static int
s_decode_map(const msgpack_object *root, env_t *e)
{
    if (root->type != MSGPACK_OBJECT_MAP)
        return -1;
    for (uint32_t i = 0; i < root->via.map.size; i++) {
        const msgpack_object *k = &root->via.map.ptr[i].key;
        const msgpack_object *v = &root->via.map.ptr[i].val;
        int64_t iv;
        if (k->type != MSGPACK_OBJECT_STR)
            return -1;
        if (s_key_is(k, "kind")) {
            if (v->type != MSGPACK_OBJECT_STR || (e->kind = s_kind(v)) == ENV_NONE)
                return -1;
        } else if (s_key_is(k, "mid")) {
            if (s_get_str(v, &e->mid)) return -1;
        } else if (s_key_is(k, "sender")) {
            if (s_get_str(v, &e->sender)) return -1;
        } else if (s_key_is(k, "to")) {
            if (s_get_str(v, &e->to)) return -1;
        } else if (s_key_is(k, "msg")) {
            if (s_get_str(v, &e->msg)) return -1;
        } else if (s_key_is(k, "origin")) {
            if (s_get_str(v, &e->origin)) return -1;
        } else if (s_key_is(k, "session")) {
            if (s_get_str(v, &e->session)) return -1;
        } else if (s_key_is(k, "status")) {
            if (s_get_str(v, &e->status)) return -1;
        } else if (s_key_is(k, "time")) {
            if (s_get_int(v, &e->time)) return -1;
        } else if (s_key_is(k, "req")) {
            if (s_get_int(v, &iv) || iv < 0) return -1;
            e->req = (uint64_t)iv;
        } else if (s_key_is(k, "nusers")) {
            if (s_get_int(v, &e->nusers)) return -1;
        } else if (s_key_is(k, "nsessions")) {
            if (s_get_int(v, &e->nsessions)) return -1;
        } else if (s_key_is(k, "users")) {
            if (v->type != MSGPACK_OBJECT_ARRAY || v->via.array.size > ENV_USERS_MAX)
                return -1;
            for (uint32_t j = 0; j < v->via.array.size; j++)
                if (s_get_str(&v->via.array.ptr[j], &e->users[j]))
                    return -1;
            e->users_n = v->via.array.size;
        } else if (s_key_is(k, "online")) {
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
    return e->kind == ENV_NONE ? -1 : 0;
}

static uint64_t
s_be(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

/* Walk the msgpack structure once before unpacking it: msgpack-c allocates
 * up front for the element count a container claims, so a five-byte
 * "array of 2^32" from any publisher would ask for gigabytes. Every element
 * takes at least one byte, so a count over the bytes left is a lie. Also
 * rejects reserved bytes, truncation and trailing data. O(len). */
int
env_check(const char *data, size_t len)
{
    const unsigned char *p = (const unsigned char *)data;
    size_t pos = 0;
    uint64_t pending = 1;               /* objects still to read */
    while (pending > 0) {
        if (pos >= len)
            return -1;
        unsigned char b = p[pos++];
        pending--;
        uint64_t skip = 0, items = 0;
        int w = 0;                      /* width of a length/count field */
        if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3) {
            /* fixint, nil, bool */
        } else if (b <= 0x8f) {
            items = 2u * (b & 0x0f);
        } else if (b <= 0x9f) {
            items = b & 0x0f;
        } else if (b <= 0xbf) {
            skip = b & 0x1f;
        } else {
            switch (b) {
            case 0xc4: case 0xd9: w = 1; break;                 /* bin8, str8 */
            case 0xc5: case 0xda: w = 2; break;
            case 0xc6: case 0xdb: w = 4; break;
            case 0xc7: w = 1; skip = 1; break;                  /* ext: + type */
            case 0xc8: w = 2; skip = 1; break;
            case 0xc9: w = 4; skip = 1; break;
            case 0xca: skip = 4; break;
            case 0xcb: skip = 8; break;
            case 0xcc: case 0xd0: skip = 1; break;
            case 0xcd: case 0xd1: skip = 2; break;
            case 0xce: case 0xd2: skip = 4; break;
            case 0xcf: case 0xd3: skip = 8; break;
            case 0xd4: skip = 2; break;                         /* fixext */
            case 0xd5: skip = 3; break;
            case 0xd6: skip = 5; break;
            case 0xd7: skip = 9; break;
            case 0xd8: skip = 17; break;
            case 0xdc: case 0xde: w = 2; break;                 /* array/map 16 */
            case 0xdd: case 0xdf: w = 4; break;                 /* array/map 32 */
            default: return -1;                                 /* 0xc1 */
            }
            if (w) {
                if (len - pos < (size_t)w)
                    return -1;
                uint64_t n = s_be(p + pos, w);
                pos += (size_t)w;
                if (b >= 0xdc)
                    items = b >= 0xde ? 2 * n : n;
                else
                    skip += n;
            }
        }
        if (skip > len - pos || items > len - pos)
            return -1;
        pos += (size_t)skip;
        pending += items;
    }
    return pos == len ? 0 : -1;
}

int
env_decode(const char *data, size_t len, env_t *e)
{
    /* One zone per process, cleared per message: decoding allocates only
     * the object tree, and strings point into data (zero copy). */
    static msgpack_zone *zone;
    if (!zone && !(zone = msgpack_zone_new(4096)))
        return -1;
    env_init(e, ENV_NONE);
    if (env_check(data, len) < 0)
        return -1;
    msgpack_object root;
    size_t off = 0;
    msgpack_unpack_return r = msgpack_unpack(data, len, &off, zone, &root);
    int rc = (r == MSGPACK_UNPACK_SUCCESS && off == len) ? s_decode_map(&root, e) : -1;
    msgpack_zone_clear(zone);
    return rc;
}
