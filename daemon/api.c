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
 * Stop and rotation (api_wind_down()): idle keep-alive connections are
 * closed at once and every later answer carries Connection: close. */
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
#include "api_routes.h"
#include "log.h"

#define S_KEY_MAX    4096           /* longest API key file accepted */
#define S_READ_MIN   4096           /* free room offered to each recv() */
#define S_OUT_HIGH   (256 * 1024)   /* stop parsing while this much is unwritten */
#define S_IDLE_MS    30000          /* between requests, or for one request to arrive */
#define S_LINGER_MS  2000           /* discarding input after the last response */
#define S_SERVICE_ROUNDS 4          /* parse/write rounds per conn and turn */

static void s_process(ac_t *c);
static void s_read(ac_t *c);

/* ---- small helpers --------------------------------------------------- */

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
s_key_check(api_t *a)
{
    if (*a->now < a->key_check)
        return;
    a->key_check = *a->now + 1000;
    const char *path = a->opt->api_key_file;
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
s_dispatch(ac_t *c)
{
    http_parser *p = &c->parser;
    struct http_parser_url u;
    c->method = http_method_str((enum http_method)p->method);
    http_parser_url_init(&u);
    const hh_t *hh = &c->hh;
    if (c->malformed || hh->folded || hh->url_len == 0
        || http_parser_parse_url(c->in.data + hh->url_off, hh->url_len, p->method == HTTP_CONNECT,
                                 &u)
        || !(u.field_set & (1 << UF_PATH))) {
        c->keep = 0;
        api_error(c, 400, "bad_request", "malformed request", NULL);
        return;
    }
    const char *path = c->in.data + hh->url_off + u.field_data[UF_PATH].off;
    size_t plen = u.field_data[UF_PATH].len;
    const char *query = NULL;
    size_t qlen = 0;
    if (u.field_set & (1 << UF_QUERY)) {
        query = c->in.data + hh->url_off + u.field_data[UF_QUERY].off;
        qlen = u.field_data[UF_QUERY].len;
    }
    s_note_path(c, path, plen);
    if (c->api->key && !api_http_authorized(c)) {
        api_error(c, 401, "unauthorized", "missing or wrong API key",
                  "WWW-Authenticate: Bearer\r\n");
        return;
    }
    api_route(c, path, plen, query, qlen);
}

/* ---- input ----------------------------------------------------------- */

/* What the parser asked for while it read: a request began (its timer
 * restarts), or the client waits for "100 Continue" before its body. */
static int
s_parser_asks(ac_t *c)
{
    static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
    if (c->began) {
        c->began = 0;
        api_timer(c, TL_API_IDLE);         /* a request has 30 s to arrive */
    }
    if (c->cont) {
        c->cont = 0;
        if (buf_append(&c->out, cont, sizeof cont - 1) < 0) {
            log_warnx("api: out of memory for 100 Continue; dropping the connection");
            api_drop(c);
            return -1;
        }
        api_dirty(c);
    }
    return 0;
}

/* Parses buffered input and answers requests in order until the input is
 * used up, a request waits for a completion, the connection is closing,
 * or too much output is unwritten (then c->blocked). */
static void
s_process(ac_t *c)
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
        if (s_parser_asks(c) < 0)
            return;
        if (v == AH_REQUEST) {
            s_dispatch(c);
        } else if (v == AH_ERROR) {
            c->keep = 0;
            api_error(c, err.status, err.code, err.reason, err.extra);
            break;
        }
    }
    if (c->state == AC_READ || c->state == AC_WAIT)
        api_http_compact(c);
    s_free_if_big(&c->in);
}

