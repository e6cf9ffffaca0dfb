/* soak — a soak child: reconnects, ids, records (see soak.h). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "proc.h"
#include "record.h"
#include "scan.h"
#include "soak.h"
#include "util.h"
#include "ws.h"

static rec_send_t *s_ss;
static rec_recv_t *s_sr;
static rec_ival_t *s_si;
static size_t s_nss, s_capss, s_nsr, s_capsr, s_nsi, s_capsi;
static uint32_t s_nopen;                /* welcomed connections now */
static uint64_t s_attempts;             /* sends due since GO, made or skipped */
static int64_t s_next_scan, s_next_progress;

/* The slot for element n of a doubling array of sz-byte elements, or NULL
 * (counted: the verdict is then incomplete). */
static void *
s_grow(void **arr, size_t *cap, size_t n, size_t sz)
{
    if (n == *cap) {
        size_t nc = *cap ? *cap * 2 : 4096;
        void *p = realloc(*arr, nc * sz);
        if (!p) {
            proc.r.s_rec_lost++;
            return NULL;
        }
        *arr = p;
        *cap = nc;
    }
    return (char *)*arr + n * sz;
}

/* Closes that every soak sees by the thousand: counted, not logged. */
static bool
s_routine(const char *why, int code)
{
    static const char *const ok[] = {
        "connection closed without a close frame", "closed during the handshake", "timed out",
        "reset by us",
    };
    if (code == 1000 || code == 1001 || code == 1013 || code == 4001)
        return true;
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++)
        if (strcmp(why, ok[i]) == 0)
            return true;
    return strcmp(why, strerror(ECONNRESET)) == 0 || strcmp(why, strerror(ECONNREFUSED)) == 0
        || strcmp(why, strerror(EPIPE)) == 0 || strncmp(why, "answer \"HTTP/1.1 503", 20) == 0;
}

void
soak_killed(conn_t *c, const char *why, int code)
{
    static const int codes[6] = { 1000, 1001, 1011, 1013, 4001, 4008 };
    c->t_close = proc.now;
    c->close_code = c->ours ? REC_OURS : code ? code : strcmp(why, "timed out") == 0 ? REC_FAIL : 0;
    if (c->state == CONN_OPEN) {
        s_nopen--;
        if (!c->ours && code) {
            unsigned i = 0;
            while (i < 6 && codes[i] != code)
                i++;
            proc.r.s_cl_code[i]++;
        } else if (!c->ours) {
            proc.r.s_cl_tcp++;
        }
    } else if (!c->ours) {
        proc.r.failed++;
        if (c->close_code == REC_FAIL)
            proc.r.s_timeouts++;
    }
    if (!s_routine(why, code)) {
        char name[96];
        *conn_user_name(name, c, c->user) = '\0';
        proc_log("%s (connection #%u, %s): %s%s%.0d", name, c->inst, conn_state_name(c->state), why,
                 code ? ": close code " : "", code);
    }
}

/* The reconnect after a randomized backoff, as a client would: [min, max]
 * ms after a session ended, growing (to 4x max, 5 s at most) while attempts
 * keep failing before their welcome. */
void
soak_reaped(conn_t *c)
{
    if (c->t_up) {
        rec_ival_t *v = s_grow((void **)&s_si, &s_capsi, s_nsi, sizeof *v);
        if (v) {
            *v = (rec_ival_t){ c->t_up, c->t_open, c->t_close, (uint32_t)c->user, c->inst,
                               c->close_code, 0 };
            s_nsi++;
        }
    }
    if (!c->t_open && c->fails < 8)
        c->fails++;
    long lo = proc.cfg->backoff_min, hi = proc.cfg->backoff_max;
    if (c->fails > 1)
        hi <<= c->fails - 1 < 2 ? c->fails - 1 : 2;
    if (hi > 5000)
        hi = 5000;
    if (hi <= lo)
        hi = lo + 1;
    c->retry_at = proc.now + (lo + (int64_t)(util_rand() % (uint64_t)(hi - lo))) * 1000;
    c->state = CONN_NEW;
    c->dead = c->want_out = c->drained = c->eof = c->msgop = c->ours = 0;
    c->fgot = 0;
    c->t_up = c->t_open = 0;
    c->seq_in = -1;
}

void
soak_opened(conn_t *c)
{
    c->t_open = proc.now;
    c->fails = 0;
    s_nopen++;
    if (c->inst > 1)
        proc.r.s_reconnects++;
}

void
soak_go(void)
{
    s_attempts = 0;
}

static void
s_start(conn_t *c)
{
    c->inst++;
    c->close_code = 0;
    c->t_close = 0;
    conn_start(c);
}

