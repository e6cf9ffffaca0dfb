/* fuzz_envelope — proto/envelope.c: env_check() and env_decode() on any
 * bytes from the bus, and env_encode() of whatever decodes.
 *
 * Input: one envelope, as the second frame of a bus message. Checked:
 *   - env_decode() accepts only what env_check() accepts; what env_check()
 *     accepts, msgpack-c unpacks whole (or refuses for nesting deeper than
 *     its stack of MSGPACK_EMBED_STACK_SIZE), so it never allocates for a
 *     count the bytes cannot hold;
 *   - env_decode() (one pass over the bytes) agrees with env_ref.h, the
 *     msgpack-c decoder it replaced: the same verdict and the same fields
 *     (unless msgpack-c itself gave up: nesting deeper than its stack;
 *     and an empty string msgpack-c handed over as NULL is present here);
 *   - a decoded envelope: a known kind, at most ENV_USERS_MAX users and
 *     online flags, every string inside the input (zero copy);
 *   - round trip: encode(decode(x)) passes env_check() and decodes to the
 *     same envelope, every field of env_t compared, named or not (a
 *     negative count, which means absent, comes back as -1), and encoding
 *     that again gives the same bytes.
 * Run: make fuzz FUZZ_TARGETS=envelope, or build/fuzz/fuzz_envelope DIR */
#include <msgpack.h>
#include <stddef.h>
#include <string.h>

#include "env_ref.h"
#include "envelope.h"
#include "fuzz.h"

static env_t s_e1, s_e2, s_ref;     /* 2 KiB each: off the stack */

/* s points into buf[0..n) (compared as integers: s may be anything). */
static int
s_points_into(env_str_t s, const char *buf, size_t n)
{
    uintptr_t p = (uintptr_t)s.p, b = (uintptr_t)buf;
    return s.p && p >= b && p - b <= n && s.n <= n - (p - b);
}

static int
s_str_eq(env_str_t a, env_str_t b)
{
    return (!a.p && !b.p) || (a.p && b.p && a.n == b.n && memcmp(a.p, b.p, a.n) == 0);
}

static int64_t
s_count(int64_t n)
{
    return n < 0 ? -1 : n;
}

/* The string fields of ENVELOPE.md's first table, for loops (s_check_same()
 * finds every string field without this list). */
static void
s_strs(const env_t *e, const env_str_t *out[7])
{
    out[0] = &e->mid;
    out[1] = &e->sender;
    out[2] = &e->to;
    out[3] = &e->msg;
    out[4] = &e->origin;
    out[5] = &e->session;
    out[6] = &e->status;
}

static void
s_check_decoded(const char *data, size_t size, const env_t *e)
{
    const env_str_t *strs[7];
    FZ_CHECK(e->kind != ENV_NONE && env_kind_name(e->kind)[0] != '\0');
    FZ_CHECK(e->users_n <= ENV_USERS_MAX && e->online_n <= ENV_USERS_MAX);
    s_strs(e, strs);
    for (int i = 0; i < 7; i++)
        FZ_CHECK(!strs[i]->p || s_points_into(*strs[i], data, size));
    for (uint32_t i = 0; i < e->users_n; i++)
        FZ_CHECK(s_points_into(e->users[i], data, size));
    for (uint32_t i = 0; i < e->online_n; i++)
        FZ_CHECK(e->online[i] == 0 || e->online[i] == 1);
}

/* b, decoded from encode(a) (a decoded from da), is the same envelope: the
 * same users and online flags, and the same fixed part byte for byte once
 * its strings are compared and set aside and the counts normalised (a
 * negative count means absent and comes back as -1). The fixed part is
 * compared whole so that a field added to env_t is checked without being
 * named here: a string field is any env_str_t slot whose pointer lies in
 * a's input and, at the same offset, in b's (an integer equal to a heap
 * address there is not a worry); env_init() zeroes the padding and
 * decoding never writes it. */
static void
s_check_same(const env_t *a, const char *da, size_t la, const env_t *b, const char *db, size_t lb)
{
    static env_t na, nb;
    FZ_CHECK(a->users_n == b->users_n && a->online_n == b->online_n);
    for (uint32_t i = 0; i < a->users_n; i++)
        FZ_CHECK(s_str_eq(a->users[i], b->users[i]));
    for (uint32_t i = 0; i < a->online_n; i++)
        FZ_CHECK(a->online[i] == b->online[i]);

    size_t fixed = offsetof(env_t, users);
    memcpy(&na, a, fixed);
    memcpy(&nb, b, fixed);
    for (size_t off = 0; off + sizeof(env_str_t) <= fixed; off += _Alignof(env_str_t)) {
        env_str_t sa, sb;
        memcpy(&sa, (char *)&na + off, sizeof sa);
        memcpy(&sb, (char *)&nb + off, sizeof sb);
        int ia = s_points_into(sa, da, la), ib = s_points_into(sb, db, lb);
        if (!ia && !ib)
            continue;
        FZ_CHECK(ia && ib && s_str_eq(sa, sb));     /* kept, and the same bytes */
        sa.p = sb.p = "";
        memcpy((char *)&na + off, &sa, sizeof sa);
        memcpy((char *)&nb + off, &sb, sizeof sb);
    }
    na.nusers = s_count(na.nusers);
    na.nsessions = s_count(na.nsessions);
    FZ_CHECK(memcmp(&na, &nb, fixed) == 0);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data;
    int checked = env_check(p, size) == 0;
    if (checked) {
        /* safe now: no count claims more than the bytes hold */
        msgpack_zone *z = msgpack_zone_new(4096);
        FZ_CHECK(z != NULL);
        msgpack_object o;
        size_t off = 0;
        msgpack_unpack_return r = msgpack_unpack(p, size, &off, z, &o);
        FZ_CHECK((r == MSGPACK_UNPACK_SUCCESS && off == size) || r == MSGPACK_UNPACK_NOMEM_ERROR);
        msgpack_zone_free(z);
    }
    int rc = env_decode(p, size, &s_e1), ref = env_ref_decode(p, size, &s_ref);
    FZ_CHECK(ref == -2 || rc == ref);
    FZ_CHECK(rc != 0 || ref != 0 || env_ref_same(&s_e1, &s_ref));
    if (rc != 0)
        return 0;
    FZ_CHECK(checked);
    s_check_decoded(p, size, &s_e1);

    msgpack_sbuffer b1, b2;
    msgpack_sbuffer_init(&b1);
    msgpack_sbuffer_init(&b2);
    FZ_CHECK(env_encode(&s_e1, &b1) == 0);
    FZ_CHECK(env_check(b1.data, b1.size) == 0);
    FZ_CHECK(env_decode(b1.data, b1.size, &s_e2) == 0);
    s_check_decoded(b1.data, b1.size, &s_e2);
    s_check_same(&s_e1, p, size, &s_e2, b1.data, b1.size);
    FZ_CHECK(env_encode(&s_e2, &b2) == 0);
    FZ_CHECK(b1.size == b2.size && memcmp(b1.data, b2.data, b1.size) == 0);
    msgpack_sbuffer_destroy(&b1);
    msgpack_sbuffer_destroy(&b2);
    return 0;
}
