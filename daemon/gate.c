/* gate — see gate.h.
 *
 * conn_t's tag holds what the gate knows of a connection: its entry in the
 * per-address table (low bits) and whether it is to be refused at its
 * upgrade. Every accepted conn is counted under its address, refused ones
 * too, until its reap: a client cannot hold more than the limit plus a
 * little slack of one worker's descriptors, however it behaves. */
#include "gate.h"

#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"
#include "clock.h"
#include "demo.h"
#include "log.h"
#include "metrics.h"
#include "peers.h"

#define G_REFUSE_IP   (1u << 31)        /* answer 429 at the upgrade */
#define G_REFUSE_FULL (1u << 30)        /* answer 503 */
#define G_PEER_MASK   ((1u << 30) - 1)  /* the peers.h entry, 0 = none */

/* Conns waiting for their refusal at once, per worker, and over its
 * per-address limit per address: past these, over-limit conns are closed
 * without an answer (they would only cost descriptors). */
#define G_REFUSING_MAX 64
#define G_PER_IP_SLACK 16

#define G_WARN_MS 10000                 /* at most one warning per kind per 10 s */

enum { W_AUTH, W_PER_IP, W_FULL, W_DROPPED, W_COUNT };

static const char *const s_warn_what[W_COUNT] = {
    [W_AUTH] = "handshakes refused by JWT authentication",
    [W_PER_IP] = "connections refused with 429 over --max-conns-per-ip",
    [W_FULL] = "connections refused with 503 over --max-conns",
    [W_DROPPED] = "connections over a limit closed unanswered (too many waiting for a refusal)",
};

struct gate {
    const options_t *opt;
    int              fd_cap;
    auth_t          *auth;              /* NULL: auth off */
    char             key_path[PATH_MAX];/* where auth was read from */
    handshake_cfg_t  hcfg;
    const char      *origins[OPTIONS_ORIGINS_MAX];
    char             origins_buf[sizeof ((options_t *)0)->allowed_origins];
    theap_t          heap;              /* sessions with a deadline */
    peers_t          peers;
    int              admitted;          /* counted conns not marked for refusal */
    int              refusing;          /* marked ones */
    struct {
        int64_t  next;
        uint64_t n;
    } warn[W_COUNT];
};

/* ---- logs ----------------------------------------------------------- */

/* One warning line per kind per G_WARN_MS, counting the events since the
 * last one; each event has its own debug line besides. */
static void
s_warn(gate_t *g, int kind, const char *who)
{
    g->warn[kind].n++;
    int64_t now = clock_now_ms();
    if (now < g->warn[kind].next)
        return;
    log_warnx("%llu %s since the last report (latest: %s)",
              (unsigned long long)g->warn[kind].n, s_warn_what[kind], who);
    g->warn[kind].n = 0;
    g->warn[kind].next = now + G_WARN_MS;
}

static const char *
s_peer(const gate_t *g, const conn_t *c, char *buf)
{
    uint32_t id = c->tag & G_PEER_MASK;
    if (!id || id > g->peers.ne)
        return strcpy(buf, "unknown address");
    return peers_text(g->peers.e[id].key, buf);
}

/* ---- settings and keys ---------------------------------------------- */

static void
s_handshake_cfg(gate_t *g)
{
    int n = options_split_origins(g->opt->allowed_origins, g->origins_buf,
                                  sizeof g->origins_buf, g->origins, OPTIONS_ORIGINS_MAX);
    g->hcfg.origins = n > 0 ? g->origins : NULL;
    g->hcfg.norigins = n > 0 ? (size_t)n : 0;
    g->hcfg.max_head = g->opt->max_head;
    g->hcfg.npages = 0;                 /* --demo: the page at / beside /ws/ */
    g->hcfg.pages = g->opt->demo ? demo_pages(&g->hcfg.npages) : NULL;
}

/* The key the options name: 0 (auth off, *kind 0), 1, or -1 on a file
 * that cannot be used (why filled). */
static int
s_key(const gate_t *g, auth_t **out, char *why, size_t len)
{
    const options_t *o = g->opt;
    *out = NULL;
    if (o->jwt_secret_file[0])
        *out = auth_load(AUTH_SECRET, o->jwt_secret_file, why, len);
    else if (o->jwt_public_key_file[0])
        *out = auth_load(AUTH_PUBLIC_KEY, o->jwt_public_key_file, why, len);
    else
        return 0;
    return *out ? 1 : -1;
}

static const char *
s_key_path(const gate_t *g)
{
    return g->opt->jwt_secret_file[0] ? g->opt->jwt_secret_file : g->opt->jwt_public_key_file;
}

