/* test_client_json — proto/client_json.c against protocol.md "Frames": the
 * type default, each type's required fields, bad_json vs bad_request, id
 * rules, presence limits, msg forwarded byte-exact as the client wrote it,
 * escaped keys and values, duplicate keys, every truncation of a valid frame,
 * NUL in strings, and the exact JSON of every server frame (parsed back with
 * jansson).
 * Run: make build/test/test_client_json && build/test/test_client_json */
#include <criterion/criterion.h>
#include <jansson.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client_json.h"

/* ---- parse helpers ------------------------------------------------------ */

static cj_frame_t fr;
static char *s_text;            /* the text fr points into (msg, names) */

static void
s_fini(void)
{
    cj_frame_clear(&fr);
    free(s_text);
    s_text = NULL;
}

TestSuite(cj_parse, .fini = s_fini);
TestSuite(cj_render);

/* Parse an exact-length heap copy (no NUL after it, so ASan sees any read
 * past len); the frame stays in fr for inspection, and the copy with it: the
 * frame points into the text. */
static cj_code_t
s_parse_n(const char *text, size_t len)
{
    cj_frame_clear(&fr);
    free(s_text);
    s_text = malloc(len ? len : 1);
    cr_assert_not_null(s_text);
    memcpy(s_text, text, len);
    return cj_parse(s_text, len, &fr);
}

static cj_code_t
s_parse(const char *text)
{
    return s_parse_n(text, strlen(text));
}

#define EXPECT_CODE(text, want)                                                   \
    do {                                                                          \
        cj_code_t got_ = s_parse(text);                                           \
        cr_expect_eq(got_, (want), "%s: got %s, want %s", (text),                 \
                     cj_code_name(got_), cj_code_name(want));                     \
    } while (0)

static void
s_expect_cjstr(cj_str_t s, const char *want, const char *what)
{
    cr_assert_not_null(s.p, "%s missing", what);
    cr_expect_eq(s.n, strlen(want), "%s length", what);
    cr_expect(memcmp(s.p, want, s.n) == 0, "%s: got \"%.*s\", want \"%s\"", what, (int)s.n,
              s.p, want);
}

static void
s_expect_id(const char *want)
{
    if (!want)
        cr_expect_null(fr.id.p, "id should be unset, is \"%.*s\"", (int)fr.id.n,
                       fr.id.p ? fr.id.p : "");
    else
        s_expect_cjstr(fr.id, want, "id");
}

static void
s_expect_msg(const char *want)
{
    cr_assert_not_null(fr.msg, "msg missing");
    cr_expect(fr.msg_len == strlen(want) && !memcmp(fr.msg, want, fr.msg_len),
              "msg: got '%.*s', want '%s'", (int)fr.msg_len, fr.msg, want);
}

/* ---- types and required fields ----------------------------------------- */

Test(cj_parse, chat_explicit)
{
    cr_assert_eq(s_parse("{\"type\":\"chat\",\"receiver\":\"bob\",\"msg\":\"hi\"}"), CJ_OK);
    cr_expect_eq(fr.type, CJ_CHAT);
    s_expect_cjstr(fr.target, "bob", "receiver");
    s_expect_msg("\"hi\"");
    s_expect_id(NULL);
}

Test(cj_parse, type_defaults_to_chat_only_with_receiver)
{
    cr_assert_eq(s_parse("{\"receiver\":\"bob\",\"msg\":{\"a\":1}}"), CJ_OK);
    cr_expect_eq(fr.type, CJ_CHAT);
    s_expect_cjstr(fr.target, "bob", "receiver");
    s_expect_msg("{\"a\":1}");

    EXPECT_CODE("{\"msg\":\"hi\"}", CJ_BAD_REQUEST);
    EXPECT_CODE("{}", CJ_BAD_REQUEST);
    EXPECT_CODE("{\"group\":\"g\",\"msg\":1}", CJ_BAD_REQUEST);
    EXPECT_CODE("{\"users\":[\"a\"]}", CJ_BAD_REQUEST);
    EXPECT_CODE("{\"id\":\"x\",\"msg\":1}", CJ_BAD_REQUEST);
    s_expect_id("x");
    /* receiver present but invalid: still chat, still checked */
    EXPECT_CODE("{\"receiver\":\"b b\",\"msg\":1}", CJ_BAD_REQUEST);
    EXPECT_CODE("{\"receiver\":null,\"msg\":1}", CJ_BAD_REQUEST);
    /* no msg */
    EXPECT_CODE("{\"receiver\":\"bob\"}", CJ_BAD_REQUEST);
}

