"""Runs one criterion bench of equipot and reads back its medians: shared by
the comparison scripts (bench_e3nn_layers.py, bench_mace_symmetric_contraction.py)
whose benches name their results GROUP/forward|forward_backward/f32|f64."""
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def criterion_medians(bench, env_overrides):
    """{(pass, precision): median seconds} of `cargo bench --bench BENCH`
    (pass: forward, forward_backward; precision: f32, f64), run with the
    environment variables `env_overrides` added."""
    env = dict(os.environ, **env_overrides)
    cmd = ["cargo", "bench", "--bench", bench, "--", "--warm-up-time", "1", "--measurement-time", "5"]
    subprocess.run(cmd[:4] + ["--no-run"], cwd=ROOT, check=True, env=env)
    subprocess.run(cmd, cwd=ROOT, check=True, env=env, stdout=sys.stderr)
    out = {}
    for kind in ["forward", "forward_backward"]:
        for prec in ["f32", "f64"]:
            path = os.path.join(ROOT, "target", "criterion", bench, kind, prec, "new", "estimates.json")
            with open(path) as f:
                out[kind, prec] = json.load(f)["median"]["point_estimate"] * 1e-9
    return out
