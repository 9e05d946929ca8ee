#!/usr/bin/env python3
"""Times equipot's neighbor search and vesin's on the same systems, in one run.

Systems: Si diamond (a = 5.43 Å, conventional 8-atom cell replicated n×n×n),
cutoff 5 Å, full list with i, j, shifts and vectors, 2 threads for both.
equipot is timed by examples/neighbors_timing.rs (built here with cargo);
vesin through its Python API (`NeighborList.compute`, quantities "ijSD").
The two alternate in blocks so that a busy machine slows both alike; the
CPU time of each (all threads) is printed too, as it is less sensitive to
other load on the machine than wall time.

Usage (from the repository root, in a venv with vesin and numpy, e.g.
/work/venv-ref/bin/python):
    python scripts/bench_neighbors_vesin.py [--large] [--repeats R]
Prints a markdown table for docs/benchmarks.md.
"""

import argparse
import json
import os
import platform
import statistics
import subprocess
import time

import numpy as np
import vesin

THREADS = 2
CUTOFF = 5.0
A = 5.43


def silicon(n):
    """Same atoms, in the same order, as silicon() in the Rust timing example."""
    basis = np.array([[0, 0, 0], [0, 0.5, 0.5], [0.5, 0, 0.5], [0.5, 0.5, 0]])
    sites = np.stack([basis, basis + 0.25], axis=1).reshape(8, 3)
    grid = np.stack(np.meshgrid(*[np.arange(n)] * 3, indexing="ij"), axis=-1).reshape(-1, 1, 3)
    positions = ((grid + sites[None]) * A).reshape(-1, 3)
    return positions, np.eye(3) * A * n


def time_vesin(positions, box, repeats):
    nl = vesin.NeighborList(cutoff=CUTOFF, full_list=True, n_threads=THREADS)
    i, j, S, D = nl.compute(positions, box, True, quantities="ijSD")  # warm-up
    assert len(i) == 28 * len(positions), len(i)
    times, cpu_times = [], []
    for _ in range(repeats):
        start, cpu_start = time.perf_counter(), time.process_time()
        nl.compute(positions, box, True, quantities="ijSD")
        times.append(time.perf_counter() - start)
        cpu_times.append(time.process_time() - cpu_start)
    return times, cpu_times


def time_equipot(binary, n, repeats):
    out = subprocess.run([binary, str(THREADS), str(repeats + 1), str(n)], check=True, capture_output=True, text=True)
    (result,) = json.loads(out.stdout)
    assert result["edges"] == 28 * result["atoms"], result
    return result["times_s"][1:], result["cpu_s"][1:]  # the first is a warm-up


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--large", action="store_true", help="include 10^6 atoms")
    parser.add_argument("--repeats", type=int, default=12)
    parser.add_argument("--blocks", type=int, default=3, help="alternations of vesin and equipot per size")
    args = parser.parse_args()

    subprocess.run(["cargo", "build", "--release", "--quiet", "--example", "neighbors_timing"], check=True)
    binary = os.path.join("target", "release", "examples", "neighbors_timing")
    replicas = [5, 11, 23] + ([50] if args.large else [])
    per_block = max(1, args.repeats // args.blocks)

    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, load average at start {os.getloadavg()}")
    print(f"vesin {vesin.__version__}, {THREADS} threads each, cutoff {CUTOFF} Å, medians of {per_block * args.blocks} runs")
    print()
    print("| atoms | edges | equipot (ms) | vesin (ms) | vesin / equipot | equipot ns/atom | equipot CPU (ms) | vesin CPU (ms) |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n in replicas:
        positions, box = silicon(n)
        ours, ours_cpu, theirs, theirs_cpu = [], [], [], []
        for _ in range(args.blocks):
            wall, cpu = time_vesin(positions, box, per_block)
            theirs += wall
            theirs_cpu += cpu
            wall, cpu = time_equipot(binary, n, per_block)
            ours += wall
            ours_cpu += cpu
        e, v, ec, vc = (1e3 * statistics.median(t) for t in (ours, theirs, ours_cpu, theirs_cpu))
        atoms = len(positions)
        print(
            f"| {atoms} | {28 * atoms} | {e:.2f} | {v:.2f} | {v / e:.1f} | {1e6 * e / atoms:.0f} | {ec:.1f} | {vc:.1f} |",
            flush=True,
        )
    print()
    print(f"load average at end {os.getloadavg()}")


if __name__ == "__main__":
    main()
