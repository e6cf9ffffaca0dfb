#!/bin/bash
# bench-api.sh — HTTP API pushes per second to connected users, keep-alive.
#
# Starts build/zwsd (W workers, free loopback ports for WebSocket and API, temp runtime dir),
# connects N users u0..u(N-1) with zwsd-loadgen --mode idle (they read and discard what comes),
# then drives POST /api/v1/send {"receiver":"u<i>","msg":{...}} round-robin over the users from a
# small C client compiled on the fly (below): C keep-alive connections, each with D requests in
# flight (D = 1: request, wait for the answer, next), for a warmup and a measured window.
# Prints pushes/s, the share answered "delivered" (the real outcome: a worker holding the user's
# session queued it), answer latency percentiles, zwsd's CPU per push (utime+stime of every zwsd
# process over the window) and, as a cross-check, how far zwsd_frames_total{direction="out"}
# moved. Stops everything it started, also on error or ^C.
#
# usage: scripts/bench-api.sh [--users N] [--workers W] [--conns C] [--depth D]
#                             [--warmup S] [--duration S]
#   defaults: 100 users, 2 workers, 8 connections, depth 1, 1 s warmup, 10 s window.
set -eu
# shellcheck source=scripts/bench-lib.sh
. "$(dirname "$0")/bench-lib.sh"

USERS=100 WORKERS=2 CONNS=8 DEPTH=1 WARMUP=1 DURATION=10
while [ $# -gt 0 ]; do
    case $1 in
    --users) USERS=$2; shift 2 ;;
    --workers) WORKERS=$2; shift 2 ;;
    --conns) CONNS=$2; shift 2 ;;
    --depth) DEPTH=$2; shift 2 ;;
    --warmup) WARMUP=$2; shift 2 ;;
    --duration) DURATION=$2; shift 2 ;;
    -h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench-api.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done

bench_init

# ---- the driver ----------------------------------------------------------------------------
cat > "$TMPD/apidrive.c" <<'EOF'
/* apidrive HOST PORT CONNS DEPTH USERS PREFIX WARMUP_S DURATION_S
 * Closed loop over CONNS keep-alive connections, DEPTH requests in flight on each; counts the
 * answers that arrive inside the window by status and their latency (send to last byte). */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define LAT_MAX 1000000                 /* µs; slower answers count in the last bucket */
typedef struct { int fd; char in[65536]; size_t ilen; int64_t *sent; int head, n; } conn_t;

static int64_t now_us(void) {
    struct timespec ts; clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}
static uint64_t seq;
static int users, depth;
static const char *prefix;

