/* api_routes — what each API path does (zwsd-protocol(7) "Backend push
 * (HTTP)"): POST /api/v1/send, GET /api/v1/online, GET /api/v1/presence,
 * /healthz and /metrics, and the completions that answer a request parked
 * in AC_WAIT once the broker has spoken (api_push_done() etc., api.h).
 *
 * Private to the API module (api_int.h): api.c hands over each complete,
 * authorized request; this file validates its body or query, asks the
 * worker (handle_push(), handle_query()) and answers with api_respond() or
 * api_error(). It reads and writes no socket. Response bodies are built in
 * the listener's one scratch buffer (api->body): each is queued before the
 * next is rendered. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_int.h"
#include "bus.h"
#include "handlers.h"
#include "log.h"
#include "metrics.h"
#include "valid.h"

/* ---- responses ------------------------------------------------------- */

static void
s_json(worker_t *w, ac_t *c, int status, const char *extra, const buf_t *b)
{
    api_respond(w, c, status, "application/json", extra, b->data, b->len);
}

/* The broker did not take the request, or did not answer it in time. */
static void
s_unavailable(worker_t *w, ac_t *c)
{
    api_error(w, c, 503, "unavailable", "the broker cannot be reached", NULL);
}

/* ---- routes ---------------------------------------------------------- */

/* POST /api/v1/send: {"msg":…, one of "receiver"/"group"/"broadcast":true,
 * "sender"?}. Group and broadcast are answered once handed to the broker;
 * a push to a user waits for its real outcome (api_push_done). */
