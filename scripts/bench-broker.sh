#!/bin/bash
# bench-broker.sh — one broker shard alone, pinned to one core: how many 1:1 messages it routes,
# what each subscription costs it in memory, and whether both stay flat up to 1,000,000
# subscriptions. No zwsd, no WebSocket.
#
# For each history setting H (--history-size), subscription count N and offered rate R, and
# each repetition (the repetitions outermost, so that the box's load spreads over every
# configuration), it starts a fresh build/zwsd-broker on 127.0.0.1 free tcp:// ports (or
# ipc:// in the temp dir), pinned with taskset to one core, then runs build/bench-bus
# (scripts/bench-bus.c) on the other cores: a subscriber process with --sockets SUB sockets
# (8, as a host's workers would hold them) that subscribes to N user topics u:bNNNNNNN|
# spread over them, each socket subscribing a marker topic last; a publisher that sends a
# chat to each marker until all have come through (then the broker has taken in every
# subscription: it forwards a chat on a user topic only once its table holds that user),
# waits --settle seconds, then sends 120-byte chats round-robin to all N users, one per
# ZeroMQ message, paced at R chats/s (0 = saturation, 4,096 in flight), for --warmup then
# a --duration window. Read from /proc: the broker's VmRSS before the subscriber connects and
# after the settle (its memory per subscription), its VmHWM, the time from the first
# subscribe to the sync and the broker's CPU until then, its CPU per chat routed in the
# window, publish-to-receive latency (p50/p99), what else ran on the broker's core
# (user+system time of /proc/stat's line for that core less the broker's own ticks) and
# what the hypervisor stole from it. Prints a progress line per run,
# then Markdown tables (median and min–max of the repetitions) and the raw BENCH lines.
# --active M sends the chats to the first M users only (all N subscribed): a big table with
# a small working set, to tell the table's size from the spread of the traffic.
# Exit status 1 if a run failed or lost chats. Stops everything it started.
#
# usage: scripts/bench-broker.sh [--subs LIST] [--history LIST] [--rates LIST] [--reps N]
#                                [--sockets S] [--transport tcp|ipc] [--warmup S]
#                                [--duration S] [--settle S] [--active M] [--broker-cpu C]
#                                [--load-cpus L]
#   defaults: subs 1000,10000,100000,1000000; history 100,0; rates 0,20000; 3 reps; all active;
#   8 sockets; tcp; 1 s warmup, 5 s window, 3 s settle; the broker on the last CPU, the
#   load (bench-bus) on the others. ZWSD_BUILD=DIR takes the binaries from DIR (default
#   build/); BENCH_BUS= and BROKER= name them one by one.
set -u
# shellcheck source=scripts/bench-lib.sh
. "$(dirname "$0")/bench-lib.sh"

SUBS="1000,10000,100000,1000000" HISTS="100,0" RATES="0,20000" REPS=3 SOCKETS=8
TRANSPORT=tcp WARMUP=1 DURATION=5 SETTLE=3 BCPU="" LCPUS="" ACTIVE=0
while [ $# -gt 0 ]; do
    case $1 in
    --subs) SUBS=$2; shift 2 ;;
    --history) HISTS=$2; shift 2 ;;
    --rates) RATES=$2; shift 2 ;;
    --reps) REPS=$2; shift 2 ;;
    --sockets) SOCKETS=$2; shift 2 ;;
    --transport) TRANSPORT=$2; shift 2 ;;
    --warmup) WARMUP=$2; shift 2 ;;
    --duration) DURATION=$2; shift 2 ;;
    --settle) SETTLE=$2; shift 2 ;;
    --active) ACTIVE=$2; shift 2 ;;
    --broker-cpu) BCPU=$2; shift 2 ;;
    --load-cpus) LCPUS=$2; shift 2 ;;
    -h|--help) sed -n '2,35p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench-broker.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done
case $TRANSPORT in tcp|ipc) ;; *) echo "bench-broker.sh: --transport tcp or ipc" >&2; exit 2 ;; esac

bench_init broker
BUILD_DIR=${ZWSD_BUILD:-$REPO/build}
BUS=${BENCH_BUS:-$BUILD_DIR/bench-bus}
BROKER=${BROKER:-$BUILD_DIR/zwsd-broker}
for b in "$BUS" "$BROKER"; do
    [ -x "$b" ] || { echo "bench-broker.sh: $b not built (make, or set ZWSD_BUILD)" >&2; exit 2; }
