#!/usr/bin/env bash
# tools/bench/mpi-scaling.sh [ROUNDS] [STEPS]: data-parallel step time on this machine.
#
# Trains graphs/char_lstm.graph (cpu-sleef) on Tiny Shakespeare with the same global batch of 32
# three ways, interleaved for ROUNDS rounds (default 3) of STEPS steps (default 40):
#   1 rank x 2 threads, batch 32     (the whole machine, one process)
#   2 ranks x 1 thread,  batch 16    (mpirun -np 2 --distributed)
#   1 rank x 1 thread,  batch 16     (one rank's share of the work, alone)
# and prints per configuration the median step time (global tokens / the tok/s of the log lines
# after the first 10 steps) and, for 2 ranks, gexec's own closing line (gradient bytes, buckets,
# the allreduce wait). Needs a build with MPI (build/bin/gexec) and mpirun. A benchmark, not a test.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
G=${GEXEC:-$root/build/bin/gexec}
rounds=${1:-3}
steps=${2:-40}
[ "$(id -u)" -eq 0 ] && export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_btl_vader_single_copy_mechanism=none
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
common=("$root/graphs/char_lstm.graph" --data "$root/graphs/data/tinyshakespeare.txt"
        --backend cpu-sleef --steps "$steps" --log-every 5 --val-batches 1)
# tok/s of the log lines after step 10, one per line
toks() { awk '/^step [0-9]+\/[0-9]+ / { split($2, a, "/"); if (a[1] > 10) for (i = 1; i < NF; i++) if ($(i+1) == "tok/s") print $i }' "$1"; }
median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
for ((r = 1; r <= rounds; r++)); do
    "$G" train "${common[@]}" --threads 2 --batch 32 2>"$tmp/a.$r"
    mpirun -np 2 --oversubscribe "$G" train "${common[@]}" --threads 1 --batch 16 --distributed 2>"$tmp/b.$r"
    "$G" train "${common[@]}" --threads 1 --batch 16 2>"$tmp/c.$r"
done
for c in "a:1 rank x 2 threads, batch 32:32" "b:2 ranks x 1 thread, batch 16 each:32" "c:1 rank x 1 thread, batch 16:16"; do
    IFS=: read -r key name batch <<<"$c"
    tps=$(for f in "$tmp/$key".*; do toks "$f"; done | median)
    awk -v n="$name" -v t="$tps" -v b="$batch" 'BEGIN { printf "%-36s %8.0f tok/s  %7.1f ms per step\n", n, t, 1000 * b * 64 / t }'
done
echo "2 ranks, gexec's closing lines:"
grep -h "^gexec: 2 ranks" "$tmp"/b.* | sed 's/^/  /'
