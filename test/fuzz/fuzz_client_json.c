/* fuzz_client_json — proto/client_json.c and proto/jscan.c: one client text
 * frame, as client.c handles it: cj_parse(), then the replies rendered from
 * what it returned.
 *
 * Input: the text frame, as is. Checked:
 *   - jscan's verdict against jansson's (JSON_DECODE_ANY | JSON_ALLOW_NUL):
 *     they may differ only where jscan.h says (numbers jansson cannot hold,
 *     nesting deeper than JS_DEPTH_MAX) and where jansson errs (it refuses
 *     a key with \u0000 and accepts "0\0", a number ended by a raw NUL);
 *     bad_json exactly when invalid;
 *   - on CJ_OK, every field against the value jansson finds under its key
 *     (the last of duplicate keys, in both): type, id, target, msg (as
 *     written, and equal as JSON), presence users once each, in order; every
 *     span inside the text or the frame's scratch;
 *   - an id is valid whenever set, whatever the code;
 *   - the ack, error, message and presence frames rendered from the frame
 *     are valid JSON and carry the id, target and msg back unchanged.
 * Run: make fuzz FUZZ_TARGETS=client_json, or build/fuzz/fuzz_client_json DIR */
#include <jansson.h>
#include <string.h>

#include "buf.h"
#include "client_json.h"
#include "fuzz.h"
#include "jscan.h"

static cj_frame_t s_f;      /* 7 KiB: off the stack */

/* p[0..n) lies inside the text or the frame's scratch. */
static int
s_owned(const char *text, size_t len, const char *p, size_t n)
{
    const char *sc = s_f.scratch;
    return (p >= text && n <= len && p - text <= (ptrdiff_t)(len - n))
           || (p >= sc && n <= sizeof s_f.scratch && p - sc <= (ptrdiff_t)(sizeof s_f.scratch - n));
}

static int
s_is(const json_t *j, cj_str_t s)
{
    return json_is_string(j) && json_string_length(j) == s.n
           && memcmp(json_string_value(j), s.p, s.n) == 0;
}

/* Deepest nesting of arrays and objects, counting only brackets outside
 * strings; enough for texts jansson accepted. */
static int
s_depth(const char *p, size_t n)
{
    int d = 0, max = 0, in_str = 0;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (in_str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                in_str = 0;
        } else if (c == '"') {
            in_str = 1;
        } else if (c == '[' || c == '{') {
            if (++d > max)
                max = d;
        } else if (c == ']' || c == '}') {
            d--;
        }
    }
    return max;
}

