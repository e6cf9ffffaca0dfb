#!/bin/bash
# bench-compare.sh — two zwsd builds beside the relay and nginx + nchan, interleaved in one run.
#
# For each round, for each server in turn (relay, nchan, zwsd BEFORE, zwsd AFTER): 1:1 chat
# open loop at 20,000 and 50,000 msg/s and the closed loop with 8 in flight (bench-chat.sh,
# 6 s windows after 2 s warmup); then once each idle memory at 10,000 connections
# (bench-idle.sh) and, for the two zwsd builds, a group of 10,000 (bench-group.sh). One line
# per run: the scenario, the server and the figures of its BENCH line. nchan is left out when
# nginx or its module is missing (scripts/deps.sh --bench installs them). The generator and the
# relay come from AFTER. This is the table of issue 16's closing note (BENCHMARKS.md, "Paced
# loop turns").
#
# usage: scripts/bench-compare.sh BEFORE_BUILD_DIR AFTER_BUILD_DIR [ROUNDS]
#   ROUNDS defaults to 2. ZWSD_OPTS applies to both zwsd builds.
set -u
[ $# -ge 2 ] || { sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 2; }
cd "$(dirname "$0")/.." || exit 2
. scripts/bench-lib.sh
BEFORE=$1 AFTER=$2 ROUNDS=${3:-2}
for b in "$BEFORE/zwsd" "$AFTER/zwsd" "$AFTER/zwsd-loadgen" "$AFTER/zwsd-relay"; do
    [ -x "$b" ] || { echo "bench-compare.sh: $b not built" >&2; exit 2; }
done
SERVERS="relay nchan before after"
bench_nchan_found || { echo "# nginx + nchan skipped: scripts/deps.sh --bench installs them" >&2
                       SERVERS="relay before after"; }
bin() { case $1 in before) echo "$BEFORE/zwsd" ;; *) echo "$AFTER/zwsd" ;; esac; }
kind() { case $1 in before|after) echo zwsd ;; *) echo "$1" ;; esac; }
pick() { tr ' ' '\n' | grep -E "^($1)=" | tr '\n' ' '; }
run() {     # run SCRIPT SERVER ARGS...: the BENCH line's figures
    local script=$1 s=$2; shift 2
    ZWSD=$(bin "$s") LOADGEN=$AFTER/zwsd-loadgen RELAY=$AFTER/zwsd-relay \
        "scripts/$script" --server "$(kind "$s")" "$@" 2>/dev/null | grep '^BENCH' | tail -1
}
for r in $(seq 1 "$ROUNDS"); do
    for s in $SERVERS; do
        for spec in "20k|--rate 20000 --inflight 0" "50k|--rate 50000 --inflight 0" \
                    "closed|--rate 0 --inflight 8"; do
            name=${spec%%|*}
            # shellcheck disable=SC2086
            out=$(run bench-chat.sh "$s" --duration 6 --warmup 2 ${spec#*|})
            [ -n "$out" ] || out="no_result=1"      # the server failed the run (nchan: a crash)
            echo "chat round=$r server=$s run=$name $(echo "$out" | pick 'msgs_per_s|p50_us|p99_us|lost|server_cpu_us_per_msg|kept_up|no_result')"
        done
    done
done
for s in $SERVERS; do
    echo "idle server=$s $(run bench-idle.sh "$s" --conns 10000 | pick 'conns|rss_per_conn_b|pss_per_conn_b|loadgen_rc')"
done
for s in before after; do
    out=$(ZWSD=$(bin "$s") LOADGEN=$AFTER/zwsd-loadgen scripts/bench-group.sh --members 10000 2>/dev/null | grep '^BENCH' | tail -1)
    echo "group server=$s $(echo "$out" | pick 'members|completed|lost|last_p50_us|server_cpu_us_per_delivery')"
done
