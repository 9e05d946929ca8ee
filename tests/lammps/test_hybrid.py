"""pair_style equipot inside pair_style hybrid and hybrid/overlay, with
`pair_coeff * * equipot MODEL El ... NULL ...`: atoms of NULL types are no
part of the model (neither centers nor neighbors), get nothing from equipot,
and are left to the other sub-styles. In real LAMMPS, ≤ 1e-8 relative,
float64, on 1, 2 and 4 MPI ranks, every graph mode:

1. the Lennard-Jones test model (Ar, Kr) with a third type mapped NULL and
   lj/cut on the pairs of that type == LAMMPS's own lj/cut on every pair
   (energy, forces, virial, per-atom energies and virials, at step 0 and
   after NVE steps); also with zbl overlaid on every pair;
2. SevenNet-0 on Si with some atoms of a second type mapped NULL, under
   `hybrid/overlay equipot lj/cut` (lj/cut on every pair) and `hybrid
   equipot lj/cut` (lj/cut on 1-2 and 2-2): LAMMPS − its own lj/cut alone
   == the library on the Si atoms alone, on a periodic crystal and on a
   cluster (boundary f f f, where graph shell is cheap); 2 and 4 ranks ==
   1 rank;
3. errors: every type NULL; NULL outside hybrid; unknown symbols and
   elements not in the model, also inside hybrid.

usage: python tests/lammps/test_hybrid.py [--sevennet MODEL]
(default: SevenNet_0__11Jul2024.eqp.safetensors in $EQUIPOT_SEVENN_MODELS,
else target/sevenn/models; it must exist)
"""

import argparse
import os
import tempfile
from pathlib import Path

import numpy as np

from common import ARGON_KRYPTON, CUTOFF, LJ_PARAMS, PLUGIN, ROOT, Checks, Equipot, as_stored, box, fcc, new_lammps, \
    run_ranks
from test_errors import SYSTEM, run_lmp

TOL = 1e-8
KEYS = ("energy", "forces", "virial", "atom_energies", "atom_virials")
SKIN = 1.0  # run_case.py's neighbor skin
STEPS = 5

# Lennard-Jones test: type 3 (a fifth of the argon sites) is NULL for the
# model and has its own lj/cut parameters with everything.
LJ_NULL = (0.0200, 3.7)
LJ_TYPES = ("Ar", "Kr")

# SevenNet test: type 2 (an argon-like atom on a fifth of the Si sites) is
# NULL; lj/cut (ε eV, σ Å) on 1-2 and 2-2, and with hybrid/overlay also on
# 1-1, on top of the model.
SI_LJ_CUTOFF = 5.0
SI_LJ = {(1, 1): (0.005, 1.9), (1, 2): (0.008, 2.1), (2, 2): (0.010, 2.3)}
# Si structures: name → (boundary, processor grid, serial runs (style,
# graph), parallel runs (ranks, style, graph)); the first serial run of a
# style is the reference of the others. The shell of a periodic crystal is
# ~200 images of it, so graph shell runs on the cluster (boundary f f f),
# where the shell holds the other rank's atoms. In the slab under argon the
# top one of 4 ranks holds neither Si atoms nor Si ghosts.
SI_STRUCTURES = {
    "crystal": ("p p p", "* * *",
                [("hybrid/overlay", "graph periodic"), ("hybrid/overlay", "graph exchange"), ("hybrid", "graph auto")],
                [(2, "hybrid/overlay", "graph exchange"), (4, "hybrid/overlay", "graph auto"),
                 (2, "hybrid", "graph exchange")]),
    "cluster": ("f f f", "* * *",
                [("hybrid/overlay", "graph periodic"), ("hybrid/overlay", "graph exchange"),
                 ("hybrid/overlay", "graph shell"), ("hybrid", "graph shell")],
                [(2, "hybrid/overlay", "graph exchange"), (2, "hybrid/overlay", "graph shell"),
                 (2, "hybrid", "graph shell")]),
    "slab under argon": ("p p f", "1 1 *",
                         [("hybrid/overlay", "graph periodic"), ("hybrid/overlay", "graph exchange")],
                         [(4, "hybrid/overlay", "graph exchange")]),
}


# --------------------------------------------------------------------------
# Pair commands.

def lj_model_pairs(style, graph, zbl=False):
    """The LJ model on Ar and Kr, lj/cut on the pairs of the NULL type 3."""
    overlay = " zbl 3.0 4.0" if zbl else ""
    lines = [f"pair_style {style} equipot {graph} lj/cut {CUTOFF}{overlay}",
             f"pair_coeff * * equipot {ARGON_KRYPTON} {' '.join(LJ_TYPES)} NULL",
             f"pair_coeff * 3 lj/cut {LJ_NULL[0]} {LJ_NULL[1]}",
             "pair_modify pair lj/cut shift yes"]
    return lines + (zbl_coeffs("zbl ") if zbl else [])


