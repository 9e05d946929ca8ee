"""ctypes binding of the C ABI (include/equipot.h). Everything the Python
package does goes through these functions, so Python sees exactly what C,
C++, Fortran and LAMMPS see."""

import ctypes
import os
import pathlib

import numpy as np

_c_double_p = ctypes.POINTER(ctypes.c_double)
_c_int32_p = ctypes.POINTER(ctypes.c_int32)


class EquipotError(RuntimeError):
    """An error reported by the library: `status` is the C status code."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


class _Outputs(ctypes.Structure):
    _fields_ = [
        ("n_atoms", ctypes.c_size_t),
        ("energy", ctypes.c_double),
        ("forces", _c_double_p),
        ("virial", _c_double_p),
        ("atom_energies", _c_double_p),
        ("atom_virials", _c_double_p),
    ]


def _candidates():
    if os.environ.get("EQUIPOT_LIBRARY"):
        yield pathlib.Path(os.environ["EQUIPOT_LIBRARY"])
    here = pathlib.Path(__file__).resolve().parent
    yield here / "lib" / "libequipot.so"
    for parent in here.parents:
        for profile in ("release", "debug"):
            yield parent / "target" / profile / "libequipot.so"


def _load():
    for path in _candidates():
        if path.is_file():
            return ctypes.CDLL(str(path))
    raise OSError(
        "libequipot.so not found: build it (cargo build --release) or set EQUIPOT_LIBRARY"
    )


lib = _load()
_status = ctypes.c_int32
_signatures = {
    "eqp_version": (ctypes.c_char_p, []),
    "eqp_last_error": (ctypes.c_char_p, []),
    "eqp_workspace_new": (_status, [ctypes.c_int32, ctypes.POINTER(ctypes.c_void_p)]),
    "eqp_workspace_free": (None, [ctypes.c_void_p]),
    "eqp_graph_build": (
        _status,
        [ctypes.c_void_p, ctypes.c_size_t, _c_double_p, _c_int32_p, _c_double_p,
         ctypes.POINTER(ctypes.c_bool), ctypes.c_double, ctypes.POINTER(ctypes.c_void_p)],
    ),
    "eqp_graph_free": (None, [ctypes.c_void_p]),
    "eqp_graph_n_edges": (_status, [ctypes.c_void_p, ctypes.POINTER(ctypes.c_size_t)]),
    "eqp_graph_edges": (
        _status, [ctypes.c_void_p, ctypes.c_size_t, _c_int32_p, _c_int32_p, _c_int32_p, _c_double_p]
    ),
    "eqp_model_load": (_status, [ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p)]),
    "eqp_model_load_modal": (_status, [ctypes.c_char_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p)]),
    "eqp_model_architecture": (ctypes.c_char_p, [ctypes.c_void_p]),
    "eqp_model_free": (None, [ctypes.c_void_p]),
    "eqp_model_cutoff": (_status, [ctypes.c_void_p, _c_double_p]),
    "eqp_model_n_species": (_status, [ctypes.c_void_p, ctypes.POINTER(ctypes.c_size_t)]),
    "eqp_model_species": (_status, [ctypes.c_void_p, ctypes.c_size_t, _c_int32_p]),
    "eqp_compute": (
        _status, [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int32, ctypes.POINTER(_Outputs)]
    ),
}
for _name, (_restype, _argtypes) in _signatures.items():
    _f = getattr(lib, _name)
    _f.restype = _restype
    _f.argtypes = _argtypes


def check(status):
    if status != 0:
        raise EquipotError(status, lib.eqp_last_error().decode("utf-8", "replace"))


def version():
    return lib.eqp_version().decode()


def _ptr(array, ctype):
    return array.ctypes.data_as(ctypes.POINTER(ctype))


class _Handle:
    _free = None

    def __init__(self, pointer):
        self._ptr = pointer

    def __del__(self):
        if getattr(self, "_ptr", None):
            type(self)._free(self._ptr)
            self._ptr = None


class Workspace(_Handle):
    """A thread pool: `threads` = 0 uses every core."""

    _free = lib.eqp_workspace_free

    def __init__(self, threads=0):
        p = ctypes.c_void_p()
        check(lib.eqp_workspace_new(int(threads), ctypes.byref(p)))
        super().__init__(p)


class Model(_Handle):
    """A model loaded from an equipot model file. `modal` picks the fidelity
    head of a multi-fidelity model (e.g. "PBE" for SevenNet-MF-0); None takes
    the file's default."""

    _free = lib.eqp_model_free

    def __init__(self, path, modal=None):
        p = ctypes.c_void_p()
        modal_bytes = None if modal is None else str(modal).encode()
        check(lib.eqp_model_load_modal(os.fsencode(path), modal_bytes, ctypes.byref(p)))
        super().__init__(p)
        self.modal = modal
        self.architecture = lib.eqp_model_architecture(self._ptr).decode()
        cutoff = ctypes.c_double()
        check(lib.eqp_model_cutoff(self._ptr, ctypes.byref(cutoff)))
        self.cutoff = cutoff.value
        n = ctypes.c_size_t()
        check(lib.eqp_model_n_species(self._ptr, ctypes.byref(n)))
        species = np.zeros(n.value, dtype=np.int32)
        check(lib.eqp_model_species(self._ptr, n.value, _ptr(species, ctypes.c_int32)))
        self.species = species.tolist()


