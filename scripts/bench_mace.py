#!/usr/bin/env python3
"""MACE speed: equipot against Symmetrix-XL (CPU backend) and mace-torch, one
MACE model, one run, same machine, same threads; energy + forces + stress
through each code's ASE calculator.

equipot and Symmetrix-XL alternate: per structure both are started (each in
its own process, with one warm-up evaluation), then for every round the
equipot process runs its steps, then the Symmetrix process runs its steps
(the other one waits on a pipe, idle). Each round reports both medians and
their ratio; the summary gives the median over all steps of every round.
mace-torch (~20 ms/atom-step) runs once per structure for a few steps.
Each step moves every atom by N(0, 1e-3 Å) first (the same sequence for
every code), then asks for energy, forces and stress: wall time and the
process' CPU time (the steadier clock when the machine is shared).

Also: peak RSS of equipot and Symmetrix at 4096 Si atoms (one process each,
one after the other), the energy / force / stress agreement of every code
against mace-torch in float64 (and of the float32 runs), and equipot's
per-stage profile (`equipot._capi.compute(..., profile=True)`).

Precision: equipot float32 (`precision="float32"`), Symmetrix-XL float32
(`dtype="float32"`, its default; its default edge geometry policy
"cartesian-f64-v1" keeps edge vectors in float64), mace-torch float32
(`default_dtype="float32"`). The agreement check runs all three in float64
as well. Symmetrix-XL keeps its default Verlet skin of 0.5 Å (a 6.5 Å
candidate list, rebuilt only after an atom moves 0.25 Å: never in these
runs), equipot builds its graph every step (as its ASE calculator does);
`--symmetrix-skin 0` makes Symmetrix rebuild it every step too.

Environments (Python 3.11; the commands used on the CI VM, 2026-12-04):

    # /work/venv-ref: torch 2.15.0 (CPU wheel), numpy, ase, scipy, matscipy,
    #   opt_einsum, opt-einsum-fx, pandas, h5py (see scripts/requirements-test.txt)
    # /work/venv-mace: mace-torch 0.3.16 + e3nn 0.4.4 borrowing venv-ref,
    #   exactly as tests/fixtures/mace/README.md ("Reference environment")
    # /work/venv-symmetrix: Symmetrix-XL, borrowing venv-mace then venv-ref
    #   (mace-torch is needed by its converter; lmdb and orjson, which
    #   mace.data and so mace.calculators import, are not in venv-mace's
    #   recipe, so this venv also runs the mace-torch worker: --mace-python):
    python3.11 -m venv /work/venv-symmetrix
    /work/venv-symmetrix/bin/pip install --no-deps symmetrix-xl==0.1.1 \\
        symmetrix-xl-cpu-avx512==0.1.1 lmdb orjson   # lmdb, orjson: mace.data
    printf '%s\\n' /work/venv-mace/lib/python3.11/site-packages \\
        /work/venv-ref/lib/python3.11/site-packages \\
        > /work/venv-symmetrix/lib/python3.11/site-packages/zz_mace_ref.pth

symmetrix-xl ships an x86-64-v3 (AVX2) CPU backend ("cpu");
symmetrix-xl-cpu-avx512 adds an x86-64-v4 one ("cpu-avx512"), chosen here
with SYMMETRIX_BACKEND (`--symmetrix-backend`). Both are Kokkos/OpenMP
(threads: OMP_NUM_THREADS, KOKKOS_NUM_THREADS). A two-interaction model
needs a model-specific plugin that Symmetrix generates and compiles with the
host's C++20 compiler (`c++ -O3 -ffast-math -march=native`) the first time
a calculator is built for that model and precision (~5 min per precision on
2 loaded cores), cached in ~/.cache/symmetrix (SYMMETRIX_JIT_CACHE).

The model (random weights, MACE-MP-0 medium's architecture) and its two
conversions (kept out of the repository):

    mkdir -p /work/bench-models && cd /work/bench-models
    /work/venv-mace/bin/python $REPO/scripts/mace_blueprint.py --save mp0_medium.model
    PYTHONPATH=$REPO/bindings/python /work/venv-ref/bin/python -m equipot.convert \\
        mace mp0_medium.model mp0_medium.eqp.safetensors
    /work/venv-symmetrix/bin/symmetrix_extract_mace --model mp0_medium.model \\
        --output mp0_medium.symmetrix.json

Run (build equipot first: `cargo build --release`; the library is
EQUIPOT_LIBRARY, else this checkout's target/release/libequipot.so):

    /work/venv-ref/bin/python scripts/bench_mace.py \\
        --model /work/bench-models/mp0_medium.eqp.safetensors \\
        --symmetrix-model /work/bench-models/mp0_medium.symmetrix.json \\
        --checkpoint /work/bench-models/mp0_medium.model --json-out /tmp/bench_mace.json

mace's initialization keeps the features tiny (max |F| ~1e-3 eV/Å), which is
fine for timing but makes the agreement check weak; for that, a model with
moderate weights (O(1) eV/Å forces), agreement only:

    /work/venv-mace/bin/python scripts/mace_blueprint.py --save mp0_medium_moderate.model --weights moderate
    # ... convert it both ways as above, then:
    /work/venv-ref/bin/python scripts/bench_mace.py --model ..._moderate.eqp.safetensors \\
        --symmetrix-model ..._moderate.symmetrix.json --checkpoint ..._moderate.model \\
        --structures '' --memory-structures '' --agreement-structures si_diamond_512,cu_fcc_500
"""

