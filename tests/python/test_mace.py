"""The ASE calculator over the C ABI with equipot's MACE fixture models, against
mace-torch's own results (tests/fixtures/mace/parity, float64); a multi-head
model's head is the calculator's `modal`."""

import json
from pathlib import Path

import numpy as np
import pytest
from ase import Atoms

from equipot._capi import EquipotError
from equipot.calculator import EquipotCalculator

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "mace"
CASES = sorted((FIXTURES / "parity").glob("*.json"))


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_matches_mace_torch(path):
    fx = json.loads(path.read_text())
    s, ref = fx["structure"], fx["float64"]
    atoms = Atoms(s["numbers"], positions=s["positions"], cell=s["cell"], pbc=s["pbc"])
    model = str(FIXTURES / "models" / f"{fx['model']}.eqp.safetensors")
    atoms.calc = EquipotCalculator(model, threads=2, modal=fx.get("head"))
    n = len(atoms)
    assert abs(atoms.get_potential_energy() - ref["energy"]) / n < 1e-8
    np.testing.assert_allclose(atoms.get_potential_energies(), ref["atom_energies"], rtol=0, atol=1e-8)
    np.testing.assert_allclose(atoms.get_forces(), ref["forces"], rtol=0, atol=1e-7)
    if "stress" in ref:
        np.testing.assert_allclose(atoms.get_stress(), ref["stress"], rtol=0, atol=1e-8)


def test_heads_are_modals():
    """The head named "Default" is the default; without one a head must be named; an unknown
    head is an error listing the heads."""
    three = str(FIXTURES / "models" / "mh_residual.eqp.safetensors")
    atoms = Atoms("CO", positions=[[0, 0, 0], [0.4, 0.3, 1.1]])
    energy = lambda **kw: EquipotCalculator(three, **kw).get_potential_energy(atoms.copy())  # noqa: E731
    assert energy() == energy(modal="Default") != energy(modal="r2scan")
    with pytest.raises(EquipotError, match=r'unknown modal "PBE": this model has \["pbe_mp", "r2scan", "Default"\]'):
        EquipotCalculator(three, modal="PBE")
    with pytest.raises(EquipotError, match=r'needs a modal, one of \["omat", "spice"\]'):
        EquipotCalculator(str(FIXTURES / "models" / "mh_density_f32.eqp.safetensors"))
