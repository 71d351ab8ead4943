#!/usr/bin/env bash
# test-diag.sh: diagnostics end to end (gexec train --diag, gexec diag, --nan, --tensorboard).
#
# usage: test-diag.sh PATH/TO/gexec   (env: GEXEC_SOURCE_DIR = the repository)
#
#   - the gradient norms gexec diag logs (per param, global, and ||dL/dh_t|| for every step t
#     of the window) equal the norms of what `gexec grad` writes for the same batch and params,
#     where the graph adds a zero input eps to h after the cell (grad.eps = dL/dh_t);
#   - gate statistics of fused cells (hoisted into lstm_step/gru_step, and not hoisted) equal
#     those of the composite cells of graphs/lib/cells.graph, with saturated gates;
#   - diagnostics change nothing: a run with --diag ends with the same checkpoint, bit for bit;
#   - the files are what the README says; a NaN is found by op, source line and time step, and
#     --nan skip goes on; bad flags are refused with one line;
#   - distribution probes (softmax, attention weights; fixtures/attention): batch row 0's
#     weights per logged step, [T, S] in a loop and [1, S] outside, equal to the softmax
#     recomputed from the checkpoint and the batch; rows sum to 1; the entropy falls as the
#     attention learns its alignment; long and wide ones are cut to 128 x 128.
# Ends with "N passed, M failed".

