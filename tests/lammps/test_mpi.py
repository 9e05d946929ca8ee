"""1, 2 and 4 MPI ranks give the same energies, forces and virials (≤ 1e-8
relative) on a 512-atom periodic cell and on a slab, at a single point and
after 25 NVE steps; with 4 ranks the slab leaves two subdomains empty."""

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from common import Checks

HERE = Path(__file__).resolve().parent
TOL = 1e-8
KEYS = ("energy", "forces", "virial", "atom_energies", "atom_virials")


def run(case, ranks, folder):
    data = Path(folder) / f"{case}.data"
    if not data.exists():
        subprocess.run([sys.executable, str(HERE / "mpi_case.py"), "--write", case, str(data)], check=True)
    out = Path(folder) / f"{case}-{ranks}"
    out.mkdir()
    command = ["mpirun", "-np", str(ranks), sys.executable, str(HERE / "mpi_case.py"), case, str(data), str(out)]
    done = subprocess.run(command, cwd=HERE, capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    nlocal = [int((out / f"nlocal.{r}").read_text()) for r in range(ranks)]
    return dict(np.load(out / "result.npz")), nlocal


def main():
    checks = Checks("MPI")
    with tempfile.TemporaryDirectory() as folder:
        for case in ("periodic", "slab"):
            serial, _ = run(case, 1, folder)
            checks.check(f"{case}: 512 atoms", len(serial["start_ids"]) == 512, str(len(serial["start_ids"])))
            for ranks in (2, 4):
                parallel, nlocal = run(case, ranks, folder)
                print(f"  {case}, {ranks} ranks: atoms per rank {nlocal}")
                if case == "slab" and ranks == 4:
                    checks.check("slab, 4 ranks: some subdomain holds no atoms", 0 in nlocal, str(nlocal))
                for when in ("start", "moved"):
                    same_ids = np.array_equal(parallel[f"{when}_ids"], serial[f"{when}_ids"])
                    checks.check(f"{case} {ranks} ranks, {when}: same atoms", same_ids)
                    for key in KEYS:
                        checks.close(f"{case} {ranks} ranks vs 1, {when}: {key}",
                                     parallel[f"{when}_{key}"], serial[f"{when}_{key}"], TOL)
    checks.finish()


if __name__ == "__main__":
    main()
