#!/usr/bin/env bash
# The nn kernels (GEMM, symmetric contraction) are compiled for several instruction sets and pick the best
# at run time; `cargo test` covers only that one. Rerun the layer tests with
# each lower path forced (EQUIPOT_SIMD caps the choice).
set -euo pipefail
for level in avx2 none; do
    echo "== nn layer tests with EQUIPOT_SIMD=$level"
    EQUIPOT_SIMD=$level cargo test --release --test nn_parity --test nn_gradients --test nn_equivariance \
        --test symmetric_contraction_parity
done
