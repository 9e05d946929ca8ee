"""NVE energy conservation in real LAMMPS with pair_style equipot: the total
energy may wander by less than --bound eV/atom over the run (float64).

Default: the Lennard-Jones model on 256 argon atoms (fcc, 40 K, 2 fs,
2000 steps). The same script runs the issue's SevenNet-0 check
(64 Si atoms, 2000 steps, bound 1e-4 eV/atom; scripts/ci/50-lammps.sh):

  python tests/lammps/test_nve.py --model sevennet-0.eqp.safetensors \\
      --element Si --mass 28.0855 --lattice diamond 5.43 --cells 2 2 2 \\
      --temperature 300 --timestep 0.001

On one rank a message-passing model runs on the library's periodic graph
(graph auto); with --style-args "graph exchange" on LAMMPS's list with the
halo exchange, and with "graph shell" on LAMMPS's list with the ghost shell it
needs (comm_modify cutoff = layers × cutoff + skin, read from the model).
Under mpirun (e.g. `mpirun -np 2 python tests/lammps/test_nve.py ...`) the
run is parallel and rank 0 reports.
"""

import argparse
import os
import sys

import numpy as np

from common import PLUGIN, Checks, Equipot, add_crystal_arguments, crystal, new_lammps

SKIN = 1.0


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_crystal_arguments(parser)
    parser.add_argument("--cells", nargs=3, type=int, default=[4, 4, 4])
    parser.add_argument("--temperature", type=float, default=40.0)
    parser.add_argument("--timestep", type=float, default=0.002, help="ps")
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--bound", type=float, default=1e-4, help="eV/atom")
    parser.add_argument("--style-args", default="", help="pair_style equipot keywords")
    args = parser.parse_args()

    cutoff, layers = Equipot().receptive_field(args.model)
    # This run is serial: the graph is periodic (no ghost shell needed) unless
    # LAMMPS's list is asked for.
    ghost_shell = f"comm_modify cutoff {layers * cutoff + SKIN}" if "graph shell" in args.style_args else ""
    lmp = new_lammps()
    if lmp.extract_setting("world_rank") != 0:  # under mpirun: rank 0 reports
        sys.stdout = open(os.devnull, "w")
    lmp.commands_string(crystal(args, args.cells) + f"""
        neighbor {SKIN} bin
        {ghost_shell}
        plugin load {PLUGIN}
        pair_style equipot {args.style_args}
        pair_coeff * * {args.model} {args.element}
        velocity all create {args.temperature} 20251127 mom yes rot yes dist gaussian
        fix nve all nve
        timestep {args.timestep}
        variable etotal equal etotal
        fix record all vector 10 v_etotal
        thermo 500
        run {args.steps}
    """)
    natoms = lmp.get_natoms()
    samples = args.steps // 10 + 1
    etotal = np.array([lmp.extract_fix("record", 0, 1, i) for i in range(samples)])
    temperature = lmp.get_thermo("temp")
    lmp.close()
    drift = np.abs(etotal - etotal[0]).max() / natoms
    slope = np.polyfit(np.arange(len(etotal)), etotal, 1)[0] * (len(etotal) - 1) / natoms
    print(f"  {natoms} atoms, {args.steps} steps of {args.timestep} ps, final T {temperature:.1f} K, "
          f"model cutoff {cutoff} A x {layers} layer(s), pair_style equipot {args.style_args}")
    checks = Checks("NVE")
    checks.check("the system moves", temperature > 0.2 * args.temperature, f"T = {temperature:.1f} K")
    checks.check(f"max |E(t) - E(0)| < {args.bound} eV/atom", drift < args.bound,
                 f"{drift:.2e} eV/atom (linear drift over the run {slope:+.2e} eV/atom)")
    checks.finish()


if __name__ == "__main__":
    main()
