#!/usr/bin/env bash
# The converted SevenNet models the Rust tests read, made once:
#   scripts/prepare_sevenn_models.sh [DIR]     (default: target/sevenn)
# fetches the four checkpoints from the sevenn wheel (no torch), converts them
# with the torch-free converter into DIR/models/*.eqp.safetensors, and prints
# that folder. Uses $PYTHON if it has numpy and the equipot package, otherwise
# a venv of its own in DIR/venv (numpy + bindings/python from PyPI/this tree).
# `cargo test` runs this itself when EQUIPOT_SEVENN_MODELS is not set.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
dir=${1:-$root/target/sevenn}
models=$dir/models
if ls "$models"/*.eqp.safetensors >/dev/null 2>&1 && [ "$(ls "$models"/*.eqp.safetensors | wc -l)" -ge 4 ]; then
    echo "$models"; exit 0
fi
py=${PYTHON:-python3}
if ! "$py" -c 'import numpy, equipot.convert' >/dev/null 2>&1; then
    [ -x "$dir/venv/bin/python" ] || python3 -m venv "$dir/venv" >&2
    py=$dir/venv/bin/python
    "$py" -m pip install --quiet numpy "$root/bindings/python" >&2
fi
PYTHON=$py bash "$root/scripts/fetch_sevenn_checkpoints.sh" "$dir/checkpoints" >&2
mkdir -p "$models.part"
for ck in "$dir"/checkpoints/*/*.pth; do
    name=$(basename "$(dirname "$ck")")
    "$py" -m equipot.convert sevenn "$ck" "$models.part/$name.eqp.safetensors" >&2
done
rm -rf "$models" && mv "$models.part" "$models"
echo "$models"
