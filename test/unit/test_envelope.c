/* test_envelope — proto/envelope.c (the msgpack bus envelope, ENVELOPE.md):
 * encode/decode round trips of every kind and field, zero-copy strings, the
 * 100-user limit, unknown keys, wrong types, trailing bytes, every truncation,
 * maps written by hand in another key order, and seeded random input.
 * Run: make build/test/test_envelope && build/test/test_envelope */
#include <criterion/criterion.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../fuzz/env_ref.h"
#include "envelope.h"

/* ---- helpers ---------------------------------------------------------- */

static msgpack_sbuffer sb;
static msgpack_packer pk;

static void
s_setup(void)
{
    msgpack_sbuffer_init(&sb);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
}

static void
s_teardown(void)
{
    msgpack_sbuffer_destroy(&sb);
}

TestSuite(envelope, .init = s_setup, .fini = s_teardown);

static void
s_str(const char *s)
{
    msgpack_pack_str(&pk, strlen(s));
    msgpack_pack_str_body(&pk, s, strlen(s));
}

static void
s_kv_str(const char *k, const char *v)
{
    s_str(k);
    s_str(v);
}

static void
s_kv_int(const char *k, int64_t v)
{
    s_str(k);
    msgpack_pack_int64(&pk, v);
}

/* A decoded string lies entirely inside [data, data+len). */
static void
s_expect_inside(env_str_t s, const char *data, size_t len, const char *what)
{
    if (!s.p)
        return;
    cr_expect(s.p >= data && s.p + s.n <= data + len, "%s points outside the input", what);
}

static void
s_expect_str(env_str_t got, const char *want, const char *what)
{
    if (!want) {
        cr_expect_null(got.p, "%s should be absent", what);
        return;
    }
    cr_assert_not_null(got.p, "%s missing", what);
    cr_expect_eq(got.n, strlen(want), "%s length", what);
    cr_expect(memcmp(got.p, want, got.n) == 0, "%s: got \"%.*s\", want \"%s\"", what,
              (int)got.n, got.p, want);
}

static int
s_decode_sb(env_t *e)
{
    return env_decode(sb.data, sb.size, e);
}

/* ---- round trips ------------------------------------------------------ */

static void
s_fill_all(env_t *e, env_kind_t kind)
{
    env_init(e, kind);
    e->mid = env_cstr("h1.42.7");
    e->sender = env_cstr("alice");
    e->to = env_cstr("bob");
    e->msg = env_cstr("{\"text\":\"hi \\\"there\\\"\",\"n\":[1,2]}");
    e->origin = env_cstr("host-a.1234.1");
    e->session = env_cstr("s-9f8e");
    e->status = env_cstr("delivered");
    e->time = 1764063000123;
    e->req = 987654321;
    e->retry = 1;
    e->nusers = 12;
    e->nsessions = 34;
    e->users_n = 3;
    e->users[0] = env_cstr("a");
    e->users[1] = env_cstr("b.c");
    e->users[2] = env_cstr("d@e");
    e->online_n = 3;
    e->online[0] = 1;
    e->online[1] = 0;
    e->online[2] = 1;
}

Test(envelope, round_trip_every_kind_every_field)
{
    for (env_kind_t k = ENV_CHAT; k <= ENV_ONLINE; k++) {
        env_t in, out;
        s_fill_all(&in, k);
        sb.size = 0;
        cr_assert_eq(env_encode(&in, &sb), 0, "encode %s", env_kind_name(k));
        memset(&out, 0xa5, sizeof out);
        cr_assert_eq(s_decode_sb(&out), 0, "decode %s", env_kind_name(k));
        cr_expect_eq(out.kind, k);
        s_expect_str(out.mid, "h1.42.7", "mid");
        s_expect_str(out.sender, "alice", "sender");
        s_expect_str(out.to, "bob", "to");
        s_expect_str(out.msg, "{\"text\":\"hi \\\"there\\\"\",\"n\":[1,2]}", "msg");
        s_expect_str(out.origin, "host-a.1234.1", "origin");
        s_expect_str(out.session, "s-9f8e", "session");
        s_expect_str(out.status, "delivered", "status");
        cr_expect_eq(out.time, 1764063000123);
        cr_expect_eq(out.req, 987654321);
        cr_expect_eq(out.retry, 1);
        cr_expect_eq(out.nusers, 12);
        cr_expect_eq(out.nsessions, 34);
        cr_assert_eq(out.users_n, 3);
        s_expect_str(out.users[0], "a", "users[0]");
        s_expect_str(out.users[1], "b.c", "users[1]");
        s_expect_str(out.users[2], "d@e", "users[2]");
        cr_assert_eq(out.online_n, 3);
        cr_expect(out.online[0] == 1 && out.online[1] == 0 && out.online[2] == 1);
        /* zero copy */
        env_str_t *strs[] = { &out.mid, &out.sender, &out.to, &out.msg, &out.origin,
                              &out.session, &out.status, &out.users[0], &out.users[1],
                              &out.users[2] };
        for (size_t i = 0; i < sizeof strs / sizeof *strs; i++) {
            cr_assert_not_null(strs[i]->p);
            s_expect_inside(*strs[i], sb.data, sb.size, "string");
        }
    }
}

