#!/usr/bin/env bash
# test-cli.sh: the gexec command line, end to end.
#
# usage: test-cli.sh PATH/TO/gexec   (env: GEXEC_SOURCE_DIR = the repository,
#                                     GEXEC_BUILD_DIR = the build tree, for the test plugins)
#
# What a user does: help, listing plugins, checking a graph, initialising params, running and
# differentiating with safetensors files (written and read back with python3 struct+json only:
# numpy is not assumed), gradients against central differences, Graphviz output; and what a user
# gets wrong: each mistake must end in exit status 1 or 2 (never a signal) and exactly one line
# on stderr that says what is wrong. Last, random and mutated inputs must never crash `check`.
# Ends with "N passed, M failed"; the exit status is nonzero when M > 0.

set -u

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

GEXEC=${1:?usage: test-cli.sh PATH/TO/gexec}
SRC=${GEXEC_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${GEXEC_BUILD_DIR:-$(cd "$(dirname "$GEXEC")/.." && pwd)}
BAD="$BUILD/tests/plugins/bad"
GEXEC=$(cd "$(dirname "$GEXEC")" && pwd)/$(basename "$GEXEC")

T=$(mktemp -d "${TMPDIR:-/tmp}/gexec-cli.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 1

# shared: pass/fail counting, run, expect_ok, expect_fail, check, out_has, err_has
# shellcheck source=harness.sh
. "$HERE/harness.sh"

# ---- python helpers: safetensors with struct+json ----------------------------------------------

cat >"$T/st.py" <<'EOF'
"""Minimal safetensors reader/writer (struct + json): enough to make inputs and check outputs."""
import json
import struct

FMT = {'F32': ('f', 4), 'F64': ('d', 8), 'I32': ('i', 4), 'I64': ('q', 8)}


def write(path, tensors, meta=None):
    """tensors: [(name, dtype, shape, values)]"""
    hdr, data = {}, b''
    for name, dt, shape, vals in tensors:
        c, _ = FMT[dt]
        n = 1
        for s in shape:
            n *= s
        assert len(vals) == n, (name, len(vals), n)
        b = struct.pack('<%d%s' % (n, c), *vals)
        hdr[name] = {'dtype': dt, 'shape': list(shape), 'data_offsets': [len(data), len(data) + len(b)]}
        data += b
    if meta:
        hdr['__metadata__'] = meta
    h = json.dumps(hdr).encode()
    h += b' ' * (-len(h) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(h)) + h + data)


def read(path):
    """{name: (dtype, shape, values)} in file order"""
    raw = open(path, 'rb').read()
    n, = struct.unpack('<Q', raw[:8])
    hdr = json.loads(raw[8:8 + n])
    out = {}
    for name, e in hdr.items():
        if name == '__metadata__':
            continue
        c, sz = FMT[e['dtype']]
        b, en = e['data_offsets']
        out[name] = (e['dtype'], e['shape'],
                     list(struct.unpack('<%d%s' % ((en - b) // sz, c), raw[8 + n + b:8 + n + en])))
    return out


def header(path):
    raw = open(path, 'rb').read()
    n, = struct.unpack('<Q', raw[:8])
    return json.loads(raw[8:8 + n]), raw[8 + n:]


def rewrite(src, dst, tensors):
    """copy src to dst with the tensors of `tensors` ({name: (dtype, shape, values)})"""
    write(dst, [(k,) + tuple(v) for k, v in tensors.items()])


def printed(path, name):
    """the value gexec printed for scalar output `name` ('loss  f64[]  = X')"""
    for line in open(path):
        f = line.split()
        if f and f[0] == name:
            return float(f[-1])
    raise SystemExit('no %r line in %s' % (name, path))
EOF
export PYTHONPATH="$T${PYTHONPATH:+:$PYTHONPATH}"

py() { python3 -c "from st import *; import sys, random, struct, math
$1"; }

MLP="$SRC/graphs/mlp.graph"
RNN="$SRC/graphs/rnn.graph"

# inputs for both graphs; labels also as I64, which the reader converts to i32
py "
rnd = random.Random(7)
u = lambda n: [rnd.uniform(-1, 1) for _ in range(n)]
write('in-mlp.safetensors', [('x', 'F32', [4, 3], u(12)), ('target', 'F32', [4, 1], u(4))])
xs = u(24)
write('in-rnn.safetensors', [('xs', 'F64', [3, 2, 4], xs), ('labels', 'I32', [2], [2, 0])])
write('in-rnn64.safetensors', [('xs', 'F64', [3, 2, 4], xs), ('labels', 'I64', [2], [2, 0])])
"

# ---- help and listing ---------------------------------------------------------------------------

expect_ok "$GEXEC" --help
check "gexec --help prints the usage" out_has "usage: gexec <command>"
for verb in check init run grad dot plugins; do
    check "gexec --help lists $verb" grep -qE "^  $verb " "$T/out"
done
expect_ok "$GEXEC" --version
check "gexec --version names the ABI" out_has "plugin ABI"
for verb in check init run grad dot plugins; do
    expect_ok "$GEXEC" "$verb" --help
    check "gexec $verb --help prints its usage" out_has "usage: gexec $verb"
    check "gexec $verb --help says nothing on stderr" test ! -s "$T/err"
done
# no command at all: usage, but as an error
run "$GEXEC"
check "gexec alone exits 2 (got $RC)" test "$RC" -eq 2
check "gexec alone prints the usage on stderr" err_has "usage: gexec"

expect_ok "$GEXEC" plugins
for want in cpu-scalar core_ops matmul tanh cross_entropy embedding; do
    check "gexec plugins lists $want" out_has "$want"
done
check "gexec plugins: tanh has a VJP and f32/f64 kernels" grep -qE "^  tanh +vjp +fd" "$T/out"
check "gexec plugins says nothing on stderr" test ! -s "$T/err"

# ---- check, init ----------------------------------------------------------------------------------

expect_ok "$GEXEC" check "$MLP"
for want in "graph mlp" "params:" "W1" "f32[3, 8]" "init xavier" "total" "41 parameters" \
    "(loss)" "backward"; do
    check "check mlp prints '$want'" out_has "$want"
done
expect_ok "$GEXEC" check "$RNN"
check "check rnn counts 68 parameters" out_has "68 parameters"
check "check rnn: labels are i32[2]" grep -qE "labels +i32\[2\]" "$T/out"
# --dim overrides a declared dim, and shapes follow
expect_ok "$GEXEC" check "$MLP" --dim H=16
check "check --dim H=16 gives W1 [3, 16]" out_has "f32[3, 16]"

expect_ok "$GEXEC" init "$MLP" --seed 1 --out p1.safetensors
expect_ok "$GEXEC" init "$MLP" --seed 1 --out p1b.safetensors
expect_ok "$GEXEC" init "$MLP" --seed 2 --out p2.safetensors
check "init with the same seed gives identical bytes" cmp -s p1.safetensors p1b.safetensors
check "init with another seed differs" test -n "$(cmp p1.safetensors p2.safetensors 2>&1)"
check "init writes every param with its shape" py "
t = read('p1.safetensors')
want = {'W1': [3, 8], 'b1': [8], 'W2': [8, 1], 'b2': [1]}
assert {k: v[1] for k, v in t.items()} == want, t.keys()
assert all(v[0] == 'F32' for v in t.values())
assert all(x == 0 for x in t['b1'][2]) and any(x != 0 for x in t['W1'][2])
h, _ = header('p1.safetensors')
assert h['__metadata__']['gexec.seed'] == '1', h['__metadata__']
"
expect_ok "$GEXEC" init "$RNN" --seed 3 --out prnn.safetensors

# ---- run, grad ------------------------------------------------------------------------------------

expect_ok "$GEXEC" run "$MLP" --params p1.safetensors --inputs in-mlp.safetensors --out o.safetensors
cp "$T/out" run-mlp.txt
check "run prints y and loss" grep -qE "^loss +f32\[\] += " run-mlp.txt
check "run writes y [4,1] and loss []" py "
t = read('o.safetensors')
assert {k: (v[0], v[1]) for k, v in t.items()} == {'y': ('F32', [4, 1]), 'loss': ('F32', [])}, t
# the printed loss is the stored one, to the last bit of an f32
p = printed('run-mlp.txt', 'loss')
assert struct.unpack('<f', struct.pack('<f', p))[0] == t['loss'][2][0], (p, t['loss'])
# mse of y and target, recomputed here
tg = read('in-mlp.safetensors')['target'][2]
mse = sum((a - b) ** 2 for a, b in zip(t['y'][2], tg)) / 4
assert abs(mse - t['loss'][2][0]) <= 1e-6 * max(1, mse), (mse, t['loss'])
"

expect_ok "$GEXEC" grad "$MLP" --params p1.safetensors --inputs in-mlp.safetensors --out g.safetensors
check "grad writes the outputs and grad.<name> for params and float inputs" py "
t = read('g.safetensors')
want = {'y': [4, 1], 'loss': [], 'grad.W1': [3, 8], 'grad.b1': [8], 'grad.W2': [8, 1],
        'grad.b2': [1], 'grad.x': [4, 3], 'grad.target': [4, 1]}
assert {k: v[1] for k, v in t.items()} == want, {k: v[1] for k, v in t.items()}
# same forward values as run
o = read('o.safetensors')
assert t['y'][2] == o['y'][2] and t['loss'][2] == o['loss'][2]
# d mse / d target = -2 (y - target) / 4
tg = read('in-mlp.safetensors')['target'][2]
for y, g, d in zip(t['y'][2], tg, t['grad.target'][2]):
    assert abs(-2 * (y - g) / 4 - d) <= 1e-6, (y, g, d)
"

expect_ok "$GEXEC" run "$RNN" --params prnn.safetensors --inputs in-rnn.safetensors --out orr.safetensors
cp "$T/out" run-rnn.txt
expect_ok "$GEXEC" run "$RNN" --params prnn.safetensors --inputs in-rnn64.safetensors --out orr64.safetensors
cp "$T/out" run-rnn64.txt
check "I64 labels give the same loss as I32 labels" cmp -s run-rnn.txt run-rnn64.txt
check "rnn: the printed f64 loss round-trips the stored value" py "
t = read('orr.safetensors')
assert {k: v[1] for k, v in t.items()} == {'logits': [2, 3], 'h3': [2, 5], 'loss': []}, t.keys()
assert printed('run-rnn.txt', 'loss') == t['loss'][2][0], (printed('run-rnn.txt', 'loss'), t['loss'])
"

expect_ok "$GEXEC" grad "$RNN" --params prnn.safetensors --inputs in-rnn.safetensors --out gr.safetensors
check "rnn grad: every param and xs, no grad for the i32 labels" py "
t = read('gr.safetensors')
want = {'logits': [2, 3], 'h3': [2, 5], 'loss': [], 'grad.Wx': [4, 5], 'grad.Wh': [5, 5],
        'grad.b': [5], 'grad.Wy': [5, 3], 'grad.by': [3], 'grad.xs': [3, 2, 4]}
assert {k: v[1] for k, v in t.items()} == want, {k: v[1] for k, v in t.items()}
assert all(v[0] == 'F64' for v in t.values())
"

# Central differences through the CLI: for a few param entries (the largest gradient of Wh, Wx
# and by, where relative error means something), perturb by +-1e-5 in a params file, run, and
# compare (L+ - L-) / 2e-5 with grad; f64 throughout, so 1e-6 relative holds comfortably.
py "
g = read('gr.safetensors')
picks = []
for p in ['Wh', 'Wx', 'by']:
    vals = g['grad.' + p][2]
    i = max(range(len(vals)), key=lambda k: abs(vals[k]))
    picks.append('%s %d %.17g' % (p, i, vals[i]))
open('picks.txt', 'w').write('\n'.join(picks) + '\n')
"
EPS=1e-5
# (picks on fd 3, so nothing in the loop can eat them from stdin)
while read -r pname idx gval <&3; do
    for sign in plus minus; do
        py "
t = read('prnn.safetensors')
dt, shape, vals = t['$pname']
vals[$idx] += $EPS if '$sign' == 'plus' else -$EPS
t['$pname'] = (dt, shape, vals)
rewrite('prnn.safetensors', 'p-$sign.safetensors', t)
"
        expect_ok "$GEXEC" run "$RNN" --params "p-$sign.safetensors" --inputs in-rnn.safetensors \
            --out "o-$sign.safetensors"
        cp "$T/out" "run-$sign.txt"
    done
    check "central difference matches grad.$pname[$idx] = $gval" py "
lp, lm = printed('run-plus.txt', 'loss'), printed('run-minus.txt', 'loss')
fd = (lp - lm) / (2 * $EPS)
g = $gval
print('    grad.$pname[$idx]: autodiff %.12g, central difference %.12g' % (g, fd))
assert abs(fd - g) <= 1e-6 * max(abs(g), abs(fd)), (fd, g)
"
done 3<picks.txt

# ---- dot ---------------------------------------------------------------------------------------

for opt in "" --backward; do
    expect_ok "$GEXEC" dot "$MLP" $opt
    check "dot $opt starts with 'digraph'" test "$(head -c 7 "$T/out")" = digraph
    check "dot $opt ends with '}'" test "$(tail -n 1 "$T/out")" = "}"
    if command -v dot >/dev/null 2>&1; then
        check "dot $opt parses with Graphviz" dot -Tcanon -o /dev/null "$T/out"
    fi
done
expect_ok "$GEXEC" dot "$MLP" --backward
check "dot --backward shows backward nodes" out_has "mistyrose"
if ! command -v dot >/dev/null 2>&1; then echo "note: Graphviz dot not found; dot output not parsed"; fi

# ---- a third-party plugin through GEXEC_PLUGIN_PATH -----------------------------------------------

cat >dbl.graph <<'EOF'
graph dbl
input x : f64[2, 3]
y = test_double(x)
loss = sum(y)
output y
EOF
py "write('in-dbl.safetensors', [('x', 'F64', [2, 3], [1.5, -2, 0.25, 3, -0.5, 100])])"
expect_fail "dbl.graph:3:5: error: unknown op 'test_double'" "$GEXEC" check dbl.graph
GEXEC_PLUGIN_PATH="$BAD/gx-test-double.so" expect_ok "$GEXEC" grad dbl.graph \
    --inputs in-dbl.safetensors --out gd.safetensors
check "test_double: y = 2x, grad.x = 2" py "
t = read('gd.safetensors')
assert t['y'][2] == [3, -4, 0.5, 6, -1, 200], t['y']
assert t['grad.x'][2] == [2] * 6, t['grad.x']
assert t['loss'][2] == [204.5], t['loss']
"

# the bad plugins directory: everything still works, one warning line per refused plugin
N_BAD=$(find "$BAD" -maxdepth 1 -name 'gx-bad-*.so' | wc -l)
check "the bad plugins are built ($N_BAD found in $BAD)" test "$N_BAD" -ge 7
GEXEC_PLUGIN_PATH="$BAD" expect_ok "$GEXEC" plugins
check "plugins with bad path: $N_BAD warning lines" test "$(wc -l <"$T/err")" -eq "$N_BAD"
check "plugins with bad path: every stderr line is a refusal warning" \
    test "$(grep -c "^gexec: warning: plugin 'gx-bad-[a-z]*\.so' refused: " "$T/err")" -eq "$N_BAD"
for f in "$BAD"/gx-bad-*.so; do
    b=$(basename "$f")
    check "one warning names $b" test "$(grep -cF "'$b'" "$T/err")" -eq 1
done
check "plugins with bad path lists the good plugin" out_has "test_double"
check "the good plugin's op has a VJP and f32/f64 kernels" grep -qE "^  test_double +vjp +fd" "$T/out"
check "plugins with bad path still lists the core ops" out_has "matmul"
check "the ABI refusal says why" err_has "built for ABI 2, engine has ABI 1"
check "the missing entry refusal says why" err_has "no entry point gx_plugin_entry"
check "the non-ELF refusal says why" err_has "cannot load"
check "the duplicate refusal says why" err_has "op 'tanh' is already registered"
GEXEC_PLUGIN_PATH="$BAD" expect_ok "$GEXEC" check "$MLP"
check "check with bad path: warnings on stderr only" test "$(wc -l <"$T/err")" -eq "$N_BAD"
check "check with bad path: stdout unaffected" out_has "41 parameters"
# a missing directory in the path is not an error
GEXEC_PLUGIN_PATH="$T/no-such-dir::" expect_ok "$GEXEC" plugins
check "a missing plugin directory is silent" test ! -s "$T/err"

# ---- user errors: one line, exit 1 or 2 -------------------------------------------------------------

RUNARGS=(--params p1.safetensors --inputs in-mlp.safetensors --out o.safetensors)

expect_fail "did you mean 'check'" "$GEXEC" chek "$MLP"
expect_fail "unknown command 'frobnicate'" "$GEXEC" frobnicate
expect_fail "did you mean '--dim'" "$GEXEC" check "$MLP" --dmi B=3
expect_fail "did you mean '--params'" "$GEXEC" run "$MLP" --param p1.safetensors
expect_fail "unknown option '--zzzzzzzz'" "$GEXEC" run "$MLP" --zzzzzzzz
expect_fail "needs a value" "$GEXEC" run "$MLP" --inputs
expect_fail "unexpected argument" "$GEXEC" check "$MLP" "$RNN"
expect_fail "unexpected argument" "$GEXEC" plugins extra
expect_fail "--out" "$GEXEC" init "$MLP" --seed 1
expect_fail "--out" "$GEXEC" run "$MLP" --params p1.safetensors --inputs in-mlp.safetensors
expect_fail "--out" "$GEXEC" grad "$MLP" --params p1.safetensors --inputs in-mlp.safetensors
expect_fail "missing FILE.graph" "$GEXEC" check
expect_fail "no-such.graph" "$GEXEC" check no-such.graph
expect_fail "--seed" "$GEXEC" init "$MLP" --seed -1 --out x.safetensors
expect_fail "--seed" "$GEXEC" init "$MLP" --seed 12abc --out x.safetensors

# graph source errors carry file:line:col
printf 'graph bad\ninput x : f32[2]\ny = tanh(x +)\noutput y\n' >syntax.graph
expect_fail "syntax.graph:3:" "$GEXEC" check syntax.graph
run "$GEXEC" check syntax.graph
check "a syntax error has file:line:col: error:" grep -qE "syntax\.graph:3:[0-9]+: error: " "$T/err"
printf 'graph bad\ninput x : f32[2]\ny = tahn(x)\noutput y\n' >unknown-op.graph
expect_fail "unknown-op.graph:3:5: error: unknown op 'tahn'; did you mean 'tanh'?" \
    "$GEXEC" check unknown-op.graph
printf 'graph bad\ninput x : f32[2, 3]\nparam W : f32[4, 5] init xavier\ny = x @ W\noutput y\n' \
    >shape.graph
expect_fail "shape.graph:4:" "$GEXEC" check shape.graph
printf '' >empty.graph
run "$GEXEC" check empty.graph
check "an empty graph file is an error or accepted, never a crash (got $RC)" test "$RC" -le 2

# params and inputs files that do not fit the graph
py "
p = read('p1.safetensors')
rewrite('p1.safetensors', 'p-missing.safetensors', {k: v for k, v in p.items() if k != 'b1'})
p['W1'] = ('F32', [8, 3], p['W1'][2])
rewrite('p1.safetensors', 'p-shape.safetensors', p)
p = read('p1.safetensors')
p['b2'] = ('F64', [1], p['b2'][2])
rewrite('p1.safetensors', 'p-dtype.safetensors', p)
i = read('in-mlp.safetensors')
i['xx'] = ('F32', [1], [0.0])
rewrite('in-mlp.safetensors', 'in-extra.safetensors', i)
# truncated: the last 7 bytes of data are gone
raw = open('p1.safetensors', 'rb').read()
open('p-trunc.safetensors', 'wb').write(raw[:-7])
open('p-trunc-header.safetensors', 'wb').write(raw[:20])
open('p-tiny.safetensors', 'wb').write(raw[:5])
# lying header offsets: W1 claims more bytes than its shape needs, or bytes past the end
h, data = header('p1.safetensors')
def emit(path, hdr, data):
    hb = json.dumps(hdr).encode()
    hb += b' ' * (-len(hb) % 8)
    open(path, 'wb').write(struct.pack('<Q', len(hb)) + hb + data)
import json, copy
h1 = copy.deepcopy(h); h1['W1']['data_offsets'] = [0, 10000]
emit('p-lie-span.safetensors', h1, data)
h2 = copy.deepcopy(h); b, e = h2['b2']['data_offsets']; h2['b2']['data_offsets'] = [b + 4096, e + 4096]
emit('p-lie-past.safetensors', h2, data)
# a header length far past the end of the file
open('p-lie-len.safetensors', 'wb').write(struct.pack('<Q', 1 << 40) + raw[8:])
"
expect_fail "param 'b1' is missing from p-missing.safetensors" \
    "$GEXEC" run "$MLP" --params p-missing.safetensors --inputs in-mlp.safetensors --out o.safetensors
expect_fail "'W1' has shape [8, 3], but the graph declares [3, 8]" \
    "$GEXEC" run "$MLP" --params p-shape.safetensors --inputs in-mlp.safetensors --out o.safetensors
expect_fail "'b2' is f64" \
    "$GEXEC" run "$MLP" --params p-dtype.safetensors --inputs in-mlp.safetensors --out o.safetensors
expect_fail "tensor 'xx' is not an input of the graph; did you mean 'x'?" \
    "$GEXEC" run "$MLP" --params p1.safetensors --inputs in-extra.safetensors --out o.safetensors
expect_fail "input 'x' is missing" "$GEXEC" run "$MLP" --params p1.safetensors --out o.safetensors
expect_fail "param 'W1' is missing" "$GEXEC" run "$MLP" --inputs in-mlp.safetensors --out o.safetensors
for f in p-trunc p-trunc-header p-tiny p-lie-span p-lie-past p-lie-len; do
    expect_fail "$f.safetensors" \
        "$GEXEC" run "$MLP" --params "$f.safetensors" --inputs in-mlp.safetensors --out o.safetensors
done
expect_fail "past the end" \
    "$GEXEC" run "$MLP" --params p-trunc.safetensors --inputs in-mlp.safetensors --out o.safetensors
expect_fail "no-such.safetensors" \
    "$GEXEC" run "$MLP" --params no-such.safetensors --inputs in-mlp.safetensors --out o.safetensors
expect_fail "$T/no-dir/o.safetensors" \
    "$GEXEC" run "$MLP" --params p1.safetensors --inputs in-mlp.safetensors --out "$T/no-dir/o.safetensors"
check "a failed save leaves no file behind" test ! -e "$T/no-dir"
# params and inputs swapped
expect_fail "input 'x' is missing from p1.safetensors" \
    "$GEXEC" run "$MLP" --params in-mlp.safetensors --inputs p1.safetensors --out o.safetensors

# backends and dims
expect_fail "unknown backend 'nonexistent'" "$GEXEC" run "$MLP" "${RUNARGS[@]}" --backend nonexistent
expect_fail "did you mean 'cpu-scalar'" "$GEXEC" run "$MLP" "${RUNARGS[@]}" --backend cpu-scalr
expect_ok "$GEXEC" run "$MLP" "${RUNARGS[@]}" --backend cpu-scalar
for bad in B B=x =3 B=-1 B=3.5 "B=99999999999999999999999"; do
    expect_fail "--dim wants NAME=VALUE" "$GEXEC" check "$MLP" --dim "$bad"
done
expect_fail "no dim 'Q'" "$GEXEC" check "$MLP" --dim Q=3
expect_fail "has shape [4, 3], but the graph declares [5, 3]" \
    "$GEXEC" run "$MLP" "${RUNARGS[@]}" --dim B=5
# an empty dim makes empty tensors: accepted or refused, but never a crash
run "$GEXEC" run "$MLP" "${RUNARGS[@]}" --dim H=0
check "run with --dim H=0 exits 0, 1 or 2 (got $RC)" test "$RC" -le 2

# errors at run time name the node's source position
cat >emb.graph <<'EOF'
graph emb

input idx : i32[3]
param table : f32[4, 2] init ones

y = embedding(table, idx)
output y
EOF
expect_ok "$GEXEC" init emb.graph --out pe.safetensors
py "
write('idx-ok.safetensors', [('idx', 'I32', [3], [0, 3, 1])])
write('idx-bad.safetensors', [('idx', 'I32', [3], [0, 7, 1])])
write('idx-neg.safetensors', [('idx', 'I64', [3], [0, -1, 1])])
"
expect_ok "$GEXEC" run emb.graph --params pe.safetensors --inputs idx-ok.safetensors --out oe.safetensors
expect_fail "emb.graph:6:5: error: embedding: index 7" \
    "$GEXEC" run emb.graph --params pe.safetensors --inputs idx-bad.safetensors --out oe2.safetensors
check "a failed run writes no outputs" test ! -e oe2.safetensors
expect_fail "emb.graph:6:5: error: embedding: index -1" \
    "$GEXEC" run emb.graph --params pe.safetensors --inputs idx-neg.safetensors --out oe2.safetensors
py "write('lab-bad.safetensors', [('xs', 'F64', [3, 2, 4], [0.1] * 24), ('labels', 'I32', [2], [0, 5])])"
CE_LINE=$(grep -n "cross_entropy(" "$RNN" | head -n 1 | cut -d: -f1)
expect_fail "rnn.graph:$CE_LINE:" "$GEXEC" grad "$RNN" --params prnn.safetensors \
    --inputs lab-bad.safetensors --out o.safetensors
expect_fail "needs a loss" "$GEXEC" grad emb.graph --params pe.safetensors \
    --inputs idx-ok.safetensors --out o.safetensors

# ---- no input crashes `gexec check` ------------------------------------------------------------------

# 200 random files and 200 mutations of mlp.graph (seeded, so a failure reproduces); each must
# end in 0, 1 or 2, never a signal, a timeout or a sanitizer report.
mkdir fuzz
py "
import os
rnd = random.Random(20240611)
for i in range(200):
    n = rnd.choice([0, 1, 7, 64, 300, 2000])
    data = bytes(rnd.randrange(256) for _ in range(n))
    if i % 4 == 0:  # mostly printable noise gets further into the lexer
        data = bytes(rnd.choice(b'abcxyz_019 \n\t()[]{}@,=:+-*/#\".<>') for _ in range(n))
    open('fuzz/random-%03d.graph' % i, 'wb').write(data)
src = open('$MLP', 'rb').read()
tokens = [b'(', b')', b'@', b',', b'=', b'[', b']', b':', b'f32', b'f64', b'i32', b'dim', b'input',
          b'param', b'output', b'def', b'{', b'}', b'return', b'-1', b'0', b'99999999999999999999',
          b'\"', b'#', b'\n', b'init', b'xavier', b'1e309', b'B', b'loss', b'tanh', b'graph',
          b'\xff', b'\x00', b'mse(', b'x @ W1', b'[B, D, H, B, D, H, B, D, H]']
for i in range(200):
    m = bytearray(src)
    for _ in range(rnd.randint(1, 4)):
        kind = rnd.randrange(6)
        p = rnd.randrange(len(m) + 1)
        if kind == 0 and m:    # flip a byte
            m[min(p, len(m) - 1)] = rnd.randrange(256)
        elif kind == 1:        # delete a span
            del m[p:p + rnd.randint(1, 40)]
        elif kind == 2:        # insert a token
            m[p:p] = rnd.choice(tokens)
        elif kind == 3:        # duplicate a line
            lines = bytes(m).split(b'\n')
            k = rnd.randrange(len(lines))
            lines.insert(k, lines[k])
            m = bytearray(b'\n'.join(lines))
        elif kind == 4:        # truncate
            del m[p:]
        else:                  # swap two lines
            lines = bytes(m).split(b'\n')
            a, b = rnd.randrange(len(lines)), rnd.randrange(len(lines))
            lines[a], lines[b] = lines[b], lines[a]
            m = bytearray(b'\n'.join(lines))
    open('fuzz/mutant-%03d.graph' % i, 'wb').write(bytes(m))
"
fuzz_bad=0
fuzz_n=0
for f in fuzz/*.graph; do
    timeout 10 "$GEXEC" check "$f" >"$T/out" 2>"$T/err"
    rc=$?
    fuzz_n=$((fuzz_n + 1))
    if [ "$rc" -gt 2 ] || grep -qE "Sanitizer|runtime error" "$T/err" ||
        { [ "$rc" -ne 0 ] && [ "$(wc -l <"$T/err")" -ne 1 ]; }; then
        fuzz_bad=$((fuzz_bad + 1))
        fail "gexec check $f: exit $rc, $(wc -l <"$T/err") stderr lines"
        show_output
        # keep the input for reproduction
        if [ -n "${GEXEC_BUILD_DIR:-}" ]; then
            mkdir -p "$GEXEC_BUILD_DIR/test-cli-failures" && cp "$f" "$GEXEC_BUILD_DIR/test-cli-failures/"
        fi
    fi
done
check "fuzz: $fuzz_n inputs to gexec check, $fuzz_bad crashed or misbehaved" test "$fuzz_bad" -eq 0

# mutated params files through run: the reader must refuse cleanly
py "
rnd = random.Random(99)
raw = open('p1.safetensors', 'rb').read()
for i in range(60):
    m = bytearray(raw)
    if i % 3 == 0:
        m = m[:rnd.randrange(len(m))]
    else:
        for _ in range(rnd.randint(1, 3)):
            m[rnd.randrange(len(m))] = rnd.randrange(256)
    open('fuzz/params-%02d.safetensors' % i, 'wb').write(bytes(m))
"
fuzz_bad=0
for f in fuzz/params-*.safetensors; do
    timeout 10 "$GEXEC" run "$MLP" --params "$f" --inputs in-mlp.safetensors --out fuzz/o.safetensors \
        >"$T/out" 2>"$T/err"
    rc=$?
    if [ "$rc" -gt 2 ] || grep -qE "Sanitizer|runtime error" "$T/err" ||
        { [ "$rc" -ne 0 ] && [ "$(wc -l <"$T/err")" -ne 1 ]; }; then
        fuzz_bad=$((fuzz_bad + 1))
        fail "gexec run with $f: exit $rc"
        show_output
    fi
done
check "fuzz: mutated params files, $fuzz_bad crashed or misbehaved" test "$fuzz_bad" -eq 0

# ---- gexec check-op (issue 8): an op's checks as a command ------------------------------------

expect_ok "$GEXEC" check-op tanh lstm_cell --backend cpu-scalar --shapes 1
check "check-op: grad, f32 and loop rows and a summary" \
    sh -c "grep -qE '^tanh +grad +cpu-scalar +PASS' '$T/out' &&
           grep -qE '^tanh +f32 +cpu-scalar +PASS' '$T/out' &&
           grep -qE '^lstm_cell +loop +cpu-scalar +PASS .* ~ ' '$T/out' &&
           grep -qE '^check-op: 2 ops, [0-9]+ checks: [0-9]+ passed, 0 failed' '$T/out'"
expect_ok "$GEXEC" check-op matmul --backend cpu-sleef --shapes 1
check "check-op --backend cpu-sleef: only the backend's rows" \
    sh -c "grep -qE '^matmul +backend +cpu-sleef +PASS' '$T/out' && ! grep -qE ' grad +cpu-scalar' '$T/out'"
expect_ok "$GEXEC" check-op cross_entropy --seed 7
grep -v '^check-op: .* in ' "$T/out" >check-op-a.txt
expect_ok "$GEXEC" check-op cross_entropy --seed 7
grep -v '^check-op: .* in ' "$T/out" >check-op-b.txt
check "check-op: the same seed gives the same table" cmp -s check-op-a.txt check-op-b.txt
expect_fail "name the ops to check, or give --all" "$GEXEC" check-op
expect_fail "give op names or --all, not both" "$GEXEC" check-op --all tanh
expect_fail "unknown op 'tahn'; did you mean 'tanh'?" "$GEXEC" check-op tahn
expect_fail "unknown backend 'cpu-slef'; did you mean 'cpu-sleef'?" \
    "$GEXEC" check-op tanh --backend cpu-slef
expect_fail "--shapes" "$GEXEC" check-op tanh --shapes -1
expect_fail "--shapes" "$GEXEC" check-op tanh --shapes 2.5
expect_fail "--shapes" "$GEXEC" check-op tanh --shapes 5000
expect_fail "--seed" "$GEXEC" check-op tanh --seed abc
expect_fail "did you mean '--all'" "$GEXEC" check-op --alll
expect_fail "needs a value" "$GEXEC" check-op tanh --backend
# a backend without a device: ctest's "skipped" (77), one line
if "$GEXEC" plugins 2>/dev/null | grep -qE '^  vulkan '; then
    run env VK_DRIVER_FILES=/nonexistent/icd.json "$GEXEC" check-op tanh --backend vulkan
    check "check-op --backend vulkan without a driver: exit 77 and one line" \
        sh -c "[ $RC -eq 77 ] && [ \$(wc -l <'$T/err') -eq 1 ] &&
               grep -q \"backend 'vulkan' is not usable on this machine\" '$T/err'"
fi
# third-party ops from GEXEC_PLUGIN_PATH: a decomposition-only op passes ...
check "the test plugin gx-test-decompose.so is built" test -f "$BUILD/tests/plugins/decompose/gx-test-decompose.so"
expect_ok env GEXEC_PLUGIN_PATH="$BUILD/tests/plugins/decompose" \
    "$GEXEC" check-op test_swish --backend cpu-scalar
check "check-op: a decomposition-only plugin op is gradient-checked" \
    grep -qE '^test_swish +grad +cpu-scalar +PASS' "$T/out"
# ... and each check fails the op broken for it, with exit 1 and one line on stderr
check "the test plugin gx-test-broken.so is built" test -f "$BUILD/tests/broken-ops/gx-test-broken.so"
run env GEXEC_PLUGIN_PATH="$BUILD/tests/broken-ops" "$GEXEC" check-op broken_vjp broken_f32 \
    broken_sleef broken_cell broken_infer --shapes 0
check "check-op on broken ops: exit 1, one stderr line" \
    sh -c "[ $RC -eq 1 ] && [ \$(wc -l <'$T/err') -eq 1 ] && grep -q 'checks failed' '$T/err'"
check "check-op on broken ops: each check fails the op broken for it" \
    sh -c "grep -qE '^broken_vjp +grad +cpu-scalar +FAIL .*analytic' '$T/out' &&
           grep -qE '^broken_vjp +f32 +cpu-scalar +PASS' '$T/out' &&
           grep -qE '^broken_f32 +f32 +cpu-scalar +FAIL' '$T/out' &&
           grep -qE '^broken_f32 +grad +cpu-scalar +PASS' '$T/out' &&
           grep -qE '^broken_sleef +backend +cpu-sleef +FAIL' '$T/out' &&
           grep -qE '^broken_cell +loop +cpu-scalar +FAIL .*looped gives' '$T/out' &&
           grep -qE '^broken_infer +grad +cpu-scalar +FAIL .*refuses every shape' '$T/out'"

# absurd sizes are errors before anything that size is allocated: a param of 10^12 elements,
# with its declaration's position; --max-memory caps declared values and plans
cat > huge.graph <<'EOF2'
graph huge
dim N = 1000000
input x : f32[N]
param w : f32[N, N]   init zeros
y = sum(x * w)
output y
EOF2
expect_fail "huge.graph:4:7: error: param 'w' is f32[1000000, 1000000]: 3.6 TiB, more than the memory limit" \
    "$GEXEC" check huge.graph
expect_fail "param 'w' is f32[1000000, 1000000]: 3.6 TiB" "$GEXEC" init huge.graph --out huge.st
check "no file written for the huge graph" test ! -e huge.st
expect_fail "the plan of graph 'mlp' on 'cpu-scalar' needs" \
    "$GEXEC" run "$MLP" --params p1.safetensors --inputs "$SRC/graphs/data/mlp-inputs.safetensors" \
    --out o-mm.st --backend cpu-scalar --max-memory 400
expect_fail "the params and inputs of graph 'mlp' need 228 bytes, more than the memory limit of 200 bytes" \
    "$GEXEC" run "$MLP" --params p1.safetensors --inputs "$SRC/graphs/data/mlp-inputs.safetensors" \
    --out o-mm.st --backend cpu-scalar --max-memory 200
expect_ok "$GEXEC" run "$MLP" --params p1.safetensors --inputs "$SRC/graphs/data/mlp-inputs.safetensors" \
    --out o-mm.st --backend cpu-scalar --max-memory 64M
expect_fail "--max-memory wants a size such as 512M or 2G, got '12Q'" "$GEXEC" init "$MLP" --max-memory 12Q
# a loop of 10^9 steps is an error at its position, before anything is allocated
cat > longloop.graph <<'EOF2'
graph longloop
dim T = 1000000000
input x : f32[1, T, 1]
state h0 : f32[1, 1] = 0
hs, hT = loop t over x carry (h = h0) {
    h = tanh(x[t] + h)
    yield h
}
output hT
EOF2
expect_fail "longloop.graph:5:10: error: a loop of 1000000000 steps is more than the 10000000 a loop may run" \
    "$GEXEC" check longloop.graph

echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
