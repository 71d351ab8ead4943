#!/usr/bin/env bash
# test-bench.sh: `gexec bench` and tools/bench/bench.py, end to end, on small models.
#
# usage: test-bench.sh PATH/TO/gexec   (env: GEXEC_SOURCE_DIR = the repository)
#
# Benchmarks are not tests: nothing here asserts a speed. What is checked: --json prints one
# JSON object with the documented keys and positive numbers; the FLOP count of an LSTM matches
# the formula of engine/flops.h; the text report; data from the graph's train block, --data and
# --task; and what a user gets wrong (a missing graph or data file, bad flags) ends in status 1
# or 2 with one line on stderr. Last, bench.py's quick mode on the tiny config (with PyTorch when
# /usr/bin/python3 has it). Ends with "N passed, M failed".

set -u

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

GEXEC=${1:?usage: test-bench.sh PATH/TO/gexec}
SRC=${GEXEC_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
GEXEC=$(cd "$(dirname "$GEXEC")" && pwd)/$(basename "$GEXEC")

T=$(mktemp -d "${TMPDIR:-/tmp}/gexec-bench.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 1

RUN_TIMEOUT=120
# shellcheck source=harness.sh
. "$HERE/harness.sh"

head -c 30000 "$SRC/graphs/data/tinyshakespeare.txt" >"$T/text.txt"
SMALL=(--steps 2 --warmup 1 --dim E=16 --dim H=32 --batch 4 --bptt 16)

# json_ok FILE: one JSON object, the keys, positive numbers
cat >"$T/check.py" <<'EOF'
import json, sys
text = open(sys.argv[1]).read()
assert text.count("\n") == 1, "not exactly one line on stdout"
r = json.loads(text)
for k in ("train_tokens_per_s", "infer_tokens_per_s", "train_gflops", "peak_rss_mb",
          "train_ms_median", "infer_ms_median", "flops_per_step", "params", "batch", "bptt"):
    assert isinstance(r.get(k), (int, float)) and r[k] > 0, "%s: %r" % (k, r.get(k))
for k in ("backend", "graph"):
    assert isinstance(r.get(k), str) and r[k], k
assert isinstance(r.get("threads"), int), "threads"
for k, v in (a.split("=") for a in sys.argv[2:]):
    assert str(r[k]) == v, "%s is %r, expected %s" % (k, r[k], v)
EOF
json_ok() { python3 "$T/check.py" "$T/out" "$@"; }

# ---- --json ------------------------------------------------------------------------------------
expect_ok "$GEXEC" bench "$SRC/graphs/char_lstm.graph" "${SMALL[@]}" --json --data text.txt \
    --threads 1
check "char_lstm --json: one object, the keys, positive numbers" \
    json_ok graph=char_lstm batch=4 bptt=16 threads=1
check "--json writes nothing on stderr" test ! -s "$T/err"

# the FLOPs of an LSTM step, from engine/flops.h (B = 4, T = 16, E = 16, H = 32, V from the
# data). P = 2*B*4H*(E+H), the gate products of one step. Inference: T*P + the head 2*B*T*V*H
# + elementwise (a few percent). Training adds the backward products (dx, dh, dW_ih, dW_hh: 2P)
# and two more head products; a fused lstm_cell_backward also recomputes its forward (P more),
# the step form with the input product hoisted out of the loop does not: both are accepted.
flops_ok() {
    python3 - "$T/out" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
B, T, E, H, V = 4, 16, 16, 32, r["dims"]["V"]
P, head, elem = 2*B*4*H*(E+H), 2*B*T*V*H, 4*B*4*H
infer, got = T*P + head, r["flops_per_infer"]
assert infer <= got <= 1.1 * (infer + T*elem), "flops_per_infer: %g, formula %g" % (got, infer)
lo, hi, got = 3*T*P + 3*head, 4*T*P + 3*head + 4*T*elem, r["flops_per_step"]
assert lo <= got <= 1.1 * hi, "flops_per_step: %g, not in [%g, %g]" % (got, lo, hi)
EOF
}
check "char_lstm: FLOPs per step match flops.h's formulas" flops_ok

# the data of the graph's train block (data/tinyshakespeare.txt beside the graph)
expect_ok "$GEXEC" bench "$SRC/graphs/char_lstm.graph" "${SMALL[@]}" --json
check "char_lstm with the train block's data (V = 65)" python3 -c "
import json; assert json.load(open('$T/out'))['dims']['V'] == 65"
expect_ok "$GEXEC" bench "$SRC/graphs/char_rnn.graph" "${SMALL[@]}" --json --data text.txt
check "char_rnn --json" json_ok graph=char_rnn
# the library GRU cell (composite ops), and a synthetic task
expect_ok "$GEXEC" bench "$SRC/graphs/char_gru.graph" "${SMALL[@]}" --json --data text.txt
check "char_gru --json" json_ok graph=char_gru
expect_ok "$GEXEC" bench "$SRC/graphs/copy_lstm.graph" --steps 2 --warmup 0 --batch 4 \
    --task copy:length=3,gap=4 --json
check "copy_lstm on a task" json_ok bptt=10

# ---- the text report ---------------------------------------------------------------------------
expect_ok "$GEXEC" bench "$SRC/graphs/char_lstm.graph" "${SMALL[@]}" --data text.txt
check "text report: training line" grep -q "^  training .* tok/s .* ms/step (min .*GFLOP/s" "$T/out"
check "text report: inference line" grep -q "^  inference .* tok/s" "$T/out"
check "text report: peak RSS" grep -q "^  peak RSS .* MB" "$T/out"
expect_ok "$GEXEC" bench --help
check "help lists --json" out_has "--json"

# ---- what a user gets wrong --------------------------------------------------------------------
expect_fail "no-such.graph" "$GEXEC" bench no-such.graph --steps 1
expect_fail "missing FILE.graph" "$GEXEC" bench --steps 1
expect_fail "unknown option '--stpes'" "$GEXEC" bench "$SRC/graphs/char_lstm.graph" --stpes 2
expect_fail "--steps" "$GEXEC" bench "$SRC/graphs/char_lstm.graph" --steps 0
expect_fail "--warmup" "$GEXEC" bench "$SRC/graphs/char_lstm.graph" --warmup x
expect_fail "--threads" "$GEXEC" bench "$SRC/graphs/char_lstm.graph" --threads -1
expect_fail "needs a value" "$GEXEC" bench "$SRC/graphs/char_lstm.graph" --steps
expect_fail "no-such.txt" "$GEXEC" bench "$SRC/graphs/char_lstm.graph" --data no-such.txt
expect_fail "nope" "$GEXEC" bench "$SRC/graphs/char_lstm.graph" "${SMALL[@]}" --data text.txt \
    --backend nope
printf 'graph broken\nx = \n' >broken.graph
expect_fail "broken.graph" "$GEXEC" bench broken.graph

# ---- bench.py, quick, on the tiny config ------------------------------------------------------
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3
expect_ok "$PY" "$SRC/tools/bench/bench.py" --gexec "$GEXEC" --data text.txt --quick \
    --configs tiny --models lstm --threads 1 --rounds 1 --json bench.json
check "bench.py prints the table" grep -q "^lstm  *2  *2  *1  *3  *1 " "$T/out"
check "bench.py writes its JSON" python3 -c "
import json; r = json.load(open('bench.json'))['results']
assert len(r) == 1 and r[0]['gexec'][0]['train_tokens_per_s'] > 0"
expect_fail "unknown config" "$PY" "$SRC/tools/bench/bench.py" --gexec "$GEXEC" --configs huge

echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