Test(envelope, round_trip_minimal_defaults)
{
    for (env_kind_t k = ENV_CHAT; k <= ENV_ONLINE; k++) {
        env_t in, out;
        env_init(&in, k);
        sb.size = 0;
        cr_assert_eq(env_encode(&in, &sb), 0);
        memset(&out, 0x5a, sizeof out);
        cr_assert_eq(s_decode_sb(&out), 0, "decode minimal %s", env_kind_name(k));
        cr_expect_eq(out.kind, k);
        cr_expect_null(out.mid.p);
        cr_expect_null(out.sender.p);
        cr_expect_null(out.to.p);
        cr_expect_null(out.msg.p);
        cr_expect_null(out.origin.p);
        cr_expect_null(out.session.p);
        cr_expect_null(out.status.p);
        cr_expect_eq(out.time, 0);
        cr_expect_eq(out.req, 0);
        cr_expect_eq(out.retry, 0, "no retry key: not a copy");
        cr_expect_eq(out.nusers, -1);
        cr_expect_eq(out.nsessions, -1);
        cr_expect_eq(out.users_n, 0);
        cr_expect_eq(out.online_n, 0);
    }
}

Test(envelope, encoding_is_a_map_with_v_and_kind)
{
    env_t in;
    env_init(&in, ENV_STATS);
    in.nusers = 0;                      /* 0 is a value, not absent */
    in.nsessions = 0;
    sb.size = 0;
    cr_assert_eq(env_encode(&in, &sb), 0);
    msgpack_unpacked u;
    msgpack_unpacked_init(&u);
    cr_assert_eq(msgpack_unpack_next(&u, sb.data, sb.size, NULL), MSGPACK_UNPACK_SUCCESS);
    cr_assert_eq(u.data.type, MSGPACK_OBJECT_MAP);
    cr_expect_eq(u.data.via.map.size, 4, "v, kind, nusers, nsessions");
    int seen_v = 0, seen_kind = 0;
    for (uint32_t i = 0; i < u.data.via.map.size; i++) {
        msgpack_object_kv *kv = &u.data.via.map.ptr[i];
        cr_assert_eq(kv->key.type, MSGPACK_OBJECT_STR);
        if (kv->key.via.str.size == 1 && kv->key.via.str.ptr[0] == 'v') {
            seen_v = 1;
            cr_expect_eq(kv->val.type, MSGPACK_OBJECT_POSITIVE_INTEGER);
            cr_expect_eq(kv->val.via.u64, ENV_VERSION);
        }
        if (kv->key.via.str.size == 4 && !memcmp(kv->key.via.str.ptr, "kind", 4)) {
            seen_kind = 1;
            cr_expect_eq(kv->val.type, MSGPACK_OBJECT_STR);
            cr_expect(kv->val.via.str.size == 5 && !memcmp(kv->val.via.str.ptr, "stats", 5));
        }
    }
    cr_expect(seen_v && seen_kind);
    msgpack_unpacked_destroy(&u);
    env_t out;
    cr_assert_eq(s_decode_sb(&out), 0);
    cr_expect_eq(out.nusers, 0);
    cr_expect_eq(out.nsessions, 0);
}

Test(envelope, empty_and_binary_strings)
{
    env_t in, out;
    env_init(&in, ENV_CHAT);
    in.mid = env_cstr("");
    char bin[] = { 'a', '\0', (char)0xff, 'z' };
    in.msg.p = bin;
    in.msg.n = sizeof bin;
    sb.size = 0;
    cr_assert_eq(env_encode(&in, &sb), 0);
    cr_assert_eq(s_decode_sb(&out), 0);
    cr_expect_not_null(out.mid.p, "an empty string is present, not absent");
    cr_expect_eq(out.mid.n, 0);
    cr_assert_eq(out.msg.n, sizeof bin);
    cr_expect(memcmp(out.msg.p, bin, sizeof bin) == 0);
}

Test(envelope, large_and_negative_ints)
{
    env_t in, out;
    env_init(&in, ENV_CHAT);
    in.time = INT64_MAX;
    in.req = (uint64_t)INT64_MAX;
    sb.size = 0;
    cr_assert_eq(env_encode(&in, &sb), 0);
    cr_assert_eq(s_decode_sb(&out), 0);
    cr_expect_eq(out.time, INT64_MAX);
    cr_expect_eq(out.req, (uint64_t)INT64_MAX);

    env_init(&in, ENV_KICK);
    in.time = -5;                       /* before the epoch: still an int */
    sb.size = 0;
    cr_assert_eq(env_encode(&in, &sb), 0);
    cr_assert_eq(s_decode_sb(&out), 0);
    cr_expect_eq(out.time, -5);
}

Test(envelope, decode_resets_previous_contents)
{
    env_t in, out;
    s_fill_all(&in, ENV_CHAT);
    sb.size = 0;
    cr_assert_eq(env_encode(&in, &sb), 0);
    cr_assert_eq(s_decode_sb(&out), 0);
    env_init(&in, ENV_GROUP);
    sb.size = 0;
    cr_assert_eq(env_encode(&in, &sb), 0);
    cr_assert_eq(s_decode_sb(&out), 0);
    cr_expect_eq(out.kind, ENV_GROUP);
    cr_expect_null(out.mid.p);
    cr_expect_eq(out.req, 0);
    cr_expect_eq(out.users_n, 0);
    cr_expect_eq(out.online_n, 0);
    cr_expect_eq(out.nusers, -1);
}

/* ---- users / online limits --------------------------------------------- */

