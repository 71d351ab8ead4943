#!/usr/bin/env bash
# test-install.sh BUILD_DIR: `cmake --install` into a temporary prefix, then the installed gexec
# must find its built-in plugins by itself (no GEXEC_PLUGIN_PATH) and run a graph, and the
# prefix must hold the plugin SDK: headers, gexec.pc and the CMake package, each usable from
# there (a plugin built with pkg-config's flags loads; find_package(gexec) configures).
set -u
build=$1
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
pass=0 fail=0
check() { # check DESCRIPTION COMMAND...
    if "${@:2}" >/dev/null 2>"$prefix/err"; then pass=$((pass + 1)); else
        fail=$((fail + 1)); echo "FAIL: $1"; cat "$prefix/err"; fi
}
if ! cmake --install "$build" --prefix "$prefix/usr" >/dev/null; then
    echo "cmake --install failed"
    exit 1
fi
unset GEXEC_PLUGIN_PATH
P=$prefix/usr
check "installed plugins are found" bash -c "'$P/bin/gexec' plugins | grep -q 'cpu-scalar'"
check "installed gexec runs a graph" bash -c "cd / && '$P/bin/gexec' check \
    '$GEXEC_SOURCE_DIR/graphs/rnn.graph' | grep -q 'backward'"

# ---- the SDK files ------------------------------------------------------------------------------
for h in plugin.h plugin-helpers.h optim-step.h; do
    check "installed header gexec/$h" test -f "$P/include/gexec/$h"
done
check "installed libgexec" \
    bash -c "ls '$P'/lib*/libgexec.so* '$P'/lib/*/libgexec.so* 2>/dev/null | grep -q ."
pc=$(find "$P" -name gexec.pc -path '*/pkgconfig/*' | head -n 1)
check "installed pkgconfig/gexec.pc" test -n "$pc"
cmdir=$(find "$P" -type d -path '*/cmake/gexec' | head -n 1)
for f in gexecConfig.cmake gexecConfigVersion.cmake gexecTargets.cmake GexecPlugin.cmake \
         gexec-plugin.map; do
    check "installed CMake package file $f" test -f "$cmdir/$f"
done

# ---- pkg-config: the version and ABI of this gexec, flags that build a plugin that loads -------
export PKG_CONFIG_PATH=${pc%/*}
version=$("$P/bin/gexec" --version)
pc_version="gexec $(pkg-config --modversion gexec)"
pc_version+=" (plugin ABI $(pkg-config --variable=abi_version gexec))"
check "pkg-config's version and ABI match gexec --version ($version)" \
    test "$pc_version" = "$version"
check "pkg-config --libs does not link libgexec (plugins never do)" \
    bash -c "! pkg-config --libs gexec | grep -q -- '-lgexec'"
mkdir -p "$prefix/pc"
# shellcheck disable=SC2046  # pkg-config's output is a list of flags
check "a plugin compiles from the prefix with pkg-config's flags" \
    cc -std=c11 -Wall -Wextra -Werror -o "$prefix/pc/gx-test-double.so" \
    "$GEXEC_SOURCE_DIR/tests/plugins/good-double.c" $(pkg-config --cflags --libs gexec)
check "... and the installed gexec loads it" bash -c "GEXEC_PLUGIN_PATH='$prefix/pc' \
    '$P/bin/gexec' plugins 2>&1 | grep -qE '^  test_double +vjp +fd'"

# ---- CMake: find_package(gexec) from the prefix ------------------------------------------------
mkdir -p "$prefix/cm"
cat >"$prefix/cm/CMakeLists.txt" <<'EOF'
cmake_minimum_required(VERSION 3.22)
project(find_gexec LANGUAGES C)
find_package(gexec 0.1 REQUIRED)
if(NOT TARGET gexec::sdk OR NOT COMMAND gexec_add_plugin OR NOT EXISTS "${GEXEC_PLUGIN_DIR}"
   OR NOT EXISTS "${GEXEC_EXECUTABLE}" OR NOT EXISTS "${GEXEC_INCLUDE_DIR}/gexec/plugin.h")
  message(FATAL_ERROR "incomplete gexec package")
endif()
message(STATUS "gexec ${gexec_VERSION} ABI ${GEXEC_ABI_VERSION}")
EOF
check "find_package(gexec) gives gexec::sdk, gexec_add_plugin and existing paths" \
    cmake -S "$prefix/cm" -B "$prefix/cm/build" -DCMAKE_PREFIX_PATH="$P"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
