#!/usr/bin/env bash
# SevenNet checkpoints -> equipot model files, with the torch-free converter,
# checked tensor by tensor against the real sevenn's loaded state dicts
# (fixtures in tests/fixtures/sevenn/state_dict, made by generate.py there).
# Leaves the converted models in target/sevenn/models for the Rust parity tests.
set -euo pipefail
cd "$(dirname "$0")/../.."
CKPT=${EQUIPOT_SEVENN_CHECKPOINTS:-$PWD/target/sevenn/checkpoints}
MODELS=$PWD/target/sevenn/models

bash scripts/fetch_sevenn_checkpoints.sh "$CKPT" >/dev/null
python -m pip install --quiet ./bindings/python
EQUIPOT_SEVENN_CHECKPOINTS=$CKPT python -m pytest -q bindings/python/tests

mkdir -p "$MODELS"
for ck in "$CKPT"/*/*.pth; do
    name=$(basename "$(dirname "$ck")")
    python -m equipot.convert sevenn "$ck" "$MODELS/$name.eqp.safetensors" >/dev/null
done
ls "$MODELS"
