"""ctypes binding of the C ABI (include/equipot.h). Everything the Python
package does goes through these functions, so Python sees exactly what C,
C++, Fortran and LAMMPS see."""

import ctypes
import enum
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


class HaloDirection(enum.IntEnum):
    """Which way a halo exchange moves rows (eqp_halo_direction_t)."""

    FORWARD = 0  # copy every ghost's row from its owner's row
    REVERSE = 1  # add every ghost's row into its owner's row


# eqp_halo_exchange_t: (user_data, direction, values, n_atoms, width) -> status
_HaloExchange = ctypes.CFUNCTYPE(
    ctypes.c_int32, ctypes.c_void_p, ctypes.c_int32, _c_double_p, ctypes.c_size_t, ctypes.c_size_t
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
    "eqp_graph_from_neighbor_list": (
        _status,
        [ctypes.c_size_t, ctypes.c_size_t, _c_double_p, _c_int32_p, ctypes.c_size_t,
         ctypes.POINTER(ctypes.c_size_t), ctypes.c_size_t, _c_int32_p, ctypes.c_double,
         ctypes.POINTER(ctypes.c_void_p)],
    ),
    "eqp_graph_free": (None, [ctypes.c_void_p]),
    "eqp_graph_n_atoms": (_status, [ctypes.c_void_p, ctypes.POINTER(ctypes.c_size_t)]),
    "eqp_graph_n_edges": (_status, [ctypes.c_void_p, ctypes.POINTER(ctypes.c_size_t)]),
    "eqp_graph_edges": (
        _status, [ctypes.c_void_p, ctypes.c_size_t, _c_int32_p, _c_int32_p, _c_int32_p, _c_double_p]
    ),
    "eqp_model_load": (_status, [ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p)]),
    "eqp_model_load_modal": (_status, [ctypes.c_char_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p)]),
    "eqp_model_architecture": (ctypes.c_char_p, [ctypes.c_void_p]),
    "eqp_model_free": (None, [ctypes.c_void_p]),
    "eqp_model_cutoff": (_status, [ctypes.c_void_p, _c_double_p]),
    "eqp_model_n_layers": (_status, [ctypes.c_void_p, ctypes.POINTER(ctypes.c_size_t)]),
    "eqp_model_halo_width": (_status, [ctypes.c_void_p, ctypes.POINTER(ctypes.c_size_t)]),
    "eqp_model_n_species": (_status, [ctypes.c_void_p, ctypes.POINTER(ctypes.c_size_t)]),
    "eqp_model_species": (_status, [ctypes.c_void_p, ctypes.c_size_t, _c_int32_p]),
    "eqp_compute": (
        _status, [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int32, ctypes.POINTER(_Outputs)]
    ),
    "eqp_compute_with_halo": (
        _status, [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int32, _HaloExchange,
                  ctypes.c_void_p, ctypes.POINTER(_Outputs)]
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
        self.n_layers = self._size(lib.eqp_model_n_layers)
        # The most values per atom a halo exchange carries; 0: it never exchanges.
        self.halo_width = self._size(lib.eqp_model_halo_width)
        n = ctypes.c_size_t()
        check(lib.eqp_model_n_species(self._ptr, ctypes.byref(n)))
        species = np.zeros(n.value, dtype=np.int32)
        check(lib.eqp_model_species(self._ptr, n.value, _ptr(species, ctypes.c_int32)))
        self.species = species.tolist()

    def _size(self, query):
        n = ctypes.c_size_t()
        check(query(self._ptr, ctypes.byref(n)))
        return n.value


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

    @classmethod
    def from_neighbor_list(cls, positions, numbers, n_local, offsets, neighbors, cutoff):
        """A graph from a host's neighbor list (eqp_graph_from_neighbor_list):
        atoms [0, n_local) are local, the rest ghosts; the neighbors of atom i
        are neighbors[offsets[i]:offsets[i + 1]] (0-based), for the
        len(offsets) - 1 first atoms."""
        positions = np.ascontiguousarray(positions, dtype=np.float64).reshape(-1, 3)
        numbers = np.ascontiguousarray(numbers, dtype=np.int32)
        offsets = np.ascontiguousarray(offsets, dtype=np.uintp)
        neighbors = np.ascontiguousarray(neighbors, dtype=np.int32)
        if len(positions) != len(numbers) or len(offsets) < 1:
            raise EquipotError(2, "Graph.from_neighbor_list: positions and numbers differ in length, "
                                  "or offsets is empty")
        p = ctypes.c_void_p()
        check(lib.eqp_graph_from_neighbor_list(
            len(numbers), int(n_local), _ptr(positions, ctypes.c_double), _ptr(numbers, ctypes.c_int32),
            len(offsets) - 1, _ptr(offsets, ctypes.c_size_t), len(neighbors), _ptr(neighbors, ctypes.c_int32),
            float(cutoff), ctypes.byref(p)))
        graph = cls.__new__(cls)
        _Handle.__init__(graph, p)
        graph.n_atoms = len(numbers)
        return graph

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


def _precision(precision):
    code = {"float64": 0, "f64": 0, "float32": 1, "f32": 1}.get(precision)
    if code is None:
        raise ValueError(f"precision must be float64 or float32, got {precision!r}")
    return code


def _outputs(graph):
    n = graph.n_atoms
    result = {"energy": 0.0, "energies": np.zeros(n), "forces": np.zeros((n, 3)), "virial": np.zeros((3, 3))}
    out = _Outputs(n, 0.0, _ptr(result["forces"], ctypes.c_double), _ptr(result["virial"], ctypes.c_double),
                   _ptr(result["energies"], ctypes.c_double), None)
    return result, out


def compute(model, graph, workspace=None, precision="float64"):
    """Energy (eV), per-atom energies, forces (eV/Å) and virial (eV, 3×3)."""
    code = _precision(precision)
    result, out = _outputs(graph)
    check(lib.eqp_compute(model._ptr, graph._ptr, workspace._ptr if workspace else None,
                          code, ctypes.byref(out)))
    result["energy"] = out.energy
    return result


def compute_with_halo(model, graph, exchange, workspace=None, precision="float64"):
    """Like `compute`, on a graph of local atoms plus ghosts within one cutoff
    (Graph.from_neighbor_list), getting the ghosts' node features from their
    owners through `exchange(direction, values)` (eqp_compute_with_halo).

    `values` is a writable (n_atoms, width) float64 view of the library's
    buffer, one row per atom (local, then ghosts), valid during the call only;
    `direction` is a HaloDirection: FORWARD copies each ghost's row from its
    owner's row, REVERSE adds each ghost's row into its owner's row. It runs
    on the calling thread, once per layer forward and (for forces and the
    virial, always computed here) once per layer in reverse; never for a
    one-layer model. An exception it raises stops the evaluation and is
    re-raised here, with its traceback. Forces are returned for every atom:
    add the ghosts' to their owners.
    """
    code = _precision(precision)
    result, out = _outputs(graph)
    raised = []

    def trampoline(user_data, direction, values, n_atoms, width):
        try:
            if n_atoms * width == 0:
                view = np.zeros((n_atoms, width))
            else:
                view = np.ctypeslib.as_array(values, shape=(n_atoms, width))
            exchange(HaloDirection(direction), view)
            return 0
        except BaseException as error:  # even KeyboardInterrupt: ctypes would print and drop it
            raised.append(error)
            return 1

    callback = _HaloExchange(trampoline)  # kept alive until the call returns
    status = lib.eqp_compute_with_halo(model._ptr, graph._ptr, workspace._ptr if workspace else None,
                                       code, callback, None, ctypes.byref(out))
    if raised:
        raise raised.pop()  # its __traceback__ still holds the exchange's frames
    check(status)
    result["energy"] = out.energy
    return result
