#!/usr/bin/env bash
# test-mpi.sh: data-parallel training with MPI (`mpirun -np 2 gexec train --distributed`) on this
# one machine, over shared memory and loopback.
#
# usage: test-mpi.sh PATH/TO/gexec   (env: GEXEC_SOURCE_DIR = the repository)
#
# - 2 ranks of batch B end, after K steps, with the params, optimizer state and carried states of
#   1 rank of batch 2B, within f32 reassociation noise; with one bucket and with several (the
#   overlapped path), and the ranks stay bit-identical (--dist-check)
# - --dist-check catches ranks that drifted apart (a test hook nudges rank 1)
# - a checkpoint of 2 ranks resumes on 1, and one of 1 rank on 2, to the same end
# - a rank that hangs (SIGSTOP) makes the others stop after --dist-timeout with a clear message;
#   a rank killed (SIGKILL) ends the job (mpirun) instead of hanging it
# - an error every rank hits is printed once; flags that need --distributed say so
# Ends with "N passed, M failed".
set -u

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
GEXEC=${1:?usage: test-mpi.sh PATH/TO/gexec}
SRC=${GEXEC_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
GEXEC=$(cd "$(dirname "$GEXEC")" && pwd)/$(basename "$GEXEC")

T=$(mktemp -d "${TMPDIR:-/tmp}/gexec-mpi.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 1
RUN_TIMEOUT=120
# shellcheck source=harness.sh
. "$HERE/harness.sh"

if ! command -v mpirun >/dev/null; then
    echo "test-mpi: mpirun not found (tools/bootstrap.sh installs openmpi-bin)" >&2
    exit 1
fi
# CI runs as root in containers: Open MPI refuses root unless told, and the single-copy (CMA)
# shared-memory transport needs ptrace rights containers often lack
if [ "$(id -u)" -eq 0 ]; then
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
export OMPI_MCA_btl_vader_single_copy_mechanism=none
# sanitizer build: Open MPI's own leaks at exit are suppressed (tests/lsan-mpi.supp says why);
# whole stacks (no fast unwinding: Open MPI has no frame pointers) and components kept loaded
# make the suppressions match. The plain build ignores both.
export LSAN_OPTIONS="${LSAN_OPTIONS:+$LSAN_OPTIONS:}suppressions=$HERE/../lsan-mpi.supp:print_suppressions=0"
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}fast_unwind_on_malloc=0"
export OMPI_MCA_mca_base_component_disable_dlclose=1
MPI=(mpirun -np 2 --oversubscribe)

head -c 60000 "$SRC/graphs/data/tinyshakespeare.txt" >text.txt
COMPARE=(python3 "$HERE/ckpt-compare.py" --tol 2e-5)
SMALL=(--data text.txt --dim E=8 --dim H=16 --bptt 8 --backend cpu-scalar --threads 1 --quiet)
# the stacked LSTM without its dropout: each rank draws its own masks, which 1 rank cannot match
sed 's/dropout(hs1, 0.25)/dropout(hs1, 0.0)/' "$SRC/graphs/stacked_lstm.graph" >stacked.graph
check "the test's stacked graph has no dropout left" bash -c '! grep -q "0\.25)" stacked.graph'

# ---- without --distributed, the MPI flags are refused ----------------------------------------
expect_fail "need --distributed" "$GEXEC" train "$SRC/graphs/char_rnn.graph" "${SMALL[@]}" --dist-check

# ---- 2 ranks of batch 4 = 1 rank of batch 8 --------------------------------------------------
for m in "char_rnn $SRC/graphs/char_rnn.graph 1" "stacked stacked.graph 0.001"; do
    read -r name graph mb <<<"$m"
    expect_ok "$GEXEC" train "$graph" "${SMALL[@]}" --batch 8 --steps 6 --checkpoint "$name-1.ckpt"
    run "${MPI[@]}" "$GEXEC" train "$graph" "${SMALL[@]}" --batch 4 --steps 6 \
        --checkpoint "$name-2.ckpt" --distributed --dist-check --bucket-mb "$mb"
    if [ "$RC" -ne 0 ]; then fail "$name: mpirun -np 2 failed ($RC)"; show_output; continue; fi
    pass
    check "$name: 2 ranks of batch 4 end where 1 rank of batch 8 does (params, Adam state, states)" \
        "${COMPARE[@]}" "$name-1.ckpt" "$name-2.ckpt"
    "${COMPARE[@]}" "$name-1.ckpt" "$name-2.ckpt" | sed "s/^/    $name: /"
done
# the summary names the buckets: one for char_rnn at 1 MiB, several for the stacked LSTM
run "${MPI[@]}" "$GEXEC" train stacked.graph "${SMALL[@]}" --batch 4 --steps 3 --distributed \
    --bucket-mb 0.001
check "rank 0 reports the allreduce's share of the step" \
    grep -qE "^gexec: 2 ranks: .* in [2-9][0-9]* buckets; a step took .* waiting for the gradient allreduce" "$T/err"
check "only rank 0 prints the summary" test "$(grep -c '^gexec: done' "$T/err")" -eq 1

# ---- --dist-check finds ranks that drifted apart -------------------------------------------
run env GEXEC_TEST_DIST_SKEW=2 "${MPI[@]}" "$GEXEC" train "$SRC/graphs/char_rnn.graph" "${SMALL[@]}" \
    --batch 4 --steps 6 --distributed --dist-check
check "a rank whose params drifted fails --dist-check (status $RC)" test "$RC" -ne 0
check "... naming the param and the step" grep -q "after step 2 the ranks hold different values of param" "$T/err"

# ---- resume with another number of ranks ---------------------------------------------------
g=$SRC/graphs/char_rnn.graph
expect_ok "${MPI[@]}" "$GEXEC" train "$g" "${SMALL[@]}" --batch 4 --steps 3 --checkpoint half2.ckpt --distributed
expect_ok "$GEXEC" train "$g" "${SMALL[@]}" --steps 6 --resume half2.ckpt --checkpoint two-then-one.ckpt
check "3 steps on 2 ranks, then 3 on 1 rank (batch taken from the checkpoint) = 6 on 1 rank" \
    "${COMPARE[@]}" char_rnn-1.ckpt two-then-one.ckpt
expect_ok "$GEXEC" train "$g" "${SMALL[@]}" --batch 8 --steps 3 --checkpoint half1.ckpt
expect_ok "${MPI[@]}" "$GEXEC" train "$g" "${SMALL[@]}" --steps 6 --resume half1.ckpt \
    --checkpoint one-then-two.ckpt --distributed
check "3 steps on 1 rank, then 3 on 2 ranks = 6 on 1 rank" \
    "${COMPARE[@]}" char_rnn-1.ckpt one-then-two.ckpt
run "${MPI[@]}" "$GEXEC" train "$g" "${SMALL[@]}" --batch 3 --steps 6 --resume half1.ckpt --distributed
check "a batch that does not fit the checkpoint's is refused (status $RC)" test "$RC" -eq 1
check "... once, naming the global batch" \
    test "$(grep -c "B is the global batch" "$T/err")" -eq 1

# ---- errors every rank hits are printed once -----------------------------------------------
run "${MPI[@]}" "$GEXEC" train "$g" --data missing.txt --distributed
check "a missing data file: status 1 (got $RC)" test "$RC" -eq 1
check "... and one message, not one per rank" test "$(grep -c "missing.txt" "$T/err")" -eq 1

# ---- a rank that hangs or dies does not hang the others --------------------------------------
# rank 1's process: the gexec whose environment says so
rank1_pid() {
    local p
    for p in $(pgrep -f "gexec train .*$1"); do
        if tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=1"; then
            echo "$p"
            return 0
        fi
    done
    return 1
}
wait_for_checkpoint() { # the run is past its set-up once it wrote a checkpoint
    local i
    for ((i = 0; i < 300; i++)); do [ -s "$1" ] && return 0; sleep 0.1; done
    return 1
}
LONG=("$GEXEC" train "$g" "${SMALL[@]}" --batch 4 --steps 1000000 --checkpoint-every 20 --distributed)
for sig in STOP KILL; do
    ck=$T/hang-$sig.ckpt
    SECONDS=0
    timeout 90 "${MPI[@]}" "${LONG[@]}" --checkpoint "$ck" --dist-timeout 3 >"$T/out" 2>"$T/err" &
    job=$!
    if wait_for_checkpoint "$ck" && pid=$(rank1_pid "$ck"); then
        kill -"$sig" "$pid"
        wait "$job"
        RC=$?
        check "rank 1 got SIG$sig: the job ends with an error status (got $RC), not a hang" \
            test "$RC" -ne 0 -a "$RC" -ne 124
        check "... within a minute (took ${SECONDS} s)" test "$SECONDS" -lt 60
        if [ "$sig" = STOP ]; then
            check "... and rank 0 says why" grep -q "rank 0: error: no answer from the other ranks for 3 s" "$T/err"
        else
            check "... and mpirun says which rank died" grep -q "rank 1 .*exited on signal 9" "$T/err"
        fi
        kill -9 "$pid" 2>/dev/null
    else
        fail "SIG$sig: the 2-rank run did not start"
        show_output
        kill "$job" 2>/dev/null
        wait "$job"
    fi
done

echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
