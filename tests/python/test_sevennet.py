"""EquipotCalculator on the SevenNet models against sevenn 0.13 itself.

The references are the parity fixtures (tests/fixtures/sevenn/parity, written
by tests/fixtures/sevenn/generate.py with the real sevenn): "float32" is what
sevenn's own ASE calculator (SevenNetCalculator) returned, "float64" the same
model built in float64. CI has no torch, so this is how the ASE calculator is
tested against sevenn's there; tests/python/compare_sevenn_live.py does the
same live where sevenn is importable.

The converted models come from scripts/ci/40-sevenn-convert.sh, in
$EQUIPOT_SEVENN_MODELS (default: target/sevenn/models, where that script
writes them). Without them the tests fail and say so.
"""

import json
import os
import pathlib

import numpy as np
import pytest
from ase import Atoms

from equipot._capi import EquipotError, Graph, HaloDirection, Model, Workspace, compute, compute_with_halo
from equipot.calculator import EquipotCalculator

ROOT = pathlib.Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "sevenn" / "parity"
MODELS = ["SevenNet_0__11Jul2024", "SevenNet_0__22May2024", "SevenNet_l3i5", "SevenNet_MF_0"]
STRUCTURES = ["si_rattled", "oxide_srtio3", "molecule_ch4", "slab_pt111", "isolated_fe"]
# The tolerances, per precision: energy (eV/atom), forces (eV/Å),
# stress (eV/Å³; sevenn's float32 stress has no stated tolerance, see below).
TOLERANCES = {"float64": (1e-8, 1e-7, 1e-8), "float32": (1e-5, 1e-4, 1e-5)}


def models_dir():
    path = pathlib.Path(os.environ.get("EQUIPOT_SEVENN_MODELS", ROOT / "target" / "sevenn" / "models"))
    if not (path / "SevenNet_0__11Jul2024.eqp.safetensors").is_file():
        pytest.fail(f"no converted SevenNet models in {path}: run scripts/ci/40-sevenn-convert.sh "
                    "or set EQUIPOT_SEVENN_MODELS to the directory holding them")
    return path


def model_path(name):
    return str(models_dir() / f"{name}.eqp.safetensors")


def cases():
    for model in MODELS:
        for structure in STRUCTURES:
            modals = ["PBE", "R2SCAN"] if model == "SevenNet_MF_0" else [None]
            for modal in modals:
                for precision in ("float64", "float32"):
                    yield pytest.param(model, structure, modal, precision,
                                       id=f"{model}-{structure}-{modal or 'default'}-{precision}")


def load_fixture(model, structure, modal):
    name = f"{model}__{structure}" + (f"__{modal}" if modal else "") + ".json"
    return json.loads((FIXTURES / name).read_text())


def fixture_atoms(fixture):
    s = fixture["structure"]
    pbc = s["pbc"]
    return Atoms(numbers=s["numbers"], positions=s["positions"], cell=s["cell"] if any(pbc) else None, pbc=pbc)


@pytest.mark.parametrize("model,structure,modal,precision", list(cases()))
def test_matches_sevenn(model, structure, modal, precision):
    fixture = load_fixture(model, structure, modal)
    reference = fixture[precision]
    atoms = fixture_atoms(fixture)
    atoms.calc = EquipotCalculator(model_path(model), precision=precision, modal=modal, threads=2)
    tol_e, tol_f, tol_s = TOLERANCES[precision]
    n = len(atoms)
    assert abs(atoms.get_potential_energy() - reference["energy"]) / n <= tol_e
    np.testing.assert_allclose(atoms.get_forces(), reference["forces"], rtol=0, atol=tol_f)
    np.testing.assert_allclose(atoms.get_potential_energies(), reference["atom_energies"], rtol=0, atol=tol_e)
    if "stress" in reference:
        np.testing.assert_allclose(atoms.get_stress(), reference["stress"], rtol=0, atol=tol_s)


def test_default_modal_is_pbe():
    fixture = load_fixture("SevenNet_MF_0", "si_rattled", "PBE")
    atoms = fixture_atoms(fixture)
    atoms.calc = EquipotCalculator(model_path("SevenNet_MF_0"))
    assert abs(atoms.get_potential_energy() - fixture["float64"]["energy"]) / len(atoms) <= 1e-8


def test_stress_needs_a_3d_periodic_cell():
    from ase.calculators.calculator import PropertyNotImplementedError

    atoms = fixture_atoms(load_fixture("SevenNet_0__11Jul2024", "slab_pt111", None))
    atoms.calc = EquipotCalculator(model_path("SevenNet_0__11Jul2024"))
    with pytest.raises(PropertyNotImplementedError):
        atoms.get_stress()


