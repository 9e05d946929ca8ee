#!/usr/bin/env bash
# The nn kernels (GEMM, symmetric contraction, radial tables) are compiled for several instruction sets
# and pick the best at run time. Every nn layer test runs its body once per level this CPU has
# (tests/nn_support every_simd, through Workspace::simd_scope: no environment variable), and the
# library's own tests check that a scope reaches every thread of its workspace and no other.
set -euo pipefail
echo "== nn layer tests at every SIMD level this CPU has"
cargo test --release --test nn_parity --test nn_gradients --test nn_equivariance --test symmetric_contraction_parity
cargo test --release --lib simd
