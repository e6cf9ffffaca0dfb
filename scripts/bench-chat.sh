#!/bin/bash
# bench-chat.sh — zwsd 1:1 throughput, latency and CPU per delivered message.
#
# Starts build/zwsd (W workers, free loopback port, temp runtime dir, no API listener; or, with
# --server relay, the reference relay build/zwsd-relay; with --server nchan, nginx + nchan with
# W workers, scripts/nchan.conf.in, from scripts/deps.sh --bench) and runs zwsd-loadgen with N
# users, user i sending to user (i + N/2) mod N (across generator processes and server workers):
#   1. open loop at --rate R msgs/s in all: delivered msgs/s and latency percentiles; --rates
#      R1,R2,... runs one window per rate against the same server, in order (a sweep); a run
#      that delivered under 95 % of R in its window, lost a message, or had a median latency
#      over 100 ms (a queue that grows) says kept_up=0, and
#      --until-saturated ends the sweep after two such runs in a row (one may be a stall of a
#      busy box; two are saturation);
#   2. closed loop with K messages in flight per sender: the most the pair sustains.
# Server CPU: utime+stime of every server process (zwsd: supervisor, workers, broker; nchan:
# the nginx master and its workers) from /proc, read before and after each run and divided by
# the messages delivered (the run's connect and drain are included); zwsd-loadgen also samples
# the same processes exactly at the edges of its measurement window (server_cpu_us_per_msg).
# The generator's own CPU is printed too: both share this machine's cores. One "BENCH chat" line
# per run as soon as the run ends (the lot again at the end, commented, as a summary). Stops
# everything it started, also on error or ^C.
#
# usage: scripts/bench-chat.sh [--users N] [--workers W] [--procs P] [--rate R | --rates LIST]
#                              [--until-saturated] [--inflight K] [--warmup S] [--duration S]
#                              [--tick US] [--ack] [--server zwsd|relay|nchan]
#   defaults: 1000 users, 2 workers, 2 generator processes, 20000 msgs/s, 8 in flight, 2 s warmup,
#   10 s window, zwsd. --rate 0 or --inflight 0 skips that run. The relay and nchan send no acks:
#   no --ack with them.
set -eu
# shellcheck source=scripts/bench-lib.sh
. "$(dirname "$0")/bench-lib.sh"

USERS=1000 WORKERS=2 PROCS=2 RATE=20000 INFLIGHT=8 WARMUP=2 DURATION=10 TICK=0 ACK="" SERVER=zwsd
UNTIL_SAT=0
while [ $# -gt 0 ]; do
    case $1 in
    --users) USERS=$2; shift 2 ;;
    --workers) WORKERS=$2; shift 2 ;;
    --procs) PROCS=$2; shift 2 ;;
    --rate) RATE=$2; shift 2 ;;
    --rates) RATE=${2//,/ }; shift 2 ;;
    --until-saturated) UNTIL_SAT=1; shift ;;
    --server) SERVER=$2; shift 2 ;;
    --inflight) INFLIGHT=$2; shift 2 ;;
    --warmup) WARMUP=$2; shift 2 ;;
    --duration) DURATION=$2; shift 2 ;;
    --tick) TICK=$2; shift 2 ;;
    --ack) ACK=--ack; shift ;;
    -h|--help) sed -n '2,27p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench-chat.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done

if [ "$SERVER" = nchan ] && [ -n "$ACK" ]; then
    echo "bench-chat.sh: nchan sends no acks: --ack is for zwsd (see --help)" >&2; exit 2
fi

bench_init
bench_start_server "$SERVER" "$WORKERS"

