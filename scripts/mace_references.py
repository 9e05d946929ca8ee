"""Reference results of a (real) mace-torch model for equipot's opt-in parity test.

Foundation models cannot be downloaded on the machines that built equipot's
MACE support, so their parity is checked by whoever has the files:

    /work/venv-mace/bin/python scripts/mace_references.py MODEL.model DIR [--name NAME]
    EQUIPOT_MACE_MODELS=DIR cargo test --release --test mace_parity -- --ignored

Converts MODEL with equipot's converter to DIR/NAME.eqp.safetensors and
writes DIR/NAME__STRUCTURE.json (a multi-head model: DIR/NAME__STRUCTURE__HEAD.json
for every head, which the test loads as the modal): mace's own float64 energy, per-atom
energies, forces and stress (the fixtures' format, tests/fixtures/mace/
generate_models.py, whose graph and evaluation code it uses) on a few
structures made of the model's elements. Loading a pickled model runs code
from the file: use only files you trust.
"""

import argparse
import contextlib
import os
import sys

os.environ.setdefault("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from ase import Atoms  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "fixtures", "mace"))
sys.path.insert(0, os.path.join(ROOT, "bindings", "python"))


def structures(zs):
    """A rattled triclinic cell, a small cell, a cluster: of up to four of the model's elements."""
    preferred = [z for z in (14, 6, 8, 22, 1, 7) if z in zs]
    els = (preferred if len(preferred) >= 2 else list(zs))[:4]
    rng = np.random.default_rng(3)
    cell = np.array([[5.1, 0.0, 0.0], [0.6, 4.9, 0.0], [-0.3, 0.5, 5.3]])
    frac = rng.uniform(0, 1, size=(8, 3))
    numbers = [els[k % len(els)] for k in range(8)]
    out = {"cell_8": Atoms(numbers, scaled_positions=frac, cell=cell, pbc=True)}
    small = Atoms(els[:2], positions=[[0.1, 0.05, 0.0], [1.4, 1.3, 1.1]],
                  cell=[[2.9, 0.1, 0.0], [0.2, 2.8, 0.1], [0.0, -0.3, 3.0]], pbc=True)
    out["small_cell"] = small
    pos = rng.normal(scale=1.3, size=(6, 3))
    out["cluster_6"] = Atoms([els[k % len(els)] for k in range(6)], positions=pos, pbc=False)
    for atoms in out.values():
        d = atoms.get_all_distances(mic=bool(atoms.pbc.any()))
        np.fill_diagonal(d, np.inf)
        if d.min() < 0.9:
            atoms.positions *= 1.3  # keep the structures physical-ish
    return out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("model")
    parser.add_argument("out")
    parser.add_argument("--name")
    args = parser.parse_args()
    with contextlib.redirect_stdout(sys.stderr):
        import mace.modules  # noqa: F401
    import generate_models as gm
    from equipot.convert import mace as mace_convert

    name = args.name or os.path.basename(args.model).split(".")[0]
    os.makedirs(args.out, exist_ok=True)
    mace_convert.convert(args.model, os.path.join(args.out, f"{name}.eqp.safetensors"))
    torch.set_default_dtype(torch.float64)
    model = torch.load(args.model, weights_only=False, map_location="cpu").double().eval()
    zs = [int(z) for z in model.atomic_numbers]
    r_max = float(model.r_max)
    heads = list(getattr(model, "heads", None) or ["Default"])
    for sname, atoms in structures(zs).items():
        for h, head in enumerate(heads):
            r64 = gm.evaluate(model, atoms, r_max, torch.float64, h)
            multi = len(heads) > 1
            gm.dump(os.path.join(args.out, f"{name}__{sname}" + (f"__{head}" if multi else "") + ".json"),
                    {"model": name, **({"head": head} if multi else {}), "structure": gm.structure_json(atoms),
                     "float64": r64})
            print(f"{name} {sname}{f' head {head}' if multi else ''}: E = {r64['energy']:.6f} eV, "
                  f"{r64['n_edges']} edges", flush=True)


if __name__ == "__main__":
    main()
