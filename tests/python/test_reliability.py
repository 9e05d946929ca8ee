"""What the library refuses or ignores, seen from Python: edges past the
model's cutoff change nothing, atoms closer than 0.5 Å and non-finite
results are errors (EQP_ERROR_INVALID_ARGUMENT, EQP_ERROR_NON_FINITE), never
numbers."""

import json

import numpy as np
import pytest
from ase.build import bulk

from equipot._capi import EquipotError, Graph, Model, Workspace, compute
from test_sevennet import model_path

NON_FINITE, INVALID = 10, 1


@pytest.fixture()
def argon(tmp_path):
    path = tmp_path / "ar.json"
    path.write_text(json.dumps({"equipot": {
        "format_version": "1.0", "architecture": "lennard-jones", "species": [18],
        "cutoff": 8.5, "epsilon": [[0.0104]], "sigma": [[3.4]]}}))
    return Model(str(path))


def graph(atoms, cutoff, ws=None):
    return Graph(atoms.positions, atoms.numbers, np.asarray(atoms.cell), atoms.pbc, cutoff, ws)


@pytest.mark.parametrize("precision, tol", [("float64", 1e-12), ("float32", 1e-6)])
@pytest.mark.parametrize("name", ["SevenNet_0__11Jul2024", "SevenNet_l3i5"])
def test_graphs_past_the_cutoff_give_the_models_numbers(name, precision, tol):
    model = Model(str(model_path(name)))
    ws = Workspace(2)
    atoms = bulk("Si", "diamond", a=5.43, cubic=True)
    atoms.rattle(0.1, seed=3)
    ref = compute(model, graph(atoms, 5.0, ws), ws, precision)
    for extra in (1.0, 3.0):
        got = compute(model, graph(atoms, 5.0 + extra, ws), ws, precision)
        assert np.isfinite(got["energy"]) and abs(got["energy"] - ref["energy"]) <= tol * abs(ref["energy"])
        np.testing.assert_allclose(got["forces"], ref["forces"], rtol=0, atol=tol * 10)
        np.testing.assert_allclose(got["virial"], ref["virial"], rtol=0, atol=tol * abs(ref["energy"]))


def test_cells_in_nm_are_refused():
    model = Model(str(model_path("SevenNet_0__11Jul2024")))
    atoms = bulk("Si", "diamond", a=0.543)  # nm, not Å
    for precision in ("float64", "float32"):
        with pytest.raises(EquipotError) as error:
            compute(model, graph(atoms, 5.0), None, precision)
        assert error.value.status == INVALID and "Å apart" in str(error.value)


def test_non_finite_results_are_errors(argon):
    positions = np.array([[0.0, 0, 0], [5.0, 0, 0], [5.001, 0, 0]])
    g = Graph(positions, [18, 18, 18], None, [False] * 3, 8.5)
    assert np.isfinite(compute(argon, g, None, "float64")["energy"])
    with pytest.raises(EquipotError) as error:
        compute(argon, g, None, "float32")
    assert error.value.status == NON_FINITE and "atom 1 (Z = 18)" in str(error.value)
