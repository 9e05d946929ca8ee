"""One LAMMPS run, started by the tests (under mpirun or not): reads a
structure from a data file (written once, serially, so that atom IDs do not
depend on the number of ranks), evaluates it with pair_style equipot at step 0
and after a short NVE run, and writes (rank 0) what it read back to
OUT/result.npz and (every rank) its number of local atoms to OUT/nlocal.RANK.

usage: [mpirun -np N] python run_case.py DATA OUT --model M --elements "El ..."
           [--boundary "p p p"] [--processors "* * *"] [--comm-cutoff X] [--steps 25]
           [--style-args "graph periodic"]
       [mpirun -np N] python run_case.py DATA OUT --pair-file FILE [...]
(--pair-file: LAMMPS pair commands to run instead of pair_style equipot
MODEL, after the plugin is loaded, e.g. pair_style hybrid/overlay ...)
"""

import argparse
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
    args = parser.parse_args()

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
    elif args.model and args.elements:
        use_equipot(lmp, model=args.model, elements=args.elements, style_args=args.style_args)
    else:
        parser.error("give --model and --elements, or --pair-file")
    rank = lmp.extract_setting("world_rank")
    (args.out / f"nlocal.{rank}").write_text(str(lmp.extract_global("nlocal")))
    start = evaluate(lmp)
    lmp.commands_string(f"""
        velocity all create 40.0 8128 loop geom
        fix nve all nve
        timestep 0.001
        run {args.steps} post no
    """)
    moved = evaluate(lmp)
    if rank == 0:
        np.savez(args.out / "result.npz", **{f"start_{k}": v for k, v in start.items()},
                 **{f"moved_{k}": v for k, v in moved.items()})
    # MPI_Finalize on every rank: a rank that left without it would make
    # mpirun kill the others, rank 0 maybe before it has written its results.
    lmp.finalize()


if __name__ == "__main__":
    main()
