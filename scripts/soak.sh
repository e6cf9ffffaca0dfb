#!/bin/bash
# soak.sh — zwsd under load and faults (issue 14): a soak anyone can run, bounded in time.
#
# Starts its own build/zwsd (--workers W, free loopback ports, temp --runtime-dir, -v; its log
# lines stamped with the UTC time, HH:MM:SS.mmm, in $TMPD/zwsd.log) and zwsd-loadgen --mode soak:
# N users chatting at R msgs/s in all, every chat with an id, each user sending to user
# (i + N/2) mod N. Then, every INTERVAL seconds, one fault in turn:
#   worker   kill -9 of a random zwsd-worker
#   broker   kill -9 of the embedded zwsd-broker (a broker-down window is logged from just
#            before the kill until the new broker is reachable: its process exists and /healthz
#            on the API listener answers 200 after any 503)
#   hup      SIGHUP to the supervisor (reload)
#   usr2     SIGUSR2 to the supervisor (worker rotation)
#   rst      RST_N client connections closed abruptly (SO_LINGER 0), then reconnected
# Clients reconnect after a short randomized backoff and wait for their welcome before sending.
# At the end zwsd-loadgen joins every id's answer with what the receivers got and with the fault
# log and counts violations (zwsd-loadgen(1), VERIFICATION): (a) no answer, (b) more than one,
# (c) delivered but never received, (d) a false offline, (e) unavailable while the broker was up,
# (f) a duplicate delivery, (g) unavailable yet received, (u) another answer, (x) a delivery to
# the wrong user. zwsd-loadgen --verify $TMPD/records --faults $TMPD/faults.log judges kept
# records again.
#
# Resources: file descriptors (/proc/PID/fd) and VmRSS of the supervisor, the workers (summed)
# and the broker, and the broker's subscriptions (users, from GET /api/v1/online, which the
# broker answers from its subscription table) plus the sessions it counts, sampled
#   - "loaded": all N connected and idle, after a warm-up of chatting without faults, and again
#     after the soak once every connection is back and the counts stopped changing;
#   - "empty": before the generator connects and after it left (RSS there is shown, not judged).
# PASS: 0 violations, every connection back, every fault carried out, and every judged figure
# within +-5 % of its baseline. Exit 0 on PASS, 1 on FAIL, 2 on a usage error.
#
# usage: scripts/soak.sh [--short] [--duration S] [--users N] [--rate R] [--workers W]
#                        [--procs P] [--interval S] [--rst N] [--warmup S] [--keep] [--history]
#   defaults: 300 s, 2000 users, 2000 msgs/s, 2 workers, 2 generator processes, a fault every
#   4 s, RST of all N connections, 15 s warm-up. --short: 60 s, 5 s warm-up.
#   --keep (or SOAK_KEEP=1) keeps $TMPD: zwsd.log, faults.log, loadgen.out, violations.txt.
#   --history keeps history on (default: --history-size 0, so the broker's RSS can be judged;
#   with it, the store grows to --history-memory and the broker's loaded RSS is shown only).
# Environment: ZWSD, LOADGEN (binaries; default build/zwsd, build/zwsd-loadgen; BUILD=dir picks
# another build tree), BENCH_PORT (the WebSocket port).
# shellcheck disable=SC2154,SC2317  # S_* are set by sample() via printf -v; cleanup runs from the trap
set -u
# shellcheck source=scripts/bench-lib.sh
. "$(dirname "$0")/bench-lib.sh"     # bench_tree, bench_free_port, bench_kv