Test(cj_parse, chat_required_fields)
{
    EXPECT_CODE("{\"type\":\"chat\",\"msg\":1}", CJ_BAD_REQUEST);
    EXPECT_CODE("{\"type\":\"chat\",\"receiver\":\"bob\"}", CJ_BAD_REQUEST);
    const char *bad_receivers[] = { "\"\"", "5", "true", "null", "[\"bob\"]", "{}",
                                    "\"bo b\"", "\"bob|\"", "\"a/b\"", "\"b%41\"",
                                    "\"b\\u00f6b\"", "\"bo\\u0000b\"",
                                    "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"" };
    for (size_t i = 0; i < sizeof bad_receivers / sizeof *bad_receivers; i++) {
        char buf[256];
        snprintf(buf, sizeof buf, "{\"type\":\"chat\",\"receiver\":%s,\"msg\":1}", bad_receivers[i]);
        EXPECT_CODE(buf, CJ_BAD_REQUEST);
    }
    /* 64 bytes is fine */
    EXPECT_CODE("{\"type\":\"chat\",\"receiver\":"
                "\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\",\"msg\":1}",
                CJ_OK);
    cr_expect_eq(fr.target.n, 64);
}

Test(cj_parse, sender_from_client_ignored)
{
    cr_assert_eq(s_parse("{\"receiver\":\"bob\",\"msg\":1,\"sender\":\"eve\",\"extra\":[1]}"),
                 CJ_OK);
    cr_expect_eq(fr.type, CJ_CHAT);
    s_expect_cjstr(fr.target, "bob", "receiver");
    EXPECT_CODE("{\"receiver\":\"bob\",\"msg\":1,\"sender\":5}", CJ_OK);
}

Test(cj_parse, join_leave)
{
    cr_assert_eq(s_parse("{\"type\":\"join\",\"group\":\"room.1\",\"id\":\"j1\"}"), CJ_OK);
    cr_expect_eq(fr.type, CJ_JOIN);
    s_expect_cjstr(fr.target, "room.1", "group");
    s_expect_id("j1");
    cr_expect_null(fr.msg, "join carries no msg");

    cr_assert_eq(s_parse("{\"type\":\"leave\",\"group\":\"room.1\"}"), CJ_OK);
    cr_expect_eq(fr.type, CJ_LEAVE);
    s_expect_cjstr(fr.target, "room.1", "group");

    EXPECT_CODE("{\"type\":\"join\"}", CJ_BAD_REQUEST);
    EXPECT_CODE("{\"type\":\"leave\"}", CJ_BAD_REQUEST);
    EXPECT_CODE("{\"type\":\"join\",\"group\":\"\"}", CJ_BAD_REQUEST);
    EXPECT_CODE("{\"type\":\"join\",\"group\":\"a b\"}", CJ_BAD_REQUEST);
    EXPECT_CODE("{\"type\":\"join\",\"group\":1}", CJ_BAD_REQUEST);
    EXPECT_CODE("{\"type\":\"leave\",\"group\":[\"g\"]}", CJ_BAD_REQUEST);
    EXPECT_CODE("{\"type\":\"join\",\"receiver\":\"g\"}", CJ_BAD_REQUEST);
}

Test(cj_parse, group)
{
    cr_assert_eq(s_parse("{\"type\":\"group\",\"group\":\"g\",\"msg\":[1, 2 ,3]}"), CJ_OK);
    cr_expect_eq(fr.type, CJ_GROUP);
    s_expect_cjstr(fr.target, "g", "group");
    s_expect_msg("[1, 2 ,3]");
    EXPECT_CODE("{\"type\":\"group\",\"msg\":1}", CJ_BAD_REQUEST);
    EXPECT_CODE("{\"type\":\"group\",\"group\":\"g\"}", CJ_BAD_REQUEST);
    EXPECT_CODE("{\"type\":\"group\",\"group\":\"g|\",\"msg\":1}", CJ_BAD_REQUEST);
    EXPECT_CODE("{\"type\":\"group\",\"receiver\":\"g\",\"msg\":1}", CJ_BAD_REQUEST);
}

Test(cj_parse, broadcast)
{
    cr_assert_eq(s_parse("{\"type\":\"broadcast\",\"msg\":\"all\"}"), CJ_OK);
    cr_expect_eq(fr.type, CJ_BROADCAST);
    s_expect_msg("\"all\"");
    EXPECT_CODE("{\"type\":\"broadcast\"}", CJ_BAD_REQUEST);
    EXPECT_CODE("{\"type\":\"broadcast\",\"receiver\":\"bob\"}", CJ_BAD_REQUEST);
}

/* refresh: token is a string, kept as written (a JWT has no escapes; one
 * with an escape reaches the verifier undecoded and is refused there). */
Test(cj_parse, refresh)
{
    cr_assert_eq(s_parse("{\"type\":\"refresh\",\"token\":\"a.b.c\",\"id\":\"r\"}"), CJ_OK);
    cr_expect_eq(fr.type, CJ_REFRESH);
    s_expect_cjstr(fr.token, "a.b.c", "token");
    s_expect_id("r");
    cr_assert_eq(s_parse("{\"type\":\"refresh\",\"token\":\"\"}"), CJ_OK);
    cr_expect_eq(fr.token.n, 0);
    cr_assert_eq(s_parse("{\"type\":\"refresh\",\"token\":\"a\\u002eb\"}"), CJ_OK);
    s_expect_cjstr(fr.token, "a\\u002eb", "token, undecoded");
    EXPECT_CODE("{\"type\":\"refresh\"}", CJ_BAD_REQUEST);
    EXPECT_CODE("{\"type\":\"refresh\",\"token\":null}", CJ_BAD_REQUEST);
    EXPECT_CODE("{\"type\":\"refresh\",\"token\":[\"a\"]}", CJ_BAD_REQUEST);
    EXPECT_CODE("{\"type\":\"Refresh\",\"token\":\"a\"}", CJ_UNKNOWN_TYPE);
    /* a token on another frame type is ignored */
    cr_assert_eq(s_parse("{\"type\":\"chat\",\"receiver\":\"b\",\"msg\":1,\"token\":\"t\"}"),
                 CJ_OK);
    cr_expect_null(fr.token.p);
}

Test(cj_parse, presence)
{
    cr_assert_eq(s_parse("{\"type\":\"presence\",\"users\":[\"a\",\"b.c\",\"a\"],\"id\":\"p\"}"),
                 CJ_OK);
    cr_expect_eq(fr.type, CJ_PRESENCE);
    cr_assert_eq(fr.nusers, 2, "a repeated user is asked about once (no duplicate JSON keys)");
    s_expect_cjstr(fr.users[0], "a", "users[0]");
    s_expect_cjstr(fr.users[1], "b.c", "users[1]");
    s_expect_id("p");

    EXPECT_CODE("{\"type\":\"presence\"}", CJ_BAD_REQUEST);
    EXPECT_CODE("{\"type\":\"presence\",\"users\":[]}", CJ_BAD_REQUEST);
    EXPECT_CODE("{\"type\":\"presence\",\"users\":\"a\"}", CJ_BAD_REQUEST);
    EXPECT_CODE("{\"type\":\"presence\",\"users\":{\"a\":1}}", CJ_BAD_REQUEST);
    EXPECT_CODE("{\"type\":\"presence\",\"users\":[\"a\",\"b b\"]}", CJ_BAD_REQUEST);
    EXPECT_CODE("{\"type\":\"presence\",\"users\":[\"a\",\"\"]}", CJ_BAD_REQUEST);
    EXPECT_CODE("{\"type\":\"presence\",\"users\":[\"a\",1]}", CJ_BAD_REQUEST);
    EXPECT_CODE("{\"type\":\"presence\",\"users\":[null]}", CJ_BAD_REQUEST);
}

static char *
s_presence_json(size_t n, const char *last)
{
    size_t cap = 64 + n * 16;
    char *s = malloc(cap);
    cr_assert_not_null(s);
    size_t off = (size_t)snprintf(s, cap, "{\"type\":\"presence\",\"id\":\"q\",\"users\":[");
    for (size_t i = 0; i < n; i++) {
        const char *name = (i == n - 1 && last) ? last : NULL;
        if (name)
            off += (size_t)snprintf(s + off, cap - off, "%s\"%s\"", i ? "," : "", name);
        else
            off += (size_t)snprintf(s + off, cap - off, "%s\"u%zu\"", i ? "," : "", i);
    }
    snprintf(s + off, cap - off, "]}");
    return s;
}

Test(cj_parse, presence_limits)
{
    char *s = s_presence_json(1, NULL);
    EXPECT_CODE(s, CJ_OK);
    cr_expect_eq(fr.nusers, 1);
    free(s);

    s = s_presence_json(100, NULL);
    EXPECT_CODE(s, CJ_OK);
    cr_expect_eq(fr.nusers, 100);
    s_expect_cjstr(fr.users[99], "u99", "users[99]");
    free(s);

    s = s_presence_json(101, NULL);
    EXPECT_CODE(s, CJ_TOO_MANY);
    s_expect_id("q");
    free(s);

    s = s_presence_json(1000, NULL);
    EXPECT_CODE(s, CJ_TOO_MANY);
    free(s);

    s = s_presence_json(100, "bad name");
    EXPECT_CODE(s, CJ_BAD_REQUEST);
    s_expect_id("q");
    free(s);
}

/* ---- bad_json vs bad_request ------------------------------------------- */

Test(cj_parse, bad_json)
{
    const char *bad[] = { "", " ", "{", "}", "{\"a\":}", "not json", "{'a':1}",
                          "{\"a\":1,}", "{\"receiver\":\"bob\",\"msg\":1}x",
                          "{} {}", "{\"a\":1", "[1", "\"unterminated", "nul",
                          "{\"a\":\"\\x\"}", "{\"a\":01}" };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        EXPECT_CODE(bad[i], CJ_BAD_JSON);
        s_expect_id(NULL);
    }
    /* invalid UTF-8 inside a string (the transport checks first, but the
     * parser must not accept it either) */
    EXPECT_CODE("{\"receiver\":\"bob\",\"msg\":\"\xff\"}", CJ_BAD_JSON);
    /* a raw NUL byte in the text is not JSON */
    cr_expect_eq(s_parse_n("{\"receiver\":\"bob\",\0\"msg\":1}", 25), CJ_BAD_JSON);
}

