#!/usr/bin/env bash
# Rust tests: unit, integration, e3nn/sevenn/ASE parity, header drift.
# The SevenNet parity and physics tests read the models that
# 10-sevenn-convert.sh converted from the real checkpoints.
set -euo pipefail
cd "$(dirname "$0")/../.."
export EQUIPOT_SEVENN_MODELS=${EQUIPOT_SEVENN_MODELS:-$PWD/target/sevenn/models}
cargo test --release --all-targets --no-fail-fast
