#!/bin/bash
# bench-bus.sh — the bus hop alone: publisher -> zwsd-broker -> subscriber, no WebSocket.
#
# Starts the real build/zwsd-broker on ipc:// sockets in a temp dir (its default --hwm), then
# runs build/bench-bus (scripts/bench-bus.c) once per batch size K and offered rate R, in that
# order: a publisher process sends 120-byte chats (msgpack envelopes, each to its own user
# topic u:b<i>|, users round-robin) through the broker to one subscriber process subscribed to
# every user, K chats per ZeroMQ message, paced at R chats/s (0 = saturation: a closed loop
# with --window chats in flight). Over each measurement window it reads /proc: utime+stime
# (/proc/PID/stat) of the broker and the subscriber, and their context switches (voluntary +
# nonvoluntary, every thread: /proc/PID/task/*/status), both per chat received; the
# publisher's own CPU and switches, which include its pacing, are shown apart. One table row
# per run, a matrix of the hop's CPU per chat (rate x batch) at the end, and a "BENCH bus" line
# per run. Exit status 1 if a run lost chats or failed. Stops everything it started.
#
# usage: scripts/bench-bus.sh [--rates LIST] [--batch LIST] [--users N] [--size B]
#                             [--warmup S] [--duration S] [--window W] [--broker-opts "ARGS"]
#   defaults: rates 5000,10000,20000,50000,0; batch 1,2,4,8; 1000 users; 120-byte envelopes;
#   1 s warmup, 5 s window; 4096 chats in flight at saturation; the broker with its defaults
#   (--broker-opts "--turn-us 0": unpaced, what the hop itself costs in latency). BENCH_BUS=path
#   selects the binary (default build/bench-bus), BROKER= the broker (default build/zwsd-broker).
set -u
# shellcheck source=scripts/bench-lib.sh
. "$(dirname "$0")/bench-lib.sh"

RATES="5000,10000,20000,50000,0" BATCHES="1,2,4,8" USERS=1000 SIZE=120 WARMUP=1 DURATION=5
WINDOW=4096 BROKER_OPTS=""
while [ $# -gt 0 ]; do
    case $1 in
    --rates) RATES=$2; shift 2 ;;
    --batch) BATCHES=$2; shift 2 ;;
    --users) USERS=$2; shift 2 ;;
    --size) SIZE=$2; shift 2 ;;
    --warmup) WARMUP=$2; shift 2 ;;
    --duration) DURATION=$2; shift 2 ;;
    --window) WINDOW=$2; shift 2 ;;
    --broker-opts) BROKER_OPTS=$2; shift 2 ;;
    -h|--help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench-bus.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done

bench_init
BUS=${BENCH_BUS:-$REPO/build/bench-bus}
BROKER=${BROKER:-$REPO/build/zwsd-broker}
for b in "$BUS" "$BROKER"; do
    [ -x "$b" ] || { echo "bench-bus.sh: $b not built (make)" >&2; exit 2; }
done

# The broker takes the place of zwsd in bench-lib's bookkeeping: its cleanup stops it.
PUB_EP="ipc://$TMPD/pub" SUB_EP="ipc://$TMPD/sub"
echo "+ $BROKER --pub $PUB_EP --sub $SUB_EP $BROKER_OPTS 2> $TMPD/broker.log &"
# shellcheck disable=SC2086  # BROKER_OPTS is a list of arguments
"$BROKER" --pub "$PUB_EP" --sub "$SUB_EP" $BROKER_OPTS > "$TMPD/broker.log" 2>&1 &
ZPID=$!
for i in $(seq 100); do
    [ -S "$TMPD/pub" ] && [ -S "$TMPD/sub" ] && break
    kill -0 "$ZPID" 2>/dev/null || { echo "bench-bus.sh: the broker exited:" >&2; cat "$TMPD/broker.log" >&2; ZPID=""; exit 1; }
    [ "$i" = 100 ] && { echo "bench-bus.sh: the broker's sockets did not appear in 5 s" >&2; exit 1; }
    sleep 0.05
done
echo "# broker pid $ZPID on $PUB_EP, $SUB_EP${BROKER_OPTS:+ ($BROKER_OPTS)}; $USERS users, ${SIZE}-byte envelopes," \
     "${WARMUP} s warmup, ${DURATION} s window"
echo "# hop = broker + subscriber (CPU and context switches per chat received in the window);"
echo "# pub = the publisher, pacing included; burst = ZeroMQ messages sent per publisher wake-up"
echo

RC=0 LINES=""
"$BUS" --header
for k in ${BATCHES//,/ }; do
    for r in ${RATES//,/ }; do
        out=$("$BUS" --pub "$PUB_EP" --sub "$SUB_EP" --broker-pid "$ZPID" --rate "$r" --batch "$k" \
              --users "$USERS" --size "$SIZE" --warmup "$WARMUP" --duration "$DURATION" \
              --window "$WINDOW" 2>&1)
        rc=$?
        echo "$out" | grep -v '^BENCH '
        line=$(echo "$out" | grep '^BENCH ')
        [ "$rc" = 0 ] || { echo "bench-bus.sh: the run at rate $r, batch $k exited $rc" >&2; RC=1; }
        [ -n "$line" ] && LINES="$LINES$line rc=$rc
"
    done
done
bench_stop_zwsd

echo
echo "# hop CPU per chat, us (broker + subscriber), by offered chats/s and chats per ZeroMQ message"
printf '%s' "$LINES" | awk '
    function kv(k,   i, n, a) { for (i = 1; i <= NF; i++) { n = index($i, "="); if (substr($i, 1, n - 1) == k) return substr($i, n + 1) } return "" }
    { r = kv("rate"); b = kv("batch"); v[r, b] = kv("hop_cpu_us_per_chat")
      if (!(r in seen_r)) { seen_r[r] = 1; rs[++nr] = r }
      if (!(b in seen_b)) { seen_b[b] = 1; bs[++nb] = b } }
    END { printf "%-10s", "chats/s"; for (j = 1; j <= nb; j++) printf " %9s", "K=" bs[j]; print ""
          for (i = 1; i <= nr; i++) { printf "%-10s", rs[i] == 0 ? "max" : rs[i]
              for (j = 1; j <= nb; j++) printf " %9s", ((rs[i], bs[j]) in v) ? v[rs[i], bs[j]] : "-"; print "" } }'
echo
printf '%s' "$LINES"
exit "$RC"
