/* verdict — judge the soak's records (see verdict.h). */
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"
#include "record.h"
#include "verdict.h"

/* Rules (zwsd-loadgen(1), VERIFICATION): */
#define SOAK_ACK_WAIT_US   3000000  /* (a) an answer is owed once the sender stayed open this long */
#define SOAK_PRE_US        1000000  /* (c) a receiver session that ended this long before the send */
#define SOAK_POST_US       1000000  /*     or this long after the ack excuses a missing delivery */
#define SOAK_OFF_MARGIN_US  500000  /* (d) the receiver's session must outlive the ack by this much */
#define SOAK_LATE_US       1000000  /* answers slower than this are counted (the protocol's 1 s) */
#define SOAK_EX_MAX        50

enum { V_UNANSWERED, V_MULTI, V_DELIVERED, V_OFFLINE, V_UNAVAIL, V_DUP, V_UNAVAIL_RECV,
       V_UNEXPECTED, V_MISROUTED, V_KINDS };
static const char *const s_vkey[V_KINDS] = {
    "unanswered", "multiple", "delivered_not_received", "false_offline", "unavailable_broker_up",
    "duplicate", "unavailable_received", "unexpected_answer", "misrouted",
};
static const char *const s_vdesc[V_KINDS] = {
    "(a) no answer, though the sending connection stayed open 3 s",
    "(b) more than one answer",
    "(c) delivered, but that mid never reached the receiver, and no session of it ended around then",
    "(d) offline, but the receiver got it or was open (welcomed) from before the send to after the ack",
    "(e) unavailable, but the broker was up from the send to the answer",
    "(f) the same message more than once on one connection",
    "(g) unavailable (\"the message was not sent\"), yet the receiver got it",
    "(u) an answer other than delivered, offline or unavailable",
    "(x) received by a user it was not sent to",
};

typedef struct {
    const rec_send_t *s;
    char note[240];
} example_t;

typedef struct {
    const cfg_t *cfg;
    rec_send_t *s;
    rec_recv_t *r;
    rec_ival_t *iv;
    size_t ns, nr, ni;
    size_t *uoff;               /* user u's sessions: iv[uoff[u]] .. iv[uoff[u + 1] - 1], by t_up */
    int64_t (*win)[2];          /* broker down: [killed, reachable + --broker-grace] */
    size_t nwin, capwin;
    int64_t off;                /* CLOCK_REALTIME - CLOCK_MONOTONIC, µs */
    FILE *vf;                   /* every violation, when the records are kept */
    uint64_t v[V_KINDS];
    example_t ex[V_KINDS][SOAK_EX_MAX];
} db_t;

/* Read every child's records into db; with REP, add their counters to it
 * and note the earliest end (offline --verify). Returns 0 or -1. */
static int
s_load(db_t *db, int procs, const char *dir, report_t *rep, int64_t *t_end)
{
    for (int i = 0; i < procs; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/soak-%d.bin", dir, i);
        FILE *f = fopen(path, "r");
        rec_hdr_t h;
        if (!f || fread(&h, sizeof h, 1, f) != 1 || memcmp(h.magic, rec_magic, sizeof h.magic)) {
            fprintf(stderr, "zwsd-loadgen: cannot read %s\n", path);
            if (f)
                fclose(f);
            return -1;
        }
        void *a = realloc(db->s, (db->ns + h.nsend + 1) * sizeof *db->s);
        void *b = a ? realloc(db->r, (db->nr + h.nrecv + 1) * sizeof *db->r) : NULL;
        void *c = b ? realloc(db->iv, (db->ni + h.nival + 1) * sizeof *db->iv) : NULL;
        if (a)
            db->s = a;
        if (b)
            db->r = b;
        if (c)
            db->iv = c;
        static report_t r;
        bool ok = c && fread(db->s + db->ns, sizeof *db->s, h.nsend, f) == h.nsend
                    && fread(db->r + db->nr, sizeof *db->r, h.nrecv, f) == h.nrecv
                    && fread(db->iv + db->ni, sizeof *db->iv, h.nival, f) == h.nival
                    && fread(&r, sizeof r, 1, f) == 1;
        fclose(f);
        if (ok && rep) {
            ctl_report_add(rep, &r);
            if (!*t_end || h.t_dump < *t_end)
                *t_end = h.t_dump;
        }
        if (!ok) {
            fprintf(stderr, "zwsd-loadgen: %s: short or out of memory\n", path);
            return -1;
        }
        db->ns += h.nsend;
        db->nr += h.nrecv;
        db->ni += h.nival;
    }
    return 0;
}

