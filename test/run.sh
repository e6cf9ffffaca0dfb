#!/bin/sh
# run.sh BUILD — the whole suite: Criterion unit tests, short libFuzzer runs,
# pytest end-to-end tests against the real binaries in BUILD, and mandoc
# lint. Ends with the line "N passed, N failed" that CI reads.
set -u
BUILD=${1:-build}
export ZWSD_BUILD=$(cd "$BUILD" && pwd)
passed=0; failed=0

for t in "$BUILD"/test/test_*; do
    [ -x "$t" ] || continue
    out=$("$t" --jobs 1 2>&1); rc=$?
    echo "$out" | tail -n 3
    p=$(echo "$out" | sed -n 's/.*Passing: \([0-9]*\).*/\1/p' | tail -n1)
    f=$(echo "$out" | sed -n 's/.*Failing: \([0-9]*\) | Crashing: \([0-9]*\).*/\1 \2/p' | tail -n1)
    passed=$((passed + ${p:-0}))
    set -- $f
    failed=$((failed + ${1:-0} + ${2:-0}))
    [ $rc -eq 0 ] || [ -n "$f" ] || failed=$((failed + 1))
done

# libFuzzer targets (test/fuzz/): a short run of each, FUZZ_TEST_SECONDS
# (make exports it; 0 skips, as test-asan does), one test per target, passed
# when libFuzzer ends without a crash, leak, timeout or broken invariant.
if [ "${FUZZ_TEST_SECONDS:-0}" -gt 0 ]; then
    for name in ${FUZZ_TARGETS:-handshake client_json wsframe envelope}; do
        if sh test/fuzz/run.sh "$BUILD" "$FUZZ_TEST_SECONDS" "$name"; then
            passed=$((passed + 1))
        else
            failed=$((failed + 1))
        fi
    done
fi

if ls man/*.[1-9] >/dev/null 2>&1; then
    lint=$(mandoc -Tlint -Wwarning man/*.[1-9] 2>&1)
    if [ -z "$lint" ]; then passed=$((passed + 1)); echo "man lint: ok"
    else failed=$((failed + 1)); echo "man lint: FAILED"; echo "$lint"; fi
fi

if ls test/e2e/test_*.py >/dev/null 2>&1; then
    # Debian's python3 has python3-websockets; a pyenv python on PATH may not.
    /usr/bin/python3 -m pytest -q -p no:cacheprovider test/e2e ${PYTEST_ARGS:-} \
        2>&1 | tee "$BUILD/pytest.log"
    sum=$(grep -E '^(=+ )?[0-9]+ (passed|failed)|(passed|failed|error)' "$BUILD/pytest.log" | tail -n1)
    # "1 failed, 289 passed, 2 errors in 56.58s": each count by its word,
    # in whatever order pytest prints them
    p=$(echo "$sum" | grep -oE '[0-9]+ passed' | grep -oE '^[0-9]+')
    f=$(echo "$sum" | grep -oE '[0-9]+ failed' | grep -oE '^[0-9]+')
    e=$(echo "$sum" | grep -oE '[0-9]+ errors?' | grep -oE '^[0-9]+')
    passed=$((passed + ${p:-0})); failed=$((failed + ${f:-0} + ${e:-0}))
    [ -n "$sum" ] || failed=$((failed + 1))
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
