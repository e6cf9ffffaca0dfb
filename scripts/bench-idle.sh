#!/bin/bash
# bench-idle.sh — zwsd memory per idle connection.
#
# Starts build/zwsd (W workers, free loopback port, temp runtime dir, no API listener; or, with
# --server relay, the reference relay build/zwsd-relay; with --server nchan, nginx + nchan with
# W workers, scripts/nchan.conf.in, from scripts/deps.sh --bench), sums the RSS and PSS of the
# server and every child (zwsd: workers, broker; nginx: workers), opens N idle WebSocket
# connections with zwsd-loadgen (nchan: subscribers of /sub/<user>), waits until every welcome
# (nchan: every 101) is in, samples the sum again (three times, a second apart, so late
# allocations show) and prints total and per connection, net of the sum before.
# Stops everything it started, also on error or ^C.
#
# usage: scripts/bench-idle.sh [--conns N] [--workers W] [--procs P] [--connect-rate R]
#                              [--server zwsd|relay|nchan]
#   defaults: 10000 connections, 2 workers, 2 generator processes, 5000 connections/s, zwsd.
#   PSS splits shared pages among the processes that map them, so it does not count the pages the
#   forked workers share with the supervisor twice; RSS does. Both are printed.
set -eu
# shellcheck source=scripts/bench-lib.sh
. "$(dirname "$0")/bench-lib.sh"

CONNS=10000 WORKERS=2 PROCS=2 CRATE=5000 SERVER=zwsd
while [ $# -gt 0 ]; do
    case $1 in
    --conns) CONNS=$2; shift 2 ;;
    --workers) WORKERS=$2; shift 2 ;;
    --procs) PROCS=$2; shift 2 ;;
    --connect-rate) CRATE=$2; shift 2 ;;
    --server) SERVER=$2; shift 2 ;;
    -h|--help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench-idle.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done

bench_init
bench_start_server "$SERVER" "$WORKERS"

echo "# memory before connecting:"
read -r RSS0 PSS0 < <(bench_mem)
echo "  total VmRSS ${RSS0} kB, Pss ${PSS0} kB"

LGLOG=$TMPD/loadgen.log
echo "+ $LOADGEN --url $URL $LGPROTO --mode idle --conns $CONNS --procs $PROCS --connect-rate $CRATE --duration 0 > $LGLOG &"
# shellcheck disable=SC2086  # LGPROTO: zero or more words
"$LOADGEN" --url "$URL" $LGPROTO --mode idle --conns "$CONNS" --procs "$PROCS" --connect-rate "$CRATE" \
    --duration 0 > "$LGLOG" 2>&1 &
LGPID=$!

# Await the generator's "connected" line (every welcome in) or its exit.
until grep -q '^connected ' "$LGLOG" 2>/dev/null; do
    if ! kill -0 "$LGPID" 2>/dev/null; then
        echo "bench-idle.sh: zwsd-loadgen ended before connecting everything:" >&2; cat "$LGLOG" >&2; exit 1
    fi
    sleep 0.05
done
grep '^connected ' "$LGLOG"
if ! grep -q '^connected .* 0 failed$' "$LGLOG"; then
    echo "bench-idle.sh: some connections failed; the per-connection figure below is over the connected ones" >&2
fi
CONNECTED=$(sed -n 's|^connected \([0-9]*\)/.*|\1|p' "$LGLOG")

for i in 1 2 3; do
    echo "# memory with $CONNECTED connections, sample $i:"
    read -r RSS1 PSS1 < <(bench_mem)
    echo "  total VmRSS ${RSS1} kB, Pss ${PSS1} kB"
    [ "$i" = 3 ] || sleep 1
done

kill -TERM "$LGPID"
wait "$LGPID" && LGRC=0 || LGRC=$?
LGPID=""
grep -E '^(idle|RESULT)' "$LGLOG"
bench_stop_zwsd

[ "${CONNECTED:-0}" -gt 0 ] || { echo "bench-idle.sh: no connection" >&2; exit 1; }
RSS_PER=$(( (RSS1 - RSS0) * 1024 / CONNECTED ))
PSS_PER=$(( (PSS1 - PSS0) * 1024 / CONNECTED ))
echo
echo "$SERVER, $WORKERS workers, $CONNECTED idle connections:"
echo "  VmRSS sum: ${RSS0} kB before, ${RSS1} kB after = $((RSS1 - RSS0)) kB more, ${RSS_PER} B per connection"
echo "  Pss sum:   ${PSS0} kB before, ${PSS1} kB after = $((PSS1 - PSS0)) kB more, ${PSS_PER} B per connection"
echo "BENCH idle server=$SERVER workers=$WORKERS conns=$CONNECTED rss_before_kb=$RSS0 rss_after_kb=$RSS1" \
     "rss_per_conn_b=$RSS_PER pss_before_kb=$PSS0 pss_after_kb=$PSS1 pss_per_conn_b=$PSS_PER loadgen_rc=$LGRC"
exit "$LGRC"