static int send_one(conn_t *c) {
    char body[256], req[512];
    int bl = snprintf(body, sizeof body, "{\"receiver\":\"%s%d\",\"msg\":{\"n\":%llu,\"k\":\"bench\"}}",
                      prefix, (int)(seq % (uint64_t)users), (unsigned long long)seq);
    seq++;
    int rl = snprintf(req, sizeof req, "POST /api/v1/send HTTP/1.1\r\nHost: bench\r\n"
                      "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", bl, body);
    for (int off = 0; off < rl;) {      /* small: the socket buffer takes it at once */
        ssize_t k = send(c->fd, req + off, (size_t)(rl - off), MSG_NOSIGNAL);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return -1;
        off += (int)k;
    }
    c->sent[(c->head + c->n++) % depth] = now_us();
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 9) { fprintf(stderr, "usage: apidrive HOST PORT CONNS DEPTH USERS PREFIX WARMUP DURATION\n"); return 2; }
    int nconn = atoi(argv[3]); depth = atoi(argv[4]); users = atoi(argv[5]); prefix = argv[6];
    double warm = atof(argv[7]), dur = atof(argv[8]);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[2])) };
    inet_pton(AF_INET, argv[1], &a.sin_addr);
    int ep = epoll_create1(0);
    conn_t *cs = calloc((size_t)nconn, sizeof *cs);
    uint32_t *lat = calloc(LAT_MAX + 1, sizeof *lat);
    for (int i = 0; i < nconn; i++) {
        conn_t *c = &cs[i];
        c->sent = calloc((size_t)depth, sizeof *c->sent);
        c->fd = socket(AF_INET, SOCK_STREAM, 0);
        int one = 1;
        setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (connect(c->fd, (struct sockaddr *)&a, sizeof a) < 0) { perror("connect"); return 1; }
        struct epoll_event ev = { .events = EPOLLIN, .data.u32 = (uint32_t)i };
        epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev);
        for (int k = 0; k < depth; k++)
            if (send_one(c) < 0) { perror("send"); return 1; }
    }
    int64_t t0 = now_us(), t1 = t0 + (int64_t)(warm * 1e6), t2 = t1 + (int64_t)(dur * 1e6);
    uint64_t delivered = 0, offline = 0, other = 0, total = 0;
    struct epoll_event evs[256];
    for (int64_t now = t0; now < t2; now = now_us()) {
        int n = epoll_wait(ep, evs, 256, 100);
        for (int e = 0; e < n; e++) {
            conn_t *c = &cs[evs[e].data.u32];
            ssize_t k = recv(c->fd, c->in + c->ilen, sizeof c->in - c->ilen, 0);
            if (k <= 0) { fprintf(stderr, "apidrive: server closed a connection\n"); return 1; }
            c->ilen += (size_t)k;
            for (;;) {                  /* every complete answer in the buffer */
                char *end = memmem(c->in, c->ilen, "\r\n\r\n", 4);
                if (!end) break;
                char *cl = memmem(c->in, (size_t)(end - c->in), "Content-Length: ", 16);
                if (!cl) { fprintf(stderr, "apidrive: answer without Content-Length\n"); return 1; }
                size_t blen = strtoul(cl + 16, NULL, 10), hlen = (size_t)(end - c->in) + 4;
                if (c->ilen < hlen + blen) break;
                int64_t t = now_us();
                if (t >= t1 && t < t2) {
                    total++;
                    if (!memcmp(c->in, "HTTP/1.1 200", 12) && memmem(end, blen + 4, "\"delivered\"", 11)) delivered++;
                    else if (!memcmp(c->in, "HTTP/1.1 200", 12) && memmem(end, blen + 4, "\"offline\"", 9)) offline++;
                    else other++;
                    int64_t l = t - c->sent[c->head];
                    lat[l > LAT_MAX ? LAT_MAX : l < 0 ? 0 : l]++;
                }
                c->head = (c->head + 1) % depth; c->n--;
                memmove(c->in, c->in + hlen + blen, c->ilen - hlen - blen);
                c->ilen -= hlen + blen;
                if (send_one(c) < 0) { perror("send"); return 1; }
            }
        }
    }
    uint64_t p[3] = { 0 }, acc = 0; double q[3] = { 0.50, 0.99, 0.999 };
    for (int i = 0, j = 0; i <= LAT_MAX && j < 3; i++) {
        acc += lat[i];
        while (j < 3 && total && acc >= (uint64_t)(q[j] * (double)total)) p[j++] = (uint64_t)i;
    }
    printf("RESULT conns=%d depth=%d seconds=%.1f pushes=%llu pushes_per_s=%.0f delivered=%llu "
           "offline=%llu other=%llu delivered_share=%.4f p50_us=%llu p99_us=%llu p999_us=%llu\n",
           nconn, depth, dur, (unsigned long long)total, (double)total / dur,
           (unsigned long long)delivered, (unsigned long long)offline, (unsigned long long)other,
           total ? (double)delivered / (double)total : 0.0, (unsigned long long)p[0],
           (unsigned long long)p[1], (unsigned long long)p[2]);
    return other ? 1 : 0;
}
EOF
bench_cmd cc -O2 -Wall -Werror -o "$TMPD/apidrive" "$TMPD/apidrive.c"

# ---- zwsd with the API, and the users --------------------------------------------------------
PORT=$(bench_free_port)
APIPORT=$(bench_free_port)
while [ "$APIPORT" = "$PORT" ]; do APIPORT=$(bench_free_port); done
URL="ws://127.0.0.1:$PORT"
mkdir -p "$TMPD/run"
echo "+ $ZWSD --workers $WORKERS --listen 127.0.0.1:$PORT --runtime-dir $TMPD/run" \
     "--api-listen 127.0.0.1:$APIPORT $ZWSD_BENCH_OPTS 2> $TMPD/zwsd.log &"
# shellcheck disable=SC2086  # ZWSD_BENCH_OPTS (bench-lib.sh): zero or more words
"$ZWSD" --workers "$WORKERS" --listen "127.0.0.1:$PORT" --runtime-dir "$TMPD/run" \
    --api-listen "127.0.0.1:$APIPORT" $ZWSD_BENCH_OPTS > "$TMPD/zwsd.log" 2>&1 &
