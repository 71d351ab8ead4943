#!/usr/bin/env bash
# test-vulkan.sh: training on the Vulkan backend, end to end, under the validation layer.
#   - char_lstm trains on Vulkan: every one of the first 50 losses within f32 noise of
#     cpu-scalar's (rel 2e-4), two of them diagnostics steps (host update) among device steps;
#     the final params agree too, and no validation message appears;
#   - a run stopped and resumed ends with the same bytes as one that was not;
#   - an op with no Vulkan kernel (a third-party plugin's) runs on cpu-scalar through the host,
#     with one warning naming it, and the right numbers;
#   - --device with no such device is a clear error.
# Exits 77 (ctest: skipped) where no Vulkan device exists.
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
GEXEC=${1:?usage: test-vulkan.sh PATH/TO/gexec}
SRC=${GEXEC_SOURCE_DIR:-$(cd "$HERE/../.." && pwd)}
BUILD=${GEXEC_BUILD_DIR:-$(cd "$(dirname "$GEXEC")/.." && pwd)}
GEXEC=$(cd "$(dirname "$GEXEC")" && pwd)/$(basename "$GEXEC")
T=$(mktemp -d "${TMPDIR:-/tmp}/gexec-vk.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 1
RUN_TIMEOUT=600
. "$HERE/harness.sh"

# ---- no driver at all: a skipped backend and one clear line, never a crash ----
run "$GEXEC" plugins
if ! grep -qE '^  vulkan +0' "$T/out"; then
    echo "the vulkan plugin is not built (no Vulkan headers or glslangValidator): skipped"
    exit 77
fi
VK_DRIVER_FILES=/nonexistent/icd.json expect_ok "$GEXEC" plugins
check "without a driver, plugins lists vulkan as unavailable" \
    grep -qE "^  vulkan +unavailable: backend 'vulkan' is not usable on this machine" "$T/out"
VK_DRIVER_FILES=/nonexistent/icd.json expect_fail "backend 'vulkan' is not usable on this machine" \
    "$GEXEC" train "$SRC/graphs/char_lstm.graph" --data "$SRC/graphs/data/tinyshakespeare.txt" \
    --steps 1 --backend vulkan
VK_DRIVER_FILES=/nonexistent/icd.json expect_ok "$GEXEC" train "$SRC/graphs/char_lstm.graph" \
    --data "$SRC/graphs/data/tinyshakespeare.txt" --steps 1 --batch 2 --bptt 4 --quiet
check "without a driver, training picks a CPU backend" bash -c "! grep -q vulkan '$T/err'"

run "$GEXEC" plugins
if ! grep -qE '^  vulkan +device [0-9]+:' "$T/out"; then
    echo "no Vulkan device here: $(grep -E '^  vulkan ' "$T/out")"
    echo "$PASS passed, $FAIL failed; the rest skipped"
    [ "$FAIL" -eq 0 ] || exit 1
    exit 77
fi
echo "$(grep -E '^  vulkan ' "$T/out")"
export GEXEC_VULKAN_VALIDATION=1

# ---- char_lstm, cpu-scalar against vulkan ----
common=(train "$SRC/graphs/char_lstm.graph" --data "$SRC/graphs/data/tinyshakespeare.txt"
        --steps 50 --batch 4 --bptt 16 --dim H=32 --val-batches 2 --diag-every 25 --quiet)
for be in cpu-scalar vulkan; do
    expect_ok "$GEXEC" "${common[@]}" --backend "$be" --diag "diag-$be" --checkpoint "$be.ckpt"
    cp "$T/err" "err-$be"
done
check "no validation message on vulkan" bash -c "! grep -q 'vulkan validation' err-vulkan"
check "no op fell back to the host in char_lstm" bash -c "! grep -q 'has no kernel' err-vulkan"
check "the first 50 losses and gradient norms of vulkan match cpu-scalar's (rel 2e-4)" python3 -c "
import json, sys
def steps(path):
    return [json.loads(l) for l in open(path) if '\"type\":\"train\"' in l]
a, b = steps('diag-cpu-scalar/diag.jsonl'), steps('diag-vulkan/diag.jsonl')
assert len(a) == 50 and len(b) == 50, (len(a), len(b))
worst = 0
for x, y in zip(a, b):
    for k in ('loss', 'grad_norm'):
        r = abs(x[k] - y[k]) / abs(x[k])
        worst = max(worst, r)
        assert r <= 2e-4, (x['step'], k, x[k], y[k], r)
print('  worst relative difference over 50 steps: %.2e (loss %.6f -> %.6f)' % (worst, a[0]['loss'], a[-1]['loss']))
"
check "the params after 50 steps match (rel 1e-3 of each tensor's largest)" python3 -c "
import json, struct
def load(path):
    raw = open(path, 'rb').read()
    n = struct.unpack('<Q', raw[:8])[0]
    head = json.loads(raw[8:8 + n])
    out = {}
    for k, v in head.items():
        if k.startswith('param.') and v['dtype'] == 'F32':
            s, e = v['data_offsets']
            out[k] = struct.unpack('<%df' % ((e - s) // 4), raw[8 + n + s:8 + n + e])
    return out
a, b = load('cpu-scalar.ckpt'), load('vulkan.ckpt')
assert a.keys() == b.keys() and a, (a.keys(), b.keys())
for k in a:
    scale = max(abs(x) for x in a[k]) or 1
    d = max(abs(x - y) for x, y in zip(a[k], b[k]))
    assert d <= 1e-3 * scale, (k, d, scale)
"

# ---- a run stopped and resumed on the device ends bit-identical (params and optimizer state
# come back from the device for the checkpoint and go up again on resume) ----
short=(train "$SRC/graphs/char_lstm.graph" --data "$SRC/graphs/data/tinyshakespeare.txt"
       --batch 4 --bptt 16 --dim H=32 --val-batches 1 --quiet --backend vulkan)
expect_ok "$GEXEC" "${short[@]}" --steps 10 --checkpoint full.ckpt
expect_ok "$GEXEC" "${short[@]}" --steps 5 --checkpoint half.ckpt
expect_ok "$GEXEC" "${short[@]}" --steps 10 --resume half.ckpt --checkpoint resumed.ckpt
check "stopped at 5 and resumed: the same checkpoint as 10 straight steps" cmp -s full.ckpt resumed.ckpt

# ---- an op without a Vulkan kernel runs on the host ----
cat >dbl.graph <<'EOF'
graph dbl
dim N = 6
input x : f32[N]
y = tanh(test_double(x))
loss = sum(y)
output y
EOF
python3 -c "
import json, struct
x = [1.5, -2, 0.25, 3, -0.5, 0.1]
h = json.dumps({'x': {'dtype': 'F32', 'shape': [6], 'data_offsets': [0, 24]}}).encode()
open('in.safetensors', 'wb').write(struct.pack('<Q', len(h)) + h + struct.pack('<6f', *x))
"
GEXEC_PLUGIN_PATH="$BUILD/tests/plugins/bad/gx-test-double.so" expect_ok "$GEXEC" grad dbl.graph \
    --inputs in.safetensors --out out.safetensors --backend vulkan
check "one warning names the op that runs on the host" \
    test "$(grep -c "op 'test_double' (f32) has no kernel on 'vulkan'; it runs on 'cpu-scalar', with its inputs and outputs copied through the host" "$T/err")" -eq 1
check "the fallback's numbers: y = tanh(2x), grad = 2 (1 - y^2)" python3 -c "
import json, struct, math
raw = open('out.safetensors', 'rb').read()
n = struct.unpack('<Q', raw[:8])[0]
head = json.loads(raw[8:8 + n])
def get(k):
    s, e = head[k]['data_offsets']
    return struct.unpack('<%df' % ((e - s) // 4), raw[8 + n + s:8 + n + e])
x = [1.5, -2, 0.25, 3, -0.5, 0.1]
for xi, yi, gi in zip(x, get('y'), get('grad.x')):
    y = math.tanh(2 * xi)
    assert abs(yi - y) < 1e-6 and abs(gi - 2 * (1 - y * y)) < 1e-5, (xi, yi, gi)
"
check "no validation message in the fallback run" bash -c "! grep -q 'vulkan validation' '$T/err'"

# ---- a device that does not exist ----
expect_fail "no Vulkan device 7" "$GEXEC" "${common[@]}" --backend vulkan --device 7

echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
