"""Times e3nn 0.6's spherical harmonics and equipot's on the same shapes, in
one run: 10^5 random vectors, lmax 2, 3, 6, float32 and float64, forward and
forward + backward (normalize=True, 'component').

Two comparisons:
  wall: wall-clock, 2 threads each (torch.set_num_threads(2); equipot on a
        2-thread workspace) — the brief's setting;
  cpu:  CPU time of one thread each (torch 1 thread, time.thread_time; equipot
        EQUIPOT_BENCH_CLOCK=cpu) — robust when other jobs load the machine.
equipot is timed by `cargo bench --bench spherical_harmonics` (criterion;
its estimates.json are read back). e3nn is timed here, median of 20 calls.

Run from the repository root with the reference venv:
  /work/venv-ref/bin/python scripts/bench_e3nn_sh.py [--write docs/benchmarks.md]
"""
import argparse
import json
import os
import pathlib
import platform
import subprocess
import time

import torch
from e3nn import o3

EDGES = 100_000
LMAXES = (2, 3, 6)
DTYPES = {"f32": torch.float32, "f64": torch.float64}
PASSES = ("forward", "forward+backward")


def time_e3nn(threads, clock, repeats=20):
    """ns per edge, {(precision, lmax, pass): ns}."""
    torch.set_num_threads(threads)
    gen = torch.Generator().manual_seed(0)
    out = {}
    for name, dtype in DTYPES.items():
        x = (torch.rand(EDGES, 3, generator=gen, dtype=dtype) * 2 - 1) * 3
        for lmax in LMAXES:
            sh = o3.SphericalHarmonics(list(range(lmax + 1)), normalize=True, normalization="component")
            cot = torch.randn(EDGES, (lmax + 1) ** 2, generator=gen, dtype=dtype)

            def forward():
                with torch.no_grad():
                    sh(x)

            def forward_backward():
                xg = x.detach().requires_grad_(True)
                torch.autograd.grad(sh(xg), xg, cot)

            for pass_, f in zip(PASSES, (forward, forward_backward)):
                for _ in range(3):
                    f()
                samples = []
                for _ in range(repeats):
                    start = clock()
                    f()
                    samples.append(clock() - start)
                out[(name, lmax, pass_)] = sorted(samples)[repeats // 2] / EDGES * 1e9
    return out


def time_equipot(clock_mode):
    env = dict(os.environ, EQUIPOT_BENCH_CLOCK=clock_mode)
    subprocess.run(["cargo", "bench", "--bench", "spherical_harmonics"], check=True, env=env, stdout=subprocess.DEVNULL)
    meta = json.loads(subprocess.check_output(["cargo", "metadata", "--format-version", "1", "--no-deps"]))
    root = pathlib.Path(meta["target_directory"]) / "criterion" / "spherical_harmonics"
    out = {}
    for bench in root.glob("*/*/new/benchmark.json"):
        info = json.loads(bench.read_text())
        name, pass_ = info["function_id"].split("/", 1)
        median = json.loads(bench.with_name("estimates.json").read_text())["median"]["point_estimate"]
        out[(name, int(info["value_str"]), pass_)] = median / EDGES
    return out


def table(title, e3nn, ours):
    lines = [f"{title}", "", "| precision | lmax | pass | e3nn (ns/edge) | equipot (ns/edge) | speed-up |", "|---|---|---|---|---|---|"]
    for name in DTYPES:
        for lmax in LMAXES:
            for pass_ in PASSES:
                key = (name, lmax, pass_)
                lines.append(f"| {name} | {lmax} | {pass_} | {e3nn[key]:.1f} | {ours[key]:.1f} | {e3nn[key] / ours[key]:.1f}× |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--write", help="markdown file whose '## Spherical harmonics' section is replaced")
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    wall = table("Wall clock, 2 threads each:", time_e3nn(2, time.perf_counter), time_equipot("wall"))
    cpu = table("CPU time of one thread each:", time_e3nn(1, time.thread_time), time_equipot("cpu"))
    load_after = os.getloadavg()[0]
    cpu_name = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.machine())
    section = "\n\n".join([
        "## Spherical harmonics",
        f"`scripts/bench_e3nn_sh.py` ({time.strftime('%Y-%m-%d')}; {cpu_name}, {os.cpu_count()} cores; "
        f"load average {load_before:.1f} before, {load_after:.1f} after; torch {torch.__version__}, e3nn 0.6.0). "
        f"{EDGES} random vectors, normalize=True, 'component'; forward+backward is the vector–Jacobian "
        "product of a random cotangent (autograd for e3nn), forward included.",
        wall,
        cpu,
    ]) + "\n"
    print(section)
    if args.write:
        path = pathlib.Path(args.write)
        text = path.read_text() if path.exists() else "# Benchmarks\n"
        start = text.find("## Spherical harmonics")
        if start < 0:
            text = text.rstrip("\n") + "\n\n" + section
        else:
            end = text.find("\n## ", start + 1)
            text = text[:start] + section + (text[end + 1:] if end >= 0 else "")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


if __name__ == "__main__":
    main()
