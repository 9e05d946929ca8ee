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
import os
import statistics
import time

from criterion_medians import criterion_medians
import torch
from e3nn import o3

ROWS = 1000
IRREPS = "128x0e+64x1e+32x2e"


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


def flops(irreps=IRREPS, rows=ROWS):
    """Floating-point operations of one forward (the block GEMMs: 2 per
    multiply-add); the backward to the input costs the same again."""
    return 2 * rows * sum(mul * mul * ir.dim for mul, ir in o3.Irreps(irreps))


def gemm_peak(dtype, clock, n=2048):
    """GFLOP/s of torch.mm (MKL) on a large square matrix: what this core
    reaches on a dense GEMM, the ceiling of any Linear layer."""
    a = torch.randn(n, n, dtype=dtype)
    b = torch.randn(n, n, dtype=dtype)
    return 2 * n**3 / median_time(lambda: torch.mm(a, b), clock, seconds=2.0) * 1e-9


def time_equipot(threads, clock):
    return criterion_medians("linear", dict(EQUIPOT_BENCH_THREADS=str(threads), EQUIPOT_BENCH_CLOCK=clock))


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
    # The ceiling: a 10x speed-up needs 10x e3nn's GFLOP/s, compared with
    # what MKL reaches on a large GEMM on the same threads.
    peak = {prec: gemm_peak(dtype, clock) for prec, dtype in [("f32", torch.float32), ("f64", torch.float64)]}
    print()
    print(f"Throughput (GFLOP/s; {flops() / 1e6:.1f} MFLOP forward, twice that forward + backward;")
    print(f"peak = torch.mm of two 2048x2048 matrices, same threads and clock):")
    print()
    print("| operation | precision | e3nn | equipot | GEMM peak | needed for 10x e3nn |")
    print("|---|---|---|---|---|---|")
    for kind, work in [("forward", flops()), ("forward_backward", 2 * flops())]:
        for prec in ["f32", "f64"]:
            a, b = e3nn[kind, prec], ours[kind, prec]
            label = kind.replace("_", " + ")
            rate = lambda t: work / t * 1e-9
            print(f"| {label} | {prec} | {rate(a):.1f} | {rate(b):.1f} | {peak[prec]:.1f} | {10 * rate(a):.1f} |")


if __name__ == "__main__":
    main()
