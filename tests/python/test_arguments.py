"""Every array the Python binding hands to C is checked first: shape, dtype,
length and values. Before these checks, a wrong-length positions array made C
read past it (garbage energies; a segfault with 2·10^6 numbers), float atomic
numbers were truncated and large ones wrapped into int32 (2**32 + 18 became
argon). Each bad argument must raise TypeError/ValueError naming it."""

import ctypes
import json

import numpy as np
import pytest
from ase import Atoms

from equipot import _capi
from equipot._capi import Graph, Model, Workspace, compute
from equipot.calculator import EquipotCalculator

CUTOFF = 6.0
ANY = [True, True, True]


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    path = tmp_path_factory.mktemp("lj") / "ar.json"
    path.write_text(json.dumps({"equipot": {
        "format_version": "1.0", "architecture": "lennard-jones", "species": [18],
        "cutoff": CUTOFF, "epsilon": [[0.0104]], "sigma": [[3.4]]}}))
    return Model(str(path))


def cluster(n=4):
    """n argon atoms on a line, 3.8 Å apart, in a 20 Å box."""
    positions = np.zeros((n, 3))
    positions[:, 0] = 3.8 * np.arange(n)
    return positions, np.full(n, 18), np.eye(3) * 20.0


def energy(model, *args, **kwargs):
    return compute(model, Graph(*args, cutoff=CUTOFF, **kwargs))["energy"]


def test_valid_inputs_of_every_accepted_kind(model):
    positions, numbers, cell = cluster()
    reference = energy(model, positions, numbers, cell, ANY)
    assert reference < 0
    same = [
        (positions.tolist(), numbers.tolist(), cell.tolist(), ANY),
        (np.asfortranarray(positions), numbers.astype(np.uint8), cell.astype(np.float32), np.array(ANY)),
        (positions.astype(">f8"), numbers.astype(">i8"), cell, [1, 1, 1]),  # big-endian, 0/1 ints
        (positions, numbers.astype(np.int16), cell, np.ones(3, np.uint8)),
        (positions, numbers, cell, [True, 1, np.True_]),
    ]
    for p, z, c, pbc in same:
        assert energy(model, p, z, c, pbc) == pytest.approx(reference, rel=1e-12, abs=0)
    # Integer positions are numeric: converted, not refused.
    integer = np.array([[0, 0, 0], [4, 0, 0], [8, 0, 0], [12, 0, 0]])
    assert energy(model, integer, numbers, None, [False] * 3) == energy(model, integer * 1.0, numbers, None, [0, 0, 0])
    # No atoms at all is a valid (empty) structure.
    assert energy(model, np.zeros((0, 3)), [], None, [0, 0, 0]) == 0
    assert energy(model, [], [], None, [False] * 3) == 0
    # pbc None is "no axis periodic", as NULL is in C.
    assert energy(model, positions, numbers, None, None) == energy(model, positions, numbers, cell, [0, 0, 0])


def test_pbc_reaches_c_as_bytes():
    """The C ABI reads pbc as 3 flags; three uint8 0/1 work whether it reads bool or bytes."""
    assert _capi.lib.eqp_graph_build.argtypes[5] is ctypes.POINTER(ctypes.c_uint8)
    assert _capi._flags("pbc", [True, np.bool_(False), 1]).tolist() == [1, 0, 1]
    assert _capi._flags("pbc", [True, False, True]).dtype == np.uint8


@pytest.mark.parametrize("positions, message", [
    (np.zeros((3, 3)), r"numbers must be a 1-D integer array of length 3, got length 4"),
    (np.zeros((5, 3)), r"numbers must be a 1-D integer array of length 5, got length 4"),
    (np.zeros(12), r"positions must have shape \(n, 3\), got \(12,\)"),  # flat arrays are not reshaped
    (np.zeros((4, 2)), r"positions must have shape \(n, 3\), got \(4, 2\)"),
    (np.zeros((4, 3, 1)), r"positions must have shape \(n, 3\), got \(4, 3, 1\)"),
    (np.zeros((3, 4)), r"positions must have shape \(n, 3\), got \(3, 4\)"),
])
def test_positions_shape_and_length(model, positions, message):
    with pytest.raises(ValueError, match=message):
        Graph(positions, [18] * 4, None, [False] * 3, CUTOFF)


def test_two_million_numbers_with_one_position():
    """This read 6·10^6 doubles from a 3-double buffer and segfaulted."""
    with pytest.raises(ValueError, match="numbers must be a 1-D integer array of length 1, got length 2000000"):
        Graph(np.zeros((1, 3)), np.full(2_000_000, 18), None, [False] * 3, CUTOFF)
    with pytest.raises(ValueError, match="numbers must be a 1-D integer array of length 1, got length 2000000"):
        Graph.from_neighbor_list(np.zeros((1, 3)), np.full(2_000_000, 18), 1, [0, 0], [], CUTOFF)


