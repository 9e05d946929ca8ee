"""The ASE calculator over the C ABI with equipot's MACE fixture models, against
mace-torch's own results (tests/fixtures/mace/parity, float64)."""

import json
from pathlib import Path

import numpy as np
import pytest
from ase import Atoms

from equipot.calculator import EquipotCalculator

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "mace"
CASES = sorted((FIXTURES / "parity").glob("*.json"))


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_matches_mace_torch(path):
    fx = json.loads(path.read_text())
    s, ref = fx["structure"], fx["float64"]
    atoms = Atoms(s["numbers"], positions=s["positions"], cell=s["cell"], pbc=s["pbc"])
    atoms.calc = EquipotCalculator(str(FIXTURES / "models" / f"{fx['model']}.eqp.safetensors"), threads=2)
    n = len(atoms)
    assert abs(atoms.get_potential_energy() - ref["energy"]) / n < 1e-8
    np.testing.assert_allclose(atoms.get_potential_energies(), ref["atom_energies"], rtol=0, atol=1e-8)
    np.testing.assert_allclose(atoms.get_forces(), ref["forces"], rtol=0, atol=1e-7)
    if "stress" in ref:
        np.testing.assert_allclose(atoms.get_stress(), ref["stress"], rtol=0, atol=1e-8)
