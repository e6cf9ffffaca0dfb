#!/bin/bash
# bench-group.sh — zwsd group fan-out: time until the LAST member has a group message.
#
# Starts build/zwsd (W workers, free loopback port, temp runtime dir, no API listener); zwsd-loadgen
# connects M members (spread over its processes and so over the server's workers), each joins the
# group and waits for its "joined" ack; one more connection then sends C group messages one at a
# time, each once the previous one has reached every member. Prints the median, p90 and max time
# to the last member, and server CPU per member delivery (utime+stime of every zwsd process, from
# /proc, over the sending phase). Stops everything it started, also on error or ^C.
#
# usage: scripts/bench-group.sh [--members M] [--workers W] [--procs P] [--count C]
#   defaults: 5000 members, 2 workers, 2 generator processes, 20 messages.
set -eu
# shellcheck source=scripts/bench-lib.sh
. "$(dirname "$0")/bench-lib.sh"

MEMBERS=5000 WORKERS=2 PROCS=2 COUNT=20
while [ $# -gt 0 ]; do
    case $1 in
    --members) MEMBERS=$2; shift 2 ;;
    --workers) WORKERS=$2; shift 2 ;;
    --procs) PROCS=$2; shift 2 ;;
    --count) COUNT=$2; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench-group.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done

bench_init
bench_start_zwsd "$WORKERS"

echo
set +e
bench_cmd "$LOADGEN" --url "$URL" --mode group --conns "$MEMBERS" --procs "$PROCS" --count "$COUNT" \
    --group benchg --server-pid "$ZPID" -v | tee "$TMPD/group.out"
RC=${PIPESTATUS[0]}
set -e
bench_stop_zwsd
[ "$RC" = 0 ] || echo "bench-group.sh: zwsd-loadgen exited $RC (a message missed members, or connections failed)" >&2

RES=$(sed -n 's/^RESULT //p' "$TMPD/group.out")
echo
echo "BENCH group members=$MEMBERS workers=$WORKERS $(echo "$RES" | tr ' ' '\n' | grep -E \
'^(count|completed|last_p50_us|last_p90_us|last_max_us|first_p50_us|member_p50_us|lost|gen_cpu_us_per_delivery|server_cpu_us_per_delivery)=' \
    | tr '\n' ' ')rc=$RC"
exit "$RC"
