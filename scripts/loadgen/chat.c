/* chat — 1:1 chat, open and closed loop (see chat.h). */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chat.h"
#include "cpu.h"
#include "hist.h"
#include "proc.h"
#include "util.h"
#include "ws.h"

/* A child's chat state. */
static bool s_running, s_in_w, s_finished;
static bool s_starved;                  /* open loop: no connection left to send on */
static int64_t s_cpu_w0, s_next_progress, s_tick;
static char *s_sendbuf;                 /* chat frame being built: --size + room */

int
chat_init(void)
{
    s_sendbuf = malloc((size_t)proc.cfg->size + 512);
    s_tick = (int64_t)proc.cfg->tick_us;
    return s_sendbuf ? 0 : -1;
}

/* {"receiver":"u7","msg":{"t":<µs>,"s":<seq>[,"p":"xxx…"]}[,"id":"<seq>"]}
 * "p" pads the frame to about --size bytes. */
void
chat_send(conn_t *c)
{
    char *buf = s_sendbuf, *p = buf;
    p = stpcpy(p, "{\"receiver\":\"");
    p = conn_user_name(p, NULL, c->peer);
    p = stpcpy(p, "\",\"msg\":{\"t\":");
    p = util_u64(p, (uint64_t)clock_now_us());
    p = stpcpy(p, ",\"s\":");
    p = util_u64(p, (uint64_t)c->seq_out);
    long pad = proc.cfg->size - (long)(p - buf) - 9 - (proc.cfg->ack ? 30 : 0);
    if (pad > 0) {
        p = stpcpy(p, ",\"p\":\"");
        memset(p, 'x', (size_t)pad);
        p += pad;
        *p++ = '"';
    }
    *p++ = '}';
    if (proc.cfg->ack) {
        p = stpcpy(p, ",\"id\":\"");
        p = util_u64(p, (uint64_t)c->seq_out);
        *p++ = '"';
    }
    *p++ = '}';
    c->seq_out++;
    proc.r.sent++;
    if (s_in_w)
        proc.r.sent_w++;
    ws_send_frame(c, WSLAY_TEXT_FRAME, buf, (size_t)(p - buf));
}

void
chat_on_receipt(conn_t *c, int64_t lat)
{
    if (s_in_w) {
        proc.r.recv_w++;
        hist_add(&proc.r.lat, lat);
    }
    if (s_running && proc.cfg->inflight > 0)
        chat_send(c);           /* closed loop: a receipt releases a send */
}

void
chat_window_close(void)
{
    if (s_in_w) {
        proc.r.cpu_w_ns = util_cpu_ns() - (uint64_t)s_cpu_w0;
        int64_t end = proc.now < proc.t2 ? proc.now : proc.t2;
        proc.r.window_us = end > proc.t1 ? (uint64_t)(end - proc.t1) : 0;
        s_in_w = false;
    }
}

static void
s_phase(void)
{
    if (!proc.go || s_finished)
        return;
    if (!s_running && proc.now >= proc.t0) {
        s_running = true;
        if (proc.cfg->inflight > 0)
            for (uint32_t i = 0; i < proc.members; i++)
                for (long k = 0; k < proc.cfg->inflight && proc.conns[i].state == CONN_OPEN; k++)
                    chat_send(&proc.conns[i]);
    }
    if (s_running && !s_in_w && proc.now >= proc.t1 && proc.now < proc.t2) {
        s_in_w = true;
        s_cpu_w0 = (int64_t)util_cpu_ns();
    }
    if (s_running && proc.now >= proc.t2) {
        chat_window_close();
        s_running = false;
        s_finished = true;
        s_next_progress = proc.now;
        return;
    }
    if (s_running && proc.cfg->inflight <= 0) {
        uint64_t due = (uint64_t)((double)(proc.now - proc.t0) * proc.rate_local / 1e6) + 1;
        while (proc.r.sent < due) {
            conn_t *c = conn_next_open();
            s_starved = !c;
            if (!c)
                break;
            chat_send(c);
        }
    }
}