import argparse
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import bench_sevennet as common  # noqa: E402  (structures, calculators, the step loop)

ROOT = common.ROOT
CODES = ("equipot", "symmetrix", "mace")


# ---------------------------------------------------------------- worker side


def current_rss_mb():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def make_calculator(args):
    """The calculator of args.code in args.precision, and what to report about it."""
    info = {}
    if args.code == "equipot":
        calc = common.equipot_calculator(args.model, args.precision, args.threads)
        info["library"] = os.environ["EQUIPOT_LIBRARY"]
    elif args.code == "symmetrix":
        import symmetrix
        from symmetrix import Symmetrix

        calc = Symmetrix(args.symmetrix_model, dtype=args.precision, execution_profile=args.symmetrix_profile,
                         neighbor_skin=args.symmetrix_skin)
        backend = symmetrix.selected_backend() or {}
        info.update(version=symmetrix.__version__, backend=backend.get("selector"),
                    architecture=backend.get("architecture"), jit_status=getattr(calc, "jit_status", None),
                    execution_profile=args.symmetrix_profile, neighbor_skin=args.symmetrix_skin)
    else:
        calc = common.mace_calculator(args.checkpoint, args.precision, args.threads)
        import e3nn
        import mace
        import torch

        info.update(version=getattr(mace, "__version__", None), torch=torch.__version__, e3nn=e3nn.__version__,
                    torch_threads=torch.get_num_threads())
    return calc, info


def profile_steps(atoms, calc, rng, steps):
    """equipot only: `steps` steps through equipot._capi.compute(profile=True);
    median seconds per stage, plus the graph build and the whole step."""
    from equipot._capi import Graph, compute

    stages = {}
    for _ in range(steps):
        atoms.positions += rng.normal(scale=1e-3, size=atoms.positions.shape)
        t0 = time.perf_counter()
        graph = Graph(atoms.positions, atoms.numbers, atoms.cell.array, atoms.pbc, calc.model.cutoff,
                      calc.workspace)
        t1 = time.perf_counter()
        out = compute(calc.model, graph, calc.workspace, calc.precision, radial=calc.radial, simd=calc.simd,
                      profile=True)
        t2 = time.perf_counter()
        stages.setdefault("graph: eqp_graph_build (cell lists)", []).append(t1 - t0)
        for name, seconds in out["profile"]:
            stages.setdefault(name, []).append(seconds)
        stages.setdefault("eqp_compute_with_options, whole call", []).append(t2 - t1)
    return [(name, statistics.median(v)) for name, v in stages.items()]