@pytest.mark.parametrize("positions, error, message", [
    (np.array([["a", "b", "c"]] * 4), TypeError, "positions must be a numeric array of shape \\(n, 3\\), got dtype <U1"),
    (np.zeros((4, 3), dtype=complex), TypeError, "got dtype complex128"),
    (np.zeros((4, 3), dtype=bool), TypeError, "got dtype bool"),
    (np.array([[0, 0, 0]] * 3 + [[0, None, 0]], dtype=object), TypeError, "got dtype object"),
    ([[0, 0, 0], [1, 0, 0], [2, 0], [3, 0, 0]], ValueError, "positions is not an array"),
])
def test_positions_dtype(positions, error, message):
    with pytest.raises(error, match=message):
        Graph(positions, [18] * 4, None, [False] * 3, CUTOFF)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_positions_finite(bad):
    positions, numbers, _ = cluster()
    positions[2, 1] = bad
    with pytest.raises(ValueError, match=r"positions holds a non-finite value \(NaN or inf\) at index \(2, 1\)"):
        Graph(positions, numbers, None, [False] * 3, CUTOFF)


@pytest.mark.parametrize("numbers, error, message", [
    ([18.0, 18.5, 18.0, 18.0], TypeError, "numbers must be a 1-D integer array of length 4, got dtype float64"),
    # Exact-integer floats are refused too (the binding never guesses that a float meant an int).
    (np.full(4, 18.0), TypeError, "got dtype float64"),
    ([True] * 4, TypeError, "got dtype bool"),
    (["Ar"] * 4, TypeError, "got dtype <U2"),
    ([[18, 18], [18, 18]], ValueError, r"numbers must be a 1-D integer array of length 4, got shape \(2, 2\)"),
    ([18, 18, 0, 18], ValueError, r"numbers\[2\] = 0 is outside 1..118"),
    ([18, 119, 18, 18], ValueError, r"numbers\[1\] = 119 is outside 1..118"),
    ([18, 18, 18, -18], ValueError, r"numbers\[3\] = -18 is outside 1..118"),
    ([2**32 + 18] * 4, ValueError, r"numbers\[0\] = 4294967314 is outside 1..118"),
    ([18, 2**32 + 14, 18, 18], ValueError, r"numbers\[1\] = 4294967310 is outside 1..118"),  # not silicon
    (np.full(4, 2**63 + 18, dtype=np.uint64), ValueError, r"numbers\[0\] = 9223372036854775826 is outside"),
    ([2**70] * 4, TypeError, "got dtype object"),
])
def test_numbers(numbers, error, message):
    # Without the check, 2**32 + 18 wrapped to 18 in int32: an argon energy for a nonsense input.
    assert np.array(2**32 + 18).astype(np.int32) == 18
    with pytest.raises(error, match=message):
        Graph(cluster()[0], numbers, None, [False] * 3, CUTOFF)


@pytest.mark.parametrize("cell, error, message", [
    (np.eye(3).ravel() * 20, ValueError, r"cell must have shape \(3, 3\), got \(9,\)"),
    (np.ones(3) * 20, ValueError, r"cell must have shape \(3, 3\), got \(3,\)"),
    (np.eye(3)[:2] * 20, ValueError, r"cell must have shape \(3, 3\), got \(2, 3\)"),
    (np.eye(4) * 20, ValueError, r"cell must have shape \(3, 3\), got \(4, 4\)"),
    (np.diag([20.0, np.nan, 20.0]), ValueError, r"cell holds a non-finite value \(NaN or inf\) at index \(1, 1\)"),
    (np.diag([20.0, 20.0, np.inf]), ValueError, r"cell holds a non-finite value"),
    ("20 20 20", TypeError, r"cell must be a numeric array of shape \(3, 3\), got dtype <U8"),
])
def test_cell(cell, error, message):
    positions, numbers, _ = cluster()
    with pytest.raises(error, match=message):
        Graph(positions, numbers, cell, ANY, CUTOFF)


def test_periodic_axis_needs_a_cell():
    positions, numbers, _ = cluster()
    with pytest.raises(ValueError, match=r"cell is None but pbc \[False, True, False\] has a periodic axis"):
        Graph(positions, numbers, None, [0, 1, 0], CUTOFF)


@pytest.mark.parametrize("pbc, error, message", [
    ([2, 0, 0], ValueError, r"pbc must be 3 booleans \(x, y, z\) or 0/1, got \[2, 0, 0\]"),
    ([1, -1, 0], ValueError, r"or 0/1, got \[1, -1, 0\]"),
    (["yes", "no", "no"], TypeError, r"pbc must be 3 booleans \(x, y, z\), got dtype <U3"),
    ([1.0, 0.0, 0.0], TypeError, "got dtype float64"),
    ([True, True], ValueError, r"pbc must be 3 booleans \(x, y, z\), got shape \(2,\)"),
    (True, ValueError, r"got shape \(\)"),
    ([None] * 3, TypeError, "got dtype object"),
])
def test_pbc(pbc, error, message):
    positions, numbers, cell = cluster()
    with pytest.raises(error, match=message):
        Graph(positions, numbers, cell, pbc, CUTOFF)


