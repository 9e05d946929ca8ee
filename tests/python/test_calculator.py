"""The ASE calculator over the C ABI, against ASE's own Lennard-Jones."""

import json

import numpy as np
import pytest
from ase.build import bulk, molecule
from ase.calculators.lj import LennardJones

from equipot._capi import EquipotError, Graph, Model, compute, compute_with_halo
from equipot.calculator import EquipotCalculator

SIGMA, EPSILON, CUTOFF = 3.4, 0.0104, 8.5


@pytest.fixture()
def lj_model(tmp_path):
    path = tmp_path / "ar.json"
    path.write_text(json.dumps({"equipot": {
        "format_version": "1.0", "architecture": "lennard-jones", "species": [18],
        "cutoff": CUTOFF, "epsilon": [[EPSILON]], "sigma": [[SIGMA]]}}))
    return str(path)


def structures():
    a = bulk("Ar", "fcc", a=5.3, cubic=True).repeat(2)
    a.rattle(0.1, seed=1)
    tri = bulk("Ar", "fcc", a=5.2).repeat((3, 2, 2))
    tri.rattle(0.05, seed=2)
    cluster = molecule("CH4")
    cluster.set_chemical_symbols(["Ar"] * 5)
    cluster.positions *= 3.0
    return [a, tri, cluster]


@pytest.mark.parametrize("atoms", structures())
def test_matches_ase_lennard_jones(lj_model, atoms):
    ref = atoms.copy()
    ref.calc = LennardJones(sigma=SIGMA, epsilon=EPSILON, rc=CUTOFF, smooth=False)
    atoms.calc = EquipotCalculator(lj_model, threads=2)
    assert atoms.get_potential_energy() == pytest.approx(ref.get_potential_energy(), rel=1e-10)
    np.testing.assert_allclose(atoms.get_forces(), ref.get_forces(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(atoms.get_potential_energies(), ref.get_potential_energies(),
                               rtol=1e-9, atol=1e-12)
    if atoms.pbc.all():
        np.testing.assert_allclose(atoms.get_stress(), ref.get_stress(), rtol=1e-9, atol=1e-12)


def test_float32_is_close(lj_model):
    atoms = structures()[0]
    atoms.calc = EquipotCalculator(lj_model, precision="float32")
    e32 = atoms.get_potential_energy()
    atoms.calc = EquipotCalculator(lj_model)
    assert e32 == pytest.approx(atoms.get_potential_energy(), rel=1e-5)


def test_bad_input_raises(lj_model, tmp_path):
    atoms = structures()[0]
    atoms.positions[0, 0] = np.nan
    atoms.calc = EquipotCalculator(lj_model)
    with pytest.raises(ValueError, match=r"positions holds a non-finite value \(NaN or inf\) at index \(0, 0\)"):
        atoms.get_potential_energy()
    wrong = bulk("Si")
    wrong.calc = EquipotCalculator(lj_model)
    with pytest.raises(EquipotError, match="does not know"):
        wrong.get_potential_energy()
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    with pytest.raises(EquipotError):
        EquipotCalculator(str(bad))


def test_halo_exchange_of_a_one_layer_model(lj_model):
    """Lennard-Jones never exchanges: halo width 0, the exchange is never
    called, and compute_with_halo gives compute's results."""
    model = Model(lj_model)
    assert model.n_layers == 1 and model.halo_width == 0
    atoms = structures()[1]
    graph = Graph(atoms.positions, atoms.numbers, atoms.cell.array, atoms.pbc, model.cutoff)
    calls = []
    got = compute_with_halo(model, graph, lambda *args: calls.append(args))
    expected = compute(model, graph)
    assert calls == []
    assert got["energy"] == expected["energy"] != 0
    for key in ("energies", "forces", "virial"):
        np.testing.assert_array_equal(got[key], expected[key])
