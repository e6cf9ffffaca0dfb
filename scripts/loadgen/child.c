/* child — a generator process: setup, loop, frame dispatch (see child.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>

#include "chat.h"
#include "child.h"
#include "conn.h"
#include "group.h"
#include "proc.h"
#include "proto.h"
#include "record.h"
#include "scan.h"
#include "soak.h"
#include "util.h"
#include "ws.h"

/* conn's killed hook outside soak: a connection lost before it opened
 * failed; one lost after was dropped. Either is logged. */
static void
s_on_kill(conn_t *c, const char *why, int code)
{
    char name[96];
    *conn_user_name(name, c, c->user) = '\0';
    if (c->state == CONN_OPEN) {
        proc.r.dropped++;
        if (code)
            proc_log("%s: dropped by the server: close code %d", name, code);
        else
            proc_log("%s: dropped: %s", name, why);
    } else {
        proc.r.failed++;
        if (code)
            proc_log("%s: failed while %s: close code %d", name, conn_state_name(c->state), code);
        else
            proc_log("%s: failed while %s: %s", name, conn_state_name(c->state), why);
    }
}

static void
s_opened(conn_t *c)
{
    c->state = CONN_OPEN;
    proc.opened++;
    proc.r.opened++;
    if (proc.cfg->mode == MODE_SOAK)
        soak_opened(c);
}

/* ws's upgrade handler: a server that sends no welcome (nchan) is ready at
 * its 101. */
static void
s_on_up(conn_t *c)
{
    if (!proto_greets())
        s_opened(c);
}

/* A delivered chat or group message carrying our stamp T and sequence S. */
static void
s_on_data(conn_t *c, int64_t t, int64_t s, bool grp)
{
    int64_t lat = proc.now - t;
    if (c->sender)              /* the group sender's own copy */
        return;
    proc.r.recv++;
    if (s != c->seq_in + 1)
        proc.r.order_err++;
    c->seq_in = s;
    if (grp)
        group_on_copy(lat, s);
    else
        chat_on_receipt(c, lat);
}

/* Rare frames: welcome, error and anything unrecognised, parsed in full. */
static void
s_on_other(conn_t *c, const char *p, size_t n, const char *type, size_t tlen)
{
    char name[96];
    *conn_user_name(name, c, c->user) = '\0';
    json_error_t jerr;
    json_t *o = json_loadb(p, n, 0, &jerr);
    if (!o || !json_is_object(o)) {
        proc.r.unexpected++;
        proc_log("%s: unparsable frame: %.*s", name, (int)(n > 200 ? 200 : n), p);
        json_decref(o);
        return;
    }
    if (tlen == 7 && memcmp(type, "welcome", 7) == 0) {
        const char *user = json_string_value(json_object_get(o, "user"));
        if (c->state != CONN_WELCOME) {
            proc.r.unexpected++;
            proc_log("%s: second welcome", name);
        } else if (!user || strcmp(user, name) != 0) {
            conn_kill(c, "welcome names another user", 0);
        } else if (proc.cfg->mode == MODE_GROUP) {
            group_join(c);
        } else {
            s_opened(c);
        }
    } else if (tlen == 5 && memcmp(type, "error", 5) == 0) {
        const char *code = json_string_value(json_object_get(o, "code"));
        const char *reason = json_string_value(json_object_get(o, "reason"));
        const char *id = json_string_value(json_object_get(o, "id"));
        if (proc.cfg->mode == MODE_SOAK && id) {
            bool unavail = code && strcmp(code, "unavailable") == 0;
            soak_answer(c, id, strlen(id), unavail ? REC_UNAVAIL_ERR : REC_OTHER_ERR,
                        code ? code : "?", code ? strlen(code) : 1);
            if (!unavail)
                proc_log("%s: server error %s (%s) for id %s", name, code ? code : "?",
                         reason ? reason : "", id);
            json_decref(o);
            return;
        }
        proc.r.errors++;
        proc_log("%s: server error %s (%s)", name, code ? code : "?", reason ? reason : "");
        if (c->state == CONN_JOIN)
            conn_kill(c, "join refused", 0);
    } else {
        proc.r.unexpected++;
        proc_log("%s: unexpected frame: %.*s", name, (int)(n > 200 ? 200 : n), p);
    }
    json_decref(o);
}