gate_t *
gate_new(const options_t *opt, int fd_cap, uint64_t seed, char *why, size_t len)
{
    gate_t *g = calloc(1, sizeof *g);
    if (!g || peers_init(&g->peers, seed) < 0) {
        free(g);
        snprintf(why, len, "out of memory");
        errno = ENOMEM;
        return NULL;
    }
    g->opt = opt;
    g->fd_cap = fd_cap;
    theap_init(&g->heap);
    s_handshake_cfg(g);
    char kwhy[160];
    if (s_key(g, &g->auth, kwhy, sizeof kwhy) < 0) {
        snprintf(why, len, "%s %s: %s",
                 opt->jwt_secret_file[0] ? "--jwt-secret-file" : "--jwt-public-key-file",
                 s_key_path(g), kwhy);
        gate_destroy(&g);
        errno = EINVAL;
        return NULL;
    }
    if (g->auth) {
        snprintf(g->key_path, sizeof g->key_path, "%s", s_key_path(g));
        log_debug("auth: %s tokens, key from %s, leeway %d s", auth_alg(g->auth), g->key_path,
                  opt->jwt_leeway);
    }
    return g;
}

void
gate_destroy(gate_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    gate_t *g = *self_p;
    auth_destroy(&g->auth);
    theap_fini(&g->heap);
    peers_fini(&g->peers);
    free(g);
    *self_p = NULL;
}

const handshake_cfg_t *
gate_handshake(const gate_t *self)
{
    return &self->hcfg;
}

int
gate_max_conns(const gate_t *self)
{
    if (self->opt->max_conns > 0)
        return self->opt->max_conns;
    /* descriptors the worker needs besides its clients: listeners, epoll,
     * signals, the status socket, ZeroMQ's, API connections */
    int n = self->fd_cap - (64 + self->fd_cap / 64);
    return n > 0 ? n : 1;
}

void
gate_reload(gate_t *self)
{
    gate_t *g = self;
    s_handshake_cfg(g);
    auth_t *a = NULL;
    char why[160];
    int r = s_key(g, &a, why, sizeof why);
    if (r < 0) {
        log_warnx("reload: %s: %s; %s", s_key_path(g), why,
                  g->auth ? "keeping the current key" : "authentication stays off");
        return;
    }
    if (r == 0) {
        if (g->auth) {
            log_info("reload: auth off: no JWT key configured; any userId may connect");
            auth_destroy(&g->auth);
            g->key_path[0] = '\0';
            theap_node_t *n;
            while ((n = theap_min(&g->heap)))     /* no token, no deadline */
                theap_remove(&g->heap, n);
        }
        return;
    }
    if (!g->auth || strcmp(g->key_path, s_key_path(g)) != 0)
        log_info("reload: auth on: %s tokens, key from %s", auth_alg(a), s_key_path(g));
    auth_destroy(&g->auth);
    g->auth = a;
    snprintf(g->key_path, sizeof g->key_path, "%s", s_key_path(g));
}

/* ---- accept and reap ------------------------------------------------ */

void
gate_accept(gate_t *g, conns_t *cs, conn_t *c, const struct sockaddr *sa, socklen_t salen)
{
    uint64_t key = 0;
    uint32_t count = 0, id = 0;
    if (sa && peers_key(sa, salen, &key) == 0)
        id = peers_take(&g->peers, key, &count);    /* 0 on ENOMEM: not counted */
    c->tag = id & G_PEER_MASK;
    int per_ip = g->opt->max_conns_per_ip;
    int kind;
    if (id && per_ip > 0 && count > (uint32_t)per_ip)
        kind = W_PER_IP;
    else if (g->admitted >= gate_max_conns(g))
        kind = W_FULL;
    else {
        g->admitted++;
        return;
    }
    char who[PEERS_TEXT_LEN];
    s_peer(g, c, who);
    if (g->refusing >= G_REFUSING_MAX
        || (kind == W_PER_IP && count > (uint32_t)per_ip + G_PER_IP_SLACK)) {
        metrics_inc(M_LIMIT_DROPPED);
        log_debug("connection %d from %s: over %s, closed", c->io.fd, who,
                  kind == W_PER_IP ? "--max-conns-per-ip" : "--max-conns");
        s_warn(g, W_DROPPED, who);
        c->tag |= G_REFUSE_FULL;            /* counted as refusing until freed */
        g->refusing++;
        conn_drop(cs, c);
        return;
    }
    metrics_inc(kind == W_PER_IP ? M_LIMIT_PER_IP : M_LIMIT_CONNS);
    log_debug("connection %d from %s: over %s (%u from there, %d here), to be refused",
              c->io.fd, who, kind == W_PER_IP ? "--max-conns-per-ip" : "--max-conns", count,
              g->admitted);
    s_warn(g, kind, who);
    c->tag |= kind == W_PER_IP ? G_REFUSE_IP : G_REFUSE_FULL;
    g->refusing++;
}

