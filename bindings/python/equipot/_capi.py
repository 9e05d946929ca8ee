"""ctypes binding of the C ABI (include/equipot.h). Everything the Python
package does goes through these functions, so Python sees exactly what C,
C++, Fortran and LAMMPS see."""

import ctypes
import enum
import operator
import os
import pathlib
from numbers import Real

import numpy as np

_c_double_p = ctypes.POINTER(ctypes.c_double)
_c_int32_p = ctypes.POINTER(ctypes.c_int32)
_c_uint8_p = ctypes.POINTER(ctypes.c_uint8)


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


class _EvaluationOptions(ctypes.Structure):
    _fields_ = [
        ("struct_size", ctypes.c_size_t),
        ("precision", ctypes.c_int32),
        ("radial_tables", ctypes.c_int32),
        ("simd", ctypes.c_int32),
        ("profile", ctypes.c_int32),
    ]


class _ProfileStage(ctypes.Structure):
    _fields_ = [("name", ctypes.c_char * 48), ("seconds", ctypes.c_double)]


class _Results(ctypes.Structure):
    _fields_ = [
        ("struct_size", ctypes.c_size_t),
        ("n_atoms", ctypes.c_size_t),
        ("energy", ctypes.c_double),
        ("forces", _c_double_p),
        ("virial", _c_double_p),
        ("atom_energies", _c_double_p),
        ("atom_virials", _c_double_p),
        ("profile", ctypes.POINTER(_ProfileStage)),
        ("profile_capacity", ctypes.c_size_t),
        ("n_profile_stages", ctypes.c_size_t),
    ]


class _Device(ctypes.Structure):
    _fields_ = [("kind", ctypes.c_int32), ("ordinal", ctypes.c_int32)]


class _WorkspaceOptions(ctypes.Structure):
    _fields_ = [
        ("struct_size", ctypes.c_size_t),
        ("n_threads", ctypes.c_int32),
        ("device", _Device),
        ("memory_limit", ctypes.c_size_t),
    ]


_DEVICE_CPU, _DEVICE_CUDA = 0, 1


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

# EQP_ABI_VERSION of include/equipot.h, which this module mirrors (tests/header.rs
# checks that they agree).
ABI_VERSION = 1


def _check_abi_version():
    """Refuses a library whose C ABI is not the one this module was written for."""
    found = lib.eqp_abi_version()
    if found != ABI_VERSION:
        raise ImportError(
            f"{lib._name} has C ABI version {found} but the equipot Python package expects ABI version "
            f"{ABI_VERSION}: install matching versions of the library and the package"
        )


