#!/usr/bin/env bash
# test-train.sh: `gexec train`, `gexec sample` and `gexec eval`, end to end, on small models.
#
# usage: test-train.sh PATH/TO/gexec   (env: GEXEC_SOURCE_DIR = the repository)
#
# What a user does: train a character model on a text file with checkpoints, stop and resume
# (the resumed run must end with bit-identical parameters, optimizer state and carried states),
# sample and evaluate the checkpoint; train on a synthetic task and on a JSONL file. What a user
# gets wrong: empty, binary or malformed data, unknown train settings or flags, a checkpoint of
# another graph, a truncated or corrupt checkpoint: each ends in status 1 or 2 with one line on
# stderr that says what is wrong. Ends with "N passed, M failed".

set -u

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

GEXEC=${1:?usage: test-train.sh PATH/TO/gexec}
SRC=${GEXEC_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
GEXEC=$(cd "$(dirname "$GEXEC")" && pwd)/$(basename "$GEXEC")

T=$(mktemp -d "${TMPDIR:-/tmp}/gexec-train.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 1

RUN_TIMEOUT=120
# shellcheck source=harness.sh
. "$HERE/harness.sh"

# a small corpus and small models, on the reference backend (bit-exact across runs)
head -c 30000 "$SRC/graphs/data/tinyshakespeare.txt" >"$T/text.txt" 2>/dev/null ||
    head -c 30000 "$SRC/../shared/data/tinyshakespeare.txt" >"$T/text.txt"
SMALL=(--dim E=8 --dim H=16 --batch 4 --bptt 8 --backend cpu-scalar --quiet)

# ---- train, stop, resume: bit-identical ----------------------------------------------------
for g in char_lstm stacked_lstm char_gru; do
    expect_ok "$GEXEC" train "$SRC/graphs/$g.graph" --data text.txt "${SMALL[@]}" --steps 6 \
        --checkpoint "$g-full.ckpt" --seed 7
    expect_ok "$GEXEC" train "$SRC/graphs/$g.graph" --data text.txt "${SMALL[@]}" --steps 3 \
        --checkpoint "$g-half.ckpt" --seed 7
    expect_ok "$GEXEC" train "$SRC/graphs/$g.graph" --data text.txt "${SMALL[@]}" --steps 6 \
        --resume "$g-half.ckpt" --checkpoint "$g-resumed.ckpt"
    check "$g: a run stopped at step 3 and resumed ends bit-identical to one that never stopped" \
        cmp -s "$g-full.ckpt" "$g-resumed.ckpt"
done
# a checkpoint every 2 steps, and the stream wraps to a new epoch (state reset) on the way
expect_ok "$GEXEC" train "$SRC/graphs/char_lstm.graph" --data text.txt "${SMALL[@]}" \
    --steps 1000 --checkpoint every.ckpt --checkpoint-every 2 --val-every 500
check "a run over several epochs writes its checkpoint" test -s every.ckpt

# ---- the progress output ---------------------------------------------------------------------
expect_ok "$GEXEC" train "$SRC/graphs/char_rnn.graph" --data text.txt --dim E=8 --dim H=16 \
    --batch 4 --bptt 8 --steps 4 --log-every 2 --val-every 2 --val-batches 3
check "plain log lines when stderr is not a terminal" grep -q "^step 2/4 .*loss .*tok/s" "$T/err"
check "validation lines" grep -q "^step 4  validation loss" "$T/err"
check "the summary line" grep -q "^gexec: done: 4 steps" "$T/err"

# ---- sample and eval -------------------------------------------------------------------------
expect_ok "$GEXEC" sample char_lstm-full.ckpt --prime "ROMEO:" --length 40 --seed 1
check "sample starts with the prime and generates the length asked" \
    test "$(head -c 6 "$T/out")" = "ROMEO:"
cp "$T/out" sample1.txt
expect_ok "$GEXEC" sample char_lstm-full.ckpt --prime "ROMEO:" --length 40 --seed 1
check "sampling is deterministic for a seed" cmp -s "$T/out" sample1.txt
expect_ok "$GEXEC" sample char_lstm-full.ckpt --length 20 --temperature 0.5 --top-k 3
expect_ok "$GEXEC" eval char_lstm-full.ckpt --data text.txt
check "eval prints nats and bits per character" grep -q "nats/char.*bits/char" "$T/out"
expect_fail "not in the vocabulary" "$GEXEC" sample char_lstm-full.ckpt --prime "@@~~" --length 5

# ---- tasks and JSONL -------------------------------------------------------------------------
expect_ok "$GEXEC" train "$SRC/graphs/parity_gru.graph" --task parity:length=6 --steps 3 \
    --batch 8 --dim H=8 --val-every 3
check "a task graph reports its accuracy metric" grep -q "validation loss .* acc " "$T/err"
expect_ok "$GEXEC" train "$SRC/graphs/copy_lstm.graph" --task copy:gap=3,length=2 --steps 2 \
    --batch 4 --dim H=8
python3 - "$T/seq.jsonl" <<'EOF'
import json, random, sys
random.seed(1)
with open(sys.argv[1], "w") as f:
    for i in range(40):
        n = random.randint(3, 12)
        xs = [[random.random() for _ in range(8)] for _ in range(n)]
        f.write(json.dumps({"xs": xs, "labels": random.randint(0, 4)}) + "\n")
EOF
expect_ok "$GEXEC" train "$SRC/graphs/masked_classifier.graph" --data seq.jsonl --batch 4 \
    --steps 3 --dim H=8
printf '{"xs": [[1,2,3,4,5,6,7,8]], "labels": 1}\n{"xs": [[1,2]], "labels": \n' >bad.jsonl
expect_fail "bad.jsonl:2:" "$GEXEC" train "$SRC/graphs/masked_classifier.graph" --data bad.jsonl \
    --batch 1 --steps 1
printf '{"xs": [[1,2,3,4,5,6,7,8]]}\n{"xs": [[1,2,3,4,5,6,7,8]]}\n{"xs": [[1,2,3,4,5,6,7,8]]}\n' >nolabel.jsonl
expect_fail "labels" "$GEXEC" train "$SRC/graphs/masked_classifier.graph" --data nolabel.jsonl \
    --batch 1 --steps 1

# ---- what users get wrong --------------------------------------------------------------------
: >empty.txt
expect_fail "empty" "$GEXEC" train "$SRC/graphs/char_lstm.graph" --data empty.txt --steps 1
head -c 3000 /dev/urandom >binary.txt
printf '\0' >>binary.txt
expect_fail "binary" "$GEXEC" train "$SRC/graphs/char_lstm.graph" --data binary.txt --steps 1
expect_fail "missing.txt" "$GEXEC" train "$SRC/graphs/char_lstm.graph" --data missing.txt --steps 1
printf 'abc' >short.txt
expect_fail "short.txt" "$GEXEC" train "$SRC/graphs/char_lstm.graph" --data short.txt --steps 1
expect_fail "no training data" "$GEXEC" train "$SRC/graphs/char_rnn.graph" --steps 1
expect_fail "unknown task" "$GEXEC" train "$SRC/graphs/copy_lstm.graph" --task copyy --steps 1
expect_fail "did you mean '--steps'" "$GEXEC" train "$SRC/graphs/char_lstm.graph" --step 3
expect_fail "--lr wants a number" "$GEXEC" train "$SRC/graphs/char_lstm.graph" --lr fast
sed 's/train {/train { epochz = 2 /' "$SRC/graphs/char_lstm.graph" >badkey.graph
line=$(grep -n "^train {" badkey.graph | cut -d: -f1)
expect_fail "badkey.graph:$line:9: error: unknown train setting 'epochz'; did you mean 'epochs'" \
    "$GEXEC" train badkey.graph --data text.txt
sed 's/optimizer = adam(lr = 2e-3)/optimizer = adan(lr = 2e-3)/' "$SRC/graphs/char_lstm.graph" >badopt.graph
expect_fail "unknown optimizer 'adan'" "$GEXEC" train badopt.graph --data text.txt
# a checkpoint of another graph, or another run's dims
expect_fail "from another graph" "$GEXEC" train "$SRC/graphs/char_rnn.graph" --data text.txt \
    "${SMALL[@]}" --steps 6 --resume char_lstm-half.ckpt
expect_fail "dims" "$GEXEC" train "$SRC/graphs/char_lstm.graph" --data text.txt \
    --dim E=8 --dim H=16 --batch 2 --bptt 8 --backend cpu-scalar --steps 6 --resume char_lstm-half.ckpt
# truncated and corrupt checkpoints (every byte is covered by test-checkpoint; a few here)
size=$(stat -c %s char_lstm-full.ckpt)
for cut in 0 7 8 100 $((size / 2)) $((size - 1)); do
    head -c "$cut" char_lstm-full.ckpt >cut.ckpt
    expect_fail "cut.ckpt" "$GEXEC" sample cut.ckpt --length 5
done
expect_fail "not a gexec checkpoint" "$GEXEC" sample "$SRC/graphs/data/rnn-inputs.safetensors"

# a NaN/Inf model is never saved over a good checkpoint: an update that overflows (finite loss
# and gradient, params not finite after it) stops the run with the param named, and the
# checkpoint of the last good step stays byte for byte
cat > blow.graph <<'EOF2'
graph blow
dim T = 5
dim I = 2
dim B = 4
input x : f32[B, T, I]
input y : f32[B]
param w : f32[1] init constant(1)
loss = mse(sum(x, axes = [1, 2]) * 0, y) + sum(exp(w * 80))
EOF2
expect_ok "$GEXEC" train blow.graph --task adding:length=5 --steps 2 --checkpoint blow.ckpt \
    --optimizer sgd --lr 0 --backend cpu-scalar --quiet
cp blow.ckpt blow-good.ckpt
expect_fail "blow.ckpt: not saving the checkpoint of step 3: element 0 of the param 'w' is not finite" \
    "$GEXEC" train blow.graph --task adding:length=5 --steps 4 --checkpoint blow.ckpt \
    --checkpoint-every 1 --resume blow.ckpt --optimizer sgd --lr 1e6 --backend cpu-scalar --quiet
check "the good checkpoint is kept byte for byte" cmp -s blow.ckpt blow-good.ckpt

echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