Test(cj_parse, non_object_json_is_bad_request)
{
    const char *vals[] = { "[1]", "[]", "\"x\"", "3", "-1.5", "null", "true", "false",
                           "[{\"receiver\":\"bob\",\"msg\":1}]", " 3 " };
    for (size_t i = 0; i < sizeof vals / sizeof *vals; i++) {
        EXPECT_CODE(vals[i], CJ_BAD_REQUEST);
        s_expect_id(NULL);
    }
}

Test(cj_parse, type_not_a_string)
{
    EXPECT_CODE("{\"type\":1,\"receiver\":\"bob\",\"msg\":1}", CJ_BAD_REQUEST);
    EXPECT_CODE("{\"type\":null,\"receiver\":\"bob\",\"msg\":1}", CJ_BAD_REQUEST);
    EXPECT_CODE("{\"type\":[\"chat\"],\"receiver\":\"bob\",\"msg\":1}", CJ_BAD_REQUEST);
    EXPECT_CODE("{\"type\":{},\"id\":\"k\"}", CJ_BAD_REQUEST);
    s_expect_id("k");
}

/* ---- ids ---------------------------------------------------------------- */

Test(cj_parse, valid_ids_echoed)
{
    cr_assert_eq(s_parse("{\"receiver\":\"bob\",\"msg\":1,\"id\":\"abc-123\"}"), CJ_OK);
    s_expect_id("abc-123");
    cr_assert_eq(s_parse("{\"receiver\":\"bob\",\"msg\":1,\"id\":\"a\\\"b\\\\c\"}"), CJ_OK);
    s_expect_id("a\"b\\c");
    cr_assert_eq(s_parse("{\"receiver\":\"bob\",\"msg\":1,\"id\":\"!~{}[]:,'\"}"), CJ_OK);
    s_expect_id("!~{}[]:,'");
    cr_assert_eq(s_parse("{\"receiver\":\"bob\",\"msg\":1,\"id\":\"\\u0041\"}"), CJ_OK);
    s_expect_id("A");
    cr_assert_eq(s_parse("{\"receiver\":\"bob\",\"msg\":1,\"id\":"
                         "\"0123456789012345678901234567890123456789012345678901234567890123\"}"),
                 CJ_OK);
    cr_expect_eq(fr.id.n, 64);
}

Test(cj_parse, invalid_ids_bad_request_without_id)
{
    const char *bad[] = { "1", "0", "null", "true", "[\"a\"]", "{}", "\"\"", "\" \"",
                          "\"a b\"", "\"a\\tb\"", "\"a\\u0000b\"", "\"\\u007f\"",
                          "\"\\u00e9\"",
                          "\"01234567890123456789012345678901234567890123456789012345678901234\"" };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char buf[256];
        snprintf(buf, sizeof buf, "{\"receiver\":\"bob\",\"msg\":1,\"id\":%s}", bad[i]);
        EXPECT_CODE(buf, CJ_BAD_REQUEST);
        s_expect_id(NULL);
        /* the id rule wins over the type check too */
        snprintf(buf, sizeof buf, "{\"type\":\"dance\",\"id\":%s}", bad[i]);
        EXPECT_CODE(buf, CJ_BAD_REQUEST);
        s_expect_id(NULL);
    }
}

Test(cj_parse, id_kept_on_field_errors)
{
    EXPECT_CODE("{\"type\":\"chat\",\"id\":\"c1\",\"msg\":1}", CJ_BAD_REQUEST);
    s_expect_id("c1");
    EXPECT_CODE("{\"type\":\"join\",\"id\":\"j1\",\"group\":\"a b\"}", CJ_BAD_REQUEST);
    s_expect_id("j1");
}

Test(cj_parse, unknown_type_keeps_id)
{
    EXPECT_CODE("{\"type\":\"dance\",\"id\":\"d1\"}", CJ_UNKNOWN_TYPE);
    s_expect_id("d1");
    EXPECT_CODE("{\"type\":\"\",\"id\":\"d2\"}", CJ_UNKNOWN_TYPE);
    s_expect_id("d2");
    EXPECT_CODE("{\"type\":\"Chat\",\"receiver\":\"bob\",\"msg\":1}", CJ_UNKNOWN_TYPE);
    EXPECT_CODE("{\"type\":\"welcome\"}", CJ_UNKNOWN_TYPE);
    EXPECT_CODE("{\"type\":\"ack\"}", CJ_UNKNOWN_TYPE);
    EXPECT_CODE("{\"type\":\"chat \",\"receiver\":\"bob\",\"msg\":1}", CJ_UNKNOWN_TYPE);
    EXPECT_CODE("{\"type\":\"dance\"}", CJ_UNKNOWN_TYPE);
    s_expect_id(NULL);
}

