/* broker — see broker.h. One loop: drain subscription messages first (so
 * the table is never behind the XPUB's own trie when a chat is routed),
 * then forward a bounded batch of published messages. */
#include "broker.h"

#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <string.h>
#include <zmq.h>

#include "clock.h"
#include "envelope.h"
#include "log.h"
#include "pace.h"
#include "seq.h"
#include "subtable.h"
#include "topic.h"
#include "valid.h"

#define BATCH 1024
#define TRIM_EVERY_MS 2000          /* hand freed memory back this often */

static volatile sig_atomic_t s_stop;

static void
s_on_signal(int sig)
{
    (void)sig;
    s_stop = 1;
}

typedef struct {
    void            *ctx;
    void            *xsub;          /* publishers connect here (--pub) */
    void            *xpub;          /* subscribers connect here (--sub) */
    subtable_t      *table;
    seq_t           *seq;           /* the sequencer and its history (seq.h) */
    msgpack_sbuffer  sbuf;
    uint64_t         forwarded, offline, malformed;
    int64_t          warm_until;    /* subscriptions still being replayed */
    int64_t          next_trim;
} broker_t;

static int
s_setint(void *sock, int opt, int val)
{
    return zmq_setsockopt(sock, opt, &val, sizeof val);
}

static void
s_drain_subs(broker_t *b)
{
    for (;;) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, b->xpub, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&m);
            return;
        }
        subtable_apply(b->table, zmq_msg_data(&m), zmq_msg_size(&m));
        zmq_msg_close(&m);
    }
}

