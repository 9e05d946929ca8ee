#!/usr/bin/env python3
"""Model speed: equipot (float32, through its ASE calculator over the C ABI)
against the upstream ASE calculator (torch CPU) — sevenn's for SevenNet-0 (the
default), or mace-torch's with `--reference mace` — in one run on the same
machine with the same number of threads, energy + forces + stress.

Each (code, structure) runs in its own subprocess, so that peak RSS is that
code's alone and torch's threads never meet equipot's. Per step it records
wall time and the process' CPU time (the machine may be shared: CPU time is
the steadier number). Reports µs per atom-step (median over steps after one
warm-up step) and the ratio reference / equipot.

Usage (the reference venv has torch, sevenn, ase; build equipot first with
`cargo build --release`):

    /work/venv-ref/bin/python scripts/bench_sevennet.py \\
        --model /work/ckpt/SevenNet_0__11Jul2024.eqp.safetensors [--threads 2]

MACE (a venv with mace-torch and lmdb + orjson, which mace.calculators
imports: the recipe of tests/fixtures/mace/README.md lacks those two, the
/work/venv-symmetrix of scripts/bench_mace.py has them; MODEL.model a mace-torch
model file, e.g. the random MACE-MP-0-medium-shaped one
`scripts/mace_blueprint.py --save` writes; scripts/bench_mace.py adds
Symmetrix-XL):

    python -m equipot.convert mace MODEL.model mace.eqp.safetensors
    /work/venv-symmetrix/bin/python scripts/bench_sevennet.py --reference mace \\
        --checkpoint MODEL.model --model mace.eqp.safetensors
"""

import argparse
import json
import os
import pathlib
import resource
import statistics
import subprocess
import sys
import time

import numpy as np

ROOT = pathlib.Path(__file__).resolve().parent.parent


STRUCTURES = ("si_diamond_512", "si_diamond_4096", "srtio3_625", "cu_fcc_500")


def structure(name):
    """One of STRUCTURES, rattled (σ = 0.03 Å, seed 1)."""
    from ase.build import bulk

    if name.startswith("si_diamond_"):
        n = {"si_diamond_512": 4, "si_diamond_4096": 8}[name]
        atoms = bulk("Si", "diamond", a=5.43, cubic=True).repeat((n, n, n))
    elif name == "srtio3_625":
        atoms = perovskite().repeat((5, 5, 5))
    elif name == "cu_fcc_500":  # 5x5x5 conventional fcc cells
        atoms = bulk("Cu", "fcc", a=3.61, cubic=True).repeat((5, 5, 5))
    else:
        raise SystemExit(f"unknown structure {name}")
    atoms.rattle(stdev=0.03, seed=1)
    return atoms


def perovskite():
    from ase import Atoms

    a = 3.905
    return Atoms(
        "SrTiO3",
        scaled_positions=[(0, 0, 0), (0.5, 0.5, 0.5), (0.5, 0.5, 0), (0.5, 0, 0.5), (0, 0.5, 0.5)],
        cell=[a, a, a],
        pbc=True,
    )


def equipot_calculator(model, precision, threads):
    """equipot's ASE calculator; the library is EQUIPOT_LIBRARY, else this
    checkout's target/release/libequipot.so."""
    sys.path.insert(0, str(ROOT / "bindings" / "python"))
    os.environ.setdefault("EQUIPOT_LIBRARY", str(ROOT / "target" / "release" / "libequipot.so"))
    from equipot.calculator import EquipotCalculator

    return EquipotCalculator(model, precision=precision, threads=threads)


def mace_calculator(checkpoint, dtype, threads):
    import torch

    torch.set_num_threads(threads)
    from mace.calculators import MACECalculator

    return MACECalculator(model_paths=checkpoint, device="cpu", default_dtype=dtype)


def evaluate(atoms):
    """One energy + forces + stress evaluation through atoms.calc; its wall
    and process CPU seconds."""
    w0, c0 = time.perf_counter(), time.process_time()
    atoms.get_potential_energy()
    atoms.get_forces()
    atoms.get_stress()
    return time.perf_counter() - w0, time.process_time() - c0


