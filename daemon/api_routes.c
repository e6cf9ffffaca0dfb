/* api_routes — what each API path does (zwsd-protocol(7) "Backend push
 * (HTTP)"): POST /api/v1/send, GET /api/v1/online, GET /api/v1/presence,
 * /healthz and /metrics, and the completions that answer a request parked
 * in AC_WAIT once the broker has spoken (api_push_done() etc., api.h).
 *
 * Private to the API module (api_int.h): api.c hands over each complete,
 * authorized request; this file validates its body or query, asks the
 * worker through the callbacks it registered (api_events_t) and answers with api_respond() or
 * api_error(). It reads and writes no socket. Response bodies are built in
 * the listener's one scratch buffer (api->body): each is queued before the
 * next is rendered. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_routes.h"

#include "api_http.h"
#include "client_json.h"
#include "jscan.h"
#include "log.h"
#include "metrics.h"
#include "valid.h"

/* ---- responses ------------------------------------------------------- */

static void
s_json(ac_t *c, int status, const char *extra, const buf_t *b)
{
    api_respond(c, status, "application/json", extra, b->data, b->len);
}

/* The broker did not take the request, or did not answer it in time. */
static void
s_unavailable(ac_t *c)
{
    api_error(c, 503, "unavailable", "the broker cannot be reached", NULL);
}

/* ---- routes ---------------------------------------------------------- */

/* A name member (receiver, group, sender) decoded into out (room for
 * VALID_NAME_MAX + 1): 0 when it is a valid name, else -1. */
static int
s_name(js_span_t v, char *out)
{
    ssize_t n = v.type == JS_STRING ? js_string(v, out, VALID_NAME_MAX) : -1;
    if (n < 0 || !valid_name(out, (size_t)n))
        return -1;
    out[n] = '\0';
    return 0;
}

/* POST /api/v1/send: {"msg":…, one of "receiver"/"group"/"broadcast":true,
 * "sender"?}. msg is forwarded exactly as the backend wrote it (the span of
 * its text in the body: numbers, spacing and escapes untouched), so it is
 * never bigger than it came. A key given twice counts once, the last (as in
 * jansson). Group and broadcast are answered once handed to the broker; a
 * push to a user waits for its real outcome (api_push_done). */
static void
s_send(ac_t *c)
{
    enum { F_MSG, F_RECEIVER, F_GROUP, F_BROADCAST, F_SENDER, F_COUNT };
    js_field_t f[F_COUNT] = {
        [F_MSG] = { .name = "msg" }, [F_RECEIVER] = { .name = "receiver" },
        [F_GROUP] = { .name = "group" }, [F_BROADCAST] = { .name = "broadcast" },
        [F_SENDER] = { .name = "sender" },
    };
    char target[VALID_NAME_MAX + 1], sender[VALID_NAME_MAX + 1];
    const char *why = NULL, *tp = NULL;
    env_kind_t kind = ENV_NONE;
    int targets = 0;
    js_type_t top = js_fields(c->body.data ? c->body.data : "", c->body.len, f, F_COUNT);
    if (top == JS_INVALID) {
        api_error(c, 400, "bad_json", "the body is not valid JSON", NULL);
        return;
    }
    if (top != JS_OBJECT) {
        why = "the body must be a JSON object";
        goto bad;
    }
    if (f[F_MSG].val.type == JS_INVALID) {
        why = "msg is required";
        goto bad;
    }
    if (f[F_RECEIVER].val.type != JS_INVALID) {
        if (s_name(f[F_RECEIVER].val, target) < 0) {
            why = "receiver must be a valid userId";
            goto bad;
        }
        kind = ENV_CHAT;
        tp = target;
        targets++;
    }
    if (f[F_GROUP].val.type != JS_INVALID) {
        if (s_name(f[F_GROUP].val, target) < 0) {
            why = "group must be a valid group name";
            goto bad;
        }
        kind = ENV_GROUP;
        tp = target;
        targets++;
    }
    js_type_t b = f[F_BROADCAST].val.type;
    if (b != JS_INVALID && b != JS_TRUE && b != JS_FALSE) {
        why = "broadcast must be true or false";
        goto bad;
    }
    if (b == JS_TRUE) {
        kind = ENV_BCAST;
        tp = NULL;
        targets++;
    }
    if (targets != 1) {
        why = "give exactly one of receiver, group, broadcast (true)";
        goto bad;
    }
    if (f[F_SENDER].val.type != JS_INVALID && s_name(f[F_SENDER].val, sender) < 0) {
        why = "sender must be a valid userId";
        goto bad;
    }
    const char *sp = f[F_SENDER].val.type != JS_INVALID ? sender : NULL;
    char mid[40];
    if (c->api->ev.push(c->api->ev.arg, kind, tp, sp, f[F_MSG].val.p, f[F_MSG].val.n, mid, c->io.fd, c->io.gen) < 0) {
        s_unavailable(c);
        return;
    }
    if (kind == ENV_CHAT) {
        c->state = AC_WAIT;
        c->wait = WAIT_PUSH;
        return;
    }
    buf_t *out = &c->api->body;
    out->len = 0;
    if (buf_appendf(out, "{\"mid\":\"%s\",\"status\":\"sent\"}", mid) < 0)
        api_drop(c);
    else
        s_json(c, 200, NULL, out);
    return;
bad:
    api_error(c, 400, "bad_request", why, NULL);
}

