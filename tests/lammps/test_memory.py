"""Re-issuing pair_style and pair_coeff 100 times (with a run each time, and
every other time after switching to another pair style, so that the pair
style is destroyed and created again) does not grow the process's memory.

The model is a Lennard-Jones model of all 118 elements (two 118×118 tables,
about 220 kB each time it is loaded), so that a leaked model, workspace
(thread pool) or buffer set would show up in the resident set size. With
--model, another model file (CI: SevenNet-0, ~80 MB of weights and radial
tables per load, both atom types mapped to --elements).
"""

import argparse
import ctypes
import json
import statistics
import tempfile
from pathlib import Path

from common import PLUGIN, Checks, fcc, new_lammps

ROUNDS, WARMUP = 100, 10
BOUND_MB = 4.0  # allocator noise; a leaked model alone would add ~22 MB over 100 rounds


def rss_mb():
    """Resident set size after glibc has given its free heap memory back to
    the system (malloc_trim): what is left is memory in use. Without the
    trim, freed memory kept in malloc's arenas (one per thread of each
    workspace) shows up as growth that is not a leak: a SevenNet-0 run in CI
    once grew by 54 MB over 100 rounds that way, and by 1.6 MB in another."""
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS in /proc/self/status")


def big_model(path):
    n = 118
    eps = [[0.01 + 1e-5 * (i + j) for j in range(n)] for i in range(n)]
    sigma = [[3.0 + 1e-3 * (i + j) for j in range(n)] for i in range(n)]
    spec = dict(format_version="1.0", architecture="lennard-jones", species=list(range(1, n + 1)),
                cutoff=8.5, epsilon=eps, sigma=sigma)
    path.write_text(json.dumps({"equipot": spec}))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", help="model file (default: an LJ model of all 118 elements)")
    parser.add_argument("--elements", default="Ar Kr", help="elements of the two atom types")
    args = parser.parse_args()
    checks = Checks("memory")
    with tempfile.TemporaryDirectory() as folder:
        model = args.model
        if model is None:
            model = Path(folder) / "lj-118.json"
            big_model(model)
        lmp = new_lammps()
        fcc(lmp, cells=(4, 4, 4))
        lmp.command(f"plugin load {PLUGIN}")
        samples = []
        before = rss_mb()
        for round in range(WARMUP + ROUNDS):
            if round % 2:
                lmp.command("pair_style zero 8.5")
                lmp.command("pair_coeff * *")
            lmp.command("pair_style equipot threads 2")
            lmp.command(f"pair_coeff * * {model} {args.elements}")
            lmp.command("run 0 post no")
            if round == 0:
                footprint = rss_mb() - before  # one model loaded and run
            if round >= WARMUP:
                samples.append(rss_mb())
        energy = lmp.get_thermo("pe")
        lmp.close()
    # Medians of the first and last fifth of the rounds: one round's
    # allocator state (which arena a thread got) moves a single sample by a
    # few MB either way; a leak moves them all.
    fifth = ROUNDS // 5
    first, last = statistics.median(samples[:fifth]), statistics.median(samples[-fifth:])
    growth = last - first
    # A leaked model would grow the process by its footprint every round;
    # a tenth of it over all rounds (a thousandth per round) is allocator
    # fragmentation, not a leak (SevenNet-0, ~130 MB loaded: -1 to +3 MB seen).
    bound = max(BOUND_MB, footprint / 10)
    checks.check("the model evaluates", energy < 0, f"pe = {energy:.6f} eV")
    checks.check(f"RSS growth over {ROUNDS} rounds < {bound:.1f} MB (one model loaded and run: {footprint:.1f} MB)",
                 growth < bound,
                 f"median {first:.1f} MB -> {last:.1f} MB ({growth:+.2f} MB; samples {min(samples):.1f}-"
                 f"{max(samples):.1f} MB)")
    checks.finish()


if __name__ == "__main__":
    main()
