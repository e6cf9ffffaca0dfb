/* client_json — see client_json.h. Parsing is jscan: one validating pass
 * picks the wanted members' spans, msg is kept as written. Rendering is plain
 * concatenation because every server frame is a fixed shape whose variable
 * parts are either validated names or JSON text already. */
#include "client_json.h"

#include <assert.h>
#include <string.h>

#include "clock.h"
#include "jscan.h"

static const char *s_codes[CJ_CODE_COUNT] = {
    [CJ_OK] = "ok", [CJ_BAD_JSON] = "bad_json", [CJ_BAD_REQUEST] = "bad_request",
    [CJ_UNKNOWN_TYPE] = "unknown_type", [CJ_NOT_MEMBER] = "not_member",
    [CJ_FORBIDDEN] = "forbidden", [CJ_TOO_MANY] = "too_many",
    [CJ_RATE_LIMITED] = "rate_limited", [CJ_UNSUPPORTED] = "unsupported",
    [CJ_UNAVAILABLE] = "unavailable", [CJ_UNAUTHORIZED] = "unauthorized",
};

const char *
cj_code_name(cj_code_t code)
{
    return (unsigned)code < CJ_CODE_COUNT ? s_codes[code] : "internal";
}

void
cj_frame_clear(cj_frame_t *f)
{
    memset(f, 0, offsetof(cj_frame_t, users));
}

/* The fields cj_parse() looks at, in the order of s_fields[]. */
enum { F_ID, F_TYPE, F_RECEIVER, F_GROUP, F_MSG, F_USERS, F_TOKEN, F_SINCE, F_COUNT };

static const char *const s_fields[F_COUNT] = {
    [F_ID] = "id", [F_TYPE] = "type", [F_RECEIVER] = "receiver", [F_GROUP] = "group",
    [F_MSG] = "msg", [F_USERS] = "users", [F_TOKEN] = "token", [F_SINCE] = "since",
};

/* A short string field (id, target, user) into *out: when written without
 * escapes it points into the text; otherwise it is decoded into the frame's
 * scratch at *used, which advances. -1 when v is not a string, is longer
 * than cap bytes once decoded, or decodes to a NUL. */
static int
s_short(cj_frame_t *f, size_t *used, js_span_t v, size_t cap, cj_str_t *out)
{
    if (v.type != JS_STRING)
        return -1;
    const char *in = v.p + 1;
    size_t n = v.n - 2;
    if (!memchr(in, '\\', n)) {
        if (n > cap)
            return -1;
        out->p = in;
        out->n = n;
        return 0;
    }
    assert(sizeof f->scratch - *used >= cap);      /* CJ_SCRATCH_MAX counts every field */
    ssize_t k = js_string(v, f->scratch + *used, cap);
    if (k < 0)
        return -1;
    out->p = f->scratch + *used;
    out->n = (size_t)k;
    *used += (size_t)k;
    return 0;
}

/* A field that must be a valid name (userId or group). */
static int
s_name(cj_frame_t *f, size_t *used, js_span_t v, cj_str_t *out)
{
    return s_short(f, used, v, VALID_NAME_MAX, out) == 0 && valid_name(out->p, out->n) ? 0 : -1;
}

static cj_code_t
s_msg(cj_frame_t *f, js_span_t v)
{
    if (v.type == JS_INVALID)
        return CJ_BAD_REQUEST;
    f->msg = v.p;
    f->msg_len = v.n;
    return CJ_OK;
}

/* users: an array of 1–CJ_PRESENCE_MAX valid names, kept once each in
 * order. Over the limit is too_many whatever the elements are, so the whole
 * array is counted even after a bad element. */
static cj_code_t
s_users(cj_frame_t *f, size_t *used, js_span_t v)
{
    js_iter_t it;
    js_member_t m;
    size_t count = 0;
    int bad = 0, rc;
    if (v.type != JS_ARRAY || js_open(&it, v.p, v.n) != JS_ARRAY)
        return CJ_BAD_REQUEST;
    while ((rc = js_next(&it, &m)) > 0) {
        if (++count > CJ_PRESENCE_MAX || bad)
            continue;
        size_t mark = *used;
        cj_str_t name;
        if (s_name(f, used, m.val, &name)) {
            bad = 1;
            continue;
        }
        size_t j;
        for (j = 0; j < f->nusers; j++)         /* one answer per user */
            if (f->users[j].n == name.n && !memcmp(f->users[j].p, name.p, name.n))
                break;
        if (j == f->nusers)
            f->users[f->nusers++] = name;
        else
            *used = mark;                       /* a repeat: give its scratch back */
    }
    assert(rc == 0);                            /* the whole text was valid */
    if (count == 0)
        return CJ_BAD_REQUEST;
    if (count > CJ_PRESENCE_MAX)
        return CJ_TOO_MANY;
    return bad ? CJ_BAD_REQUEST : CJ_OK;
}