set -u

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
GEXEC=${1:?usage: test-diag.sh PATH/TO/gexec}
SRC=${GEXEC_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
GEXEC=$(cd "$(dirname "$GEXEC")" && pwd)/$(basename "$GEXEC")
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3

T=$(mktemp -d "${TMPDIR:-/tmp}/gexec-diag.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 1
RUN_TIMEOUT=120
# shellcheck source=harness.sh
. "$HERE/harness.sh"

head -c 30000 "$SRC/graphs/data/tinyshakespeare.txt" >text.txt
SMALL=(--dim E=8 --dim H=16 --dim B=4 --dim T=8)

# ---- gradient norms against gexec grad ---------------------------------------------------------
# char_lstm with h = h + eps[t] after the cell: grad.eps[:, t, :] is dL/dh_t
sed -e 's/^state c0 : f32\[B, H\] = 0$/&\nstate eps : f32[B, T, H] = 0/' \
    -e 's/^hs, hT, cT = loop t over x carry/hs, hT, cT = loop t over x, eps carry/' \
    -e 's/^\(    h, c = lstm_cell(x\[t\], h, c, W_ih, W_hh, b_ih, b_hh)\)$/\1\n    h = h + eps[t]/' \
    "$SRC/graphs/char_lstm.graph" >eps.graph
check "the eps variant of char_lstm was made" grep -q "h = h + eps\[t\]" eps.graph
expect_ok "$GEXEC" train "$SRC/graphs/char_lstm.graph" --data text.txt --dim E=8 --dim H=16 \
    --batch 4 --bptt 8 --steps 5 --quiet --checkpoint five.ckpt
expect_ok "$GEXEC" diag five.ckpt --data text.txt --diag d1 --save-batch batch.safetensors
check "gexec diag prints the gradient through time" out_has "gradient through time, layer hs"
V=$(sed -n 's/.*"dims":"V=\([0-9]*\),.*/\1/p' d1/diag.jsonl | head -n 1)
check "the record names the dims" test -n "$V"
for be in cpu-scalar cpu-sleef; do
    expect_ok "$GEXEC" grad eps.graph "${SMALL[@]}" --dim "V=${V:-58}" --inputs batch.safetensors \
        --params five.ckpt --out "g-$be.safetensors" --backend "$be"
    run "$PY" "$HERE/diag-compare.py" "g-$be.safetensors" d1/diag.jsonl --tol 2e-4
    check "$be: every param's gradient norm, the global norm and ||dL/dh_t|| for t = 0..7 equal gexec grad's" \
        [ "$RC" -eq 0 ]
    [ "$RC" -eq 0 ] || tail -n 5 "$T/out"
done

# ---- fused and composite cells report the same gate statistics ---------------------------------
# big input weights saturate the gates, so the saturation fractions are not all zero
cat >cells.graph <<'G'
graph cells
import "lib/cells.graph"
dim V = 58
dim B = 4
dim T = 8
dim E = 8
dim H = 16
input tokens  : i32[B, T]
input targets : i32[B, T]
state h0 : f32[B, H] = 0
state c0 : f32[B, H] = 0
param emb   : f32[V, E]    init normal(0, 1)
param W_ih  : f32[4*H, E]  init normal(0, 1.5)
param W_hh  : f32[4*H, H]  init orthogonal
param b_ih  : f32[4*H]     init uniform(-1, 1)
param b_hh  : f32[4*H]     init zeros
param W_out : f32[V, H]    init xavier
param b_out : f32[V]       init zeros
x = embedding(emb, tokens)
hs, hT, cT = loop t over x carry (h = h0, c = c0) {
    h, c = CELL
    yield h
}
logits = hs @ transpose(W_out) + b_out
loss = cross_entropy(logits, targets)
G
mkdir -p lib && cp "$SRC/graphs/lib/cells.graph" lib/cells.graph
sed 's/CELL/lstm_cell(x[t], h, c, W_ih, W_hh, b_ih, b_hh)/' cells.graph >lstm_fused.graph
sed 's/CELL/lstm(x[t], h, c, W_ih, W_hh, b_ih, b_hh)/' cells.graph >lstm_comp.graph
# the GRU: 3H gate blocks, one carry
sed -e 's/4\*H/3*H/g' -e '/^state c0/d' -e 's/, hT, cT = loop t over x carry (h = h0, c = c0)/, hT = loop t over x carry (h = h0)/' \
    -e 's/    h, c = CELL/    h = CELL/' cells.graph >gru.tmpl
sed 's/CELL/gru_cell(x[t], h, W_ih, W_hh, b_ih, b_hh)/' gru.tmpl >gru_fused.graph
sed 's/CELL/gru(x[t], h, W_ih, W_hh, b_ih, b_hh)/' gru.tmpl >gru_comp.graph
for cell in lstm gru; do
    expect_ok "$GEXEC" diag "${cell}_comp.graph" --data text.txt --diag "$cell-comp" --backend cpu-scalar
    expect_ok "$GEXEC" diag "${cell}_fused.graph" --data text.txt --diag "$cell-fused" --backend cpu-scalar
    GEXEC_DISABLE=hoist expect_ok "$GEXEC" diag "${cell}_fused.graph" --data text.txt \
        --diag "$cell-cell" --backend cpu-scalar
    for variant in fused cell; do
        run "$PY" "$HERE/diag-compare.py" --gates "$cell-comp/diag.jsonl" "$cell-$variant/diag.jsonl"
        check "$cell: gate statistics of the fused cell ($variant) equal the composite cell's" \
            [ "$RC" -eq 0 ]
        [ "$RC" -eq 0 ] || tail -n 8 "$T/out"
    done
done
run "$PY" "$HERE/diag-compare.py" --gates lstm-comp/diag.jsonl lstm-fused/diag.jsonl --show
check "some gates are saturated (the comparison is not of zeros)" grep -q "saturated 0\.[0-9]*[1-9]" "$T/out"

# ---- diagnostics change nothing; the files -------------------------------------------------------
for be in cpu-scalar cpu-sleef; do
    expect_ok "$GEXEC" train "$SRC/graphs/stacked_lstm.graph" --data text.txt --dim E=8 --dim H=16 \
        --batch 4 --bptt 8 --steps 12 --quiet --checkpoint plain.ckpt --backend "$be"
    expect_ok "$GEXEC" train "$SRC/graphs/stacked_lstm.graph" --data text.txt --dim E=8 --dim H=16 \
        --batch 4 --bptt 8 --steps 12 --quiet --checkpoint diag.ckpt --backend "$be" \
        --diag run --diag-every 3 --diag-buckets 2 --tensorboard tb --val-every 6
    check "$be: a run with --diag ends bit-identical to one without" cmp -s plain.ckpt diag.ckpt
done
run "$PY" - run/diag.jsonl <<'P'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
types = [r["type"] for r in recs]
assert types[0] == "meta" and types[-1] == "done", types
assert types.count("train") == 12 and types.count("diag") == 4 and types.count("val") == 2, types
meta = recs[0]
assert [l["name"] for l in meta["layers"]] == ["hs1", "hs2"], meta["layers"]
assert [p["name"] for p in meta["params"] if p["recurrent"]] == ["W_hh_1", "W_hh_2"], meta["params"]
d = [r for r in recs if r["type"] == "diag"][-1]
assert d["step"] == 10, d["step"]
assert len(d["gates"]) == 10 and all(len(g["buckets"]) == 2 for g in d["gates"])
assert {(s["layer"], s["carry"]) for s in d["grad_time"]} == {("hs1", "h"), ("hs1", "c"), ("hs2", "h"), ("hs2", "c")}
assert all(len(s["norm"]) == 8 for s in d["grad_time"] + d["states"])
assert [s["param"] for s in d["spectral"]] == ["W_hh_1", "W_hh_2"] and all(len(s["rho"]) == 4 for s in d["spectral"])
assert all(0 < r < 10 for s in d["spectral"] for r in s["rho"])
print("ok")
P
check "diag.jsonl: meta, 12 train, 4 diag, 2 val records and done; layers, recurrent matrices, taps" \
    [ "$RC" -eq 0 ]
[ "$RC" -eq 0 ] || cat "$T/err"
check "scalars.csv has its header and per-param rows" grep -q "^10,param/W_hh_2/update_ratio," run/scalars.csv
check "grad_time.csv has a row per time step" \
    test "$(grep -c '^10,hs2,h,' run/grad_time.csv)" -eq 8
check "states.csv has a row per time step" test "$(grep -c '^10,hs1,c,' run/states.csv)" -eq 8
check "--tensorboard wrote an event file" sh -c 'ls tb/events.out.tfevents.* >/dev/null'
run "$PY" "$HERE/tb-verify.py" tb
if [ "$RC" -eq 2 ]; then
    echo "SKIP: tb-verify.py needs python3-protobuf and python3-crcmod"
else
    check "the event files read back with the protobuf library (CRCs, Event and Summary fields)" \
        [ "$RC" -eq 0 ]
    check "they hold the loss, per-param gradient norms and the gates' histograms" sh -c \
        "grep -q 'scalar loss step=12' '$T/out' && grep -q 'scalar param/W_hh_2/grad_norm step=10' '$T/out' && grep -q 'histo gate/hs2/gate.forget step=10' '$T/out'"
fi

# ---- distribution probes: attention weights ------------------------------------------------
FIXA=$HERE/fixtures/attention
expect_ok "$GEXEC" train "$FIXA/reverse.graph" --data "$FIXA/reverse.jsonl" --steps 30 --lr 0.05 \
    --diag attn --diag-every 5 --checkpoint attn.ckpt --backend cpu-scalar --quiet
run "$PY" - attn/diag.jsonl attn/scalars.csv <<'P'
import json, math, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
diags = [r for r in recs if r["type"] == "diag"]
assert [r["step"] for r in diags] == [1, 6, 11, 16, 21, 26], [r["step"] for r in diags]
def gate(r, probe):
    return next(g for g in r["gates"] if g["probe"] == probe)
for r in diags:
    for probe, layer, T in (("attn", "ctx", 6), ("salience", "graph", 1)):
        g = gate(r, probe)
        assert g["layer"] == layer and g["kind"] == "dist" and g["saturated"] is None, g
        d = g["dist"]
        assert (d["T"], d["S"], d["rows"], d["cols"]) == (T, 6, T, 6), d
        assert (d["row_stride"], d["col_stride"], d["cut"]) == (1, 1, False), d
        w = d["weights"]
        assert len(w) == T and all(len(row) == 6 for row in w), w
        assert all(abs(sum(row) - 1) < 1e-3 and min(row) >= 0 for row in w), w
        assert 0 <= g["entropy"] <= math.log(6) + 1e-6, g["entropy"]
first, last = gate(diags[0], "attn"), gate(diags[-1], "attn")
assert first["entropy"] > 1.5 and last["entropy"] < 0.3, (first["entropy"], last["entropy"])
# learned: output step t reads source position S-1-t
w = last["dist"]["weights"]
assert [row.index(max(row)) for row in w] == [5, 4, 3, 2, 1, 0], w
csv = open(sys.argv[2]).read()
assert "\n26,gate/ctx/attn/entropy," in csv and "\n26,gate/graph/salience/entropy," in csv
assert "gate/ctx/attn/saturated" not in csv and "gate/ctx/attn/mean" in csv
print("ok")
P
check "attention: batch row 0's [6, 6] weights (and [1, 6] outside the loop) per logged step, rows summing to 1, the entropy falling, the reversal learned" \
    [ "$RC" -eq 0 ]
[ "$RC" -eq 0 ] || cat "$T/err"
expect_ok "$GEXEC" diag attn.ckpt --data "$FIXA/reverse.jsonl" --diag attn-one \
    --save-batch attn-batch.safetensors --backend cpu-scalar
check "gexec diag prints a distribution probe's entropy and weights" \
    out_has "distribution ctx/attn: mean entropy"
# the weights are the softmax recomputed from the params and the batch: batch row 0, every step
run "$PY" - "$HERE" attn.ckpt attn-batch.safetensors attn-one/diag.jsonl <<'P'
import json, math, sys
sys.path.insert(0, sys.argv[1])
import st_floats
p, b = st_floats.read(sys.argv[2]), st_floats.read(sys.argv[3])
rec = [r for r in map(json.loads, open(sys.argv[4])) if r["type"] == "diag"][-1]
(T, H), Wq = p["param.W_q"]
(S, _), K = p["param.K"]
(B, _, _), pos = b["pos"]
(_, _, F), src = b["src"]
def softmax(z):
    m = max(z)
    e = [math.exp(v - m) for v in z]
    return [v / sum(e) for v in e]
def attn(bb, t):
    q = [sum(pos[(bb * T + t) * T + i] * Wq[i * H + h] for i in range(T)) for h in range(H)]
    return softmax([sum(q[h] * K[s * H + h] for h in range(H)) for s in range(S)])
gates = {g["probe"]: g for g in rec["gates"]}
got = gates["attn"]["dist"]["weights"]
err = max(abs(got[t][s] - attn(0, t)[s]) for t in range(T) for s in range(S))
ent = [-sum(v * math.log(v) for v in attn(bb, t) if v > 0) for bb in range(B) for t in range(T)]
sal = softmax([sum(src[s * F + f] for f in range(F)) for s in range(S)])
err_sal = max(abs(a - c) for a, c in zip(gates["salience"]["dist"]["weights"][0], sal))
err_ent = abs(gates["attn"]["entropy"] - sum(ent) / len(ent))
print("max errors: weights %.3g, salience %.3g, entropy %.3g" % (err, err_sal, err_ent))
assert err < 1e-4 and err_sal < 1e-4 and err_ent < 1e-4
P
check "the logged weights are softmax(q_t K^T) of batch row 0 at every step, and the entropy the mean over every row, recomputed from the checkpoint and the batch" \
    [ "$RC" -eq 0 ]
[ "$RC" -eq 0 ] || cat "$T/out" "$T/err"
# softmax probes outside the loop: over the vocabulary ([B, T, V], T = 130 rows of batch element
# 0) and over 300 positions: cut to one row in 2 and blocks of 3 positions
sed -e 's/^loss = cross_entropy(logits, targets)$/&\nnext = softmax(logits)  probe "next"\nwide = softmax(hs @ W_w)  probe "wide"/' \
    -e 's/^param b_out .*/&\nparam W_w   : f32[H, 300] init xavier/' "$SRC/graphs/char_rnn.graph" >wide.graph
expect_ok "$GEXEC" train wide.graph --data text.txt --dim E=8 --dim H=16 --batch 2 --bptt 130 \
    --steps 2 --diag wide --diag-every 1 --quiet --backend cpu-scalar
run "$PY" - wide/diag.jsonl <<'P'
import json, sys
rec = [r for r in map(json.loads, open(sys.argv[1])) if r["type"] == "diag"][-1]
gates = {g["probe"]: g for g in rec["gates"]}
for probe, S, cols, cs in (("next", None, None, 1), ("wide", 300, 100, 3)):
    d = gates[probe]["dist"]
    assert d["T"] == 130 and d["rows"] == 65 and d["row_stride"] == 2 and d["cut"] is True, d
    assert d["col_stride"] == cs and (S is None or (d["S"], d["cols"]) == (S, cols)), d
    w = d["weights"]
    assert len(w) == 65 and all(len(r) == d["cols"] for r in w)
    assert all(abs(sum(r) - 1) < 1e-3 for r in w)
print("ok")
P
check "a 130 x 300 distribution is cut to 65 x 100 (one row in 2, blocks of 3 positions), rows still summing to 1" \
    [ "$RC" -eq 0 ]
[ "$RC" -eq 0 ] || cat "$T/err"

# ---- NaN: found by op, line and time step ----------------------------------------------------
sed -e 's/^    yield h$/    q = log(h)\n    yield q/' "$SRC/graphs/char_rnn.graph" >nan.graph
LINE=$(grep -n "q = log(h)" nan.graph | cut -d: -f1)
expect_fail "the first NaN or Inf is the output of 'log'" "$GEXEC" train nan.graph --data text.txt \
    --dim E=8 --dim H=16 --batch 4 --bptt 8 --steps 3 --quiet
check "the NaN message names the source line and time step 0" \
    grep -q "nan.graph:$LINE:.*time step 0 of the loop" "$T/err"
expect_ok "$GEXEC" train nan.graph --data text.txt --dim E=8 --dim H=16 --batch 4 --bptt 8 \
    --steps 3 --nan skip --diag nanrun
check "--nan skip goes on and says what it skipped" err_has "skipped for a NaN or Inf"
check "--nan skip logs a nan record" grep -q '"type":"nan".*"op":"log".*"time_step":0.*"action":"skip"' nanrun/diag.jsonl

# ---- bad flags -----------------------------------------------------------------------------------
expect_fail "--nan takes stop or skip" "$GEXEC" train "$SRC/graphs/char_rnn.graph" --data text.txt --nan maybe
expect_fail "--diag-every" "$GEXEC" train "$SRC/graphs/char_rnn.graph" --data text.txt --diag x --diag-every 0
touch afile
expect_fail "cannot create" "$GEXEC" train "$SRC/graphs/char_rnn.graph" --data text.txt --diag afile/sub \
    --steps 1
expect_fail "error" "$GEXEC" diag nosuch.ckpt --data text.txt

echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
