#!/bin/bash
# bench-report.sh — `make bench`: the standard scenarios in one run, then the report.
#
# Runs these one after the other, each against a server that its script starts and stops
# (free loopback ports, a temp runtime dir: bench-lib.sh), zwsd with 2 workers, the generator
# (zwsd-loadgen, 2 processes) on the same cores:
#   idle    bench-idle.sh: memory per idle connection at 1k, 5k, 10k connections
#   sweep   bench-chat.sh --rates 5k..200k --until-saturated: 1:1 open loop, 1,000 users,
#           latency p50/p99 and server CPU per delivered message at each offered rate
#   closed  bench-chat.sh --inflight 8: the closed-loop throughput
#   group   bench-group.sh: fan-out to 10,000 members, CPU per member delivery
#   api     bench-api.sh: HTTP API pushes
#   bus     bench-bus.sh: the bus hop alone (publisher -> zwsd-broker -> subscriber), rates
#           5k/10k/20k/50k/max x 1/2/4/8 chats per ZeroMQ message
# idle, sweep and closed also run against the reference relay (zwsd-relay, scripts/relay.c: one
# process, read, look up, one write) and, when nginx and its nchan module are installed
# (scripts/deps.sh --bench; otherwise one line says they are skipped), against nginx + nchan
# (scripts/nchan.conf.in, 2 workers, zwsd-loadgen --proto nchan), with the same options, for
# the comparison columns and the zwsd ÷ relay and zwsd ÷ nchan ratios. Every "BENCH" line goes
# to bench/results.txt with a META line (date, commit, mode, the box's own load before and
# after); the plots go to bench/plots/*.png (gnuplot) and the tables into BENCHMARKS.md between
# "<!-- bench:begin" and "<!-- bench:end -->" (appended if missing); the rest of the file stays.
# A table has nchan columns only if the results have nchan lines. A progress line per step and
# per run. A failed step is reported and the others still run; the exit status is then 1. Logs
# stay in a temp dir, named at the end. ZWSD_BUILD=DIR takes the binaries from DIR (default
# build; relative to the source tree), for every bench script this runs.
#
# usage: scripts/bench-report.sh [--quick] [--label TEXT] [--no-relay] [--no-nchan] [--only LIST]
#                                [--render FILE] [--md FILE] [--results FILE] [--plots DIR]
#   --quick         fewer points, 2 s windows: a few minutes, a smoke run
#   --label TEXT    a line under the report's title (say "smoke run on a busy shared box")
#   --no-relay      no relay runs
#   --no-nchan      no nginx + nchan runs
#   --only LIST     only these steps, comma-separated (idle,sweep,closed,group,api,bus)
#   --render FILE   run nothing: redraw plots and tables from an earlier results file
#   --md FILE       the report to update (default BENCHMARKS.md)
#   --results FILE  where a run writes its results (default bench/results.txt)
#   --plots DIR     where the plots go (default bench/plots; the report links them relative to it)
set -u
REPO=$(cd "$(dirname "$0")/.." && pwd)
cd "$REPO" || exit 2
QUICK=0 LABEL="" RELAY_TOO=1 NCHAN_TOO=1 ONLY="idle,sweep,closed,group,api,bus" RENDER="" MD=BENCHMARKS.md
RESULTS=bench/results.txt PLOTS=bench/plots
while [ $# -gt 0 ]; do
    case $1 in
    --quick) QUICK=1; shift ;;
    --label) LABEL=$2; shift 2 ;;
    --no-relay) RELAY_TOO=0; shift ;;
    --no-nchan) NCHAN_TOO=0; shift ;;
    --only) ONLY=$2; shift 2 ;;
    --render) RENDER=$2; shift 2 ;;
    --md) MD=$2; shift 2 ;;
    --results) RESULTS=$2; shift 2 ;;
    --plots) PLOTS=$2; shift 2 ;;
    -h|--help) sed -n '2,38p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench-report.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done
# the binaries, for the check below and (exported) for bench-lib.sh and bench-bus.sh
BUILD_DIR=$(cd "${ZWSD_BUILD:-build}" 2>/dev/null && pwd || echo "${ZWSD_BUILD:-build}")
export ZWSD_BUILD=$BUILD_DIR BENCH_BUS=${BENCH_BUS:-$BUILD_DIR/bench-bus} BROKER=${BROKER:-$BUILD_DIR/zwsd-broker}
# shellcheck source=scripts/bench-lib.sh  # for bench_nchan_found
. scripts/bench-lib.sh
KV='function kv(k,   i, n) { for (i = 1; i <= NF; i++) { n = index($i, "=")
        if (n && substr($i, 1, n - 1) == k) return substr($i, n + 1) } return "" }'