DURATION=300 USERS=2000 RATE=2000 WORKERS=2 PROCS=2 INTERVAL=4 RST_N="" WARMUP=15 KEEP=${SOAK_KEEP:-0}
HISTORY=0
while [ $# -gt 0 ]; do
    case $1 in
    --short) DURATION=60; WARMUP=5; shift ;;
    --duration) DURATION=$2; shift 2 ;;
    --users) USERS=$2; shift 2 ;;
    --rate) RATE=$2; shift 2 ;;
    --workers) WORKERS=$2; shift 2 ;;
    --procs) PROCS=$2; shift 2 ;;
    --interval) INTERVAL=$2; shift 2 ;;
    --rst) RST_N=$2; shift 2 ;;
    --warmup) WARMUP=$2; shift 2 ;;
    --keep) KEEP=1; shift ;;
    --history) HISTORY=1; shift ;;
    -h|--help) sed -n '2,36p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "soak.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done
for v in DURATION USERS RATE WORKERS PROCS INTERVAL WARMUP; do
    case ${!v} in ''|*[!0-9]*) echo "soak.sh: --${v,,} wants a whole number" >&2; exit 2 ;; esac
done
RST_N=${RST_N:-$USERS}
{ [ "$INTERVAL" -ge 1 ] && [ "$DURATION" -ge 1 ]; } || { echo "soak.sh: duration and interval >= 1" >&2; exit 2; }

REPO=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
ZWSD=${ZWSD:-$REPO/$BUILD/zwsd}
LOADGEN=${LOADGEN:-$REPO/$BUILD/zwsd-loadgen}
for b in "$ZWSD" "$LOADGEN"; do
    [ -x "$b" ] || { echo "soak.sh: $b not built (make, or set BUILD/ZWSD/LOADGEN)" >&2; exit 2; }
done
TMPD=$(mktemp -d /tmp/zwsd-soak.XXXXXX)
ZPID="" LGPID="" TSPID=""
TTY=0; [ -t 1 ] && TTY=1

now_us() { echo "${EPOCHREALTIME/./}"; }
stamp() { date -u +%H:%M:%S.%3N; }
say() { [ "$TTY" = 1 ] && printf '\r\033[K'; echo "$(stamp) $*"; }

