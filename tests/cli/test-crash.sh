#!/usr/bin/env bash
# test-crash.sh: a killed process, a full disk or Ctrl-C never costs a training run.
#
# usage: test-crash.sh PATH/TO/gexec [ITERATIONS]   (env: GEXEC_SOURCE_DIR = the repository,
#        CRASH_ITERS = ITERATIONS, default 20; CRASH_SEED = the seed of the kill times)
#
# Kill and resume: a reference run trains STEPS steps with a checkpoint after every step and
# no interruption. Each iteration then trains the same run, kills it with SIGKILL at a random
# moment (up to three times, resuming in between), and lets the last resumption finish. After
# every kill the checkpoint, if there is one yet, must load (`gexec eval` reads it through the
# same reader as --resume); the run that finishes must end byte-identical to the reference.
# The model is small and a checkpoint is written (and fsync'ed) after every step, so about half
# of a run is spent writing checkpoints and many kills land inside a write: the test counts
# them (a temporary file `CKPT.tmp.PID` left by the killed process marks one) and wants some.
#
# Full disk: with `ulimit -f` below the checkpoint's size the write fails with EFBIG; the
# previous checkpoint stays intact, no temporary file is left, and the message names the file
# and the error. A stale temporary file of a killed run does not disturb the next one.
#
# SIGINT: training stops after the current step, writes its checkpoint, says so, exits with
# 130, and the run resumes from there to the same end as the reference.
#
# Ends with "N passed, M failed".

set -u

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

