#!/usr/bin/env bash
# SevenNet models through the C ABI and equipot.hpp: bad input (unknown
# element, another architecture, truncated and newer-format files, unknown
# modal) and the valid isolated-atom case, modal selection; the halo exchange
# (eqp_compute_with_halo) through equipot.hpp and the Fortran module against
# the periodic evaluation.
# Needs the converted models of 10-sevenn-convert.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."
models=${EQUIPOT_SEVENN_MODELS:-$PWD/target/sevenn/models}
work=$PWD/build/ci-sevenn
rm -rf "$work" && mkdir -p "$work/scratch"
cargo build --release --lib
lib=$PWD/target/release
gcc -std=c11 -Wall -Wextra -Werror tests/c/sevenn_bad_input.c -Iinclude -L"$lib" -lequipot -lm \
    -Wl,-rpath,"$lib" -o "$work/sevenn_bad_input"
"$work/sevenn_bad_input" "$models" "$work/scratch"
g++ -std=c++17 -Wall -Wextra -Werror -pedantic tests/c/sevenn_model.cpp -Iinclude -Ibindings/cpp -L"$lib" -lequipot \
    -Wl,-rpath,"$lib" -o "$work/sevenn_model"
"$work/sevenn_model" "$models"
g++ -std=c++17 -Wall -Wextra -Werror -pedantic tests/c/sevenn_halo.cpp -Iinclude -Ibindings/cpp -L"$lib" -lequipot \
    -Wl,-rpath,"$lib" -o "$work/sevenn_halo"
"$work/sevenn_halo" "$models"
gfortran -std=f2018 -Wall -Wextra -Werror -fcheck=all -g -J "$work" bindings/fortran/equipot.f90 \
    bindings/fortran/test_helpers.f90 bindings/fortran/test_sevenn_halo.f90 -L"$lib" -lequipot -Wl,-rpath,"$lib" -o "$work/test_sevenn_halo"
"$work/test_sevenn_halo" "$models"
