#!/usr/bin/env bash
# Builds and installs equipot with CMake (into build/prefix), then builds and
# runs the C example against the installed library, as a user project would.
set -euo pipefail
cd "$(dirname "$0")/.."
prefix=$PWD/build/prefix
cmake -S . -B build/equipot
cmake --build build/equipot
cmake --install build/equipot --prefix "$prefix"
cmake -S examples/c -B build/example-c -DCMAKE_PREFIX_PATH="$prefix"
cmake --build build/example-c
build/example-c/lj_check
