"""Times mace-torch's SymmetricContraction (torch CPU) and equipot's
(benches/symmetric_contraction.rs, criterion) with the same number of threads
(2 by default) on the same shape in one run, and prints the ratios as a
markdown table.

    /work/venv-mace/bin/python scripts/bench_mace_symmetric_contraction.py [--threads N]

(/work/venv-mace: see tests/fixtures/mace/README.md.)

Shape: MACE-MP-0 medium's product blocks, 128x0e+128x1o+128x2e+128x3o ->
128x0e+128x1o, correlation 3, 89 elements, 1000 nodes (3 elements present,
one-hot attributes). forward+backward is the forward plus the vector-Jacobian
product with respect to the node features (what forces need), via
torch.autograd.grad for mace.
"""

import argparse
import os
import statistics
import sys
import time

import mace  # noqa: F401  (sets TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD for e3nn 0.4.4)
from criterion_medians import criterion_medians
import torch
from e3nn import o3
from mace.modules.symmetric_contraction import SymmetricContraction

NODES = 1000
ELEMENTS = 89
IRREPS_IN = "128x0e+128x1o+128x2e+128x3o"
IRREPS_OUT = "128x0e+128x1o"
CORRELATION = 3


def median_time(f, seconds=3.0):
    """Median of at least 5 calls after 2 warm-up calls, for at least `seconds`."""
    for _ in range(2):
        f()
    times = []
    start = time.perf_counter()
    while time.perf_counter() - start < seconds or len(times) < 5:
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def time_mace(dtype):
    torch.manual_seed(0)
    torch.set_default_dtype(dtype)
    irreps_in, irreps_out = o3.Irreps(IRREPS_IN), o3.Irreps(IRREPS_OUT)
    module = SymmetricContraction(irreps_in, irreps_out, CORRELATION, num_elements=ELEMENTS)
    channels = irreps_in[0].mul
    x = torch.randn(NODES, channels, irreps_in.dim // channels, requires_grad=True)
    elements = torch.tensor([[0, 7, 13][i % 3] for i in range(NODES)])
    y = torch.nn.functional.one_hot(elements, ELEMENTS).to(dtype)
    g = torch.randn(NODES, irreps_out.dim)

    def forward():
        with torch.no_grad():
            module(x, y)

    def forward_backward():
        (gx,) = torch.autograd.grad(module(x, y), x, g)

    return median_time(forward), median_time(forward_backward)


def time_equipot(threads):
    return criterion_medians("symmetric_contraction", dict(EQUIPOT_BENCH_THREADS=str(threads)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--threads", type=int, default=2, help="torch threads and equipot workspace threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    theirs = {}
    for prec, dtype in [("f32", torch.float32), ("f64", torch.float64)]:
        theirs["forward", prec], theirs["forward_backward", prec] = time_mace(dtype)
        print(f"mace {prec}: forward {theirs['forward', prec]:.4f} s, forward+backward {theirs['forward_backward', prec]:.4f} s", file=sys.stderr)
    ours = time_equipot(args.threads)
    load = os.getloadavg()[0]
    print(f"SymmetricContraction {IRREPS_IN} -> {IRREPS_OUT}, correlation {CORRELATION}, {ELEMENTS} elements,")
    print(f"{NODES} nodes, {args.threads} threads, median wall times")
    print(f"({os.cpu_count()} CPUs, load average {load:.1f} at the end of the run)")
    print()
    print("| operation | precision | mace-torch 0.3.16 (torch CPU) | equipot | speed-up |")
    print("|---|---|---|---|---|")
    for kind in ["forward", "forward_backward"]:
        for prec in ["f32", "f64"]:
            a, b = theirs[kind, prec], ours[kind, prec]
            label = kind.replace("_", " + ")
            print(f"| {label} | {prec} | {a * 1e3:.3f} ms | {b * 1e3:.3f} ms | {a / b:.1f}x |")


if __name__ == "__main__":
    main()