Test(cj_parse, type_with_nul_is_not_a_known_type)
{
    /* "chat\u0000x" is a 6-character type, not "chat" */
    EXPECT_CODE("{\"type\":\"chat\\u0000x\",\"receiver\":\"bob\",\"msg\":1}", CJ_UNKNOWN_TYPE);
    EXPECT_CODE("{\"type\":\"join\\u0000\",\"group\":\"g\"}", CJ_UNKNOWN_TYPE);
}

/* ---- msg ---------------------------------------------------------------- */

Test(cj_parse, msg_any_value_verbatim)
{
    /* msg goes out exactly as the client wrote it: spacing, escapes and the
     * spelling of numbers are kept (issue 14: re-printing [0.1,...] with 17
     * digits made frames 5x longer than the limit allows) */
    const char *cases[] = {
        "\"hi\"", "42", "-1.5", "true", "false", "null", "[]", "{}",
        "[0.1,0.1]", "1e16", "1E+2", "-0", "0.10", "{\"a\" : 1}",
        "[ 1 , [ 2 , { \"a\" : null } ] ]",
        "{ \"z\" : 1 ,\n \"a\" : { \"b\" : [ true , false ] } }",
        "\"caf\\u00e9 \\u20ac\"", "\"caf\xc3\xa9 \xe2\x82\xac\"",
        "\"tab\\tquote\\\"slash\\/\"", "\"\\ud83d\\ude00\"",
        "{\"a\":1,\"a\":2}",
        "123456789012345678901234567890", "1e400", "-1e-400",
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char buf[512];
        snprintf(buf, sizeof buf, "{\"receiver\":\"bob\",\"msg\":%s}", cases[i]);
        cr_assert_eq(s_parse(buf), CJ_OK, "%s", buf);
        s_expect_msg(cases[i]);
        /* whitespace around the value is not part of it */
        snprintf(buf, sizeof buf, "{\"receiver\":\"bob\",\"msg\" : \t%s\n,\"id\":\"i\"}", cases[i]);
        cr_assert_eq(s_parse(buf), CJ_OK, "%s", buf);
        s_expect_msg(cases[i]);
    }
}

Test(cj_parse, msg_of_issue_14_keeps_its_length)
{
    /* 65,514 bytes of [0.1,0.1,...] in a 65,536-byte frame: msg is the same
     * 65,514 bytes, so the outgoing frame stays within limit + 512 */
    const char *head = "{\"receiver\":\"bob\",\"msg\":";
    size_t hn = strlen(head), mn = 65514;
    char *s = malloc(hn + mn + 2);
    cr_assert_not_null(s);
    memcpy(s, head, hn);
    char *m = s + hn;
    size_t k = 0;
    m[k++] = '[';
    while (k + 4 <= mn - 1) {
        memcpy(m + k, k == 1 ? "0.1" : ",0.1", k == 1 ? 3 : 4);
        k += k == 1 ? 3 : 4;
    }
    while (k < mn - 1)
        m[k++] = ' ';
    m[k++] = ']';
    cr_assert_eq(k, mn);
    s[hn + mn] = '}';
    cr_assert_eq(s_parse_n(s, hn + mn + 1), CJ_OK);
    cr_expect_eq(fr.msg_len, mn);
    cr_expect(memcmp(fr.msg, m, mn) == 0);
    free(s);
}

Test(cj_parse, msg_equals_original_json)
{
    const char *text = "{\"type\":\"group\",\"group\":\"g\",\"msg\":"
                       "{\"k\":[1,2.5,\"x\\n\",{\"deep\":[[[]]]}],\"u\":\"\\ud83d\\ude00\"}}";
    cr_assert_eq(s_parse(text), CJ_OK);
    json_error_t err;
    json_t *a = json_loadb(fr.msg, fr.msg_len, JSON_DECODE_ANY, &err);
    json_t *whole = json_loads(text, 0, &err);
    cr_assert_not_null(a);
    cr_assert_not_null(whole);
    cr_expect(json_equal(a, json_object_get(whole, "msg")));
    cr_expect_eq(fr.msg, s_text + strlen("{\"type\":\"group\",\"group\":\"g\",\"msg\":"),
                 "msg points into the text");
    cr_expect_eq(fr.msg_len, strlen(text) - strlen("{\"type\":\"group\",\"group\":\"g\",\"msg\":") - 1);
    json_decref(a);
    json_decref(whole);
}

Test(cj_parse, msg_nesting_limit)
{
    /* the frame object is level 1, so msg may nest JS_DEPTH_MAX - 1 deep */
    char buf[512];
    for (int depth = 126; depth <= 128; depth++) {
        size_t off = (size_t)snprintf(buf, sizeof buf, "{\"receiver\":\"bob\",\"msg\":");
        for (int i = 0; i < depth; i++)
            buf[off++] = '[';
        for (int i = 0; i < depth; i++)
            buf[off++] = ']';
        buf[off++] = '}';
        cr_expect_eq(s_parse_n(buf, off), depth <= 127 ? CJ_OK : CJ_BAD_JSON, "depth %d", depth);
    }
}

Test(cj_parse, escaped_keys_and_values)
{
    /* keys match after decoding, like jansson; values are decoded for type,
     * receiver, group, id and users */
    cr_assert_eq(s_parse("{\"\\u0074ype\":\"\\u0063hat\",\"rec\\u0065iver\":\"b\\u006fb\","
                         "\"m\\u0073g\":[1],\"\\u0069d\":\"q\\\"\\\\\\/\"}"), CJ_OK);
    cr_expect_eq(fr.type, CJ_CHAT);
    s_expect_cjstr(fr.target, "bob", "receiver");
    s_expect_msg("[1]");
    s_expect_id("q\"\\/");
    cr_assert_eq(s_parse("{\"type\":\"join\",\"group\":\"\\u0072oom\\u002e1\"}"), CJ_OK);
    cr_expect_eq(fr.type, CJ_JOIN);
    s_expect_cjstr(fr.target, "room.1", "group");
    /* an escape that decodes to something a name may not hold */
    EXPECT_CODE("{\"type\":\"join\",\"group\":\"a\\u0020b\"}", CJ_BAD_REQUEST);
    EXPECT_CODE("{\"type\":\"join\",\"group\":\"a\\nb\"}", CJ_BAD_REQUEST);
    /* a key with a NUL is valid JSON and names no field */
    EXPECT_CODE("{\"receiver\":\"bob\",\"msg\":1,\"id\\u0000\":5}", CJ_OK);
    s_expect_id(NULL);
    EXPECT_CODE("{\"receiver\":\"bob\",\"ms\\u0000g\":1}", CJ_BAD_REQUEST);
    /* an escaped type longer than any type */
    EXPECT_CODE("{\"type\":\"\\u0062roadcastX\",\"msg\":1}", CJ_UNKNOWN_TYPE);
    EXPECT_CODE("{\"type\":\"\\u0062roadcast\",\"msg\":1}", CJ_OK);
    cr_expect_eq(fr.type, CJ_BROADCAST);
}

