"""1, 2 and 4 MPI ranks give the same energies, forces and virials (≤ 1e-8
relative) on a 512-atom periodic cell and on a slab, at a single point and
after 25 NVE steps; with 4 ranks the slab leaves two subdomains empty."""

import tempfile
from pathlib import Path

import numpy as np

from common import ARGON_KRYPTON, Checks, fcc, new_lammps, run_ranks

TOL = 1e-8
KEYS = ("energy", "forces", "virial", "atom_energies", "atom_virials")

CASES = {
    "periodic": dict(setup=dict(cells=(8, 4, 4)), boundary="p p p", processors="* * *"),
    # Vacuum above and below, ranks stacked along z: with 4 ranks the top
    # and bottom subdomains hold no atoms.
    "slab": dict(setup=dict(cells=(8, 4, 4), boundary="p p f", vacuum=20.0), boundary="p p f", processors="1 1 *"),
}


def compare_runs(checks, name, serial, parallel):
    for when in ("start", "moved"):
        same_ids = np.array_equal(parallel[f"{when}_ids"], serial[f"{when}_ids"])
        checks.check(f"{name}, {when}: same atoms", same_ids, f"{len(serial[f'{when}_ids'])} atoms")
        for key in KEYS:
            checks.close(f"{name}, {when}: {key}", parallel[f"{when}_{key}"], serial[f"{when}_{key}"], TOL)


def main():
    checks = Checks("MPI")
    with tempfile.TemporaryDirectory() as folder:
        for case, spec in CASES.items():
            data = Path(folder) / f"{case}.data"
            lmp = new_lammps()
            fcc(lmp, **spec["setup"])
            lmp.command(f"write_data {data}")
            lmp.close()
            options = dict(boundary=spec["boundary"], processors=spec["processors"])
            run = lambda ranks: run_ranks(ranks, data, Path(folder) / f"{case}-{ranks}", ARGON_KRYPTON, "Ar Kr",
                                          **options)
            serial, _ = run(1)
            checks.check(f"{case}: 512 atoms", len(serial["start_ids"]) == 512, str(len(serial["start_ids"])))
            for ranks in (2, 4):
                parallel, nlocal = run(ranks)
                print(f"  {case}, {ranks} ranks: atoms per rank {nlocal}")
                if case == "slab" and ranks == 4:
                    checks.check("slab, 4 ranks: some subdomain holds no atoms", 0 in nlocal, str(nlocal))
                compare_runs(checks, f"{case} {ranks} ranks vs 1", serial, parallel)
    checks.finish()


if __name__ == "__main__":
    main()