ZPID=$!
for i in $(seq 150); do
    kill -0 "$ZPID" 2>/dev/null || { echo "bench-api.sh: zwsd exited; log:" >&2; tail -20 "$TMPD/zwsd.log" >&2; ZPID=""; exit 1; }
    [ "$(curl -s -m 1 "http://127.0.0.1:$APIPORT/healthz" 2>/dev/null)" = ok ] && break
    [ "$i" = 150 ] && { echo "bench-api.sh: API not healthy after 15 s" >&2; exit 1; }
    sleep 0.1
done
echo "# zwsd pid $ZPID: ws $URL, api http://127.0.0.1:$APIPORT"

LGLOG=$TMPD/loadgen.log
echo "+ $LOADGEN --url $URL --mode idle --conns $USERS --procs 1 --user-prefix u --duration 0 > $LGLOG &"
"$LOADGEN" --url "$URL" --mode idle --conns "$USERS" --procs 1 --user-prefix u --duration 0 \
    > "$LGLOG" 2>&1 &
LGPID=$!
until grep -q '^connected ' "$LGLOG" 2>/dev/null; do
    kill -0 "$LGPID" 2>/dev/null || { echo "bench-api.sh: zwsd-loadgen ended:" >&2; cat "$LGLOG" >&2; exit 1; }
    sleep 0.05
done
grep '^connected ' "$LGLOG"
# presence of the last user: the routes are live once the broker has them all
for i in $(seq 100); do
    curl -s "http://127.0.0.1:$APIPORT/api/v1/presence?users=u0,u$((USERS - 1))" | grep -q '"u0":true,.*:true' && break
    sleep 0.05
done

frames_out() {
    curl -s "http://127.0.0.1:$APIPORT/metrics" | sed -n 's/^zwsd_frames_total{direction="out"} //p'
}

# ---- the run ---------------------------------------------------------------------------------
F0=$(frames_out)
C0=$(bench_cpu_ticks)
T0=$(date +%s.%N)
DRLOG=$TMPD/apidrive.log
bench_cmd "$TMPD/apidrive" 127.0.0.1 "$APIPORT" "$CONNS" "$DEPTH" "$USERS" u "$WARMUP" "$DURATION" \
    > "$DRLOG" 2>&1 && DRC=0 || DRC=$?
cat "$DRLOG"
T1=$(date +%s.%N)
C1=$(bench_cpu_ticks)
F1=$(frames_out)
RES=$(grep '^RESULT' "$DRLOG" || true)
PUSHES=$(echo "$RES" | bench_kv pushes)
ALL_S=$(echo "$T1 - $T0" | bc)
# CPU over the whole driver run (warmup included), per answer sent in the window and warmup alike:
# estimate the warmup's pushes at the window's rate.
CPU_US=$(echo "($C1 - $C0) * 1000000 / $CLK_TCK" | bc)
PER_S=$(echo "$RES" | bench_kv pushes_per_s)
EST_ALL=$(echo "$PER_S * $ALL_S" | bc)
CPU_PER=$( [ "${EST_ALL%.*}" -gt 0 ] 2>/dev/null && echo "scale=1; $CPU_US / $EST_ALL" | bc || echo "?")

kill -TERM "$LGPID"; wait "$LGPID" 2>/dev/null || true; LGPID=""
bench_stop_zwsd

echo
echo "zwsd, $WORKERS workers, $USERS connected users, $CONNS keep-alive API connections, depth $DEPTH:"
echo "  $PER_S pushes/s over ${DURATION} s ($PUSHES answered), delivered share $(echo "$RES" | bench_kv delivered_share)"
echo "  answer latency p50 $(echo "$RES" | bench_kv p50_us) µs, p99 $(echo "$RES" | bench_kv p99_us) µs, p99.9 $(echo "$RES" | bench_kv p999_us) µs"
echo "  zwsd CPU ≈ ${CPU_PER} µs per push (all zwsd processes; the driver and the users share the cores)"
echo "  zwsd_frames_total{direction=\"out\"} moved by $((${F1:-0} - ${F0:-0})) during the run (warmup included)"
echo "BENCH api workers=$WORKERS users=$USERS $(echo "$RES" | sed 's/^RESULT //') zwsd_cpu_us_per_push=$CPU_PER driver_rc=$DRC"
exit "$DRC"
