"""Every bad input ends LAMMPS (the real `lmp`, serial and under mpirun) with
the pair style's message and a non-zero exit status, not a signal.

The message is looked for in the screen output and in LAMMPS's log file:
when a rank calls MPI_Abort (error->one, for errors found during a run), MPICH
sometimes kills the process that forwards the ranks' screen output before it
has passed everything on, while the log file is flushed before the abort."""

import os
import subprocess
import tempfile
from pathlib import Path

from common import ARGON, ARGON_KRYPTON, PLUGIN, Checks

SYSTEM = """
units {units}
atom_style atomic
{atom_modify}
newton {newton}
lattice fcc {lattice}
region box block 0 3 0 3 0 3
create_box 2 box
create_atoms 1 box
mass * 39.948
plugin load {plugin}
"""

# (name, pair commands, expected text, settings of SYSTEM)
CASES = [
    ("too few elements", "pair_style equipot\npair_coeff * * {lj_ar_kr} Ar",
     "got 4 arguments, expected: pair_coeff * * MODEL-FILE El1 ... El2", {}),
    ("too many elements", "pair_style equipot\npair_coeff * * {lj_ar_kr} Ar Kr Ar",
     "got 6 arguments", {}),
    ("no * *", "pair_style equipot\npair_coeff 1 1 {lj_ar_kr} Ar Kr",
     "Pair_coeff must start with * * for pair style equipot", {}),  # LAMMPS's check (one_coeff)
    ("not an element", "pair_style equipot\npair_coeff * * {lj_ar_kr} Ar Xx",
     "'Xx' (atom type 2) is not an element symbol", {}),
    ("element not in the model", "pair_style equipot\npair_coeff * * {argon} Ar Kr",
     "element Kr (atom type 2) is not in model", {}),
    ("missing model file", "pair_style equipot\npair_coeff * * {missing} Ar Kr",
     "cannot load model", {}),
    ("malformed model file", "pair_style equipot\npair_coeff * * {garbage} Ar Kr",
     "not a JSON model description", {}),
    ("weights missing", "pair_style equipot\npair_coeff * * {nequip} Ar Kr",
     "needs its weights: a safetensors file, not JSON", {}),
    ("architecture not loadable", "pair_style equipot\npair_coeff * * {painn} Ar Kr",
     "architecture \"painn\" cannot be loaded", {}),
    ("newer model format", "pair_style equipot\npair_coeff * * {newer} Ar Kr",
     "is newer than this library reads", {}),
    ("bad precision", "pair_style equipot precision half", "precision must be float64 or float32", {}),
    ("unknown keyword", "pair_style equipot accelerator gpu", "unknown keyword 'accelerator'", {}),
    ("bad device", "pair_style equipot device gpu", "device must be cpu or cuda, not 'gpu'", {}),
    # CI machines have no CUDA driver: discovery says so (docs/cuda.md).
    ("CUDA device", "pair_style equipot device cuda", "no CUDA driver (libcuda.so.1 not found", {}),
    ("keyword without value", "pair_style equipot threads", "keyword 'threads' needs a value", {}),
    ("negative threads", "pair_style equipot threads -2", "threads must be >= 0", {}),
    ("bad graph", "pair_style equipot graph ase", "graph must be auto, exchange, periodic or shell", {}),
    ("bad radial", "pair_style equipot radial fast", "radial must be auto, exact or tables, not 'fast'", {}),
    ("radial tables where the model has none (library error during the run)",
     "pair_style equipot radial tables\npair_coeff * * {lj_ar_kr} Ar Kr\nrun 0", "has none in that precision", {}),
    ("modal for a model without modals", "pair_style equipot modal PBE\npair_coeff * * {lj_ar_kr} Ar Kr",
     "modal \"PBE\" given, but this model has none", {}),
    ("units real", "pair_style equipot\npair_coeff * * {lj_ar_kr} Ar Kr\nrun 0",
     "requires units metal", dict(units="real")),
    ("newton off", "pair_style equipot\npair_coeff * * {lj_ar_kr} Ar Kr\nrun 0",
     "requires newton pair on", dict(newton="off")),
    ("no atom IDs", "pair_style equipot\npair_coeff * * {lj_ar_kr} Ar Kr\nrun 0",
     "requires atom IDs", dict(atom_modify="atom_modify id no")),
    ("atoms on top of each other (library error during the run)",
     "create_atoms 2 single 0.5 0.5 0.5\ncreate_atoms 2 single 0.5 0.5 0.5\n"
     "pair_style equipot\npair_coeff * * {lj_ar_kr} Ar Kr\nrun 0", "are at the same position", {}),
]

MODELS = {
    "garbage": '{"equipot": {"format_version": "1.0",',
    "nequip": '{"equipot": {"format_version": "1.0", "architecture": "nequip"}}',
    "painn": '{"equipot": {"format_version": "1.0", "architecture": "painn"}}',
    "newer": '{"equipot": {"format_version": "2.0", "architecture": "lennard-jones"}}',
}


def run_lmp(text, folder, ranks):
    script = Path(folder) / "in.lmp"
    script.write_text(text)
    log = Path(folder) / "log.lammps"
    log.unlink(missing_ok=True)
    command = ["lmp", "-in", str(script), "-log", str(log), "-nocite"]
    if ranks > 1:
        command = ["mpirun", "-np", str(ranks)] + command
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=folder)
    output = done.stdout + done.stderr + (log.read_text(errors="replace") if log.exists() else "")
    return done.returncode, output


def main():
    checks = Checks("errors")
    with tempfile.TemporaryDirectory() as folder:
        paths = dict(lj_ar_kr=ARGON_KRYPTON, argon=ARGON, missing=Path(folder) / "no-such-model.json")
        for name, text in MODELS.items():
            paths[name] = Path(folder) / f"{name}.json"
            paths[name].write_text(text)
        for ranks in (1, 2):
            for name, commands, expected, settings in CASES:
                values = dict(units="metal", newton="on", atom_modify="", lattice=5.26, plugin=PLUGIN)
                values.update(settings)
                if values["units"] == "real":
                    values["lattice"] = 5.26  # lattice constants are in Å in both
                text = SYSTEM.format(**values) + commands.format(**paths) + "\n"
                status, output = run_lmp(text, folder, ranks)
                error_lines = [line for line in output.splitlines() if "ERROR" in line]
                ok = status > 0 and expected in output
                checks.check(f"{name} ({ranks} rank{'s' if ranks > 1 else ''})", ok,
                             f"exit {status}: {error_lines[0] if error_lines else output[-400:]!r}")
        # graph periodic needs all atoms on one rank.
        text = SYSTEM.format(units="metal", newton="on", atom_modify="", lattice=5.26, plugin=PLUGIN)
        text += f"pair_style equipot graph periodic\npair_coeff * * {ARGON_KRYPTON} Ar Kr\nrun 0\n"
        status, output = run_lmp(text, folder, 2)
        checks.check("graph periodic on 2 ranks", status > 0 and "graph periodic works on one MPI rank only" in output,
                     f"exit {status}")
        # The good input runs, so the failures above are the pair style's doing.
        good = SYSTEM.format(units="metal", newton="on", atom_modify="", lattice=5.26, plugin=PLUGIN)
        good += f"pair_style equipot\npair_coeff * * {ARGON_KRYPTON} Ar Kr\nrun 0\n"
        status, output = run_lmp(good, folder, 1)
        checks.check("the same input with good arguments runs", status == 0,
                     f"exit {status}{'' if status == 0 else ': ' + output[-400:]}")
    checks.finish()


if __name__ == "__main__":
    main()