/* The type named by the type field (as a client may write it, escapes and
 * all), 0 when unknown: "chat\u0000x" and "Chat" are not "chat". */
static cj_type_t
s_type(js_span_t v)
{
    static const struct {
        const char *name;
        size_t      n;
        cj_type_t   type;
    } types[] = {
        { "chat", 4, CJ_CHAT },   { "join", 4, CJ_JOIN },           { "leave", 5, CJ_LEAVE },
        { "group", 5, CJ_GROUP }, { "broadcast", 9, CJ_BROADCAST }, { "presence", 8, CJ_PRESENCE },
        { "refresh", 7, CJ_REFRESH },
    };
    char t[9];
    ssize_t n = js_string(v, t, sizeof t);      /* -1: longer than any type, or a NUL */
    for (size_t i = 0; n > 0 && i < sizeof types / sizeof *types; i++)
        if ((size_t)n == types[i].n && !memcmp(t, types[i].name, types[i].n))
            return types[i].type;
    return 0;
}

/* Order of checks, as zwsd-protocol(7) "Frames" wants it: JSON, object, id (an
 * invalid id is bad_request even for an unknown type), type, then the
 * type's fields. */
cj_code_t
cj_parse(const char *text, size_t len, cj_frame_t *f)
{
    js_field_t fl[F_COUNT];
    size_t used = 0;
    memset(f, 0, offsetof(cj_frame_t, users));
    for (int i = 0; i < F_COUNT; i++)
        fl[i].name = s_fields[i];
    js_type_t top = js_fields(text, len, fl, F_COUNT);
    if (top == JS_INVALID)
        return CJ_BAD_JSON;
    if (top != JS_OBJECT)
        return CJ_BAD_REQUEST;

    if (fl[F_ID].val.type != JS_INVALID) {
        cj_str_t id;
        if (s_short(f, &used, fl[F_ID].val, VALID_ID_MAX, &id) || !valid_id(id.p, id.n))
            return CJ_BAD_REQUEST;
        f->id = id;
    }

    js_span_t type = fl[F_TYPE].val;
    if (type.type == JS_INVALID)
        f->type = fl[F_RECEIVER].val.type != JS_INVALID ? CJ_CHAT : 0;
    else if (type.type == JS_STRING && !(f->type = s_type(type)))
        return CJ_UNKNOWN_TYPE;
    switch (f->type) {
    case CJ_CHAT:
        if (s_name(f, &used, fl[F_RECEIVER].val, &f->target))
            return CJ_BAD_REQUEST;
        return s_msg(f, fl[F_MSG].val);
    case CJ_JOIN:
        if (fl[F_SINCE].val.type != JS_INVALID) {
            /* "EPOCH:SEQ" (zwsd-protocol(7) "History and recovery") */
            const char *ep;
            size_t el;
            uint64_t seq;
            if (s_short(f, &used, fl[F_SINCE].val, VALID_EPOCH_MAX + 21, &f->since)
                || !valid_since(f->since.p, f->since.n, &ep, &el, &seq))
                return CJ_BAD_REQUEST;
        }
        return s_name(f, &used, fl[F_GROUP].val, &f->target) ? CJ_BAD_REQUEST : CJ_OK;
    case CJ_LEAVE:
        return s_name(f, &used, fl[F_GROUP].val, &f->target) ? CJ_BAD_REQUEST : CJ_OK;
    case CJ_GROUP:
        if (s_name(f, &used, fl[F_GROUP].val, &f->target))
            return CJ_BAD_REQUEST;
        return s_msg(f, fl[F_MSG].val);
    case CJ_BROADCAST:
        return s_msg(f, fl[F_MSG].val);
    case CJ_REFRESH:
        /* a string; whether it is a token is the verifier's to say */
        if (fl[F_TOKEN].val.type != JS_STRING)
            return CJ_BAD_REQUEST;
        f->token.p = fl[F_TOKEN].val.p + 1;
        f->token.n = fl[F_TOKEN].val.n - 2;
        return CJ_OK;
    case CJ_PRESENCE:
        return s_users(f, &used, fl[F_USERS].val);
    }
    return CJ_BAD_REQUEST;                      /* no type and no receiver, or a non-string type */
}

/* Append s as a JSON string body (no quotes). Ids are 0x21–0x7E, so only
 * '"' and '\\' need escaping; anything else is passed through unchanged. */
static int
s_append_escaped(buf_t *out, const char *s, size_t n)
{
    if (buf_reserve(out, 2 * n) < 0)
        return -1;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (c == '"' || c == '\\')
            out->data[out->len++] = '\\';
        out->data[out->len++] = c;
    }
    return 0;
}

#define APP(s)          buf_append(out, (s), sizeof(s) - 1)
#define APPN(p, n)      buf_append(out, (p), (n))

