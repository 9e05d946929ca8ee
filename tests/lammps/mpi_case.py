"""One LAMMPS run of test_mpi.py, started under mpirun: reads the case's
structure from DATA (written once, serially, so that atom IDs do not depend on
the number of ranks), evaluates it at step 0 and after a short NVE run, and
writes (rank 0) what it read back to OUT/result.npz and (every rank) its
number of local atoms to OUT/nlocal.RANK.

usage: mpirun -np N python mpi_case.py CASE DATA OUT
       python mpi_case.py --write CASE DATA
"""

import sys
from pathlib import Path

import numpy as np

from common import evaluate, fcc, new_lammps, use_equipot

CASES = {
    "periodic": dict(setup=dict(cells=(8, 4, 4)), processors="* * *"),
    # Vacuum above and below, ranks stacked along z: with 4 ranks the top
    # and bottom subdomains hold no atoms.
    "slab": dict(setup=dict(cells=(8, 4, 4), boundary="p p f", vacuum=20.0), processors="1 1 *"),
}


def write(case, data):
    lmp = new_lammps()
    fcc(lmp, **CASES[case]["setup"])
    lmp.command(f"write_data {data}")
    lmp.close()


def main():
    if sys.argv[1] == "--write":
        return write(sys.argv[2], sys.argv[3])
    case, data, out = CASES[sys.argv[1]], sys.argv[2], Path(sys.argv[3])
    lmp = new_lammps()
    lmp.commands_string(f"""
        units metal
        atom_style atomic
        atom_modify map array
        boundary {case['setup'].get('boundary', 'p p p')}
        processors {case['processors']}
        read_data {data}
    """)
    use_equipot(lmp)
    rank = lmp.extract_setting("world_rank")
    (out / f"nlocal.{rank}").write_text(str(lmp.extract_global("nlocal")))
    start = evaluate(lmp)
    lmp.commands_string("""
        velocity all create 40.0 8128 loop geom
        fix nve all nve
        timestep 0.002
        run 25 post no
    """)
    moved = evaluate(lmp)
    if rank == 0:
        np.savez(out / "result.npz", **{f"start_{k}": v for k, v in start.items()},
                 **{f"moved_{k}": v for k, v in moved.items()})
    lmp.close()


if __name__ == "__main__":
    main()
