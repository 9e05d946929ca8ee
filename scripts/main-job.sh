#!/usr/bin/env bash
# The main job. Until SevenNet-0 lands end to end, it builds and installs the
# library with CMake and runs the C example (Lennard-Jones through the C ABI,
# checked against an independent computation).
set -euo pipefail
cd "$(dirname "$0")/.."
exec bash examples/run-c-example.sh
