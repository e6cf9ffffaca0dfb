#!/bin/bash
# bench-lib.sh — helpers shared by scripts/bench-*.sh; source it, do not run it.
#
# What it gives a bench script:
#   bench_init [broker]     temp dir, binaries, cleanup trap (every process we start dies with us);
#                           "broker": a bus-only bench that runs neither zwsd nor the generator
#   bench_start_zwsd W      build/zwsd with W workers on a free loopback port, temp runtime dir, no
#                           API listener; returns once a probe client got its welcome (ZPID, PORT, URL)
#   bench_start_server S W  the same for server S: zwsd (W workers, as above), relay
#                           (build/zwsd-relay, scripts/relay.c: one process, W ignored) or nchan
#                           (nginx + nchan, scripts/nchan.conf.in: a master and W workers, ZPID
#                           the master; ready once a probe's chat went through). LGPROTO: the
#                           generator options the server needs ("--proto nchan" or nothing)
#   bench_nchan_found       nginx and its nchan module are there (sets NGINX, NCHAN_MODULE);
#                           needs no bench_init, so bench-report.sh asks it too
#   bench_stop_zwsd         SIGTERM, then SIGKILL to the whole tree after 15 s (any server)
#   bench_tree PID          PID and all its descendants
#   bench_mem               "rss_kb pss_kb" summed over the zwsd tree; per-process lines on stderr
#   bench_cpu_ticks         utime+stime (clock ticks) summed over the zwsd tree
#   bench_cmd CMD...        print "+ CMD" (so the output shows exactly what ran), then run it
#   bench_kv KEY            the value of KEY in the RESULT line on stdin
#   ZWSD_BENCH_OPTS         set by bench_init: options every bench gives zwsd. The generator's
#                           thousands of connections come from a few loopback addresses, so a
#                           per-address admission cap (--max-conns-per-ip, where zwsd has it) is
#                           turned off: it would refuse the benchmark, not model real clients.
# Environment: ZWSD_BUILD (the build directory, default build), ZWSD, LOADGEN, RELAY, NGINX
# (binaries; default zwsd, zwsd-loadgen, zwsd-relay in ZWSD_BUILD, nginx on PATH or
# /usr/sbin/nginx), NCHAN_MODULE (ngx_nchan_module.so; default in nginx's --modules-path),
# BENCH_KEEP=1 keeps the temp dir (logs), BENCH_PORT forces the port.

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    echo "bench-lib.sh: helpers for the bench-*.sh scripts; nothing to run here" >&2
    exit 0
fi

bench_init() {
    local only=${1:-}
    REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
    local build=${ZWSD_BUILD:-$REPO/build}
    ZWSD=${ZWSD:-$build/zwsd}
    LOADGEN=${LOADGEN:-$build/zwsd-loadgen}
    RELAY=${RELAY:-$build/zwsd-relay}
    NGINX=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
    LGPROTO=""
    for b in "$ZWSD" "$LOADGEN"; do
        [ "$only" = broker ] && break
        [ -x "$b" ] || { echo "$(basename "$0"): $b not built (make, or set ZWSD_BUILD or ZWSD/LOADGEN)" >&2; exit 2; }
    done
    TMPD=$(mktemp -d /tmp/zwsd-bench.XXXXXX)
    ZPID="" LGPID=""
    # shellcheck disable=SC2034  # used by the scripts that source this file
    CLK_TCK=$(getconf CLK_TCK)
    # ZWSD_OPTS (environment): more zwsd flags, e.g. "--history-size 0" to measure history off
    ZWSD_BENCH_OPTS="${ZWSD_OPTS:-}"
    if [ "$only" != broker ] && "$ZWSD" --help 2>&1 | grep -q -- '--max-conns-per-ip'; then
        ZWSD_BENCH_OPTS="$ZWSD_BENCH_OPTS --max-conns-per-ip 0"
    fi
    trap bench_cleanup EXIT
    trap 'exit 130' INT TERM
    echo "# $(basename "$0") on $(nproc) cores, $(uname -r), $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    [ "$only" = broker ] && return 0
    echo "# zwsd: $ZWSD"
    echo "# loadgen: $LOADGEN"
}

bench_cmd() {
    echo "+ $*"
    "$@"
}

