/* api — the connection side of the HTTP API listener (api.h): accepting,
 * reading, the API key file, timers, writing responses and freeing
 * connections. Parsing the requests out of the input is api_http.c's;
 * what each path does, and the completions, are api_routes.c's; the three
 * share api_int.h.
 *
 * Input: every byte read from an API connection goes into its own buffer
 * (c->in), and api_http_feed() parses it from there. The parser stops at
 * the end of each request: the request is answered (or handed to the
 * broker), and only then are the bytes behind it parsed, so pipelined
 * requests are answered strictly in order. While a request waits for a
 * completion, or while a client does not read its responses, nothing more
 * is read from the socket: the kernel's buffers push back.
 *
 * Output: responses are appended to c->out and written once per loop turn
 * in api_flush(). A response that ends the connection (Connection: close,
 * a malformed request, 413, a 401 refused before its body) is followed by
 * a lingering close: our side is shut down and input is discarded until
 * EOF or 2 s, so the client reads the response instead of a reset caused
 * by its unread request bytes.
 *
 * Memory: an idle keep-alive connection holds its ac_t and buffers of at
 * most 4 KiB; bigger ones are freed as soon as they are empty.
 *
 * Stop and rotation (w->stopping, w->draining): idle keep-alive connections
 * are closed at once and every later answer carries Connection: close. */
#include "api.h"

#include <errno.h>
#include <http_parser.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api_http.h"
#include "api_int.h"
#include "log.h"

#define S_KEY_MAX    4096           /* longest API key file accepted */
#define S_READ_MIN   4096           /* free room offered to each recv() */
#define S_OUT_HIGH   (256 * 1024)   /* stop parsing while this much is unwritten */
#define S_IDLE_MS    30000          /* between requests, or for one request to arrive */
#define S_LINGER_MS  2000           /* discarding input after the last response */
#define S_SERVICE_ROUNDS 4          /* parse/write rounds per conn and turn */

static uint32_t s_gen;

static void s_process(worker_t *w, ac_t *c);
static void s_read(worker_t *w, ac_t *c);

/* ---- small helpers --------------------------------------------------- */

static const char *
s_reason(int status)
{
    switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 413: return "Content Too Large";
    case 431: return "Request Header Fields Too Large";
    case 503: return "Service Unavailable";
    default:  return "Error";
    }
}

static void
s_set_timer(worker_t *w, ac_t *c, int tl)
{
    list_unlink(&c->tlink);
    c->tl = (uint8_t)tl;
    c->t_ms = w->now;
    list_push_tail(&c->api->timers[tl], &c->tlink);
}

static void
s_mark_dirty(ac_t *c)
{
    if (!c->dirty && c->state != AC_DEAD) {
        c->dirty = 1;
        list_push_tail(&c->api->dirty, &c->dlink);
    }
}

/* Ends the connection now; it is freed in api_reap(). */
void
api_drop(ac_t *c)
{
    if (c->state == AC_DEAD)
        return;
    c->state = AC_DEAD;
    list_unlink(&c->tlink);
    if (c->dirty)
        list_unlink(&c->dlink);
    c->dirty = 1;                       /* never re-marked */
    list_push_tail(&c->api->reap, &c->dlink);
}

static void
s_free_if_big(buf_t *b)
{
    if (b->len == 0 && b->cap > API_KEEP_BUF)
        buf_free(b);
}

/* ---- the API key ----------------------------------------------------- */

/* Reads the key from path: the file's bytes less one trailing newline
 * (LF or CRLF). 0, or -1 with errno set (EINVAL: empty or too long). */
