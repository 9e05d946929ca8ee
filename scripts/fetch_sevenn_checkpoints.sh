#!/usr/bin/env bash
# Fetch the four SevenNet checkpoints that ship inside the sevenn 0.13.0 wheel.
#   scripts/fetch_sevenn_checkpoints.sh DEST
# Downloads the wheel once (pip download, no dependencies, ~43 MB) into
# ${EQUIPOT_CACHE:-~/.cache/equipot}/wheels and extracts, under DEST:
#   SevenNet_0__11Jul2024/checkpoint_sevennet_0.pth
#   SevenNet_0__22May2024/checkpoint_sevennet_0.pth
#   SevenNet_l3i5/checkpoint_l3i5.pth
#   SevenNet_MF_0/checkpoint_sevennet_mf_0.pth
# No weights are committed to the repository.
set -euo pipefail
DEST=${1:?usage: $0 DEST}
VERSION=0.13.0
CACHE=${EQUIPOT_CACHE:-$HOME/.cache/equipot}/wheels
PY=${PYTHON:-python3}
mkdir -p "$CACHE" "$DEST"
WHEEL=$(ls "$CACHE"/sevenn-$VERSION-*.whl 2>/dev/null | head -n1 || true)
if [ -z "$WHEEL" ]; then
    "$PY" -m pip download --quiet --no-deps --only-binary=:all: "sevenn==$VERSION" -d "$CACHE"
    WHEEL=$(ls "$CACHE"/sevenn-$VERSION-*.whl | head -n1)
fi
"$PY" - "$WHEEL" "$DEST" <<'PY'
import os, shutil, sys, zipfile
wheel, dest = sys.argv[1], sys.argv[2]
wanted = {
    'SevenNet_0__11Jul2024/checkpoint_sevennet_0.pth',
    'SevenNet_0__22May2024/checkpoint_sevennet_0.pth',
    'SevenNet_l3i5/checkpoint_l3i5.pth',
    'SevenNet_MF_0/checkpoint_sevennet_mf_0.pth',
}
prefix = 'sevenn/pretrained_potentials/'
with zipfile.ZipFile(wheel) as z:
    for rel in sorted(wanted):
        out = os.path.join(dest, rel)
        os.makedirs(os.path.dirname(out), exist_ok=True)
        with z.open(prefix + rel) as src, open(out + '.part', 'wb') as dst:
            shutil.copyfileobj(src, dst)
        os.replace(out + '.part', out)
        print(out)
PY