def serve(args):
    """A worker: builds one calculator, evaluates once (warm-up, results saved),
    then answers JSON commands on stdin with one JSON line each."""
    reply_stream = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # whatever the codes print (C or Python) goes to stderr
    sys.stdout = sys.stderr

    def reply(obj):
        reply_stream.write(json.dumps(obj) + "\n")
        reply_stream.flush()

    rss_before = current_rss_mb()
    atoms = common.structure(args.structure)
    t0 = time.perf_counter()
    calc, info = make_calculator(args)
    setup_s = time.perf_counter() - t0
    atoms.calc = calc
    first_wall, first_cpu = common.evaluate(atoms)  # on the rattled structure, as every code sees it
    if args.save:
        np.savez(args.save, energy=atoms.get_potential_energy(), forces=atoms.get_forces(),
                 stress=atoms.get_stress())
    ready = dict(code=args.code, structure=args.structure, precision=args.precision, atoms=len(atoms),
                 setup_s=setup_s, first_step_s=first_wall, first_step_cpu_s=first_cpu,
                 energy_per_atom=atoms.get_potential_energy() / len(atoms), rss_before_calculator_mb=rss_before,
                 rss_after_first_step_mb=current_rss_mb(), torch_imported="torch" in sys.modules, **info)
    if args.code == "symmetrix":  # chosen at the first evaluation
        ready["low_memory_policy"] = getattr(calc, "low_memory_policy", None)
        ready["execution_plan"] = (getattr(calc, "execution_plan", None) or {}).get("selected_id")
    if args.code == "equipot":
        from equipot._capi import Graph

        graph = Graph(atoms.positions, atoms.numbers, atoms.cell.array, atoms.pbc, calc.model.cutoff, calc.workspace)
        ready["edges"] = len(graph.edges()[0])
        del graph
    reply(ready)
    rng = np.random.default_rng(0)
    while True:
        line = sys.stdin.readline()
        if not line:
            return
        cmd = json.loads(line)
        if cmd["op"] == "steps":
            common.timed_steps(atoms, rng, cmd.get("warmup", 0))
            walls, cpus = common.timed_steps(atoms, rng, cmd["steps"])
            reply(dict(walls=walls, cpus=cpus, load=os.getloadavg()[0]))
        elif cmd["op"] == "profile":
            reply(dict(stages=profile_steps(atoms, calc, rng, cmd["steps"])))
        elif cmd["op"] == "quit":
            reply(dict(peak_rss_mb=common.peak_rss_mb()))
            return


# ---------------------------------------------------------- orchestrator side


class Worker:
    """One code on one structure in its own process (see `serve`)."""

    def __init__(self, args, code, structure, precision, save=None):
        python = {"equipot": args.equipot_python, "symmetrix": args.symmetrix_python, "mace": args.mace_python}[code]
        cmd = [python, __file__, "--serve", code, "--structure", structure, "--precision", precision,
               "--threads", str(args.threads), "--model", args.model, "--symmetrix-model", args.symmetrix_model,
               "--checkpoint", args.checkpoint, "--symmetrix-profile", args.symmetrix_profile,
               "--symmetrix-skin", str(args.symmetrix_skin)]
        if save:
            cmd += ["--save", save]
        t = str(args.threads)
        env = dict(os.environ, OMP_NUM_THREADS=t, MKL_NUM_THREADS=t, OPENBLAS_NUM_THREADS=t)
        if code == "symmetrix":
            env.update(KOKKOS_NUM_THREADS=t, SYMMETRIX_BACKEND=args.symmetrix_backend)
        self.name = f"{code}-{structure}-{precision}"
        self.log = pathlib.Path(args.log_dir) / f"{self.name}.log"
        self.stderr = open(self.log, "w")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.stderr,
                                     text=True, env=env)
        self.ready = self._receive()

    def _receive(self):
        line = self.proc.stdout.readline()
        if not line:
            self.proc.wait()
            self.stderr.flush()
            tail = self.log.read_text()[-3000:]
            raise SystemExit(f"worker {self.name} exited ({self.proc.returncode}); its stderr ({self.log}):\n{tail}")
        return json.loads(line)

    def call(self, **cmd):
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        return self._receive()

    def close(self):
        out = self.call(op="quit")
        self.proc.wait()
        self.stderr.close()
        return out["peak_rss_mb"]


def us(seconds, n):
    return 1e6 * seconds / n


def cpu_model():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return "?"


