#!/usr/bin/env bash
# test-sdk-examples.sh BUILD_DIR: the plugin SDK as a third party uses it (plugins/README.md).
#
# Installs gexec from BUILD_DIR into a temporary prefix, then, seeing only that prefix:
#   - configures and builds plugins/examples/peephole_lstm and layer_norm with CMake
#     (find_package(gexec), gexec_add_plugin), warnings as errors, and checks that they were
#     compiled against the installed headers, export gx_plugin_entry only and do not link
#     libgexec; runs the peephole project's own test (its kernels' split over ith/nth); builds
#     layer_norm again with plain cc and `pkg-config --cflags --libs gexec`;
#   - runs the installed gexec with GEXEC_PLUGIN_PATH at the builds: `gexec plugins` lists the
#     new ops, `gexec train` of plugins/examples/char_peephole_ln.graph lowers the loss, and a
#     loop of the fused peephole cell gives the gradients of the same cell written in core ops,
#     looped and unrolled; `gexec check-op` on both ops;
#   - installs an example with `cmake --install` and finds it without GEXEC_PLUGIN_PATH;
#   - builds layer_norm against a copy of the headers with another GX_ABI_VERSION: gexec refuses
#     it with one line naming the file and both versions, and carries on.
# Ends with "N passed, M failed" (env: GEXEC_SOURCE_DIR = the repository).
set -u

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BUILD=$(cd "${1:?usage: test-sdk-examples.sh BUILD_DIR}" && pwd)
SRC=${GEXEC_SOURCE_DIR:-$(cd "$HERE/../.." && pwd)}
EX=$SRC/plugins/examples

