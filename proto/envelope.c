/* envelope — see envelope.h. Keys are short words, so a backend in any
 * language can build the map by hand; unknown keys are skipped so newer
 * publishers can add fields without breaking older workers. */
#include "envelope.h"

#include <string.h>

static const char *s_kinds[] = {
    [ENV_NONE] = "", [ENV_CHAT] = "chat", [ENV_GROUP] = "group",
    [ENV_BCAST] = "broadcast", [ENV_KICK] = "kick", [ENV_PROBE] = "probe",
    [ENV_RCPT] = "receipt", [ENV_PRESENCE] = "presence", [ENV_STATS] = "stats",
    [ENV_ONLINE] = "online", [ENV_HISTORY] = "history",
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
    e->recovered = -1;
    e->missed = -1;
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
    const env_str_t *strs[] = { &e->mid, &e->sender, &e->to, &e->msg, &e->origin,
                                &e->session, &e->status, &e->epoch, &e->stream, &e->since };
    static const char *names[] = { "mid", "sender", "to", "msg", "origin",
                                   "session", "status", "epoch", "stream", "since" };
    uint32_t n = 2;                                 /* v, kind */
    for (size_t i = 0; i < sizeof strs / sizeof *strs; i++)
        n += strs[i]->p != NULL;
    n += (e->time != 0) + (e->req != 0) + (e->retry != 0) + (e->nusers >= 0)
         + (e->nsessions >= 0) + (e->users_n > 0) + (e->online_n > 0)
         + (e->seq != 0) + (e->item.p != NULL) + (e->stored != 0) + (e->recovered >= 0)
         + (e->recovered >= 0);                       /* missed goes with recovered */
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
    if (!rc && e->retry)
        rc = s_pack_str(&pk, "retry", 5) || msgpack_pack_true(&pk);
    if (!rc && e->seq)
        rc = s_pack_str(&pk, "seq", 3) || msgpack_pack_uint64(&pk, e->seq);
    if (!rc && e->item.p)
        rc = s_pack_str(&pk, "item", 4) || msgpack_pack_bin(&pk, e->item.n)
             || msgpack_pack_bin_body(&pk, e->item.p, e->item.n);
    if (!rc && e->stored)
        rc = s_pack_str(&pk, "stored", 6) || msgpack_pack_true(&pk);
    if (!rc && e->recovered >= 0)
        rc = s_pack_str(&pk, "recovered", 9)
             || (e->recovered ? msgpack_pack_true(&pk) : msgpack_pack_false(&pk))
             || s_pack_str(&pk, "missed", 6) || msgpack_pack_int64(&pk, e->missed);
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
 * rejects reserved bytes, truncation and trailing data. O(len).
 * s_walk() reads `pending` whole objects from *posp on and moves *posp past
 * them: 0, or -1 when malformed or truncated. */
static int
s_walk(const unsigned char *p, size_t len, size_t *posp, uint64_t pending)
{
    size_t pos = *posp;                 /* pending: objects still to read */
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
    *posp = pos;
    return 0;
}

int
env_check(const char *data, size_t len)
{
    size_t pos = 0;
    return s_walk((const unsigned char *)data, len, &pos, 1) == 0 && pos == len ? 0 : -1;
}

/* ---- decoding: one pass over the bytes, no msgpack-c objects ----------
 * The broker decodes every chat (to number it) and a worker every message
 * it delivers: the map is read in place, each known key's value checked for
 * its type, anything else skipped by s_walk(). What it accepts and what it
 * sets are msgpack-c's unpack + the key table this replaced (test_envelope,
 * and fuzz_envelope compares the two on every input). */

typedef struct {
    const unsigned char *p;
    size_t               len, pos;
} s_rd_t;

/* Bytes of a str header at p[0] (fixstr, str8/16/32), or 0 if not a str. */
static size_t
s_str_head(unsigned char b)
{
    if (b >= 0xa0 && b <= 0xbf)
        return 1;
    return b == 0xd9 ? 2 : b == 0xda ? 3 : b == 0xdb ? 5 : 0;
}

/* A str or bin at the cursor whose header (type byte included) takes hd
 * bytes, 0 for neither: its bytes into *out. -1 if not one or truncated. */
static int
s_rd_sized(s_rd_t *r, size_t hd, env_str_t *out)
{
    if (!hd || r->pos >= r->len || r->len - r->pos < hd)
        return -1;
    const unsigned char *h = r->p + r->pos;
    uint64_t n = hd == 1 ? (uint64_t)(h[0] & 0x1f) : s_be(h + 1, (int)hd - 1);
    size_t at = r->pos + hd;
    if (n > r->len - at)
        return -1;
    out->p = (const char *)r->p + at;
    out->n = (uint32_t)n;               /* <= len, and a 32-bit length fits */
    r->pos = at + (size_t)n;
    return 0;
}

static int
s_rd_str(s_rd_t *r, env_str_t *out)
{
    return s_rd_sized(r, r->pos < r->len ? s_str_head(r->p[r->pos]) : 0, out);
}

static int
s_rd_bin(s_rd_t *r, env_str_t *out)
{
    unsigned char b = r->pos < r->len ? r->p[r->pos] : 0;
    return s_rd_sized(r, b == 0xc4 ? 2 : b == 0xc5 ? 3 : b == 0xc6 ? 5 : 0, out);
}

/* An integer that fits int64_t (a uint64 above INT64_MAX is -1, as before). */
static int
s_rd_int(s_rd_t *r, int64_t *out)
{
    if (r->pos >= r->len)
        return -1;
    unsigned char b = r->p[r->pos];
    if (b <= 0x7f || b >= 0xe0) {
        *out = (int8_t)b;
        r->pos++;
        return 0;
    }
    int w = b == 0xcc || b == 0xd0 ? 1 : b == 0xcd || b == 0xd1 ? 2
          : b == 0xce || b == 0xd2 ? 4 : b == 0xcf || b == 0xd3 ? 8 : 0;
    if (!w || r->len - r->pos - 1 < (size_t)w)
        return -1;
    uint64_t v = s_be(r->p + r->pos + 1, w);
    if (b >= 0xd0) {                    /* signed: sign-extend from w bytes */
        int sh = 64 - 8 * w;
        *out = sh ? (int64_t)(v << sh) >> sh : (int64_t)v;
    } else {
        if (v > INT64_MAX)
            return -1;
        *out = (int64_t)v;
    }
    r->pos += 1 + (size_t)w;
    return 0;
}

static int
s_rd_bool(s_rd_t *r, uint8_t *out)
{
    if (r->pos >= r->len || (r->p[r->pos] != 0xc2 && r->p[r->pos] != 0xc3))
        return -1;
    *out = r->p[r->pos++] == 0xc3;
    return 0;
}

/* A container header (array when map is 0): its element count. */
static int
s_rd_count(s_rd_t *r, int map, uint64_t *n)
{
    if (r->pos >= r->len)
        return -1;
    unsigned char b = r->p[r->pos], fix = map ? 0x80 : 0x90;
    if (b >= fix && b <= fix + 0x0f) {
        *n = b & 0x0f;
        r->pos++;
        return 0;
    }
    int w = b == (map ? 0xde : 0xdc) ? 2 : b == (map ? 0xdf : 0xdd) ? 4 : 0;
    if (!w || r->len - r->pos - 1 < (size_t)w)
        return -1;
    *n = s_be(r->p + r->pos + 1, w);
    r->pos += 1 + (size_t)w;
    return 0;
}

static env_kind_t
s_kind_of(env_str_t v)
{
    for (size_t i = 1; i < sizeof s_kinds / sizeof *s_kinds; i++)
        if (strlen(s_kinds[i]) == v.n && !memcmp(s_kinds[i], v.p, v.n))
            return (env_kind_t)i;
    return ENV_NONE;
}

#define KEY(lit) (k.n == sizeof(lit) - 1 && !memcmp(k.p, (lit), sizeof(lit) - 1))

/* The value of key k into e: 0, or -1 when it has the wrong type. */
static int
s_rd_pair(s_rd_t *r, env_str_t k, env_t *e)
{
    int64_t iv;
    uint64_t n;
    env_str_t v;
    switch (k.n) {
    case 2:
        if (KEY("to"))
            return s_rd_str(r, &e->to);
        break;
    case 3:
        if (KEY("mid"))
            return s_rd_str(r, &e->mid);
        if (KEY("msg"))
            return s_rd_str(r, &e->msg);
        if (KEY("req")) {
            if (s_rd_int(r, &iv) || iv < 0)
                return -1;
            e->req = (uint64_t)iv;
            return 0;
        }
        if (KEY("seq")) {
            if (s_rd_int(r, &iv) || iv < 0)
                return -1;
            e->seq = (uint64_t)iv;
            return 0;
        }
        break;
    case 4:
        if (KEY("kind"))
            return s_rd_str(r, &v) || (e->kind = s_kind_of(v)) == ENV_NONE ? -1 : 0;
        if (KEY("time"))
            return s_rd_int(r, &e->time);
        if (KEY("item"))
            return s_rd_bin(r, &e->item);
        break;
    case 5:
        if (KEY("retry"))
            return s_rd_bool(r, &e->retry);
        if (KEY("epoch"))
            return s_rd_str(r, &e->epoch);
        if (KEY("since"))
            return s_rd_str(r, &e->since);
        if (KEY("users")) {
            if (s_rd_count(r, 0, &n) || n > ENV_USERS_MAX)
                return -1;
            for (uint64_t j = 0; j < n; j++)
                if (s_rd_str(r, &e->users[j]))
                    return -1;
            e->users_n = (uint32_t)n;
            return 0;
        }
        break;
    case 6:
        if (KEY("sender"))
            return s_rd_str(r, &e->sender);
        if (KEY("origin"))
            return s_rd_str(r, &e->origin);
        if (KEY("status"))
            return s_rd_str(r, &e->status);
        if (KEY("stream"))
            return s_rd_str(r, &e->stream);
        if (KEY("stored"))
            return s_rd_bool(r, &e->stored);
        if (KEY("missed"))
            return s_rd_int(r, &e->missed) || e->missed < -1 ? -1 : 0;
        if (KEY("nusers"))
            return s_rd_int(r, &e->nusers);
        if (KEY("online")) {
            if (s_rd_count(r, 0, &n) || n > ENV_USERS_MAX)
                return -1;
            for (uint64_t j = 0; j < n; j++)
                if (s_rd_bool(r, &e->online[j]))
                    return -1;
            e->online_n = (uint32_t)n;
            return 0;
        }
        break;
    case 7:
        if (KEY("session"))
            return s_rd_str(r, &e->session);
        break;
    case 9:
        if (KEY("recovered")) {
            uint8_t b;
            if (s_rd_bool(r, &b))
                return -1;
            e->recovered = (int8_t)b;
            return 0;
        }
        if (KEY("nsessions"))
            return s_rd_int(r, &e->nsessions);
        break;
    }
    return s_walk(r->p, r->len, &r->pos, 1);    /* "v" and unknown keys: skipped */
}

#undef KEY

int
env_decode(const char *data, size_t len, env_t *e)
{
    env_init(e, ENV_NONE);
    s_rd_t r = { (const unsigned char *)data, len, 0 };
    uint64_t pairs;
    /* each pair takes at least two bytes: a count over that is a lie */
    if (!data || s_rd_count(&r, 1, &pairs) || pairs > (len - r.pos) / 2)
        goto bad;
    for (uint64_t i = 0; i < pairs; i++) {
        env_str_t k;
        if (s_rd_str(&r, &k) || s_rd_pair(&r, k, e))
            goto bad;
    }
    if (r.pos != len)
        goto bad;                       /* trailing bytes */
    if (e->recovered < 0)
        e->missed = -1;                 /* meaningful only with recovered (ENVELOPE.md) */
    if (e->kind != ENV_NONE)
        return 0;
bad:
    env_init(e, ENV_NONE);              /* nothing half-decoded survives a failure */
    return -1;
}

/* One object at *pos, as s_walk(p, len, pos, 1), the scalars of an
 * envelope's pairs without the loop (the broker stamps every chat). */
static int
s_skip1(const unsigned char *p, size_t len, size_t *pos)
{
    size_t k = *pos, n;
    if (k >= len)
        return -1;
    unsigned char b = p[k];
    if (b <= 0x7f || b >= 0xe0 || b == 0xc0 || b == 0xc2 || b == 0xc3)
        n = 1;
    else if (b >= 0xa0 && b <= 0xbf)
        n = 1 + (size_t)(b & 0x1f);
    else if (b == 0xd9 && len - k >= 2)
        n = 2 + (size_t)p[k + 1];
    else if (b == 0xcc || b == 0xd0)
        n = 2;
    else if (b == 0xcd || b == 0xd1)
        n = 3;
    else if (b == 0xce || b == 0xd2 || b == 0xca)
        n = 5;
    else if (b == 0xcf || b == 0xd3 || b == 0xcb)
        n = 9;
    else
        return s_walk(p, len, pos, 1);
    if (n > len - k)
        return -1;
    *pos = k + n;
    return 0;
}

/* Is the pair at [*pos, …) one env_stamp() replaces? Moves *pos past it.
 * 1 yes, 0 no, -1 malformed (or a key that is not a str). */
static int
s_stamped_pair(const unsigned char *p, size_t len, size_t *pos, const env_stamp_t *st)
{
    size_t k = *pos, hd;
    if (k >= len || !(hd = s_str_head(p[k])) || s_skip1(p, len, pos) < 0)
        return -1;
    const unsigned char *key = p + k + hd;
    int hit = 0;
    switch (*pos - k - hd) {
    case 3: hit = !memcmp(key, "seq", 3) || (st->mid.p && !memcmp(key, "mid", 3)); break;
    case 4: hit = st->time && !memcmp(key, "time", 4); break;
    case 5: hit = !memcmp(key, "epoch", 5); break;
    }
    return s_skip1(p, len, pos) < 0 ? -1 : hit;
}

/* Two walks over the pairs: the first finds the map's end and whether it
 * holds a key to replace (a publisher's seq or epoch: rare), the second,
 * only then, copies the other pairs. Without one, the body is one copy. */
int
env_stamp(const char *data, size_t len, const env_stamp_t *st, msgpack_sbuffer *out)
{
    const unsigned char *p = (const unsigned char *)data;
    size_t pos, body;
    uint64_t n, drop = 0, add = 2 + (st->mid.p != NULL) + (st->time != 0);
    if (len >= 1 && p[0] >= 0x80 && p[0] <= 0x8f) {
        n = p[0] & 0x0f;
        body = 1;
    } else if (len >= 3 && p[0] == 0xde) {
        n = s_be(p + 1, 2);
        body = 3;
    } else if (len >= 5 && p[0] == 0xdf) {
        n = s_be(p + 1, 4);
        body = 5;
    } else {
        return -1;
    }
    pos = body;
    for (uint64_t i = 0; i < n; i++) {
        int r = s_stamped_pair(p, len, &pos, st);
        if (r < 0)
            return -1;
        drop += (uint64_t)r;
    }
    if (pos != len || n - drop + add > UINT32_MAX)
        return -1;
    msgpack_packer pk;
    msgpack_packer_init(&pk, out, msgpack_sbuffer_write);
    if (msgpack_pack_map(&pk, (size_t)(n - drop + add)))
        return -1;
    if (!drop) {
        if (msgpack_sbuffer_write(out, data + body, len - body))
            return -1;
    } else {
        pos = body;
        for (uint64_t i = 0; i < n; i++) {
            size_t at = pos;
            if (!s_stamped_pair(p, len, &pos, st)
                && msgpack_sbuffer_write(out, data + at, pos - at))
                return -1;
        }
    }
    int rc = s_pack_str(&pk, "seq", 3) || msgpack_pack_uint64(&pk, st->seq)
             || s_pack_key_str(&pk, "epoch", st->epoch);
    if (!rc && st->mid.p)
        rc = s_pack_key_str(&pk, "mid", st->mid);
    if (!rc && st->time)
        rc = s_pack_str(&pk, "time", 4) || msgpack_pack_int64(&pk, st->time);
    return rc ? -1 : 0;
}