def git_commit():
    try:
        head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, check=True).stdout.strip()
        return head + (" (dirty)" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "?"


def speed(args, name, report):
    """Alternating rounds of equipot and Symmetrix, then mace-torch's steps."""
    res = pathlib.Path(args.log_dir)
    eq = Worker(args, "equipot", name, "float32", save=str(res / f"equipot-{name}-float32.npz"))
    sy = Worker(args, "symmetrix", name, "float32", save=str(res / f"symmetrix-{name}-float32.npz"))
    n = eq.ready["atoms"]
    print(f"# {name}: {n} atoms, {eq.ready['edges']} edges; setup equipot {eq.ready['setup_s']:.1f} s, "
          f"Symmetrix {sy.ready['setup_s']:.1f} s (jit {sy.ready.get('jit_status')}, "
          f"backend {sy.ready.get('backend')}, plan {sy.ready.get('execution_plan')})", flush=True)
    rounds = []
    for r in range(args.rounds):
        e = eq.call(op="steps", steps=args.steps, warmup=args.round_warmup)
        s = sy.call(op="steps", steps=args.steps, warmup=args.round_warmup)
        row = dict(round=r + 1, load=e["load"],
                   equipot_wall=us(statistics.median(e["walls"]), n), equipot_cpu=us(statistics.median(e["cpus"]), n),
                   symmetrix_wall=us(statistics.median(s["walls"]), n),
                   symmetrix_cpu=us(statistics.median(s["cpus"]), n), equipot_raw=e, symmetrix_raw=s)
        rounds.append(row)
        print(f"#   round {r + 1}: equipot {row['equipot_wall']:.0f} / {row['equipot_cpu']:.0f}, Symmetrix "
              f"{row['symmetrix_wall']:.0f} / {row['symmetrix_cpu']:.0f} µs/atom-step (wall / CPU), "
              f"Symmetrix/equipot {row['symmetrix_wall'] / row['equipot_wall']:.2f} / "
              f"{row['symmetrix_cpu'] / row['equipot_cpu']:.2f}, load {row['load']:.2f}", flush=True)
    profile = eq.call(op="profile", steps=args.profile_steps)["stages"] if name in args.profile_structures else None
    entry = dict(atoms=n, edges=eq.ready["edges"], rounds=rounds, profile=profile,
                 equipot=dict(eq.ready, peak_rss_mb=eq.close()), symmetrix=dict(sy.ready, peak_rss_mb=sy.close()))
    for code in ("equipot", "symmetrix"):
        walls = [w for row in rounds for w in row[f"{code}_raw"]["walls"]]
        cpus = [c for row in rounds for c in row[f"{code}_raw"]["cpus"]]
        entry[code].update(wall=us(statistics.median(walls), n), cpu=us(statistics.median(cpus), n), steps=len(walls))
    if args.mace_steps > 0:
        m = Worker(args, "mace", name, "float32", save=str(res / f"mace-{name}-float32.npz"))
        out = m.call(op="steps", steps=args.mace_steps, warmup=0)
        entry["mace"] = dict(m.ready, peak_rss_mb=m.close(), wall=us(statistics.median(out["walls"]), n),
                             cpu=us(statistics.median(out["cpus"]), n), steps=len(out["walls"]))
        print(f"#   mace-torch: {entry['mace']['wall']:.0f} / {entry['mace']['cpu']:.0f} µs/atom-step", flush=True)
    report["speed"][name] = entry


def memory(args, name, report):
    """Peak RSS of equipot and Symmetrix on a large structure, one process at a time."""
    entry = {}
    for code in ("equipot", "symmetrix"):
        w = Worker(args, code, name, "float32")
        out = w.call(op="steps", steps=args.memory_steps, warmup=0)
        entry[code] = dict(w.ready, peak_rss_mb=w.close(), wall=us(statistics.median(out["walls"]), w.ready["atoms"]),
                           cpu=us(statistics.median(out["cpus"]), w.ready["atoms"]), load=out["load"])
        print(f"# {name} {code}: peak RSS {entry[code]['peak_rss_mb']:.0f} MB "
              f"(before the calculator {entry[code]['rss_before_calculator_mb']:.0f} MB)", flush=True)
    report["memory"][name] = entry


def agreement(args, name, report):
    """Every code once in float64 on the rattled structure (and in float32 where
    the speed runs did not already save that), then every result against
    mace-torch float64."""
    res = pathlib.Path(args.log_dir)
    for code in CODES:
        for precision in ("float64", "float32"):
            path = res / f"{code}-{name}-{precision}.npz"
            if precision == "float64" or not path.exists():
                Worker(args, code, name, precision, save=str(path)).close()
    ref = np.load(res / f"mace-{name}-float64.npz")
    n = len(ref["forces"])
    rows = []
    for code in CODES:
        for precision in ("float64", "float32"):
            path = res / f"{code}-{name}-{precision}.npz"
            if not path.exists() or (code == "mace" and precision == "float64"):
                continue
            r = np.load(path)
            rows.append(dict(code=code, precision=precision, energy_per_atom=float(r["energy"]) / n,
                             d_energy_per_atom=(float(r["energy"]) - float(ref["energy"])) / n,
                             max_d_force=float(np.abs(r["forces"] - ref["forces"]).max()),
                             max_d_stress=float(np.abs(r["stress"] - ref["stress"]).max())))
    report["agreement"][name] = dict(mace_float64_energy_per_atom=float(ref["energy"]) / n,
                                     max_abs_force=float(np.abs(ref["forces"]).max()), rows=rows)


def print_tables(args, report):
    names = list(report["speed"])
    print()
    print("| structure | atoms | edges ≤ r_max | equipot f32 (wall / CPU) | Symmetrix-XL f32 (wall / CPU) "
          "| mace-torch f32 (wall / CPU) | Symmetrix / equipot (wall / CPU) | mace-torch / equipot (wall / CPU) |")
    print("|---|---|---|---|---|---|---|---|")
    for name in names:
        e = report["speed"][name]
        eq, sy, m = e["equipot"], e["symmetrix"], e.get("mace")
        mace_cells = (f"{m['wall']:.0f} / {m['cpu']:.0f}", f"{m['wall'] / eq['wall']:.1f}× / {m['cpu'] / eq['cpu']:.1f}×") \
            if m else ("—", "—")
        print(f"| {name} | {e['atoms']} | {e['edges']} | {eq['wall']:.0f} / {eq['cpu']:.0f} "
              f"| {sy['wall']:.0f} / {sy['cpu']:.0f} | {mace_cells[0]} "
              f"| {sy['wall'] / eq['wall']:.2f} / {sy['cpu'] / eq['cpu']:.2f} | {mace_cells[1]} |")
    print("\nµs per atom-step, medians (equipot and Symmetrix: over all rounds' steps); a ratio > 1: equipot is faster.")
    print("\n| structure | round | load | equipot (wall / CPU) | Symmetrix-XL (wall / CPU) | Symmetrix / equipot (wall / CPU) |")
    print("|---|---|---|---|---|---|")
    for name in names:
        for row in report["speed"][name]["rounds"]:
            print(f"| {name} | {row['round']} | {row['load']:.2f} | {row['equipot_wall']:.0f} / {row['equipot_cpu']:.0f} "
                  f"| {row['symmetrix_wall']:.0f} / {row['symmetrix_cpu']:.0f} "
                  f"| {row['symmetrix_wall'] / row['equipot_wall']:.2f} / {row['symmetrix_cpu'] / row['equipot_cpu']:.2f} |")
    print("\n| code | structure | peak RSS (setup + steps) | RSS before the calculator | RSS after the first step "
          "| µs/atom-step (wall / CPU) | load |")
    print("|---|---|---|---|---|---|---|")
    for name in report["speed"]:
        for code in CODES:
            x = report["speed"][name].get(code)
            if x:
                print(f"| {code} | {name} | {x['peak_rss_mb']:.0f} MB | {x['rss_before_calculator_mb']:.0f} MB "
                      f"| {x['rss_after_first_step_mb']:.0f} MB | {x['wall']:.0f} / {x['cpu']:.0f} | |")
    for name, entry in report["memory"].items():
        for code, x in entry.items():
            print(f"| {code} | {name} | {x['peak_rss_mb']:.0f} MB | {x['rss_before_calculator_mb']:.0f} MB "
                  f"| {x['rss_after_first_step_mb']:.0f} MB | {x['wall']:.0f} / {x['cpu']:.0f} | {x['load']:.2f} |")
    for name, entry in report["agreement"].items():
        print(f"\n{name}: mace-torch float64 energy {entry['mace_float64_energy_per_atom']:.9f} eV/atom, "
              f"max |F| {entry['max_abs_force']:.3g} eV/Å; differences from it:\n")
        print("| code | precision | E/atom − mace f64 (eV) | max |ΔF| (eV/Å) | max |Δσ| (eV/Å³) |")
        print("|---|---|---|---|---|")
        for r in entry["rows"]:
            print(f"| {r['code']} | {r['precision']} | {r['d_energy_per_atom']:.2e} | {r['max_d_force']:.2e} "
                  f"| {r['max_d_stress']:.2e} |")
    for name in names:
        prof = report["speed"][name]["profile"]
        if not prof:
            continue
        total = dict(prof)["eqp_compute_with_options, whole call"]
        print(f"\nequipot f32 profile, {name} (median of {args.profile_steps} steps, ms; share of the whole call):\n")
        print("| stage | ms | share |")
        print("|---|---|---|")
        for stage, seconds in prof:
            print(f"| {stage} | {1e3 * seconds:.1f} | {100 * seconds / total:.1f} % |")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="equipot model file")
    p.add_argument("--symmetrix-model", required=True, help="the same model as symmetrix_extract_mace writes it")
    p.add_argument("--checkpoint", required=True, help="the same model as mace-torch saves it")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--structures", default="si_diamond_512,cu_fcc_500")
    p.add_argument("--rounds", type=int, default=5, help="alternating equipot / Symmetrix rounds per structure")
    p.add_argument("--steps", type=int, default=10, help="timed steps per code and round")
    p.add_argument("--round-warmup", type=int, default=1, help="untimed steps at the start of every round")
    p.add_argument("--mace-steps", type=int, default=2, help="timed mace-torch steps (after its warm-up); 0 skips it")
    p.add_argument("--memory-structures", default="si_diamond_4096", help="peak RSS of equipot and Symmetrix ('' skips)")
    p.add_argument("--memory-steps", type=int, default=1)
    p.add_argument("--agreement-structures", default=None,
                   help="float64 agreement check (default: --structures; '' skips)")
    p.add_argument("--profile-structures", default="si_diamond_512", help="equipot's per-stage profile ('' skips)")
    p.add_argument("--profile-steps", type=int, default=5)
    p.add_argument("--symmetrix-backend", default="cpu-avx512", help="SYMMETRIX_BACKEND: cpu-avx512 or cpu (AVX2)")
    p.add_argument("--symmetrix-profile", default="capacity", choices=["capacity", "speed"],
                   help="Symmetrix(execution_profile=...); capacity is its default")
    p.add_argument("--symmetrix-skin", type=float, default=0.5, help="Symmetrix(neighbor_skin=...), its default 0.5 Å")
    p.add_argument("--equipot-python", default=sys.executable)
    p.add_argument("--symmetrix-python", default="/work/venv-symmetrix/bin/python")
    p.add_argument("--mace-python", default="/work/venv-symmetrix/bin/python",
                   help="a python with mace-torch and lmdb + orjson, which mace.calculators imports (venv-mace lacks them)")
    p.add_argument("--log-dir", default=None, help="workers' stderr and results (default: a new temporary folder)")
    p.add_argument("--json-out", help="write everything measured here as JSON")
    p.add_argument("--serve", choices=CODES, dest="code", help=argparse.SUPPRESS)
    p.add_argument("--structure", help=argparse.SUPPRESS)
    p.add_argument("--precision", default="float32", help=argparse.SUPPRESS)
    p.add_argument("--save", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.code:
        return serve(args)
    split = lambda s: [x for x in s.split(",") if x]  # noqa: E731
    structures = split(args.structures)
    args.profile_structures = split(args.profile_structures)
    agreement_structures = structures if args.agreement_structures is None else split(args.agreement_structures)
    args.log_dir = args.log_dir or tempfile.mkdtemp(prefix="bench_mace_")
    os.makedirs(args.log_dir, exist_ok=True)

    report = dict(host=os.uname().nodename, cpu=cpu_model(), cores=os.cpu_count(), threads=args.threads,
                  equipot_commit=git_commit(), load_before=os.getloadavg(),
                  start=time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()), args=vars(args),
                  speed={}, memory={}, agreement={})
    print(f"# {report['start']}, host {report['host']} ({report['cpu']}, {report['cores']} cores), "
          f"threads {args.threads}, equipot {report['equipot_commit']}, load {report['load_before']}; "
          f"logs in {args.log_dir}", flush=True)
    for name in structures:
        speed(args, name, report)
    for name in split(args.memory_structures):
        memory(args, name, report)
    for name in agreement_structures:
        agreement(args, name, report)
    report["load_after"] = os.getloadavg()
    first = next(iter(report["speed"].values()), None)
    if first:
        sy = first["symmetrix"]
        print(f"# Symmetrix-XL {sy.get('version')}, backend {sy.get('backend')} ({sy.get('architecture')}), "
              f"{sy.get('execution_profile')} profile (plan {sy.get('execution_plan')}), skin {sy.get('neighbor_skin')} Å")
        if first.get("mace"):
            m = first["mace"]
            print(f"# mace-torch {m.get('version')}, torch {m.get('torch')}, e3nn {m.get('e3nn')}, "
                  f"{m.get('torch_threads')} torch threads")
    print(f"# load before {report['load_before']}, after {report['load_after']}")
    print_tables(args, report)
    if args.json_out:
        pathlib.Path(args.json_out).write_text(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
