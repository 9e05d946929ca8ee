"""Times e3nn's o3.Linear (torch CPU) and equipot's Linear (benches/linear.rs,
criterion) with the same number of threads (2 by default) on the same shape in one run, and
prints the ratios as a markdown table for docs/benchmarks.md.

    /work/venv-ref/bin/python scripts/bench_e3nn_layers.py [--threads N] [--clock wall|cpu]

--clock cpu measures the CPU time of each process instead of wall time: on a
shared, oversubscribed machine it is the steadier number; use it with
--threads 1 (with more threads it counts the work of all of them, and torch's
OpenMP threads spin while they wait).

Shape: SevenNet-0's node features 128x0e+64x1e+32x2e -> 128x0e+64x1e+32x2e,
1000 rows. forward+backward is the forward plus the vector-Jacobian product
with respect to the input features (what forces need), via
torch.autograd.grad for e3nn.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

import torch
from e3nn import o3

ROWS = 1000
IRREPS = "128x0e+64x1e+32x2e"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def median_time(f, clock, seconds=3.0):
    for _ in range(3):
        f()
    times = []
    start = time.perf_counter()
    while time.perf_counter() - start < seconds or len(times) < 10:
        t = clock()
        f()
        times.append(clock() - t)
    return statistics.median(times)


def time_e3nn(dtype, clock):
    torch.manual_seed(0)
    lin = o3.Linear(IRREPS, IRREPS).to(dtype)
    x = torch.randn(ROWS, lin.irreps_in.dim, dtype=dtype, requires_grad=True)
    g = torch.randn(ROWS, lin.irreps_out.dim, dtype=dtype)

    def forward():
        with torch.no_grad():
            lin(x)

    def forward_backward():
        (gx,) = torch.autograd.grad(lin(x), x, g)

    return median_time(forward, clock), median_time(forward_backward, clock)


def time_equipot(threads, clock):
    env = dict(os.environ, EQUIPOT_BENCH_THREADS=str(threads), EQUIPOT_BENCH_CLOCK=clock)
    cmd = ["cargo", "bench", "--bench", "linear", "--", "--warm-up-time", "1", "--measurement-time", "5"]
    subprocess.run(cmd[:4] + ["--no-run"], cwd=ROOT, check=True, env=env)
    subprocess.run(cmd, cwd=ROOT, check=True, env=env, stdout=sys.stderr)
    out = {}
    for kind in ["forward", "forward_backward"]:
        for prec in ["f32", "f64"]:
            path = os.path.join(ROOT, "target", "criterion", "linear", kind, prec, "new", "estimates.json")
            with open(path) as f:
                out[kind, prec] = json.load(f)["median"]["point_estimate"] * 1e-9
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2, help="torch threads and equipot workspace threads")
    parser.add_argument("--clock", choices=["wall", "cpu"], default="wall", help="wall time or process CPU time")
    args = parser.parse_args()
    threads = args.threads
    torch.set_num_threads(threads)
    clock = time.perf_counter if args.clock == "wall" else time.process_time
    e3nn = {}
    for prec, dtype in [("f32", torch.float32), ("f64", torch.float64)]:
        e3nn["forward", prec], e3nn["forward_backward", prec] = time_e3nn(dtype, clock)
    ours = time_equipot(threads, args.clock)
    load = os.getloadavg()[0]
    print(f"o3.Linear {IRREPS} -> {IRREPS}, {ROWS} rows, {threads} threads, median {args.clock} times")
    print(f"({os.cpu_count()} CPUs, load average {load:.1f} at the end of the run)")
    print()
    print("| operation | precision | e3nn 0.6 (torch CPU) | equipot | speed-up |")
    print("|---|---|---|---|---|")
    for kind in ["forward", "forward_backward"]:
        for prec in ["f32", "f64"]:
            a, b = e3nn[kind, prec], ours[kind, prec]
            label = kind.replace("_", " + ")
            print(f"| {label} | {prec} | {a * 1e3:.3f} ms | {b * 1e3:.3f} ms | {a / b:.1f}x |")


if __name__ == "__main__":
    main()
