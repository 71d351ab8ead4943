#!/usr/bin/env bash
# test-sdk-header.sh SOURCE_DIR [BUILD_DIR]: every plugin SDK header compiles on its own as C11
# and as C++11, with every warning an error (a plugin author's compiler settings must not break
# it): from the source tree, and, given BUILD_DIR, from an install of that build into a
# temporary prefix, whose include/gexec must hold exactly the source tree's headers.
set -u
src=$1
build=${2:-}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
failed() { # failed MESSAGE: count a failure, print the message and the last error output
    fail=$((fail + 1))
    echo "FAIL: $1"
    cat "$tmp/err"
}
run() {
    if "$@" 2>"$tmp/err"; then pass=$((pass + 1)); else failed "$*"; fi
}

# what each header's probe calls, so that its inline helpers are compiled, not just declared
probe_body() { # probe_body HEADER-NAME
    case $1 in
    plugin.h) cat <<'EOF' ;;
int gx_sdk_probe(const gx_shape *s) {
    return GX_ABI_VERSION + (int)gx_shape_numel(s) + (int)gx_dtype_size(GX_DTYPE_F32) +
           (int)gx_random_u01(1u, 2u, 3u, 4u);
}
EOF
    plugin-helpers.h) cat <<'EOF' ;;
const char *gx_sdk_probe(const gx_shape *s) {
    return gx_shape_text(s).s[0] ? gx_dtype_name(GX_DTYPE_F32) : 0;
}
EOF
    optim-step.h) cat <<'EOF' ;;
double gx_sdk_probe(double g) {
    double h[GX_OPTIM_HYPER_N] = {0}, w = 1, s1 = 0, s2 = 0, k = 0;
    gx_optim_step_elem(GX_OPTIM_ADAM, 0, h, g, &w, &s1, &s2);
    return gx_optim_clip_scale(h, g, &k) ? w + k : s1;
}
EOF
    *) echo 'int gx_sdk_probe(void) { return 0; }' ;;
    esac
}

# check_headers INCLUDE_DIR LABEL: each header in INCLUDE_DIR/gexec alone, C11 and C++11
check_headers() {
    local inc=$1 label=$2 h name
    local n=0
    for h in "$inc"/gexec/*.h; do
        name=${h##*/}
        n=$((n + 1))
        { printf '#include <gexec/%s>\n' "$name"; probe_body "$name"; } >"$tmp/probe.c"
        cp "$tmp/probe.c" "$tmp/probe.cpp"
        run gcc -std=c11 -Wall -Wextra -pedantic -Wshadow -Wstrict-prototypes -Werror -I"$inc" \
            -c "$tmp/probe.c" -o "$tmp/c.o"
        if command -v g++ >/dev/null; then
            run g++ -std=c++11 -Wall -Wextra -pedantic -Wshadow -Werror -I"$inc" \
                -c "$tmp/probe.cpp" -o "$tmp/cpp.o"
        fi
    done
    if [ "$n" -lt 3 ]; then : >"$tmp/err"; failed "$label: only $n headers in $inc/gexec"; fi
}

check_headers "$src/plugins/include" "source tree"

if [ -n "$build" ]; then
    prefix=$tmp/prefix
    if cmake --install "$build" --prefix "$prefix" >"$tmp/install.log" 2>&1; then
        pass=$((pass + 1))
        check_headers "$prefix/include" "installed"
        # the install holds every SDK header and nothing else
        if diff <(cd "$src/plugins/include/gexec" && ls) <(cd "$prefix/include/gexec" && ls) \
            >"$tmp/err"; then
            pass=$((pass + 1))
        else
            failed "installed headers differ from plugins/include/gexec"
        fi
    else
        tail -n 20 "$tmp/install.log" >"$tmp/err"
        failed "cmake --install $build"
    fi
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
