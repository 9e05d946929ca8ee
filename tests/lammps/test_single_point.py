"""Single points in real LAMMPS, serial: pair_style equipot against the
library called directly (its own graph builder, through the C ABI) and
against LAMMPS's own lj/cut with shifted energies.

Structures: an orthogonal periodic crystal (512 atoms), a triclinic box, a
slab, boxes smaller than twice the cutoff and than the cutoff, delete_atoms
leaving non-consecutive IDs, and three LAMMPS types mapped onto two elements;
each with the graph from LAMMPS's neighbor list and, serially, with the
library's own periodic graph (graph periodic).
"""

import numpy as np

from common import ARGON_KRYPTON, Checks, Equipot, box, evaluate, fcc, new_lammps, as_stored, use_equipot, use_lj_cut

TOL = 1e-8  # float64: LAMMPS's ghost images vs the library's periodic shifts
Z = {"Ar": 18, "Kr": 36}

CASES = {
    "orthogonal 512 atoms": dict(cells=(8, 4, 4)),
    "triclinic": dict(cells=(4, 4, 4), tilt=(1.5, 0.7, -0.9)),
    "slab (p p f)": dict(cells=(4, 4, 3), boundary="p p f", vacuum=10.0),
    "box < 2 cutoffs (10.5 A)": dict(cells=(2, 2, 2)),
    "box < 1 cutoff (5.3 A)": dict(cells=(1, 1, 1)),
    "triclinic box < 2 cutoffs": dict(cells=(2, 2, 2), tilt=(0.6, -0.4, 0.3)),
}


def direct(library, state, elements, **kwargs):
    cell, pbc = state["cell"], state["pbc"]
    numbers = [Z[elements[t - 1]] for t in state["types"]]
    return library.evaluate(ARGON_KRYPTON, state["positions"], numbers, cell, pbc, **kwargs)


def run_equipot(setup, elements=("Ar", "Kr"), style_args="", extra=""):
    lmp = new_lammps()
    fcc(lmp, **setup)
    if extra:
        lmp.commands_string(extra)
    use_equipot(lmp, elements=" ".join(elements), style_args=style_args)
    state = evaluate(lmp)
    state["cell"], state["pbc"] = box(lmp)
    lmp.close()
    return state


def compare(checks, name, lammps_state, reference, what=("energy", "forces", "virial", "atom_energies", "atom_virials")):
    for key in what:
        expected = reference[key]
        if key in ("virial", "atom_virials"):
            expected = as_stored(expected)  # LAMMPS keeps 6 components
        checks.close(f"{name}: {key}", lammps_state[key], expected, TOL)


def main():
    library = Equipot()
    checks = Checks("single points")

    for name, setup in CASES.items():
        state = run_equipot(setup)
        checks.check(f"{name}: has atoms and non-zero forces", len(state["ids"]) > 0 and np.abs(state["forces"]).max() > 1e-3,
                     f"{len(state['ids'])} atoms")
        compare(checks, f"{name} vs library", state, direct(library, state, ("Ar", "Kr")))
        # The library's own periodic graph instead of LAMMPS's neighbor list.
        own = run_equipot(setup, style_args="graph periodic")
        compare(checks, f"{name}, graph periodic vs library", own, direct(library, own, ("Ar", "Kr")))

    # delete_atoms without renumbering: IDs with holes.
    holes = run_equipot(CASES["orthogonal 512 atoms"],
                        extra="delete_atoms random count 37 no all NULL 99 compress no")
    ids = holes["ids"]
    checks.check("delete_atoms: IDs are not consecutive", len(ids) == 512 - 37 and ids[-1] > len(ids),
                 f"{len(ids)} atoms, largest ID {ids[-1]}")
    compare(checks, "delete_atoms vs library", holes, direct(library, holes, ("Ar", "Kr")))

    # Three LAMMPS types, two of them argon.
    three = run_equipot(dict(CASES["orthogonal 512 atoms"], ntypes=3), elements=("Ar", "Kr", "Ar"))
    checks.check("three types: all are used", set(three["types"]) == {1, 2, 3}, str(sorted(set(three["types"]))))
    compare(checks, "types 1 2 3 -> Ar Kr Ar vs library", three, direct(library, three, ("Ar", "Kr", "Ar")))

    # LAMMPS's own lj/cut, energy shifted to zero at the cutoff.
    for name in ("orthogonal 512 atoms", "triclinic", "slab (p p f)"):
        ours = run_equipot(CASES[name])
        lmp = new_lammps()
        fcc(lmp, **CASES[name])
        use_lj_cut(lmp)
        theirs = evaluate(lmp)
        lmp.close()
        compare(checks, f"{name} vs lj/cut shift yes", ours, theirs)

    # Threads give the same numbers; float32 agrees to float32 accuracy.
    base = run_equipot(CASES["orthogonal 512 atoms"])
    threaded = run_equipot(CASES["orthogonal 512 atoms"], style_args="threads 2")
    compare(checks, "threads 2 vs threads 1", threaded, base)
    single = run_equipot(CASES["orthogonal 512 atoms"], style_args="precision float32")
    reference32 = direct(library, single, ("Ar", "Kr"), precision=1)
    compare(checks, "float32 vs library float32", single, reference32)
    for key in ("energy", "forces", "virial"):
        checks.close(f"float32 vs float64: {key}", single[key], base[key], 1e-5)

    checks.finish()


if __name__ == "__main__":
    main()
