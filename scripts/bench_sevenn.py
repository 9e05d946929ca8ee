"""Time SevenNet-0 energy + forces + stress: sevenn's ASE calculator (torch, CPU).

    /work/venv-ref/bin/python scripts/bench_sevenn.py --out bench.json [--threads 2]

Cases: rattled Si diamond with 512 and 4096 atoms, and a rattled SrTiO3
supercell (320 atoms). Each case runs in its own subprocess (so its peak RSS
is its own): one warm-up step, then --steps timed steps; a step moves the
atoms slightly and asks for energy, forces and stress. Reported: median
microseconds per atom-step, wall clock and process CPU time (all threads;
on a machine shared with other work the CPU time is the steadier number),
and the peak RSS.

The equipot side will be timed by this same script (an --engine option added
with the equipot ASE calculator), on the same machine and thread count.
"""

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time

CASES = {
    'si_diamond_512': ('Si', 4),
    'si_diamond_4096': ('Si', 8),
    'srtio3_320': ('SrTiO3', 4),
}


def build(case):
    import numpy as np
    from ase import Atoms
    from ase.build import bulk

    kind, n = CASES[case]
    if kind == 'Si':
        atoms = bulk('Si', 'diamond', a=5.43, cubic=True).repeat((n, n, n))
    else:
        atoms = Atoms(
            'SrTiO3',
            scaled_positions=[[0, 0, 0], [0.5, 0.5, 0.5], [0.5, 0.5, 0], [0.5, 0, 0.5], [0, 0.5, 0.5]],
            cell=np.eye(3) * 3.905,
            pbc=True,
        ).repeat((n, n, n))
    atoms.rattle(0.03, seed=1)
    return atoms


def median(values):
    v = sorted(values)
    n = len(v)
    return v[n // 2] if n % 2 else 0.5 * (v[n // 2 - 1] + v[n // 2])


def run_case(case, engine, threads, steps):
    import numpy as np

    atoms = build(case)
    if engine == 'sevenn':
        import warnings

        warnings.filterwarnings('ignore')
        import torch

        torch.set_num_threads(threads)
        from sevenn.calculator import SevenNetCalculator

        atoms.calc = SevenNetCalculator('7net-0', device='cpu')
    else:
        raise SystemExit(f'unknown engine {engine}')
    rng = np.random.default_rng(0)
    times, cpu = [], []
    for step in range(steps + 1):
        atoms.positions += rng.normal(scale=1e-3, size=atoms.positions.shape)
        t0, c0 = time.perf_counter(), time.process_time()
        atoms.get_potential_energy()
        atoms.get_forces()
        atoms.get_stress()
        dt, dc = time.perf_counter() - t0, time.process_time() - c0
        if step > 0:  # step 0 is the warm-up
            times.append(dt)
            cpu.append(dc)
    return {
        'case': case,
        'engine': engine,
        'atoms': len(atoms),
        'threads': threads,
        'steps_timed': steps,
        'seconds_per_step': times,
        'cpu_seconds_per_step': cpu,
        'median_us_per_atom_step': median(times) / len(atoms) * 1e6,
        'median_cpu_us_per_atom_step': median(cpu) / len(atoms) * 1e6,
        'peak_rss_mb': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--engine', default='sevenn', choices=['sevenn'])
    ap.add_argument('--threads', type=int, default=2)
    ap.add_argument('--steps', type=int, default=3)
    ap.add_argument('--cases', nargs='*', default=list(CASES))
    ap.add_argument('--out', default='bench_sevenn.json')
    ap.add_argument('--case', help=argparse.SUPPRESS)  # internal: run one case here
    args = ap.parse_args()

    if args.case:
        print(json.dumps(run_case(args.case, args.engine, args.threads, args.steps)))
        return

    results = []
    for case in args.cases:
        steps = 2 if case == 'si_diamond_4096' else args.steps
        cmd = [sys.executable, __file__, '--case', case, '--engine', args.engine,
               '--threads', str(args.threads), '--steps', str(steps)]
        env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads))
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if proc.returncode != 0:
            raise SystemExit(f'{case} failed:\n{proc.stderr[-3000:]}')
        res = json.loads(proc.stdout.strip().splitlines()[-1])
        print(f"{res['engine']:7s} {case:16s} {res['atoms']:5d} atoms  "
              f"{res['median_us_per_atom_step']:10.0f} us/atom-step (wall), "
              f"{res['median_cpu_us_per_atom_step']:10.0f} CPU-us/atom-step  peak RSS {res['peak_rss_mb']:.0f} MB",
              flush=True)
        results.append(res)
    info = {
        'machine': platform.node(),
        'cpu_count': os.cpu_count(),
        'load_average_at_end': os.getloadavg(),
        'python': platform.python_version(),
        'results': results,
    }
    try:
        import sevenn
        import torch

        info.update(sevenn=sevenn.__version__, torch=torch.__version__)
    except ImportError:
        pass
    with open(args.out, 'w') as f:
        json.dump(info, f, indent=1)


if __name__ == '__main__':
    main()