static void
s_read(ac_t *c)
{
    for (;;) {
        if (c->state != AC_READ && c->state != AC_LINGER)
            return;                     /* waiting or closing: input stays in the kernel */
        if (c->state == AC_READ && c->blocked)
            return;
        ssize_t n;
        if (c->state == AC_LINGER) {
            char junk[4096];
            n = recv(c->io.fd, junk, sizeof junk, 0);
            if (n > 0)
                continue;               /* discarded */
        } else {
            if (buf_reserve(&c->in, S_READ_MIN) < 0) {
                log_warnx("api: out of memory for input; dropping the connection");
                api_drop(c);
                return;
            }
            n = recv(c->io.fd, c->in.data + c->in.len, c->in.cap - c->in.len, 0);
            if (n > 0) {
                c->in.len += (size_t)n;
                s_process(c);
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
            api_dirty(c);
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
s_write(ac_t *c)
{
    size_t off = 0;
    while (off < c->out.len) {
        ssize_t n = send(c->io.fd, c->out.data + off, c->out.len - off, MSG_NOSIGNAL);
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
        shutdown(c->io.fd, SHUT_WR);
        c->state = AC_LINGER;
        api_timer(c, TL_API_LINGER);
        buf_free(&c->in);
        buf_free(&c->body);
        s_read(c);
    }
}

/* ---- the public side ------------------------------------------------- */

static const int64_t s_timeout[TL_API_COUNT] = { S_IDLE_MS, S_LINGER_MS };

api_t *
api_new(const api_cfg_t *cfg)
{
    api_t *a = calloc(1, sizeof *a);
    if (!a || io_init(&a->io, cfg->epfd, cfg->tag, cfg->cap, cfg->now, s_timeout,
                      TL_API_COUNT) < 0) {
        log_err("api: allocating the connection table");
        goto fail;
    }
    a->opt = cfg->opt;
    a->now = cfg->now;
    a->ev = cfg->ev;
    if (a->opt->api_key_file[0] && s_key_load(a, a->opt->api_key_file) < 0) {
        log_err("api: key file %s", a->opt->api_key_file);
        goto fail;
    }
    a->key_check = *a->now + 1000;
    return a;
fail:
    if (a) {
        s_key_clear(a);
        io_fini(&a->io);
        free(a);
    }
    return NULL;
}

static void
s_free_conn(ac_t *c)
{
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
    for (int fd = 0; fd < a->io.cap; fd++)
        if (a->io.by_fd[fd])
            api_drop((ac_t *)a->io.by_fd[fd]);
    api_reap(a);
    s_key_clear(a);
    buf_free(&a->body);
    io_fini(&a->io);
    free(a);
    *self_p = NULL;
}

void
api_take(api_t *a, int fd)
{
    ac_t *c = calloc(1, sizeof *c);
    if (!c || io_add(&a->io, &c->io, fd, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET) < 0) {
        if (fd < a->io.cap)
            log_warn("api: %s", c ? "epoll_ctl" : "out of memory for a connection");
        close(fd);
        free(c);
        return;
    }
    c->api = a;
    c->state = AC_READ;
    api_http_init(c);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    api_timer(c, TL_API_IDLE);
}

void
api_on_ready(api_t *a, int fd, uint32_t events)
{
    ac_t *c = a ? (ac_t *)io_get(&a->io, fd) : NULL;
    if (!c || c->state == AC_DEAD)
        return;
    if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
        s_read(c);
    if (c->state != AC_DEAD && (events & EPOLLOUT) && c->out.len > 0)
        api_dirty(c);
}

/* SIGTERM or SIGUSR1 (rotation): idle keep-alive connections are closed
 * now, busy ones after their current answer (with Connection: close), so
 * backends reconnect to a worker that stays and this one can leave. */
void
api_wind_down(api_t *a)
{
    if (!a || a->winding_down)
        return;
    int busy = 0;
    a->winding_down = 1;
    for (int fd = 0; fd < a->io.cap; fd++) {
        ac_t *c = (ac_t *)a->io.by_fd[fd];
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
api_timers(api_t *a)
{
    if (!a)
        return;
    for (int tl = 0; tl < TL_API_COUNT; tl++) {
        io_item_t *it;
        while ((it = io_expired(&a->io, tl))) {
            ac_t *c = (ac_t *)it;
            if (tl == TL_API_IDLE && c->state != AC_LINGER && (c->in.len > c->req_start || c->wait))
                log_debug("api: request not complete within %d s; closing", S_IDLE_MS / 1000);
            api_drop(c);
        }
    }
    s_key_check(a);
}

/* One conn from the dirty list: go on parsing where a completion or a
 * drained output left off, then write. Bounded rounds keep one pipelining
 * client from starving the loop; the rest waits for the next turn. */
static void
s_service(ac_t *c)
{
    for (int round = 0; round < S_SERVICE_ROUNDS && c->state != AC_DEAD; round++) {
        if (c->resume) {
            c->resume = 0;
            s_process(c);
            s_read(c);                  /* edges seen while waiting */
            if (c->state == AC_DEAD)
                return;
        }
        s_write(c);
        if (!c->resume)
            break;
    }
}

void
api_flush(api_t *a)
{
    if (!a)
        return;
    io_item_t *it;
    while ((it = io_next_dirty(&a->io))) {
        ac_t *c = (ac_t *)it;
        s_service(c);
        if (c->state == AC_DEAD)
            continue;
        if (c->resume)
            io_later(&a->io, it);
        else
            io_clean(it);
    }
    io_flush_end(&a->io);
}

void
api_reap(api_t *a)
{
    io_item_t *it;
    while (a && (it = io_next_dead(&a->io)))
        s_free_conn((ac_t *)it);
}

/* ---- completions ----------------------------------------------------- */

/* The conn waiting for this completion, or NULL (gone, or fd reused). */
static ac_t *
s_waiting(api_t *a, int fd, uint32_t gen, ac_wait_t kind)
{
    ac_t *c = a ? (ac_t *)io_lookup(&a->io, fd, gen) : NULL;
    if (!c || c->state != AC_WAIT || c->wait != kind)
        return NULL;
    c->state = AC_READ;                 /* api_respond moves on from here */
    c->resume = 1;
    return c;
}

void
api_push_done(api_t *a, int fd, uint32_t gen, const char *mid, const char *status)
{
    ac_t *c = s_waiting(a, fd, gen, WAIT_PUSH);
    if (c)
        api_routes_push_done(c, mid, status);
}

void
api_online_done(api_t *a, int fd, uint32_t gen, int64_t users, int64_t sessions)
{
    ac_t *c = s_waiting(a, fd, gen, WAIT_ONLINE);
    if (c)
        api_routes_online_done(c, users, sessions);
}

void
api_presence_done(api_t *a, int fd, uint32_t gen, const env_t *e)
{
    ac_t *c = s_waiting(a, fd, gen, WAIT_PRESENCE);
    if (c)
        api_routes_presence_done(c, e);
}

void
api_history_item(api_t *a, int fd, uint32_t gen, const char *frame, size_t n)
{
    ac_t *c = a ? (ac_t *)io_lookup(&a->io, fd, gen) : NULL;
    if (c && c->state == AC_WAIT && c->wait == WAIT_HISTORY)
        api_routes_history_item(c, frame, n);
}

void
api_history_done(api_t *a, int fd, uint32_t gen, const env_t *e)
{
    ac_t *c = s_waiting(a, fd, gen, WAIT_HISTORY);
    if (c)
        api_routes_history_done(c, e);
}

int
api_count(const api_t *a)
{
    return a ? a->io.count : 0;
}
