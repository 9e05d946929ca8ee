"""Times SevenNet-0's convolution — e3nn's uvu TensorProduct on x[edge_src]
plus sevenn's scatter-sum onto edge_dst, forward and backward (autograd
w.r.t. x, edge attributes and edge weights) — on torch CPU, and equipot's fused
kernel on the same shapes and thread count, in the same run.

Run from the repository root (needs torch, e3nn 0.6, sevenn 0.13):
  /work/venv-ref/bin/python scripts/bench_e3nn_tp.py [--atoms 1000] [--per-atom 30] [--threads 2]
"""
import argparse
import platform
import subprocess
import time

import torch
from e3nn import o3
from sevenn.nn.convolution import IrrepsConvolution, message_gather

p = argparse.ArgumentParser()
p.add_argument("--atoms", type=int, default=1000)
p.add_argument("--per-atom", type=int, default=30)
p.add_argument("--threads", type=int, default=2)
p.add_argument("--repeats", type=int, default=5)
p.add_argument("--local", action="store_true", help="neighbors within +-2*per_atom in index (spatially sorted atoms)")
args = p.parse_args()

torch.set_num_threads(args.threads)
irreps_x = o3.Irreps("128x0e+64x1e+32x2e")
conv = IrrepsConvolution(irreps_x, o3.Irreps("1x0e+1x1e+1x2e"), irreps_x, [8])
conv.instantiate()
tp = conv.convolution
n, e = args.atoms, args.atoms * args.per_atom
gen = torch.Generator().manual_seed(0)
edge_dst = torch.arange(e) // args.per_atom
if args.local:
    window = 4 * args.per_atom + 1
    edge_src = (edge_dst + n + torch.randint(0, window, (e,), generator=gen) - 2 * args.per_atom) % n
else:
    edge_src = torch.randint(0, n, (e,), generator=gen)


def time_e3nn(dtype):
    tp.to(dtype)
    x = torch.randn(n, irreps_x.dim, dtype=dtype, generator=gen, requires_grad=True)
    sh = torch.randn(e, 9, dtype=dtype, generator=gen, requires_grad=True)
    w = torch.randn(e, tp.weight_numel, dtype=dtype, generator=gen, requires_grad=True)
    g = torch.randn(n, tp.irreps_out.dim, dtype=dtype, generator=gen)
    fwd, bwd = [], []
    for _ in range(args.repeats + 1):
        t0 = time.perf_counter()
        out = message_gather(x, edge_dst, tp(x[edge_src], sh, w)).div(30.0)
        t1 = time.perf_counter()
        torch.autograd.grad(out, [x, sh, w], g)
        t2 = time.perf_counter()
        fwd.append((t1 - t0) * 1e3)
        bwd.append((t2 - t1) * 1e3)
    median = lambda v: sorted(v[1:])[len(v[1:]) // 2]
    return median(fwd), median(bwd)


subprocess.run(["cargo", "build", "--release", "--quiet", "--example", "bench_tp"], check=True)
run = subprocess.run(
    ["target/release/examples/bench_tp", str(n), str(args.per_atom), str(args.threads), str(args.repeats), str(int(args.local))],
    check=True,
    capture_output=True,
    text=True,
)
ours = {}
for line in run.stdout.splitlines():
    _, ty, _, f, _, b = line.split()
    ours[ty] = (float(f), float(b))

print(f"SevenNet-0 convolution 128x0e+64x1e+32x2e x SH(l<=2), uvu + scatter, {n} atoms x {args.per_atom} edges "
      f"({'local' if args.local else 'random'} neighbors), "
      f"{args.threads} threads, {platform.processor() or platform.machine()}, torch {torch.__version__}")
print("| precision | e3nn fwd (ms) | e3nn fwd+bwd (ms) | equipot fwd (ms) | equipot fwd+bwd (ms) | speedup fwd | speedup fwd+bwd |")
print("|---|---|---|---|---|---|---|")
for dtype, ty in [(torch.float32, "f32"), (torch.float64, "f64")]:
    ef, eb = time_e3nn(dtype)
    of, ob = ours[ty]
    print(f"| {ty} | {ef:.1f} | {ef + eb:.1f} | {of:.1f} | {of + ob:.1f} | {ef / of:.1f}x | {(ef + eb) / (of + ob):.1f}x |")
