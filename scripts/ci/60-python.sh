#!/usr/bin/env bash
# Python package: ctypes binding and ASE calculator, against ASE's own calculators.
set -euo pipefail
cargo build --release --lib
pip install -q ./bindings/python 2>/dev/null || true
PYTHONPATH=bindings/python python -m pytest -q tests/python