# ---- the box ----------------------------------------------------------------------------------
# busy_pct: share of all cores busy over 1 s while nothing of ours runs (other users' load).
busy_pct() {
    local a b
    a=$(awk '/^cpu / { print $2+$3+$4+$6+$7+$8, $5 }' /proc/stat)
    sleep 1
    b=$(awk '/^cpu / { print $2+$3+$4+$6+$7+$8, $5 }' /proc/stat)
    echo "$a $b" | awk '{ d = ($3 - $1) + ($4 - $2); printf "%.0f", (d > 0 ? 100 * ($3 - $1) / d : 0) }'
}

# ---- running the steps --------------------------------------------------------------------------
T0=$(date +%s) FAILED="" NSTEP=0 ISTEP=0
elapsed() { local s=$(( $(date +%s) - T0 )); printf '%d:%02d' $((s / 60)) $((s % 60)); }
wanted() { case ",$ONLY," in *",$1,"*) return 0 ;; *) return 1 ;; esac; }

# One line per finished run inside a step, from the scripts' own output.
progress_filter() {
    awk "$KV"'
    function ms(us) { return sprintf("%.2f ms", us / 1000) }
    /^RESULT mode=chat/ {
        printf "        %s msg/s %s: %.0f delivered/s, p50 %s, p99 %s, %s us server CPU per message, lost %s\n",
            kv("loop") == "open" ? kv("rate_target") : "closed loop", kv("loop") == "open" ? "offered" : "",
            kv("msgs_per_s"), ms(kv("p50_us")), ms(kv("p99_us")), kv("server_cpu_us_per_msg"), kv("lost")
        fflush() }
    /^BENCH idle/ { printf "        %s idle connections: %s B RSS, %s B PSS per connection\n",
                        kv("conns"), kv("rss_per_conn_b"), kv("pss_per_conn_b"); fflush() }
    /^BENCH group/ { printf "        last member p50 %s, %s us CPU per member delivery\n",
                         ms(kv("last_p50_us")), kv("server_cpu_us_per_delivery"); fflush() }
    /^BENCH api/ { printf "        %s pushes/s, p99 %s, %s us CPU per push\n", kv("pushes_per_s"),
                       ms(kv("p99_us")), kv("zwsd_cpu_us_per_push"); fflush() }
    /^BENCH bus/ { printf "        bus %s chats/s x%s: %s chats/s, hop %s us and %s context switches per chat, p99 %s\n",
                       kv("rate") == 0 ? "max" : kv("rate"), kv("batch"), kv("chats_per_s"),
                       kv("hop_cpu_us_per_chat"), kv("hop_cs_per_chat"), ms(kv("p99_us"))
                   fflush() }
    /did not keep up|the sweep ends/ { print "        " $0; fflush() }'
}

# step NAME ESTIMATE_S DESCRIPTION -- CMD...: run CMD, log it, keep its BENCH lines.
step() {
    local name=$1 est=$2 desc=$3 rc
    shift 4
    ISTEP=$((ISTEP + 1))
    echo "[$(elapsed)] $ISTEP/$NSTEP $desc (about ${est} s)"
    "$@" < /dev/null 2>&1 | tee "$LOGDIR/$name.log" | progress_filter
    rc=${PIPESTATUS[0]}
    grep '^BENCH ' "$LOGDIR/$name.log" >> "$LOGDIR/results.txt"
    if [ "$rc" != 0 ]; then
        echo "        FAILED (exit $rc): see $LOGDIR/$name.log"
        FAILED="$FAILED $name"
    fi
}

