#!/usr/bin/env bash
# The test command: installs what the tests need on a fresh Debian machine
# (apt, pip, crates) and runs every test suite. CI runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
export EQUIPOT_ROOT=$PWD

echo "== installing system packages"
if command -v apt-get >/dev/null; then
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO=sudo
    $SUDO apt-get update -qq
    $SUDO apt-get install -y -qq gfortran g++ cmake valgrind pkg-config >/dev/null
fi

echo "== installing Python packages (test venv: .venv-test)"
python3 -m venv .venv-test
. .venv-test/bin/activate
pip install -q --upgrade pip
pip install -q -r scripts/requirements-test.txt

# Every suite, in order (scripts/ci/NN-name.sh): model conversion from the
# real SevenNet checkpoints, cargo tests (incl. parity and header drift), C,
# C++, Fortran, CMake install, valgrind, LAMMPS, Python.
for suite in scripts/ci/*.sh; do
    [ -e "$suite" ] || continue
    echo "== $suite"
    bash "$suite"
done
echo "== all tests passed"