static void
s_send(worker_t *w, ac_t *c)
{
    json_error_t err;
    json_t *root = json_loadb(c->body.data ? c->body.data : "", c->body.len,
                              JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
    if (!root) {
        api_error(w, c, 400, "bad_json", "the body is not valid JSON", NULL);
        return;
    }
    const char *why = NULL, *target = NULL, *sender = NULL;
    json_t *msg = NULL;
    env_kind_t kind = ENV_NONE;
    int targets = 0;
    if (!json_is_object(root)) {
        why = "the body must be a JSON object";
        goto bad;
    }
    if (!(msg = json_object_get(root, "msg"))) {
        why = "msg is required";
        goto bad;
    }
    json_t *v;
    if ((v = json_object_get(root, "receiver"))) {
        target = json_string_value(v);
        if (!target || !valid_name(target, json_string_length(v))) {
            why = "receiver must be a valid userId";
            goto bad;
        }
        kind = ENV_CHAT;
        targets++;
    }
    if ((v = json_object_get(root, "group"))) {
        target = json_string_value(v);
        if (!target || !valid_name(target, json_string_length(v))) {
            why = "group must be a valid group name";
            goto bad;
        }
        kind = ENV_GROUP;
        targets++;
    }
    if ((v = json_object_get(root, "broadcast"))) {
        if (!json_is_boolean(v)) {
            why = "broadcast must be true or false";
            goto bad;
        }
        if (json_is_true(v)) {
            kind = ENV_BCAST;
            target = NULL;
            targets++;
        }
    }
    if (targets != 1) {
        why = "give exactly one of receiver, group, broadcast (true)";
        goto bad;
    }
    if ((v = json_object_get(root, "sender"))) {
        sender = json_string_value(v);
        if (!sender || !valid_name(sender, json_string_length(v))) {
            why = "sender must be a valid userId";
            goto bad;
        }
    }
    char *text = json_dumps(msg, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!text) {
        json_decref(root);
        log_warnx("api: out of memory serializing a message");
        api_error(w, c, 503, "unavailable", "out of memory", NULL);
        return;
    }
    char mid[40];
    int rc = handle_push(w, kind, target, sender, text, strlen(text), mid, c->fd, c->gen);
    free(text);
    json_decref(root);
    if (rc < 0) {
        s_unavailable(w, c);
        return;
    }
    if (kind == ENV_CHAT) {
        c->state = AC_WAIT;
        c->wait = WAIT_PUSH;
        return;
    }
    buf_t *b = &c->api->body;
    b->len = 0;
    if (buf_appendf(b, "{\"mid\":\"%s\",\"status\":\"sent\"}", mid) < 0)
        api_drop(c);
    else
        s_json(w, c, 200, NULL, b);
    return;
bad:
    json_decref(root);
    api_error(w, c, 400, "bad_request", why, NULL);
}

static void
s_online(worker_t *w, ac_t *c)
{
    if (handle_query(w, ENV_ONLINE, NULL, 0, c->fd, c->gen) < 0) {
        s_unavailable(w, c);
        return;
    }
    c->state = AC_WAIT;
    c->wait = WAIT_ONLINE;
}

static int
s_hex(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* GET /api/v1/presence?users=a,b: 1-100 valid names (percent-decoded, as a
 * client library may encode '@'); repeated names are asked once. */
static void
s_presence(worker_t *w, ac_t *c, const char *q, size_t qn)
{
    char dec[API_HEAD_MAX + 1];
    const char *users[ENV_USERS_MAX];
    size_t n = 0, dn = 0;
    const char *val = NULL;
    size_t vn = 0;
    while (q && qn > 0) {
        const char *amp = memchr(q, '&', qn);
        size_t pn = amp ? (size_t)(amp - q) : qn;
        if (pn >= 6 && memcmp(q, "users=", 6) == 0) {
            val = q + 6;
            vn = pn - 6;
            break;
        }
        if (!amp)
            break;
        q += pn + 1;
        qn -= pn + 1;
    }
    if (!val) {
        api_error(w, c, 400, "bad_request", "users is required", NULL);
        return;
    }
    for (size_t i = 0; i < vn; i++) {
        int h = i + 2 < vn && val[i] == '%' ? s_hex(val[i + 1]) : -1;
        int l = h >= 0 ? s_hex(val[i + 2]) : -1;
        if (l >= 0) {
            dec[dn++] = (char)(h << 4 | l);
            i += 2;
        } else {
            dec[dn++] = val[i];
        }
    }
    dec[dn] = '\0';
    char *s = dec;
    for (;;) {
        char *comma = strchr(s, ',');
        if (comma)
            *comma = '\0';
        size_t sn = strlen(s);
        if (!valid_name(s, sn)) {
            api_error(w, c, 400, "bad_request",
                      "users must be 1-100 valid userIds, comma-separated", NULL);
            return;
        }
        int dup = 0;
        for (size_t i = 0; i < n && !dup; i++)
            dup = strcmp(users[i], s) == 0;
        if (!dup) {
            if (n == ENV_USERS_MAX) {
                api_error(w, c, 400, "bad_request", "at most 100 users", NULL);
                return;
            }
            users[n++] = s;
        }
        if (!comma)
            break;
        s = comma + 1;
    }
    if (handle_query(w, ENV_PRESENCE, users, n, c->fd, c->gen) < 0) {
        s_unavailable(w, c);
        return;
    }
    c->state = AC_WAIT;
    c->wait = WAIT_PRESENCE;
}

static void
s_healthz(worker_t *w, ac_t *c)
{
    if (bus_up(w->bus))
        api_respond(w, c, 200, "text/plain", NULL, "ok", 2);
    else
        api_respond(w, c, 503, "text/plain", NULL, "unavailable", 11);
}

/* GET /metrics: the whole host's counters, rendered by metrics.c. */
static void
s_metrics(worker_t *w, ac_t *c)
{
    buf_t *b = &c->api->body;
    b->len = 0;
    if (metrics_render(b, bus_up(w->bus) ? 1 : 0) < 0) {
        log_warnx("api: out of memory rendering /metrics");
        api_error(w, c, 503, "unavailable", "out of memory", NULL);
        return;
    }
    api_respond(w, c, 200, "text/plain; version=0.0.4", NULL, b->data, b->len);
}

/* ---- the route table ------------------------------------------------- */

void
api_route(worker_t *w, ac_t *c, const char *path, size_t plen, const char *query, size_t qlen)
{
    static const struct {
        const char *path;
        int method;
    } routes[] = {
        { "/api/v1/send", HTTP_POST }, { "/api/v1/online", HTTP_GET },
        { "/api/v1/presence", HTTP_GET }, { "/healthz", HTTP_GET }, { "/metrics", HTTP_GET },
    };
    size_t r = 0, nroutes = sizeof routes / sizeof *routes;
    while (r < nroutes && !(strlen(routes[r].path) == plen && !memcmp(routes[r].path, path, plen)))
        r++;
    if (r == nroutes) {
        api_error(w, c, 404, "not_found", "no such path", NULL);
        return;
    }
    if ((int)c->parser.method != routes[r].method) {
        api_error(w, c, 405, "method_not_allowed", "method not allowed on this path",
                  routes[r].method == HTTP_POST ? "Allow: POST\r\n" : "Allow: GET\r\n");
        return;
    }
    switch (r) {
    case 0: s_send(w, c); break;
    case 1: s_online(w, c); break;
    case 2: s_presence(w, c, query, qlen); break;
    case 3: s_healthz(w, c); break;
    default: s_metrics(w, c); break;
    }
}

/* ---- completions ----------------------------------------------------- */

/* The conn waiting for this completion, or NULL (gone, or fd reused). */
static ac_t *
s_waiting(worker_t *w, int fd, uint32_t gen, ac_wait_t kind)
{
    api_t *a = w->api;
    ac_t *c = a && fd >= 0 && fd < a->cap ? a->conns[fd] : NULL;
    if (!c || c->gen != gen || c->state != AC_WAIT || c->wait != kind)
        return NULL;
    c->state = AC_READ;                 /* api_respond moves on from here */
    c->resume = 1;
    return c;
}

void
api_push_done(worker_t *w, int fd, uint32_t gen, const char *mid, const char *status)
{
    ac_t *c = s_waiting(w, fd, gen, WAIT_PUSH);
    if (!c)
        return;
    if (!mid || !status || strcmp(status, "unavailable") == 0 || strlen(mid) >= 40) {
        s_unavailable(w, c);
        return;
    }
    buf_t *b = &c->api->body;
    b->len = 0;
    if (buf_appendf(b, "{\"mid\":\"%s\",\"status\":\"%s\"}", mid,
                    strcmp(status, "delivered") == 0 ? "delivered" : "offline") < 0)
        api_drop(c);
    else
        s_json(w, c, 200, NULL, b);
}

void
api_online_done(worker_t *w, int fd, uint32_t gen, int64_t users, int64_t sessions)
{
    ac_t *c = s_waiting(w, fd, gen, WAIT_ONLINE);
    if (!c)
        return;
    if (users < 0 || sessions < 0) {
        s_unavailable(w, c);
        return;
    }
    char body[96];
    int n = snprintf(body, sizeof body, "{\"users\":%lld,\"sessions\":%lld}", (long long)users,
                     (long long)sessions);
    api_respond(w, c, 200, "application/json", NULL, body, (size_t)n);
}

void
api_presence_done(worker_t *w, int fd, uint32_t gen, const env_t *e)
{
    ac_t *c = s_waiting(w, fd, gen, WAIT_PRESENCE);
    if (!c)
        return;
    if (!e || e->online_n != e->users_n) {
        s_unavailable(w, c);
        return;
    }
    buf_t *b = &c->api->body;
    b->len = 0;
    int rc = buf_appends(b, "{\"online\":{");
    for (uint32_t i = 0; rc == 0 && i < e->users_n; i++) {
        /* names were validated when asked; a broker answering otherwise
         * would need escaping, so such an answer is refused */
        if (!e->users[i].p || !valid_name(e->users[i].p, e->users[i].n)) {
            s_unavailable(w, c);
            return;
        }
        rc = buf_appendf(b, "%s\"%.*s\":%s", i ? "," : "", (int)e->users[i].n, e->users[i].p,
                         e->online[i] ? "true" : "false");
    }
    if (rc < 0 || buf_appends(b, "}}") < 0)
        api_drop(c);
    else
        s_json(w, c, 200, NULL, b);
}