/* Publish an envelope we built to one worker's inbox. */
static void
s_reply(broker_t *b, env_str_t origin, const env_t *e)
{
    char topic[TOPIC_MAX];
    size_t tn;
    if (!valid_name(origin.p, origin.n)
        || !(tn = topic_make(topic, TOPIC_WORKER, origin.p, origin.n)))
        return;
    b->sbuf.size = 0;
    if (env_encode(e, &b->sbuf) < 0)
        return;
    if (zmq_send(b->xpub, topic, tn, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
        return;
    zmq_send(b->xpub, b->sbuf.data, b->sbuf.size, ZMQ_DONTWAIT);
}

/* seq.h's send: one message of a history answer to a worker's inbox, paced
 * against that subscriber's queue. With ZMQ_XPUB_NODROP on, the XPUB
 * refuses (EAGAIN) a message that a matching subscriber's full queue would
 * have to drop, rather than dropping it; it is on for this send only, so
 * live traffic keeps broker.h's policy (drop, for the laggard alone). Once
 * the first frame is taken the second cannot be refused (a queue counts
 * whole messages); if it ever were, it goes out the lossy way, so that the
 * XPUB is never left in the middle of a message. */
static int
s_send_paced(void *arg, const char *topic, size_t tn, const void *data, size_t len)
{
    broker_t *b = arg;
    int rc = -1;
    s_setint(b->xpub, ZMQ_XPUB_NODROP, 1);
    if (zmq_send(b->xpub, topic, tn, ZMQ_SNDMORE | ZMQ_DONTWAIT) >= 0) {
        if (zmq_send(b->xpub, data, len, ZMQ_DONTWAIT) < 0) {
            s_setint(b->xpub, ZMQ_XPUB_NODROP, 0);
            zmq_send(b->xpub, data, len, ZMQ_DONTWAIT);
        }
        rc = 0;
    }
    s_setint(b->xpub, ZMQ_XPUB_NODROP, 0);
    return rc;
}

/* A message to "s|": a query or report for the broker itself. */
static void
s_service(broker_t *b, const char *data, size_t len)
{
    env_t q, r;
    if (env_decode(data, len, &q) < 0) {
        b->malformed++;
        return;
    }
    switch (q.kind) {
    case ENV_PRESENCE:
        env_init(&r, ENV_PRESENCE);
        r.req = q.req;
        r.online_n = q.users_n;
        r.users_n = q.users_n;          /* echoed: the asker keeps no copy */
        for (uint32_t i = 0; i < q.users_n; i++)
            r.users[i] = q.users[i];
        for (uint32_t i = 0; i < q.users_n; i++)
            r.online[i] = subtable_user_count(b->table, q.users[i].p, q.users[i].n) > 0;
        s_reply(b, q.origin, &r);
        break;
    case ENV_ONLINE:
        env_init(&r, ENV_ONLINE);
        r.req = q.req;
        r.nusers = (int64_t)subtable_users(b->table);
        r.nsessions = subtable_sessions(b->table, clock_now_ms());
        s_reply(b, q.origin, &r);
        break;
    case ENV_STATS:
        if (q.origin.p && q.nsessions >= 0)
            subtable_stats(b->table, q.origin.p, q.origin.n, q.nsessions, clock_now_ms());
        break;
    case ENV_HISTORY:
        seq_query(b->seq, &q, clock_now_ms());
        break;
    default:
        b->malformed++;
    }
}

/* A message on a user topic that has no subscriber (e: its envelope as
 * decoded; stream: seq_is_stream_msg() said it is a chat of that user). A
 * chat is numbered and kept all the same, and the origin, if it asked,
 * hears "offline", with "stored" when the store holds it. */
static void
s_offline(broker_t *b, zmq_msg_t *topic, zmq_msg_t *env, const env_t *e, int stream,
          int64_t now)
{
    env_t r;
    const char *out;
    size_t n;
    int stored = 0;
    /* Just started: workers are still replaying their subscriptions, so an
     * empty entry may be a route not learnt yet. Say so, not "offline",
     * and keep nothing: the chat may yet be sent again, or delivered. */
    int warm = now < b->warm_until;
    if (stream && !warm)
        seq_stamp(b->seq, zmq_msg_data(topic), zmq_msg_size(topic), zmq_msg_data(env),
                  zmq_msg_size(env), e, now, &out, &n, &stored);
    if (e->kind != ENV_CHAT || !e->req || !e->origin.p)
        return;
    env_init(&r, ENV_RCPT);
    r.req = e->req;
    r.mid = e->mid;
    r.status = env_cstr(warm ? "unavailable" : "offline");
    r.stored = (uint8_t)stored;
    s_reply(b, e->origin, &r);
    b->offline++;
}

/* Forward a chat or group message numbered: the stamped bytes, which are
 * also the stored ones; untouched if it could not be numbered. */
static void
s_send_stamped(broker_t *b, zmq_msg_t *topic, zmq_msg_t *env, const env_t *e, int64_t now)
{
    const char *out;
    size_t n;
    int ok = seq_stamp(b->seq, zmq_msg_data(topic), zmq_msg_size(topic), zmq_msg_data(env),
                       zmq_msg_size(env), e, now, &out, &n, NULL) == 0;
    zmq_msg_send(topic, b->xpub, ZMQ_SNDMORE);
    if (ok)
        zmq_send(b->xpub, out, n, 0);
    else
        zmq_msg_send(env, b->xpub, 0);
}

static void
s_skip_rest(void *sock)
{
    int more;
    size_t sz = sizeof more;
    zmq_msg_t m;
    while (zmq_getsockopt(sock, ZMQ_RCVMORE, &more, &sz) == 0 && more) {
        zmq_msg_init(&m);
        zmq_msg_recv(&m, sock, 0);
        zmq_msg_close(&m);
    }
}

static void
s_forward(broker_t *b)
{
    int64_t now = clock_now_ms();
    for (int i = 0; i < BATCH; i++) {
        zmq_msg_t topic, env;
        zmq_msg_init(&topic);
        if (zmq_msg_recv(&topic, b->xsub, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&topic);
            return;
        }
        zmq_msg_init(&env);
        if (!zmq_msg_more(&topic) || zmq_msg_recv(&env, b->xsub, 0) < 0
            || zmq_msg_more(&env)) {
            s_skip_rest(b->xsub);       /* exactly two frames, or dropped */
            zmq_msg_close(&topic);
            zmq_msg_close(&env);
            b->malformed++;
            continue;
        }
        const char *t = zmq_msg_data(&topic);
        size_t tn = zmq_msg_size(&topic);
        topic_kind_t kind;
        const char *name;
        size_t nlen;
        int ok = topic_parse(t, tn, &kind, &name, &nlen) == 0;
        env_t e;
        /* a chat or group message of the stream its topic names: numbered */
        int stream = ok && (kind == TOPIC_USER || kind == TOPIC_GROUP)
                     && seq_is_stream_msg(kind, name, nlen, zmq_msg_data(&env),
                                          zmq_msg_size(&env), &e);
        if (ok && kind == TOPIC_BROKER) {
            s_service(b, zmq_msg_data(&env), zmq_msg_size(&env));
        } else if (ok && kind == TOPIC_USER
                   && subtable_user_count(b->table, name, nlen) == 0
                   && (s_drain_subs(b), subtable_user_count(b->table, name, nlen) == 0)) {
            /* drained again first: a subscription may have just arrived */
            s_offline(b, &topic, &env, &e, stream, now);
        } else if (stream) {
            s_send_stamped(b, &topic, &env, &e, now);
            b->forwarded++;
        } else {
            zmq_msg_send(&topic, b->xpub, ZMQ_SNDMORE);
            zmq_msg_send(&env, b->xpub, 0);
            b->forwarded++;
        }
        zmq_msg_close(&topic);
        zmq_msg_close(&env);
    }
}

/* Bursts leave the allocator holding memory already freed: a worker's
 * re-attach replays every subscription at once, a stalled subscriber's
 * queue fills up to its HWM, pipes of dead peers go. glibc hands back to
 * the kernel only the top of each arena (ZeroMQ's I/O thread has its own),
 * so RSS kept the high-water mark: in issue 14's soak the broker grew from
 * 7.4 to 10 MB over four cycles of worker kills and resets, with the same
 * 2,000 subscriptions, and malloc_trim(0) brought it back to 7.4 MB. So
 * every TRIM_EVERY_MS give it back: a walk of the arenas' free lists that
 * releases their free pages (measured: 30 to 360 us, median 140). */
static void
s_trim(broker_t *b, int64_t now)
{
    if (now < b->next_trim)
        return;
    b->next_trim = now + TRIM_EVERY_MS;
    int64_t t0 = clock_now_us();
    if (malloc_trim(0))
        log_debug("allocator: freed memory handed back in %lld us",
                  (long long)(clock_now_us() - t0));
}

/* -v, every 10 s with the other counters: the store and the answers. */
static void
s_log_history(broker_t *b)
{
    seq_stats_t st;
    seq_stats(b->seq, &st);
    log_debug("history: %zu messages (%zu bytes of payload), %zu bytes in all, %zu streams; "
              "evicted %llu by size, %llu by ttl, %llu by memory; numbered %llu; queries %llu "
              "(%llu malformed), items %llu, paused %llu, abandoned %llu, in progress %zu",
              st.hist.messages, st.hist.payload, st.hist.bytes, st.hist.streams,
              (unsigned long long)st.hist.evicted_size, (unsigned long long)st.hist.evicted_ttl,
              (unsigned long long)st.hist.evicted_memory, (unsigned long long)st.stamped,
              (unsigned long long)st.queries, (unsigned long long)st.malformed,
              (unsigned long long)st.items, (unsigned long long)st.paused,
              (unsigned long long)st.abandoned, st.in_progress);
}

void
broker_cfg_default(broker_cfg_t *cfg, const char *pub_ep, const char *sub_ep)
{
    *cfg = (broker_cfg_t){ .pub_ep = pub_ep, .sub_ep = sub_ep, .hwm = BROKER_HWM_DEFAULT,
                           .turn_us = BROKER_TURN_US_DEFAULT, .history_size = 100, .history_ttl_ms = 300000,
                           .history_memory = (size_t)64 << 20 };
}

int
broker_run(const broker_cfg_t *cfg)
{
    const char *pub_ep = cfg->pub_ep, *sub_ep = cfg->sub_ep;
    int warmup_ms = cfg->warmup_ms, hwm = cfg->hwm;
    broker_t b = { 0 };
    curve_server_t *curve = NULL;
    int rc = 1;
    struct sigaction sa = { .sa_handler = s_on_signal };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    msgpack_sbuffer_init(&b.sbuf);
    if (!(b.seq = seq_new(cfg->history_size, cfg->history_ttl_ms, cfg->history_memory,
                          s_send_paced, &b))) {
        log_err("cannot create the history store");
        goto done;
    }
    /* with CURVE, zauth answers the handshakes in czmq's context: the
     * sockets must live there, and the actor be up before they bind */
    if (cfg->curve_cert
        && !(curve = curve_server_new(cfg->curve_cert, cfg->curve_allow, log_verbosity() > 0)))
        goto done;
    b.ctx = curve ? curve_server_ctx(curve) : zmq_ctx_new();
    b.table = subtable_new();
    if (!b.ctx || !b.table)
        goto done;
    b.xsub = zmq_socket(b.ctx, ZMQ_XSUB);
    b.xpub = zmq_socket(b.ctx, ZMQ_XPUB);
    if (!b.xsub || !b.xpub)
        goto done;
    if (curve && (curve_server_apply(curve, b.xsub) < 0 || curve_server_apply(curve, b.xpub) < 0)) {
        log_errx("cannot make the endpoints CURVE servers: %s", zmq_strerror(errno));
        goto done;
    }
    /* Subscriptions are messages: with any HWM they can be dropped silently
     * (libzmq #4064), so their whole path has none (XSUB send, XPUB
     * receive). Data is bounded both ways: from each publisher (it then
     * meets back-pressure) and to each subscriber (past it that subscriber
     * loses messages, others do not). */
    s_setint(b.xsub, ZMQ_SNDHWM, 0);
    s_setint(b.xsub, ZMQ_RCVHWM, hwm);
    s_setint(b.xpub, ZMQ_RCVHWM, 0);
    s_setint(b.xpub, ZMQ_SNDHWM, hwm);
    s_setint(b.xpub, ZMQ_XPUB_VERBOSER, 1);
    /* every subscriber that (re)attaches gets "h|" first: workers learn
     * exactly when their way back from the broker was rebuilt */
    zmq_setsockopt(b.xpub, ZMQ_XPUB_WELCOME_MSG, TOPIC_HELLO, strlen(TOPIC_HELLO));
    /* Heartbeats find a peer host that died without closing its TCP
     * connections. On ipc:// the kernel closes a dead process's socket at
     * once, so there they would only ever cut a live worker that stalled
     * (stopped, swapped): its sessions would look offline until it is
     * back. No heartbeats on ipc://. */
    for (int i = 0; i < 2; i++) {
        void *s = i ? b.xpub : b.xsub;
        s_setint(s, ZMQ_LINGER, 0);
        if (!strncmp(i ? sub_ep : pub_ep, "tcp://", 6)) {
            s_setint(s, ZMQ_HEARTBEAT_IVL, 1000);
            s_setint(s, ZMQ_HEARTBEAT_TIMEOUT, 3000);
        }
    }
    if (zmq_bind(b.xsub, pub_ep) < 0) {
        log_errx("cannot bind publish endpoint %s: %s", pub_ep, zmq_strerror(errno));
        goto done;
    }
    if (zmq_bind(b.xpub, sub_ep) < 0) {
        log_errx("cannot bind subscribe endpoint %s: %s", sub_ep, zmq_strerror(errno));
        goto done;
    }
    /* One subscription to everything: publishers send all they have and
     * keep no copy of the table; the XPUB filters per subscriber. */
    zmq_send(b.xsub, "\x01", 1, 0);
    b.warm_until = clock_now_ms() + warmup_ms;
    log_info("broker ready: pub %s, sub %s, hwm %d%s%s", pub_ep, sub_ep, hwm,
             curve ? ", CURVE clients allowed from " : "", curve ? cfg->curve_allow : "");

    int64_t next_log = clock_now_ms() + 10000;
    size_t pending = 0;             /* history answers waiting for their subscriber */
    pace_t pace;
    pace_init(&pace, cfg->turn_us);
    /* our turns fall just after the workers' (theirs are at phase 0 on the
     * same clock), so a turn forwards what every worker of the host sent
     * in its last one */
    pace_set_phase(&pace, cfg->turn_us / 2 < BROKER_PHASE_US ? cfg->turn_us / 2 : BROKER_PHASE_US);
    while (!s_stop) {
        zmq_pollitem_t items[2] = {
            { b.xsub, 0, ZMQ_POLLIN, 0 },
            { b.xpub, 0, ZMQ_POLLIN, 0 },
        };
        /* busy: one turn per turn_us forwards all that came meanwhile, so
         * the workers' and our I/O threads wake once per turn (pace.h) */
        int slept = pace_wait(&pace, pending ? 1000 : -1, NULL, 0) != PACE_NOW;
        int n = zmq_poll(items, 2, slept || pending ? (slept ? 0 : 1) : 1000);
        if (n < 0 && errno != EINTR)
            break;
        pace_turn(&pace, n > 0);
        s_drain_subs(&b);
        s_forward(&b);
        pending = seq_tick(b.seq, clock_now_ms());
        s_trim(&b, clock_now_ms());
        if (log_verbosity() > 0 && clock_now_ms() >= next_log) {
            next_log = clock_now_ms() + 10000;
            log_debug("users %zu, forwarded %llu, offline %llu, malformed %llu",
                      subtable_users(b.table), (unsigned long long)b.forwarded,
                      (unsigned long long)b.offline, (unsigned long long)b.malformed);
            s_log_history(&b);
        }
    }
    log_info("broker stopping");
    rc = 0;
done:
    if (b.xsub)
        zmq_close(b.xsub);
    if (b.xpub)
        zmq_close(b.xpub);
    if (b.ctx && !curve)
        zmq_ctx_term(b.ctx);
    curve_server_destroy(&curve);       /* after the sockets: ends its context */
    subtable_destroy(&b.table);
    seq_destroy(&b.seq);
    msgpack_sbuffer_destroy(&b.sbuf);
    return rc;
}