def lj_cut_pairs(zbl=False):
    """LAMMPS's own lj/cut on every pair: the LJ model's parameters on 1-2."""
    lines = ([f"pair_style hybrid/overlay lj/cut {CUTOFF} zbl 3.0 4.0"] if zbl else [f"pair_style lj/cut {CUTOFF}"])
    style = "lj/cut " if zbl else ""
    for i, a in enumerate(LJ_TYPES, 1):
        for j, b in enumerate(LJ_TYPES, 1):
            if i <= j:
                eps, sigma = LJ_PARAMS.get((a, b)) or LJ_PARAMS[(b, a)]
                lines.append(f"pair_coeff {i} {j} {style}{eps} {sigma}")
    lines.append(f"pair_coeff * 3 {style}{LJ_NULL[0]} {LJ_NULL[1]}")
    lines.append("pair_modify pair lj/cut shift yes" if zbl else "pair_modify shift yes")
    return lines + (zbl_coeffs("zbl ") if zbl else [])


def zbl_coeffs(prefix):
    z = (18, 36, 54)
    return [f"pair_coeff {i} {j} {prefix}{z[i - 1]} {z[j - 1]}" for i in range(1, 4) for j in range(i, 4)]


def si_pairs(style, model, graph):
    """SevenNet-0 on type 1 (Si), type 2 NULL; lj/cut on 1-2, 2-2 and, with
    hybrid/overlay, also 1-1."""
    pairs = list(SI_LJ) if style == "hybrid/overlay" else [(1, 2), (2, 2)]
    return ([f"pair_style {style} equipot {graph} lj/cut {SI_LJ_CUTOFF}",
             f"pair_coeff * * equipot {model} Si NULL"] +
            [f"pair_coeff {i} {j} lj/cut {SI_LJ[(i, j)][0]} {SI_LJ[(i, j)][1]}" for i, j in pairs])


def si_lj_only(style):
    """LAMMPS's lj/cut alone with the coefficients of si_pairs(style)."""
    pairs = list(SI_LJ) if style == "hybrid/overlay" else [(1, 2), (2, 2)]
    lines = [f"pair_style lj/cut {SI_LJ_CUTOFF}", "pair_coeff 1 1 0.0 1.0"]
    return lines + [f"pair_coeff {i} {j} {SI_LJ[(i, j)][0]} {SI_LJ[(i, j)][1]}" for i, j in pairs]


# --------------------------------------------------------------------------
# Structures (written once, serially, so that atom IDs do not depend on the
# number of ranks).

def write_lj_crystal(path):
    lmp = new_lammps()
    fcc(lmp, cells=(3, 3, 3), ntypes=3)
    lmp.command(f"write_data {path}")
    lmp.close()


def write_si(path, shape):
    """64 diamond-Si sites, a fifth of them type 2, periodic or a cluster
    with 8 Å of vacuum around it; or a periodic 2×2 Si slab (32 atoms) under
    atoms of type 2 (fcc), with walls along z (atoms kept off them)."""
    boundary = SI_STRUCTURES[shape][0]
    lmp = new_lammps()
    lmp.commands_string(f"""
        units metal
        atom_style atomic
        boundary {boundary}
        lattice diamond 5.43
    """)
    if shape == "crystal":
        lmp.command("region box block 0 2 0 2 0 2")
        lmp.command("create_box 2 box")
        lmp.command("create_atoms 1 box")
    elif shape == "cluster":
        lmp.command("region box block -1.5 3.5 -1.5 3.5 -1.5 3.5")
        lmp.command("create_box 2 box")
        lmp.command("region cluster block 0 1.99 0 1.99 0 1.99")
        lmp.command("create_atoms 1 region cluster")
    else:
        lmp.commands_string("""
            region box block 0 2 0 2 0 8
            create_box 2 box
            region silicon block INF INF INF INF 0.2 1.1
            create_atoms 1 region silicon
            lattice fcc 5.43
            region argon block INF INF INF INF 1.45 7.9
            create_atoms 2 region argon
        """)
    if shape != "slab under argon":
        lmp.command("set type 1 type/fraction 2 0.2 77")
    lmp.commands_string(f"""
        displace_atoms all random 0.1 0.1 0.1 31 units box
        mass 1 28.0855
        mass 2 39.948
        write_data {path}
    """)
    cell, pbc = box(lmp)
    lmp.close()
    return cell, pbc