cleanup() {
    local rc=$? tree p
    exec 3>&- 2>/dev/null
    if [ -n "$LGPID" ] && kill -0 "$LGPID" 2>/dev/null; then
        kill -TERM "$LGPID" 2>/dev/null
        for _ in $(seq 50); do kill -0 "$LGPID" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$LGPID" 2>/dev/null
    fi
    if [ -n "$ZPID" ] && kill -0 "$ZPID" 2>/dev/null; then
        tree=$(bench_tree "$ZPID")
        kill -TERM "$ZPID" 2>/dev/null
        for _ in $(seq 150); do kill -0 "$ZPID" 2>/dev/null || break; sleep 0.1; done
        # shellcheck disable=SC2086  # one pid per word
        kill -0 "$ZPID" 2>/dev/null && { echo "soak.sh: zwsd ignored SIGTERM for 15 s; killing" >&2; kill -KILL $tree 2>/dev/null; }
        for p in $tree; do kill -0 "$p" 2>/dev/null && kill -KILL "$p" 2>/dev/null; done
    fi
    [ -n "$TSPID" ] && { for _ in $(seq 20); do kill -0 "$TSPID" 2>/dev/null || break; sleep 0.1; done; kill "$TSPID" 2>/dev/null; }
    if [ "$KEEP" = 1 ]; then echo "# kept: $TMPD"; else rm -rf "$TMPD"; fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ------------------------------------------------------------------ the daemon

PORT=$(bench_free_port) || exit 1
APORT=$(BENCH_PORT="" bench_free_port) || exit 1
while [ "$APORT" = "$PORT" ]; do APORT=$(BENCH_PORT="" bench_free_port) || exit 1; done
URL="ws://127.0.0.1:$PORT"
API="http://127.0.0.1:$APORT"
mkdir -p "$TMPD/run"
# something for SIGHUP to re-read; the flags given on the command line are the same values
printf 'rate-limit = 1000\nverbose = 1\n' > "$TMPD/zwsd.conf"
mkfifo "$TMPD/log.fifo"
perl -MTime::HiRes=time -MPOSIX=strftime -ne 'BEGIN { $| = 1 } my $t = time;
    printf "%s.%03d %s", strftime("%H:%M:%S", gmtime $t), ($t - int $t) * 1000, $_' \
    < "$TMPD/log.fifo" > "$TMPD/zwsd.log" &
TSPID=$!

echo "# soak.sh on $(nproc) cores, $(uname -r), $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "# $USERS users, $RATE msgs/s, $WORKERS workers, $PROCS generator processes, ${DURATION} s," \
     "a fault every $INTERVAL s, RST of $RST_N, warm-up $WARMUP s; temp dir $TMPD"
# the generator's thousands of connections come from few loopback addresses:
# no per-address cap (zwsd(8) --max-conns-per-ip)
PERIP=""
"$ZWSD" --help 2>&1 | grep -q -- --max-conns-per-ip && PERIP="--max-conns-per-ip 0"
# History fills the broker up to --history-memory as the soak goes: its RSS is
# judged without it (--history-size 0: numbered, nothing kept), or with
# --history shown only
[ "$HISTORY" = 0 ] && "$ZWSD" --help 2>&1 | grep -q -- --history-size \
    && PERIP="$PERIP --history-size 0"
echo "+ $ZWSD --workers $WORKERS --listen 127.0.0.1:$PORT --api-listen 127.0.0.1:$APORT" \
     "$PERIP --runtime-dir $TMPD/run --config $TMPD/zwsd.conf -v 2> zwsd.log"
# shellcheck disable=SC2086  # PERIP is empty or two words
"$ZWSD" --workers "$WORKERS" --listen "127.0.0.1:$PORT" --api-listen "127.0.0.1:$APORT" $PERIP \
    --runtime-dir "$TMPD/run" --config "$TMPD/zwsd.conf" -v > "$TMPD/log.fifo" 2>&1 &
ZPID=$!

healthz() { curl -s -o /dev/null -m 1 -w '%{http_code}' "$API/healthz" 2>/dev/null; }
for i in $(seq 150); do
    kill -0 "$ZPID" 2>/dev/null || { echo "soak.sh: zwsd exited during startup:" >&2; tail -20 "$TMPD/zwsd.log" >&2; ZPID=""; exit 1; }
    if [ "$(healthz)" = 200 ] && "$LOADGEN" --url "$URL" --conns 1 --user-prefix soakprobe --mode idle \
            --duration 0.01 --timeout 1 > /dev/null 2>&1; then
        break
    fi
    [ "$i" = 150 ] && { echo "soak.sh: zwsd not serving after 15 s:" >&2; tail -20 "$TMPD/zwsd.log" >&2; exit 1; }
    sleep 0.1
done

children() {   # pids of the supervisor's children with comm $1
    local p
    # shellcheck disable=SC2013  # the file is pids separated by spaces
    for p in $(cat /proc/"$ZPID"/task/*/children 2>/dev/null); do
        [ "$(cat /proc/"$p"/comm 2>/dev/null)" = "$1" ] && echo "$p"
    done
}

# ---------------------------------------------------------------- measurements

# sample NAME: fds and RSS by role, the broker's users and sessions -> S_<NAME>_<figure>
sample() {
    local name=$1 p comm fd rss sfd=0 srss=0 wfd=0 wrss=0 bfd=0 brss=0 nw=0 nb=0 online users sessions
    local detail=""
    for p in $(bench_tree "$ZPID"); do
        comm=$(cat /proc/"$p"/comm 2>/dev/null) || continue
        # shellcheck disable=SC2012  # the names are numbers
        fd=$(ls /proc/"$p"/fd 2>/dev/null | wc -l)
        rss=$(awk '/^VmRSS:/ {print $2}' /proc/"$p"/status 2>/dev/null)
        rss=${rss:-0}
        detail="$detail ${comm}[$p]:fd=$fd,rss=${rss}kB"
        case $comm in
        zwsd) sfd=$((sfd + fd)); srss=$((srss + rss)) ;;
        zwsd-worker) wfd=$((wfd + fd)); wrss=$((wrss + rss)); nw=$((nw + 1)) ;;
        zwsd-broker) bfd=$((bfd + fd)); brss=$((brss + rss)); nb=$((nb + 1)) ;;
        esac
    done
    online=$(curl -s -m 2 "$API/api/v1/online" 2>/dev/null)
    users=$(echo "$online" | sed -n 's/.*"users":\([0-9]*\).*/\1/p')
    sessions=$(echo "$online" | sed -n 's/.*"sessions":\([0-9]*\).*/\1/p')
    printf -v "S_${name}_sup_fd" %s "$sfd";     printf -v "S_${name}_sup_rss" %s "$srss"
    printf -v "S_${name}_worker_fd" %s "$wfd";  printf -v "S_${name}_worker_rss" %s "$wrss"
    printf -v "S_${name}_broker_fd" %s "$bfd";  printf -v "S_${name}_broker_rss" %s "$brss"
    printf -v "S_${name}_users" %s "${users:--1}"; printf -v "S_${name}_sessions" %s "${sessions:--1}"
    printf -v "S_${name}_procs" %s "$nw workers, $nb broker"
    echo "$(stamp) sample $name:$detail users=${users:-?} sessions=${sessions:-?}" >> "$TMPD/samples.log"
}

# settle NAME WANT_USERS: sample every second until fds, users and sessions are the same three
# times in a row and users = WANT_USERS (30 s at most), then keep it as NAME.
settle() {
    local name=$1 want=$2 key last="" same=0 i
    for i in $(seq 30); do
        sample tmp
        key="$S_tmp_sup_fd $S_tmp_worker_fd $S_tmp_broker_fd $S_tmp_users $S_tmp_sessions $S_tmp_procs"
        if [ "$key" = "$last" ] && [ "$S_tmp_users" = "$want" ]; then same=$((same + 1)); else same=0; fi
        last=$key
        [ "$same" -ge 2 ] && break
        sleep 1
    done
    sample "$name"
    [ "$same" -ge 2 ] || say "counts did not settle within 30 s ($name: $key)"
}

# ------------------------------------------------------------------ the load

settle empty0 0
FIFO=$TMPD/control
mkfifo "$FIFO"
: > "$TMPD/faults.log"
LGARGS=(--mode soak --url "$URL" --conns "$USERS" --procs "$PROCS" --rate "$RATE"
        --duration $((WARMUP + DURATION + 600)) --grace 5 --settle 30 --control "$FIFO"
        --faults "$TMPD/faults.log" --record "$TMPD/records" --examples 3)
echo "+ $LOADGEN ${LGARGS[*]} > loadgen.out"
"$LOADGEN" "${LGARGS[@]}" > "$TMPD/loadgen.out" 2> "$TMPD/loadgen.err" &
LGPID=$!
exec 3<> "$FIFO"         # read-write: never blocks, and what we write waits in the pipe

# wait_line REGEX SECONDS: until loadgen.out has a line matching REGEX (0) or time is up (1)
wait_line() {
    local i
    for i in $(seq $(($2 * 10))); do
        grep -qE "$1" "$TMPD/loadgen.out" && return 0
        kill -0 "$LGPID" 2>/dev/null || { grep -qE "$1" "$TMPD/loadgen.out"; return; }
        sleep 0.1
    done
    return 1
}
lg_fail() { say "soak.sh: $*"; tail -5 "$TMPD/loadgen.out" "$TMPD/loadgen.err" >&2; exit 1; }

wait_line '^soak: (ready|only)' 120 || lg_fail "the generator did not connect within 120 s"
grep -q '^soak: ready' "$TMPD/loadgen.out" || lg_fail "not every connection opened"
say "$USERS connections open; warm-up: ${WARMUP} s of chatting without faults"
echo start >&3
sleep "$WARMUP"
echo pause >&3
sleep 3                     # answers to the last chats of the warm-up
settle base "$USERS"
say "baseline: $S_base_procs; fds sup/workers/broker $S_base_sup_fd/$S_base_worker_fd/$S_base_broker_fd," \
    "RSS kB $S_base_sup_rss/$S_base_worker_rss/$S_base_broker_rss, users $S_base_users, sessions $S_base_sessions"

# ----------------------------------------------------------------- the faults

declare -A NF=([worker]=0 [broker]=0 [hup]=0 [usr2]=0 [rst]=0)
FAULT_ERRORS=0
fault() { echo "$(now_us) $*" >> "$TMPD/faults.log"; }

fault_worker() {
    local ws p
    mapfile -t ws < <(children zwsd-worker)
    [ "${#ws[@]}" -gt 0 ] || { say "fault worker: no worker to kill"; FAULT_ERRORS=$((FAULT_ERRORS + 1)); return; }
    p=${ws[$((RANDOM % ${#ws[@]}))]}
    fault worker-kill "pid=$p"
    kill -KILL "$p" 2>/dev/null
}

# The broker-down window: from just before the kill until the new broker is reachable, i.e. its
# process exists and /healthz answers 200 after the last 503 or refusal seen within 3 s of that.
fault_broker() {
    local old new="" t_kill t_new="" t_ok="" t0 code t
    old=$(children zwsd-broker | head -1)
    [ -n "$old" ] || { say "fault broker: no broker to kill"; FAULT_ERRORS=$((FAULT_ERRORS + 1)); return; }
    t_kill=$(now_us)
    fault broker-down "pid=$old"
    kill -KILL "$old" 2>/dev/null
    t0=${EPOCHSECONDS}
    while [ $((EPOCHSECONDS - t0)) -lt 15 ]; do
        t=$(now_us)
        if [ -z "$new" ]; then
            new=$(children zwsd-broker | grep -vx "$old" | head -1)
            [ -n "$new" ] && t_new=$t
        fi
        code=$(healthz)
        if [ "$code" = 200 ]; then
            [ -z "$t_ok" ] && t_ok=$t
        else
            t_ok=""
        fi
        [ -n "$t_new" ] && [ -n "$t_ok" ] && [ "$t" -ge $((t_new + 3000000)) ] && break
        sleep 0.05
    done
    if [ -z "$t_new" ] || [ -z "$t_ok" ]; then
        say "fault broker: no reachable broker within 15 s of the kill (new pid ${new:-none})"
        FAULT_ERRORS=$((FAULT_ERRORS + 1))
        fault broker-up "pid=${new:-none} never"
        return
    fi
    [ "$t_ok" -lt "$t_new" ] && t_ok=$t_new
    echo "$t_ok broker-up pid=$new after_ms=$(((t_ok - t_kill) / 1000))" >> "$TMPD/faults.log"
}

fault_rst() {
    local before
    before=$(grep -c '^soak: reset' "$TMPD/loadgen.out")
    fault rst "n=$RST_N"
    echo "rst $RST_N" >&3
    for _ in $(seq 50); do
        [ "$(grep -c '^soak: reset' "$TMPD/loadgen.out")" -gt "$before" ] && return
        sleep 0.1
    done
    say "fault rst: the generator did not confirm within 5 s"
}

inject() {
    case $1 in
    worker) fault_worker ;;
    broker) fault_broker ;;
    hup) fault sighup; kill -HUP "$ZPID" ;;
    usr2) fault sigusr2; kill -USR2 "$ZPID" ;;
    rst) fault_rst ;;
    esac
    NF[$1]=$((NF[$1] + 1))
}

progress() {
    local line el=$1
    line=$(grep '^progress' "$TMPD/loadgen.out" | tail -1)
    line="[soak ${el}/${DURATION} s] ${line#progress t=* } |"
    line="$line faults worker ${NF[worker]} broker ${NF[broker]} hup ${NF[hup]} usr2 ${NF[usr2]} rst ${NF[rst]}"
    if [ "$TTY" = 1 ]; then
        printf '\r\033[K%s' "$line"
    elif [ "$el" -ge "$NEXT_LINE" ]; then
        echo "$line"
        NEXT_LINE=$((el + 10))
    fi
}
NEXT_LINE=0

echo resume >&3
say "soak: $DURATION s of chatting with a fault every $INTERVAL s"
KINDS=(worker broker hup usr2 rst)
T_START=$EPOCHSECONDS
NEXT=$((T_START + INTERVAL))
K=0
LAST_P=-1
while :; do
    EL=$((EPOCHSECONDS - T_START))
    [ "$EL" -ge "$DURATION" ] && break
    kill -0 "$LGPID" 2>/dev/null || lg_fail "the generator exited early"
    kill -0 "$ZPID" 2>/dev/null || { say "soak.sh: zwsd exited"; tail -20 "$TMPD/zwsd.log" >&2; ZPID=""; exit 1; }
    if [ "$EPOCHSECONDS" -ge "$NEXT" ]; then
        inject "${KINDS[$((K % ${#KINDS[@]}))]}"
        K=$((K + 1))
        NEXT=$((NEXT + INTERVAL))
        [ "$NEXT" -le "$EPOCHSECONDS" ] && NEXT=$((EPOCHSECONDS + 1))
    fi
    [ "$EL" != "$LAST_P" ] && { progress "$EL"; LAST_P=$EL; }
    sleep 0.2
done
[ "$TTY" = 1 ] && echo

# ------------------------------------------------------------------ the end

echo stop >&3
say "load stopped; waiting for the last answers and for every connection to be back"
wait_line '^soak: (settled|not settled)' 60 || lg_fail "the generator did not settle within 60 s"
SETTLED=1
grep -q '^soak: not settled' "$TMPD/loadgen.out" && SETTLED=0
settle after "$USERS"
echo end >&3
for _ in $(seq 3000); do kill -0 "$LGPID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$LGPID" 2>/dev/null && lg_fail "the generator did not finish its verdict within 300 s"
wait "$LGPID"; LGRC=$?; LGPID=""
settle empty1 0
[ "$KEEP" = 1 ] && cp "$TMPD/records/violations.txt" "$TMPD/" 2>/dev/null

# ------------------------------------------------------------------ the summary

RES=$(sed -n 's/^RESULT //p' "$TMPD/loadgen.out")
kv() { echo "$RES" | bench_kv "$1"; }
echo
echo "== zwsd-loadgen's verdict"
sed -n '/^soak: [0-9]* chats sent/,/^RESULT/p' "$TMPD/loadgen.out" | grep -v '^RESULT'
echo
echo "== faults injected: worker kill -9 ${NF[worker]}, broker kill -9 ${NF[broker]}, SIGHUP ${NF[hup]}," \
     "SIGUSR2 ${NF[usr2]}, RST of $RST_N connections ${NF[rst]}; faults that could not be carried out: $FAULT_ERRORS"
grep broker-up "$TMPD/faults.log" | sed 's/.*after_ms=\([0-9]*\).*/\1/' | sort -n | awk '
    { a[NR] = $1 } END { if (NR) printf "   broker reachable again after (ms): min %d, median %d, max %d\n", a[1], a[int((NR + 1) / 2)], a[NR] }'
echo "   zwsd log: $(grep -c 'killed by signal' "$TMPD/zwsd.log") deaths by signal logged," \
     "$(grep -c 'rotation done' "$TMPD/zwsd.log") rotations done, $(grep -c 'reloaded' "$TMPD/zwsd.log") reloads," \
     "$(grep -c '^[0-9:.]* <3>' "$TMPD/zwsd.log") error lines"

FAIL=0
WHY=()
# row LABEL BEFORE AFTER JUDGED: one line "before -> after (+x.x %)", judged against +-5 %
row() {
    local label=$1 b=$2 a=$3 judged=$4 pct verdict
    pct=$(awk -v b="$b" -v a="$a" 'BEGIN { if (b == a) print "0.0"; else if (b == 0) print "inf";
                                           else printf "%+.1f", (a - b) * 100 / b }')
    verdict=ok
    if [ "$b" -lt 0 ] || [ "$a" -lt 0 ]; then verdict="NOT MEASURED"; pct="?"; fi
    if [ "$judged" = 1 ] && [ "$verdict" = ok ] && awk -v p="$pct" 'BEGIN { exit !(p == "inf" || p > 5 || p < -5) }'; then
        verdict="OUT OF +-5 %"
    fi
    [ "$judged" = 0 ] && verdict="(shown)"
    [ "$judged" = 1 ] && [ "$verdict" != ok ] && { FAIL=1; WHY+=("$label $verdict"); }
    printf '   %-34s %10s -> %-10s %7s %%  %s\n' "$label" "$b" "$a" "$pct" "$verdict"
}
echo
echo "== resources, loaded (all $USERS connected, idle): baseline after the warm-up -> after the soak"
echo "   processes: $S_base_procs -> $S_after_procs"
for f in sup_fd worker_fd broker_fd sup_rss worker_rss broker_rss users sessions; do
    b="S_base_$f"; a="S_after_$f"
    j=1; [ "$f" = broker_rss ] && [ "$HISTORY" = 1 ] && j=0
    row "$f$(case $f in *rss) echo " (kB)";; users) echo " (broker subscriptions)";; esac)" "${!b}" "${!a}" "$j"
done
echo "== resources, empty (no client): before the generator -> after it left"
for f in sup_fd worker_fd broker_fd users sup_rss worker_rss broker_rss; do
    b="S_empty0_$f"; a="S_empty1_$f"
    j=1; case $f in *rss) j=0 ;; esac
    row "$f$(case $f in *rss) echo " (kB)";; users) echo " (broker subscriptions)";; esac)" "${!b}" "${!a}" "$j"
done
[ "$S_empty1_sessions" = 0 ] || { FAIL=1; WHY+=("sessions after the generator left: $S_empty1_sessions"); }

V=$(kv violations)
[ -n "$V" ] || { FAIL=1; WHY+=("no verdict from zwsd-loadgen (exit $LGRC)"); V="?"; }
[ "$V" = 0 ] || { FAIL=1; WHY+=("$V violations"); }
[ "$SETTLED" = 1 ] || { FAIL=1; WHY+=("not every connection came back"); }
[ "$FAULT_ERRORS" = 0 ] || { FAIL=1; WHY+=("$FAULT_ERRORS faults not carried out"); }
echo
echo "SOAK duration_s=$DURATION users=$USERS rate=$RATE workers=$WORKERS sent=$(kv sent)" \
     "delivered=$(kv delivered) offline=$(kv offline) unavailable=$(kv unavailable)" \
     "other=$(kv other_answers) unanswered=$(kv unanswered) violations=$V" \
     "$(echo "$RES" | tr ' ' '\n' | grep '^v_' | tr '\n' ' ')faults_worker=${NF[worker]}" \
     "faults_broker=${NF[broker]} faults_hup=${NF[hup]} faults_usr2=${NF[usr2]} faults_rst=${NF[rst]}"
if [ "$FAIL" = 0 ]; then
    echo "PASS: 0 violations, every connection back, every figure within +-5 % of its baseline"
else
    echo "FAIL: $(IFS=';'; echo "${WHY[*]}")"
    [ "$KEEP" = 1 ] || echo "   (run with --keep to keep the logs and violations.txt)"
fi
exit "$FAIL"
