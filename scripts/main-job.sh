#!/usr/bin/env bash
# The main job, on a fresh machine: build equipot, fetch SevenNet-0 from the
# sevenn wheel on PyPI (43 MB, no torch), convert it to an equipot model file
# without torch, and run a short Langevin MD of 216 Si atoms at 300 K.
#   bash scripts/main-job.sh [STEPS]
set -euo pipefail
cd "$(dirname "$0")/.."
STEPS=${1:-100}
cargo build --release
python3 -m venv .venv-main
. .venv-main/bin/activate
pip install -q --upgrade pip
pip install -q ./bindings/python
bash scripts/fetch_sevenn_checkpoints.sh target/sevenn/checkpoints
MODEL=target/sevenn/models/SevenNet_0__11Jul2024.eqp.safetensors
mkdir -p target/sevenn/models target/md
python -m equipot.convert sevenn target/sevenn/checkpoints/SevenNet_0__11Jul2024/checkpoint_sevennet_0.pth "$MODEL"
./target/release/equipot md --model "$MODEL" examples/structures/si-diamond-216.xyz \
    --steps "$STEPS" --dt 1 --temperature 300 --thermostat langevin --precision f32 \
    --log target/md/md.log --trajectory target/md/md.xyz --every 10
tail -n 3 target/md/md.log