Test(cj_parse, escaped_names_at_the_length_limit)
{
    /* 64 escaped bytes decode to 64: accepted; 65: refused */
    char buf[2048];
    for (int n = 64; n <= 65; n++) {
        size_t off = (size_t)snprintf(buf, sizeof buf, "{\"receiver\":\"");
        for (int i = 0; i < n; i++)
            off += (size_t)snprintf(buf + off, sizeof buf - off, "\\u0061");
        off += (size_t)snprintf(buf + off, sizeof buf - off, "\",\"msg\":1,\"id\":\"");
        for (int i = 0; i < n; i++)
            off += (size_t)snprintf(buf + off, sizeof buf - off, "\\u0021");
        off += (size_t)snprintf(buf + off, sizeof buf - off, "\"}");
        cr_expect_eq(s_parse_n(buf, off), n == 64 ? CJ_OK : CJ_BAD_REQUEST, "n %d", n);
        if (n == 64) {
            cr_expect_eq(fr.target.n, 64);
            cr_expect_eq(fr.id.n, 64);
            cr_expect(fr.target.p[0] == 'a' && fr.target.p[63] == 'a');
        }
    }
}

Test(cj_parse, escaped_presence_users_fill_the_scratch)
{
    /* 100 distinct users, each 64 bytes written with escapes only, plus an
     * escaped 64-byte id: the most the frame's scratch must hold */
    size_t cap = 100 * (64 * 6 + 4) + 64 * 6 + 256, off = 0;
    char *s = malloc(cap);
    cr_assert_not_null(s);
    off += (size_t)snprintf(s + off, cap - off, "{\"type\":\"presence\",\"id\":\"");
    for (int i = 0; i < 64; i++)
        off += (size_t)snprintf(s + off, cap - off, "\\u007e");
    off += (size_t)snprintf(s + off, cap - off, "\",\"users\":[");
    for (int u = 0; u < 100; u++) {
        off += (size_t)snprintf(s + off, cap - off, "%s\"\\u00%02x", u ? "," : "", 'A' + u % 26);
        off += (size_t)snprintf(s + off, cap - off, "\\u00%02x", 'a' + u / 26);
        for (int i = 2; i < 64; i++)
            off += (size_t)snprintf(s + off, cap - off, "\\u005f");
        off += (size_t)snprintf(s + off, cap - off, "\"");
    }
    off += (size_t)snprintf(s + off, cap - off, "]}");
    cr_assert_lt(off, cap);
    cr_assert_eq(s_parse_n(s, off), CJ_OK);
    cr_expect_eq(fr.nusers, 100);
    cr_expect_eq(fr.id.n, 64);
    cr_expect_eq(fr.id.p[63], '~');
    for (int u = 0; u < 100; u++) {
        cr_expect_eq(fr.users[u].n, 64);
        cr_expect_eq(fr.users[u].p[0], 'A' + u % 26);
        cr_expect_eq(fr.users[u].p[1], 'a' + u / 26);
        cr_expect_eq(fr.users[u].p[63], '_');
    }
    free(s);

    /* a repeated user, escaped or not, is asked about once */
    cr_assert_eq(s_parse("{\"type\":\"presence\",\"users\":[\"ab\",\"\\u0061b\",\"a\\u0062\",\"c\"]}"),
                 CJ_OK);
    cr_expect_eq(fr.nusers, 2);
    s_expect_cjstr(fr.users[0], "ab", "users[0]");
    s_expect_cjstr(fr.users[1], "c", "users[1]");
}

Test(cj_parse, duplicate_keys_last_wins)
{
    cr_assert_eq(s_parse("{\"receiver\":\"eve\",\"msg\":1,\"receiver\":\"bob\",\"msg\":[2]}"),
                 CJ_OK);
    s_expect_cjstr(fr.target, "bob", "receiver");
    s_expect_msg("[2]");
    EXPECT_CODE("{\"type\":\"chat\",\"type\":\"join\",\"group\":\"g\"}", CJ_OK);
    cr_expect_eq(fr.type, CJ_JOIN);
    EXPECT_CODE("{\"id\":\"ok\",\"id\":5,\"receiver\":\"bob\",\"msg\":1}", CJ_BAD_REQUEST);
    s_expect_id(NULL);
    EXPECT_CODE("{\"id\":5,\"id\":\"ok\",\"receiver\":\"bob\",\"msg\":1}", CJ_OK);
    s_expect_id("ok");
}

Test(cj_parse, every_truncation_is_bad_json)
{
    const char *frames[] = {
        "{\"type\":\"chat\",\"receiver\":\"bob\",\"msg\":{\"t\":\"hi \\u00e9\\ud83d\\ude00\","
        "\"n\":[1,-2.5e+3,true,false,null]},\"id\":\"c-1\"}",
        "{\"type\":\"presence\",\"users\":[\"a\",\"b\\u0063\"],\"id\":\"p\\\"\"}",
        "  {\"type\" : \"join\" , \"group\" : \"g\"}",
        "{\"receiver\":\"bob\",\"msg\":\"caf\xc3\xa9 \xf0\x9f\x98\x80\"}",
    };
    for (size_t i = 0; i < sizeof frames / sizeof *frames; i++) {
        size_t n = strlen(frames[i]);
        cr_assert_eq(s_parse_n(frames[i], n), CJ_OK, "%s", frames[i]);
        for (size_t k = 0; k < n; k++) {
            cj_code_t c = s_parse_n(frames[i], k);
            cr_expect_eq(c, CJ_BAD_JSON, "%s cut at %zu: %s", frames[i], k, cj_code_name(c));
            s_expect_id(NULL);
        }
    }
}

Test(cj_parse, big_numbers_are_json)
{
    /* RFC 8259 numbers have no range; jansson refused these as bad_json */
    EXPECT_CODE("{\"receiver\":\"bob\",\"msg\":99999999999999999999999}", CJ_OK);
    EXPECT_CODE("{\"receiver\":\"bob\",\"msg\":1e999}", CJ_OK);
    EXPECT_CODE("{\"receiver\":\"bob\",\"msg\":NaN}", CJ_BAD_JSON);
    EXPECT_CODE("{\"receiver\":\"bob\",\"msg\":Infinity}", CJ_BAD_JSON);
    EXPECT_CODE("{\"receiver\":\"bob\",\"msg\":-Infinity}", CJ_BAD_JSON);
    EXPECT_CODE("{\"receiver\":\"bob\",\"msg\":+1}", CJ_BAD_JSON);
    EXPECT_CODE("{\"receiver\":\"bob\",\"msg\":.5}", CJ_BAD_JSON);
    EXPECT_CODE("{\"receiver\":\"bob\",\"msg\":1.}", CJ_BAD_JSON);
}