def timed_steps(atoms, rng, steps):
    """`steps` MD-like steps (every atom moved by N(0, 1e-3 Å) first): the
    wall and CPU seconds of each."""
    walls, cpus = [], []
    for _ in range(steps):
        atoms.positions += rng.normal(scale=1e-3, size=atoms.positions.shape)
        wall, cpu = evaluate(atoms)
        walls.append(wall)
        cpus.append(cpu)
    return walls, cpus


def peak_rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def worker(args):
    """Times one code on one structure; prints one JSON line."""
    atoms = structure(args.structure)
    if args.worker == "reference":
        if args.reference == "sevenn":
            import torch

            torch.set_num_threads(args.threads)
            from sevenn.calculator import SevenNetCalculator

            calc = SevenNetCalculator(args.checkpoint, device="cpu")
        else:
            calc = mace_calculator(args.checkpoint, "float32", args.threads)
    else:
        calc = equipot_calculator(args.model, "float32", args.threads)
    atoms.calc = calc
    evaluate(atoms)  # warm-up (not timed), on the rattled structure
    walls, cpus = timed_steps(atoms, np.random.default_rng(0), args.steps)
    n = len(atoms)
    print(
        json.dumps(
            {
                "code": args.reference if args.worker == "reference" else "equipot",
                "structure": args.structure,
                "atoms": n,
                "steps": len(walls),
                "wall_us_per_atom_step": 1e6 * statistics.median(walls) / n,
                "cpu_us_per_atom_step": 1e6 * statistics.median(cpus) / n,
                "peak_rss_mb": peak_rss_mb(),
            }
        ),
        flush=True,
    )


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="equipot model file converted from the same checkpoint")
    p.add_argument("--reference", choices=["sevenn", "mace"], default="sevenn", help="the upstream code to time")
    p.add_argument("--checkpoint", default="7net-0",
                   help="sevenn checkpoint (default 7net-0: SevenNet-0 11Jul2024), or the mace-torch model file")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--steps", type=int, default=5, help="timed steps per structure (after one warm-up)")
    p.add_argument("--reference-steps-large", type=int, default=2, help="timed reference steps at 4096 atoms (slow)")
    p.add_argument("--structures", default="si_diamond_512,srtio3_625,si_diamond_4096")
    p.add_argument("--worker", choices=["equipot", "reference"], help=argparse.SUPPRESS)
    p.add_argument("--structure", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        return worker(args)

    print(f"# host {os.uname().nodename}, {os.cpu_count()} cores, load {os.getloadavg()}, threads {args.threads}")
    rows = []
    for name in args.structures.split(","):
        result = {}
        for code in ("equipot", "reference"):
            steps = args.reference_steps_large if (code == "reference" and "4096" in name) else args.steps
            cmd = [sys.executable, __file__, "--worker", code, "--structure", name, "--steps", str(steps)]
            cmd += ["--model", args.model, "--checkpoint", args.checkpoint, "--threads", str(args.threads)]
            cmd += ["--reference", args.reference]
            env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads))
            out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout
            result[code] = json.loads(out.strip().splitlines()[-1])
            print(json.dumps(result[code]), flush=True)
        e, s = result["equipot"], result["reference"]
        rows.append((name, e["atoms"], s, e))
    print()
    print(f"| structure | atoms | {args.reference} µs/atom-step (wall / CPU) | equipot f32 µs/atom-step (wall / CPU) "
          "| speed-up (wall / CPU) | equipot peak RSS |")
    print("|---|---|---|---|---|---|")
    for name, n, s, e in rows:
        print(
            f"| {name} | {n} | {s['wall_us_per_atom_step']:.0f} / {s['cpu_us_per_atom_step']:.0f} "
            f"| {e['wall_us_per_atom_step']:.0f} / {e['cpu_us_per_atom_step']:.0f} "
            f"| {s['wall_us_per_atom_step'] / e['wall_us_per_atom_step']:.1f}× / "
            f"{s['cpu_us_per_atom_step'] / e['cpu_us_per_atom_step']:.1f}× | {e['peak_rss_mb']:.0f} MB |"
        )
    print(f"# load after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