@pytest.mark.parametrize("cutoff, error", [(np.nan, ValueError), (0.0, ValueError), (-1.0, ValueError),
                                            (np.inf, ValueError), ("six", TypeError), ("6", TypeError),
                                            (None, TypeError), (True, TypeError)])
def test_cutoff(cutoff, error):
    positions, numbers, cell = cluster()
    with pytest.raises(error, match="cutoff must be a"):
        Graph(positions, numbers, cell, ANY, cutoff)


def all_pairs(n):
    """A full neighbor list of n atoms: offsets, neighbors."""
    neighbors = [j for i in range(n) for j in range(n) if j != i]
    return np.arange(0, n * (n - 1) + 1, n - 1), np.array(neighbors)


def test_neighbor_list_matches_the_graph(model):
    positions, numbers, _ = cluster()
    offsets, neighbors = all_pairs(4)
    expected = energy(model, positions, numbers, None, [False] * 3)
    got = compute(model, Graph.from_neighbor_list(positions, numbers, 4, offsets, neighbors, CUTOFF))
    assert got["energy"] == pytest.approx(expected, rel=1e-12, abs=0)
    # Lists, other integer dtypes and a list for the first rows only are valid.
    rows = Graph.from_neighbor_list(positions.tolist(), numbers.tolist(), 4, offsets[:3].astype(np.uint32),
                                    neighbors[: offsets[2]].astype(np.int8), CUTOFF)
    assert rows.n_atoms == 4


@pytest.mark.parametrize("change, error, message", [
    (dict(offsets=[0, 3, 6, 9, 12, 12]), ValueError, r"offsets must have n_rows \+ 1 entries with 0 <= n_rows <= 4"),
    (dict(offsets=[]), ValueError, "offsets must have n_rows"),
    (dict(offsets=[1, 3, 6, 9, 12]), ValueError, "offsets must start at 0, never decrease and end at len"),
    (dict(offsets=[0, 6, 3, 9, 12]), ValueError, r"never decrease .* got \[0, 6, 3, 9, 12\]"),
    (dict(offsets=[0, 3, 6, 9, 11]), ValueError, r"end at len\(neighbors\) = 12"),
    (dict(offsets=[0, 3, 6, 9, 13]), ValueError, r"offsets\[4\] = 13 is outside 0..12"),
    (dict(offsets=[0, 3, -3, 9, 12]), ValueError, r"offsets\[2\] = -3 is outside 0..12"),
    (dict(offsets=[0.0, 3.0, 6.0, 9.0, 12.0]), TypeError, "offsets must be a 1-D integer array"),
    (dict(offsets=[[0, 3, 6, 9, 12]]), ValueError, r"offsets must be a 1-D integer array of any length, got shape"),
    (dict(neighbors=[1, 2, 3, 0, 2, 3, 0, 1, 3, 0, 1, 4]), ValueError, r"neighbors\[11\] = 4 is outside 0..3"),
    (dict(neighbors=[1, 2, 3, 0, 2, 3, 0, 1, 3, 0, 1, -1]), ValueError, r"neighbors\[11\] = -1 is outside 0..3"),
    (dict(neighbors=[1, 2, 3, 0, 2, 3, 0, 1, 3, 0, 1, 2**32 + 2]), ValueError, "outside 0..3"),
    (dict(neighbors=np.arange(12) % 4 * 1.0), TypeError, "neighbors must be a 1-D integer array"),
    (dict(n_local=5), ValueError, "n_local = 5 is outside 0..4"),
    (dict(n_local=-1), ValueError, "n_local = -1 is outside 0..4"),
    (dict(n_local=2.0), TypeError, "n_local must be an integer, got float"),
    (dict(n_local=True), TypeError, "n_local must be an integer"),
    (dict(positions=np.zeros((3, 3))), ValueError, "numbers must be a 1-D integer array of length 3"),
    (dict(numbers=[18, 18, 0, 18]), ValueError, r"numbers\[2\] = 0 is outside 1..118"),
])
def test_neighbor_list_arguments(change, error, message):
    positions, numbers, _ = cluster()
    offsets, neighbors = all_pairs(4)
    args = dict(positions=positions, numbers=numbers, n_local=4, offsets=offsets, neighbors=neighbors,
                cutoff=CUTOFF)
    args.update(change)
    with pytest.raises(error, match=message):
        Graph.from_neighbor_list(**args)


