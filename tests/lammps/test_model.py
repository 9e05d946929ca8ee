"""Any model file, in real LAMMPS: single points equal the library's direct
evaluation (≤ 1e-8 relative, float64), and 1, 2 and 4 MPI ranks agree
(≤ 1e-8), on a cubic and a triclinic periodic crystal and on a slab, at
step 0 and after a short NVE run.

On one rank, every graph the pair style offers is checked against the
library's own evaluation of the same structure: `periodic` (the library's
graph), `exchange` (LAMMPS's list of local atoms, ghost features exchanged
layer by layer) and, with --shell, `shell` (LAMMPS's list over local and
ghost atoms with a ghost shell of layers × cutoff + skin: slow for deep
models on small boxes, as most of the shell's atoms are images). On 2 and 4
ranks the default graph (`exchange` for every model) must reproduce the
serial run; with 4 ranks stacked along z the slab leaves two subdomains
without atoms.

Default: the Lennard-Jones argon model on 108 atoms (a box smaller than twice
the cutoff). The issue's SevenNet-0 checks (scripts/ci/50-lammps.sh):

  python tests/lammps/test_model.py --model SevenNet_0__11Jul2024.eqp.safetensors \\
      --elements Si --masses 28.0855 --lattice diamond 5.43 --cells 4 4 4
"""

import argparse
import tempfile
from pathlib import Path

from common import ARGON, Checks, Equipot, as_stored, box, new_lammps, run_ranks

TOL = 1e-8
KEYS = ("energy", "forces", "virial", "atom_energies", "atom_virials")
SKIN = 1.0  # run_case.py's neighbor skin
VACUUM = 3  # lattice units above and below the slab

# name → (tilt in lattice units, boundary, processor grid)
STRUCTURES = {
    "cubic": ((0, 0, 0), "p p p", "* * *"),
    "triclinic": ((1, 1, 0), "p p p", "* * *"),
    "slab": (None, "p p f", "1 1 *"),
}


def write_crystal(path, args, tilt, boundary):
    nx, ny, nz = args.cells
    lmp = new_lammps()
    lmp.commands_string(f"""
        units metal
        atom_style atomic
        boundary {boundary}
        lattice {args.lattice[0]} {args.lattice[1]}
    """)
    if tilt is None:  # a slab: nz cells of crystal in vacuum
        lmp.command(f"region box block 0 {nx} 0 {ny} {-VACUUM} {nz + VACUUM}")
        lmp.command(f"create_box {len(args.elements)} box")
        lmp.command(f"region crystal block 0 {nx} 0 {ny} 0 {nz - 0.01}")
        lmp.command("create_atoms 1 region crystal")
    else:
        lmp.command(f"region box prism 0 {nx} 0 {ny} 0 {nz} {tilt[0]} {tilt[1]} {tilt[2]}")
        lmp.command(f"create_box {len(args.elements)} box")
        lmp.command("create_atoms 1 box")
    lmp.command("displace_atoms all random 0.1 0.1 0.1 31 units box")
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
    parser.add_argument("--structures", nargs="+", default=list(STRUCTURES), choices=list(STRUCTURES))
    parser.add_argument("--steps", type=int, default=25, help="NVE steps before the second comparison")
    parser.add_argument("--shell", action="store_true", help="also check graph shell on one rank")
    parser.add_argument("--modal", help="fidelity head of a multi-fidelity model (pair_style ... modal NAME)")
    parser.add_argument("--other-modal", help="a modal whose numbers must differ from --modal's (default: the "
                                              "model's default modal; needed for a model without one)")
    parser.add_argument("--one-rank", action="store_true",
                        help="only graph periodic on one rank (models without a halo exchange)")
    args = parser.parse_args()

    library = Equipot()
    cutoff, layers = library.receptive_field(args.model, args.modal)
    shell_cutoff = layers * cutoff + SKIN
    print(f"  model {args.model}{f' (modal {args.modal})' if args.modal else ''}: cutoff {cutoff} A, {layers} layer(s)")
    z_of = {}
    checks = Checks("model in LAMMPS")
    with tempfile.TemporaryDirectory() as folder:
        for name in args.structures:
            tilt, boundary, processors = STRUCTURES[name]
            data = Path(folder) / f"{name}.data"
            cell, pbc = write_crystal(data, args, tilt, boundary)

            def run(ranks, graph):
                style_args = f"graph {graph}" + (f" modal {args.modal}" if args.modal else "")
                options = dict(boundary=boundary, processors=processors, steps=args.steps, style_args=style_args)
                if graph == "shell":
                    options["comm_cutoff"] = shell_cutoff
                return run_ranks(ranks, data, Path(folder) / f"{name}-{ranks}-{graph}", args.model,
                                 " ".join(args.elements), **options)

            serial, _ = run(1, "periodic")
            numbers = [element_number(args.elements[t - 1], z_of) for t in serial["start_types"]]
            direct = library.evaluate(args.model, serial["start_positions"], numbers, cell, pbc, modal=args.modal)
            if args.modal:  # the modal must matter, or the comparison proves nothing about it
                default = library.evaluate(args.model, serial["start_positions"], numbers, cell, pbc,
                                           modal=args.other_modal)
                checks.check(f"{name}: modal {args.modal} differs from modal {args.other_modal or '(default)'}",
                             abs(default["energy"] - direct["energy"]) > 1e-3,
                             f"{direct['energy']:.6f} vs {default['energy']:.6f} eV")
            graphs = [("periodic", serial)]
            if not args.one_rank:
                graphs.append(("exchange", run(1, "exchange")[0]))
            if args.shell:
                graphs.append(("shell", run(1, "shell")[0]))
            for graph, result in graphs:
                for key in KEYS:
                    expected = as_stored(direct[key]) if "virial" in key else direct[key]
                    checks.close(f"{name} ({len(numbers)} atoms), 1 rank, graph {graph} vs library: {key}",
                                 result[f"start_{key}"], expected, TOL)
                if graph != "periodic":
                    for key in KEYS:
                        checks.close(f"{name}, 1 rank, graph {graph} vs periodic after {args.steps} steps: {key}",
                                     result[f"moved_{key}"], serial[f"moved_{key}"], TOL)
            for ranks in () if args.one_rank else (2, 4):
                parallel, nlocal = run(ranks, "auto")
                print(f"  {name}, {ranks} ranks: atoms per rank {nlocal}")
                if name == "slab" and ranks == 4:
                    checks.check("slab, 4 ranks: some subdomain holds no atoms", 0 in nlocal, str(nlocal))
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
