"""Modal (fidelity head, task) selection of multi-modal SevenNet models in
real LAMMPS, on 1 and 2 MPI ranks: `pair_style equipot modal NAME` gives the
library's numbers for that modal, and an unknown modal ends LAMMPS with an
error listing the model's modals.

For every (model, modal) case, on one small triclinic crystal of Si, C and O
(32 atoms, one NVE step):
  - 1 rank, graphs periodic and exchange: energy, forces, virial, per-atom
    energies and virials equal the library's own evaluation with that modal
    (≤ 1e-8 relative, float64, as test_model.py); the default modal is named
    on graph periodic and left out on graph exchange, so both ways of asking
    for it are checked;
  - 2 ranks (graph auto): the same at step 0 and after the NVE step equal
    the serial run with graph periodic (≤ 1e-8);
  - a modal other than the default gives other numbers than the default
    (else the comparison would prove nothing about the selection).
All cases run in one process per rank count (run_case.py --cases).

Cases: SevenNet-MF-0 (R2SCAN, PBE; converted by 10-sevenn-convert.sh) and the
random-weight fixtures of the newer architectures (tests/fixtures/sevenn/arch:
mf_ompa's mpa and omat24, omni's tasks mpa and omol25_low, the
single-task omat without a modal) and the heads of a multi-head MACE model
(tests/fixtures/mace: mh_residual's r2scan and pbe_mp; its default head is "Default").

usage: python tests/lammps/test_modals.py [--sevenn-models DIR] [--steps 1]
"""

import argparse
import os
import subprocess
import tempfile
from pathlib import Path
from types import SimpleNamespace

from common import PLUGIN, ROOT, Checks, Equipot, as_stored, run_ranks_cases
from test_model import KEYS, TOL, write_crystal

ARCH = ROOT / "tests/fixtures/sevenn/arch/models"
MACE = ROOT / "tests/fixtures/mace/models"
ELEMENTS = ["Si", "C", "O"]
NUMBERS = {"Si": 14, "C": 6, "O": 8}
MASSES = [28.0855, 12.011, 15.999]
# 2×2×1 cells of a diamond lattice (32 atoms), tilted: both cutoffs (5 and
# 6 Å) reach beyond the box, so images and ghosts matter on 1 and 2 ranks.
CRYSTAL = SimpleNamespace(cells=[2, 2, 1], lattice=["diamond", "4.6"], elements=ELEMENTS, masses=MASSES)
TILT = (1, 1, 0)


def cases(sevenn_models):
    """(label, model file, modal or None for no keyword, default modal or None)."""
    mf0 = Path(sevenn_models) / "SevenNet_MF_0.eqp.safetensors"
    return [
        ("SevenNet-MF-0", mf0, "R2SCAN", "PBE"),
        ("SevenNet-MF-0", mf0, "PBE", "PBE"),
        ("mf_ompa fixture", ARCH / "mf_ompa.eqp.safetensors", "mpa", "mpa"),
        ("mf_ompa fixture", ARCH / "mf_ompa.eqp.safetensors", "omat24", "mpa"),
        ("omni fixture", ARCH / "omni.eqp.safetensors", "mpa", "mpa"),
        ("omni fixture", ARCH / "omni.eqp.safetensors", "omol25_low", "mpa"),
        ("omat fixture (one task)", ARCH / "omat.eqp.safetensors", None, None),
        ("multi-head MACE fixture", MACE / "mh_residual.eqp.safetensors", "r2scan", "Default"),
        ("multi-head MACE fixture", MACE / "mh_residual.eqp.safetensors", "pbe_mp", "Default"),
        ("multi-head MACE fixture", MACE / "mh_residual.eqp.safetensors", "Default", "Default"),
    ]