void
gate_freed(gate_t *g, conn_t *c)
{
    peers_put(&g->peers, c->tag & G_PEER_MASK);
    if (c->tag & (G_REFUSE_IP | G_REFUSE_FULL))
        g->refusing--;
    else
        g->admitted--;
    c->tag = 0;
}

/* ---- upgrade, deadlines, refresh ------------------------------------- */

static int64_t
s_leeway_ms(const gate_t *g)
{
    return (int64_t)g->opt->jwt_leeway * 1000;
}

int
gate_upgrade(gate_t *g, conn_t *c, conn_upgrade_t *u, int64_t *deadline)
{
    *deadline = 0;
    if (c->tag & G_REFUSE_IP) {
        u->status = 429;
        u->body = "too many connections from this address";
        return 1;
    }
    if (c->tag & G_REFUSE_FULL) {
        u->status = 503;
        u->body = "server at its connection limit, try again later";
        u->headers = "Retry-After: 5\r\n";
        return 1;
    }
    if (!g->auth)
        return 0;
    int64_t exp = 0;
    auth_verdict_t v = auth_check(g->auth, u->token, u->token ? strlen(u->token) : 0, u->user,
                                  clock_wall_ms(), s_leeway_ms(g), &exp);
    if (v == AUTH_OK && exp && theap_reserve(&g->heap, theap_count(&g->heap) + 1) < 0)
        v = AUTH_NOMEM;                     /* then gate_start() cannot fail */
    if (v == AUTH_OK) {
        *deadline = exp ? exp + s_leeway_ms(g) : 0;
        return 0;
    }
    char who[PEERS_TEXT_LEN];
    metrics_inc((metric_t)(M_AUTH_BASE + v));
    log_debug("connection %d from %s for %s: %d, %s", c->io.fd, s_peer(g, c, who), u->user,
              auth_status(v), auth_reason(v));
    if (v != AUTH_NOMEM)
        s_warn(g, W_AUTH, who);
    u->status = auth_status(v);
    u->body = auth_reason(v);
    /* RFC 6750 3: a 401 says which scheme, and whether the token was bad */
    u->headers = v == AUTH_MISSING ? "WWW-Authenticate: Bearer\r\n"
               : u->status == 401  ? "WWW-Authenticate: Bearer error=\"invalid_token\"\r\n"
                                   : NULL;
    return 1;
}

int
gate_start(gate_t *g, gate_ticket_t *t, conn_t *c, int64_t deadline)
{
    t->conn = c;
    return deadline ? theap_set(&g->heap, &t->node, deadline) : 0;
}

void
gate_forget(gate_t *g, gate_ticket_t *t)
{
    theap_remove(&g->heap, &t->node);
}

cj_code_t
gate_refresh(gate_t *g, gate_ticket_t *t, const char *user, cj_str_t token, const char **reason)
{
    *reason = NULL;
    if (!g->auth) {                         /* nothing to refresh */
        metrics_inc(M_TOKEN_REFRESHED);
        return CJ_OK;
    }
    int64_t exp = 0;
    auth_verdict_t v = auth_check(g->auth, token.p, token.n, user, clock_wall_ms(),
                                  s_leeway_ms(g), &exp);
    if (v == AUTH_OK && exp && !theap_has(&t->node)
        && theap_reserve(&g->heap, theap_count(&g->heap) + 1) < 0)
        v = AUTH_NOMEM;
    if (v != AUTH_OK) {
        log_debug("connection %d of %s: refresh refused, %s", t->conn ? t->conn->io.fd : -1,
                  user, auth_reason(v));
        *reason = auth_reason(v);
        return v == AUTH_SUBJECT ? CJ_FORBIDDEN : v == AUTH_NOMEM ? CJ_UNAVAILABLE
                                                                   : CJ_UNAUTHORIZED;
    }
    if (exp)
        theap_set(&g->heap, &t->node, exp + s_leeway_ms(g));    /* reserved: cannot fail */
    else
        theap_remove(&g->heap, &t->node);
    metrics_inc(M_TOKEN_REFRESHED);
    log_debug("connection %d of %s: token refreshed, %s", t->conn ? t->conn->io.fd : -1, user,
              exp ? "new deadline" : "no deadline now");
    return CJ_OK;
}

void
gate_expire(gate_t *g, conns_t *cs)
{
    if (!theap_count(&g->heap))
        return;
    int64_t now = clock_wall_ms();
    theap_node_t *n;
    while ((n = theap_pop_due(&g->heap, now))) {
        gate_ticket_t *t = (gate_ticket_t *)((char *)n - offsetof(gate_ticket_t, node));
        metrics_inc(M_TOKEN_EXPIRED);
        log_debug("connection %d: token expired, closing %d", t->conn->io.fd, GATE_CLOSE_EXPIRED);
        conn_close(cs, t->conn, GATE_CLOSE_EXPIRED, "token expired");
    }
}
