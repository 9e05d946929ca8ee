#!/usr/bin/env bash
# NVE molecular dynamics with SevenNet-0 (velocity Verlet, 1 fs, 2000 steps,
# 64-atom Si at 300 K, float64): the total energy stays within 1e-4 eV/atom.
# Slow (minutes), so it is an #[ignore]d test that only this script runs.
# Needs the converted models of 10-sevenn-convert.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."
export EQUIPOT_SEVENN_MODELS=${EQUIPOT_SEVENN_MODELS:-$PWD/target/sevenn/models}
cargo test --release --test sevenn_physics -- --ignored --exact nve_md_conserves_energy --nocapture
