"""`pair_style equipot radial auto|exact|tables` in real LAMMPS, on 1 and 2
MPI ranks, with a MACE model whose radial tables are per pair of species
(the Agnesi fixture tests/fixtures/mace/models/mpa_agnesi: H, C, O, Si; a
32-atom Si/C/O crystal, so several pairs): in float32

  - `radial exact` and `radial tables` both agree with the float64 run
    (energy ≤ 1e-5 eV/atom, forces ≤ 1e-4 eV/Å: float32 parity), and differ
    from each other (the keyword reaches the library: tables and exact
    networks round differently);
  - the default (`radial auto`) is the tables, bit for bit;
  - 2 ranks (graph auto, the halo exchange) give the 1-rank numbers of the
    same keyword (≤ 1e-6 relative: float32 sums in another order).

usage: python tests/lammps/test_radial.py
"""

import tempfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from common import ROOT, Checks, run_ranks_cases
from test_model import write_crystal

MODEL = ROOT / "tests/fixtures/mace/models/mpa_agnesi.eqp.safetensors"
ELEMENTS = ["Si", "C", "O"]
CRYSTAL = SimpleNamespace(cells=[2, 2, 1], lattice=["diamond", "4.6"], elements=ELEMENTS,
                          masses=[28.0855, 12.011, 15.999])
STYLES = {
    "float64": "precision float64",
    "auto": "precision float32",
    "exact": "precision float32 radial exact",
    "tables": "precision float32 radial tables",
}


def main():
    checks = Checks("radial keyword in LAMMPS")
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder) / "crystal.data"
        write_crystal(data, CRYSTAL, (1, 1, 0), "p p p")
        cases = [dict(model=MODEL, elements=" ".join(ELEMENTS), style_args=f"graph periodic {s}") for s in STYLES.values()]
        serial = dict(zip(STYLES, (r for r, _ in run_ranks_cases(1, data, Path(folder) / "serial", cases, steps=1))))
        n = len(serial["float64"]["start_forces"])
        reference = serial["float64"]
        for name in ("exact", "tables"):
            run = serial[name]
            de = abs(run["start_energy"] - reference["start_energy"]) / n
            df = np.max(np.abs(run["start_forces"] - reference["start_forces"]))
            checks.check(f"float32 radial {name} vs float64: energy", de <= 1e-5, f"{de:.2e} eV/atom")
            checks.check(f"float32 radial {name} vs float64: forces", df <= 1e-4, f"{df:.2e} eV/Å")
        differ = np.max(np.abs(serial["exact"]["start_forces"] - serial["tables"]["start_forces"]))
        checks.check("radial exact and radial tables differ (the keyword is applied)", differ > 0, f"{differ:.2e} eV/Å")
        same = all(np.array_equal(serial["auto"][k], serial["tables"][k]) for k in ("start_energy", "start_forces"))
        checks.check("the default is the tables, bit for bit", same, "")
        parallel_cases = [dict(model=MODEL, elements=" ".join(ELEMENTS), style_args=f"graph auto {STYLES[k]}")
                          for k in ("exact", "tables")]
        parallel = run_ranks_cases(2, data, Path(folder) / "parallel", parallel_cases, steps=1)
        for name, (two, nlocal) in zip(("exact", "tables"), parallel):
            for key in ("start_energy", "start_forces", "start_virial"):
                checks.close(f"radial {name}, 2 ranks ({nlocal} atoms) vs 1: {key}", two[key], serial[name][key], 1e-6)
    checks.finish()


if __name__ == "__main__":
    main()