/* Queue C's next chat: {"receiver":"u7","msg":{"t":…,"s":…,"k":K},"id":"K"}. */
static void
s_chat(conn_t *c)
{
    rec_send_t *s = s_grow((void **)&s_ss, &s_capss, s_nss, sizeof *s);
    if (!s)
        return;
    memset(s, 0, sizeof *s);
    s->k = (uint64_t)proc.idx << REC_KBITS | s_nss;
    s->t_send = proc.now;
    s->sender = (uint32_t)c->user;
    s->receiver = (uint32_t)c->peer;
    s->inst = c->inst;
    s_nss++;
    char buf[256], *p = buf;
    p = stpcpy(p, "{\"receiver\":\"");
    p = conn_user_name(p, NULL, c->peer);
    p = stpcpy(p, "\",\"msg\":{\"t\":");
    p = util_u64(p, (uint64_t)proc.now);
    p = stpcpy(p, ",\"s\":");
    p = util_u64(p, (uint64_t)c->seq_out);
    p = stpcpy(p, ",\"k\":");
    p = util_u64(p, s->k);
    p = stpcpy(p, "},\"id\":\"");
    p = util_u64(p, s->k);
    p = stpcpy(p, "\"}");
    c->seq_out++;
    proc.r.sent++;
    ws_send_frame(c, WSLAY_TEXT_FRAME, buf, (size_t)(p - buf));
}

/* The first answer is kept whole, a second one's status and time too (a
 * third only counts). */
void
soak_answer(conn_t *c, const char *id, size_t idlen, uint8_t status, const char *mid,
            size_t midlen)
{
    uint64_t k = 0;
    bool ok = idlen > 0 && idlen <= 19;
    for (size_t i = 0; ok && i < idlen; i++) {
        ok = id[i] >= '0' && id[i] <= '9';
        k = k * 10 + (uint64_t)(id[i] - '0');
    }
    if (!ok || (k >> REC_KBITS) != (uint64_t)proc.idx || (k & REC_KMASK) >= s_nss) {
        char name[96];
        *conn_user_name(name, c, c->user) = '\0';
        proc.r.s_ack_unknown++;
        proc_log("%s: answer for an id we did not send: %.*s", name, (int)(idlen > 64 ? 64 : idlen),
                 id);
        return;
    }
    rec_send_t *s = &s_ss[k & REC_KMASK];
    if (s->nans == 0) {
        s->status = status;
        s->t_ack = proc.now;
        size_t n = midlen < sizeof s->mid - 1 ? midlen : sizeof s->mid - 1;
        memcpy(s->mid, mid, n);
        s->mid[n] = '\0';
        proc.r.s_answered++;
    } else if (s->nans == 1) {
        s->status2 = status;
        s->t_ack2 = proc.now;
    }
    if (s->nans < 255)
        s->nans++;
}

void
soak_on_ack(conn_t *c, const char *p, size_t n)
{
    const char *end = p + n;
    const char *st = scan_key(p, end, "\"status\"", 8);
    const char *id = scan_key(p, end, "\"id\"", 4);
    const char *mid = scan_key(p, end, "\"mid\"", 5);
    const char *ide = id && *id == '"' ? memchr(id + 1, '"', (size_t)(end - id - 1)) : NULL;
    const char *mide = mid && *mid == '"' ? memchr(mid + 1, '"', (size_t)(end - mid - 1)) : NULL;
    uint8_t status = scan_str_is(st, end, "delivered") ? REC_DELIVERED
                   : scan_str_is(st, end, "offline") ? REC_OFFLINE
                   : scan_str_is(st, end, "unavailable") ? REC_UNAVAIL_ACK : REC_OTHER_ACK;
    if (!ide) {
        proc.r.unexpected++;
        proc_log("ack without an id: %.*s", (int)(n > 200 ? 200 : n), p);
        return;
    }
    if (status == REC_OTHER_ACK) {      /* keep the odd status itself for the report */
        mid = st;
        mide = st && *st == '"' ? memchr(st + 1, '"', (size_t)(end - st - 1)) : NULL;
    }
    soak_answer(c, id + 1, (size_t)(ide - id - 1), status, mide ? mid + 1 : "",
                mide ? (size_t)(mide - mid - 1) : 0);
}

void
soak_recv(conn_t *c, const char *p, const char *m, const char *end)
{
    int64_t k, sq;
    if (!m || !scan_int(scan_key(m, end, "\"k\"", 3), end, &k) || k < 0) {
        proc.r.unexpected++;
        proc_log("chat without our key: %.*s", (int)(end - p > 200 ? 200 : end - p), p);
        return;
    }
    const char *mid = scan_key(p, end, "\"mid\"", 5);
    const char *mide = mid && *mid == '"' ? memchr(mid + 1, '"', (size_t)(end - mid - 1)) : NULL;
    rec_recv_t *r = s_grow((void **)&s_sr, &s_capsr, s_nsr, sizeof *r);
    if (!r)
        return;
    r->k = (uint64_t)k;
    r->midh = mide ? rec_fnv(mid + 1, (size_t)(mide - mid - 1)) : 0;
    r->t = proc.now;
    r->user = (uint32_t)c->user;
    r->inst = c->inst;
    s_nsr++;
    proc.r.recv++;
    /* one sender per receiver and "s" counts per sender across its
     * reconnects: a step back is a reordering (reported, not a violation) */
    if (scan_int(scan_key(m, end, "\"s\"", 3), end, &sq)) {
        if (sq <= c->seq_in)
            proc.r.order_err++;
        c->seq_in = sq;
    }
}