static int
s_key_load(api_t *a, const char *path)
{
    char buf[S_KEY_MAX + 3];            /* the key, CRLF, and one byte too many */
    struct stat st;
    FILE *f = fopen(path, "re");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf, f);
    int bad = ferror(f) || fstat(fileno(f), &st) < 0;
    fclose(f);
    if (bad)
        return -1;
    if (n == sizeof buf) {
        errno = EINVAL;
        return -1;
    }
    if (n > 0 && buf[n - 1] == '\n')
        n--;
    if (n > 0 && buf[n - 1] == '\r')
        n--;
    if (n == 0 || n > S_KEY_MAX) {
        errno = EINVAL;
        return -1;
    }
    char *key = malloc(n);
    if (!key)
        return -1;
    memcpy(key, buf, n);
    OPENSSL_cleanse(buf, sizeof buf);
    if (a->key)
        OPENSSL_cleanse(a->key, a->key_len);
    free(a->key);
    a->key = key;
    a->key_len = n;
    a->key_st = st;
    snprintf(a->key_path, sizeof a->key_path, "%s", path);
    return 0;
}

static void
s_key_clear(api_t *a)
{
    if (a->key)
        OPENSSL_cleanse(a->key, a->key_len);
    free(a->key);
    a->key = NULL;
    a->key_len = 0;
    a->key_path[0] = '\0';
}

/* Once a second: pick up a new --api-key-file after SIGHUP, or a key file
 * that was rewritten. A file that cannot be read keeps the old key. */
static void
s_key_check(worker_t *w, api_t *a)
{
    if (w->now < a->key_check)
        return;
    a->key_check = w->now + 1000;
    const char *path = w->opt->api_key_file;
    if (!path[0]) {
        if (a->key) {
            log_info("api: key file no longer configured; API requests need no key");
            s_key_clear(a);
        }
        return;
    }
    struct stat st;
    int same = strcmp(path, a->key_path) == 0;
    if (same && stat(path, &st) == 0 && st.st_ino == a->key_st.st_ino
        && st.st_dev == a->key_st.st_dev && st.st_size == a->key_st.st_size
        && st.st_mtim.tv_sec == a->key_st.st_mtim.tv_sec
        && st.st_mtim.tv_nsec == a->key_st.st_mtim.tv_nsec)
        return;
    if (s_key_load(a, path) < 0) {
        if (!a->key_warned)
            log_warn("api: cannot read key file %s; keeping the current key", path);
        a->key_warned = 1;
        return;
    }
    a->key_warned = 0;
    log_info("api: key read from %s", path);
}

/* ---- responses ------------------------------------------------------- */

/* Forgets the request just answered. */
static void
s_req_reset(ac_t *c)
{
    api_http_reset(c);
    c->wait = WAIT_NONE;
    c->method = NULL;
    c->path[0] = '\0';
}

/* Queues the response to the current request and moves on: to the next
 * request, or to closing when the request asked for it (or was bad). */
void
api_respond(worker_t *w, ac_t *c, int status, const char *ctype, const char *extra,
            const char *body, size_t blen)
{
    if (c->state == AC_DEAD)
        return;
    int http10 = c->parser.http_major == 1 && c->parser.http_minor == 0;
    if (c->api->winding_down)
        c->keep = 0;                    /* backends reconnect, to a worker that stays */
    const char *conn = !c->keep ? "Connection: close\r\n"
                     : http10 ? "Connection: keep-alive\r\n" : "";
    if (buf_appendf(&c->out,
                    "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s%s\r\n",
                    status, s_reason(status), ctype, blen, extra ? extra : "", conn) < 0
        || (c->parser.method != HTTP_HEAD && buf_append(&c->out, body, blen) < 0)) {
        log_warnx("api: out of memory for a response; dropping the connection");
        api_drop(c);
        return;
    }
    log_debug("api %s %s -> %d", c->method ? c->method : "-", c->path[0] ? c->path : "-", status);
    s_req_reset(c);
    s_set_timer(w, c, TL_API_IDLE);
    c->state = c->keep ? AC_READ : AC_CLOSING;
    s_mark_dirty(c);
}

/* {"error":code,"reason":reason}; code and reason are literals needing no
 * escaping. */
void
api_error(worker_t *w, ac_t *c, int status, const char *code, const char *reason,
          const char *extra)
{
    char body[256];
    int n = snprintf(body, sizeof body, "{\"error\":\"%s\",\"reason\":\"%s\"}", code, reason);
    api_respond(w, c, status, "application/json", extra, body, (size_t)n);
}

