#!/usr/bin/env bash
# MACE's SymmetricContraction picks AVX-512, AVX2 or the portable kernel at run
# time; `cargo test` covers only the best one. Rerun its parity tests with each
# lower path forced (EQUIPOT_SIMD caps the choice).
set -euo pipefail
for level in avx2 none; do
    echo "== symmetric contraction tests with EQUIPOT_SIMD=$level"
    EQUIPOT_SIMD=$level cargo test --release --test symmetric_contraction_parity
done
