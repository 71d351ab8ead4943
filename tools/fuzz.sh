#!/usr/bin/env bash
# tools/fuzz.sh [SECONDS] [TARGET...]: run the libFuzzer harnesses of tests/fuzz.
#
# Configures and builds the fuzz build (clang, -DGX_FUZZ=ON) in build-fuzz/ if needed, then runs
# each TARGET (graph, safetensors, checkpoint, data; default: all four, one after the other) for
# SECONDS (default 60), starting from the committed corpus tests/fuzz/corpus/TARGET. New inputs
# go to a scratch directory, never into the committed corpus. Installs nothing.
#
# Environment: GX_FUZZ_BUILD (build directory, default build-fuzz), GX_FUZZ_OUT (scratch,
# default $GX_FUZZ_BUILD/fuzz-runs), FUZZ_ARGS (more libFuzzer flags, e.g. "-jobs=2 -workers=2").
# Prints per target: executions, CPU seconds (user + system), corpus size, and the findings (crash-*, leak-*, timeout-*,
# oom-* files); exits 1 when any target found something.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-60}
[ $# -gt 0 ] && shift
all=(graph safetensors checkpoint data)
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=("${all[@]}")
case $secs in ''|*[!0-9]*) echo "fuzz.sh: SECONDS must be a number, got '$secs'" >&2; exit 2;; esac
for t in "${targets[@]}"; do
  case " ${all[*]} " in *" $t "*) ;; *) echo "fuzz.sh: unknown target '$t' (one of: ${all[*]})" >&2; exit 2;; esac
done

build=${GX_FUZZ_BUILD:-$root/build-fuzz}
out=${GX_FUZZ_OUT:-$build/fuzz-runs}
if ! command -v clang >/dev/null; then
  echo "fuzz.sh: needs clang with libFuzzer (Debian: apt-get install clang libclang-rt-14-dev)" >&2
  exit 2
fi
if [ ! -f "$build/CMakeCache.txt" ]; then
  CC=clang cmake -S "$root" -B "$build" -DGX_FUZZ=ON -DGX_TESTS=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
cmake --build "$build" -j "${JOBS:-2}" --target fuzz >/dev/null

# scratch files of the harnesses (readers that take paths): tmpfs when there is one
if [ -z "${TMPDIR:-}" ] && [ -d /dev/shm ] && [ -w /dev/shm ]; then export TMPDIR=/dev/shm; fi
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}

max_len() {
  case $1 in graph) echo 8192;; data) echo 4096;; *) echo 16384;; esac
}

status=0
summary=()
for t in "${targets[@]}"; do
  dir=$out/$t
  mkdir -p "$dir/corpus" "$dir/artifacts"
  extra=()
  [ "$t" = graph ] && extra+=("-dict=$root/tests/fuzz/graph.dict")
  log=$dir/fuzz-$(date +%Y%m%d-%H%M%S).log
  echo "== $t: ${secs}s, log $log" >&2
  before=$(ls "$dir/artifacts" | wc -l)
  # CPU time of the run (user + system), the measure the campaign figures are given in
  timer=()
  [ -x /usr/bin/time ] && timer=(/usr/bin/time -f '%U %S' -o "$dir/cpu-time")
  rm -f "$dir/cpu-time"
  # shellcheck disable=SC2086
  "${timer[@]}" "$build/bin/fuzz-$t" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 \
    -max_len="$(max_len "$t")" -print_final_stats=1 -artifact_prefix="$dir/artifacts/" \
    "${extra[@]}" ${FUZZ_ARGS:-} "$dir/corpus" "$root/tests/fuzz/corpus/$t" >"$log" 2>&1 || true
  execs=$(grep -h 'stat::number_of_executed_units' "$log" | awk '{s += $2} END {print s + 0}')
  found=$(( $(ls "$dir/artifacts" | wc -l) - before ))
  size=$(ls "$dir/corpus" | wc -l)
  cpu=?
  [ -s "$dir/cpu-time" ] && cpu=$(tail -n1 "$dir/cpu-time" | awk '{printf "%.0f", $1 + $2}')
  line=$(printf '%-12s %10s execs  %6s s CPU  %6s inputs in the scratch corpus  %3s findings' \
         "$t" "$execs" "$cpu" "$size" "$found")
  summary+=("$line")
  if [ "$found" -gt 0 ]; then
    status=1
    ls -t "$dir/artifacts" | head -n "$found" | sed "s|^|    $dir/artifacts/|" >&2
    grep -m3 -E 'ERROR: |runtime error|SUMMARY' "$log" | sed 's/^/    /' >&2 || true
  fi
done
printf '%s\n' "${summary[@]}"
exit $status