static int
s_append_id(buf_t *out, cj_str_t id)
{
    if (!id.p)
        return 0;
    return APP(",\"id\":\"") || s_append_escaped(out, id.p, id.n) || APP("\"");
}

/* ,"seq":N,"epoch":"E"[,"recovered":B[,"missed":N]] */
int
cj_append_pos(buf_t *out, const cj_pos_t *pos)
{
    if (!pos || !pos->epoch.p)
        return 0;
    int rc = APP(",\"seq\":") || buf_append_u64(out, (unsigned long long)pos->seq)
             || APP(",\"epoch\":\"") || s_append_escaped(out, pos->epoch.p, pos->epoch.n) || APP("\"");
    if (!rc && pos->recovered > 0)
        rc = APP(",\"recovered\":true");
    else if (!rc && pos->recovered == 0)
        rc = APP(",\"recovered\":false");
    if (!rc && pos->recovered >= 0 && pos->missed >= 0)
        rc = APP(",\"missed\":") || buf_append_i64(out, (long long)pos->missed);
    return rc ? -1 : 0;
}

int
cj_render_welcome_at(buf_t *out, const char *user, const char *session, const cj_pos_t *pos)
{
    return (APP("{\"type\":\"welcome\",\"user\":\"") || buf_appends(out, user)
            || APP("\",\"session\":\"") || buf_appends(out, session) || APP("\"")
            || cj_append_pos(out, pos) || APP("}")) ? -1 : 0;
}

int
cj_render_welcome(buf_t *out, const char *user, const char *session)
{
    return cj_render_welcome_at(out, user, session, NULL);
}

int
cj_render_ack_at(buf_t *out, cj_str_t id, const char *mid, const char *status,
                 const cj_pos_t *pos)
{
    int rc = APP("{\"type\":\"ack\"") || s_append_id(out, id);
    if (!rc && mid)
        rc = APP(",\"mid\":\"") || buf_appends(out, mid) || APP("\"");
    if (!rc)
        rc = APP(",\"status\":\"") || buf_appends(out, status) || APP("\"")
             || cj_append_pos(out, pos);
    if (!rc && pos && pos->stored)
        rc = APP(",\"stored\":true");
    if (!rc)
        rc = APP("}");
    return rc ? -1 : 0;
}

int
cj_render_ack(buf_t *out, cj_str_t id, const char *mid, const char *status)
{
    return cj_render_ack_at(out, id, mid, status, NULL);
}

int
cj_render_error(buf_t *out, cj_code_t code, const char *reason, cj_str_t id)
{
    return (APP("{\"type\":\"error\",\"code\":\"") || buf_appends(out, cj_code_name(code))
            || APP("\",\"reason\":\"") || s_append_escaped(out, reason, strlen(reason))
            || APP("\"") || s_append_id(out, id) || APP("}")) ? -1 : 0;
}

int
cj_render_message(buf_t *out, const char *kind, cj_str_t sender, cj_str_t target,
                  cj_str_t msg, cj_str_t mid, int64_t time_ms)
{
    return cj_render_message_at(out, kind, sender, target, msg, mid, time_ms, NULL);
}

int
cj_render_message_at(buf_t *out, const char *kind, cj_str_t sender, cj_str_t target,
                     cj_str_t msg, cj_str_t mid, int64_t time_ms, const cj_pos_t *pos)
{
    char ts[CLOCK_RFC3339_LEN];
    size_t tn = clock_rfc3339(time_ms, ts);
    int rc = APP("{\"type\":\"") || buf_appends(out, kind)
             || APP("\",\"sender\":\"") || APPN(sender.p, sender.n) || APP("\"");
    if (!rc && kind[0] == 'c')
        rc = APP(",\"receiver\":\"") || APPN(target.p, target.n) || APP("\"");
    else if (!rc && kind[0] == 'g')
        rc = APP(",\"group\":\"") || APPN(target.p, target.n) || APP("\"");
    if (!rc)
        rc = APP(",\"msg\":") || APPN(msg.p, msg.n)
             || APP(",\"mid\":\"") || APPN(mid.p, mid.n)
             || APP("\",\"createTime\":\"") || APPN(ts, tn) || APP("\"")
             || cj_append_pos(out, pos) || APP("}");
    return rc ? -1 : 0;
}

int
cj_render_presence(buf_t *out, const cj_str_t *users, const uint8_t *online, size_t n,
                   cj_str_t id)
{
    int rc = APP("{\"type\":\"presence\",\"online\":{");
    for (size_t i = 0; !rc && i < n; i++)
        rc = (i && APP(",")) || APP("\"") || APPN(users[i].p, users[i].n)
             || (online[i] ? APP("\":true") : APP("\":false"));
    if (!rc)
        rc = APP("}") || s_append_id(out, id) || APP("}");
    return rc ? -1 : 0;
}