/* The driver's fault log: "<wall µs> <event> …" lines. broker-down opens a
 * window, the next broker-up closes it (--broker-grace later); other events
 * are the driver's business. Returns the number of lines read, -1 if none. */
static long
s_faults(db_t *db, const char *path)
{
    FILE *f = path ? fopen(path, "r") : NULL;
    if (!f)
        return -1;
    char line[512];
    long n = 0;
    while (fgets(line, sizeof line, f)) {
        long long w;
        char ev[64];
        if (sscanf(line, "%lld %63s", &w, ev) != 2)
            continue;
        n++;
        int64_t t = (int64_t)w - db->off;
        if (!strcmp(ev, "broker-down")) {
            if (db->nwin == db->capwin) {
                size_t nc = db->capwin ? db->capwin * 2 : 64;
                void *p = realloc(db->win, nc * sizeof *db->win);
                if (!p)
                    break;
                db->win = p;
                db->capwin = nc;
            }
            db->win[db->nwin][0] = t;
            db->win[db->nwin][1] = INT64_MAX;
            db->nwin++;
        } else if (!strcmp(ev, "broker-up") && db->nwin && db->win[db->nwin - 1][1] == INT64_MAX) {
            db->win[db->nwin - 1][1] = t + (int64_t)(db->cfg->broker_grace * 1e6);
        }
    }
    fclose(f);
    return n;
}

static int
s_cmp_recv(const void *a, const void *b)
{
    const rec_recv_t *x = a, *y = b;
    if (x->k != y->k)
        return x->k < y->k ? -1 : 1;
    if (x->user != y->user)
        return x->user < y->user ? -1 : 1;
    if (x->inst != y->inst)
        return x->inst < y->inst ? -1 : 1;
    return (x->t > y->t) - (x->t < y->t);
}

static int
s_cmp_ival(const void *a, const void *b)
{
    const rec_ival_t *x = a, *y = b;
    if (x->user != y->user)
        return x->user < y->user ? -1 : 1;
    return (x->t_up > y->t_up) - (x->t_up < y->t_up);
}