# Bad input: each a clear EquipotError (with the C status) or a valid result.

def test_unknown_element():
    atoms = Atoms("SiOg", positions=[[0, 0, 0], [2.5, 0, 0]])
    atoms.calc = EquipotCalculator(model_path("SevenNet_0__11Jul2024"))
    with pytest.raises(EquipotError, match="atomic number 118, which the model does not know") as error:
        atoms.get_potential_energy()
    assert error.value.status == 4  # EQP_ERROR_UNKNOWN_ELEMENT


def test_isolated_atom_is_valid():
    calc = EquipotCalculator(model_path("SevenNet_0__11Jul2024"))
    lone = Atoms("Fe", positions=[[0, 0, 0]])
    lone.calc = calc
    e_fe = lone.get_potential_energy()
    cutoff = calc.model.cutoff
    atoms = Atoms("SiOFe", positions=[[0, 0, 0], [1.6, 0, 0], [1.6 + cutoff + 1e-3, 0, 0]],
                  cell=[30, 30, 30], pbc=True)
    atoms.calc = EquipotCalculator(model_path("SevenNet_0__11Jul2024"))
    assert atoms.get_potential_energies()[2] == pytest.approx(e_fe, abs=1e-12)
    assert np.all(atoms.get_forces()[2] == 0)


def _variant(tmp_path, name, keep=None, replace=None):
    data = pathlib.Path(model_path("SevenNet_0__11Jul2024")).read_bytes()
    if replace:
        old, new = replace
        assert len(old) == len(new) and data.count(old) == 1
        data = data.replace(old, new)
    path = tmp_path / name
    path.write_bytes(data[:keep])
    return str(path)


def test_other_architecture(tmp_path):
    path = _variant(tmp_path, "painn.eqp.safetensors", replace=(b'\\"nequip\\"', b'\\"painn\\" '))
    with pytest.raises(EquipotError, match='architecture "painn" cannot be loaded') as error:
        EquipotCalculator(path)
    assert error.value.status == 6  # EQP_ERROR_MODEL_FORMAT