/* ---- dispatch -------------------------------------------------------- */

/* The path (no query) for the debug line, with non-printables replaced. */
static void
s_note_path(ac_t *c, const char *path, size_t n)
{
    if (log_verbosity() >= 1)
        log_sample(c->path, sizeof c->path, path, n);
}

/* One complete request: a URL that does not parse is 400, then
 * authorization (so an unknown path with a wrong key is 401), then
 * api_route() looks at the path and the method. */
static void
s_dispatch(worker_t *w, ac_t *c)
{
    http_parser *p = &c->parser;
    struct http_parser_url u;
    c->method = http_method_str((enum http_method)p->method);
    http_parser_url_init(&u);
    if (c->malformed || c->url_len == 0
        || http_parser_parse_url(c->in.data + c->url_off, c->url_len, p->method == HTTP_CONNECT, &u)
        || !(u.field_set & (1 << UF_PATH))) {
        c->keep = 0;
        api_error(w, c, 400, "bad_request", "malformed request", NULL);
        return;
    }
    const char *path = c->in.data + c->url_off + u.field_data[UF_PATH].off;
    size_t plen = u.field_data[UF_PATH].len;
    const char *query = NULL;
    size_t qlen = 0;
    if (u.field_set & (1 << UF_QUERY)) {
        query = c->in.data + c->url_off + u.field_data[UF_QUERY].off;
        qlen = u.field_data[UF_QUERY].len;
    }
    s_note_path(c, path, plen);
    if (c->api->key && !api_http_authorized(c)) {
        api_error(w, c, 401, "unauthorized", "missing or wrong API key",
                  "WWW-Authenticate: Bearer\r\n");
        return;
    }
    api_route(w, c, path, plen, query, qlen);
}

/* ---- input ----------------------------------------------------------- */

/* What the parser asked for while it read: a request began (its timer
 * restarts), or the client waits for "100 Continue" before its body. */
static int
s_parser_asks(worker_t *w, ac_t *c)
{
    static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
    if (c->began) {
        c->began = 0;
        s_set_timer(w, c, TL_API_IDLE);         /* a request has 30 s to arrive */
    }
    if (c->cont) {
        c->cont = 0;
        if (buf_append(&c->out, cont, sizeof cont - 1) < 0) {
            log_warnx("api: out of memory for 100 Continue; dropping the connection");
            api_drop(c);
            return -1;
        }
        s_mark_dirty(c);
    }
    return 0;
}

/* Parses buffered input and answers requests in order until the input is
 * used up, a request waits for a completion, the connection is closing,
 * or too much output is unwritten (then c->blocked). */
static void
s_process(worker_t *w, ac_t *c)
{
    while (c->state == AC_READ) {
        if (c->out.len >= S_OUT_HIGH) {
            c->blocked = 1;
            break;
        }
        if (c->in.len == c->parsed)
            break;
        ah_error_t err;
        ah_verdict_t v = api_http_feed(c, &err);
        if (s_parser_asks(w, c) < 0)
            return;
        if (v == AH_REQUEST) {
            s_dispatch(w, c);
        } else if (v == AH_ERROR) {
            c->keep = 0;
            api_error(w, c, err.status, err.code, err.reason, err.extra);
            break;
        }
    }
    if (c->state == AC_READ || c->state == AC_WAIT)
        api_http_compact(c);
    s_free_if_big(&c->in);
}

