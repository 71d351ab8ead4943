#!/usr/bin/env bash
# test-report.sh: `gexec report` and `gexec plot`, end to end.
#
# usage: test-report.sh PATH/TO/gexec   (env: GEXEC_SOURCE_DIR = the repository)
#
# The report of the checked-in fixture (fixtures/diag-small: a 2-layer LSTM's diagnostics, by
# hand, with validation, clipping, a NaN record, nulls) and, when `gexec train` has --diag, of a
# real run: one self-contained file (nothing fetched), every chart present. What a user gets
# wrong: a missing directory or file, a malformed line (its number in the message), another
# format version: status 1 and one line. Then a headless Chromium loads the pages: the page's
# own script counts each chart's laid-out data marks (data-drawn) and appends "[drawn K/M]" to
# the title; the fixture's charts must all be drawn. Without chromium that part is skipped.
# Distribution probes (fixtures/attention, trained here): an attention map per probe, its
# cells' weights on hover, earlier records small under it, the entropy chart; a cut map.
# Ends with "N passed, M failed".

set -u

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

GEXEC=${1:?usage: test-report.sh PATH/TO/gexec}
SRC=${GEXEC_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}
GEXEC=$(cd "$(dirname "$GEXEC")" && pwd)/$(basename "$GEXEC")
FIX=$HERE/fixtures/diag-small

