#!/usr/bin/env bash
# test-install.sh BUILD_DIR: `cmake --install` into a temporary prefix, then the installed gexec
# must find its built-in plugins by itself (no GEXEC_PLUGIN_PATH) and run a graph.
set -u
build=$1
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
pass=0 fail=0
check() { # check DESCRIPTION COMMAND...
    if "${@:2}" >/dev/null 2>"$prefix/err"; then pass=$((pass + 1)); else
        fail=$((fail + 1)); echo "FAIL: $1"; cat "$prefix/err"; fi
}
cmake --install "$build" --prefix "$prefix/usr" >/dev/null || { echo "cmake --install failed"; exit 1; }
unset GEXEC_PLUGIN_PATH
check "installed plugins are found" bash -c "'$prefix/usr/bin/gexec' plugins | grep -q 'cpu-scalar'"
check "installed header is there" test -f "$prefix/usr/include/gexec/plugin.h"
check "installed gexec runs a graph" bash -c "cd / && '$prefix/usr/bin/gexec' check \
    '$GEXEC_SOURCE_DIR/graphs/rnn.graph' | grep -q 'backward'"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