def check_cases(checks, library, folder, data, cell, pbc, cases, steps):
    """Every case in LAMMPS: one process on 1 rank (graphs periodic and
    exchange) and one on 2 ranks (graph auto)."""
    def style(case, graph, keyword=True):
        _, model, modal, _ = case
        args = f"graph {graph}" + (f" modal {modal}" if modal and keyword else "")
        return dict(model=model, elements=" ".join(ELEMENTS), style_args=args)

    # The default modal named on graph periodic, left out on graph exchange:
    # both must give the library's numbers for the default.
    serial_runs = [style(case, graph, keyword=graph == "periodic" or case[2] != case[3])
                   for case in cases for graph in ("periodic", "exchange")]
    serial = run_ranks_cases(1, data, Path(folder) / "serial", serial_runs, steps=steps)
    parallel = run_ranks_cases(2, data, Path(folder) / "parallel", [style(case, "auto") for case in cases],
                               steps=steps)
    for index, (label, model, modal, default) in enumerate(cases):
        name = f"{label}, modal {modal or '(none)'}"
        periodic, exchange = serial[2 * index][0], serial[2 * index + 1][0]
        numbers = [NUMBERS[ELEMENTS[t - 1]] for t in periodic["start_types"]]
        direct = library.evaluate(model, periodic["start_positions"], numbers, cell, pbc, modal=modal)
        if modal != default:
            other = library.evaluate(model, periodic["start_positions"], numbers, cell, pbc)
            checks.check(f"{name}: differs from the default modal {default}",
                         abs(other["energy"] - direct["energy"]) > 1e-3,
                         f"{direct['energy']:.6f} vs {other['energy']:.6f} eV")
        keyword = "without the modal keyword" if modal and modal == default else "with the modal keyword"
        for graph, result in (("periodic", periodic), (f"exchange, {keyword}", exchange)):
            for key in KEYS:
                expected = as_stored(direct[key]) if "virial" in key else direct[key]
                checks.close(f"{name}, 1 rank, graph {graph} vs library: {key}", result[f"start_{key}"], expected,
                             TOL)
        two, nlocal = parallel[index]
        for when in ("start", "moved"):
            for key in KEYS:
                checks.close(f"{name}, 2 ranks ({nlocal} atoms) vs 1 (graph periodic), {when}: {key}",
                             two[f"{when}_{key}"], periodic[f"{when}_{key}"], TOL)


def check_unknown_modal(checks, folder, label, model, modals):
    """`modal NAME` that the model lacks: LAMMPS stops with the model's modals."""
    script = Path(folder) / "in.unknown-modal"
    script.write_text(f"""
units metal
atom_style atomic
lattice diamond 4.6
region box block 0 1 0 1 0 1
create_box 3 box
create_atoms 1 box
mass * 28.0855
plugin load {PLUGIN}
pair_style equipot modal PBE0
pair_coeff * * {model} {' '.join(ELEMENTS)}
run 0
""")
    listed = "[" + ", ".join(f'"{m}"' for m in modals) + "]"
    expected = f'unknown modal "PBE0": this model has {listed}'
    for ranks in (1, 2):
        log = Path(folder) / "log.unknown-modal"
        log.unlink(missing_ok=True)
        command = ["lmp", "-in", str(script), "-log", str(log), "-nocite"]
        if ranks > 1:
            command = ["mpirun", "-np", str(ranks)] + command
        done = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=folder)
        output = done.stdout + done.stderr + (log.read_text(errors="replace") if log.exists() else "")
        errors = [line for line in output.splitlines() if "ERROR" in line]
        checks.check(f"{label}: unknown modal on {ranks} rank(s) is a LAMMPS error listing the modals",
                     done.returncode > 0 and expected in output and "cannot load model" in output,
                     f"exit {done.returncode}: {errors[0] if errors else output[-400:]!r}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sevenn-models", default=os.environ.get("EQUIPOT_SEVENN_MODELS",
                                                                  ROOT / "target/sevenn/models"))
    parser.add_argument("--steps", type=int, default=1, help="NVE steps before the 1 vs 2 ranks comparison")
    args = parser.parse_args()

    library = Equipot()
    checks = Checks("modals in LAMMPS")
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder) / "crystal.data"
        cell, pbc = write_crystal(data, CRYSTAL, TILT, "p p p")
        check_cases(checks, library, folder, data, cell, pbc, cases(args.sevenn_models), args.steps)
        check_unknown_modal(checks, folder, "SevenNet-MF-0", Path(args.sevenn_models) / "SevenNet_MF_0.eqp.safetensors",
                            ["R2SCAN", "PBE"])
        check_unknown_modal(checks, folder, "omni fixture", ARCH / "omni.eqp.safetensors",
                            ["mpa", "omat24", "matpes_pbe", "matpes_r2scan", "mp_r2scan", "oc20", "oc22", "odac23",
                             "omol25_low", "omol25_high", "spice", "qcml", "pet_mad"])
        check_unknown_modal(checks, folder, "multi-head MACE fixture", MACE / "mh_residual.eqp.safetensors",
                            ["pbe_mp", "r2scan", "Default"])
    checks.finish()


if __name__ == "__main__":
    main()
