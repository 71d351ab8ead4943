#!/usr/bin/env bash
# test-sdk-header.sh SOURCE_DIR: the plugin SDK header compiles on its own as C11 and as C++,
# with every warning an error (a plugin author's compiler settings must not break it).
set -u
src=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf '#include <gexec/plugin.h>\nint gx_sdk_probe(void) { return GX_ABI_VERSION; }\n' > "$tmp/probe.c"
cp "$tmp/probe.c" "$tmp/probe.cpp"
pass=0 fail=0
run() {
    if "$@" 2>"$tmp/err"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $*"; cat "$tmp/err"; fi
}
run gcc -std=c11 -Wall -Wextra -pedantic -Werror -I"$src/plugins/include" -c "$tmp/probe.c" -o "$tmp/c.o"
if command -v g++ >/dev/null; then
    run g++ -std=c++11 -Wall -Wextra -pedantic -Werror -I"$src/plugins/include" -c "$tmp/probe.cpp" -o "$tmp/cpp.o"
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