/* Open ones first: SO_LINGER {1, 0} makes the close in conn_reap() send an
 * RST; each then reconnects. */
void
soak_rst(int64_t n)
{
    struct linger rst = { .l_onoff = 1, .l_linger = 0 };
    int64_t done = 0;
    uint32_t start = proc.n ? (uint32_t)(util_rand() % proc.n) : 0;
    for (int pass = 0; pass < 2; pass++) {
        for (uint32_t i = 0; i < proc.n && done < n; i++) {
            conn_t *c = &proc.conns[(start + i) % proc.n];
            if (c->dead || c->fd < 0 || c->state == CONN_NEW || c->state >= CONN_CLOSING)
                continue;
            if ((pass == 0) != (c->state == CONN_OPEN))
                continue;
            setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &rst, sizeof rst);
            c->ours = 1;
            conn_kill(c, "reset by us", 0);
            done++;
        }
    }
    proc.r.s_rst += (uint64_t)done;
    proc_send(CTL_RSTDONE, done, 0, 0, 0);
}

/* The first connects (at --connect-rate), reconnects that are due,
 * handshake deadlines, READY, sends, progress. */
void
soak_tick(void)
{
    while (proc.started < proc.n) {
        double allowed = 1.0 + (double)(proc.now - proc.c0) * proc.crate / 1e6;
        if ((double)proc.started >= allowed)
            break;
        s_start(&proc.conns[proc.started++]);
    }
    if (proc.now >= s_next_scan) {
        s_next_scan = proc.now + 10000;
        for (uint32_t i = 0; i < proc.started; i++) {
            conn_t *c = &proc.conns[i];
            if (c->dead)
                continue;
            if (c->state == CONN_NEW && proc.now >= c->retry_at)
                s_start(c);
            else if (c->state > CONN_NEW && c->state < CONN_OPEN && proc.now > c->deadline)
                conn_kill(c, "timed out", 0);
        }
    }
    int64_t ready_by = proc.c0 + (int64_t)(((double)proc.n / proc.crate + proc.cfg->timeout) * 1e6);
    if (!proc.ready_sent && proc.started == proc.n && (s_nopen == proc.n || proc.now > ready_by)) {
        proc.ready_sent = true;
        proc_send(CTL_READY, s_nopen, (int64_t)proc.r.failed, proc.now - proc.c0, 0);
    }
    if (proc.go && proc.now >= proc.t0 && proc.now < proc.t2) {
        uint64_t due = (uint64_t)((double)(proc.now - proc.t0) * proc.rate_local / 1e6) + 1;
        while (s_attempts < due) {
            s_attempts++;
            conn_t *c = conn_next_open();
            if (c)
                s_chat(c);
            else
                proc.r.s_skipped++;
        }
    }
    if (proc.now >= s_next_progress) {
        s_next_progress = proc.now + 500000;
        int64_t v[6] = { (int64_t)proc.r.sent, (int64_t)proc.r.recv, (int64_t)proc.r.s_answered,
                         s_nopen, (int64_t)proc.r.s_reconnects, (int64_t)proc.r.s_rst };
        proc_send6(CTL_PROGRESS, v);
    }
}

int64_t
soak_timeout_us(void)
{
    int64_t t = proc.started < proc.n ? 1000 : 10000;
    if (proc.go && proc.now < proc.t2 && proc.rate_local > 0) {
        int64_t next = proc.t0 + (int64_t)((double)s_attempts * 1e6 / proc.rate_local);
        if (next - proc.now < t)
            t = next - proc.now;
    }
    return t < 0 ? 0 : t;
}

/* The connections still open are filed as intervals that never closed. */
int
soak_dump(void)
{
    for (uint32_t i = 0; i < proc.n; i++) {
        conn_t *c = &proc.conns[i];
        if (c->dead || !c->t_up || c->state < CONN_WELCOME || c->state > CONN_OPEN)
            continue;
        rec_ival_t *v = s_grow((void **)&s_si, &s_capsi, s_nsi, sizeof *v);
        if (!v)
            break;
        *v = (rec_ival_t){ c->t_up, c->t_open, INT64_MAX, (uint32_t)c->user, c->inst, 0, 0 };
        s_nsi++;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/soak-%d.bin", proc.cfg->record, proc.idx);
    FILE *f = fopen(path, "w");
    if (!f) {
        proc_log("cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    rec_hdr_t h = { .nsend = s_nss, .nrecv = s_nsr, .nival = s_nsi, .t_dump = clock_now_us(),
                    .conns = proc.cfg->conns, .procs = proc.cfg->procs, .idx = proc.idx };
    memcpy(h.magic, rec_magic, sizeof h.magic);
    bool ok = fwrite(&h, sizeof h, 1, f) == 1
        && fwrite(s_ss, sizeof *s_ss, s_nss, f) == s_nss
        && fwrite(s_sr, sizeof *s_sr, s_nsr, f) == s_nsr
        && fwrite(s_si, sizeof *s_si, s_nsi, f) == s_nsi
        && fwrite(&proc.r, sizeof proc.r, 1, f) == 1;
    if (fclose(f) != 0 || !ok) {
        proc_log("cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}