static void
s_online(ac_t *c)
{
    if (c->api->ev.query(c->api->ev.arg, ENV_ONLINE, NULL, 0, c->io.fd, c->io.gen) < 0) {
        s_unavailable(c);
        return;
    }
    c->state = AC_WAIT;
    c->wait = WAIT_ONLINE;
}

/* hh_unescape() with the reason a refusal gives, or NULL. */
static const char *
s_pct_decode(const char *v, size_t n, char *out, size_t *on)
{
    switch (hh_unescape(v, n, out, on)) {
    case 0:  return NULL;
    case -2: return "a parameter must not contain %00 (NUL)";
    default: return "bad percent escape (want %XY, two hex digits)";
    }
}

/* GET /api/v1/presence?users=a,b: 1-100 valid names (percent-decoded, as a
 * client library may encode '@' or ','); repeated names are asked once. A
 * bad escape, a decoded NUL or an invalid name is 400 naming the problem. */
static void
s_presence(ac_t *c, const char *q, size_t qn)
{
    char buf[API_HEAD_MAX + 1];
    const char *users[ENV_USERS_MAX];
    size_t n = 0, dn = 0;
    size_t vn = 0;
    const char *val = hh_param(q, qn, "users=", &vn);
    if (!val) {
        api_error(c, 400, "bad_request", "users is required", NULL);
        return;
    }
    const char *why = vn < sizeof buf ? s_pct_decode(val, vn, buf, &dn) : "users is too long";
    if (why) {
        api_error(c, 400, "bad_request", why, NULL);
        return;
    }
    /* buf[0..dn) holds no NUL: names are cut at commas by length, and each
     * is NUL-terminated in place of its comma (or just past the end) */
    buf[dn] = '\0';
    for (size_t s0 = 0;;) {
        const char *comma = memchr(buf + s0, ',', dn - s0);
        size_t sn = comma ? (size_t)(comma - (buf + s0)) : dn - s0;
        char *name = buf + s0;
        name[sn] = '\0';
        if (!valid_name(name, sn)) {
            api_error(c, 400, "bad_request",
                      "users must be 1-100 valid userIds, comma-separated", NULL);
            return;
        }
        int dup = 0;
        for (size_t i = 0; i < n && !dup; i++)
            dup = strcmp(users[i], name) == 0;
        if (!dup) {
            if (n == ENV_USERS_MAX) {
                api_error(c, 400, "bad_request", "at most 100 users", NULL);
                return;
            }
            users[n++] = name;
        }
        if (!comma)
            break;
        s0 += sn + 1;
    }
    if (c->api->ev.query(c->api->ev.arg, ENV_PRESENCE, users, n, c->io.fd, c->io.gen) < 0) {
        s_unavailable(c);
        return;
    }
    c->state = AC_WAIT;
    c->wait = WAIT_PRESENCE;
}