def test_truncated_file(tmp_path):
    size = pathlib.Path(model_path("SevenNet_0__11Jul2024")).stat().st_size
    with pytest.raises(EquipotError, match="truncated"):
        EquipotCalculator(_variant(tmp_path, "half.eqp.safetensors", keep=size // 2))


def test_newer_format(tmp_path):
    path = _variant(tmp_path, "v9.eqp.safetensors",
                    replace=(b'\\"format_version\\": \\"1.0\\"', b'\\"format_version\\": \\"9.0\\"'))
    with pytest.raises(EquipotError, match="format version 9.0 is newer than this library reads"):
        EquipotCalculator(path)


def test_unknown_modal():
    with pytest.raises(EquipotError, match=r'unknown modal "HSE06": this model has \["R2SCAN", "PBE"\]'):
        EquipotCalculator(model_path("SevenNet_MF_0"), modal="HSE06")
    with pytest.raises(EquipotError, match="but this model has none"):
        EquipotCalculator(model_path("SevenNet_0__11Jul2024"), modal="PBE")


# Halo exchange: a periodic structure's images within one cutoff as ghosts
# of a host's neighbor list, evaluated with compute_with_halo.

def images_as_ghosts(atoms, cutoff):
    """The graph a single rank would pass: local atoms, then one ghost per
    (atom, image shift) within one cutoff of a local atom, neighbor rows for
    local atoms only; and each ghost's owner (the local atom it images)."""
    n = len(atoms)
    cell = np.asarray(atoms.cell.array)
    centers, neighbors, shifts, _ = Graph(atoms.positions, atoms.numbers, cell, atoms.pbc, cutoff).edges()
    positions, numbers, owner, ghost_of = list(atoms.positions), list(atoms.numbers), [], {}
    index = neighbors.copy()
    for e, (j, shift) in enumerate(zip(neighbors, map(tuple, shifts))):
        if shift != (0, 0, 0):
            if (j, shift) not in ghost_of:
                ghost_of[j, shift] = len(positions)
                positions.append(atoms.positions[j] + np.array(shift) @ cell)
                numbers.append(atoms.numbers[j])
                owner.append(j)
            index[e] = ghost_of[j, shift]
    offsets = np.searchsorted(centers, np.arange(n + 1))  # edges are sorted by center
    return Graph.from_neighbor_list(positions, numbers, n, offsets, index, cutoff), np.array(owner)


class ImageExchange:
    """A single rank's halo exchange: every ghost's owner is a local atom."""

    def __init__(self, n_local, owner, fail_at=None):
        self.n_local, self.owner, self.fail_at = n_local, owner, fail_at
        self.calls = []

    def __call__(self, direction, values):
        self.calls.append((direction, values.shape))
        if len(self.calls) == self.fail_at:
            raise ConnectionError("rank 3 lost its neighbor")
        ghosts = values[self.n_local:]
        if direction == HaloDirection.FORWARD:
            ghosts[:] = values[self.owner]
        else:
            np.add.at(values, self.owner, ghosts)  # owners with several images get each


@pytest.mark.parametrize("structure", ["si_rattled", "slab_pt111"])
def test_halo_exchange_gives_the_periodic_result(structure):
    atoms = fixture_atoms(load_fixture("SevenNet_0__11Jul2024", structure, None))
    model = Model(model_path("SevenNet_0__11Jul2024"))
    assert model.n_layers == 5 and model.halo_width > 0
    ws = Workspace(2)
    cell = np.asarray(atoms.cell.array)
    expected = compute(model, Graph(atoms.positions, atoms.numbers, cell, atoms.pbc, model.cutoff, ws), ws)
    graph, owner = images_as_ghosts(atoms, model.cutoff)
    n = len(atoms)
    assert len(owner) > 3 * n, "too few ghosts to test anything"
    exchange = ImageExchange(n, owner)
    got = compute_with_halo(model, graph, exchange, ws)

    directions = [d for d, _ in exchange.calls]
    assert directions == [HaloDirection.FORWARD] * 5 + [HaloDirection.REVERSE] * 5
    assert all(rows == graph.n_atoms and 0 < width <= model.halo_width for _, (rows, width) in exchange.calls)
    forces = got["forces"][:n].copy()
    np.add.at(forces, owner, got["forces"][n:])
    assert abs(got["energy"] - expected["energy"]) <= 1e-10 * abs(expected["energy"])
    np.testing.assert_allclose(forces, expected["forces"], rtol=0, atol=1e-10 * np.abs(expected["forces"]).max())
    np.testing.assert_allclose(got["virial"], expected["virial"], rtol=0,
                               atol=1e-10 * np.abs(expected["virial"]).max())
    np.testing.assert_allclose(got["energies"][:n], expected["energies"], rtol=0,
                               atol=1e-10 * abs(expected["energy"]))
    assert np.all(got["energies"][n:] == 0), "ghosts carry no energy"

    # The evaluation options apply with a halo as without: float32 with exact
    # radial networks and a profile, against the same options on the periodic graph.
    options = dict(precision="float32", radial="exact", profile=True)
    expected = compute(model, Graph(atoms.positions, atoms.numbers, cell, atoms.pbc, model.cutoff, ws), ws, **options)
    got = compute_with_halo(model, graph, ImageExchange(n, owner), ws, **options)
    assert abs(got["energy"] - expected["energy"]) <= 1e-5 * abs(expected["energy"])
    stages = [stage for stage, _ in got["profile"]]
    assert "forward: halo exchange" in stages and "backward: halo exchange" in stages, stages
    with pytest.raises(ValueError, match="radial"):
        compute_with_halo(model, graph, ImageExchange(n, owner), ws, radial="splines")


def test_halo_exchange_errors_come_back():
    atoms = fixture_atoms(load_fixture("SevenNet_0__11Jul2024", "si_rattled", None))
    model = Model(model_path("SevenNet_0__11Jul2024"))
    graph, owner = images_as_ghosts(atoms, model.cutoff)
    for fail_at in (1, 7):  # a forward exchange, a reverse one
        failing = ImageExchange(len(atoms), owner, fail_at=fail_at)
        with pytest.raises(ConnectionError, match="rank 3 lost its neighbor") as error:
            compute_with_halo(model, graph, failing)
        assert len(failing.calls) == fail_at
        assert "__call__" in [entry.name for entry in error.traceback], "the exchange's own traceback"
    # The model is still usable, and the library's own errors are EquipotError.
    assert np.isfinite(compute_with_halo(model, graph, ImageExchange(len(atoms), owner))["energy"])
    with pytest.raises(ValueError, match="precision"):
        compute_with_halo(model, graph, ImageExchange(len(atoms), owner), precision="float16")
    with pytest.raises(EquipotError, match="does not know") as error:
        compute_with_halo(model, Graph.from_neighbor_list([[0, 0, 0]], [118], 1, [0, 0], [], 5.0),
                          ImageExchange(1, []))
    assert error.value.status == 4  # EQP_ERROR_UNKNOWN_ELEMENT