Test(cj_parse, lone_surrogate_is_bad_json)
{
    EXPECT_CODE("{\"receiver\":\"bob\",\"msg\":\"\\ud83d\"}", CJ_BAD_JSON);
    EXPECT_CODE("{\"receiver\":\"bob\",\"msg\":\"\\ude00\"}", CJ_BAD_JSON);
    EXPECT_CODE("{\"receiver\":\"bob\",\"msg\":\"\xed\xa0\x80\"}", CJ_BAD_JSON);
}

Test(cj_parse, nul_inside_strings_accepted)
{
    cr_assert_eq(s_parse("{\"receiver\":\"bob\",\"msg\":\"a\\u0000b\"}"), CJ_OK);
    cr_expect_null(memchr(fr.msg, 0, fr.msg_len), "msg text has no raw NUL");
    s_expect_msg("\"a\\u0000b\"");
    json_error_t err;
    json_t *m = json_loadb(fr.msg, fr.msg_len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
    cr_assert_not_null(m, "msg is JSON: %.*s", (int)fr.msg_len, fr.msg);
    cr_assert(json_is_string(m));
    cr_expect_eq(json_string_length(m), 3);
    cr_expect(memcmp(json_string_value(m), "a\0b", 3) == 0);
    json_decref(m);

    cr_assert_eq(s_parse("{\"type\":\"broadcast\",\"msg\":{\"k\":\"\\u0000\"},\"other\":\"x\\u0000\"}"),
                 CJ_OK);
    s_expect_msg("{\"k\":\"\\u0000\"}");
}

Test(cj_parse, big_message)
{
    size_t n = 60000;
    char *s = malloc(n + 64);
    cr_assert_not_null(s);
    int off = sprintf(s, "{\"receiver\":\"bob\",\"msg\":\"");
    memset(s + off, 'x', n);
    strcpy(s + off + n, "\"}");
    cr_assert_eq(s_parse(s), CJ_OK);
    cr_expect_eq(fr.msg_len, n + 2);
    free(s);
}

Test(cj_parse, frame_clear_resets)
{
    cr_assert_eq(s_parse("{\"receiver\":\"bob\",\"msg\":1,\"id\":\"z\"}"), CJ_OK);
    cj_frame_clear(&fr);
    cr_expect_null(fr.msg);
    cr_expect_eq(fr.msg_len, 0);
    cr_expect_eq(fr.nusers, 0);
    cr_expect_null(fr.id.p);
    cr_expect_eq(fr.type, 0);
    cj_frame_clear(&fr);        /* twice is harmless */
    cj_frame_t z;
    memset(&z, 0, sizeof z);
    cj_frame_clear(&z);         /* a zeroed frame too */
}

Test(cj_parse, code_names)
{
    const char *want[] = { "ok", "bad_json", "bad_request", "unknown_type", "not_member",
                           "forbidden", "too_many", "rate_limited", "unsupported",
                           "unavailable", "unauthorized" };
    for (int c = 0; c < CJ_CODE_COUNT; c++)
        cr_expect_str_eq(cj_code_name((cj_code_t)c), want[c]);
    cr_expect_str_eq(cj_code_name(CJ_CODE_COUNT), "internal");
    cr_expect_str_eq(cj_code_name((cj_code_t)-1), "internal");
}

/* ---- rendering ---------------------------------------------------------- */

static buf_t out;

static const char *
s_out(void)
{
    buf_append(&out, "", 1);    /* NUL-terminate for comparison */
    out.len--;
    return out.data;
}

static json_t *
s_parse_out(void)
{
    json_error_t err;
    json_t *j = json_loadb(out.data, out.len, 0, &err);
    cr_assert_not_null(j, "rendered text is not JSON: %.*s (%s)", (int)out.len, out.data,
                       err.text);
    cr_assert(json_is_object(j));
    return j;
}

static void
s_expect_field(json_t *j, const char *key, const char *want)
{
    json_t *v = json_object_get(j, key);
    cr_assert(json_is_string(v), "field %s missing or not a string", key);
    cr_expect_str_eq(json_string_value(v), want, "field %s", key);
}

static cj_str_t
S(const char *s)
{
    cj_str_t r = { s, s ? strlen(s) : 0 };
    return r;
}

static const cj_str_t NOID = { NULL, 0 };

Test(cj_render, welcome)
{
    cr_assert_eq(cj_render_welcome(&out, "bob", "s-1"), 0);
    cr_expect_str_eq(s_out(), "{\"type\":\"welcome\",\"user\":\"bob\",\"session\":\"s-1\"}");
    json_t *j = s_parse_out();
    s_expect_field(j, "type", "welcome");
    s_expect_field(j, "user", "bob");
    s_expect_field(j, "session", "s-1");
    cr_expect_eq(json_object_size(j), 3);
    json_decref(j);
    buf_free(&out);
}

Test(cj_render, ack_variants)
{
    cr_assert_eq(cj_render_ack(&out, S("c1"), "h.1.2", "delivered"), 0);
    cr_expect_str_eq(s_out(), "{\"type\":\"ack\",\"id\":\"c1\",\"mid\":\"h.1.2\",\"status\":\"delivered\"}");
    out.len = 0;
    cr_assert_eq(cj_render_ack(&out, S("j1"), NULL, "joined"), 0);
    cr_expect_str_eq(s_out(), "{\"type\":\"ack\",\"id\":\"j1\",\"status\":\"joined\"}");
    out.len = 0;
    cr_assert_eq(cj_render_ack(&out, NOID, NULL, "left"), 0);
    cr_expect_str_eq(s_out(), "{\"type\":\"ack\",\"status\":\"left\"}");
    json_t *j = s_parse_out();
    cr_expect_null(json_object_get(j, "id"));
    json_decref(j);
    buf_free(&out);
}

Test(cj_render, id_escaping_round_trips)
{
    const char *ids[] = { "a\"b", "a\\b", "\\", "\"", "\\\"\\\"", "x\\u0041", "!#$%&'()*+,-./:;<=>?@[]^_`{|}~",
                          "\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"\"" };
    for (size_t i = 0; i < sizeof ids / sizeof *ids; i++) {
        out.len = 0;
        cr_assert_eq(cj_render_ack(&out, S(ids[i]), "m", "sent"), 0);
        json_t *j = s_parse_out();
        s_expect_field(j, "id", ids[i]);
        json_decref(j);

        out.len = 0;
        cr_assert_eq(cj_render_error(&out, CJ_NOT_MEMBER, "not a member", S(ids[i])), 0);
        j = s_parse_out();
        s_expect_field(j, "id", ids[i]);
        json_decref(j);

        out.len = 0;
        cj_str_t u = S("a");
        uint8_t on = 1;
        cr_assert_eq(cj_render_presence(&out, &u, &on, 1, S(ids[i])), 0);
        j = s_parse_out();
        s_expect_field(j, "id", ids[i]);
        json_decref(j);
    }
    out.len = 0;
    cr_assert_eq(cj_render_ack(&out, S("a\"b\\c"), NULL, "sent"), 0);
    cr_expect_str_eq(s_out(), "{\"type\":\"ack\",\"id\":\"a\\\"b\\\\c\",\"status\":\"sent\"}");
    buf_free(&out);
}

Test(cj_render, parsed_id_round_trips_to_ack)
{
    /* the id as a client sent it comes back identical in the ack */
    const char *text = "{\"receiver\":\"bob\",\"msg\":1,\"id\":\"q\\\"\\\\z\"}";
    cj_frame_t f;
    cr_assert_eq(cj_parse(text, strlen(text), &f), CJ_OK);
    cr_assert_eq(cj_render_ack(&out, f.id, "m1", "offline"), 0);
    json_t *j = s_parse_out();
    s_expect_field(j, "id", "q\"\\z");
    json_decref(j);
    cj_frame_clear(&f);
    buf_free(&out);
}

Test(cj_render, error_frames)
{
    cr_assert_eq(cj_render_error(&out, CJ_BAD_JSON, "not JSON", NOID), 0);
    cr_expect_str_eq(s_out(), "{\"type\":\"error\",\"code\":\"bad_json\",\"reason\":\"not JSON\"}");
    out.len = 0;
    cr_assert_eq(cj_render_error(&out, CJ_TOO_MANY, "over the limit", S("p1")), 0);
    cr_expect_str_eq(s_out(),
                     "{\"type\":\"error\",\"code\":\"too_many\",\"reason\":\"over the limit\",\"id\":\"p1\"}");
    for (int c = CJ_BAD_JSON; c < CJ_CODE_COUNT; c++) {
        out.len = 0;
        cr_assert_eq(cj_render_error(&out, (cj_code_t)c, "say \"why\" \\ here", S("i")), 0);
        json_t *j = s_parse_out();
        s_expect_field(j, "type", "error");
        s_expect_field(j, "code", cj_code_name((cj_code_t)c));
        s_expect_field(j, "reason", "say \"why\" \\ here");
        s_expect_field(j, "id", "i");
        cr_expect_eq(json_object_size(j), 4);
        json_decref(j);
    }
    buf_free(&out);
}

static int
s_is_rfc3339_ms(const char *s)
{
    regex_t re;
    int rc = regcomp(&re, "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}Z$",
                     REG_EXTENDED | REG_NOSUB);
    cr_assert_eq(rc, 0);
    rc = regexec(&re, s, 0, NULL, 0);
    regfree(&re);
    return rc == 0;
}

Test(cj_render, chat_message_exact)
{
    cr_assert_eq(cj_render_message(&out, "chat", S("alice"), S("bob"), S("{\"t\":\"hi\"}"),
                                   S("h.1.9"), 1764063000123), 0);
    cr_expect_str_eq(s_out(), "{\"type\":\"chat\",\"sender\":\"alice\",\"receiver\":\"bob\","
                              "\"msg\":{\"t\":\"hi\"},\"mid\":\"h.1.9\","
                              "\"createTime\":\"2025-11-25T09:30:00.123Z\"}");
    json_t *j = s_parse_out();
    s_expect_field(j, "type", "chat");
    s_expect_field(j, "sender", "alice");
    s_expect_field(j, "receiver", "bob");
    s_expect_field(j, "mid", "h.1.9");
    s_expect_field(j, "createTime", "2025-11-25T09:30:00.123Z");
    cr_expect(s_is_rfc3339_ms(json_string_value(json_object_get(j, "createTime"))));
    cr_expect_str_eq(json_string_value(json_object_get(json_object_get(j, "msg"), "t")), "hi");
    cr_expect_null(json_object_get(j, "group"));
    cr_expect_eq(json_object_size(j), 6);
    json_decref(j);
    buf_free(&out);
}

Test(cj_render, group_and_broadcast_exact)
{
    cr_assert_eq(cj_render_message(&out, "group", S("alice"), S("team"), S("[1,2]"), S("m2"),
                                   0), 0);
    cr_expect_str_eq(s_out(), "{\"type\":\"group\",\"sender\":\"alice\",\"group\":\"team\","
                              "\"msg\":[1,2],\"mid\":\"m2\","
                              "\"createTime\":\"1970-01-01T00:00:00.000Z\"}");
    json_t *j = s_parse_out();
    cr_expect_null(json_object_get(j, "receiver"));
    json_decref(j);

    out.len = 0;
    cr_assert_eq(cj_render_message(&out, "broadcast", S("system"), S("ignored"), S("\"x\""),
                                   S("m3"), 1764063000005), 0);
    cr_expect_str_eq(s_out(), "{\"type\":\"broadcast\",\"sender\":\"system\","
                              "\"msg\":\"x\",\"mid\":\"m3\","
                              "\"createTime\":\"2025-11-25T09:30:00.005Z\"}");
    j = s_parse_out();
    cr_expect_null(json_object_get(j, "receiver"));
    cr_expect_null(json_object_get(j, "group"));
    cr_expect_eq(json_object_size(j), 5);
    json_decref(j);

    /* a target that is not NUL-terminated: only its n bytes */
    out.len = 0;
    cj_str_t t = { "teamXYZ", 4 };
    cr_assert_eq(cj_render_message(&out, "group", S("a"), t, S("1"), S("m"), 1000), 0);
    j = s_parse_out();
    s_expect_field(j, "group", "team");
    s_expect_field(j, "createTime", "1970-01-01T00:00:01.000Z");
    json_decref(j);
    buf_free(&out);
}

Test(cj_render, message_time_before_epoch_is_valid_json)
{
    /* the time comes from the bus envelope, which a backend writes */
    cr_assert_eq(cj_render_message(&out, "chat", S("system"), S("bob"), S("1"), S("m"), -1500),
                 0);
    json_error_t err;
    json_t *j = json_loadb(out.data, out.len, 0, &err);
    cr_assert_not_null(j, "not JSON (%s): %.*s", err.text, (int)out.len, out.data);
    json_t *ct = json_object_get(j, "createTime");
    cr_assert(json_is_string(ct));
    cr_expect(s_is_rfc3339_ms(json_string_value(ct)), "createTime %s", json_string_value(ct));
    json_decref(j);
    buf_free(&out);
}

Test(cj_render, message_carries_parsed_msg)
{
    /* client frame in, server frame out: msg is the same JSON value */
    const char *text = "{\"receiver\":\"bob\",\"msg\":{\"n\":[1,{\"x\":\"\\u0000\\\"\"}],\"e\":\"\\u20ac\"}}";
    cj_frame_t f;
    cr_assert_eq(cj_parse(text, strlen(text), &f), CJ_OK);
    cj_str_t msg = { f.msg, f.msg_len };
    cr_assert_eq(cj_render_message(&out, "chat", S("alice"), f.target, msg, S("m"),
                                   1764063000123), 0);
    json_error_t err;
    json_t *j = json_loadb(out.data, out.len, JSON_ALLOW_NUL, &err);
    cr_assert_not_null(j, "%s", err.text);
    json_t *orig = json_loadb(text, strlen(text), JSON_ALLOW_NUL, &err);
    cr_assert_not_null(orig);
    cr_expect(json_equal(json_object_get(j, "msg"), json_object_get(orig, "msg")));
    json_decref(j);
    json_decref(orig);
    cj_frame_clear(&f);
    buf_free(&out);
}

Test(cj_render, presence_exact)
{
    cj_str_t users[] = { S("a"), S("b"), { "cXX", 1 } };
    uint8_t online[] = { 1, 0, 1 };
    cr_assert_eq(cj_render_presence(&out, users, online, 3, S("q")), 0);
    cr_expect_str_eq(s_out(),
                     "{\"type\":\"presence\",\"online\":{\"a\":true,\"b\":false,\"c\":true},\"id\":\"q\"}");
    out.len = 0;
    cr_assert_eq(cj_render_presence(&out, users, online, 0, NOID), 0);
    cr_expect_str_eq(s_out(), "{\"type\":\"presence\",\"online\":{}}");
    out.len = 0;

    /* 100 users, parsed back */
    char names[100][16];
    cj_str_t many[100];
    uint8_t on[100];
    for (int i = 0; i < 100; i++) {
        snprintf(names[i], sizeof names[i], "u%d", i);
        many[i] = S(names[i]);
        on[i] = (uint8_t)(i & 1);
    }
    cr_assert_eq(cj_render_presence(&out, many, on, 100, NOID), 0);
    json_t *j = s_parse_out();
    json_t *o = json_object_get(j, "online");
    cr_assert(json_is_object(o));
    cr_expect_eq(json_object_size(o), 100);
    for (int i = 0; i < 100; i++) {
        json_t *v = json_object_get(o, names[i]);
        cr_assert(json_is_boolean(v), "%s", names[i]);
        cr_expect_eq(json_is_true(v), i & 1, "%s", names[i]);
    }
    json_decref(j);
    buf_free(&out);
}

Test(cj_render, appends_to_existing_content)
{
    buf_appends(&out, "PREFIX");
    cr_assert_eq(cj_render_welcome(&out, "bob", "s"), 0);
    cr_expect_str_eq(s_out(), "PREFIX{\"type\":\"welcome\",\"user\":\"bob\",\"session\":\"s\"}");
    buf_free(&out);
}

Test(cj_render, big_msg)
{
    size_t n = 70000;
    char *m = malloc(n);
    cr_assert_not_null(m);
    m[0] = '"';
    memset(m + 1, 'y', n - 2);
    m[n - 1] = '"';
    cj_str_t msg = { m, n };
    cr_assert_eq(cj_render_message(&out, "broadcast", S("system"), NOID, msg, S("m"), 1), 0);
    json_t *j = s_parse_out();
    cr_expect_eq(json_string_length(json_object_get(j, "msg")), n - 2);
    json_decref(j);
    free(m);
    buf_free(&out);
}

/* ---- positions in a stream (history) ------------------------------------ */

Test(cj_render, welcome_ack_and_message_with_positions)
{
    cj_pos_t p = { 42, S("r1\"x.3"), 1, 0, 0 };
    cr_assert_eq(cj_render_welcome_at(&out, "bob", "s-1", &p), 0);
    cr_expect_str_eq(s_out(), "{\"type\":\"welcome\",\"user\":\"bob\",\"session\":\"s-1\","
                              "\"seq\":42,\"epoch\":\"r1\\\"x.3\",\"recovered\":true,\"missed\":0}");
    json_t *j = s_parse_out();
    s_expect_field(j, "epoch", "r1\"x.3");
    cr_expect_eq(json_integer_value(json_object_get(j, "seq")), 42);
    json_decref(j);
    buf_free(&out);

    p = (cj_pos_t){ 7, S("e.1"), 0, -1, 0 };                   /* missed unknown: absent */
    cr_assert_eq(cj_render_ack_at(&out, S("j1"), NULL, "joined", &p), 0);
    cr_expect_str_eq(s_out(), "{\"type\":\"ack\",\"id\":\"j1\",\"status\":\"joined\","
                              "\"seq\":7,\"epoch\":\"e.1\",\"recovered\":false}");
    buf_free(&out);

    p = (cj_pos_t){ 9, S("e.1"), -1, -1, 0 };                 /* a delivered frame */
    cr_assert_eq(cj_render_message_at(&out, "chat", S("alice"), S("bob"), S("{\"a\":1}"),
                                      S("h.1.2"), 1764063000123, &p), 0);
    j = s_parse_out();
    cr_expect_eq(json_integer_value(json_object_get(j, "seq")), 9);
    s_expect_field(j, "epoch", "e.1");
    cr_expect_null(json_object_get(j, "recovered"));
    s_expect_field(j, "createTime", "2025-11-25T09:30:00.123Z");
    json_decref(j);
    buf_free(&out);

    cj_pos_t none = CJ_POS_NONE;                            /* no epoch: nothing added */
    cr_assert_eq(cj_render_welcome_at(&out, "bob", "s-1", &none), 0);
    cr_expect_str_eq(s_out(), "{\"type\":\"welcome\",\"user\":\"bob\",\"session\":\"s-1\"}");
    buf_free(&out);
}