done
command -v taskset > /dev/null || { echo "bench-broker.sh: taskset (util-linux) is missing" >&2; exit 2; }
NCPU=$(nproc)
[ -n "$BCPU" ] || BCPU=$((NCPU - 1))
if [ -z "$LCPUS" ]; then
    if [ "$NCPU" -gt 2 ]; then LCPUS="0-$((NCPU - 2))"; else LCPUS=0; fi
fi
[ "$NCPU" -gt 1 ] || echo "# warning: one CPU: the load shares the broker's core" >&2

# The cpuN line of /proc/stat: "busy total steal" in clock ticks. busy: user, nice and
# system, the process time the broker's own ticks are part of (irq and softirq are left
# out: they are mostly the loopback traffic's own); steal: time the hypervisor gave the
# core to another guest.
core_ticks() {
    awk -v c="cpu$1" '$1 == c { b = $2 + $3 + $4; print b, b + $5 + $6 + $7 + $8 + $9, $9 }' /proc/stat
}

# A fresh broker, pinned; returns once it has bound both endpoints (its "broker ready" line).
start_broker() {
    local hist=$1 i p1 p2
    if [ "$TRANSPORT" = tcp ]; then
        p1=$(bench_free_port) || return 1
        p2=$(bench_free_port) || return 1
        while [ "$p2" = "$p1" ]; do p2=$(bench_free_port) || return 1; done
        PUB_EP="tcp://127.0.0.1:$p1" SUB_EP="tcp://127.0.0.1:$p2"
    else
        rm -f "$TMPD/pub" "$TMPD/sub"
        PUB_EP="ipc://$TMPD/pub" SUB_EP="ipc://$TMPD/sub"
    fi
    BROKER_CMD="taskset -c $BCPU $BROKER --pub $PUB_EP --sub $SUB_EP --history-size $hist"
    # shellcheck disable=SC2086  # BROKER_CMD: words
    $BROKER_CMD > "$TMPD/broker.log" 2>&1 &
    ZPID=$!
    for i in $(seq 100); do
        grep -q 'broker ready' "$TMPD/broker.log" 2>/dev/null && return 0
        if ! kill -0 "$ZPID" 2>/dev/null; then
            echo "bench-broker.sh: the broker exited:" >&2; cat "$TMPD/broker.log" >&2; ZPID=""
            return 1
        fi
        sleep 0.05
    done
    echo "bench-broker.sh: the broker was not ready in 5 s:" >&2; cat "$TMPD/broker.log" >&2
    return 1
}

NRUNS=$(( REPS * $(echo "$HISTS" | tr ',' '\n' | wc -l) * $(echo "$SUBS" | tr ',' '\n' | wc -l) \
          * $(echo "$RATES" | tr ',' '\n' | wc -l) ))
echo "# broker pinned to CPU $BCPU, bench-bus (publisher, subscriber) to CPU $LCPUS, $TRANSPORT,"
echo "# $SOCKETS SUB sockets, 120-byte chats round-robin to $([ "$ACTIVE" = 0 ] && echo "every subscribed user" \
     || echo "the first $ACTIVE subscribed users"), 1 per ZeroMQ message,"
echo "# ${WARMUP} s warmup, ${DURATION} s window, ${SETTLE} s settle; $NRUNS runs"
echo "# load average at the start: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "+ $BUS --pub EP --sub EP --broker-pid PID --rate R --users N --sockets $SOCKETS --settle $SETTLE" \
     "$([ "$ACTIVE" != 0 ] && echo "--active $ACTIVE ")--warmup $WARMUP --duration $DURATION (under taskset -c $LCPUS), one fresh broker per run:"