/* A field of the frame against what jansson read, and the replies. */
static void
s_check_ok(const char *text, size_t len, const json_t *root)
{
    const cj_frame_t *f = &s_f;
    FZ_CHECK(json_is_object(root));
    const json_t *type = json_object_get(root, "type");
    switch (f->type) {
    case CJ_CHAT:
        FZ_CHECK(!type || json_is_string(type));
        FZ_CHECK(s_is(json_object_get(root, "receiver"), f->target));
        break;
    case CJ_JOIN: case CJ_LEAVE: case CJ_GROUP:
        FZ_CHECK(s_is(json_object_get(root, "group"), f->target));
        break;
    case CJ_BROADCAST: case CJ_PRESENCE:
        FZ_CHECK(f->target.p == NULL);
        break;
    default:
        FZ_CHECK(!"a type cj_parse() cannot return");
    }
    static const char *const names[] = { [CJ_CHAT] = "chat", [CJ_JOIN] = "join",
        [CJ_LEAVE] = "leave", [CJ_GROUP] = "group", [CJ_BROADCAST] = "broadcast",
        [CJ_PRESENCE] = "presence" };
    FZ_CHECK(type ? strcmp(json_string_value(type), names[f->type]) == 0
                    && json_string_length(type) == strlen(names[f->type])
                  : f->type == CJ_CHAT);
    if (f->target.p) {
        FZ_CHECK(valid_name(f->target.p, f->target.n));
        FZ_CHECK(s_owned(text, len, f->target.p, f->target.n));
    }
    const json_t *msg = json_object_get(root, "msg");
    if (f->type == CJ_CHAT || f->type == CJ_GROUP || f->type == CJ_BROADCAST) {
        FZ_CHECK(f->msg && msg);
        FZ_CHECK(f->msg >= text && f->msg_len <= len && f->msg - text <= (ptrdiff_t)(len - f->msg_len));
        FZ_CHECK(js_valid(f->msg, f->msg_len));
        json_t *m = json_loadb(f->msg, f->msg_len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
        if (m)                                  /* NULL: a number jansson cannot hold */
            FZ_CHECK(json_equal(m, msg));
        json_decref(m);
    } else {
        FZ_CHECK(!f->msg);
    }
    if (f->type == CJ_PRESENCE) {
        const json_t *users = json_object_get(root, "users");
        FZ_CHECK(json_is_array(users));
        size_t n = json_array_size(users), k = 0;
        FZ_CHECK(f->nusers >= 1 && f->nusers <= n && n <= CJ_PRESENCE_MAX);
        for (size_t i = 0; i < n; i++) {        /* f->users: users, first of each */
            const json_t *u = json_array_get(users, i);
            size_t j;
            for (j = 0; j < i; j++)
                if (json_equal(u, json_array_get(users, j)))
                    break;
            if (j < i)
                continue;
            FZ_CHECK(k < f->nusers && s_is(u, f->users[k]));
            FZ_CHECK(valid_name(f->users[k].p, f->users[k].n));
            FZ_CHECK(s_owned(text, len, f->users[k].p, f->users[k].n));
            k++;
        }
        FZ_CHECK(k == f->nusers);
    } else {
        FZ_CHECK(f->nusers == 0);
    }
}

/* Rendered replies are valid JSON and give back what went in. */
static void
s_check_render(cj_code_t code)
{
    const cj_frame_t *f = &s_f;
    buf_t out = { 0 };
    json_t *j;
    FZ_CHECK(cj_render_error(&out, code, "reason \"quoted\"", f->id) == 0);
    FZ_CHECK(js_valid(out.data, out.len));
    j = json_loadb(out.data, out.len, 0, NULL);
    FZ_CHECK(j && (f->id.p ? s_is(json_object_get(j, "id"), f->id) : !json_object_get(j, "id")));
    json_decref(j);
    out.len = 0;
    if (code != CJ_OK) {
        buf_free(&out);
        return;
    }
    FZ_CHECK(cj_render_ack(&out, f->id, "m-1", "delivered") == 0);
    FZ_CHECK(js_valid(out.data, out.len));
    out.len = 0;
    if (f->msg) {
        cj_str_t sender = { "alice", 5 }, mid = { "m-1", 3 };
        cj_str_t msg = { f->msg, f->msg_len };
        const char *kind = f->type == CJ_CHAT ? "chat" : f->type == CJ_GROUP ? "group" : "broadcast";
        FZ_CHECK(cj_render_message(&out, kind, sender, f->target, msg, mid, 1700000000123) == 0);
        FZ_CHECK(js_valid(out.data, out.len));
        js_field_t fl[2] = { { "msg", { 0 } }, { "receiver", { 0 } } };
        FZ_CHECK(js_fields(out.data, out.len, fl, 2) == JS_OBJECT);
        FZ_CHECK(fl[0].val.n == f->msg_len && memcmp(fl[0].val.p, f->msg, f->msg_len) == 0);
        out.len = 0;
    }
    if (f->type == CJ_PRESENCE) {
        uint8_t online[CJ_PRESENCE_MAX];
        for (size_t i = 0; i < f->nusers; i++)
            online[i] = (uint8_t)(i & 1);
        FZ_CHECK(cj_render_presence(&out, f->users, online, f->nusers, f->id) == 0);
        FZ_CHECK(js_valid(out.data, out.len));
        j = json_loadb(out.data, out.len, 0, NULL);
        FZ_CHECK(j && json_object_size(json_object_get(j, "online")) == f->nusers);
        json_decref(j);
    }
    buf_free(&out);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data;
    cj_code_t code = cj_parse(text, size, &s_f);
    FZ_CHECK(code == CJ_OK || code == CJ_BAD_JSON || code == CJ_BAD_REQUEST
             || code == CJ_UNKNOWN_TYPE || code == CJ_TOO_MANY);
    int valid = js_valid(text, size);
    FZ_CHECK((code == CJ_BAD_JSON) == !valid);

    json_error_t err;
    json_t *root = json_loadb(text, size, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
    if (valid && !root)                         /* jscan.h: numbers without a range limit; */
        FZ_CHECK(strstr(err.text, "too big") || strstr(err.text, "overflow")   /* jansson: */
                 || strstr(err.text, "NUL byte in object key"));  /* no \u0000 in keys */
    if (!valid && root)                         /* jscan.h: at most JS_DEPTH_MAX levels; */
        FZ_CHECK(s_depth(text, size) > JS_DEPTH_MAX     /* jansson takes a number */
                 || memchr(text, '\0', size));          /* ended by a raw NUL: "0\0" */

    if (s_f.id.p) {
        FZ_CHECK(valid_id(s_f.id.p, s_f.id.n));
        FZ_CHECK(s_owned(text, size, s_f.id.p, s_f.id.n));
        if (root)
            FZ_CHECK(s_is(json_object_get(root, "id"), s_f.id));
    }
    if (code == CJ_OK && root)
        s_check_ok(text, size, root);
    s_check_render(code);
    json_decref(root);
    cj_frame_clear(&s_f);
    return 0;
}