static void
s_healthz(ac_t *c)
{
    if (c->api->ev.bus_up(c->api->ev.arg))
        api_respond(c, 200, "text/plain", NULL, "ok", 2);
    else
        api_respond(c, 503, "text/plain", NULL, "unavailable", 11);
}

/* GET /metrics: the whole host's counters, rendered by metrics.c. */
static void
s_metrics(ac_t *c)
{
    buf_t *b = &c->api->body;
    b->len = 0;
    if (metrics_render(b, c->api->ev.bus_up(c->api->ev.arg) ? 1 : 0) < 0) {
        log_warnx("api: out of memory rendering /metrics");
        api_error(c, 503, "unavailable", "out of memory", NULL);
        return;
    }
    api_respond(c, 200, "text/plain; version=0.0.4", NULL, b->data, b->len);
}

/* GET /api/v1/history?user=U[&since=EPOCH:SEQ]: the messages of U's
 * stream (after since, else all it holds), as the frames a resuming client
 * gets, with the stream's position: zwsd-protocol(7) "Backend push (HTTP)". */
static void
s_history(ac_t *c, const char *q, size_t qn)
{
    char since[96];
    size_t un = 0, sn = 0, vn = 0;
    const char *v = hh_param(q, qn, "user=", &vn), *why = NULL;
    if (!v || vn > VALID_NAME_MAX * 3 || (why = s_pct_decode(v, vn, since, &un))
        || un > VALID_NAME_MAX || !valid_name(since, un)) {
        api_error(c, 400, "bad_request", why ? why : "user must be a valid userId", NULL);
        return;
    }
    memcpy(c->hist_user, since, un);
    c->hist_user[un] = '\0';
    const char *ep;
    size_t el;
    uint64_t seq;
    v = hh_param(q, qn, "since=", &vn);
    if (v && (vn >= sizeof since || s_pct_decode(v, vn, since, &sn)
              || !valid_since(since, sn, &ep, &el, &seq))) {
        api_error(c, 400, "bad_request", "since must be EPOCH:SEQ", NULL);
        return;
    }
    since[sn] = '\0';
    /* no since: everything held, asked as "after 0 of an epoch that is
     * nobody's"; the answer's recovered/missed then say nothing, and go */
    c->hist_all = !v;
    if (c->api->ev.history(c->api->ev.arg, c->hist_user, v ? since : "-:0", c->io.fd,
                           c->io.gen) < 0) {
        s_unavailable(c);
        return;
    }
    c->body.len = 0;                    /* the frames gather here */
    c->state = AC_WAIT;
    c->wait = WAIT_HISTORY;
}

/* ---- the route table ------------------------------------------------- */

void
api_route(ac_t *c, const char *path, size_t plen, const char *query, size_t qlen)
{
    static const struct {
        const char *path;
        int method;
    } routes[] = {
        { "/api/v1/send", HTTP_POST }, { "/api/v1/online", HTTP_GET },
        { "/api/v1/presence", HTTP_GET }, { "/healthz", HTTP_GET }, { "/metrics", HTTP_GET },
        { "/api/v1/history", HTTP_GET },
    };
    size_t r = 0, nroutes = sizeof routes / sizeof *routes;
    while (r < nroutes && !(strlen(routes[r].path) == plen && !memcmp(routes[r].path, path, plen)))
        r++;
    if (r == nroutes) {
        api_error(c, 404, "not_found", "no such path", NULL);
        return;
    }
    if ((int)c->parser.method != routes[r].method) {
        api_error(c, 405, "method_not_allowed", "method not allowed on this path",
                  routes[r].method == HTTP_POST ? "Allow: POST\r\n" : "Allow: GET\r\n");
        return;
    }
    switch (r) {
    case 0: s_send(c); break;
    case 1: s_online(c); break;
    case 2: s_presence(c, query, qlen); break;
    case 3: s_healthz(c); break;
    case 4: s_metrics(c); break;
    default: s_history(c, query, qlen); break;
    }
}

