#!/bin/sh
# run.sh BUILD SECONDS NAME... — run the libFuzzer targets BUILD/fuzz/fuzz_NAME,
# each for SECONDS, from test/fuzz/corpus/NAME (the seeds, never written) and
# BUILD/fuzz/corpus/NAME (what the runs found, kept for the next run). A
# crash, leak, timeout or broken invariant is saved under
# BUILD/fuzz/artifacts/NAME/ and fails that target. One line per target:
# its verdict, executions, executions per second; the log is BUILD/fuzz/NAME.log.
# Exit status: the number of targets that failed. Used by `make fuzz` and
# by test/run.sh (the short run of `make test`).
set -u
BUILD=$1
SECS=$2
shift 2
failed=0
for name in "$@"; do
    bin=$BUILD/fuzz/fuzz_$name
    # -max_len per target: a head of 8 KiB and what follows it; client
    # frames; text frames (presence lists, 128 levels of nesting); envelopes
    case $name in
    handshake)   max=10240 ;;
    wsframe)     max=2048 ;;
    client_json) max=8192 ;;
    envelope)    max=4096 ;;
    *)           max=4096 ;;
    esac
    dict=""
    [ -f "test/fuzz/$name.dict" ] && dict="-dict=test/fuzz/$name.dict"
    mkdir -p "$BUILD/fuzz/corpus/$name" "$BUILD/fuzz/artifacts/$name"
    log=$BUILD/fuzz/$name.log
    # shellcheck disable=SC2086
    "$bin" -max_total_time="$SECS" -max_len=$max -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$BUILD/fuzz/artifacts/$name/" $dict \
        "$BUILD/fuzz/corpus/$name" "test/fuzz/corpus/$name" >"$log" 2>&1
    rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
    cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+' "$log" | tail -n1)
    if [ "$rc" -eq 0 ] && [ -n "$execs" ]; then
        echo "fuzz_$name: ok, ${SECS} s, $execs executions, $rate/s, $cov"
    else
        failed=$((failed + 1))
        echo "fuzz_$name: FAILED (exit $rc), log $log"
        grep -E 'ERROR|SUMMARY|invariant broken|runtime error|written to' "$log" | head -n 12
    fi
done
exit "$failed"