void
chat_tick(void)
{
    s_phase();
    if (s_finished && proc.now >= s_next_progress) {
        s_next_progress = proc.now + 100000;
        proc_send(CTL_PROGRESS, (int64_t)proc.r.sent, (int64_t)proc.r.recv,
                  (int64_t)(proc.r.ack_delivered + proc.r.ack_offline), 0);
    }
}

int64_t
chat_timeout_us(int64_t t)
{
    if (proc.go && !s_finished) {
        int64_t next = proc.now + t;
        if (!s_running)
            next = proc.t0;
        else if (proc.cfg->inflight <= 0) {
            next = proc.t0 + (int64_t)((double)proc.r.sent * 1e6 / proc.rate_local);
            if (next < proc.now + s_tick)
                next = proc.now + s_tick;
            if (s_starved)      /* every sender was dropped: do not spin */
                next = proc.now + 10000;
        }
        if (!s_in_w && proc.now < proc.t1 && proc.t1 < next)
            next = proc.t1;
        if (proc.t2 < next)
            next = proc.t2;
        t = next - proc.now;
    }
    if (s_finished) {
        int64_t d = s_next_progress - proc.now;
        if (d < t)
            t = d;
    }
    return t;
}

/* ------------------------------------------------------------ coordinator */

/* GO with the phase times, mark the window's edges, then wait until every
 * child's counts say all sent messages arrived (or --drain passed). */
void
chat_run(run_t *run)
{
    const cfg_t *cfg = run->cfg;
    const int P = cfg->procs;
    int64_t t0 = clock_now_us() + 20000;
    int64_t t1 = t0 + (int64_t)(cfg->warmup * 1e6);
    int64_t t2 = t1 + (int64_t)(cfg->duration * 1e6);
    int64_t drain_until = INT64_MAX;
    for (int i = 0; i < P; i++)
        run_send(run, i, CTL_GO, t0, t1, t2);
    if (cfg->inflight > 0)
        printf("closed loop, %ld in flight per sender: warmup %g s, measuring %g s\n",
               cfg->inflight, cfg->warmup, cfg->duration);
    else
        printf("open loop at %g msgs/s: warmup %g s, measuring %g s\n",
               cfg->rate, cfg->warmup, cfg->duration);
    bool started = false, ended = false;
    while (!run_any_gone(run)) {
        int64_t now = clock_now_us();
        if (util_sig && !ended) {       /* cut the window short, but still drain */
            for (int i = 0; i < P; i++)
                run_send(run, i, CTL_END, 0, 0, 0);
            if (started)
                cpu_mark(run, true);
            ended = started = true;
            printf("interrupted: measure end, draining\n");
            drain_until = now + (int64_t)(cfg->drain * 1e6);
        }
        if (!started && now >= t1) {
            started = true;
            cpu_mark(run, false);
            printf("measure start\n");
        }
        if (started && !ended && now >= t2) {
            ended = true;
            cpu_mark(run, true);
            printf("measure end, draining\n");
            drain_until = now + (int64_t)(cfg->drain * 1e6);
        }
        if (ended) {
            int64_t sent = 0, recv = 0, acks = 0;
            bool all = true;
            for (int i = 0; i < P; i++) {
                all &= run->kids[i].progress.type == CTL_PROGRESS;
                sent += run->kids[i].progress.v[0];
                recv += run->kids[i].progress.v[1];
                acks += run->kids[i].progress.v[2];
            }
            if ((all && recv >= sent && (!cfg->ack || acks >= sent)) || now >= drain_until)
                break;
        }
        run_poll(run, !started ? t1 : !ended ? t2 : drain_until);
    }
}