RC=0
SUMMARY=""
# run NAME LOADGEN-ARGS...: one zwsd-loadgen chat run with CPU sampled around it; KEPT_UP says
# whether an open-loop run delivered 95 % of its rate without loss and with p50 <= 100 ms.
run() {
    local name=$1 t0 t1 res rc recv srv_us rate mps lost p50
    shift
    echo
    echo "## $name"
    t0=$(bench_cpu_ticks)
    set +e
    # shellcheck disable=SC2086  # LGPROTO, ACK: zero or more words
    bench_cmd "$LOADGEN" --url "$URL" $LGPROTO --mode chat --conns "$USERS" --procs "$PROCS" \
        --warmup "$WARMUP" --duration "$DURATION" --server-pid "$ZPID" $ACK "$@" | tee "$TMPD/$name.out"
    rc=${PIPESTATUS[0]}
    set -e
    t1=$(bench_cpu_ticks)
    [ "$rc" = 0 ] || { echo "bench-chat.sh: zwsd-loadgen exited $rc (lost messages or failed connections)" >&2; RC=1; }
    res=$(sed -n 's/^RESULT //p' "$TMPD/$name.out")
    recv=$(echo "$res" | bench_kv recv)
    srv_us=$(awk -v d=$((t1 - t0)) -v hz="$CLK_TCK" -v n="${recv:-0}" \
        'BEGIN { if (n > 0) printf "%.2f", d / hz * 1e6 / n; else print "n/a" }')
    echo "server CPU around the whole run: $((t1 - t0)) ticks (1/$CLK_TCK s) for ${recv:-0} delivered" \
         "messages = $srv_us us per message"
    rate=$(echo "$res" | bench_kv rate_target) mps=$(echo "$res" | bench_kv msgs_per_s)
    lost=$(echo "$res" | bench_kv lost) p50=$(echo "$res" | bench_kv p50_us)
    KEPT_UP=$(awk -v r="${rate:-0}" -v m="${mps:-0}" -v l="${lost:-1}" -v rc="$rc" -v p="${p50:-0}" \
        'BEGIN { print (rc == 0 && l == 0 && (r == 0 || (m >= 0.95 * r && p <= 100000))) ? 1 : 0 }')
    local line
    line="BENCH chat server=$SERVER run=$name users=$USERS workers=$WORKERS $(echo "$res" | tr ' ' '\n' | grep -E \
'^(loop|rate_target|inflight|msgs_per_s|p50_us|p90_us|p99_us|p999_us|max_us|lost|errors|gen_cpu_pct|gen_cpu_us_per_msg|server_cpu_pct|server_cpu_us_per_msg)=' \
        | tr '\n' ' ')server_cpu_us_per_msg_whole_run=$srv_us kept_up=$KEPT_UP rc=$rc"
    # each run's line as soon as it is known: whatever ends the script later (a peer that
    # crashed, an interrupt) cannot take the runs already measured with it
    echo "$line"
    SUMMARY="$SUMMARY
${line#BENCH }"
}

# With --until-saturated, a run that did not keep up is the sweep's finding, not a failure: its
# losses show in its BENCH line (lost=, kept_up=0), and the exit status ignores them.
BEHIND=0
for r in $RATE; do
    [ "$r" = 0 ] && continue
    RC0=$RC
    if [ "$RATE" = "$r" ]; then run open-loop --rate "$r" --tick "$TICK"; else run "open-$r" --rate "$r" --tick "$TICK"; fi
    [ "$KEPT_UP" = 1 ] && BEHIND=0 || BEHIND=$((BEHIND + 1))
    [ "$KEPT_UP" = 1 ] || echo "# $SERVER did not keep up with $r msgs/s"
    [ "$UNTIL_SAT" = 1 ] && [ "$KEPT_UP" = 0 ] && RC=$RC0
    if [ "$UNTIL_SAT" = 1 ] && [ "$BEHIND" = 2 ]; then
        echo "# two rates in a row not kept up with: the sweep ends here"
        break
    fi
done
[ "$INFLIGHT" = 0 ] || run closed-loop --inflight "$INFLIGHT"
bench_stop_zwsd

echo
echo "# summary, the BENCH lines above again (server_cpu_us_per_msg: in the window; _whole_run:"
echo "# /proc before/after the run)"
echo "${SUMMARY#?}" | sed 's/^/#   /'
exit $RC
