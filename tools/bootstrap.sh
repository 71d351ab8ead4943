#!/usr/bin/env bash
# tools/bootstrap.sh: the README's two commands.
#   tools/bootstrap.sh demo   install what is missing, build, train char_lstm on Tiny Shakespeare, sample
#   tools/bootstrap.sh test   install what is missing, build, run the whole test suite twice:
#                             as built (warnings are errors) and with ASan + UBSan
# Packages are installed with apt-get only when dpkg says they are missing.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
mode=${1:-demo}
jobs=$(nproc 2>/dev/null || echo 2)

packages=(cmake make gcc g++ pkg-config python3
          libcmocka-dev libcjson-dev libsleef-dev libopenblas-dev
          glslang-tools libvulkan-dev mesa-vulkan-drivers vulkan-validationlayers chromium
          python3-protobuf python3-crcmod valgrind openmpi-bin libopenmpi-dev)

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

demo() {
    local b="$here/build"
    # the main job: a character LSTM on Tiny Shakespeare with the graph's own recipe, then a
    # sample from the checkpoint it wrote
    echo "== gexec train graphs/char_lstm.graph (Tiny Shakespeare; a few minutes on 2 cores)"
    "$b/bin/gexec" train "$here/graphs/char_lstm.graph" \
        --data "$here/graphs/data/tinyshakespeare.txt" --checkpoint "$b/char_lstm.ckpt"
    echo "== gexec sample build/char_lstm.ckpt --prime \"ROMEO:\""
    "$b/bin/gexec" sample "$b/char_lstm.ckpt" --prime "ROMEO:" --length 400 --temperature 0.8 \
        --seed 1
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
