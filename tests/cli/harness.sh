# harness.sh: what the shell tests share. Source it after setting $T (a scratch directory
# holding the last command's out and err) and, optionally, RUN_TIMEOUT (seconds; default 30).
# Counts PASS and FAIL; the test ends with  echo "$PASS passed, $FAIL failed".

# The tests own the plugin path: only the built-in plugins unless a case says otherwise.
export GEXEC_PLUGIN_PATH=
# Under sanitizers a report must not pass for a user error (both default to exit status 1).
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}exitcode=199"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}exitcode=199"

PASS=0
FAIL=0
# every gexec call is bounded: a hang is a failure, not a stuck test run
RUN_TIMEOUT=${RUN_TIMEOUT:-30}

pass() { PASS=$((PASS + 1)); }
fail() {
    FAIL=$((FAIL + 1))
    echo "FAIL: $*"
}

# run CMD...: stdout to $T/out, stderr to $T/err, status to $RC
run() {
    timeout "$RUN_TIMEOUT" "$@" >"$T/out" 2>"$T/err"
    RC=$?
}

show_output() {
    sed 's/^/    stdout: /' "$T/out" | head -n 5
    sed 's/^/    stderr: /' "$T/err" | tail -n 5
}

# expect_ok CMD...: exit status 0
expect_ok() {
    run "$@"
    if [ "$RC" -eq 0 ]; then
        pass
    else
        fail "expected success (got $RC): $*"
        show_output
    fi
}

# expect_fail SUBSTRING CMD...: a user error: status 1 or 2 (not a signal, not a timeout),
# stderr exactly one line, containing SUBSTRING
expect_fail() {
    local want=$1
    shift
    run "$@"
    local lines
    lines=$(wc -l <"$T/err")
    if [ "$RC" -ne 1 ] && [ "$RC" -ne 2 ]; then
        fail "expected exit status 1 or 2 (got $RC): $*"
        show_output
    elif [ "$lines" -ne 1 ]; then
        fail "expected exactly one line on stderr (got $lines): $*"
        show_output
    elif ! grep -qF -- "$want" "$T/err"; then
        fail "stderr lacks '$want': $*"
        show_output
    else
        pass
    fi
}

# check COND-DESCRIPTION CMD...: a plain assertion (a shell test or a python check)
check() {
    local what=$1
    shift
    if "$@"; then
        pass
    else
        fail "$what"
    fi
}

out_has() { grep -qF -- "$1" "$T/out"; }
err_has() { grep -qF -- "$1" "$T/err"; }
