#!/usr/bin/env bash
# tools/bootstrap.sh: the README's two commands.
#   tools/bootstrap.sh demo   install what is missing, build, run the example graphs
#   tools/bootstrap.sh test   install what is missing, build, run the whole test suite twice:
#                             as built (warnings are errors) and with ASan + UBSan
# Packages are installed with apt-get only when dpkg says they are missing.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
mode=${1:-demo}
jobs=$(nproc 2>/dev/null || echo 2)

packages=(cmake make gcc g++ pkg-config python3
          libcmocka-dev libcjson-dev libsleef-dev libopenblas-dev
          glslang-tools libvulkan-dev mesa-vulkan-drivers)

install_missing() {
    local missing=()
    for p in "${packages[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "bootstrap: installing ${missing[*]}"
    local sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null || { echo "bootstrap: need root (or sudo) to install ${missing[*]}" >&2; exit 1; }
        sudo=(sudo)
    fi
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

build() { # build DIR [cmake args...]
    local dir=$1; shift
    cmake -S "$here" -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGX_WERROR=ON "$@" >/dev/null
    cmake --build "$dir" -j "$jobs"
}

demo_out=""
demo() {
    local b="$here/build"
    demo_out=$(mktemp -d)
    # global, not local: the EXIT trap runs after demo() has returned
    trap 'rm -rf "$demo_out"' EXIT
    local out=$demo_out
    echo "== gexec check graphs/rnn.graph"
    "$b/bin/gexec" check "$here/graphs/rnn.graph"
    echo "== gexec init + grad: a 3-step RNN classifier, forward and backward on cpu-scalar"
    "$b/bin/gexec" init "$here/graphs/rnn.graph" --seed 1 --out "$out/params.safetensors"
    "$b/bin/gexec" grad "$here/graphs/rnn.graph" --params "$out/params.safetensors" \
        --inputs "$here/graphs/data/rnn-inputs.safetensors" --out "$out/grads.safetensors"
    echo "== gexec run: the MLP"
    "$b/bin/gexec" init "$here/graphs/mlp.graph" --seed 1 --out "$out/mlp-params.safetensors"
    "$b/bin/gexec" run "$here/graphs/mlp.graph" --params "$out/mlp-params.safetensors" \
        --inputs "$here/graphs/data/mlp-inputs.safetensors" --out "$out/mlp-out.safetensors"
}

run_tests() { # run_tests DIR
    (cd "$1" && ctest --output-on-failure -j "$jobs")
}

case "$mode" in
demo)
    install_missing
    build "$here/build"
    demo
    ;;
test)
    install_missing
    echo "== build and test (warnings are errors)"
    build "$here/build"
    run_tests "$here/build"
    echo "== build and test with AddressSanitizer + UndefinedBehaviorSanitizer"
    build "$here/build-asan" -DCMAKE_BUILD_TYPE=Debug -DGX_SANITIZE=ON
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 run_tests "$here/build-asan"
    ;;
*)
    echo "usage: tools/bootstrap.sh demo|test" >&2
    exit 2
    ;;
esac