Test(envelope, users_100_round_trip)
{
    env_t in, out;
    char names[ENV_USERS_MAX][8];
    env_init(&in, ENV_PRESENCE);
    in.users_n = ENV_USERS_MAX;
    in.online_n = ENV_USERS_MAX;
    for (int i = 0; i < ENV_USERS_MAX; i++) {
        snprintf(names[i], sizeof names[i], "u%d", i);
        in.users[i] = env_cstr(names[i]);
        in.online[i] = (uint8_t)(i % 3 == 0);
    }
    sb.size = 0;
    cr_assert_eq(env_encode(&in, &sb), 0);
    cr_assert_eq(s_decode_sb(&out), 0);
    cr_assert_eq(out.users_n, ENV_USERS_MAX);
    cr_assert_eq(out.online_n, ENV_USERS_MAX);
    for (int i = 0; i < ENV_USERS_MAX; i++) {
        s_expect_str(out.users[i], names[i], "user");
        s_expect_inside(out.users[i], sb.data, sb.size, "user");
        cr_expect_eq(out.online[i], (uint8_t)(i % 3 == 0), "online[%d]", i);
    }
}

static void
s_pack_users(uint32_t n, int bools)
{
    msgpack_pack_map(&pk, 2);
    s_kv_str("kind", "presence");
    s_str(bools ? "online" : "users");
    msgpack_pack_array(&pk, n);
    for (uint32_t i = 0; i < n; i++) {
        if (bools)
            msgpack_pack_true(&pk);
        else
            s_str("x");
    }
}

Test(envelope, users_101_rejected)
{
    env_t e;
    s_pack_users(100, 0);
    cr_expect_eq(s_decode_sb(&e), 0, "100 users accepted");
    cr_expect_eq(e.users_n, 100);
    sb.size = 0;
    s_pack_users(101, 0);
    cr_expect_eq(s_decode_sb(&e), -1, "101 users rejected");
    sb.size = 0;
    s_pack_users(5000, 0);
    cr_expect_eq(s_decode_sb(&e), -1, "5000 users rejected");
}

Test(envelope, online_101_rejected)
{
    env_t e;
    s_pack_users(100, 1);
    cr_expect_eq(s_decode_sb(&e), 0, "100 online accepted");
    cr_expect_eq(e.online_n, 100);
    sb.size = 0;
    s_pack_users(101, 1);
    cr_expect_eq(s_decode_sb(&e), -1, "101 online rejected");
}

Test(envelope, empty_users_array)
{
    env_t e;
    s_pack_users(0, 0);
    cr_expect_eq(s_decode_sb(&e), 0);
    cr_expect_eq(e.users_n, 0);
}

/* ---- what a backend writes by hand ------------------------------------- */

Test(envelope, backend_example_from_envelope_md)
{
    /* {"v":1,"kind":"chat","sender":"system","to":"bob","msg":"{\"progress\":40}"} */
    msgpack_pack_map(&pk, 5);
    s_kv_int("v", 1);
    s_kv_str("kind", "chat");
    s_kv_str("sender", "system");
    s_kv_str("to", "bob");
    s_kv_str("msg", "{\"progress\":40}");
    env_t e;
    cr_assert_eq(s_decode_sb(&e), 0);
    cr_expect_eq(e.kind, ENV_CHAT);
    s_expect_str(e.sender, "system", "sender");
    s_expect_str(e.to, "bob", "to");
    s_expect_str(e.msg, "{\"progress\":40}", "msg");
    s_expect_str(e.mid, NULL, "mid");
    cr_expect_eq(e.time, 0);
    cr_expect_eq(e.req, 0);
    cr_expect_eq(e.nusers, -1);
}

Test(envelope, backend_other_order_missing_optional_small_ints)
{
    /* keys reversed, no "v", no sender/mid/time; req as a positive fixint,
     * time as uint8/uint16/uint32 as other encoders pick the smallest form */
    msgpack_pack_map(&pk, 5);
    s_kv_str("msg", "[1,2,3]");
    s_str("time");
    msgpack_pack_uint32(&pk, 4000000000u);
    s_str("req");
    msgpack_pack_uint8(&pk, 7);
    s_kv_str("to", "team");
    s_kv_str("kind", "group");
    env_t e;
    cr_assert_eq(s_decode_sb(&e), 0);
    cr_expect_eq(e.kind, ENV_GROUP);
    s_expect_str(e.to, "team", "to");
    s_expect_str(e.msg, "[1,2,3]", "msg");
    s_expect_str(e.sender, NULL, "sender");
    cr_expect_eq(e.time, 4000000000LL);
    cr_expect_eq(e.req, 7);

    /* a signed-int encoding of a positive req (int8 0x01) */
    sb.size = 0;
    msgpack_pack_map(&pk, 2);
    s_kv_str("kind", "probe");
    s_str("req");
    msgpack_pack_fix_int8(&pk, 1);
    cr_assert_eq(s_decode_sb(&e), 0);
    cr_expect_eq(e.req, 1);
}

Test(envelope, unknown_keys_ignored)
{
    msgpack_pack_map(&pk, 7);
    s_kv_str("kind", "broadcast");
    s_kv_str("future", "x");
    s_str("nested");
    msgpack_pack_map(&pk, 1);
    s_kv_int("a", 1);
    s_str("list");
    msgpack_pack_array(&pk, 2);
    msgpack_pack_nil(&pk);
    msgpack_pack_double(&pk, 1.5);
    s_str("v");
    msgpack_pack_int(&pk, 2);           /* a newer version is not refused */
    s_kv_str("msg", "\"hello\"");
    s_str("bin");
    msgpack_pack_bin(&pk, 3);
    msgpack_pack_bin_body(&pk, "abc", 3);
    env_t e;
    cr_assert_eq(s_decode_sb(&e), 0);
    cr_expect_eq(e.kind, ENV_BCAST);
    s_expect_str(e.msg, "\"hello\"", "msg");
}

/* ---- rejections --------------------------------------------------------- */