/* First receipt of key k (db->nr if none). */
static size_t
s_recv_lb(const db_t *db, uint64_t k)
{
    size_t lo = 0, hi = db->nr;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (db->r[mid].k < k)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static const rec_ival_t *
s_ival(const db_t *db, uint32_t u, uint32_t inst)
{
    if (u >= db->cfg->conns)
        return NULL;
    for (size_t i = db->uoff[u]; i < db->uoff[u + 1]; i++)
        if (db->iv[i].inst == inst)
            return &db->iv[i];
    return NULL;
}

/* Did a session of user u (one that got its 101) end within [a, b]? */
static bool
s_closed_between(const db_t *db, uint32_t u, int64_t a, int64_t b)
{
    for (size_t i = db->uoff[u]; u < db->cfg->conns && i < db->uoff[u + 1]; i++)
        if (db->iv[i].t_close != INT64_MAX && db->iv[i].t_close >= a && db->iv[i].t_close <= b)
            return true;
    return false;
}

/* Did the server end a session of user u (a close code, or TCP EOF/reset:
 * its worker died or drained) within [a, b]? */
static bool
s_server_closed_between(const db_t *db, uint32_t u, int64_t a, int64_t b)
{
    for (size_t i = db->uoff[u]; u < db->cfg->conns && i < db->uoff[u + 1]; i++)
        if (db->iv[i].t_close != INT64_MAX && db->iv[i].t_close >= a && db->iv[i].t_close <= b
            && db->iv[i].code >= 0)
            return true;
    return false;
}

/* Was one welcomed session of user u open from before a to after b? */
static bool
s_open_through(const db_t *db, uint32_t u, int64_t a, int64_t b)
{
    for (size_t i = db->uoff[u]; u < db->cfg->conns && i < db->uoff[u + 1]; i++)
        if (db->iv[i].t_open && db->iv[i].t_open < a && db->iv[i].t_close > b)
            return true;
    return false;
}

static bool
s_broker_down(const db_t *db, int64_t a, int64_t b)
{
    for (size_t i = 0; i < db->nwin; i++)
        if (db->win[i][0] <= b && db->win[i][1] >= a)
            return true;
    return false;
}

/* HH:MM:SS.mmm UTC of monotonic time t: the soak script stamps zwsd's log
 * lines the same way. */
static const char *
s_wall(const db_t *db, int64_t t, char buf[16])
{
    if (t == INT64_MAX)
        return strcpy(buf, "(open)");
    int64_t w = t + db->off;
    time_t sec = (time_t)(w / 1000000);
    struct tm tm;
    gmtime_r(&sec, &tm);
    snprintf(buf, 16, "%02d:%02d:%02d.%03d", tm.tm_hour, tm.tm_min, tm.tm_sec,
             (int)(w % 1000000 / 1000));
    return buf;
}

static const char *
s_how(const rec_ival_t *v, char buf[48])
{
    if (v->t_close == INT64_MAX)
        return strcpy(buf, "open at the end");
    if (v->code > 0)
        snprintf(buf, 48, "close code %d", v->code);
    else
        strcpy(buf, v->code == REC_OURS ? "reset by us" : v->code == REC_FAIL
               ? "no welcome in time" : "TCP EOF/reset from the server");
    return buf;
}

static void
s_session(FILE *f, const db_t *db, const char *role, const rec_ival_t *v)
{
    char a[16], b[16], c[16], how[48];
    fprintf(f, "      %s %s%u session #%u: 101 %s, welcome %s, ended %s (%s)\n", role,
            db->cfg->prefix, v->user, v->inst, s_wall(db, v->t_up, a),
            v->t_open ? s_wall(db, v->t_open, b) : "none", s_wall(db, v->t_close, c), s_how(v, how));
}

/* Everything the records say about message s, for a person to follow up. */
static void
s_describe(FILE *f, const db_t *db, int kind, const rec_send_t *s, const char *note)
{
    char a[16], b[16];
    const char *px = db->cfg->prefix;
    fprintf(f, "  [%s] id %" PRIu64 " %s%u -> %s%u sent %s", s_vkey[kind], s->k, px, s->sender, px,
            s->receiver, s_wall(db, s->t_send, a));
    if (s->nans)
        fprintf(f, ", %s at %s (+%.1f ms)%s%s", rec_answer_name(s->status), s_wall(db, s->t_ack, b),
                (double)(s->t_ack - s->t_send) / 1e3, s->mid[0] ? " mid " : "", s->mid);
    else
        fprintf(f, ", no answer");
    if (s->nans > 1)
        fprintf(f, ", then %s at %s (%u answers)", rec_answer_name(s->status2), s_wall(db, s->t_ack2, a),
                s->nans);
    if (note && *note)
        fprintf(f, ": %s", note);
    fputc('\n', f);
    const rec_ival_t *sv = s_ival(db, s->sender, s->inst);
    if (sv)
        s_session(f, db, "sender", sv);
    int64_t t1 = s->nans ? s->t_ack : s->t_send;
    int shown = 0;
    uint32_t ru = s->receiver;
    for (size_t i = db->uoff[ru]; ru < db->cfg->conns && i < db->uoff[ru + 1]; i++) {
        const rec_ival_t *v = &db->iv[i];
        if (v->t_close >= s->t_send - 3000000 && v->t_up <= t1 + 3000000 && shown++ < 6)
            s_session(f, db, "receiver", v);
    }
    if (!shown)
        fprintf(f, "      receiver %s%u: no session within 3 s of the send and the answer\n", px,
                s->receiver);
    size_t j = s_recv_lb(db, s->k);
    for (int n = 0; j < db->nr && db->r[j].k == s->k && n < 4; j++, n++)
        fprintf(f, "      received by %s%u on session #%u at %s\n", px, db->r[j].user, db->r[j].inst,
                s_wall(db, db->r[j].t, a));
}

static void s_violation(db_t *db, int kind, const rec_send_t *s, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void
s_violation(db_t *db, int kind, const rec_send_t *s, const char *fmt, ...)
{
    char note[240];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(note, sizeof note, fmt, ap);
    va_end(ap);
    uint64_t n = db->v[kind]++;
    if (n < (uint64_t)db->cfg->examples && n < SOAK_EX_MAX) {
        db->ex[kind][n].s = s;
        memcpy(db->ex[kind][n].note, note, sizeof note);
    }
    if (db->vf)
        s_describe(db->vf, db, kind, s, note);
}

int
verdict_print(run_t *run)
{
    const cfg_t *cfg = run->cfg;
    const report_t *t = &run->t;
    static db_t db;
    db.cfg = cfg;
    struct timespec rt, mt;
    clock_gettime(CLOCK_REALTIME, &rt);
    clock_gettime(CLOCK_MONOTONIC, &mt);
    db.off = ((int64_t)rt.tv_sec - (int64_t)mt.tv_sec) * 1000000 + (rt.tv_nsec - mt.tv_nsec) / 1000;
    bool offline = cfg->verify != NULL;
    if (offline)
        run->soak_ran = true;
    if (!run->soak_ran || run->lost_child
        || s_load(&db, cfg->procs, cfg->record, offline ? &run->t : NULL, &run->t_end) < 0) {
        printf("soak: no verdict (%s)\n", !run->soak_ran ? "the soak did not start"
               : run->lost_child ? "a worker process was lost" : "records missing");
        printf("RESULT mode=soak conns=%" PRIu64 " procs=%d verdict=none\n", cfg->conns, cfg->procs);
        return 1;
    }
    long flines = s_faults(&db, cfg->faults);
    if (cfg->faults && flines < 0)
        fprintf(stderr, "zwsd-loadgen: cannot read the fault log %s: every unavailable counts as "
                "a violation\n", cfg->faults);
    if (cfg->keep_record) {
        char path[4096];
        snprintf(path, sizeof path, "%s/violations.txt", cfg->record);
        db.vf = fopen(path, "w");
    }
    qsort(db.r, db.nr, sizeof *db.r, s_cmp_recv);
    qsort(db.iv, db.ni, sizeof *db.iv, s_cmp_ival);
    db.uoff = calloc(cfg->conns + 1, sizeof *db.uoff);
    if (!db.uoff) {
        perror("zwsd-loadgen");
        return 1;
    }
    for (size_t i = 0; i < db.ni; i++)
        if (db.iv[i].user < cfg->conns)
            db.uoff[db.iv[i].user + 1]++;
    for (uint64_t u = 0; u < cfg->conns; u++)
        db.uoff[u + 1] += db.uoff[u];

    uint64_t cnt[REC_KINDS] = { 0 }, received = 0, matched = 0, late = 0, ex_unans = 0, ex_deliv = 0;
    uint64_t unav_win = 0, unav_recv = 0, seconds = 0, e_rclosed = 0, e_young = 0;
    int64_t maxlat = 0;
    for (size_t i = 0; i < db.ns; i++) {
        const rec_send_t *s = &db.s[i];
        uint64_t mh = s->mid[0] ? rec_fnv(s->mid, strlen(s->mid)) : 0;
        bool got = false, got_mid = false;
        unsigned dup = 0, mis = 0;
        for (size_t j = s_recv_lb(&db, s->k); j < db.nr && db.r[j].k == s->k; j++) {
            matched++;
            if (db.r[j].user != s->receiver) {
                mis++;
                continue;
            }
            got = true;
            got_mid |= s->status == REC_DELIVERED && db.r[j].midh == mh;
            if (j > 0 && db.r[j - 1].k == s->k && db.r[j - 1].user == db.r[j].user
                && db.r[j - 1].inst == db.r[j].inst)
                dup++;
        }
        received += got;
        if (dup)
            s_violation(&db, V_DUP, s, "%u extra copies", dup);
        if (mis)
            s_violation(&db, V_MISROUTED, s, "%u copies at other users", mis);
        cnt[s->nans ? s->status : REC_NONE]++;
        if (!s->nans) {
            const rec_ival_t *sv = s_ival(&db, s->sender, s->inst);
            int64_t end = sv && sv->t_close < run->t_end ? sv->t_close : run->t_end;
            if (end - s->t_send >= SOAK_ACK_WAIT_US)
                s_violation(&db, V_UNANSWERED, s, "%s",
                                 got ? "the receiver got it" : "not received");
            else
                ex_unans++;
            continue;
        }
        int64_t lat = s->t_ack - s->t_send;
        late += lat > SOAK_LATE_US;
        maxlat = lat > maxlat ? lat : maxlat;
        if (s->nans > 1) {
            seconds++;
            s_violation(&db, V_MULTI, s, "%s first, %s %.1f ms later", rec_answer_name(s->status),
                             rec_answer_name(s->status2), (double)(s->t_ack2 - s->t_ack) / 1e3);
        }
        switch (s->status) {
        case REC_DELIVERED:
            if (got_mid)
                break;
            if (got)
                s_violation(&db, V_DELIVERED, s, "received, but not with the acked mid");
            else if (s_closed_between(&db, s->receiver, s->t_send - SOAK_PRE_US,
                                      s->t_ack + SOAK_POST_US))
                ex_deliv++;
            else
                s_violation(&db, V_DELIVERED, s, "never received");
            break;
        case REC_OFFLINE:
            if (got)
                s_violation(&db, V_OFFLINE, s, "yet the receiver got it");
            else if (s_open_through(&db, s->receiver, s->t_send, s->t_ack + SOAK_OFF_MARGIN_US))
                s_violation(&db, V_OFFLINE, s, "the receiver was open throughout");
            break;
        case REC_UNAVAIL_ACK:
        case REC_UNAVAIL_ERR: {
            unav_recv += got;
            bool down = s_broker_down(&db, s->t_send, s->t_ack);
            if (got)
                s_violation(&db, V_UNAVAIL_RECV, s, "broker %s", down ? "down around it" : "up");
            if (down) {
                unav_win++;
                break;
            }
            /* what a reader needs first: did the receiver's worker go away
             * meanwhile, or was the sender's session brand new? */
            bool rc = s_server_closed_between(&db, s->receiver, s->t_send - SOAK_PRE_US, s->t_ack);
            const rec_ival_t *sv = s_ival(&db, s->sender, s->inst);
            int64_t age = sv && sv->t_open ? s->t_send - sv->t_open : -1;
            e_rclosed += rc;
            e_young += !rc && age >= 0 && age < 1000000;
            s_violation(&db, V_UNAVAIL, s, "%s; %s; the receiver %s at the send; sender "
                             "welcomed %.1f ms before the send", got ? "received" : "not received",
                             rc ? "the server ended a receiver session within [send - 1 s, answer]"
                                : "the server ended no receiver session around it",
                             s_open_through(&db, s->receiver, s->t_send, s->t_send)
                                 ? "had a welcomed session" : "had no session (offline)",
                             (double)age / 1e3);
            break;
        }
        default:
            s_violation(&db, V_UNEXPECTED, s, "%s", s->mid);
        }
    }
    uint64_t viol = 0;
    for (int k = 0; k < V_KINDS; k++)
        viol += db.v[k];

    printf("soak: %zu chats sent with an id (%" PRIu64 " skipped: no open connection to send on), "
           "%" PRIu64 " answered, %" PRIu64 " received\n", db.ns, t->s_skipped, db.ns - cnt[REC_NONE],
           received);
    printf("answers: delivered %" PRIu64 ", offline %" PRIu64 ", unavailable %" PRIu64 " (ack %" PRIu64
           ", error %" PRIu64 "), other ack %" PRIu64 ", other error %" PRIu64 ", none %" PRIu64
           "; slower than 1 s: %" PRIu64 ", slowest %.1f ms\n", cnt[REC_DELIVERED], cnt[REC_OFFLINE],
           cnt[REC_UNAVAIL_ACK] + cnt[REC_UNAVAIL_ERR], cnt[REC_UNAVAIL_ACK], cnt[REC_UNAVAIL_ERR],
           cnt[REC_OTHER_ACK], cnt[REC_OTHER_ERR], cnt[REC_NONE], late, (double)maxlat / 1e3);
    printf("sessions: %" PRIu64 " welcomes (%" PRIu64 " after a reconnect); ended by the server: "
           "1000 %" PRIu64 ", 1001 %" PRIu64 ", 1011 %" PRIu64 ", 1013 %" PRIu64 ", 4001 %" PRIu64
           ", 4008 %" PRIu64 ", other codes %" PRIu64 ", TCP EOF/reset %" PRIu64 "; %" PRIu64
           " attempts failed before the welcome (%" PRIu64 " timed out); %" PRIu64 " reset by us in %"
           PRId64 " steps\n", t->opened, t->s_reconnects, t->s_cl_code[0], t->s_cl_code[1],
           t->s_cl_code[2], t->s_cl_code[3], t->s_cl_code[4], t->s_cl_code[5], t->s_cl_code[6],
           t->s_cl_tcp, t->failed, t->s_timeouts, t->s_rst, run->rst_steps);
    printf("fault log: %s, %zu broker-down windows (each until broker-up + %g s)\n",
           cfg->faults ? cfg->faults : "none", db.nwin, cfg->broker_grace);
    printf("not violations: %" PRIu64 " unanswered whose sending connection closed within 3 s; %"
           PRIu64 " delivered but not received, a receiver session having ended within [send - 1 s, "
           "ack + 1 s]; %" PRIu64 " unavailable within a broker-down window (%" PRIu64 " of all "
           "unavailable were received anyway); %" PRIu64 " receipts out of order\n", ex_unans,
           ex_deliv, unav_win, unav_recv, t->order_err);
    if (db.nr > matched || t->s_ack_unknown || t->unexpected || t->errors || t->s_rec_lost)
        printf("odd: %zu receipts of ids never sent, %" PRIu64 " answers to ids never sent, %" PRIu64
               " unexpected frames, %" PRIu64 " errors without an id, %" PRIu64 " records lost\n",
               db.nr - matched, t->s_ack_unknown, t->unexpected, t->errors, t->s_rec_lost);
    printf("violations: %" PRIu64 "\n", viol);
    for (int k = 0; k < V_KINDS; k++) {
        printf("  %8" PRIu64 "  %s\n", db.v[k], s_vdesc[k]);
        if (k == V_UNAVAIL && db.v[k])
            printf("            of which %" PRIu64 " while the server ended a session of the receiver "
                   "(worker killed or draining), %" PRIu64 " others sent < 1 s after the sender's "
                   "welcome, %" PRIu64 " neither\n", e_rclosed, e_young, db.v[k] - e_rclosed - e_young);
        for (uint64_t e = 0; e < db.v[k] && e < (uint64_t)cfg->examples && e < SOAK_EX_MAX; e++)
            s_describe(stdout, &db, k, db.ex[k][e].s, db.ex[k][e].note);
    }
    if (db.vf) {
        fclose(db.vf);
        printf("every violation: %s/violations.txt\n", cfg->record);
    }
    printf("RESULT mode=soak conns=%" PRIu64 " procs=%d rate=%g sent=%zu skipped=%" PRIu64
           " answered=%" PRIu64 " received=%" PRIu64 " delivered=%" PRIu64 " offline=%" PRIu64
           " unavailable=%" PRIu64 " unavailable_ack=%" PRIu64 " unavailable_error=%" PRIu64
           " other_answers=%" PRIu64 " unanswered=%" PRIu64 " late_answers=%" PRIu64
           " max_answer_ms=%.1f welcomes=%" PRIu64 " reconnects=%" PRIu64 " reset_by_us=%" PRIu64
           " broker_windows=%zu excused_unanswered=%" PRIu64 " excused_delivered=%" PRIu64
           " unavailable_in_window=%" PRIu64 " order_errors=%" PRIu64 " second_answers=%" PRIu64
           " records_lost=%" PRIu64 " unavailable_receiver_closed=%" PRIu64
           " unavailable_young_sender=%" PRIu64 " violations=%" PRIu64,
           cfg->conns, cfg->procs, cfg->rate, db.ns, t->s_skipped, db.ns - cnt[REC_NONE], received,
           cnt[REC_DELIVERED], cnt[REC_OFFLINE], cnt[REC_UNAVAIL_ACK] + cnt[REC_UNAVAIL_ERR],
           cnt[REC_UNAVAIL_ACK], cnt[REC_UNAVAIL_ERR], cnt[REC_OTHER_ACK] + cnt[REC_OTHER_ERR], cnt[REC_NONE],
           late, (double)maxlat / 1e3, t->opened, t->s_reconnects, t->s_rst, db.nwin, ex_unans,
           ex_deliv, unav_win, t->order_err, seconds, t->s_rec_lost, e_rclosed, e_young, viol);
    for (int k = 0; k < V_KINDS; k++)
        printf(" v_%s=%" PRIu64, s_vkey[k], db.v[k]);
    printf("\n");
    free(db.s);
    free(db.r);
    free(db.iv);
    free(db.uoff);
    free(db.win);
    return viol || t->s_rec_lost ? 1 : 0;
}

void
verdict_cleanup(const cfg_t *cfg)
{
    if (cfg->keep_record)
        return;
    for (int i = 0; i < cfg->procs; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/soak-%d.bin", cfg->record, i);
        unlink(path);
    }
    rmdir(cfg->record);
}

int
verdict_verify(cfg_t *cfg, run_t *run)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/soak-0.bin", cfg->verify);
    FILE *f = fopen(path, "r");
    rec_hdr_t h;
    if (!f || fread(&h, sizeof h, 1, f) != 1 || memcmp(h.magic, rec_magic, sizeof h.magic)
        || h.procs < 1 || h.procs > MAX_PROCS || !h.conns) {
        fprintf(stderr, "zwsd-loadgen: %s: not a soak record\n", path);
        if (f)
            fclose(f);
        return 2;
    }
    fclose(f);
    cfg->mode = MODE_SOAK;
    cfg->record = cfg->verify;
    cfg->keep_record = true;
    cfg->conns = h.conns;
    cfg->procs = h.procs;
    cfg->rate = 0;              /* not recorded: RESULT says rate=0 */
    setvbuf(stdout, NULL, _IOLBF, 0);
    run->cfg = cfg;
    return verdict_print(run);
}