# PID and its descendants, parents first.
bench_tree() {
    local queue=("$1") i=0 p
    while [ "$i" -lt "${#queue[@]}" ]; do
        p=${queue[$i]}
        i=$((i + 1))
        [ -d "/proc/$p" ] || continue
        echo "$p"
        # shellcheck disable=SC2207
        queue+=($(cat /proc/"$p"/task/*/children 2>/dev/null))
    done
}

bench_mem() {
    local rss=0 pss=0 p r s comm
    for p in $(bench_tree "$ZPID"); do
        r=$(awk '/^VmRSS:/ {print $2}' /proc/"$p"/status 2>/dev/null)
        s=$(awk '/^Pss:/ {print $2}' /proc/"$p"/smaps_rollup 2>/dev/null)
        comm=$(cat /proc/"$p"/comm 2>/dev/null)
        [ -n "$r" ] || continue
        echo "    pid $p ($comm): VmRSS ${r} kB, Pss ${s:-?} kB" >&2
        rss=$((rss + r)); pss=$((pss + ${s:-0}))
    done
    echo "$rss $pss"
}

# bench_pids_ticks PID...: utime + stime of those processes, in clock ticks
bench_pids_ticks() {
    local sum=0 p t
    for p in "$@"; do
        [ -n "$p" ] || continue
        # fields after the ")" of comm: state is $1, so utime/stime are $12/$13
        t=$(sed 's/.*) //' /proc/"$p"/stat 2>/dev/null | awk '{print $12 + $13}')
        sum=$((sum + ${t:-0}))
    done
    echo "$sum"
}

bench_cpu_ticks() {
    # shellcheck disable=SC2046
    bench_pids_ticks $(bench_tree "$ZPID")
}

bench_free_port() {
    local p
    if [ -n "${BENCH_PORT:-}" ]; then echo "$BENCH_PORT"; return; fi
    # below the ephemeral range, so the generator's source ports never collide with it
    for _ in $(seq 200); do
        p=$((20000 + RANDOM % 10000))
        [ -z "$(ss -Htan "( sport = :$p )" 2>/dev/null)" ] && { echo "$p"; return; }
    done
    echo "bench: no free port" >&2; return 1
}

bench_start_zwsd() {
    bench_start_server zwsd "$1"
}

# bench_nchan_found: 0 if nginx ($NGINX) and its nchan module ($NCHAN_MODULE) are there, both
# set either way (for a message); silent.
bench_nchan_found() {
    local dir=""
    NGINX=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
    [ -x "$NGINX" ] && dir=$("$NGINX" -V 2>&1 | sed -n 's/.*--modules-path=\([^ ]*\).*/\1/p')
    NCHAN_MODULE=${NCHAN_MODULE:-${dir:-/usr/lib/nginx/modules}/ngx_nchan_module.so}
    [ -x "$NGINX" ] && [ -f "$NCHAN_MODULE" ]
}

# bench_nchan_conf W: scripts/nchan.conf.in for W workers on $PORT into $TMPD/nginx/nchan.conf;
# returns 2 (and says how to install them) if nginx or its nchan module is missing.
bench_nchan_conf() {
    local workers=$1 nofile
    if ! bench_nchan_found; then
        echo "bench: nginx ($NGINX) or its nchan module ($NCHAN_MODULE) is missing:" \
             "run scripts/deps.sh --bench" >&2
        return 2
    fi
    # every connection is a file in a worker: as many as the hard limit allows (which a
    # master run as root may raise the workers to), but not so many that each worker's
    # preallocated connection table weighs in the memory figures
    nofile=$(ulimit -Hn)
    { [ "$nofile" = unlimited ] || [ "$nofile" -gt 65536 ]; } && nofile=65536
    mkdir -p "$TMPD/nginx"
    sed -e "s|@MODULE@|$NCHAN_MODULE|" -e "s|@WORKERS@|$workers|" -e "s|@NOFILE@|$nofile|" \
        -e "s|@CONNS@|$((nofile - 64))|" -e "s|@PORT@|$PORT|" -e "s|@TMPD@|$TMPD/nginx|g" \
        "$REPO/scripts/nchan.conf.in" > "$TMPD/nginx/nchan.conf"
}

bench_start_server() {
    local server=$1 workers=$2 i probe
    PORT=$(bench_free_port)
    URL="ws://127.0.0.1:$PORT"
    LGPROTO=""
    # zwsd and the relay greet each client: one idle connection that got its welcome
    probe="--mode idle --conns 1 --duration 0.01"
    case $server in
    zwsd)
        mkdir -p "$TMPD/run"
        echo "+ $ZWSD --workers $workers --listen 127.0.0.1:$PORT --runtime-dir $TMPD/run --api-listen off" \
             "$ZWSD_BENCH_OPTS 2> $TMPD/zwsd.log &"
        # shellcheck disable=SC2086  # ZWSD_BENCH_OPTS: zero or more words
        "$ZWSD" --workers "$workers" --listen "127.0.0.1:$PORT" --runtime-dir "$TMPD/run" \
            --api-listen off $ZWSD_BENCH_OPTS > "$TMPD/zwsd.log" 2>&1 &
        ;;
    relay)
        [ -x "$RELAY" ] || { echo "bench: $RELAY not built (make, or set ZWSD_BUILD or RELAY)" >&2; return 2; }
        echo "+ $RELAY --listen 127.0.0.1:$PORT 2> $TMPD/zwsd.log &"
        "$RELAY" --listen "127.0.0.1:$PORT" > "$TMPD/zwsd.log" 2>&1 &
        ;;
    nchan)
        bench_nchan_conf "$workers" || return 2
        # shellcheck disable=SC2034  # used by the scripts that source this file
        LGPROTO="--proto nchan"
        # nchan greets nobody: two users chat for 50 ms and every message must arrive
        probe="--proto nchan --mode chat --conns 2 --rate 200 --warmup 0 --duration 0.05 --drain 1"
        echo "+ $NGINX -p $TMPD/nginx -c $TMPD/nginx/nchan.conf 2> $TMPD/zwsd.log &"
        "$NGINX" -p "$TMPD/nginx" -c "$TMPD/nginx/nchan.conf" > "$TMPD/zwsd.log" 2>&1 &
        ;;
    *) echo "bench: unknown server $server (zwsd, relay or nchan)" >&2; return 2 ;;
    esac
    ZPID=$!
    # Ready = a client gets its welcome (the broker route is live), or with nchan its messages,
    # not "the port listens".
    for i in $(seq 150); do
        if ! kill -0 "$ZPID" 2>/dev/null; then
            echo "bench: $server exited during startup; its log:" >&2
            tail -20 "$TMPD/zwsd.log" "$TMPD"/nginx/nginx-error.log >&2 2>/dev/null
            ZPID=""; return 1
        fi
        # shellcheck disable=SC2086  # probe: several words
        "$LOADGEN" --url "$URL" $probe --user-prefix benchprobe --timeout 1 > "$TMPD/probe.log" 2>&1 \
            && break
        [ "$i" = 150 ] && { echo "bench: $server not serving after 15 s; log:" >&2
            tail -20 "$TMPD/zwsd.log" "$TMPD"/nginx/nginx-error.log "$TMPD/probe.log" >&2 2>/dev/null; return 1; }
        sleep 0.1
    done
    echo "# $server pid $ZPID ready on $URL: $(bench_tree "$ZPID" | while read -r p; do
        printf '%s(%s) ' "$p" "$(cat /proc/"$p"/comm 2>/dev/null)"; done)"
}

