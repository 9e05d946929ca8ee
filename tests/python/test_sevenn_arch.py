"""EquipotCalculator (through the C ABI) on the newer SevenNet architectures
(7net-mf-ompa, 7net-omat, 7net-omni) against sevenn 0.13 itself.

The models are the committed random-weight ones (tests/fixtures/sevenn/arch,
made by tests/fixtures/sevenn/generate_arch.py with sevenn's own builder and
converted by equipot's converter); the references are sevenn's float64
results (float32 is judged against them too, with the float32 tolerances).
"""

import json
import pathlib

import numpy as np
import pytest
from ase import Atoms

from equipot._capi import EquipotError
from equipot.calculator import EquipotCalculator

ARCH = pathlib.Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "sevenn" / "arch"
TOLERANCES = {"float64": (1e-8, 1e-7, 1e-8), "float32": (1e-5, 1e-4, 1e-5)}
CASES = [
    ("mf_ompa", "oxide_srtio3", "mpa"),
    ("mf_ompa", "si_rattled", "omat24"),
    ("omat", "triclinic_sic", None),
    ("omni", "molecule_ch4", "omol25_low"),
    ("omni", "slab_pt111", "mpa"),
]


def model_path(arch):
    return str(ARCH / "models" / f"{arch}.eqp.safetensors")


def fixture(arch, structure, modal):
    name = f"{arch}__{structure}" + (f"__{modal}" if modal else "") + ".json"
    f = json.loads((ARCH / "parity" / name).read_text())
    s = f["structure"]
    atoms = Atoms(numbers=s["numbers"], positions=s["positions"], cell=s["cell"] if any(s["pbc"]) else None,
                  pbc=s["pbc"])
    return atoms, f["float64"]


@pytest.mark.parametrize("precision", ["float64", "float32"])
@pytest.mark.parametrize("arch,structure,modal", CASES)
def test_matches_sevenn(arch, structure, modal, precision):
    atoms, reference = fixture(arch, structure, modal)
    atoms.calc = EquipotCalculator(model_path(arch), precision=precision, modal=modal, threads=2)
    tol_e, tol_f, tol_s = TOLERANCES[precision]
    assert abs(atoms.get_potential_energy() - reference["energy"]) / len(atoms) <= tol_e
    np.testing.assert_allclose(atoms.get_forces(), reference["forces"], rtol=0, atol=tol_f)
    np.testing.assert_allclose(atoms.get_potential_energies(), reference["atom_energies"], rtol=0, atol=10 * tol_e)
    if "stress" in reference:
        np.testing.assert_allclose(atoms.get_stress(), reference["stress"], rtol=0, atol=tol_s)


def test_modals():
    atoms, reference = fixture("mf_ompa", "si_rattled", "mpa")
    atoms.calc = EquipotCalculator(model_path("mf_ompa"))  # the file's default: mpa
    assert abs(atoms.get_potential_energy() - reference["energy"]) / len(atoms) <= 1e-8
    with pytest.raises(EquipotError, match="omat24"):
        EquipotCalculator(model_path("omni"), modal="PBE").get_potential_energy(atoms)
    with pytest.raises(EquipotError, match="has none"):
        EquipotCalculator(model_path("omat"), modal="mpa").get_potential_energy(atoms)
