#!/usr/bin/env bash
# test-seq2seq.sh: graphs/seq2seq_attention.graph end to end, small and fast.
#
# usage: test-seq2seq.sh PATH/TO/gexec   (env: GEXEC_SOURCE_DIR = the repository)
#
# What a user does: train the attention model on the reverse task (short strings, small dims,
# a few hundred steps: the loss must drop and the greedy held-out score rise; a second run with
# the same seed must end with a byte-identical checkpoint), decode with `gexec sample --prime`,
# and decode with `gexec run` from inputs written here (force 1 at t = 0 only: greedy; dec_in
# holds nothing but BOS, so the answer can only come from the fed-back predictions): both must
# give the same digits, and the reversed prompt. Diagnostics name the attention weights as a
# distribution probe. What a user gets wrong: a prompt with a non-digit or longer than S, no
# prompt, sampling options on a greedy model: one line on stderr each.
# Ends with "N passed, M failed".

set -u

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

GEXEC=${1:?usage: test-seq2seq.sh PATH/TO/gexec}
SRC=${GEXEC_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
GEXEC=$(cd "$(dirname "$GEXEC")" && pwd)/$(basename "$GEXEC")
GRAPH="$SRC/graphs/seq2seq_attention.graph"

T=$(mktemp -d "${TMPDIR:-/tmp}/gexec-s2s.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 1

RUN_TIMEOUT=60
# shellcheck source=harness.sh
. "$HERE/harness.sh"

# strings of 1 to 5 digits, held out 2 to 5 (S = 5, T = 6); small dims; one thread, so the
# run is the same under any scheduler (cpu-sleef is bit-identical for any thread count anyway)
TASK=reverse:min=1,max=5
SMALL=(--task "$TASK" --dim E=16 --dim H=32 --batch 16 --threads 1 --seed 3)

# ---- training: the loss drops, greedy decoding of held-out strings works ---------------------
expect_ok "$GEXEC" train "$GRAPH" "${SMALL[@]}" --steps 300 --val-every 150 --log-every 50 \
    --checkpoint s2s.ckpt
cp "$T/err" train.log
first=$(sed -n 's/^step 1\/300 .* loss \([0-9.]*\) .*/\1/p' train.log)
last=$(sed -n 's/^step 300\/300 .* loss \([0-9.]*\) .*/\1/p' train.log)
exact=$(sed -n 's/^step 300  validation loss .* exact \([0-9.]*\) .*/\1/p' train.log)
check "the training loss drops by 10x (step 1: '$first', step 300: '$last')" \
    awk -v a="$first" -v b="$last" 'BEGIN { exit !(a != "" && b != "" && b * 10 < a) }'
check "greedy exact match on held-out strings reaches 0.9 (got '$exact')" \
    awk -v e="$exact" 'BEGIN { exit !(e != "" && e >= 0.9) }'
expect_ok "$GEXEC" train "$GRAPH" "${SMALL[@]}" --steps 300 --val-every 150 --quiet \
    --checkpoint again.ckpt
check "a second run with the same seed ends with a byte-identical checkpoint" \
    cmp -s s2s.ckpt again.ckpt

# ---- gexec sample: the prompt is the source, decoding is greedy ------------------------------
for p in 31415 9021 7 52; do
    expect_ok "$GEXEC" sample s2s.ckpt --prime "$p"
    got=$(cat "$T/out")
    check "sample --prime $p prints digits only (got '$got')" grep -qx '[0-9]\+' "$T/out"
    check "sample --prime $p decodes the reversal (got '$got')" \
        test "$got" = "$(echo "$p" | rev)"
    echo "$got" >>sampled.txt
done

# ---- gexec run: the graph decodes greedily where force is 0 after t = 0 -----------------------
# inputs for the same four prompts, written with struct + json (numpy is not assumed)
python3 - <<'EOF'
import json, struct
S, T, PAD, BOS, EOS = 5, 6, 10, 11, 12
rows = ['31415', '9021', '7', '52']
t = {'src': ('I32', []), 'mask': ('F32', []), 'dec_in': ('I32', []), 'targets': ('I32', []),
     'force': ('I32', [])}
for r in rows:
    L = len(r)
    t['src'][1].extend([int(c) for c in r] + [PAD] * (S - L))
    t['mask'][1].extend([1.0] * L + [0.0] * (S - L))
    t['dec_in'][1].extend([BOS] + [PAD] * (T - 1))   # nothing to copy: only BOS is given
    ans = [int(c) for c in reversed(r)] + [EOS]
    t['targets'][1].extend(ans + [-1] * (T - len(ans)))
    t['force'][1].extend([1] + [0] * (T - 1))
hdr, data = {}, b''
for name, (dt, vals) in t.items():
    b = struct.pack('<%d%s' % (len(vals), 'f' if dt == 'F32' else 'i'), *vals)
    hdr[name] = {'dtype': dt, 'shape': [len(rows), len(vals) // len(rows)],
                 'data_offsets': [len(data), len(data) + len(b)]}
    data += b
h = json.dumps(hdr).encode()
h += b' ' * (-len(h) % 8)
open('greedy.safetensors', 'wb').write(struct.pack('<Q', len(h)) + h + data)
EOF
expect_ok "$GEXEC" run "$GRAPH" --params s2s.ckpt --inputs greedy.safetensors \
    --out out.safetensors --dim B=4 --dim S=5 --dim T=6 --dim E=16 --dim H=32
check "gexec run prints the greedy exact match" grep -q "^exact .*= 1$" "$T/out"
python3 - <<'EOF' >run-decoded.txt
import json, struct
raw = open('out.safetensors', 'rb').read()
n, = struct.unpack('<Q', raw[:8])
e = json.loads(raw[8:8 + n])['pred']
b, en = e['data_offsets']
ids = struct.unpack('<%di' % ((en - b) // 4), raw[8 + n + b:8 + n + en])
B, T = e['shape']
for r in range(B):
    row = ids[r * T:(r + 1) * T]
    print(''.join(str(i) for i in row[:row.index(12)] if i < 10) if 12 in row else '?')
EOF
check "gexec run's greedy pred equals what gexec sample printed" cmp -s run-decoded.txt sampled.txt
check "attn: every step's weights sum to 1 over the string and are exactly 0 on the padding" \
    python3 - <<'EOF'
import json, struct
raw = open('out.safetensors', 'rb').read()
n, = struct.unpack('<Q', raw[:8])
e = json.loads(raw[8:8 + n])['attn']
b, en = e['data_offsets']
w = struct.unpack('<%df' % ((en - b) // 4), raw[8 + n + b:8 + n + en])
B, T, S = e['shape']
for r, L in enumerate([5, 4, 1, 2]):
    for t in range(T):
        row = w[(r * T + t) * S:(r * T + t + 1) * S]
        assert abs(sum(row[:L]) - 1) < 1e-5 and all(x == 0.0 for x in row[L:]), (r, t, row)
EOF

# ---- diagnostics: the attention weights are a distribution probe -----------------------------
expect_ok "$GEXEC" train "$GRAPH" "${SMALL[@]}" --steps 2 --diag diag --diag-every 1 --quiet
check "diag.jsonl holds the probe attention.weights of kind dist" \
    grep -q '"probe":"attention.weights","kind":"dist"' diag/diag.jsonl

# ---- mistakes: one line each -----------------------------------------------------------------
expect_fail "'a' (byte 2) is not in the vocabulary of task reverse" \
    "$GEXEC" sample s2s.ckpt --prime 12a4
expect_fail "has 6 digits, more than the 5 source positions" "$GEXEC" sample s2s.ckpt --prime 123456
expect_fail "give the source with --prime" "$GEXEC" sample s2s.ckpt
expect_fail "the prompt is empty" "$GEXEC" sample s2s.ckpt --prime ""
expect_fail "decodes greedily" "$GEXEC" sample s2s.ckpt --prime 12 --temperature 0.5
expect_fail "task reverse: min (4) is larger than max (2)" \
    "$GEXEC" train "$GRAPH" --task reverse:min=4,max=2 --steps 1

echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