int
chat_print(const run_t *run)
{
    const cfg_t *cfg = run->cfg;
    const report_t *t = &run->t;
    double win = (double)t->window_us / 1e6;
    double rate = win > 0 ? (double)t->recv_w / win : 0;
    int64_t lost = (int64_t)t->sent - (int64_t)t->recv;
    double gcpu = (double)t->cpu_w_ns / 1e9;
    double gper = t->recv_w ? gcpu * 1e6 / (double)t->recv_w : 0;
    double srv = cpu_server_s(run), mwin = (double)(run->m1 - run->m0) / 1e6;
    /* the parent's marks and the children's windows differ by a few ms:
     * charge the server's CPU rate over the messages of the children's window */
    double sper = t->recv_w && mwin > 0 ? srv / mwin * win * 1e6 / (double)t->recv_w : 0;
    uint64_t p50 = hist_pct(&t->lat, .5), p90 = hist_pct(&t->lat, .9);
    uint64_t p99 = hist_pct(&t->lat, .99), p999 = hist_pct(&t->lat, .999);

    printf("chat: sent %" PRIu64 ", received %" PRIu64 "; in the %.3f s window %" PRIu64
           " sent, %" PRIu64 " received = %.1f msgs/s\n", t->sent, t->recv, win, t->sent_w, t->recv_w, rate);
    printf("latency (us): p50 %" PRIu64 "  p90 %" PRIu64 "  p99 %" PRIu64 "  p99.9 %" PRIu64
           "  max %" PRIu64 "  mean %.0f\n", p50, p90, p99, p999, t->lat.max,
           t->lat.n ? (double)t->lat.sum / (double)t->lat.n : 0.0);
    printf("lost %" PRId64 ", out of order %" PRIu64 ", server errors %" PRIu64 ", dropped %" PRIu64,
           lost, t->order_err, t->errors, t->dropped);
    if (cfg->ack)
        printf(", acks delivered %" PRIu64 " offline %" PRIu64, t->ack_delivered, t->ack_offline);
    printf("\ngenerator CPU in the window: %.3f s (%.1f %% of one core), %.2f us per message\n",
           gcpu, win > 0 ? gcpu * 100 / win : 0, gper);
    if (cfg->inflight <= 0 && win > 0 && !t->dropped && (double)t->sent_w < 0.99 * cfg->rate * win)
        fprintf(stderr, "zwsd-loadgen: sent only %.0f msgs/s of the %g asked: the generator "
                "is the bottleneck\n", (double)t->sent_w / win, cfg->rate);
    if (cfg->server_pid)
        printf("server CPU in the window: %.2f s (%.1f %% of one core), %.2f us per delivered message\n",
               srv, mwin > 0 ? srv * 100 / mwin : 0, sper);
    printf("RESULT mode=chat conns=%" PRIu64 " procs=%d connected=%" PRIu64 " failed=%" PRIu64
           " dropped=%" PRIu64 " loop=%s rate_target=%g tick_us=%g inflight=%ld ack=%d size=%ld"
           " warmup_s=%g window_s=%.3f sent=%" PRIu64 " recv=%" PRIu64 " sent_window=%" PRIu64
           " recv_window=%" PRIu64 " msgs_per_s=%.1f p50_us=%" PRIu64 " p90_us=%" PRIu64
           " p99_us=%" PRIu64 " p999_us=%" PRIu64 " max_us=%" PRIu64 " lost=%" PRId64
           " order_errors=%" PRIu64 " errors=%" PRIu64 " acks_delivered=%" PRIu64
           " acks_offline=%" PRIu64 " gen_cpu_s=%.3f gen_cpu_pct=%.1f gen_cpu_us_per_msg=%.2f",
           cfg->conns, cfg->procs, t->opened, t->failed, t->dropped,
           cfg->inflight > 0 ? "closed" : "open", cfg->inflight > 0 ? 0 : cfg->rate, cfg->tick_us,
           cfg->inflight, cfg->ack, cfg->size, cfg->warmup, win, t->sent, t->recv, t->sent_w,
           t->recv_w, rate, p50, p90, p99, p999, t->lat.max, lost, t->order_err, t->errors,
           t->ack_delivered, t->ack_offline, gcpu, win > 0 ? gcpu * 100 / win : 0, gper);
    if (cfg->server_pid)
        printf(" server_cpu_s=%.2f server_cpu_pct=%.1f server_cpu_us_per_msg=%.2f", srv,
               mwin > 0 ? srv * 100 / mwin : 0, sper);
    printf("\n");
    return t->failed || t->dropped || lost || t->order_err || t->errors || t->ack_offline
        || !t->recv_w ? 1 : 0;
}