Test(envelope, missing_or_bad_kind)
{
    env_t e;
    msgpack_pack_map(&pk, 0);
    cr_expect_eq(s_decode_sb(&e), -1, "empty map");

    sb.size = 0;
    msgpack_pack_map(&pk, 2);
    s_kv_int("v", 1);
    s_kv_str("to", "bob");
    cr_expect_eq(s_decode_sb(&e), -1, "no kind");

    sb.size = 0;
    msgpack_pack_map(&pk, 1);
    s_kv_int("kind", 1);
    cr_expect_eq(s_decode_sb(&e), -1, "kind is an int");

    sb.size = 0;
    msgpack_pack_map(&pk, 1);
    s_str("kind");
    msgpack_pack_bin(&pk, 4);
    msgpack_pack_bin_body(&pk, "chat", 4);
    cr_expect_eq(s_decode_sb(&e), -1, "kind is bin");

    const char *bad[] = { "", "CHAT", "chatx", "cha", "none", "unknown" };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        sb.size = 0;
        msgpack_pack_map(&pk, 1);
        s_kv_str("kind", bad[i]);
        cr_expect_eq(s_decode_sb(&e), -1, "kind \"%s\"", bad[i]);
    }
}

/* One map {"kind":"chat", key: <packed by fn>}; the decode must fail. */
typedef void (*packval_fn)(void);
static void v_nil(void) { msgpack_pack_nil(&pk); }
static void v_int(void) { msgpack_pack_int(&pk, 5); }
static void v_neg(void) { msgpack_pack_int(&pk, -1); }
static void v_str(void) { s_str("12"); }
static void v_true(void) { msgpack_pack_true(&pk); }
static void v_dbl(void) { msgpack_pack_double(&pk, 3.0); }
static void v_arr_int(void) { msgpack_pack_array(&pk, 1); msgpack_pack_int(&pk, 1); }
static void v_arr_str(void) { msgpack_pack_array(&pk, 1); s_str("a"); }
static void v_arr_bool_int(void)
{
    msgpack_pack_array(&pk, 3);
    msgpack_pack_true(&pk);
    msgpack_pack_int(&pk, 1);
    msgpack_pack_false(&pk);
}
static void v_arr_str_nil(void)
{
    msgpack_pack_array(&pk, 2);
    s_str("a");
    msgpack_pack_nil(&pk);
}
static void v_map(void) { msgpack_pack_map(&pk, 0); }
static void v_u64_big(void) { msgpack_pack_uint64(&pk, (uint64_t)INT64_MAX + 1); }

static int
s_decode_with(const char *key, packval_fn fn)
{
    sb.size = 0;
    msgpack_pack_map(&pk, 2);
    s_kv_str("kind", "chat");
    s_str(key);
    fn();
    env_t e;
    return s_decode_sb(&e);
}

