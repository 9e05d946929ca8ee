"""EquipotCalculator against sevenn's own SevenNetCalculator, live.

Not run in CI (it needs torch and sevenn; CI checks the same through the
committed parity fixtures in test_sevennet.py). Run it where both are
importable, e.g. with the reference environment:

    EQUIPOT_SEVENN_MODELS=DIR PYTHONPATH=bindings/python /work/venv-ref/bin/python \
        tests/python/compare_sevenn_live.py

For every checkpoint in the sevenn wheel (and both heads of SevenNet-MF-0) and
a few structures built here, it prints the largest differences in energy per
atom, forces, stress and per-atom energies between sevenn (float32, its
standard calculator) and equipot in float32 and float64, and exits non-zero if
equipot float32 misses the issue's float32 tolerances (1e-5 eV/atom, 1e-4
eV/Å). It also shows that inversion changes SevenNet's energy — in sevenn and
in equipot alike (the models are SO(3)-, not O(3)-equivariant).
"""

import os
import pathlib
import sys
import warnings

import numpy as np
from ase import Atoms
from ase.build import bulk, molecule

warnings.filterwarnings("ignore")
import sevenn._const as C  # noqa: E402
from sevenn.calculator import SevenNetCalculator  # noqa: E402

from equipot.calculator import EquipotCalculator  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2]
MODELS_DIR = pathlib.Path(os.environ.get("EQUIPOT_SEVENN_MODELS", ROOT / "target" / "sevenn" / "models"))
CHECKPOINTS = {
    "SevenNet_0__11Jul2024": (C.SEVENNET_0_11Jul2024, [None]),
    "SevenNet_0__22May2024": (C.SEVENNET_0_22May2024, [None]),
    "SevenNet_l3i5": (C.SEVENNET_l3i5, [None]),
    "SevenNet_MF_0": (C.SEVENNET_MF_0, ["PBE", "R2SCAN"]),
}
TOL_E32, TOL_F32 = 1e-5, 1e-4


def structures():
    rng = np.random.default_rng(11)
    si = bulk("Si", "diamond", a=5.43, cubic=True)
    si.rattle(0.08, rng=rng)
    mgo = bulk("MgO", "rocksalt", a=4.21).repeat((2, 2, 1))
    mgo.set_cell(mgo.cell.array + rng.normal(0, 0.1, (3, 3)), scale_atoms=True)
    mgo.rattle(0.05, rng=rng)
    # A chiral molecule (no mirror symmetry): inversion changes its energy.
    chiral = molecule("CH4")
    chiral.set_chemical_symbols(["C", "H", "F", "Cl", "O"])
    chiral.positions *= np.array([1.0, 1.1, 1.25])
    chiral.rattle(0.05, rng=rng)
    return {"si_rattled": si, "mgo_triclinic": mgo, "chiral_molecule": chiral}


def results(atoms, calc):
    atoms = atoms.copy()
    atoms.calc = calc
    out = {"energy": atoms.get_potential_energy(), "forces": atoms.get_forces(),
           "energies": atoms.get_potential_energies()}
    if atoms.pbc.all():
        out["stress"] = atoms.get_stress()
    return out


def differences(a, b, n):
    d = {"dE/atom": abs(a["energy"] - b["energy"]) / n,
         "dF": np.abs(a["forces"] - b["forces"]).max(),
         "dE_i": np.abs(a["energies"] - b["energies"]).max()}
    if "stress" in a:
        d["dsigma"] = np.abs(a["stress"] - b["stress"]).max()
    return d


def main():
    failures = 0
    cases = structures()
    for name, (checkpoint, modals) in CHECKPOINTS.items():
        for modal in modals:
            sevenn = SevenNetCalculator(checkpoint, modal=modal, device="cpu")
            path = str(MODELS_DIR / f"{name}.eqp.safetensors")
            ours = {p: EquipotCalculator(path, precision=p, modal=modal, threads=2) for p in ("float32", "float64")}
            for sname, atoms in cases.items():
                ref = results(atoms, sevenn)
                for precision, calc in ours.items():
                    d = differences(results(atoms, calc), ref, len(atoms))
                    text = "  ".join(f"{k} {v:.1e}" for k, v in d.items())
                    print(f"{name:22s} {str(modal):7s} {sname:16s} {precision}: {text}")
                    if precision == "float32" and (d["dE/atom"] > TOL_E32 or d["dF"] > TOL_F32):
                        failures += 1
                        print("  ^ outside the float32 tolerances")
            inverted = cases["chiral_molecule"].copy()
            inverted.positions *= -1
            e_ref = [results(a, sevenn)["energy"] for a in (cases["chiral_molecule"], inverted)]
            e_ours = [results(a, ours["float64"])["energy"] for a in (cases["chiral_molecule"], inverted)]
            print(f"{name:22s} {str(modal):7s} inversion: sevenn E(-r)-E(r) = {e_ref[1] - e_ref[0]:+.6f} eV, "
                  f"equipot {e_ours[1] - e_ours[0]:+.6f} eV")
    print("all within the float32 tolerances" if failures == 0 else f"{failures} cases outside the tolerances")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