bench_stop_zwsd() {
    [ -n "$ZPID" ] || return 0
    local tree i
    tree=$(bench_tree "$ZPID")
    kill -TERM "$ZPID" 2>/dev/null || true     # (set -e callers: it may be gone already)
    for i in $(seq 150); do
        kill -0 "$ZPID" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$ZPID" 2>/dev/null; then
        echo "bench: pid $ZPID did not stop within 15 s of SIGTERM; killing" >&2
        # shellcheck disable=SC2086  # one pid per word
        kill -KILL $tree 2>/dev/null || true
    fi
    wait "$ZPID" 2>/dev/null || true
    # nginx replaces a crashed worker and carries on: the run's figures (CPU of a changed
    # process tree, dropped connections) are off, so say it
    local crashes
    crashes=$(grep -cs 'exited on signal' "$TMPD/nginx/nginx-error.log" || true)
    [ "${crashes:-0}" = 0 ] || echo "bench: $crashes nginx worker(s) crashed during the run" \
        "(BENCH_KEEP=1 keeps $TMPD/nginx/nginx-error.log)" >&2
    # children that outlived the supervisor are a bug worth seeing
    for i in $tree; do
        if kill -0 "$i" 2>/dev/null; then
            echo "bench: pid $i ($(cat /proc/"$i"/comm 2>/dev/null)) outlived the supervisor; killing" >&2
            kill -KILL "$i" 2>/dev/null || true
        fi
    done
    ZPID=""
}

bench_cleanup() {
    local rc=$?
    if [ -n "$LGPID" ] && kill -0 "$LGPID" 2>/dev/null; then
        kill -TERM "$LGPID" 2>/dev/null; wait "$LGPID" 2>/dev/null || true
    fi
    bench_stop_zwsd
    if [ "${BENCH_KEEP:-0}" = 1 ]; then echo "# logs kept in $TMPD"; else rm -rf "$TMPD"; fi
    exit $rc
}

bench_kv() {
    tr ' ' '\n' | sed -n "s/^$1=//p" | head -1
}