Test(envelope, wrong_types_rejected)
{
    const struct { const char *key; packval_fn fn; const char *what; } bad[] = {
        { "req", v_neg, "req negative" },
        { "req", v_str, "req a string" },
        { "req", v_dbl, "req a float" },
        { "req", v_u64_big, "req above INT64_MAX" },
        { "retry", v_int, "retry an int" },
        { "retry", v_str, "retry a string" },
        { "time", v_str, "time a string" },
        { "time", v_nil, "time nil" },
        { "nusers", v_str, "nusers a string" },
        { "nsessions", v_true, "nsessions a bool" },
        { "users", v_str, "users a string" },
        { "users", v_map, "users a map" },
        { "users", v_arr_int, "users with an int" },
        { "users", v_arr_str_nil, "users with a nil" },
        { "online", v_arr_bool_int, "online with a non-bool" },
        { "online", v_arr_str, "online with a string" },
        { "online", v_true, "online not an array" },
        { "mid", v_int, "mid an int" },
        { "sender", v_nil, "sender nil" },
        { "to", v_arr_str, "to an array" },
        { "msg", v_map, "msg a map" },
        { "origin", v_int, "origin an int" },
        { "session", v_true, "session a bool" },
        { "status", v_int, "status an int" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        cr_expect_eq(s_decode_with(bad[i].key, bad[i].fn), -1, "%s should be rejected",
                     bad[i].what);
    /* and the same keys with good values pass, so the rejections mean something */
    cr_expect_eq(s_decode_with("req", v_int), 0);
    cr_expect_eq(s_decode_with("time", v_neg), 0);
    cr_expect_eq(s_decode_with("users", v_arr_str), 0);
    cr_expect_eq(s_decode_with("mid", v_str), 0);
    cr_expect_eq(s_decode_with("retry", v_true), 0);
}

Test(envelope, non_string_key_rejected)
{
    msgpack_pack_map(&pk, 2);
    s_kv_str("kind", "chat");
    msgpack_pack_int(&pk, 1);
    s_str("x");
    env_t e;
    cr_expect_eq(s_decode_sb(&e), -1);
}

Test(envelope, not_a_map_rejected)
{
    env_t e;
    msgpack_pack_array(&pk, 2);
    s_str("kind");
    s_str("chat");
    cr_expect_eq(s_decode_sb(&e), -1, "array");
    sb.size = 0;
    s_str("chat");
    cr_expect_eq(s_decode_sb(&e), -1, "string");
    sb.size = 0;
    msgpack_pack_int(&pk, 1);
    cr_expect_eq(s_decode_sb(&e), -1, "int");
    sb.size = 0;
    msgpack_pack_nil(&pk);
    cr_expect_eq(s_decode_sb(&e), -1, "nil");
    cr_expect_eq(env_decode("", 0, &e), -1, "empty input");
    cr_expect_eq(env_decode("{\"kind\":\"chat\"}", 15, &e), -1, "JSON text");
}

Test(envelope, trailing_garbage_rejected)
{
    env_t in, e;
    s_fill_all(&in, ENV_CHAT);
    cr_assert_eq(env_encode(&in, &sb), 0);
    size_t n = sb.size;
    cr_assert_eq(s_decode_sb(&e), 0);
    msgpack_sbuffer_write(&sb, "\0", 1);
    cr_expect_eq(s_decode_sb(&e), -1, "one NUL after the map");
    sb.size = n;
    msgpack_pack_nil(&pk);
    cr_expect_eq(s_decode_sb(&e), -1, "nil after the map");
    sb.size = n;
    cr_assert_eq(env_encode(&in, &sb), 0);
    cr_expect_eq(s_decode_sb(&e), -1, "two envelopes back to back");
}

Test(envelope, every_truncation_rejected)
{
    env_t in, e;
    s_fill_all(&in, ENV_PRESENCE);
    cr_assert_eq(env_encode(&in, &sb), 0);
    cr_assert_gt(sb.size, 100);
    for (size_t n = 0; n < sb.size; n++) {
        /* a copy of exactly n bytes, so an over-read is a real one (valgrind) */
        char *p = malloc(n ? n : 1);
        cr_assert_not_null(p);
        memcpy(p, sb.data, n);
        cr_expect_eq(env_decode(p, n, &e), -1, "prefix of %zu of %zu bytes", n, sb.size);
        free(p);
    }
    cr_expect_eq(s_decode_sb(&e), 0, "the whole decodes");
}

/* ---- hostile input ------------------------------------------------------ */

static uint64_t s_rng = 0x9e3779b97f4a7c15ULL;

static uint32_t
s_rand(void)
{
    /* xorshift64*: seeded, the same sequence on every run */
    s_rng ^= s_rng >> 12;
    s_rng ^= s_rng << 25;
    s_rng ^= s_rng >> 27;
    return (uint32_t)((s_rng * 2685821657736338717ULL) >> 32);
}

static void
s_check_decoded(const env_t *e, const char *p, size_t n)
{
    cr_assert(e->kind >= ENV_CHAT && e->kind <= ENV_HISTORY);
    cr_assert(e->users_n <= ENV_USERS_MAX && e->online_n <= ENV_USERS_MAX);
    s_expect_inside(e->mid, p, n, "mid");
    s_expect_inside(e->msg, p, n, "msg");
    s_expect_inside(e->to, p, n, "to");
    for (uint32_t i = 0; i < e->users_n; i++)
        s_expect_inside(e->users[i], p, n, "user");
}

/* env_decode() on p, checked against env_ref.h (the msgpack-c decoder it
 * replaced): the same verdict and, when both accept, the same fields. */
static int
s_decode_agreed(const char *p, size_t n, env_t *e)
{
    static env_t ref;
    int rc = env_decode(p, n, e), rr = env_ref_decode(p, n, &ref);
    if (rr == -2)
        return rc;                      /* msgpack-c gave up: nothing to compare */
    cr_assert_eq(rc, rr, "env_decode %d, the msgpack-c decoder %d, %zu bytes", rc, rr, n);
    if (rc == 0)
        cr_assert(env_ref_same(e, &ref), "fields differ, %zu bytes", n);
    return rc;
}

Test(envelope, random_bytes_never_crash)
{
    int accepted = 0;
    for (int i = 0; i < 4000; i++) {
        size_t n = s_rand() % 200;
        char *p = malloc(n ? n : 1);
        cr_assert_not_null(p);
        for (size_t j = 0; j < n; j++)
            p[j] = (char)s_rand();
        /* bias half the inputs towards maps, so the key loop is reached */
        if (n && (i & 1))
            p[0] = (char)(0x80 | (s_rand() % 16));
        env_t e;
        if (s_decode_agreed(p, n, &e) == 0) {
            accepted++;
            s_check_decoded(&e, p, n);
        }
        free(p);
    }
    cr_log_info("random: %d of 4000 accepted", accepted);
}

Test(envelope, mutated_envelopes_never_crash)
{
    env_t in;
    s_fill_all(&in, ENV_PRESENCE);
    cr_assert_eq(env_encode(&in, &sb), 0);
    int accepted = 0;
    for (int i = 0; i < 4000; i++) {
        size_t n = sb.size;
        char *p = malloc(n);
        cr_assert_not_null(p);
        memcpy(p, sb.data, n);
        int flips = 1 + (int)(s_rand() % 4);
        for (int f = 0; f < flips; f++)
            p[s_rand() % n] = (char)s_rand();
        env_t e;
        if (s_decode_agreed(p, n, &e) == 0) {
            accepted++;
            s_check_decoded(&e, p, n);
        }
        free(p);
    }
    cr_log_info("mutated: %d of 4000 accepted", accepted);
}

/* Random maps of known and unknown keys with values of random types: reaches
 * every branch of the key loop with every type. */
static void
s_rand_value(int depth)
{
    switch (s_rand() % 10) {
    case 0: msgpack_pack_nil(&pk); break;
    case 1: msgpack_pack_int64(&pk, (int64_t)s_rand() - (int64_t)(s_rand() % 3 ? 0 : 1LL << 31)); break;
    case 2: msgpack_pack_uint64(&pk, ((uint64_t)s_rand() << 32) | s_rand()); break;
    case 3: s_str(s_rand() % 2 ? "chat" : "bob"); break;
    case 4: s_rand() % 2 ? msgpack_pack_true(&pk) : msgpack_pack_false(&pk); break;
    case 5: msgpack_pack_double(&pk, 0.5); break;
    case 6: msgpack_pack_bin(&pk, 2); msgpack_pack_bin_body(&pk, "xy", 2); break;
    case 7:
    case 8: {
        uint32_t n = s_rand() % 3 == 0 ? 95 + s_rand() % 10 : s_rand() % 4;
        msgpack_pack_array(&pk, n);
        int same = (int)(s_rand() % 3);     /* all str, all bool, or mixed */
        for (uint32_t i = 0; i < n; i++) {
            if (same == 0) s_str("u");
            else if (same == 1) msgpack_pack_true(&pk);
            else if (depth < 2) s_rand_value(depth + 1);
            else msgpack_pack_nil(&pk);
        }
        break;
    }
    default:
        msgpack_pack_map(&pk, 1);
        s_str("k");
        if (depth < 2) s_rand_value(depth + 1); else msgpack_pack_nil(&pk);
    }
}

Test(envelope, random_maps_never_crash)
{
    static const char *keys[] = { "v", "kind", "mid", "sender", "to", "msg", "time",
                                  "origin", "req", "session", "status", "users", "online",
                                  "nusers", "nsessions", "x", "", "retry", "seq", "epoch",
                                  "stream", "since", "item", "stored", "recovered", "missed" };
    static const char *kinds[] = { "chat", "group", "broadcast", "kick", "probe", "receipt",
                                   "presence", "stats", "online", "history", "chatx" };
    int accepted = 0;
    for (int i = 0; i < 3000; i++) {
        sb.size = 0;
        uint32_t n = 1 + s_rand() % 8;
        msgpack_pack_map(&pk, n);
        s_kv_str("kind", kinds[s_rand() % (sizeof kinds / sizeof *kinds)]);
        for (uint32_t j = 1; j < n; j++) {
            s_str(keys[s_rand() % (sizeof keys / sizeof *keys)]);
            s_rand_value(0);
        }
        /* decode an exact-size copy so over-reads are visible under valgrind */
        char *p = malloc(sb.size);
        cr_assert_not_null(p);
        memcpy(p, sb.data, sb.size);
        env_t e;
        if (s_decode_agreed(p, sb.size, &e) == 0) {
            accepted++;
            s_check_decoded(&e, p, sb.size);
        }
        free(p);
    }
    cr_log_info("random maps: %d of 3000 accepted", accepted);
    cr_expect_gt(accepted, 0, "some random maps must be valid");
    cr_expect_lt(accepted, 3000, "some random maps must be invalid");
}

/* ---- small helpers ------------------------------------------------------ */

Test(envelope, kind_names_and_cstr)
{
    const char *want[] = { "", "chat", "group", "broadcast", "kick", "probe", "receipt",
                           "presence", "stats", "online" };
    for (int k = 0; k <= ENV_ONLINE; k++)
        cr_expect_str_eq(env_kind_name((env_kind_t)k), want[k]);
    cr_expect_str_eq(env_kind_name((env_kind_t)99), "");
    cr_expect_str_eq(env_kind_name((env_kind_t)-1), "");
    env_str_t s = env_cstr(NULL);
    cr_expect_null(s.p);
    cr_expect_eq(s.n, 0);
    s = env_cstr("abc");
    cr_expect_eq(s.n, 3);
    env_t e;
    memset(&e, 0x77, sizeof e);
    env_init(&e, ENV_KICK);
    cr_expect_eq(e.kind, ENV_KICK);
    cr_expect_null(e.mid.p);
    cr_expect_eq(e.time, 0);
    cr_expect_eq(e.req, 0);
    cr_expect_eq(e.nusers, -1);
    cr_expect_eq(e.nsessions, -1);
    cr_expect_eq(e.users_n, 0);
    cr_expect_eq(e.online_n, 0);
}

/* A container that claims more elements than there are bytes left would make
 * msgpack-c allocate for the claim: env_check (run by env_decode) refuses it,
 * while every well-formed encoding passes. */
Test(env_check, lying_container_counts_rejected)
{
    static const unsigned char big_array[] = { 0xdd, 0xff, 0xff, 0xff, 0xff };
    static const unsigned char big_map[] = { 0xdf, 0x08, 0x00, 0x00, 0x00, 0xc0 };
    static const unsigned char nested[] = { 0x81, 0xa1, 'k', 0xdc, 0xff, 0xff, 0x01 };
    static const unsigned char long_str[] = { 0xdb, 0x7f, 0xff, 0xff, 0xff, 'x' };
    static const unsigned char reserved[] = { 0xc1 };
    static const unsigned char trailing[] = { 0x80, 0x00 };
    cr_expect_eq(env_check((const char *)big_array, sizeof big_array), -1);
    cr_expect_eq(env_check((const char *)big_map, sizeof big_map), -1);
    cr_expect_eq(env_check((const char *)nested, sizeof nested), -1);
    cr_expect_eq(env_check((const char *)long_str, sizeof long_str), -1);
    cr_expect_eq(env_check((const char *)reserved, sizeof reserved), -1);
    cr_expect_eq(env_check((const char *)trailing, sizeof trailing), -1);
    env_t e;
    cr_expect_eq(env_decode((const char *)big_array, sizeof big_array, &e), -1);
}

Test(env_check, well_formed_encodings_pass)
{
    static const unsigned char ok[][12] = {
        { 0x80 }, { 0x90 }, { 0xc0 }, { 0xa0 }, { 0xcf, 1, 2, 3, 4, 5, 6, 7, 8 },
        { 0x92, 0xc2, 0xc3 }, { 0xdc, 0x00, 0x02, 0x01, 0xff }, { 0xd4, 0x01, 0x02 },
        { 0xc4, 0x02, 0xaa, 0xbb }, { 0xcb, 0, 0, 0, 0, 0, 0, 0, 0 },
    };
    static const size_t lens[] = { 1, 1, 1, 1, 9, 3, 5, 3, 4, 9 };
    for (size_t i = 0; i < sizeof lens / sizeof *lens; i++)
        cr_expect_eq(env_check((const char *)ok[i], lens[i]), 0, "case %zu", i);
    /* and every envelope env_encode writes */
    env_t e;
    env_init(&e, ENV_PRESENCE);
    e.origin = env_cstr("0123456789abcdef");
    e.req = 42;
    e.users_n = 3;
    e.users[0] = env_cstr("a");
    e.users[1] = env_cstr("b");
    e.users[2] = env_cstr("c");
    e.online_n = 3;
    msgpack_sbuffer out;
    msgpack_sbuffer_init(&out);
    cr_assert_eq(env_encode(&e, &out), 0);
    cr_expect_eq(env_check(out.data, out.size), 0);
    msgpack_sbuffer_destroy(&out);
}

/* History keys (ENVELOPE.md "History and recovery on the bus"). */
Test(envelope, history_fields_round_trip)
{
    static const char stored[] = "\x82\xa1v\x01\xa4kind\xa4" "chat";  /* any bytes */
    env_t in, out;
    env_init(&in, ENV_HISTORY);
    in.req = 7;
    in.seq = 42;
    in.epoch = env_cstr("r1x.3");
    in.stream = env_cstr("u:bob|");
    in.since = env_cstr("r1x.3:40");
    in.item.p = stored;
    in.item.n = sizeof stored - 1;
    in.stored = 1;
    in.recovered = 0;
    in.missed = 5;
    sb.size = 0;
    cr_assert_eq(env_encode(&in, &sb), 0);
    memset(&out, 0xa5, sizeof out);
    cr_assert_eq(s_decode_sb(&out), 0);
    cr_expect_eq(out.kind, ENV_HISTORY);
    cr_expect_eq(out.seq, 42);
    s_expect_str(out.epoch, "r1x.3", "epoch");
    s_expect_str(out.stream, "u:bob|", "stream");
    s_expect_str(out.since, "r1x.3:40", "since");
    cr_assert_eq(out.item.n, sizeof stored - 1);
    cr_expect(memcmp(out.item.p, stored, out.item.n) == 0);
    s_expect_inside(out.item, sb.data, sb.size, "item");
    cr_expect_eq(out.stored, 1);
    cr_expect_eq(out.recovered, 0);
    cr_expect_eq(out.missed, 5);

    env_init(&in, ENV_CHAT);                    /* absent: the defaults */
    in.to = env_cstr("bob");
    in.msg = env_cstr("1");
    sb.size = 0;
    cr_assert_eq(env_encode(&in, &sb), 0);
    cr_assert_eq(s_decode_sb(&out), 0);
    cr_expect(out.seq == 0 && !out.epoch.p && !out.item.p && !out.stored);
    cr_expect(out.recovered == -1 && out.missed == -1);
}

/* ---- env_stamp: the broker numbers what it forwards --------------------- */

TestSuite(env_stamp, .init = s_setup, .fini = s_teardown);

/* Stamp sb into out; 0 or -1. */
static int
s_stamp_sb(msgpack_sbuffer *out, uint64_t seq, const char *epoch)
{
    env_stamp_t st = { seq, env_cstr(epoch), { NULL, 0 }, 0 };
    out->size = 0;
    return env_stamp(sb.data, sb.size, &st, out);
}

Test(env_stamp, sets_seq_and_epoch_and_keeps_every_other_field)
{
    env_t in, got;
    s_fill_all(&in, ENV_CHAT);
    cr_assert_eq(env_encode(&in, &sb), 0);
    msgpack_sbuffer out;
    msgpack_sbuffer_init(&out);
    cr_assert_eq(s_stamp_sb(&out, 17, "AbC.4"), 0);
    cr_assert_eq(env_check(out.data, out.size), 0);
    cr_assert_eq(env_decode(out.data, out.size, &got), 0);
    cr_expect_eq(got.seq, 17);
    s_expect_str(got.epoch, "AbC.4", "epoch");
    s_expect_str(got.mid, "h1.42.7", "mid");
    s_expect_str(got.msg, "{\"text\":\"hi \\\"there\\\"\",\"n\":[1,2]}", "msg");
    s_expect_str(got.session, "s-9f8e", "session");
    cr_expect_eq(got.time, in.time);
    cr_expect_eq(got.req, in.req);
    cr_expect_eq(got.retry, 1);
    cr_expect_eq(got.users_n, 3);
    cr_expect_eq(got.online_n, 3);
    /* the original pairs, byte for byte, then the two new ones: 16 pairs
     * then 18, both behind a map16 header */
    cr_assert_eq((unsigned char)sb.data[0], 0xde);
    cr_assert_eq((unsigned char)out.data[0], 0xde);
    cr_expect_eq(out.size, sb.size + 4 + 1 + 6 + 6);      /* "seq" 17, "epoch" "AbC.4" */
    cr_expect_eq(memcmp(out.data + 3, sb.data + 3, sb.size - 3), 0);
    msgpack_sbuffer_destroy(&out);
}

Test(env_stamp, replaces_a_publishers_seq_and_epoch)
{
    msgpack_pack_map(&pk, 5);
    s_kv_str("kind", "chat");
    s_kv_int("seq", 999);
    s_kv_str("to", "bob");
    s_kv_str("epoch", "forged");
    s_kv_int("seq", 1000);                      /* twice: both go */
    msgpack_sbuffer out;
    msgpack_sbuffer_init(&out);
    cr_assert_eq(s_stamp_sb(&out, 3, "e.1"), 0);
    msgpack_zone z;
    msgpack_zone_init(&z, 1024);
    msgpack_object o;
    size_t off = 0;
    cr_assert_eq(msgpack_unpack(out.data, out.size, &off, &z, &o), MSGPACK_UNPACK_SUCCESS);
    cr_assert_eq(off, out.size);
    cr_assert_eq(o.type, MSGPACK_OBJECT_MAP);
    cr_assert_eq(o.via.map.size, 4);            /* kind, to, seq, epoch */
    env_t e;
    cr_assert_eq(env_decode(out.data, out.size, &e), 0);
    cr_expect_eq(e.seq, 3);
    s_expect_str(e.epoch, "e.1", "epoch");
    s_expect_str(e.to, "bob", "to");
    msgpack_zone_destroy(&z);
    msgpack_sbuffer_destroy(&out);
}

Test(env_stamp, keeps_unknown_keys)
{
    msgpack_pack_map(&pk, 3);
    s_kv_str("kind", "group");
    s_str("future");
    msgpack_pack_array(&pk, 2);
    msgpack_pack_nil(&pk);
    msgpack_pack_double(&pk, 1.5);
    s_kv_str("to", "team");
    msgpack_sbuffer out;
    msgpack_sbuffer_init(&out);
    cr_assert_eq(s_stamp_sb(&out, 1, "x"), 0);
    msgpack_zone z;
    msgpack_zone_init(&z, 1024);
    msgpack_object o;
    size_t off = 0;
    cr_assert_eq(msgpack_unpack(out.data, out.size, &off, &z, &o), MSGPACK_UNPACK_SUCCESS);
    cr_assert_eq(o.via.map.size, 5);
    msgpack_object_kv *kv = &o.via.map.ptr[1];
    cr_expect(kv->key.via.str.size == 6 && !memcmp(kv->key.via.str.ptr, "future", 6));
    cr_expect_eq(kv->val.type, MSGPACK_OBJECT_ARRAY);
    cr_expect_eq(kv->val.via.array.size, 2);
    msgpack_zone_destroy(&z);
    msgpack_sbuffer_destroy(&out);
}

/* A map of 15 pairs becomes one of 17: the header grows from fixmap to map16. */
Test(env_stamp, grows_the_map_header)
{
    msgpack_pack_map(&pk, 15);
    s_kv_str("kind", "chat");
    for (int i = 1; i < 15; i++) {
        char k[8];
        snprintf(k, sizeof k, "k%d", i);
        s_kv_int(k, i);
    }
    msgpack_sbuffer out;
    msgpack_sbuffer_init(&out);
    cr_assert_eq(s_stamp_sb(&out, 70000, "e.2"), 0);
    cr_expect_eq((unsigned char)out.data[0], 0xde);
    env_t e;
    cr_assert_eq(env_decode(out.data, out.size, &e), 0);
    cr_expect_eq(e.seq, 70000);
    msgpack_sbuffer_destroy(&out);
}

Test(env_stamp, rejects_what_is_not_a_map_with_str_keys)
{
    env_stamp_t st = { 1, env_cstr("e"), env_cstr("m"), 5 };
    msgpack_sbuffer out;
    msgpack_sbuffer_init(&out);
    static const struct { const char *b; size_t n; } bad[] = {
        { "", 0 }, { "\x90", 1 }, { "\xa3" "abc", 4 }, { "\x81\x01\x02", 3 },
        { "\x81\xa1k", 3 }, { "\x81\xa1k\x01\x00", 5 }, { "\xde\x00", 2 },
        { "\xdf\x00\x00\x00", 4 }, { "\x82\xa1k\x01", 4 }, { "\x81\xa1k\xc1", 4 },
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        out.size = 0;
        cr_expect_eq(env_stamp(bad[i].b, bad[i].n, &st, &out), -1, "case %zu", i);
    }
    /* every truncation of a real envelope */
    env_t in;
    s_fill_all(&in, ENV_CHAT);
    cr_assert_eq(env_encode(&in, &sb), 0);
    for (size_t n = 0; n < sb.size; n++) {
        out.size = 0;
        cr_expect_eq(env_stamp(sb.data, n, &st, &out), -1, "truncated to %zu", n);
    }
    msgpack_sbuffer_destroy(&out);
}

Test(env_stamp, sets_mid_and_time_when_asked_and_only_then)
{
    msgpack_pack_map(&pk, 4);
    s_kv_str("kind", "chat");
    s_kv_str("mid", "");
    s_kv_int("time", -5);
    s_kv_str("to", "bob");
    msgpack_sbuffer out;
    msgpack_sbuffer_init(&out);
    env_stamp_t st = { 2, env_cstr("e.1"), env_cstr("r-1"), 1700000000000 };
    cr_assert_eq(env_stamp(sb.data, sb.size, &st, &out), 0);
    env_t e;
    cr_assert_eq(env_decode(out.data, out.size, &e), 0);
    s_expect_str(e.mid, "r-1", "mid");
    cr_expect_eq(e.time, 1700000000000);
    cr_expect_eq(e.seq, 2);
    cr_expect_eq((unsigned char)out.data[0], 0x86);   /* kind, to, seq, epoch, mid, time */
    st.mid = (env_str_t){ NULL, 0 };                  /* not asked: kept as they were */
    st.time = 0;
    out.size = 0;
    cr_assert_eq(env_stamp(sb.data, sb.size, &st, &out), 0);
    cr_assert_eq(env_decode(out.data, out.size, &e), 0);
    s_expect_str(e.mid, "", "mid");
    cr_expect_eq(e.time, -5);
    cr_expect_eq((unsigned char)out.data[0], 0x86);   /* kind, mid, time, to, seq, epoch */
    msgpack_sbuffer_destroy(&out);
}