T=$(mktemp -d "${TMPDIR:-/tmp}/gexec-sdk.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
RUN_TIMEOUT=120
# shellcheck source=harness.sh
. "$HERE/harness.sh"

# ---- install, and the SDK the prefix holds --------------------------------------------------
P=$T/usr
if ! cmake --install "$BUILD" --prefix "$P" >"$T/install.log" 2>&1; then
    echo "cmake --install failed:"
    tail -n 20 "$T/install.log"
    exit 1
fi
GEXEC=$P/bin/gexec
PC=$(find "$P" -name gexec.pc -path '*/pkgconfig/*' | head -n 1)
export PKG_CONFIG_PATH=${PC%/*}
ABI=$(pkg-config --variable=abi_version gexec)
check "pkg-config reads the installed gexec.pc (ABI '$ABI')" test -n "$ABI"

# ---- the examples, built with CMake against the prefix ---------------------------------------
build_example() { # build_example NAME: configure and build plugins/examples/NAME in $T/NAME
    expect_ok cmake -S "$EX/$1" -B "$T/$1" -DCMAKE_PREFIX_PATH="$P" -DCMAKE_BUILD_TYPE=Release \
        -DCMAKE_C_FLAGS="-Wall -Wextra -Wpedantic -Wshadow -Werror" \
        -DCMAKE_EXPORT_COMPILE_COMMANDS=ON
    [ "$RC" -eq 0 ] && expect_ok cmake --build "$T/$1" -j2
}
# plugin_is_clean DESCRIPTION FILE: exports gx_plugin_entry and nothing else, needs no libgexec
plugin_is_clean() {
    local syms
    syms=$(nm -D --defined-only "$2" 2>/dev/null | awk '{print $3}' | tr '\n' ' ')
    check "$1 exports only gx_plugin_entry (got: $syms)" test "$syms" = "gx_plugin_entry "
    check "$1 does not link libgexec" bash -c "! readelf -d '$2' | grep -q 'NEEDED.*libgexec'"
}
for e in peephole_lstm layer_norm; do
    build_example "$e"
    so=$T/$e/gx-${e//_/-}.so
    check "$e: gexec_add_plugin made gx-${e//_/-}.so" test -f "$so"
    [ -f "$so" ] && plugin_is_clean "$e" "$so"
    check "$e was compiled against the installed headers only" bash -c \
        "grep -q -- '$P/include' '$T/$e/compile_commands.json' &&
         ! grep -q -- '$SRC/plugins/include' '$T/$e/compile_commands.json'"
done

# the example's own tests: its kernels give the same bits on 1 to 8 workers (ith, nth)
expect_ok ctest --test-dir "$T/peephole_lstm" --output-on-failure

# ---- one example with plain cc and pkg-config --------------------------------------------------
mkdir -p "$T/pc"
# shellcheck disable=SC2046  # pkg-config's output is a list of flags
expect_ok cc -std=c11 -O2 -Wall -Wextra -Wpedantic -Werror -o "$T/pc/gx-layer-norm.so" \
    "$EX/layer_norm/layer-norm.c" $(pkg-config --cflags --libs gexec)
[ -f "$T/pc/gx-layer-norm.so" ] && plugin_is_clean "the pkg-config build" "$T/pc/gx-layer-norm.so"
check "pkg-config's plugindir is where the installed gexec loads plugins" \
    test "$(cd "$(pkg-config --variable=plugindir gexec)" && pwd -P)" = \
         "$(cd "$(dirname "$(find "$P" -name gx-op-core.so | head -n 1)")" && pwd -P)"

# ---- the installed gexec runs them --------------------------------------------------------------
PLUGINS=$T/peephole_lstm:$T/layer_norm
GEXEC_PLUGIN_PATH=$PLUGINS expect_ok "$GEXEC" plugins
check "gexec plugins lists peephole_lstm_cell with a VJP and f32/f64 cpu-scalar kernels" \
    grep -qE '^  peephole_lstm_cell +vjp +fd ' "$T/out"
check "gexec plugins lists the fused backward op" out_has "peephole_lstm_cell_backward"
check "gexec plugins lists layer_norm as expanded on every backend (a decomposition only)" \
    grep -qE '^  layer_norm +expands +expands ' "$T/out"
check "loading the examples warns about nothing" test ! -s "$T/err"
GEXEC_PLUGIN_PATH=$T/pc/gx-layer-norm.so expect_ok "$GEXEC" plugins
check "the pkg-config build loads as a file in GEXEC_PLUGIN_PATH" grep -qE '^  layer_norm ' "$T/out"

# a character model of both ops trains: small dims, 40 steps, seconds on cpu-scalar
head -c 30000 "$SRC/graphs/data/tinyshakespeare.txt" >"$T/text.txt"
GEXEC_PLUGIN_PATH=$PLUGINS expect_ok "$GEXEC" train "$EX/char_peephole_ln.graph" \
    --data "$T/text.txt" --dim E=16 --dim H=32 --batch 8 --bptt 16 --steps 40 --log-every 10 \
    --val-every 1000 --backend cpu-scalar --seed 1 --checkpoint "$T/ln.ckpt"
first=$(sed -n 's|^step 1/40 .* loss \([0-9.]*\) .*|\1|p' "$T/err")
last=$(sed -n 's|^step 40/40 .* loss \([0-9.]*\) .*|\1|p' "$T/err")
check "training lowers the loss by a fifth in 40 steps (step 1: '$first', step 40: '$last')" \
    awk -v a="$first" -v b="$last" 'BEGIN { exit !(a != "" && b != "" && b < 0.8 * a) }'
check "training wrote its checkpoint" test -s "$T/ln.ckpt"

# a loop of the fused cell against the same cell in core ops (whose VJPs the engine's gradient
# check covers), looped and unrolled, in f64: outputs and every gradient
loop_graph() { # loop_graph CELL-STATEMENT
    cat <<EOF
graph sdk_loop
dim B = 2
dim T = 5
dim I = 3
dim H = 4
param xs     : f64[B, T, I] init uniform(-1, 1)
param h0     : f64[B, H]    init uniform(-1, 1)
param c0     : f64[B, H]    init uniform(-1, 1)
param W_ih   : f64[4*H, I]  init uniform(-0.6, 0.6)
param W_hh   : f64[4*H, H]  init uniform(-0.6, 0.6)
param b_ih   : f64[4*H]     init uniform(-0.5, 0.5)
param b_hh   : f64[4*H]     init uniform(-0.5, 0.5)
param w_peep : f64[3*H]     init uniform(-1, 1)
param g      : f64[H]       init uniform(0.5, 1.5)
param bb     : f64[H]       init uniform(-0.5, 0.5)
param u      : f64[B, T, H] init uniform(-1, 1)
def cell(x, h, c) {
    a = x @ transpose(W_ih) + b_ih + h @ transpose(W_hh) + b_hh
    ai, af, ag, ao = split(a, 4)
    pi, pf, po = split(w_peep, 3)
    c2 = sigmoid(af + pf * c) * c + sigmoid(ai + pi * c) * tanh(ag)
    return sigmoid(ao + po * c2) * tanh(c2), c2
}
hs, hT, cT = loop t over xs carry (h = h0, c = c0) {
    $1
    yield h
}
loss = sum(layer_norm(hs, g, bb, eps = 0.01) * u) + sum(cT * cT * g)
output hs, cT
EOF
}
loop_graph "h, c = peephole_lstm_cell(xs[t], h, c, W_ih, W_hh, b_ih, b_hh, w_peep)" \
    >"$T/fused.graph"
loop_graph "h, c = cell(xs[t], h, c)" >"$T/composite.graph"
export GEXEC_PLUGIN_PATH=$PLUGINS
expect_ok "$GEXEC" init "$T/fused.graph" --seed 5 --out "$T/p.safetensors"
expect_ok "$GEXEC" grad "$T/fused.graph" --params "$T/p.safetensors" --out "$T/fused.safetensors"
expect_ok "$GEXEC" grad "$T/fused.graph" --params "$T/p.safetensors" --unroll \
    --out "$T/unrolled.safetensors"
expect_ok "$GEXEC" grad "$T/composite.graph" --params "$T/p.safetensors" \
    --out "$T/composite.safetensors"
export GEXEC_PLUGIN_PATH=
# same_tensors A B TOL: the same keys, every element within TOL relative (plus 1e-14 absolute)
same_tensors() {
    python3 - "$@" <<'EOF'
import json, struct, sys
def load(path):
    raw = open(path, "rb").read()
    n = struct.unpack("<Q", raw[:8])[0]
    head, data, out = json.loads(raw[8:8 + n]), raw[8 + n:], {}
    for k, v in head.items():
        if k == "__metadata__":
            continue
        s, e = v["data_offsets"]
        f = {"F64": "d", "F32": "f", "I32": "i"}[v["dtype"]]
        out[k] = struct.unpack("<%d%s" % ((e - s) // struct.calcsize(f), f), data[s:e])
    return out
a, b, tol = load(sys.argv[1]), load(sys.argv[2]), float(sys.argv[3])
worst = max(abs(x - y) / (1e-14 + abs(x) + abs(y)) for k in a for x, y in zip(a[k], b[k]))
if sorted(a) != sorted(b) or len(a) < 12 or worst > tol:
    sys.exit("keys %s / %s, worst relative difference %g" % (sorted(a), sorted(b), worst))
EOF
}
check "fused peephole loop: outputs and gradients equal the composite cell's (1e-10)" \
    same_tensors "$T/fused.safetensors" "$T/composite.safetensors" 1e-10
check "fused peephole loop: looped equals unrolled (1e-12)" \
    same_tensors "$T/fused.safetensors" "$T/unrolled.safetensors" 1e-12

# gexec check-op (the f64 gradient check on random shapes, every backend against cpu-scalar,
# looped against unrolled for cells) passes for both third-party ops
GEXEC_PLUGIN_PATH=$PLUGINS expect_ok "$GEXEC" check-op peephole_lstm_cell layer_norm
check "check-op gradient-checked and compared looped with unrolled for the plugin ops" \
    sh -c "grep -qE '^peephole_lstm_cell +grad +cpu-scalar +PASS' '$T/out' &&
           grep -qE '^peephole_lstm_cell +loop +cpu-scalar +PASS' '$T/out' &&
           grep -qE '^layer_norm +grad +cpu-scalar +PASS' '$T/out'"

# ---- installed next to the built-in plugins: no GEXEC_PLUGIN_PATH needed -------------------------
expect_ok cmake --install "$T/peephole_lstm"
check "the example went into the plugin directory" \
    test -f "$(pkg-config --variable=plugindir gexec)/gx-peephole-lstm.so"
expect_ok "$GEXEC" plugins
check "the installed gexec loads the installed example by itself" out_has "peephole_lstm_cell"

# ---- a plugin of another ABI is refused with one line ------------------------------------------
OTHER=$((ABI + 1))
mkdir -p "$T/abi/include" "$T/abi/plugins"
cp -r "$P/include/gexec" "$T/abi/include/"
sed -i "s/^#define GX_ABI_VERSION $ABI\$/#define GX_ABI_VERSION $OTHER/" \
    "$T/abi/include/gexec/plugin.h"
check "the header copy says ABI $OTHER" grep -q "^#define GX_ABI_VERSION $OTHER\$" \
    "$T/abi/include/gexec/plugin.h"
# shellcheck disable=SC2046
expect_ok cc -std=c11 -O2 -I"$T/abi/include" -fPIC -fvisibility=hidden \
    -o "$T/abi/plugins/gx-layer-norm.so" "$EX/layer_norm/layer-norm.c" $(pkg-config --libs gexec)
WANT="gexec: warning: plugin 'gx-layer-norm.so' refused: built for ABI $OTHER, engine has ABI $ABI"
for where in "$T/abi/plugins" "$T/abi/plugins/gx-layer-norm.so"; do
    GEXEC_PLUGIN_PATH=$where expect_ok "$GEXEC" plugins
    check "ABI $OTHER plugin (GEXEC_PLUGIN_PATH=${where#"$T"/}): exactly one line on stderr" \
        test "$(wc -l <"$T/err")" -eq 1
    check "ABI $OTHER plugin: the line is '$WANT' (got: '$(head -c 300 "$T/err")')" \
        test "$(cat "$T/err")" = "$WANT"
    check "ABI $OTHER plugin: its op is not registered" \
        bash -c "! grep -qE '^  layer_norm ' '$T/out'"
    check "ABI $OTHER plugin: the other plugins still load" out_has "peephole_lstm_cell"
done

echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