class Graph(_Handle):
    """The neighbor graph of a structure (full list, cell lists)."""

    _free = lib.eqp_graph_free

    def __init__(self, positions, numbers, cell, pbc, cutoff, workspace=None):
        positions = np.ascontiguousarray(positions, dtype=np.float64).reshape(-1, 3)
        numbers = np.ascontiguousarray(numbers, dtype=np.int32)
        pbc = np.ascontiguousarray(pbc, dtype=np.bool_).reshape(3)
        cell_ptr = None
        if cell is not None:
            cell = np.ascontiguousarray(cell, dtype=np.float64).reshape(3, 3)
            cell_ptr = _ptr(cell, ctypes.c_double)
        p = ctypes.c_void_p()
        check(lib.eqp_graph_build(
            workspace._ptr if workspace else None, len(numbers),
            _ptr(positions, ctypes.c_double), _ptr(numbers, ctypes.c_int32), cell_ptr,
            _ptr(pbc, ctypes.c_bool), float(cutoff), ctypes.byref(p)))
        super().__init__(p)
        self.n_atoms = len(numbers)

    def edges(self):
        """(centers, neighbors, shifts, vectors) as numpy arrays."""
        n = ctypes.c_size_t()
        check(lib.eqp_graph_n_edges(self._ptr, ctypes.byref(n)))
        centers = np.zeros(n.value, np.int32)
        neighbors = np.zeros(n.value, np.int32)
        shifts = np.zeros((n.value, 3), np.int32)
        vectors = np.zeros((n.value, 3), np.float64)
        check(lib.eqp_graph_edges(
            self._ptr, n.value, _ptr(centers, ctypes.c_int32), _ptr(neighbors, ctypes.c_int32),
            _ptr(shifts, ctypes.c_int32), _ptr(vectors, ctypes.c_double)))
        return centers, neighbors, shifts, vectors


def compute(model, graph, workspace=None, precision="float64"):
    """Energy (eV), per-atom energies, forces (eV/Å) and virial (eV, 3×3)."""
    code = {"float64": 0, "f64": 0, "float32": 1, "f32": 1}.get(precision)
    if code is None:
        raise ValueError(f"precision must be float64 or float32, got {precision!r}")
    n = graph.n_atoms
    forces = np.zeros((n, 3))
    virial = np.zeros((3, 3))
    energies = np.zeros(n)
    out = _Outputs(n, 0.0, _ptr(forces, ctypes.c_double), _ptr(virial, ctypes.c_double),
                   _ptr(energies, ctypes.c_double), None)
    check(lib.eqp_compute(model._ptr, graph._ptr, workspace._ptr if workspace else None,
                          code, ctypes.byref(out)))
    return {"energy": out.energy, "energies": energies, "forces": forces, "virial": virial}
