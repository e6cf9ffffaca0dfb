/* client_json — see client_json.h. Parsing uses jansson; rendering is plain
 * concatenation because every server frame is a fixed shape whose variable
 * parts are either validated names or JSON text already. */
#include "client_json.h"

#include <string.h>

#include "clock.h"
#include "valid.h"

static const char *s_codes[CJ_CODE_COUNT] = {
    [CJ_OK] = "ok", [CJ_BAD_JSON] = "bad_json", [CJ_BAD_REQUEST] = "bad_request",
    [CJ_UNKNOWN_TYPE] = "unknown_type", [CJ_NOT_MEMBER] = "not_member",
    [CJ_FORBIDDEN] = "forbidden", [CJ_TOO_MANY] = "too_many",
    [CJ_RATE_LIMITED] = "rate_limited", [CJ_UNSUPPORTED] = "unsupported",
    [CJ_UNAVAILABLE] = "unavailable",
};

const char *
cj_code_name(cj_code_t code)
{
    return (unsigned)code < CJ_CODE_COUNT ? s_codes[code] : "internal";
}

void
cj_frame_clear(cj_frame_t *f)
{
    json_decref(f->root);
    free(f->msg);
    memset(f, 0, offsetof(cj_frame_t, users));
    f->root = NULL;
}

/* A field that must be a valid name (userId or group); NULL when it is not. */
static int
s_name_field(json_t *root, const char *key, cj_str_t *out)
{
    json_t *v = json_object_get(root, key);
    if (!json_is_string(v))
        return -1;
    out->p = json_string_value(v);
    out->n = json_string_length(v);
    return valid_name(out->p, out->n) ? 0 : -1;
}

static cj_code_t
s_take_msg(json_t *root, cj_frame_t *f)
{
    json_t *msg = json_object_get(root, "msg");
    if (!msg)
        return CJ_BAD_REQUEST;
    f->msg = json_dumps(msg, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!f->msg)
        return CJ_BAD_REQUEST;
    f->msg_len = strlen(f->msg);
    return CJ_OK;
}

cj_code_t
cj_parse(const char *text, size_t len, cj_frame_t *f)
{
    json_error_t err;
    memset(f, 0, offsetof(cj_frame_t, users));
    f->root = json_loadb(text, len, JSON_ALLOW_NUL | JSON_DECODE_ANY, &err);
    if (!f->root)
        return CJ_BAD_JSON;
    if (!json_is_object(f->root))
        return CJ_BAD_REQUEST;

    json_t *id = json_object_get(f->root, "id");
    if (id) {
        if (!json_is_string(id)
            || !valid_id(json_string_value(id), json_string_length(id)))
            return CJ_BAD_REQUEST;
        f->id.p = json_string_value(id);
        f->id.n = json_string_length(id);
    }

    json_t *type = json_object_get(f->root, "type");
    const char *t;
    if (!type) {
        if (!json_object_get(f->root, "receiver"))
            return CJ_BAD_REQUEST;
        t = "chat";
    } else if (!json_is_string(type)) {
        return CJ_BAD_REQUEST;
    } else {
        t = json_string_value(type);
        if (strlen(t) != json_string_length(type))
            return CJ_UNKNOWN_TYPE;         /* "chat\u0000x" is not "chat" */
    }

    if (!strcmp(t, "chat")) {
        f->type = CJ_CHAT;
        if (s_name_field(f->root, "receiver", &f->target))
            return CJ_BAD_REQUEST;
        return s_take_msg(f->root, f);
    }
    if (!strcmp(t, "join") || !strcmp(t, "leave")) {
        f->type = t[0] == 'j' ? CJ_JOIN : CJ_LEAVE;
        return s_name_field(f->root, "group", &f->target) ? CJ_BAD_REQUEST : CJ_OK;
    }
    if (!strcmp(t, "group")) {
        f->type = CJ_GROUP;
        if (s_name_field(f->root, "group", &f->target))
            return CJ_BAD_REQUEST;
        return s_take_msg(f->root, f);
    }
    if (!strcmp(t, "broadcast")) {
        f->type = CJ_BROADCAST;
        return s_take_msg(f->root, f);
    }
    if (!strcmp(t, "presence")) {
        f->type = CJ_PRESENCE;
        json_t *users = json_object_get(f->root, "users");
        if (!json_is_array(users) || json_array_size(users) == 0)
            return CJ_BAD_REQUEST;
        if (json_array_size(users) > CJ_PRESENCE_MAX)
            return CJ_TOO_MANY;
        for (size_t i = 0; i < json_array_size(users); i++) {
            json_t *u = json_array_get(users, i);
            if (!json_is_string(u)
                || !valid_name(json_string_value(u), json_string_length(u)))
                return CJ_BAD_REQUEST;
            cj_str_t name = { json_string_value(u), json_string_length(u) };
            size_t j;
            for (j = 0; j < f->nusers; j++)         /* one answer per user */
                if (f->users[j].n == name.n && !memcmp(f->users[j].p, name.p, name.n))
                    break;
            if (j == f->nusers)
                f->users[f->nusers++] = name;
        }
        return CJ_OK;
    }
    return CJ_UNKNOWN_TYPE;
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

int
cj_render_welcome(buf_t *out, const char *user, const char *session)
{
    return (APP("{\"type\":\"welcome\",\"user\":\"") || buf_appends(out, user)
            || APP("\",\"session\":\"") || buf_appends(out, session) || APP("\"}")) ? -1 : 0;
}

int
cj_render_ack(buf_t *out, cj_str_t id, const char *mid, const char *status)
{
    int rc = APP("{\"type\":\"ack\"") || s_append_id(out, id);
    if (!rc && mid)
        rc = APP(",\"mid\":\"") || buf_appends(out, mid) || APP("\"");
    if (!rc)
        rc = APP(",\"status\":\"") || buf_appends(out, status) || APP("\"}");
    return rc ? -1 : 0;
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
             || APP("\",\"createTime\":\"") || APPN(ts, tn) || APP("\"}");
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