static void
s_read(worker_t *w, ac_t *c)
{
    for (;;) {
        if (c->state != AC_READ && c->state != AC_LINGER)
            return;                     /* waiting or closing: input stays in the kernel */
        if (c->state == AC_READ && c->blocked)
            return;
        ssize_t n;
        if (c->state == AC_LINGER) {
            n = recv(c->fd, w->rbuf, w->rbuf_len, 0);
            if (n > 0)
                continue;               /* discarded */
        } else {
            if (buf_reserve(&c->in, S_READ_MIN) < 0) {
                log_warnx("api: out of memory for input; dropping the connection");
                api_drop(c);
                return;
            }
            n = recv(c->fd, c->in.data + c->in.len, c->in.cap - c->in.len, 0);
            if (n > 0) {
                c->in.len += (size_t)n;
                s_process(w, c);
                continue;
            }
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return;
        if (n == 0 && c->state == AC_READ) {
            /* EOF (perhaps a half-close): answer what was asked, then close */
            c->peer_eof = 1;
            c->state = AC_CLOSING;
            s_mark_dirty(c);
            return;
        }
        api_drop(c);                    /* error, or EOF while lingering */
        return;
    }
}

/* ---- output ---------------------------------------------------------- */

/* Writes what is pending. When all is written: a blocked conn resumes,
 * a closing one shuts its side down and lingers. */
static void
s_write(worker_t *w, ac_t *c)
{
    size_t off = 0;
    while (off < c->out.len) {
        ssize_t n = send(c->fd, c->out.data + off, c->out.len - off, MSG_NOSIGNAL);
        if (n > 0) {
            off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break;                      /* EPOLLOUT will tell */
        api_drop(c);
        return;
    }
    buf_consume(&c->out, off);
    if (c->out.len > 0)
        return;
    s_free_if_big(&c->out);
    if (c->blocked) {
        c->blocked = 0;
        c->resume = 1;
    }
    if (c->state == AC_CLOSING) {
        if (c->peer_eof) {
            api_drop(c);
            return;
        }
        shutdown(c->fd, SHUT_WR);
        c->state = AC_LINGER;
        s_set_timer(w, c, TL_API_LINGER);
        buf_free(&c->in);
        buf_free(&c->body);
        s_read(w, c);
    }
}

/* ---- the public side ------------------------------------------------- */

api_t *
api_new(worker_t *w)
{
    if (w->cfg->api_fd < 0)
        return NULL;
    api_t *a = calloc(1, sizeof *a);
    if (!a || !(a->conns = calloc((size_t)w->conns_cap, sizeof *a->conns))) {
        log_err("api: allocating the connection table");
        goto fail;
    }
    a->w = w;
    a->cap = w->conns_cap;
    for (int i = 0; i < TL_API_COUNT; i++)
        list_init(&a->timers[i]);
    list_init(&a->dirty);
    list_init(&a->reap);
    if (w->opt->api_key_file[0] && s_key_load(a, w->opt->api_key_file) < 0) {
        log_err("api: key file %s", w->opt->api_key_file);
        goto fail;
    }
    a->key_check = w->now + 1000;
    return a;
fail:
    if (a) {
        s_key_clear(a);
        free(a->conns);
        free(a);
    }
    return NULL;
}

static void
s_free_conn(api_t *a, ac_t *c)
{
    close(c->fd);                       /* also leaves epoll */
    a->conns[c->fd] = NULL;
    a->count--;
    buf_free(&c->in);
    buf_free(&c->body);
    buf_free(&c->out);
    free(c);
}

void
api_destroy(api_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    api_t *a = *self_p;
    for (int fd = 0; fd < a->cap; fd++)
        if (a->conns[fd])
            s_free_conn(a, a->conns[fd]);
    s_key_clear(a);
    buf_free(&a->body);
    free(a->conns);
    free(a);
    *self_p = NULL;
}

void
api_take(worker_t *w, int fd)
{
    api_t *a = w->api;
    ac_t *c = fd < a->cap ? calloc(1, sizeof *c) : NULL;
    if (!c) {
        if (fd < a->cap)
            log_warnx("api: out of memory for a connection");
        close(fd);
        return;
    }
    c->api = a;
    c->fd = fd;
    c->gen = ++s_gen;
    c->state = AC_READ;
    api_http_init(c);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct epoll_event ev = {
        .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
        .data.u64 = WORKER_TAG_APICONN | (uint64_t)fd,
    };
    if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
        log_warn("api: epoll_ctl");
        close(fd);
        free(c);
        return;
    }
    a->conns[fd] = c;
    a->count++;
    s_set_timer(w, c, TL_API_IDLE);
}

void
api_on_ready(worker_t *w, int fd, uint32_t events)
{
    api_t *a = w->api;
    ac_t *c = a && fd >= 0 && fd < a->cap ? a->conns[fd] : NULL;
    if (!c || c->state == AC_DEAD)
        return;
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        s_read(w, c);
    if (c->state != AC_DEAD && (events & EPOLLOUT) && c->out.len > 0)
        s_mark_dirty(c);
}

/* SIGTERM or SIGUSR1 (rotation): idle keep-alive connections are closed
 * now, busy ones after their current answer (with Connection: close), so
 * backends reconnect to a worker that stays and this one can leave. */
static void
s_wind_down(api_t *a)
{
    int busy = 0;
    a->winding_down = 1;
    for (int fd = 0; fd < a->cap; fd++) {
        ac_t *c = a->conns[fd];
        if (!c || c->state == AC_DEAD)
            continue;
        if (c->state == AC_READ && c->in.len == c->req_start && c->out.len == 0 && !c->blocked
            && !c->resume)
            api_drop(c);
        else
            busy++;
    }
    if (busy)
        log_debug("api: winding down, %d connections still busy", busy);
}

void
api_timers(worker_t *w)
{
    api_t *a = w->api;
    if (!a)
        return;
    static const int64_t timeout[TL_API_COUNT] = { S_IDLE_MS, S_LINGER_MS };
    for (int tl = 0; tl < TL_API_COUNT; tl++) {
        link_t *h = &a->timers[tl];
        while (!list_empty(h)) {
            ac_t *c = list_entry(h->next, ac_t, tlink);
            if (c->t_ms + timeout[tl] > w->now)
                break;
            if (tl == TL_API_IDLE && c->state != AC_LINGER && (c->in.len > c->req_start || c->wait))
                log_debug("api: request not complete within %d s; closing", S_IDLE_MS / 1000);
            api_drop(c);                /* unlinks it from h */
        }
    }
    if ((w->stopping || w->draining) && !a->winding_down)
        s_wind_down(a);
    s_key_check(w, a);
}

/* One conn from the dirty list: go on parsing where a completion or a
 * drained output left off, then write. Bounded rounds keep one pipelining
 * client from starving the loop; the rest waits for the next turn. */
static void
s_service(worker_t *w, ac_t *c)
{
    for (int round = 0; round < S_SERVICE_ROUNDS && c->state != AC_DEAD; round++) {
        if (c->resume) {
            c->resume = 0;
            s_process(w, c);
            s_read(w, c);               /* edges seen while waiting */
            if (c->state == AC_DEAD)
                return;
        }
        s_write(w, c);
        if (!c->resume)
            break;
    }
}

void
api_flush(worker_t *w)
{
    api_t *a = w->api;
    if (!a)
        return;
    link_t later;
    list_init(&later);
    while (!list_empty(&a->dirty)) {
        ac_t *c = list_entry(a->dirty.next, ac_t, dlink);
        list_unlink(&c->dlink);         /* c->dirty stays 1: no re-marking */
        s_service(w, c);
        if (c->state == AC_DEAD)
            continue;
        if (c->resume)
            list_push_tail(&later, &c->dlink);
        else
            c->dirty = 0;
    }
    while (!list_empty(&later)) {
        link_t *l = later.next;
        list_unlink(l);
        list_push_tail(&a->dirty, l);
    }
}

void
api_reap(worker_t *w)
{
    api_t *a = w->api;
    if (!a)
        return;
    while (!list_empty(&a->reap)) {
        ac_t *c = list_entry(a->reap.next, ac_t, dlink);
        list_unlink(&c->dlink);
        s_free_conn(a, c);
    }
}

int
api_count(worker_t *w)
{
    return w->api ? w->api->count : 0;
}