RESULTS=$TMPD/results RC=0 RUN=0 T0=$(date +%s)
: > "$RESULTS"
for rep in $(seq "$REPS"); do
    for h in ${HISTS//,/ }; do
        for n in ${SUBS//,/ }; do
            for r in ${RATES//,/ }; do
                RUN=$((RUN + 1))
                start_broker "$h" || { RC=1; continue; }
                [ "$RUN" = 1 ] && echo "+ $BROKER_CMD &"
                load=$(cut -d' ' -f1 /proc/loadavg)
                read -r cb0 ct0 cs0 < <(core_ticks "$BCPU")
                out=$(taskset -c "$LCPUS" "$BUS" --pub "$PUB_EP" --sub "$SUB_EP" --broker-pid "$ZPID" \
                      --rate "$r" --users "$n" --active "$([ "$ACTIVE" -lt "$n" ] && echo "$ACTIVE" || echo 0)" \
                      --sockets "$SOCKETS" --settle "$SETTLE" \
                      --warmup "$WARMUP" --duration "$DURATION" 2>&1)
                rc=$?
                read -r cb1 ct1 cs1 < <(core_ticks "$BCPU")
                bt=$(sed 's/.*) //' /proc/"$ZPID"/stat 2>/dev/null | awk '{ print $12 + $13 }')
                bench_stop_zwsd
                other=$(awk -v b="$((cb1 - cb0))" -v t="$((ct1 - ct0))" -v m="${bt:-0}" \
                        'BEGIN { o = t > 0 ? 100 * (b - m) / t : 0; printf "%.0f", o < 0 ? 0 : o }')
                steal=$(awk -v s="$((cs1 - cs0))" -v t="$((ct1 - ct0))" 'BEGIN { printf "%.0f", (t > 0 ? 100 * s / t : 0) }')
                line=$(echo "$out" | grep '^BENCH ')
                if [ "$rc" != 0 ] || [ -z "$line" ]; then
                    echo "bench-broker.sh: run $RUN (history $h, $n subscriptions, rate $r) exited $rc:" >&2
                    echo "$out" | grep -v '^BENCH ' >&2
                    RC=1
                fi
                [ -n "$line" ] || continue
                line="$line history=$h rep=$rep load1=$load other_pct=$other steal_pct=$steal transport=$TRANSPORT rc=$rc"
                echo "$line" >> "$RESULTS"
                echo "$line" | awk -v run="$RUN/$NRUNS" '
                    function kv(k,   i, p) { for (i = 1; i <= NF; i++) { p = index($i, "=")
                        if (substr($i, 1, p - 1) == k) return substr($i, p + 1) } return "" }
                    { printf "# run %s: history %s, %s subs, rate %s, rep %s: subscribed in %s s, " \
                             "broker +%d kB; %s chats/s, broker %s us/chat, p50 %s us, p99 %s us, " \
                             "load %s, other on its core %s %%, steal %s %%\n", run, kv("history"), kv("users"),
                             kv("rate") == 0 ? "max" : kv("rate"), kv("rep"), kv("subscribe_s"),
                             kv("broker_rss_kb_subscribed") - kv("broker_rss_kb_before"),
                             kv("chats_per_s"), kv("broker_cpu_us_per_chat"), kv("p50_us"),
                             kv("p99_us"), kv("load1"), kv("other_pct"), kv("steal_pct") }'
            done
        done
    done
done
echo "# load average at the end: $(cut -d' ' -f1-3 /proc/loadavg); $(( ($(date +%s) - T0 + 30) / 60 )) min"
echo

awk -v rates="$RATES" '
    function kv(k,   i, p) { for (i = 1; i <= NF; i++) { p = index($i, "=")
        if (substr($i, 1, p - 1) == k) return substr($i, p + 1) } return "" }
    function add(key, v) { vals[key] = (key in vals) ? vals[key] " " v : v }
    # median, min and max of the space-separated list at key
    function stat(key,   a, n, i, j, t) {
        n = split(vals[key], a, " ")
        for (i = 2; i <= n; i++) { t = a[i] + 0; for (j = i - 1; j >= 1 && a[j] + 0 > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
        MED = n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2; MIN = a[1]; MAX = a[n]; N = n
        return n }
    function commas(x,   s, neg) { x = sprintf("%.0f", x); neg = x < 0; if (neg) x = -x; s = ""
        while (length(x) > 3) { s = "," substr(x, length(x) - 2) s; x = substr(x, 1, length(x) - 3) }
        return (neg ? "-" : "") x s }
    function fmt(v) { return v >= 1000 ? commas(v) : v >= 100 ? sprintf("%.0f", v) : v >= 10 ? sprintf("%.1f", v) : sprintf("%.2f", v) }
    function cell(key) { if (!(key in vals) || !stat(key)) return "–"
        return N == 1 ? fmt(MED) : fmt(MED) " (" fmt(MIN) "–" fmt(MAX) ")" }
    {
        n = kv("users"); h = kv("history"); r = kv("rate"); act = kv("active")
        if (!(n in seen_n)) { seen_n[n] = 1; ns[++nn] = n }
        if (act != n) label[n] = commas(n) " (" commas(act) " active)"
        if (!(h in seen_h)) { seen_h[h] = 1; hs[++nh] = h }
        # memory and subscribing: no traffic yet, so every run counts, whatever H and R
        add("sub_s," n, kv("subscribe_s"))
        add("sub_rate," n, n / (kv("subscribe_s") > 0 ? kv("subscribe_s") : 1e-3))
        add("sub_cpu," n, kv("broker_cpu_ms_at_sync"))
        add("before," n, kv("broker_rss_kb_before") / 1024)
        add("after," n, kv("broker_rss_kb_subscribed") / 1024)
        add("per_sub," n, (kv("broker_rss_kb_subscribed") - kv("broker_rss_kb_before")) * 1024 / n)
        add("hwm," n, kv("broker_hwm_kb_subscribed") / 1024)
        add("subproc," n, kv("sub_rss_kb_subscribed") / 1024)
        k = h "," n "," r
        add("cps," k, kv("chats_per_s")); add("bus," k, kv("broker_cpu_us_per_chat"))
        add("busy," k, kv("broker_cpu_ms") / (kv("window_s") * 10))
        add("p50," k, kv("p50_us") / 1000); add("p99," k, kv("p99_us") / 1000)
        if (kv("p99_us") + 0 >= 199999) top = 1
        add("end," k, kv("broker_rss_kb_end") / 1024)
        add("load", kv("load1")); add("other", kv("other_pct")); add("steal", kv("steal_pct") + 0); lost += kv("lost"); runs++
        if (kv("rc") != 0) bad++
    }
    END {
        if (!runs) { print "no results"; exit }
        print "### Subscribing and memory (every run: before any traffic)"
        print ""
        print "| subscriptions | time to subscribe, s | subscriptions/s | broker CPU until then, ms | broker RSS before, MiB | after, MiB | **broker B per subscription** | broker peak (VmHWM), MiB | subscriber process RSS, MiB |"
        print "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
        for (i = 1; i <= nn; i++) { n = ns[i]
            printf "| %s | %s | %s | %s | %s | %s | **%s** | %s | %s |\n", commas(n), cell("sub_s," n),
                cell("sub_rate," n), cell("sub_cpu," n), cell("before," n), cell("after," n),
                cell("per_sub," n), cell("hwm," n), cell("subproc," n) }
        print ""
        nr = split(rates, rr, ",")
        for (j = 1; j <= nr; j++) {
            r = rr[j]
            if (r == 0) {
                print "### Saturation: 1:1 chats routed by the broker on one core (closed loop, 4,096 in flight)"
                print ""
                print "| --history-size | subscriptions | chats/s routed | broker CPU µs/chat | broker core busy % | 1e6 ÷ µs/chat | p50 ms | p99 ms | broker RSS at the end, MiB |"
                print "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
            } else {
                printf "### %s chats/s offered: latency of the publish → broker → subscribe hop\n\n", commas(r)
                print "| --history-size | subscriptions | chats/s routed | broker CPU µs/chat | p50 ms | p99 ms | broker RSS at the end, MiB |"
                print "|---:|---:|---:|---:|---:|---:|---:|"
            }
            for (a = 1; a <= nh; a++) for (i = 1; i <= nn; i++) {
                k = hs[a] "," ns[i] "," r
                if (!(("cps," k) in vals)) continue
                nl = (ns[i] in label) ? label[ns[i]] : commas(ns[i])
                cap = "–"
                if (stat("bus," k) && MED > 0) cap = commas(1e6 / MED)
                if (r == 0)
                    printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", hs[a], nl, cell("cps," k),
                        cell("bus," k), cell("busy," k), cap, cell("p50," k), cell("p99," k), cell("end," k)
                else
                    printf "| %s | %s | %s | %s | %s | %s | %s |\n", hs[a], nl, cell("cps," k),
                        cell("bus," k), cell("p50," k), cell("p99," k), cell("end," k)
            }
            print ""
        }
        if (top) print "A p99 of 200 ms is the top of bench-bus'"'"'s latency histogram: 200 ms or more.\n"
        stat("load"); l = sprintf("%.2f–%.2f (median %.2f)", MIN, MAX, MED)
        stat("other")
        printf "%d runs, %d failed, %d chats lost. Load average (1 min) when each run started: %s; other work on the\n", runs, bad, lost, l
        printf "broker core during a run: median %s %%, at most %s %%", MED, MAX
        stat("steal"); printf "; stolen by the hypervisor: median %s %%, at most %s %%.\n", MED, MAX
        print "Cells: median (min–max) of the repetitions."
    }' "$RESULTS"
echo
cat "$RESULTS"
[ -s "$RESULTS" ] || RC=1
exit "$RC"