GEXEC=${1:?usage: test-crash.sh PATH/TO/gexec [ITERATIONS]}
ITERS=${2:-${CRASH_ITERS:-20}}
SRC=${GEXEC_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
GEXEC=$(cd "$(dirname "$GEXEC")" && pwd)/$(basename "$GEXEC")
RANDOM=${CRASH_SEED:-$$}

T=$(mktemp -d "${TMPDIR:-/tmp}/gexec-crash.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 1

RUN_TIMEOUT=300
# shellcheck source=harness.sh
. "$HERE/harness.sh"

head -c 30000 "$SRC/graphs/data/tinyshakespeare.txt" >"$T/text.txt" 2>/dev/null ||
    head -c 30000 "$SRC/../shared/data/tinyshakespeare.txt" >"$T/text.txt"
STEPS=300
# char_rnn with H = 64: ~40 K params, a 120 KB checkpoint with Adam's two moments
RUN=("$GEXEC" train "$SRC/graphs/char_rnn.graph" --data text.txt --dim E=16 --dim H=64
     --batch 2 --bptt 4 --backend cpu-scalar --seed 11 --val-batches 1)

# ---- the reference: never interrupted --------------------------------------------------------
start=$(date +%s%N)
expect_ok "${RUN[@]}" --steps $STEPS --checkpoint ref.ckpt --checkpoint-every 1
# the time of one run in ms, to spread the kills over it
run_ms=$(( ($(date +%s%N) - start) / 1000000 ))
[ -s ref.ckpt ] || { echo "no reference checkpoint"; echo "$PASS passed, $((FAIL + 1)) failed"; exit 1; }
echo "reference run: $STEPS steps in ${run_ms} ms"

loads() { timeout 60 "$GEXEC" eval "$1" --data text.txt --backend cpu-scalar >/dev/null 2>"$T/eval-err"; }

# ---- kill -9 at random moments, resume, repeat -----------------------------------------------
mid_write=0
kills=0
bad=0
for ((it = 1; it <= ITERS; it++)); do
    rm -f c.ckpt c.ckpt.tmp.*
    ok=1
    for ((k = 0; k < 3; k++)); do
        args=(--steps $STEPS --checkpoint c.ckpt --checkpoint-every 1)
        [ -e c.ckpt ] && args+=(--resume c.ckpt)
        "${RUN[@]}" "${args[@]}" >/dev/null 2>"$T/run-err" &
        pid=$!
        ms=$(( 20 + (RANDOM * 32768 + RANDOM) % (run_ms * 2 / 3 + 1) ))
        sleep "$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))"
        if ! kill -0 "$pid" 2>/dev/null; then
            wait "$pid"
            break                     # it finished before the kill
        fi
        kill -KILL "$pid"
        wait "$pid" 2>/dev/null
        kills=$((kills + 1))
        if [ -e "c.ckpt.tmp.$pid" ]; then
            mid_write=$((mid_write + 1))
        fi
        if [ -e c.ckpt ] && ! loads c.ckpt; then
            fail "iteration $it: the checkpoint after a kill at ${ms} ms does not load: $(head -c 300 "$T/eval-err")"
            ok=0
            break
        fi
    done
    if [ $ok -eq 1 ]; then
        # the last resumption runs to the end (a stale CKPT.tmp.PID may lie beside it)
        args=(--steps $STEPS --checkpoint c.ckpt --checkpoint-every 1)
        [ -e c.ckpt ] && args+=(--resume c.ckpt)
        run "${RUN[@]}" "${args[@]}"
        if [ "$RC" -ne 0 ]; then
            fail "iteration $it: the resumed run failed ($RC)"
            show_output
            ok=0
        elif ! cmp -s c.ckpt ref.ckpt; then
            fail "iteration $it: the resumed run does not end byte-identical to the reference"
            ok=0
        elif ls c.ckpt.tmp.* >/dev/null 2>&1; then
            fail "iteration $it: temporary files of killed runs were left: $(ls c.ckpt.tmp.* | tr '\n' ' ')"
            ok=0
        fi
    fi
    if [ $ok -eq 1 ]; then pass; else bad=$((bad + 1)); fi
done
echo "kill and resume: $ITERS iterations, $kills kills ($mid_write inside a checkpoint write), $bad failed"
if [ "$ITERS" -ge 5 ]; then
    check "some kills landed inside a checkpoint write ($mid_write of $kills)" test "$mid_write" -gt 0
fi

# ---- stale temporary files: no harm, and a dead writer's are removed ------------------------
rm -f c.ckpt c.ckpt.tmp.*
sh -c 'exit 0' &
dead=$!
wait "$dead"
head -c 5000 ref.ckpt >"c.ckpt.tmp.$dead"
head -c 5000 ref.ckpt >c.ckpt.tmp.1
echo junk >"c.ckpt.tmp.$$"
echo junk >c.ckpt.tmp.x1
expect_ok "${RUN[@]}" --steps 2 --checkpoint c.ckpt
check "a run beside stale temporary files writes its checkpoint" loads c.ckpt
check "the temporary file of a dead process is removed" test ! -e "c.ckpt.tmp.$dead"
check "those of live processes (PID 1, this shell) are kept" \
    test -e c.ckpt.tmp.1 -a -e "c.ckpt.tmp.$$"
check "a file that only looks like one is kept" test -e c.ckpt.tmp.x1

# ---- full disk: the write fails, the previous checkpoint stays -------------------------------
rm -f c.ckpt c.ckpt.tmp.*
expect_ok "${RUN[@]}" --steps 2 --checkpoint c.ckpt
cp c.ckpt before.ckpt
size_kb=$(( $(stat -c %s c.ckpt) / 1024 ))
run bash -c 'ulimit -f "$1"; shift; exec "$@"' _ $((size_kb / 2)) \
    "${RUN[@]}" --steps 4 --checkpoint c.ckpt --resume c.ckpt
check "a full disk ends the run with status 1, not a signal (got $RC)" test "$RC" -eq 1
check "the message names the checkpoint and the error" \
    grep -q "c.ckpt.*File too large" "$T/err"
if [ "$RC" -ne 1 ] || ! grep -q "c.ckpt.*File too large" "$T/err"; then show_output; fi
check "the previous checkpoint is intact" cmp -s c.ckpt before.ckpt
check "no temporary file is left" bash -c '! ls c.ckpt.tmp.* >/dev/null 2>&1'
check "the kept checkpoint loads" loads c.ckpt

# ---- SIGINT: stop cleanly with a checkpoint, resume to the same end ---------------------------
rm -f c.ckpt c.ckpt.tmp.*
"${RUN[@]}" --log-every 1 --steps $STEPS --checkpoint c.ckpt --checkpoint-every 1000 \
    >/dev/null 2>"$T/int-err" &
pid=$!
# wait for a few steps, then Ctrl-C
for _ in $(seq 1 600); do
    grep -q '^step 3/' "$T/int-err" 2>/dev/null && break
    sleep 0.05
done
kill -INT "$pid"
wait "$pid"
rc=$?
check "SIGINT: exit status 130 (got $rc)" test "$rc" -eq 130
check "SIGINT: the message says where it stopped and how to continue" \
    grep -q "interrupted by SIGINT: stopped at step [0-9]*; checkpoint c.ckpt written (continue with --resume c.ckpt)" "$T/int-err"
at=$(sed -n 's/.*stopped at step \([0-9]*\).*/\1/p' "$T/int-err")
check "SIGINT: the checkpoint is at that step" \
    bash -c "strings -n 8 c.ckpt | grep -q '\"gexec.step\":\"$at\"'"
check "SIGINT: stopped before the end (step ${at:-?} < $STEPS)" test "${at:-$STEPS}" -lt $STEPS
if [ "$rc" -ne 130 ]; then sed 's/^/    stderr: /' "$T/int-err" | tail -5; fi
expect_ok "${RUN[@]}" --steps $STEPS --checkpoint c.ckpt --checkpoint-every 1 --resume c.ckpt
check "SIGINT: the resumed run ends byte-identical to the reference" cmp -s c.ckpt ref.ckpt

echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
