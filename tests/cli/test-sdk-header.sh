#!/usr/bin/env bash
# test-sdk-header.sh SOURCE_DIR: the plugin SDK header compiles on its own as C11 and as C++,
# with every warning an error (a plugin author's compiler settings must not break it).
set -u
src=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# both SDK headers, each alone and together, with their inline helpers instantiated
printf '#include <gexec/plugin.h>\nint gx_sdk_probe(void) { return GX_ABI_VERSION; }\n' > "$tmp/probe.c"
printf '#include <gexec/plugin-helpers.h>\nconst char *gx_sdk_probe2(const gx_shape *s) { return gx_shape_text(s).s[0] ? gx_dtype_name(GX_DTYPE_F32) : 0; }\n' > "$tmp/probe2.c"
cp "$tmp/probe.c" "$tmp/probe.cpp"
cp "$tmp/probe2.c" "$tmp/probe2.cpp"
pass=0 fail=0
run() {
    if "$@" 2>"$tmp/err"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $*"; cat "$tmp/err"; fi
}
run gcc -std=c11 -Wall -Wextra -pedantic -Werror -I"$src/plugins/include" -c "$tmp/probe.c" -o "$tmp/c.o"
run gcc -std=c11 -Wall -Wextra -pedantic -Werror -I"$src/plugins/include" -c "$tmp/probe2.c" -o "$tmp/c2.o"
if command -v g++ >/dev/null; then
    run g++ -std=c++11 -Wall -Wextra -pedantic -Werror -I"$src/plugins/include" -c "$tmp/probe.cpp" -o "$tmp/cpp.o"
    run g++ -std=c++11 -Wall -Wextra -pedantic -Werror -I"$src/plugins/include" -c "$tmp/probe2.cpp" -o "$tmp/cpp2.o"
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