lib = _load()
lib.eqp_abi_version.restype = ctypes.c_int32
lib.eqp_abi_version.argtypes = []
_check_abi_version()
_status = ctypes.c_int32
_signatures = {
    "eqp_version": (ctypes.c_char_p, []),
    "eqp_last_error": (ctypes.c_char_p, []),
    "eqp_workspace_new": (_status, [ctypes.c_int32, ctypes.POINTER(ctypes.c_void_p)]),
    "eqp_workspace_options_default": (_status, [ctypes.POINTER(_WorkspaceOptions), ctypes.c_size_t]),
    "eqp_workspace_new_with_options": (
        _status, [ctypes.POINTER(_WorkspaceOptions), ctypes.POINTER(ctypes.c_void_p)]
    ),
    "eqp_workspace_free": (None, [ctypes.c_void_p]),
    "eqp_workspace_set_memory_limit": (_status, [ctypes.c_void_p, ctypes.c_size_t]),
    "eqp_workspace_memory_limit": (_status, [ctypes.c_void_p, ctypes.POINTER(ctypes.c_size_t)]),
    "eqp_graph_build": (
        _status,
        # pbc goes as 3 bytes 0/1: valid as C bool and as bytes read "nonzero is true"
        [ctypes.c_void_p, ctypes.c_size_t, _c_double_p, _c_int32_p, _c_double_p,
         _c_uint8_p, ctypes.c_double, ctypes.POINTER(ctypes.c_void_p)],
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
    "eqp_compute_with_options": (
        _status, [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.POINTER(_EvaluationOptions),
                  ctypes.POINTER(_Results)]
    ),
    "eqp_compute_with_halo_and_options": (
        _status, [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.POINTER(_EvaluationOptions),
                  _HaloExchange, ctypes.c_void_p, ctypes.POINTER(_Results)]
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


# ---- argument checks: nothing reaches C before its shape, dtype, length and values are known ----

_INT32_MAX = 2**31 - 1
_SIZE_MAX = 2**64 - 1 if ctypes.sizeof(ctypes.c_size_t) == 8 else 2**32 - 1


def _as_array(name, value):
    try:
        return np.asarray(value)
    except (ValueError, TypeError) as e:  # ragged nested lists, objects numpy cannot read
        raise ValueError(f"{name} is not an array: {e}") from None


def _floats(name, value, shape):
    """`value` as a C-contiguous float64 array of `shape` ("n": any length), all finite.
    Only numeric input (integers or floats) is converted."""
    array = _as_array(name, value)
    expected = "(" + ", ".join(map(str, shape)) + ")"
    if array.dtype.kind not in "iuf":
        raise TypeError(f"{name} must be a numeric array of shape {expected}, got dtype {array.dtype}")
    if array.size == 0 and shape[0] == "n":
        array = array.reshape((0,) + tuple(shape[1:]))
    if array.ndim != len(shape) or any(s != "n" and s != got for s, got in zip(shape, array.shape)):
        raise ValueError(f"{name} must have shape {expected}, got {array.shape}")
    array = np.ascontiguousarray(array, dtype=np.float64)
    if not np.isfinite(array).all():
        bad = np.argwhere(~np.isfinite(array))[0]
        raise ValueError(f"{name} holds a non-finite value (NaN or inf) at index {tuple(bad.tolist())}")
    return array


def _integers(name, value, low, high, dtype=np.int32, length=None):
    """`value` as a C-contiguous 1-D array of `dtype` whose entries lie in low..high (and of
    `length` entries when given). Integer dtypes only: floats are refused, never truncated."""
    array = _as_array(name, value)
    want = f"a 1-D integer array of {'length ' + str(length) if length is not None else 'any length'}"
    if array.ndim != 1:
        raise ValueError(f"{name} must be {want}, got shape {array.shape}")
    if length is not None and len(array) != length:
        raise ValueError(f"{name} must be {want}, got length {len(array)}")
    if array.size == 0:
        return np.zeros(0, dtype)
    if array.dtype.kind not in "iu":
        raise TypeError(f"{name} must be {want}, got dtype {array.dtype}")
    assert np.iinfo(dtype).min <= low and high <= np.iinfo(dtype).max
    outside = (array < low) | (array > high)
    if outside.any():
        i = int(np.argmax(outside))
        raise ValueError(f"{name}[{i}] = {array[i]} is outside {low}..{high}")
    return np.ascontiguousarray(array, dtype=dtype)


def _flags(name, value):
    """Three periodicity flags (bools, or the ints 0/1) as 3 bytes 0/1; None: none periodic."""
    array = _as_array(name, [False] * 3 if value is None else value)
    if array.shape != (3,):
        raise ValueError(f"{name} must be 3 booleans (x, y, z), got shape {array.shape}")
    if array.dtype.kind not in "biu":
        raise TypeError(f"{name} must be 3 booleans (x, y, z), got dtype {array.dtype}")
    if not np.isin(array, (0, 1)).all():
        raise ValueError(f"{name} must be 3 booleans (x, y, z) or 0/1, got {array.tolist()}")
    return np.ascontiguousarray(array, dtype=np.uint8)


def _count(name, value, high=_SIZE_MAX):
    """A Python or numpy integer in 0..high (no bools, no floats, no wrapping in ctypes)."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    try:
        value = operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}") from None
    if not 0 <= value <= high:
        raise ValueError(f"{name} = {value} is outside 0..{high}")
    return value


def _device(device):
    """"cpu", "cuda" or "cuda:N" as (kind, ordinal)."""
    if not isinstance(device, str):
        raise TypeError(f"device must be a string (cpu, cuda or cuda:N), got {type(device).__name__}")
    if device == "cpu":
        return _DEVICE_CPU, 0
    if device == "cuda":
        return _DEVICE_CUDA, 0
    n = device[len("cuda:"):] if device.startswith("cuda:") else ""
    if not (n.isascii() and n.isdigit() and int(n) <= _INT32_MAX):
        raise ValueError(f"device must be cpu, cuda or cuda:N (N = 0, 1, ...), got {device!r}")
    return _DEVICE_CUDA, int(n)


def _cutoff(value):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, Real):
        raise TypeError(f"cutoff must be a number (Å), got {type(value).__name__}")
    value = float(value)
    if not (np.isfinite(value) and value > 0):
        raise ValueError(f"cutoff must be a finite number > 0 (Å), got {value}")
    return value


def _c_string(name, data):
    """`data` (bytes) for a NUL-terminated C string: an embedded NUL would cut it short."""
    if b"\0" in data:
        raise ValueError(f"{name} must not contain a NUL character")
    return data


def _handle(name, value, cls, optional=False):
    """The C pointer of a live `cls` object (or NULL for None when optional)."""
    if value is None and optional:
        return None
    if not isinstance(value, cls) or not getattr(value, "_ptr", None):
        raise TypeError(f"{name} must be a {cls.__name__}{' or None' if optional else ''}, "
                        f"got {type(value).__name__}")
    return value._ptr


def _structure(positions, numbers):
    """positions (n, 3) finite float64 and numbers (n atomic numbers 1..118) of equal length."""
    positions = _floats("positions", positions, ("n", 3))
    numbers = _integers("numbers", numbers, 1, 118, length=len(positions))
    return positions, numbers


class _Handle:
    _free = None

    def __init__(self, pointer):
        self._ptr = pointer

    def __del__(self):
        if getattr(self, "_ptr", None):
            type(self)._free(self._ptr)
            self._ptr = None


class Workspace(_Handle):
    """A thread pool: `threads` = 0 uses every core. `memory_limit` (bytes)
    caps what one graph build or evaluation may plan to use (None: the
    library's default, 80 % of physical memory). `device` is "cpu", "cuda"
    or "cuda:N"; CUDA evaluation is not implemented yet, so a CUDA device
    raises EquipotError (EQP_ERROR_UNSUPPORTED) naming what is missing (no
    driver, no device) or saying so."""

    _free = lib.eqp_workspace_free

    def __init__(self, threads=0, memory_limit=None, device="cpu"):
        threads = _count("threads", threads, _INT32_MAX)
        kind, ordinal = _device(device)
        options = _WorkspaceOptions()
        check(lib.eqp_workspace_options_default(ctypes.byref(options), ctypes.sizeof(options)))
        options.n_threads = threads
        options.device.kind, options.device.ordinal = kind, ordinal
        p = ctypes.c_void_p()
        check(lib.eqp_workspace_new_with_options(ctypes.byref(options), ctypes.byref(p)))
        super().__init__(p)
        if memory_limit is not None:
            self.memory_limit = memory_limit

    @property
    def memory_limit(self):
        bytes_ = ctypes.c_size_t()
        check(lib.eqp_workspace_memory_limit(self._ptr, ctypes.byref(bytes_)))
        return bytes_.value

    @memory_limit.setter
    def memory_limit(self, value):
        check(lib.eqp_workspace_set_memory_limit(self._ptr, _count("memory_limit", value, _SIZE_MAX)))


class Model(_Handle):
    """A model loaded from an equipot model file. `modal` picks the fidelity
    head of a multi-fidelity model (e.g. "PBE" for SevenNet-MF-0); None takes
    the file's default."""

    _free = lib.eqp_model_free

    def __init__(self, path, modal=None):
        p = ctypes.c_void_p()
        modal_bytes = None if modal is None else _c_string("modal", str(modal).encode())
        check(lib.eqp_model_load_modal(_c_string("path", os.fsencode(path)), modal_bytes, ctypes.byref(p)))
        super().__init__(p)
        self.modal = modal
        self.architecture = lib.eqp_model_architecture(self._ptr).decode()
        cutoff = ctypes.c_double()
        check(lib.eqp_model_cutoff(self._ptr, ctypes.byref(cutoff)))
        self.cutoff = cutoff.value
        self.n_layers = self._size(lib.eqp_model_n_layers)
        # The most values per atom a halo exchange carries; 0: it never exchanges.
        self.halo_width = self._size(lib.eqp_model_halo_width)
        n = self._size(lib.eqp_model_n_species)
        species = np.zeros(n, dtype=np.int32)
        check(lib.eqp_model_species(self._ptr, n, _ptr(species, ctypes.c_int32)))
        self.species = species.tolist()

    def _size(self, query):
        n = ctypes.c_size_t()
        check(query(self._ptr, ctypes.byref(n)))
        return n.value


class Graph(_Handle):
    """The neighbor graph of a structure (full list, cell lists).

    `positions`: (n, 3) Å; `numbers`: n atomic numbers (integers 1..118); `cell`:
    (3, 3), lattice vectors as rows (Å), or None when no axis is periodic; `pbc`:
    3 booleans (or 0/1; None: no axis periodic). Bad arguments raise TypeError/ValueError naming them."""

    _free = lib.eqp_graph_free

    def __init__(self, positions, numbers, cell, pbc, cutoff, workspace=None):
        positions, numbers = _structure(positions, numbers)
        pbc = _flags("pbc", pbc)
        cutoff = _cutoff(cutoff)
        ws = _handle("workspace", workspace, Workspace, optional=True)
        cell_ptr = None
        if cell is not None:
            cell = _floats("cell", cell, (3, 3))
            cell_ptr = _ptr(cell, ctypes.c_double)
        elif pbc.any():
            raise ValueError(f"cell is None but pbc {pbc.astype(bool).tolist()} has a periodic axis: "
                             "give the (3, 3) cell")
        p = ctypes.c_void_p()
        check(lib.eqp_graph_build(
            ws, len(numbers), _ptr(positions, ctypes.c_double), _ptr(numbers, ctypes.c_int32), cell_ptr,
            _ptr(pbc, ctypes.c_uint8), cutoff, ctypes.byref(p)))
        super().__init__(p)

    @classmethod
    def from_neighbor_list(cls, positions, numbers, n_local, offsets, neighbors, cutoff):
        """A graph from a host's neighbor list (eqp_graph_from_neighbor_list):
        atoms [0, n_local) are local, the rest ghosts; the neighbors of atom i
        are neighbors[offsets[i]:offsets[i + 1]] (0-based), for the
        len(offsets) - 1 first atoms. offsets start at 0, never decrease and end
        at len(neighbors); neighbors are indices into the n atoms."""
        positions, numbers = _structure(positions, numbers)
        n = len(numbers)
        n_local = _count("n_local", n_local, n)
        neighbors = _integers("neighbors", neighbors, 0, min(n - 1, _INT32_MAX))
        offsets = _integers("offsets", offsets, 0, len(neighbors), dtype=np.uintp)
        if not 1 <= len(offsets) <= n + 1:
            raise ValueError(f"offsets must have n_rows + 1 entries with 0 <= n_rows <= {n} atoms, "
                             f"got length {len(offsets)}")
        if offsets[0] != 0 or offsets[-1] != len(neighbors) or (np.diff(offsets.astype(np.int64)) < 0).any():
            raise ValueError(f"offsets must start at 0, never decrease and end at len(neighbors) = "
                             f"{len(neighbors)}, got {offsets.tolist() if len(offsets) <= 8 else offsets}")
        cutoff = _cutoff(cutoff)
        p = ctypes.c_void_p()
        check(lib.eqp_graph_from_neighbor_list(
            n, n_local, _ptr(positions, ctypes.c_double), _ptr(numbers, ctypes.c_int32),
            len(offsets) - 1, _ptr(offsets, ctypes.c_size_t), len(neighbors), _ptr(neighbors, ctypes.c_int32),
            cutoff, ctypes.byref(p)))
        graph = cls.__new__(cls)
        _Handle.__init__(graph, p)
        return graph

    @property
    def n_atoms(self):
        """Atoms (local + ghost), as the library reports them."""
        n = ctypes.c_size_t()
        check(lib.eqp_graph_n_atoms(_handle("graph", self, Graph), ctypes.byref(n)))
        return n.value

    def edges(self):
        """(centers, neighbors, shifts, vectors) as numpy arrays."""
        n = ctypes.c_size_t()
        check(lib.eqp_graph_n_edges(_handle("graph", self, Graph), ctypes.byref(n)))
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
    n = graph.n_atoms  # from the library: the buffers always fit the graph
    result = {"energy": 0.0, "energies": np.zeros(n), "forces": np.zeros((n, 3)), "virial": np.zeros((3, 3))}
    out = _Outputs(n, 0.0, _ptr(result["forces"], ctypes.c_double), _ptr(result["virial"], ctypes.c_double),
                   _ptr(result["energies"], ctypes.c_double), None)
    return result, out


_RADIAL = {"auto": -1, "exact": 0, "tables": 1}
_SIMD = {"auto": -1, "none": 0, "avx2": 1, "avx512": 2}
_PROFILE_CAPACITY = 64


def _choice(name, value, choices):
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}, got {value!r}")
    return choices[value]


class _Evaluation:
    """The options and result buffers of one evaluation (eqp_compute_with_options and
    eqp_compute_with_halo_and_options), and the result dict they fill."""

    def __init__(self, graph, precision, radial, simd, profile):
        if not isinstance(profile, bool):
            raise TypeError(f"profile must be True or False, got {profile!r}")
        self.options = _EvaluationOptions(ctypes.sizeof(_EvaluationOptions), _precision(precision),
                                          _choice("radial", radial, _RADIAL), _choice("simd", simd, _SIMD),
                                          int(profile))
        self.result, out = _outputs(graph)
        self.profile = profile
        self.stages = (_ProfileStage * _PROFILE_CAPACITY)()
        self.results = _Results(ctypes.sizeof(_Results), out.n_atoms, 0.0, out.forces, out.virial,
                                out.atom_energies, None, self.stages, _PROFILE_CAPACITY, 0)

    def finish(self):
        self.result["energy"] = self.results.energy
        if self.profile:
            n = min(self.results.n_profile_stages, _PROFILE_CAPACITY)
            self.result["profile"] = [(s.name.decode("utf-8", "replace"), s.seconds) for s in self.stages[:n]]
        return self.result


def compute(model, graph, workspace=None, precision="float64", radial="auto", simd="auto", profile=False):
    """Energy (eV), per-atom energies, forces (eV/Å) and virial (eV, 3×3).

    `radial`: "auto" (the radial networks as the model was loaded: SevenNet
    float32 reads its tables), "exact" or "tables" (an error where the model
    has none in that precision). `simd`: the CPU kernels' instruction set,
    "auto" (the best), "none", "avx2" or "avx512" (an error if the CPU lacks
    it). `profile=True` adds "profile": a list of (stage, seconds) pairs, the
    per-stage wall times of this evaluation."""
    args = _handle("model", model, Model), _handle("graph", graph, Graph)
    ws = _handle("workspace", workspace, Workspace, optional=True)
    evaluation = _Evaluation(graph, precision, radial, simd, profile)
    check(lib.eqp_compute_with_options(*args, ws, ctypes.byref(evaluation.options),
                                       ctypes.byref(evaluation.results)))
    return evaluation.finish()


def compute_with_halo(model, graph, exchange, workspace=None, precision="float64", radial="auto", simd="auto",
                      profile=False):
    """Like `compute` (the same options), on a graph of local atoms plus ghosts
    within one cutoff (Graph.from_neighbor_list), getting the ghosts' node
    features from their owners through `exchange(direction, values)`
    (eqp_compute_with_halo_and_options).

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
    args = _handle("model", model, Model), _handle("graph", graph, Graph)
    ws = _handle("workspace", workspace, Workspace, optional=True)
    evaluation = _Evaluation(graph, precision, radial, simd, profile)
    if not callable(exchange):
        raise TypeError(f"exchange must be callable, got {type(exchange).__name__}")
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
    status = lib.eqp_compute_with_halo_and_options(*args, ws, ctypes.byref(evaluation.options), callback, None,
                                                   ctypes.byref(evaluation.results))
    if raised:
        raise raised.pop()  # its __traceback__ still holds the exchange's frames
    check(status)
    return evaluation.finish()