T=$(mktemp -d "${TMPDIR:-/tmp}/gexec-report.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
cd "$T" || exit 1

RUN_TIMEOUT=60
# shellcheck source=harness.sh
. "$HERE/harness.sh"

CHARTS="loss grad_norm grad_time grad_profile gate_saturation gate_mean spectral_rho spectral_sigma
        param_grad_norm update_ratio"

# static checks of a report: nothing fetched, every chart there, the summary table there
report_ok() {
    python3 - "$1" $CHARTS <<'EOF'
import re, sys
path, want = sys.argv[1], sys.argv[2:]
page = open(path, encoding="utf-8").read()
bad = re.findall(r'''(?:src|href)\s*=\s*["']?\s*(?:https?:)?//[^"' >]*''', page, re.I)
bad += re.findall(r'<script[^>]+src|<link\b|@import|url\(\s*["\']?(?:https?:)?//', page, re.I)
if bad:
    sys.exit("external references: %s" % bad[:3])
names = re.findall(r'<svg[^>]*class="chart"[^>]*data-chart="([a-z_]+)"', page)
missing = [n for n in want if n not in names]
if missing:
    sys.exit("charts missing: %s (have %s)" % (missing, sorted(set(names))))
if '<table class="summary">' not in page:
    sys.exit("no summary table")
EOF
}

# ---- the fixture ---------------------------------------------------------------------------
expect_ok "$GEXEC" report "$FIX" -o fixture.html
check "report of the fixture: one file, no external references, every chart" report_ok fixture.html
check "nothing but the page is written" test "$(ls "$T" | grep -vc '^\(out\|err\)$')" -eq 1
check "the summary counts the clip events" grep -q "4 of 30 steps (threshold 1)" fixture.html
check "the summary names the NaN record" grep -q "first at step 17: log at" fixture.html
check "the summary names the most saturated gate" grep -q "l2/gate.forget 29.0%" fixture.html
check "one heatmap per (layer, carry)" test "$(grep -c 'data-chart="grad_time"' fixture.html)" -eq 4
check "the clip threshold is drawn" grep -q ">clip 1<" fixture.html
check "the plain probe (saturation null) is not in the saturation chart" \
    python3 -c "import re,sys; p=open('fixture.html').read(); c=re.search(r'data-chart=\"gate_saturation\".*?</svg>', p, re.S).group(0); sys.exit('cell.state' in c)"

# several runs: overlaid, labelled by directory name
mkdir -p runs/rnn runs/lstm
cp "$FIX/diag.jsonl" runs/rnn/
cp "$FIX/diag.jsonl" runs/lstm/
expect_ok "$GEXEC" report runs/rnn runs/lstm/ --out two.html
check "two runs: every chart" report_ok two.html
check "two runs: legends name the directories" grep -q "rnn: train" two.html
check "two runs: a heatmap per run" test "$(grep -c 'data-chart="grad_time"' two.html)" -eq 8

# records the reader does not know are skipped, and so is an unfinished last line (a run that
# is still writing)
mkdir -p newer
{ cat "$FIX/diag.jsonl"; echo '{"type":"histogram","step":30,"bins":[1,2]}';
  printf '{"type":"train","step":31,"lo'; } >newer/diag.jsonl
expect_ok "$GEXEC" report newer -o newer.html
check "unknown records and an unfinished last line are skipped" report_ok newer.html
check "an unfinished last line is noted" err_has "newer/diag.jsonl:44: unfinished last line skipped"

# one train record: a marker, not a line; no diag records: "no data", and nothing marked drawn
mkdir -p one
head -n 2 "$FIX/diag.jsonl" >one/diag.jsonl
expect_ok "$GEXEC" report one -o one.html
check "a run of one step: a point" grep -q '<circle class="data"' one.html
check "charts without data say so" grep -q ">no data<" one.html

# ---- what a user gets wrong ----------------------------------------------------------------
expect_fail "nowhere: No such file or directory" "$GEXEC" report nowhere -o x.html
mkdir -p empty-dir
expect_fail "empty-dir/diag.jsonl: cannot open" "$GEXEC" report empty-dir -o x.html
echo "not a dir" >plain.txt
expect_fail "plain.txt: not a directory" "$GEXEC" report plain.txt -o x.html
mkdir -p broken
{ head -n 2 "$FIX/diag.jsonl"; echo '{"type":"train","step":3,'; tail -n +3 "$FIX/diag.jsonl"; } \
    >broken/diag.jsonl
expect_fail "broken/diag.jsonl:3: error: malformed JSON" "$GEXEC" report broken -o x.html
mkdir -p v2
sed '1s/"version":1/"version":2/' "$FIX/diag.jsonl" >v2/diag.jsonl
expect_fail "v2/diag.jsonl:1: error: diagnostics version 2 is not supported" \
    "$GEXEC" report v2 -o x.html
mkdir -p headless
tail -n +2 "$FIX/diag.jsonl" >headless/diag.jsonl
expect_fail "headless/diag.jsonl:1: error: the first record is \"train\", not \"meta\"" \
    "$GEXEC" report headless -o x.html
mkdir -p nostep
{ head -n 1 "$FIX/diag.jsonl"; echo '{"type":"diag","loss":1}'; } >nostep/diag.jsonl
expect_fail "nostep/diag.jsonl:2: error: a \"diag\" record without a number \"step\"" \
    "$GEXEC" report nostep -o x.html
mkdir -p notobj
{ head -n 1 "$FIX/diag.jsonl"; echo '[1, 2]'; } >notobj/diag.jsonl
expect_fail "notobj/diag.jsonl:2: error: a record must be a JSON object" \
    "$GEXEC" report notobj -o x.html
: >empty-dir/diag.jsonl
expect_fail "empty-dir/diag.jsonl: no records" "$GEXEC" report empty-dir -o x.html
check "a failed report writes no file" test ! -e x.html
expect_fail "missing DIR" "$GEXEC" report
expect_fail "unknown option '--bogus'" "$GEXEC" report "$FIX" --bogus
expect_fail "cannot write" "$GEXEC" report "$FIX" -o no-such-dir/x.html

# ---- gexec plot ----------------------------------------------------------------------------
cat >acc.csv <<'EOF'
model,gap,acc,"note, quoted"
lstm,10,0.99,a
rnn,10,0.9,"b ""c"""
lstm,5,1.0,
rnn,5,0.98,
rnn,20,0.6,
lstm,20,0.95,
lstm,40,n/a,
EOF
expect_ok "$GEXEC" plot acc.csv -o acc.svg --x gap --y acc --series model --logx --title "Copy"
check "plot: a standalone SVG" grep -q '^<svg xmlns="http://www.w3.org/2000/svg" class="chart" data-chart="plot"' acc.svg
check "plot: one line per series" test "$(grep -c '<polyline class="data"' acc.svg)" -eq 2
check "plot: the series are in the legend" grep -q ">model=rnn<" acc.svg
check "plot: the skipped row is noted" err_has "1 row without numbers"
expect_ok "$GEXEC" plot acc.csv -o acc.html --x gap --y acc --logy --xlabel "gap (steps)"
check "plot: -o NAME.html gives a page" grep -q "^<!DOCTYPE html>" acc.html
expect_fail "no column 'gaps' (--x); did you mean 'gap'?" "$GEXEC" plot acc.csv -o p.svg --x gaps --y acc
expect_fail "no row has numbers in both 'model' and 'acc'" "$GEXEC" plot acc.csv -o p.svg --x model --y acc
expect_fail "--y COL is required" "$GEXEC" plot acc.csv -o p.svg --x gap
expect_fail "nothing.csv: cannot open" "$GEXEC" plot nothing.csv -o p.svg --x gap --y acc

# ---- a real run ----------------------------------------------------------------------------
REAL=
if "$GEXEC" train --help 2>/dev/null | grep -q -- "--diag "; then
    head -c 20000 "$SRC/graphs/data/tinyshakespeare.txt" >text.txt 2>/dev/null ||
        head -c 20000 "$SRC/../shared/data/tinyshakespeare.txt" >text.txt
    RUN_TIMEOUT=120
    expect_ok "$GEXEC" train "$SRC/graphs/char_rnn.graph" --data text.txt --dim E=8 --dim H=16 \
        --batch 4 --bptt 8 --steps 20 --val-every 10 --clip 0.5 --diag real --diag-every 5 \
        --backend cpu-scalar --quiet
    RUN_TIMEOUT=60
    expect_ok "$GEXEC" report real -o real.html
    check "report of a real run: every chart" report_ok real.html
    REAL=real.html
else
    echo "SKIP: gexec train has no --diag: no report of a real run"
fi

# ---- attention maps: distribution probes of a real run ---------------------------------------
ATTN=
if [ -n "$REAL" ]; then
    FIXA=$HERE/fixtures/attention
    RUN_TIMEOUT=120
    expect_ok "$GEXEC" train "$FIXA/reverse.graph" --data "$FIXA/reverse.jsonl" --steps 30 \
        --lr 0.05 --diag attn --diag-every 5 --backend cpu-scalar --quiet
    RUN_TIMEOUT=60
    expect_ok "$GEXEC" report attn -o attn.html
    CHARTS="$CHARTS attention attention_entropy" \
        check "report with distribution probes: every chart, an attention map and the entropy" \
        report_ok attn.html
    run python3 - attn.html <<'P'
import re, sys
page = open(sys.argv[1], encoding="utf-8").read()
maps = re.findall(r'<svg[^>]*data-chart="attention"[^>]*>.*?</svg>', page, re.S)
keys = [re.search(r'data-key="([^"]*)"', m).group(1) for m in maps]
assert keys == ["ctx/attn", "graph/salience"], keys
m = maps[0]
# the main map: 6 x 6 cells, each with its weight on hover; the axes and the colour bar named
titles = re.findall(r'<rect class="data"[^>]*><title>output step (\d+), source (\d+): ([0-9.e-]+)</title>', m)
assert len(titles) == 36, len(titles)
assert {(int(t), int(s)) for t, s, _ in titles} == {(t, s) for t in range(6) for s in range(6)}
# learned by step 26: output step t on source S-1-t
best = {}
for t, s, v in titles:
    if float(v) > best.get(int(t), (0, -1))[0]:
        best[int(t)] = (float(v), int(s))
assert [best[t][1] for t in range(6)] == [5, 4, 3, 2, 1, 0], best
for label in (">source position<", ">output step<", ">weight<", "at step 26, the last diag record"):
    assert label in m, label
# earlier records drawn small under it: steps 1, 6, 11 and 16, without titles
assert re.findall(r'>step (\d+)</text>', m) == ["1", "6", "11", "16"], re.findall(r'>step (\d+)<', m)
assert len(re.findall(r'<rect class="data"[^>]*/>', m)) == 4 * 36
# outside the loop: one row
assert len(re.findall(r'<title>row 0, source \d+: ', maps[1])) == 6
ent = re.search(r'<svg[^>]*data-chart="attention_entropy".*?</svg>', page, re.S).group(0)
assert ">uniform over 6<" in ent and ">ctx/attn<" in ent and ">graph/salience<" in ent, ent[:300]
assert "<script" not in "".join(maps) + ent
print("ok")
P
    check "attention map: 6 x 6 cells with their weights on hover, the reversal learned, axes and colour bar named, earlier steps small under it; the entropy with ln S dashed" \
        [ "$RC" -eq 0 ]
    [ "$RC" -eq 0 ] || cat "$T/err"
    check "a report without distribution probes has no attention section" \
        sh -c "! grep -q 'data-chart=\"attention' fixture.html"
    # a cut map: 130 x 300 weights kept as 65 x 100, one row in 2 and blocks of 3 positions
    sed -e 's/^loss = cross_entropy(logits, targets)$/&\nwide = softmax(hs @ W_w)  probe "wide"/' \
        -e 's/^param b_out .*/&\nparam W_w   : f32[H, 300] init xavier/' \
        "$SRC/graphs/char_rnn.graph" >wide.graph
    RUN_TIMEOUT=120
    expect_ok "$GEXEC" train wide.graph --data text.txt --dim E=8 --dim H=16 --batch 2 --bptt 130 \
        --steps 2 --diag wide --diag-every 1 --backend cpu-scalar --quiet
    RUN_TIMEOUT=60
    expect_ok "$GEXEC" report wide -o wide.html
    check "a cut map says so, and its cells name the positions they sum" sh -c \
        "grep -q 'cut from 130 x 300: one row in 2, 3 positions per column' wide.html &&
         grep -q '<title>row 0, source 0[^ ]*2: ' wide.html && grep -q '<title>row 128, source 297[^ ]*299: ' wide.html"
    ATTN=attn.html
fi

# ---- headless Chromium: the charts are laid out with data --------------------------------
# dom_check PAGE all|CHARTS...: load the page, print what its script counted; "all": every
# chart drawn and the title says M/M, else the named charts drawn
dom_check() {
    local page=$1
    shift
    timeout 60 "$CHROMIUM" --headless --no-sandbox --disable-gpu --user-data-dir="$T/chromium" \
        --dump-dom "file://$T/$page" >"$page.dom" 2>"$page.chromium-err" || {
        echo "    chromium failed on $page:"; tail -n 3 "$page.chromium-err"; return 1; }
    python3 - "$page" "$page.dom" "$@" <<'EOF'
import re, sys
page, dom, want = sys.argv[1], open(sys.argv[2], encoding="utf-8").read(), sys.argv[3:]
title = re.search(r"<title>(.*?)</title>", dom, re.S)
title = title.group(1) if title else ""
charts = []
for tag in re.findall(r"<svg\b[^>]*>", dom):
    if 'class="chart"' not in tag:
        continue
    name = re.search(r'data-chart="([^"]*)"', tag).group(1)
    key = re.search(r'data-key="([^"]*)"', tag)
    drawn = re.search(r'data-drawn="(\d+)"', tag)
    charts.append((name + ("[" + key.group(1) + "]" if key else ""), name,
                   int(drawn.group(1)) if drawn else -1))
print("    chromium %s: title '%s'" % (page, title))
print("    drawn: " + " ".join("%s=%d" % (c[0], c[2]) for c in charts))
m = re.search(r"\[drawn (\d+)/(\d+)\]$", title)
if not m or int(m.group(2)) != len(charts):
    sys.exit("    the page's script did not run (title '%s')" % title)
if want == ["all"]:
    undrawn = [c[0] for c in charts if c[2] < 1]
    if undrawn or m.group(1) != m.group(2):
        sys.exit("    not drawn: %s" % undrawn)
else:
    undrawn = [w for w in want if not any(c[1] == w and c[2] >= 1 for c in charts)]
    if undrawn:
        sys.exit("    not drawn: %s" % undrawn)
EOF
}

CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$CHROMIUM" ]; then
    echo "SKIP: chromium is not installed: no headless check of the pages (tools/bootstrap.sh installs it)"
else
    check "chromium: every chart of the fixture's report is drawn" dom_check fixture.html all
    check "chromium: every chart of the two-run report is drawn" dom_check two.html all
    check "chromium: the one-step report draws its loss and grad norm, and counts the rest as not drawn" \
        dom_check one.html loss grad_norm
    check "chromium: one.html's title counts the charts without data out" \
        grep -q "\[drawn 2/10\]</title>" one.html.dom
    check "chromium: the plot page is drawn" dom_check acc.html all
    if [ -n "$REAL" ]; then
        check "chromium: every chart of the real run's report is drawn" dom_check "$REAL" all
    fi
    if [ -n "$ATTN" ]; then
        # a model without carries or gates: those charts say "no data"
        check "chromium: the attention maps and the entropy chart are drawn" \
            dom_check "$ATTN" loss attention attention_entropy
        check "chromium: both attention maps are drawn" grep -q \
            'data-chart="attention" data-run="attn" data-key="graph/salience"[^>]*data-drawn="[1-9]' \
            "$ATTN.dom"
    fi
fi

echo "$PASS passed, $FAIL failed"
[ "$FAIL" -eq 0 ]
