"""Any model file, in real LAMMPS: single points equal the library's direct
evaluation (≤ 1e-8 relative, float64), and 1, 2 and 4 MPI ranks agree
(≤ 1e-8), on a cubic and a triclinic periodic crystal, at step 0 and after a
short NVE run. On one rank both graphs are checked (LAMMPS's neighbor list
with ghost atoms, and the library's own periodic graph); on 2 and 4 ranks the
graph comes from LAMMPS's list with a ghost shell set from the model
(comm_modify cutoff = layers × cutoff + skin), so message-passing models run
as they must.

Default: the Lennard-Jones argon model on 108 atoms (a box smaller than twice
the cutoff). The issue's SevenNet-0 checks are this script with other
arguments, once a converted model exists:

  python tests/lammps/test_model.py --model sevennet-0.eqp.safetensors \\
      --elements Si --masses 28.0855 --lattice diamond 5.43 --cells 2 2 2
"""

import argparse
import tempfile
from pathlib import Path

from common import ARGON, Checks, Equipot, as_stored, box, new_lammps, run_ranks

TOL = 1e-8
KEYS = ("energy", "forces", "virial", "atom_energies", "atom_virials")
SKIN = 1.0  # run_case.py's neighbor skin


def write_crystal(path, args, tilt):
    nx, ny, nz = args.cells
    lmp = new_lammps()
    lmp.commands_string(f"""
        units metal
        atom_style atomic
        lattice {args.lattice[0]} {args.lattice[1]}
        region box prism 0 {nx} 0 {ny} 0 {nz} {tilt[0]} {tilt[1]} {tilt[2]}
        create_box {len(args.elements)} box
        create_atoms 1 box
        displace_atoms all random 0.1 0.1 0.1 31 units box
    """)
    for t in range(2, len(args.elements) + 1):
        lmp.command(f"set type 1 type/fraction {t} {1 / len(args.elements)} {100 + t}")
    for t, mass in enumerate(args.masses, 1):
        lmp.command(f"mass {t} {mass}")
    lmp.command(f"write_data {path}")
    cell, pbc = box(lmp)
    lmp.close()
    return cell, pbc


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=str(ARGON))
    parser.add_argument("--elements", nargs="+", default=["Ar"])
    parser.add_argument("--masses", nargs="+", type=float, default=[39.948])
    parser.add_argument("--lattice", nargs=2, default=["fcc", "5.26"])
    parser.add_argument("--cells", nargs=3, type=int, default=[3, 3, 3])
    args = parser.parse_args()

    library = Equipot()
    cutoff, layers = library.receptive_field(args.model)
    comm_cutoff = layers * cutoff + SKIN
    print(f"  model {args.model}: cutoff {cutoff} A, {layers} layer(s) -> comm_modify cutoff {comm_cutoff}")
    z_of = {}
    checks = Checks("model in LAMMPS")
    with tempfile.TemporaryDirectory() as folder:
        for name, tilt in (("cubic", (0, 0, 0)), ("triclinic", (1, 1, 0))):
            data = Path(folder) / f"{name}.data"
            cell, pbc = write_crystal(data, args, tilt)
            run = lambda ranks, graph="auto": run_ranks(
                ranks, data, Path(folder) / f"{name}-{ranks}-{graph}", args.model, " ".join(args.elements),
                comm_cutoff=comm_cutoff, style_args=f"graph {graph}")
            serial, _ = run(1, "periodic")
            numbers = [element_number(args.elements[t - 1], z_of) for t in serial["start_types"]]
            direct = library.evaluate(args.model, serial["start_positions"], numbers, cell, pbc)
            for graph, result in (("periodic", serial), ("lammps", run(1, "lammps")[0])):
                for key in KEYS:
                    expected = as_stored(direct[key]) if "virial" in key else direct[key]
                    checks.close(f"{name} ({len(numbers)} atoms), 1 rank, graph {graph} vs library: {key}",
                                 result[f"start_{key}"], expected, TOL)
            for ranks in (2, 4):
                parallel, nlocal = run(ranks)
                for when in ("start", "moved"):
                    for key in KEYS:
                        checks.close(f"{name}, {ranks} ranks ({nlocal} atoms) vs 1 (graph periodic), {when}: {key}",
                                     parallel[f"{when}_{key}"], serial[f"{when}_{key}"], TOL)
    checks.finish()


def element_number(symbol, cache):
    """Atomic number of an element symbol, from ASE's table."""
    if symbol not in cache:
        from ase.data import atomic_numbers
        cache[symbol] = atomic_numbers[symbol]
    return cache[symbol]


if __name__ == "__main__":
    main()