class Runs:
    """run_case.py runs of one structure under pair commands, each once."""

    def __init__(self, folder, data, **options):
        self.folder, self.data, self.options, self.count = Path(folder), data, options, 0

    def __call__(self, ranks, lines, **extra):
        self.count += 1
        pair_file = self.folder / f"{self.data.stem}-{self.count}.pair"
        pair_file.write_text("\n".join(lines) + "\n")
        options = dict(self.options, steps=STEPS, pair_file=pair_file, **extra)
        result, nlocal = run_ranks(ranks, self.data, self.folder / f"{self.data.stem}-{self.count}", **options)
        return result


def compare(checks, name, result, reference, whens=("start", "moved")):
    for when in whens:
        checks.check(f"{name}, {when}: same atoms", np.array_equal(result[f"{when}_ids"], reference[f"{when}_ids"]))
        for key in KEYS:
            checks.close(f"{name}, {when}: {key}", result[f"{when}_{key}"], reference[f"{when}_{key}"], TOL)


# --------------------------------------------------------------------------

def lj_model_checks(checks, folder):
    data = Path(folder) / "lj.data"
    write_lj_crystal(data)
    run = Runs(folder, data, boundary="p p p", processors="* * *")
    for zbl in (False, True):
        what = "LJ model (Ar Kr NULL) + lj/cut" + (" + zbl" if zbl else "")
        reference = run(1, lj_cut_pairs(zbl))
        types = reference["start_types"]
        checks.check(f"{what}: all three types present", set(types) == {1, 2, 3}, str(np.bincount(types)[1:]))
        cases = [(1, "hybrid/overlay", "graph periodic"), (1, "hybrid/overlay", "graph exchange"),
                 (1, "hybrid/overlay", "graph shell"), (1, "hybrid", "graph auto"),
                 (2, "hybrid/overlay", "graph exchange"), (2, "hybrid", "graph shell"),
                 (4, "hybrid/overlay", "graph auto")]
        if zbl:
            cases = [cases[1], cases[4]]
        for ranks, style, graph in cases:
            result = run(ranks, lj_model_pairs(style, graph, zbl))
            compare(checks, f"{what}, {style} {graph}, {ranks} rank(s) vs LAMMPS alone", result, reference)


def si_checks(checks, folder, model, library, shape):
    boundary, processors, serial, parallel = SI_STRUCTURES[shape]
    data = Path(folder) / f"si-{shape.replace(' ', '-')}.data"
    cell, pbc = write_si(data, shape)
    run = Runs(folder, data, boundary=boundary, processors=processors)
    cutoff, layers = library.receptive_field(model)
    options = lambda graph: dict(comm_cutoff=layers * cutoff + SKIN) if graph == "graph shell" else {}

    references, library_result = {}, None
    for style in dict.fromkeys(style for style, _ in serial):
        lj = references[style] = run(1, si_lj_only(style))
        if library_result is None:
            types, positions = lj["start_types"], lj["start_positions"]
            si = types == 1
            checks.check(f"Si {shape}: {si.sum()} Si atoms and {(~si).sum()} NULL atoms", 0 < si.sum() < len(si))
            alone = library.evaluate(model, positions[si], np.full(si.sum(), 14), cell, pbc)
            # Scattered over all atoms: nothing on the NULL ones.
            library_result = {"energy": alone["energy"], "virial": as_stored(alone["virial"])}
            for key, shape_of in (("forces", (3,)), ("atom_energies", ()), ("atom_virials", (3, 3))):
                full = np.zeros((len(types),) + shape_of)
                full[si] = as_stored(alone[key]) if key == "atom_virials" else alone[key]
                library_result[key] = full
            # Had the model seen the NULL atoms (as Si), the numbers would differ.
            seen = library.evaluate(model, positions, np.full(len(types), 14), cell, pbc)
            checks.check(f"Si {shape}: the NULL atoms change the model's energy if seen",
                         abs(seen["energy"] - alone["energy"]) > 1e-2,
                         f"{seen['energy']:.4f} vs {alone['energy']:.4f} eV")
        checks.check(f"Si {shape}: lj/cut ({style}) acts on the NULL atoms",
                     np.abs(lj["start_forces"][~si]).max() > 1e-3)

    first = {}
    for style, graph in serial:
        result = run(1, si_pairs(style, model, graph), **options(graph))
        for key in KEYS:
            equipot_part = result[f"start_{key}"] - references[style][f"start_{key}"]
            checks.close(f"Si {shape}, {style} {graph}, 1 rank: LAMMPS - lj/cut vs library (Si only): {key}",
                         equipot_part, library_result[key], TOL)
        if style in first:
            compare(checks, f"Si {shape}, {style} {graph} vs {first[style][0]}, 1 rank", result, first[style][1],
                    whens=("moved",))
        else:
            first[style] = (graph, result)
    if shape == "slab under argon":
        # The top quarter of the box, ghosts included (lj/cut's cutoff +
        # skin), holds no Si: that rank's graph has no atoms at all.
        top = 0.75 * cell[2, 2] - SI_LJ_CUTOFF - SKIN
        highest = references["hybrid/overlay"]["start_positions"][si, 2].max()
        checks.check(f"Si {shape}: the top rank of 4 sees no Si", highest < top, f"Si up to z = {highest:.2f} < {top:.2f} A")
    for ranks, style, graph in parallel:
        result = run(ranks, si_pairs(style, model, graph), **options(graph))
        compare(checks, f"Si {shape}, {style} {graph}, {ranks} ranks vs 1 rank {first[style][0]}", result,
                first[style][1])