/* ws's text handler: classify by type (proto.h) with the key scanner; the
 * common frames (chat, group, ack) never reach jansson. */
static void
s_on_text(conn_t *c, const char *p, size_t n)
{
    const char *end = p + n;
    size_t tlen;
    const char *type = proto_type(p, end, &tlen);
    bool chat = tlen == 4 && memcmp(type, "chat", 4) == 0;
    bool grp = tlen == 5 && memcmp(type, "group", 5) == 0;
    bool ack = tlen == 3 && memcmp(type, "ack", 3) == 0;
    if (chat && proc.cfg->mode == MODE_SOAK) {
        soak_recv(c, p, scan_key(p, end, "\"msg\"", 5), end);
        return;
    }
    if (ack && proc.cfg->mode == MODE_SOAK) {
        soak_on_ack(c, p, n);
        return;
    }
    if (chat || grp) {
        const char *m = scan_key(p, end, "\"msg\"", 5);
        int64_t t, s;
        if (m && scan_int(scan_key(m, end, "\"t\"", 3), end, &t)
              && scan_int(scan_key(m, end, "\"s\"", 3), end, &s)) {
            s_on_data(c, t, s, grp);
            return;
        }
        proc.r.unexpected++;
        proc_log("message without our stamp: %.*s", (int)(n > 200 ? 200 : n), p);
        return;
    }
    if (ack) {
        const char *st = scan_key(p, end, "\"status\"", 8);
        if (scan_str_is(st, end, "delivered"))
            proc.r.ack_delivered++;
        else if (scan_str_is(st, end, "offline"))
            proc.r.ack_offline++;
        else if (scan_str_is(st, end, "sent"))
            proc.r.ack_sent++;
        else if (scan_str_is(st, end, "joined") && c->state == CONN_JOIN)
            s_opened(c);
        else
            proc.r.ack_other++;
        return;
    }
    s_on_other(c, p, n, type ? type : "", tlen);
}

/* Outside soak: connects at this child's share of --connect-rate, handshake
 * deadlines every 100 ms, and READY once every connection opened or
 * failed. */
static void
s_connect_phase(void)
{
    static int64_t next_scan;
    while (proc.started < proc.n) {
        double allowed = 1.0 + (double)(proc.now - proc.c0) * proc.crate / 1e6;
        if ((double)proc.started >= allowed)
            break;
        conn_start(&proc.conns[proc.started++]);
    }
    if (proc.now >= next_scan) {
        next_scan = proc.now + 100000;
        for (uint32_t i = 0; i < proc.started; i++) {
            conn_t *c = &proc.conns[i];
            if (!c->dead && c->state < CONN_OPEN && proc.now > c->deadline)
                conn_kill(c, "timed out", 0);
        }
    }
    if (!proc.ready_sent && proc.started == proc.n && proc.opened + proc.r.failed == proc.n) {
        proc.ready_sent = true;
        proc_send(CTL_READY, proc.opened, (int64_t)proc.r.failed, proc.now - proc.c0, 0);
    }
}

