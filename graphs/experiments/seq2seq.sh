#!/usr/bin/env bash
# Sequence to sequence with attention (graphs/seq2seq_attention.graph) on the digit tasks.
#
#     graphs/experiments/seq2seq.sh [OUTDIR]
#
# Three runs of the graph as written (E = 32, H = 128, batch 32, adam(lr = 3e-3), clip 1, the
# train block's steps), each scored by greedy decoding of held-out strings (the task's
# validation batches feed the model its own predictions after t = 0):
#     reverse      reverse:min=1,max=12          held out: lengths 9-12 (the graph's default run)
#     extrapolate  reverse:max=12,eval_min=13,eval_max=16
#                  held out: lengths 13-16, longer than any training string
#     sort         sort:min=1,max=12             held out: lengths 9-12
# and `gexec sample` of the reverse checkpoint on a few prompts. Under OUTDIR (default
# graphs/experiments/results/seq2seq) it writes:
#
#     seq2seq.md     per run: steps, wall time, held-out exact match and symbol accuracy at
#                    every validation; the samples
#     runs/          the training logs and checkpoints (not for version control)
#
# Settings (environment): GEXEC (default <repo>/build/bin/gexec), RUNS ("reverse extrapolate
# sort"), SEED (0), THREADS (default: all cores), STEPS (default: the train block's, 2000).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
GEXEC=${GEXEC:-$repo/build/bin/gexec}
if [[ ! -x $GEXEC ]]; then
    echo "seq2seq.sh: gexec not found at $GEXEC (build it: cmake -S $repo -B $repo/build && cmake --build $repo/build -j, or set GEXEC=/path/to/gexec)" >&2
    exit 1
fi
OUT=${1:-$here/results/seq2seq}
RUNS=${RUNS:-reverse extrapolate sort}
SEED=${SEED:-0}
THREADS=${THREADS:-}
STEPS=${STEPS:-}
GRAPH=$repo/graphs/seq2seq_attention.graph
mkdir -p "$OUT/runs"

task_of() {
    case $1 in
    reverse) echo "reverse:min=1,max=12" ;;
    extrapolate) echo "reverse:max=12,eval_min=13,eval_max=16" ;;
    sort) echo "sort:min=1,max=12" ;;
    *) echo "seq2seq.sh: unknown run '$1' (reverse, extrapolate, sort)" >&2; exit 1 ;;
    esac
}

md=$OUT/seq2seq.md
{
    echo "# seq2seq_attention: greedy decoding of held-out strings"
    echo
    echo "gexec train graphs/seq2seq_attention.graph --task TASK --seed $SEED${THREADS:+ --threads $THREADS}${STEPS:+ --steps $STEPS}"
    echo
    echo "| run | task | step | held-out exact | held-out acc | validation loss |"
    echo "|---|---|---|---|---|---|"
} >"$md"
summary=""
for run in $RUNS; do
    task=$(task_of "$run")
    log=$OUT/runs/$run.log
    start=$(date +%s.%N)
    "$GEXEC" train "$GRAPH" --task "$task" --seed "$SEED" ${THREADS:+--threads "$THREADS"} \
        ${STEPS:+--steps "$STEPS"} --log-every 500 --checkpoint "$OUT/runs/$run.ckpt" 2>"$log"
    end=$(date +%s.%N)
    secs=$(awk -v a="$start" -v b="$end" 'BEGIN { printf "%.1f", b - a }')
    # "step 500  validation loss 0.0112 (0.0162 bits)  exact 0.9668  acc 0.9969"
    awk -v run="$run" -v task="$task" '/^step .*validation loss/ {
        for (i = 1; i <= NF; i++) { if ($i == "exact") e = $(i + 1); if ($i == "acc") a = $(i + 1) }
        printf "| %s | `%s` | %s | %s | %s | %s |\n", run, task, $2, e, a, $5 }' "$log" >>"$md"
    last=$(grep "^step .*validation loss" "$log" | tail -n 1)
    summary+="$run ($task): ${secs} s; final:${last#*validation}"$'\n'
    echo "seq2seq.sh: $run: ${secs} s;${last#*step}" >&2
done
{
    echo
    echo "Wall time (the whole training command, on 2 cores shared with other work; threads: ${THREADS:-all cores}):"
    echo
    echo '```'
    printf '%s' "$summary"
    echo '```'
} >>"$md"
if [[ -f $OUT/runs/reverse.ckpt ]]; then
    {
        echo
        echo "gexec sample runs/reverse.ckpt --prime P (greedy):"
        echo
        echo '| prompt | decoded | right |'
        echo '|---|---|---|'
        for p in 31415 9876543210 123456789012 4 1000000 70707070 11223344556 902; do
            got=$("$GEXEC" sample "$OUT/runs/reverse.ckpt" --prime "$p")
            want=$(echo "$p" | rev)
            echo "| $p | $got | $([[ $got == "$want" ]] && echo yes || echo "no (want $want)") |"
        done
    } >>"$md"
fi
cat "$md"