run_all() {
    local W=2 rates warm dur idle_z idle_r members count bus1 bus2 s
    if [ "$QUICK" = 1 ]; then
        rates=5000,20000,50000,100000 warm=1 dur=2 idle_z="1000 5000" idle_r="5000"
        members=2000 count=10 bus1="--rates 5000,20000,50000,0 --batch 1" bus2="--rates 20000 --batch 2,4,8"
    else
        rates=5000,10000,20000,30000,50000,75000,100000,150000,200000 warm=2 dur=10
        idle_z="1000 5000 10000" idle_r="1000 5000 10000" members=10000 count=20
        bus1="--rates 5000,10000,20000,50000,0 --batch 1,2,4,8" bus2=""
    fi
    if [ "$NCHAN_TOO" = 1 ] && { wanted idle || wanted sweep || wanted closed; } && ! bench_nchan_found; then
        echo "# nginx + nchan skipped: nginx ($NGINX) or its nchan module ($NCHAN_MODULE) is missing;" \
             "scripts/deps.sh --bench installs them"
        NCHAN_TOO=0
    fi
    local others=""     # the servers zwsd is compared with
    [ "$RELAY_TOO" = 1 ] && others="relay"
    [ "$NCHAN_TOO" = 1 ] && others="$others nchan"
    local servers="zwsd $others"
    local nrates; nrates=$(echo "$rates" | tr ',' '\n' | wc -l)
    NSTEP=0
    wanted idle && NSTEP=$((NSTEP + $(echo $idle_z | wc -w) + $(echo $others | wc -w) * $(echo $idle_r | wc -w)))
    wanted sweep && NSTEP=$((NSTEP + $(echo $servers | wc -w)))
    wanted closed && NSTEP=$((NSTEP + $(echo $servers | wc -w)))
    wanted group && NSTEP=$((NSTEP + 1))
    wanted api && NSTEP=$((NSTEP + 1))
    wanted bus && NSTEP=$((NSTEP + 1 + ( ${#bus2} > 0 ? 1 : 0 )))

    echo "# bench-report: $( [ "$QUICK" = 1 ] && echo quick || echo full ) run, $NSTEP steps; logs in $LOGDIR"
    BUSY0=$(busy_pct)
    echo "# the box before we start: $BUSY0 % of its $(nproc) cores busy with other work"
    LOAD0=$(cut -d' ' -f1-3 /proc/loadavg | tr ' ' /)
    if wanted idle; then
        for n in $idle_z; do
            step "idle-zwsd-$n" 8 "idle memory, zwsd, $n connections" -- scripts/bench-idle.sh --conns "$n" --workers $W
        done
        for s in $others; do
            for n in $idle_r; do
                step "idle-$s-$n" 6 "idle memory, $s, $n connections" -- scripts/bench-idle.sh --server "$s" --conns "$n" --workers $W
            done
        done
    fi
    if wanted sweep; then
        for s in $servers; do
            step "sweep-$s" $((nrates * (warm + dur + 3))) "1:1 open-loop sweep, $s, $rates msg/s until saturated" -- \
                scripts/bench-chat.sh --server "$s" --workers $W --rates "$rates" --until-saturated \
                --inflight 0 --warmup "$warm" --duration "$dur"
        done
    fi
    if wanted closed; then
        for s in $servers; do
            step "closed-$s" $((warm + dur + 4)) "1:1 closed loop, 8 in flight per sender, $s" -- \
                scripts/bench-chat.sh --server "$s" --workers $W --rate 0 --inflight 8 --warmup "$warm" --duration "$dur"
        done
    fi
    wanted group && step group $((count + 10)) "group fan-out, $members members, $count messages" -- \
        scripts/bench-group.sh --members "$members" --count "$count" --workers $W
    wanted api && step api $((dur + 4)) "HTTP API push, 100 users, 8 connections" -- \
        scripts/bench-api.sh --workers $W --warmup 1 --duration "$dur"
    if wanted bus; then
        # shellcheck disable=SC2086  # the option lists split on purpose
        step bus $(( ($(echo "$bus1" | awk '{ print split($2, a, ",") * split($4, b, ",") }')) * (dur / 2 + 4) )) \
            "bus hop only: publisher -> zwsd-broker -> subscriber, $bus1" -- \
            scripts/bench-bus.sh $bus1 --warmup 1 --duration "$(( dur < 5 ? dur : 5 ))"
        # shellcheck disable=SC2086
        [ -n "$bus2" ] && step bus-batch 20 "bus hop only, $bus2" -- \
            scripts/bench-bus.sh $bus2 --warmup 1 --duration "$dur"
    fi
    BUSY1=$(busy_pct)
    echo "# the box after: $BUSY1 % of its cores busy with other work"
    LOAD1=$(cut -d' ' -f1-3 /proc/loadavg | tr ' ' /)
    local commit dirty nginx=""
    commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
    # which nginx and nchan the nchan columns are, for the report
    if [ "$NCHAN_TOO" = 1 ]; then
        nginx="nginx=$("$NGINX" -v 2>&1 | sed -n 's|.*nginx/\([^ ]*\).*|\1|p')"
        nginx="$nginx nchan=$(dpkg-query -W -f '${Version}' libnginx-mod-nchan 2>/dev/null | sed 's/^[0-9]*://; s/[+-].*//')"
    fi
    dirty=$(GIT_OPTIONAL_LOCKS=0 git status --porcelain --untracked-files=no 2>/dev/null | head -1 | wc -l)
    {
        echo "META date=$(date -u +%Y-%m-%dT%H:%MZ) mode=$( [ "$QUICK" = 1 ] && echo quick || echo full )" \
             "commit=$commit dirty=$dirty nproc=$(nproc) kernel=$(uname -r) busy_before_pct=$BUSY0" \
             "busy_after_pct=$BUSY1 load_before=$LOAD0 load_after=$LOAD1 minutes=$(( ($(date +%s) - T0 + 30) / 60 ))" \
             "failed=$(echo $FAILED | tr ' ' ,)" $nginx
        [ -n "$LABEL" ] && echo "LABEL $LABEL"
        cat "$LOGDIR/results.txt"
    } > "$RESULTS"
    echo "[$(elapsed)] results in $RESULTS"
}

# ---- the report ---------------------------------------------------------------------------------
# tables RESULTS PLOTLINK: the markdown between the markers, on stdout, its images under
# PLOTLINK; data files for gnuplot in $DATA. The servers compared: the relay always, nchan if
# the results have it (older ones do not).
tables() {
    awk -v data="$DATA" -v res="$1" -v plots="$2" "$KV"'
    function num(x,   s, out) {         # 12345.6 -> 12,346
        s = sprintf("%.0f", x); out = ""
        while (length(s) > 3) { out = "," substr(s, length(s) - 2) out; s = substr(s, 1, length(s) - 3) }
        return s out }
    function msf(us) { if (us == "") return "–"; us += 0
        return sprintf(us >= 100000 ? "%.0f" : us >= 10000 ? "%.1f" : "%.2f", us / 1000) }
    function cell(v) { return v == "" ? "–" : v }
    function us1(v) { return v == "" ? "–" : sprintf("%.1f", v) }         # µs of CPU
    function cs2(v) { return v == "" ? "–" : sprintf("%.2f", v) }         # context switches
    function bytes(v) { return v == "" ? "–" : num(v) }
    /^META/ { for (i = 2; i <= NF; i++) { n = index($i, "="); meta[substr($i, 1, n - 1)] = substr($i, n + 1) } }
    /^LABEL / { label = substr($0, 7) }
    /^BENCH (chat|idle)/ && kv("server") == "nchan" { nchan = 1 }
    /^BENCH chat/ && kv("loop") == "open" {
        s = kv("server"); r = kv("rate_target") + 0; rates[r] = 1; key = s SUBSEP r
        sw_got[key] = kv("msgs_per_s"); sw_p50[key] = kv("p50_us"); sw_p99[key] = kv("p99_us")
        sw_cpu[key] = kv("server_cpu_us_per_msg") + 0; sw_lost[key] = kv("lost") + 0
        sw_ok[key] = kv("lost") + 0 == 0 && kv("msgs_per_s") + 0 >= 0.95 * r && kv("p50_us") + 0 <= 100000   # as bench-chat.sh
        if (kv("msgs_per_s") + 0 > 0)     # a run that delivered nothing has no point to plot
            print r, kv("msgs_per_s"), kv("p50_us") / 1000, kv("p99_us") / 1000, sw_cpu[key] < 0 ? "NaN" : kv("server_cpu_us_per_msg"), kv("kept_up") > (data "/sweep-" s ".dat") }
    /^BENCH chat/ && kv("loop") == "closed" {
        s = kv("server"); if (!(s in closed)) ncl++; closed[s] = 1; cl_got[s] = kv("msgs_per_s") + 0; cl_p50[s] = kv("p50_us"); cl_p99[s] = kv("p99_us")
        cl_cpu[s] = kv("server_cpu_us_per_msg"); cl_gen[s] = kv("gen_cpu_us_per_msg"); cl_lost[s] = kv("lost")
        cl_err[s] = kv("errors") }
    /^BENCH idle/ {
        s = kv("server"); if (s == "") s = "zwsd"; c = kv("conns") + 0; conns[c] = 1
        id_rss[s, c] = kv("rss_per_conn_b"); id_pss[s, c] = kv("pss_per_conn_b")
        id_add[s, c] = kv("rss_after_kb") - kv("rss_before_kb")
        print c, kv("rss_per_conn_b"), kv("pss_per_conn_b"), id_add[s, c] / 1024, (kv("pss_after_kb") - kv("pss_before_kb")) / 1024 > (data "/idle-" s ".dat") }
    /^BENCH group/ { ng++; gr[ng] = $0 }
    /^BENCH api/ { na++; ap[na] = $0 }
    /^BENCH bus/ {
        r = kv("rate") + 0; b = kv("batch") + 0; brate[r] = 1; bbatch[b] = 1; key = r SUBSEP b
        bus[key] = $0; bus_us[key] = kv("hop_cpu_us_per_chat") + 0; bus_cs[key] = kv("hop_cs_per_chat")
        if (r > 0) print r, kv("hop_cpu_us_per_chat"), kv("hop_cs_per_chat") > (data "/bus-" b ".dat")
        else print kv("chats_per_s"), kv("hop_cpu_us_per_chat"), kv("hop_cs_per_chat"), "max K=" b > (data "/bus-max.dat") }
    function sorted(arr, out,   k, n, i, j, t) {
        n = 0; for (k in arr) out[++n] = k + 0
        for (i = 2; i <= n; i++) { t = out[i]; for (j = i - 1; j > 0 && out[j] > t; j--) out[j + 1] = out[j]; out[j + 1] = t }
        return n }
    END {
        ns = split(nchan ? "zwsd relay nchan" : "zwsd relay", S, " ")
        print "## The latest `make bench` run (generated)"
        print ""
        printf "Generated by `make bench%s` (scripts/bench-report.sh) on %s from %s; everything\n", meta["mode"] == "quick" ? " BENCH_QUICK=1" : "", meta["date"], res
        print "between the bench markers is rewritten by the next run. Commit " meta["commit"] (meta["dirty"] == 1 ? " plus uncommitted changes" : "") ","
        printf "%s mode, %s cores, kernel %s, run time %s min. Other work on the box: %s %% of its cores busy\n", meta["mode"], meta["nproc"], meta["kernel"], meta["minutes"], meta["busy_before_pct"]
        printf "before the run, %s %% after (load average %s before, %s after).", meta["busy_after_pct"], meta["load_before"], meta["load_after"]
        if (meta["failed"] != "") printf " **Steps that failed: %s.**", meta["failed"]
        print ""
        if (label != "") { print ""; print "**" label "**" }
        if (meta["busy_before_pct"] + 0 > 10 || meta["busy_after_pct"] + 0 > 10) {
            print ""
            print "The box was not idle while this ran, so these are smoke figures: compare the ratios within this run,"
            print "not the absolute values with other runs." }
        print ""
        print "zwsd runs with 2 workers and its embedded broker; the relay is scripts/relay.c (one process: read, look up"
        print "the receiver, one write). The generator (zwsd-loadgen, 2 processes) shares the same cores. CPU is the"
        print "utime+stime of all server processes from /proc over the measurement window, per delivered message."
        if (nchan) {
            printf "nchan is nginx%s with the nchan module%s (scripts/nchan.conf.in): a master and 2 workers, memory\n", meta["nginx"] != "" ? " " meta["nginx"] : "", meta["nchan"] != "" ? " " meta["nchan"] : ""
            print "store, no history; each user one WebSocket that subscribes to its own channel and publishes to its peer'"'"'s"
            print "(zwsd-loadgen --proto nchan), an idle user a subscriber only." }
        n = sorted(rates, R)
        if (n) {
            print ""; print "### 1:1 chat, open loop, 1,000 users"; print ""
            printf "| offered msg/s |"; for (j = 1; j <= ns; j++) printf " %s delivered/s | p50 ms | p99 ms | CPU µs/msg |", S[j]
            for (j = 2; j <= ns; j++) printf " zwsd ÷ %s CPU |", S[j]; print ""
            printf "|---:|"; for (j = 1; j <= ns; j++) printf "---:|---:|---:|---:|"
            for (j = 2; j <= ns; j++) printf "---:|"; print ""
            for (i = 1; i <= n; i++) {
                r = R[i]; z = "zwsd" SUBSEP r
                printf "| %s |", num(r)
                for (j = 1; j <= ns; j++) { k = S[j] SUBSEP r
                    if ((k in sw_got) && sw_got[k] + 0 == 0) printf " not measured | – | – | – |"
                    else if (k in sw_got) printf " %s%s | %s | %s | %s |", num(sw_got[k]), sw_ok[k] == 1 ? "" : sw_lost[k] ? " (behind, " num(sw_lost[k]) " lost)" : " (behind)", msf(sw_p50[k]), msf(sw_p99[k]), sw_cpu[k] < 0 ? "n/a" : us1(sw_cpu[k])
                    else printf " – | – | – | – |" }
                for (j = 2; j <= ns; j++) { y = S[j] SUBSEP r
                    printf " %s |", (((z in sw_cpu) && (y in sw_cpu) && sw_cpu[y] > 0 && sw_cpu[z] > 0) ? sprintf("%.2f", sw_cpu[z] / sw_cpu[y]) : "–") }
                print "" }
            print ""
            print "\"(behind)\": under 95 % of the offered rate delivered in the window, messages lost, or a median latency"
            print "over 100 ms (a growing queue); the sweep stops after two such rates in a row. \"–\": not run. \"not"
            print "measured\": the run delivered nothing in its window (connections failed: a server that crashed, see its log)."
            print "\"n/a\" CPU: server processes died in the window (nginx replaces crashed workers), so /proc cannot tell."
            print ""
            print "![latency against offered rate](" plots "/chat-latency.png)"
            print "![server CPU per message against offered rate](" plots "/chat-cpu.png)" }
        if (ncl) {
            print ""; print "### 1:1 chat, closed loop (8 in flight per sender, 1,000 users)"; print ""
            print "| server | delivered msg/s | p50 ms | p99 ms | server CPU µs/msg | generator CPU µs/msg | lost | server errors |"
            print "|---|---:|---:|---:|---:|---:|---:|---:|"
            for (j = 1; j <= ns; j++) { s = S[j]; if (s in closed)
                printf "| %s | %s | %s | %s | %s | %s | %s | %s |\n", s, num(cl_got[s]), msf(cl_p50[s]), msf(cl_p99[s]), us1(cl_cpu[s]), us1(cl_gen[s]), num(cl_lost[s]), cell(cl_err[s]) }
            print ""
            print "lost: sent − received after the drain; server errors: error frames the server answered (zwsd: `unavailable`)."
            t = ""
            for (j = 2; j <= ns; j++) { s = S[j]
                if (("zwsd" in closed) && (s in closed) && cl_got[s] > 0 && cl_lost["zwsd"] == 0)
                    t = t (t == "" ? "" : " and ") sprintf("%.2f× %s", cl_got["zwsd"] / cl_got[s], s == "relay" ? "the relay'"'"'s" : s "'"'"'s") }
            if (t != "") printf "\nzwsd delivered %s closed-loop rate.\n", t }
        n = sorted(conns, N)
        if (n) {
            print ""; print "### Idle connections: memory per connection (all server processes, net of before)"; print ""
            printf "| connections |"; for (j = 1; j <= ns; j++) printf " %s RSS B/conn | %s PSS B/conn | %s RSS added |", S[j], S[j], S[j]; print ""
            printf "|---:|"; for (j = 1; j <= ns; j++) printf "---:|---:|---:|"; print ""
            for (i = 1; i <= n; i++) { c = N[i]; printf "| %s |", num(c)
                for (j = 1; j <= ns; j++) { s = S[j]
                    printf " %s | %s | %s |", bytes(id_rss[s, c]), bytes(id_pss[s, c]), ((s, c) in id_add) ? sprintf("%.1f MiB", id_add[s, c] / 1024) : "–" }
                print "" }
            print ""
            print "Per connection = (the sum over the server processes after connecting − before) ÷ connections, so fixed"
            print "costs that appear with the first connections (allocator arenas, tables) weigh most at small counts."
            print ""; print "![memory against idle connections](" plots "/idle-memory.png)" }
        if (ng) {
            print ""; print "### Group fan-out"; print ""
            print "| members | messages | last member p50 ms | p90 ms | max ms | first member p50 ms | server CPU µs per member delivery | lost |"
            print "|---:|---:|---:|---:|---:|---:|---:|---:|"
            for (i = 1; i <= ng; i++) { $0 = gr[i]
                printf "| %s | %s/%s | %s | %s | %s | %s | %s | %s |\n", num(kv("members")), kv("completed"), kv("count"), msf(kv("last_p50_us")), msf(kv("last_p90_us")), msf(kv("last_max_us")), msf(kv("first_p50_us")), us1(kv("server_cpu_us_per_delivery")), kv("lost") } }
        if (na) {
            print ""; print "### HTTP API push (keep-alive, one request in flight per connection)"; print ""
            print "| users | connections × depth | pushes/s | answered delivered | p50 ms | p99 ms | zwsd CPU µs/push |"
            print "|---:|---:|---:|---:|---:|---:|---:|"
            for (i = 1; i <= na; i++) { $0 = ap[i]
                printf "| %s | %s × %s | %s | %.1f %% | %s | %s | %s |\n", kv("users"), kv("conns"), kv("depth"), num(kv("pushes_per_s")), 100 * kv("delivered_share"), msf(kv("p50_us")), msf(kv("p99_us")), us1(kv("zwsd_cpu_us_per_push")) } }
        nr = sorted(brate, BR); nb = sorted(bbatch, BB)
        if (nr > 1 && BR[1] == 0) { for (i = 1; i < nr; i++) BR[i] = BR[i + 1]; BR[nr] = 0 }   # max last
        if (nr) {
            print ""; print "### The bus hop alone (scripts/bench-bus.sh)"; print ""
            print "A publisher process → the real zwsd-broker → a subscriber process, on ipc://, no WebSocket: 120-byte"
            print "envelopes, each chat to its own user topic, K chats per ZeroMQ message. Hop = broker + subscriber, CPU"
            print "(utime+stime) and context switches (every thread) per chat received; the publisher, whose pacing costs"
            print "wake-ups of its own, is in the detail table. \"max\": saturation, a closed loop of 4,096 chats in flight."
            print ""
            printf "| chats/s |"; for (j = 1; j <= nb; j++) printf " K=%d: µs/chat | switches/chat |", BB[j]; print ""
            printf "|---:|"; for (j = 1; j <= nb; j++) printf "---:|---:|"; print ""
            for (i = 1; i <= nr; i++) { r = BR[i]; printf "| %s |", r == 0 ? "max" : num(r)
                for (j = 1; j <= nb; j++) { k = r SUBSEP BB[j]; printf " %s | %s |", (k in bus) ? us1(bus_us[k]) : "–", (k in bus) ? cs2(bus_cs[k]) : "–" }
                print "" }
            print ""
            print "| offered | K | chats/s | ZeroMQ msgs/s | broker µs | subscriber µs | hop µs | hop switches | publisher µs | publisher switches | p50 ms | p99 ms | lost |"
            print "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
            for (i = 1; i <= nr; i++) for (j = 1; j <= nb; j++) { k = BR[i] SUBSEP BB[j]; if (!(k in bus)) continue; $0 = bus[k]
                printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", BR[i] == 0 ? "max" : num(BR[i]), BB[j], num(kv("chats_per_s")), num(kv("zmq_msgs_per_s")), us1(kv("broker_cpu_us_per_chat")), us1(kv("sub_cpu_us_per_chat")), us1(kv("hop_cpu_us_per_chat")), cs2(kv("hop_cs_per_chat")), us1(kv("pub_cpu_us_per_chat")), cs2(kv("pub_cs_per_chat")), msf(kv("p50_us")), msf(kv("p99_us")), kv("lost") }
            z = "zwsd" SUBSEP 20000; k = 20000 SUBSEP 1
            if ((z in sw_cpu) && (k in bus_us) && sw_cpu[z] > 0)
                printf "\nAt 20,000 msg/s the hop alone (K=1) cost %.1f µs per chat: %.0f %% of the %.1f µs zwsd spent per delivered\nmessage in the sweep above (same run; the box'"'"'s load differs between the two moments).\n", bus_us[k], 100 * bus_us[k] / sw_cpu[z], sw_cpu[z]
            print ""; print "![bus hop CPU and context switches per chat](" plots "/bus.png)" }
    }' "$1"
}

# plot: gnuplot from the data files in $DATA into $PLOTS; a missing series is left out.
plot() {
    local title=$1 common
    command -v gnuplot > /dev/null || { echo "bench-report.sh: gnuplot missing (scripts/deps.sh installs gnuplot-nox)" >&2; return 1; }
    mkdir -p "$PLOTS"
    common="set terminal pngcairo size 900,560 font 'DejaVu Sans,10'; set grid; set key top left box opaque; set datafile missing '-'; set format x '%.0s%c'"
    series() {      # series FILE USING TITLE STYLE: one plot clause if FILE has data
        [ -s "$DATA/$1" ] && printf "'%s' using %s title '%s' %s, " "$DATA/$1" "$2" "$3" "$4"
    }
    local s
    s="$(series sweep-zwsd.dat 1:3 'zwsd p50' 'with linespoints lw 2 pt 7 lc rgb "#1f77b4"')"
    s+="$(series sweep-zwsd.dat 1:4 'zwsd p99' 'with linespoints lw 2 pt 5 lc rgb "#d62728"')"
    s+="$(series sweep-relay.dat 1:3 'relay p50' 'with linespoints dt 2 pt 6 lc rgb "#1f77b4"')"
    s+="$(series sweep-relay.dat 1:4 'relay p99' 'with linespoints dt 2 pt 4 lc rgb "#d62728"')"
    s+="$(series sweep-nchan.dat 1:3 'nchan p50' 'with linespoints dt 4 pt 8 lc rgb "#1f77b4"')"
    s+="$(series sweep-nchan.dat 1:4 'nchan p99' 'with linespoints dt 4 pt 10 lc rgb "#d62728"')"
    [ -n "$s" ] && gnuplot -e "$common; set output '$PLOTS/chat-latency.png'; set logscale xy;
        set title '1:1 chat latency against offered rate ($title)'; set xlabel 'offered msg/s';
        set ylabel 'latency, ms (log)'; plot ${s%, }"
    s="$(series sweep-zwsd.dat 1:5 'zwsd (2 workers + broker)' 'with linespoints lw 2 pt 7')"
    s+="$(series sweep-relay.dat 1:5 'relay (one process)' 'with linespoints lw 2 pt 5')"
    s+="$(series sweep-nchan.dat 1:5 'nginx + nchan (2 workers)' 'with linespoints lw 2 pt 9')"
    s+="$(series bus-1.dat 1:2 'bus hop alone, K=1 (broker + subscriber)' 'with linespoints dt 2 pt 6')"
    [ -n "$s" ] && gnuplot -e "$common; set output '$PLOTS/chat-cpu.png'; set logscale x; set yrange [0:*];
        set key top right;
        set title 'Server CPU per delivered message against offered rate ($title)'; set xlabel 'offered msg/s';
        set ylabel 'µs of CPU per message'; plot ${s%, }"
    # one colour per server: RSS solid, PSS dashed
    s="$(series idle-zwsd.dat 1:4 'zwsd RSS' 'with linespoints lw 2 pt 7 lc rgb "#9400d3"')"
    s+="$(series idle-zwsd.dat 1:5 'zwsd PSS' 'with linespoints dt 2 pt 6 lc rgb "#9400d3"')"
    s+="$(series idle-relay.dat 1:4 'relay RSS' 'with linespoints lw 2 pt 5 lc rgb "#009e73"')"
    s+="$(series idle-relay.dat 1:5 'relay PSS' 'with linespoints dt 2 pt 4 lc rgb "#009e73"')"
    s+="$(series idle-nchan.dat 1:4 'nchan RSS' 'with linespoints lw 2 pt 9 lc rgb "#e69f00"')"
    s+="$(series idle-nchan.dat 1:5 'nchan PSS' 'with linespoints dt 2 pt 8 lc rgb "#e69f00"')"
    [ -n "$s" ] && gnuplot -e "$common; set output '$PLOTS/idle-memory.png'; set xrange [0:*]; set yrange [0:*];
        set title 'Memory added by idle connections, all server processes ($title)'; set xlabel 'connections';
        set ylabel 'MiB more than before connecting'; plot ${s%, }"
    local a="" b="" k
    for k in 1 2 4 8 16 32 64; do
        a+="$(series "bus-$k.dat" 1:2 "K=$k" 'with linespoints lw 2')"
        b+="$(series "bus-$k.dat" 1:3 "K=$k" 'with linespoints lw 2')"
    done
    a+="$(series bus-max.dat 1:2 'saturation' 'with points pt 7 ps 1.5 lc rgb "black"')"
    b+="$(series bus-max.dat 1:3 'saturation' 'with points pt 7 ps 1.5 lc rgb "black"')"
    [ -n "$a" ] && gnuplot -e "$common; set terminal pngcairo size 1200,500 font 'DejaVu Sans,10';
        set output '$PLOTS/bus.png'; set multiplot layout 1,2 title 'Bus hop alone: publisher → zwsd-broker → subscriber ($title)';
        set logscale x; set key top right nobox noopaque; set xlabel 'chats/s (K chats per ZeroMQ message)';
        set ylabel 'µs CPU per chat, broker + subscriber'; set yrange [0:*]; plot ${a%, };
        set ylabel 'context switches per chat, broker + subscriber'; plot ${b%, }; unset multiplot"
    return 0
}

render() {
    local res=$1 block title
    [ -s "$res" ] || { echo "bench-report.sh: no results in $res" >&2; return 1; }
    DATA=$(mktemp -d /tmp/zwsd-bench-plot.XXXXXX)
    block=$(tables "$res" "$(realpath -m --relative-to="$(dirname "$MD")" "$PLOTS")")
    title=$(awk '/^META/ { for (i = 2; i <= NF; i++) { split($i, a, "="); m[a[1]] = a[2] } }
                 /^LABEL / { l = substr($0, 7) }
                 END { sub(/[(:.].*/, "", l); sub(/ +$/, "", l); printf "%s, %s%s", m["date"], m["mode"], l != "" ? "; " l : "" }' "$res" | tr "'" ' ')
    plot "$title" || echo "bench-report.sh: plots not drawn" >&2
    rm -rf "$DATA"
    [ -e "$MD" ] || printf '# Benchmarks\n' > "$MD"
    local tmp="$MD.tmp.$$" blockfile
    blockfile=$(mktemp /tmp/zwsd-bench-block.XXXXXX)
    printf '%s\n' "$block" > "$blockfile"
    awk -v blockfile="$blockfile" '
        function emit(   l) { print "<!-- bench:begin: generated by make bench (scripts/bench-report.sh); edit outside the markers -->"
                              while ((getline l < blockfile) > 0) print l; print "<!-- bench:end -->"; done = 1 }
        /^<!-- bench:begin/ { emit(); skip = 1; next }
        /^<!-- bench:end -->/ { skip = 0; next }
        !skip { print }
        END { if (!done) { print ""; emit() } }' "$MD" > "$tmp" && cat "$tmp" > "$MD"
    rm -f "$tmp" "$blockfile"
    echo "# report: $MD (between the bench markers), plots: $(ls "$PLOTS"/*.png 2>/dev/null | tr '\n' ' ')"
}

if [ -n "$RENDER" ]; then
    render "$RENDER"
    exit $?
fi
for b in zwsd zwsd-loadgen zwsd-broker bench-bus zwsd-relay; do
    [ -x "$BUILD_DIR/$b" ] || { echo "bench-report.sh: $BUILD_DIR/$b not built (make, or set ZWSD_BUILD)" >&2; exit 2; }
done
LOGDIR=$(mktemp -d /tmp/zwsd-bench-report.XXXXXX)
: > "$LOGDIR/results.txt"
mkdir -p "$(dirname "$RESULTS")"
trap 'echo; echo "bench-report.sh: interrupted; logs in $LOGDIR" >&2; exit 130' INT TERM
run_all
render "$RESULTS" || FAILED="$FAILED render"
echo "[$(elapsed)] done; logs in $LOGDIR"
[ -z "$FAILED" ] || { echo "bench-report.sh: failed steps:$FAILED" >&2; exit 1; }
exit 0