static void
s_ctl_read(void)
{
    ctl_msg_t m;
    ssize_t r = recv(proc.ctl, &m, sizeof m, MSG_DONTWAIT);
    if (r < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (r != (ssize_t)sizeof m) {
        proc.stop = true;       /* EOF: the parent is gone */
        return;
    }
    switch (m.type) {
    case CTL_GO:                /* soak: again after an END to resume */
        proc.go = true;
        if (proc.cfg->mode == MODE_SOAK)
            soak_go();
        proc.t0 = m.v[0];
        proc.t1 = m.v[1];
        proc.t2 = m.v[2];
        break;
    case CTL_END:
        if (proc.go && proc.t2 > proc.now)
            proc.t2 = proc.now;
        break;
    case CTL_GSEND:
        group_on_gsend(m.v[0]);
        break;
    case CTL_STOP:
        proc.stop = true;
        break;
    case CTL_RST:
        soak_rst(m.v[0]);
        break;
    }
}

static int64_t
s_timeout_us(void)
{
    if (proc.cfg->mode == MODE_SOAK)
        return soak_timeout_us();
    int64_t t = chat_timeout_us(proc.started < proc.n ? 1000 : 100000);
    return t < 0 ? 0 : t;
}

static void
s_on_sigterm(int sig)
{
    (void)sig;
    util_sig = 1;
}

int
child_main(const cfg_t *cfg, int idx, int ctl)
{
    static const conn_hooks_t hooks = { s_on_kill, NULL };
    static const conn_hooks_t soak_hooks = { soak_killed, soak_reaped };
    memset(&proc, 0, sizeof proc);
    proc.cfg = cfg;
    proc.idx = idx;
    proc.ctl = ctl;
    signal(SIGINT, SIG_IGN);
    signal(SIGTERM, s_on_sigterm);
    prctl(PR_SET_PDEATHSIG, SIGTERM);

    uint64_t N = cfg->conns, P = (uint64_t)cfg->procs;
    uint64_t lo = N * (uint64_t)idx / P;
    proc.members = (uint32_t)(N * (uint64_t)(idx + 1) / P - lo);
    proc.n = proc.members + (cfg->mode == MODE_GROUP && idx == 0);
    proc.conns = calloc(proc.n, sizeof *proc.conns);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    uint32_t src_ip = cfg->bind_src ? ntohl(cfg->src_base.s_addr) + (uint32_t)idx : 0;
    if (!proc.conns || ep < 0
        || conn_init(ep, src_ip, cfg->mode == MODE_SOAK ? &soak_hooks : &hooks) < 0
        || chat_init() < 0 || ws_init(s_on_text, s_on_up) < 0) {
        proc_log("cannot set up: %s", strerror(errno));
        return 1;
    }
    util_rand_seed();
    for (uint32_t i = 0; i < proc.n; i++) {
        conn_t *c = &proc.conns[i];
        c->fd = -1;
        c->user = lo + i;
        c->peer = (c->user + N / 2) % N;
        c->seq_in = -1;
        c->sender = i >= proc.members;
    }
    struct epoll_event cev = { .events = EPOLLIN, .data.ptr = NULL };
    epoll_ctl(ep, EPOLL_CTL_ADD, ctl, &cev);
    proc.crate = cfg->connect_rate / cfg->procs;
    proc.rate_local = cfg->rate * proc.members / (double)N;
    proc.now = proc.c0 = clock_now_us();

    struct epoll_event evs[512];
    while (!proc.stop) {
        int64_t to = s_timeout_us();
        struct timespec ts = { .tv_sec = to / 1000000, .tv_nsec = (to % 1000000) * 1000 };
        int n = epoll_pwait2(ep, evs, 512, &ts, NULL);
        proc.now = clock_now_us();
        for (int i = 0; i < n; i++) {
            if (!evs[i].data.ptr)
                s_ctl_read();
            else
                ws_event(evs[i].data.ptr, evs[i].events);
        }
        if (util_sig)
            proc.stop = true;
        if (cfg->mode == MODE_SOAK) {
            soak_tick();
        } else {
            if (!proc.ready_sent)
                s_connect_phase();
            chat_tick();
        }
        conn_flush();
        conn_reap();
    }
    chat_window_close();
    if (cfg->mode == MODE_SOAK && soak_dump() < 0)
        proc.r.s_rec_lost++;
    proc.r.type = CTL_REPORT;
    proc.r.cpu_ns = util_cpu_ns();
    send(ctl, &proc.r, sizeof proc.r, 0);
    epoll_ctl(ep, EPOLL_CTL_DEL, ctl, NULL);
    ws_close_all(ep);
    return 0;
}