/* ---- completions ----------------------------------------------------- */

void
api_routes_push_done(ac_t *c, const char *mid, const char *status)
{
    if (!mid || !status || strcmp(status, "unavailable") == 0 || strlen(mid) >= 40) {
        s_unavailable(c);
        return;
    }
    buf_t *b = &c->api->body;
    b->len = 0;
    /* "stored": offline, and kept in the receiver's stream */
    if (buf_appendf(b, "{\"mid\":\"%s\",\"status\":\"%s\"%s}", mid,
                    strcmp(status, "delivered") == 0 ? "delivered" : "offline",
                    strcmp(status, "stored") == 0 ? ",\"stored\":true" : "") < 0)
        api_drop(c);
    else
        s_json(c, 200, NULL, b);
}

void
api_routes_online_done(ac_t *c, int64_t users, int64_t sessions)
{
    if (users < 0 || sessions < 0) {
        s_unavailable(c);
        return;
    }
    char body[96];
    int n = snprintf(body, sizeof body, "{\"users\":%lld,\"sessions\":%lld}", (long long)users,
                     (long long)sessions);
    api_respond(c, 200, "application/json", NULL, body, (size_t)n);
}

void
api_routes_presence_done(ac_t *c, const env_t *e)
{
    if (!e || e->online_n != e->users_n) {
        s_unavailable(c);
        return;
    }
    buf_t *b = &c->api->body;
    b->len = 0;
    int rc = buf_appends(b, "{\"online\":{");
    for (uint32_t i = 0; rc == 0 && i < e->users_n; i++) {
        /* names were validated when asked; a broker answering otherwise
         * would need escaping, so such an answer is refused */
        if (!e->users[i].p || !valid_name(e->users[i].p, e->users[i].n)) {
            s_unavailable(c);
            return;
        }
        rc = buf_appendf(b, "%s\"%.*s\":%s", i ? "," : "", (int)e->users[i].n, e->users[i].p,
                         e->online[i] ? "true" : "false");
    }
    if (rc < 0 || buf_appends(b, "}}") < 0)
        api_drop(c);
    else
        s_json(c, 200, NULL, b);
}

void
api_routes_history_item(ac_t *c, const char *frame, size_t n)
{
    if ((c->body.len > 0 && buf_append(&c->body, ",", 1) < 0)
        || buf_append(&c->body, frame, n) < 0)
        api_drop(c);
}

void
api_routes_history_done(ac_t *c, const env_t *e)
{
    c->state = AC_READ;                 /* api_respond moves on from here */
    c->resume = 1;
    if (!e || !e->epoch.p || !e->status.p || e->status.n != 4 || memcmp(e->status.p, "done", 4)) {
        s_unavailable(c);
        return;
    }
    buf_t *b = &c->api->body;
    b->len = 0;
    cj_pos_t pos = { e->seq, { e->epoch.p, e->epoch.n },
                     c->hist_all ? -1 : e->recovered, c->hist_all ? -1 : e->missed, 0 };
    /* {"user":U,"seq":..,"epoch":..,"recovered":..,"missed":..,"messages":[frames]} */
    if (buf_appendf(b, "{\"user\":\"%s\"", c->hist_user) < 0 || cj_append_pos(b, &pos) < 0
        || buf_appends(b, ",\"messages\":[") < 0 || buf_append(b, c->body.data, c->body.len) < 0
        || buf_appends(b, "]}") < 0) {
        api_drop(c);
        return;
    }
    c->body.len = 0;
    s_json(c, 200, NULL, b);
}
