"""One LAMMPS run, started by the tests (under mpirun or not): reads a
structure from a data file (written once, serially, so that atom IDs do not
depend on the number of ranks), evaluates it with pair_style equipot at step 0
and after a short NVE run, and writes (rank 0) what it read back to
OUT/result.npz and (every rank) its number of local atoms to OUT/nlocal.RANK.

usage: [mpirun -np N] python run_case.py DATA OUT --model M --elements "El ..."
           [--boundary "p p p"] [--processors "* * *"] [--comm-cutoff X] [--steps 25]
           [--style-args "graph periodic"]
       [mpirun -np N] python run_case.py DATA OUT --pair-file FILE [...]
       [mpirun -np N] python run_case.py DATA OUT --cases CASES.json [...]
(--pair-file: LAMMPS pair commands to run instead of pair_style equipot
MODEL, after the plugin is loaded, e.g. pair_style hybrid/overlay ...;
--cases: a JSON list of {"model", "elements", "style_args"}, each run in a
fresh LAMMPS instance of the same process, results in OUT/INDEX/: one start
of Python, MPI and LAMMPS for many short cases)
"""

import argparse
import json
from pathlib import Path

import numpy as np

from common import PLUGIN, evaluate, new_lammps, use_equipot


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("data")
    parser.add_argument("out", type=Path)
    parser.add_argument("--model")
    parser.add_argument("--elements")
    parser.add_argument("--pair-file", help="pair commands instead of --model and --elements")
    parser.add_argument("--boundary", default="p p p")
    parser.add_argument("--processors", default="* * *")
    parser.add_argument("--comm-cutoff", type=float, default=0.0)
    parser.add_argument("--steps", type=int, default=25)
    parser.add_argument("--style-args", default="", help="pair_style equipot keywords")
    parser.add_argument("--cases", type=Path, help="JSON list of cases (model, elements, style_args)")
    args = parser.parse_args()
    if args.cases:
        cases = json.loads(args.cases.read_text())
        if not cases:
            parser.error(f"{args.cases} lists no cases")
        lmp = None
        for index, case in enumerate(cases):
            if lmp is not None:
                lmp.close()
            out = args.out / str(index)
            out.mkdir(exist_ok=True)
            lmp = run(args, out, case["model"], case["elements"], case["style_args"])
    elif args.pair_file or (args.model and args.elements):
        lmp = run(args, args.out, args.model, args.elements, args.style_args)
    else:
        parser.error("give --model and --elements, --pair-file or --cases")
    # MPI_Finalize on every rank: a rank that left without it would make
    # mpirun kill the others, rank 0 maybe before it has written its results.
    lmp.finalize()


def run(args, out, model, elements, style_args):
    """One structure in a new LAMMPS instance: step 0 and after the NVE steps;
    returns the instance (still open)."""
    lmp = new_lammps()
    lmp.commands_string(f"""
        units metal
        atom_style atomic
        atom_modify map array
        boundary {args.boundary}
        processors {args.processors}
        read_data {args.data}
        neighbor 1.0 bin
    """)
    if args.comm_cutoff > 0:
        lmp.command(f"comm_modify cutoff {args.comm_cutoff}")
    if args.pair_file:
        lmp.command(f"plugin load {PLUGIN}")
        lmp.file(args.pair_file)
    else:
        use_equipot(lmp, model=model, elements=elements, style_args=style_args)
    rank = lmp.extract_setting("world_rank")
    (out / f"nlocal.{rank}").write_text(str(lmp.extract_global("nlocal")))
    start = evaluate(lmp)
    lmp.commands_string(f"""
        velocity all create 40.0 8128 loop geom
        fix nve all nve
        timestep 0.001
        run {args.steps} post no
    """)
    moved = evaluate(lmp)
    if rank == 0:
        np.savez(out / "result.npz", **{f"start_{k}": v for k, v in start.items()},
                 **{f"moved_{k}": v for k, v in moved.items()})
    return lmp


if __name__ == "__main__":
    main()
