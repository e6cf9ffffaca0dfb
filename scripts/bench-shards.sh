#!/bin/bash
# bench-shards.sh — zwsd 1:1 latency and throughput through the broker tiers of
# zwsd-broker(8) "Shards and pairs", side by side in one run: the embedded broker (ipc://), one
# external broker on tcp://, two shards, and one pair (two brokers), each broker pinned to no
# core and started here on free loopback ports. For each layout it runs scripts/bench-chat.sh
# (open loop at --rate, closed loop with --inflight) with ZWSD_OPTS="--broker ..." and prints
# its BENCH lines prefixed with the layout, plus the external brokers' CPU per delivered
# message (bench-chat counts zwsd's own processes only).
#
# usage: scripts/bench-shards.sh [--rate R] [--inflight K] [--duration S] [--layouts LIST]
#   defaults: 5000 msgs/s, 8 in flight, 5 s, layouts embedded,tcp,shards2,pair
set -eu
DIR=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/bench-lib.sh
. "$DIR/bench-lib.sh"
BUILD=${BUILD:-$DIR/../build}
RATE=5000 INFLIGHT=8 DURATION=5 LAYOUTS="embedded tcp shards2 pair"
while [ $# -gt 0 ]; do
    case $1 in
    --rate) RATE=$2; shift 2 ;;
    --inflight) INFLIGHT=$2; shift 2 ;;
    --duration) DURATION=$2; shift 2 ;;
    --layouts) LAYOUTS=${2//,/ }; shift 2 ;;
    -h|--help) sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench-shards.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done
TMPD=$(mktemp -d /tmp/zwsd-bench-shards.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$TMPD"; }
trap cleanup EXIT INT TERM
CLK_TCK=$(getconf CLK_TCK)
# broker: starts one zwsd-broker on two free ports; prints PUB,SUB and records its pid
start_broker() {
    local pub sub
    pub=$(bench_free_port) sub=$(bench_free_port)
    "$BUILD/zwsd-broker" --pub "tcp://127.0.0.1:$pub" --sub "tcp://127.0.0.1:$sub" \
        >>"$TMPD/brokers.log" 2>&1 &
    PIDS+=($!)
    echo "$!" >>"$TMPD/layout.pids"
    # bound: the subscribe port accepts
    for _ in $(seq 100); do
        (exec 3<>"/dev/tcp/127.0.0.1/$sub") 2>/dev/null && break
        sleep 0.05
    done
    BROKER_SPEC="tcp://127.0.0.1:$pub,tcp://127.0.0.1:$sub"
}
for layout in $LAYOUTS; do
    : >"$TMPD/layout.pids"
    case $layout in
    embedded) SPEC="" ;;
    tcp) start_broker; SPEC=$BROKER_SPEC ;;
    shards2) start_broker; a=$BROKER_SPEC; start_broker; SPEC="$a;$BROKER_SPEC" ;;
    pair) start_broker; a=$BROKER_SPEC; start_broker; SPEC="$a|$BROKER_SPEC" ;;
    *) echo "bench-shards.sh: unknown layout $layout" >&2; exit 2 ;;
    esac
    mapfile -t BP <"$TMPD/layout.pids"
    c0=$(bench_pids_ticks "${BP[@]:-}")
    echo "== $layout ${SPEC:+(--broker $SPEC)}"
    ZWSD_OPTS="${ZWSD_OPTS:-} ${SPEC:+--broker $SPEC}" "$DIR/bench-chat.sh" --rate "$RATE" \
        --inflight "$INFLIGHT" --duration "$DURATION" --warmup 2 >"$TMPD/$layout.out" 2>&1 || true
    c1=$(bench_pids_ticks "${BP[@]:-}")
    sed -n 's/^BENCH /BENCH layout='"$layout"' /p' "$TMPD/$layout.out"
    grep -E "error|exited" "$TMPD/$layout.out" | head -3 || true
    echo "external brokers' CPU over both runs: $((c1 - c0)) ticks (1/$CLK_TCK s)"
    for p in "${BP[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null; done
    wait 2>/dev/null || true
done