def test_outputs_are_sized_by_the_library(model):
    positions, numbers, _ = cluster()
    offsets, neighbors = all_pairs(3)
    # 3 rows of neighbors, 4 atoms (the last a ghost): buffers hold all 4.
    graph = Graph.from_neighbor_list(positions, numbers, 3, offsets, neighbors, CUTOFF)
    assert graph.n_atoms == 4
    out = compute(model, graph)
    assert out["forces"].shape == (4, 3) and out["energies"].shape == (4,)
    with pytest.raises(AttributeError):
        graph.n_atoms = 1  # a read-only query of the library, never the caller's number


def test_handles_and_scalars(model):
    positions, numbers, cell = cluster()
    graph = Graph(positions, numbers, cell, ANY, CUTOFF)
    with pytest.raises(TypeError, match="graph must be a Graph, got Model"):
        compute(model, model)
    with pytest.raises(TypeError, match="model must be a Model, got Graph"):
        compute(graph, graph)
    with pytest.raises(TypeError, match="workspace must be a Workspace or None, got int"):
        compute(model, graph, 2)
    with pytest.raises(TypeError, match="workspace must be a Workspace or None"):
        Graph(positions, numbers, cell, ANY, CUTOFF, workspace="ws")
    with pytest.raises(TypeError, match="exchange must be callable"):
        _capi.compute_with_halo(model, graph, None)
    for threads, error in [(2.5, TypeError), (-1, ValueError), (2**32 + 2, ValueError), (True, TypeError)]:
        with pytest.raises(error, match="threads"):
            Workspace(threads)
    with pytest.raises(ValueError, match="path must not contain a NUL"):
        Model("ar.json\0.safetensors")
    with pytest.raises(ValueError, match="modal must not contain a NUL"):
        Model("ar.json", modal="PBE\0")
    assert compute(model, graph, Workspace(np.int64(1)))["energy"] == pytest.approx(compute(model, graph)["energy"])


def test_calculator_device(model):
    atoms = Atoms("Ar2", positions=[[0, 0, 0], [3.8, 0, 0]])
    atoms.calc = EquipotCalculator(model, device="cpu")
    assert np.isfinite(atoms.get_potential_energy())
    with pytest.raises(_capi.EquipotError, match="CUDA") as info:
        EquipotCalculator(model, device="cuda")
    assert info.value.status == 7
    with pytest.raises(ValueError, match="device must be cpu, cuda or cuda:N"):
        EquipotCalculator(model, device="gpu")


@pytest.mark.parametrize("numbers, message", [([0, 18], r"numbers\[0\] = 0 is outside 1..118"),
                                              ([2**32 + 18, 18], r"numbers\[0\] = 4294967314 is outside")])
def test_calculator_checks_too(model, numbers, message):
    atoms = Atoms(numbers=numbers, positions=[[0, 0, 0], [3.8, 0, 0]])
    atoms.calc = EquipotCalculator(model)
    with pytest.raises(ValueError, match=message):
        atoms.get_potential_energy()
    atoms = Atoms("Ar2", positions=[[0, 0, 0], [3.8, 0, 0]], cell=[[20, 0, 0], [0, 20, 0], [0, 0, np.nan]], pbc=True)
    atoms.calc = EquipotCalculator(model)
    with pytest.raises(ValueError, match="cell holds a non-finite value"):
        atoms.get_potential_energy()
    with pytest.raises(ValueError, match="precision"):
        EquipotCalculator(model, precision="float16")


def test_evaluation_options(model):
    """radial, simd and profile reach the library; bad values are refused
    here (ValueError/TypeError) or by it (EquipotError, status unsupported)."""
    graph = Graph(*cluster(), ANY, cutoff=CUTOFF)
    reference = compute(model, graph)
    assert "profile" not in reference
    exact = compute(model, graph, radial="exact", simd="none")
    assert exact["energy"] == reference["energy"]  # Lennard-Jones: one path
    profiled = compute(model, graph, profile=True)
    names = [name for name, _ in profiled["profile"]]
    assert names[0].startswith("checks") and all(s >= 0 for _, s in profiled["profile"])
    assert profiled["energy"] == reference["energy"]
    with pytest.raises(ValueError, match="radial must be one of auto, exact, tables"):
        compute(model, graph, radial="spline")
    with pytest.raises(ValueError, match="simd must be one of"):
        compute(model, graph, simd="sse9")
    with pytest.raises(TypeError, match="profile"):
        compute(model, graph, profile=1)
    with pytest.raises(_capi.EquipotError, match="radial tables") as error:
        compute(model, graph, radial="tables")
    assert error.value.status != 0
    with pytest.raises(ValueError, match="radial"):
        EquipotCalculator(model, radial="fast")
    with pytest.raises(ValueError, match="simd"):
        EquipotCalculator(model, simd="avx9000")