def error_checks(checks, folder):
    hybrid = "pair_style hybrid/overlay equipot lj/cut 5.0\npair_coeff * * lj/cut 0.01 3.4\n"
    cases = [
        ("every type NULL, hybrid/overlay", hybrid + "pair_coeff * * equipot {lj} NULL NULL",
         "every atom type is NULL"),
        ("every type NULL, plain", "pair_style equipot\npair_coeff * * {lj} NULL NULL", "every atom type is NULL"),
        ("NULL outside hybrid", "pair_style equipot\npair_coeff * * {lj} Ar NULL\nrun 0",
         "NULL leaves atom types to other pair styles, so it needs pair_style hybrid"),
        ("unknown symbol in hybrid", hybrid + "pair_coeff * * equipot {lj} Ar Xx",
         "'Xx' (atom type 2) is not an element symbol (nor NULL)"),
        ("lower-case null", hybrid + "pair_coeff * * equipot {lj} Ar null",
         "'null' (atom type 2) is not an element symbol (nor NULL)"),
        ("element not in the model, in hybrid", hybrid + "pair_coeff * * equipot {lj} NULL Si",
         "element Si (atom type 2) is not in model"),
        ("types other than * * in hybrid", hybrid + "pair_coeff 1 1 equipot {lj} Ar NULL",
         "Incorrect args for pair coefficients"),  # LAMMPS's check (one_coeff)
        ("NULL counts as a type", hybrid + "pair_coeff * * equipot {lj} Ar", "got 4 arguments"),
    ]
    for ranks in (1, 2):
        for name, commands, expected in cases:
            if ranks == 2 and not name.startswith("every type NULL"):
                continue
            text = SYSTEM.format(units="metal", newton="on", atom_modify="", lattice=5.26, plugin=PLUGIN)
            status, output = run_lmp(text + commands.format(lj=ARGON_KRYPTON) + "\n", folder, ranks)
            error_lines = [line for line in output.splitlines() if "ERROR" in line]
            checks.check(f"error: {name} ({ranks} rank{'s' if ranks > 1 else ''})", status > 0 and expected in output,
                         f"exit {status}: {error_lines[0] if error_lines else output[-400:]!r}")
    # The good input runs, so the failures above are the pair style's doing.
    text = SYSTEM.format(units="metal", newton="on", atom_modify="", lattice=5.26, plugin=PLUGIN)
    text += hybrid + f"pair_coeff * * equipot {ARGON_KRYPTON} Ar NULL\nrun 0\n"
    status, output = run_lmp(text, folder, 1)
    checks.check("the same input with Ar NULL runs", status == 0, f"exit {status}{'' if status == 0 else output[-400:]}")


def default_sevennet():
    models = Path(os.environ.get("EQUIPOT_SEVENN_MODELS", ROOT / "target/sevenn/models"))
    return models / "SevenNet_0__11Jul2024.eqp.safetensors"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sevennet", type=Path, default=default_sevennet())
    args = parser.parse_args()
    if not args.sevennet.exists():
        raise SystemExit(f"SevenNet-0 model {args.sevennet} not found (scripts/ci/10-sevenn-convert.sh makes it; "
                         "or set EQUIPOT_SEVENN_MODELS)")
    library = Equipot()
    checks = Checks("hybrid")
    with tempfile.TemporaryDirectory() as folder:
        error_checks(checks, folder)
        lj_model_checks(checks, folder)
        for shape in SI_STRUCTURES:
            si_checks(checks, folder, args.sevennet, library, shape)
    checks.finish()


if __name__ == "__main__":
    main()
