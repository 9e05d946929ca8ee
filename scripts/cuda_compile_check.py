#!/usr/bin/env python3
"""Compiles every kernel in cuda/ through NVRTC, in every model specialization
the tests use, for compute_80 and compute_90, then runs `ptxas -v` on the PTX
for sm_80 and sm_90 and records registers, spills and shared memory per
kernel. Exits non-zero on a compile error or on any spill in a hot kernel.

Needs only the `nvidia-cuda-nvrtc` and `nvidia-cuda-nvcc` wheels (no driver,
no GPU). Usage:
    cuda_compile_check.py [--specs DIR] [--out DIR]
--specs: extra specializations, one `<case>/defines.txt` per case (one -D per
line), as tests/cuda_reference.rs writes them under target/cuda-ref/.
"""
import argparse
import concurrent.futures
import ctypes
import glob
import json
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CUDA_DIR = os.path.join(ROOT, "cuda")
ARCHS = ["80", "90"]

# The models' sizes, from docs/sevennet-architecture.md (the four sevenn 0.13
# checkpoints) and docs/mace-architecture.md (MACE-MP-0 medium; the fixture
# models in tests/fixtures/mace/models share its lmax 3, 8 Bessel, p = 5).
EDGE_SPECS = {
    "sevennet-0": ["EQP_LMAX=2", "EQP_NUM_BASIS=8", "EQP_ENVELOPE=EQP_ENVELOPE_XPLOR", "EQP_SH_NORMALIZE=1"],
    "sevennet-0-22may2024": ["EQP_LMAX=2", "EQP_NUM_BASIS=8", "EQP_ENVELOPE=EQP_ENVELOPE_XPLOR", "EQP_SH_NORMALIZE=0"],
    "sevennet-l3i5": ["EQP_LMAX=3", "EQP_NUM_BASIS=8", "EQP_ENVELOPE=EQP_ENVELOPE_POLYNOMIAL", "EQP_POLY_P=6"],
    "mace-mp-0-medium": ["EQP_LMAX=3", "EQP_NUM_BASIS=10", "EQP_ENVELOPE=EQP_ENVELOPE_POLYNOMIAL", "EQP_POLY_P=5"],
    "mace-fixtures": ["EQP_LMAX=3", "EQP_NUM_BASIS=8", "EQP_ENVELOPE=EQP_ENVELOPE_POLYNOMIAL", "EQP_POLY_P=5"],
}

# Which source each specialization family compiles, and which of its kernels
# are hot (a spill there fails the check).
# The convolution's sizes include its path table's counts, which the Rust
# test computes from the irreps (tests/cuda_reference.rs): its cases come in
# through --specs, and are SevenNet-0's, l3i5's and a MACE-like layer's.
SOURCES = {
    "edge_stage.cu": {"specs": EDGE_SPECS, "hot": {"eqp_edge_forward", "eqp_edge_backward"}},
    # Coordinates are double whatever the model's precision.
    "neighbors.cu": {"specs": {"any-model": []}, "hot": {"eqp_nl_count", "eqp_nl_fill"}, "reals": ["double"]},
    # Tables (src/model/nequip.rs table_pieces): 3 pieces with XPLOR (a break
    # at r_on), 2 with the polynomial envelope; widths = the blocks' weight
    # counts (docs/sevennet-architecture.md): SevenNet-0 384/960/224, l3i5 512/1760/256.
    "radial_table.cu": {"specs": {**{f"sevennet-0-w{w}": ["EQP_TABLE_PIECES=3", f"EQP_TABLE_WIDTH={w}"]
                                     for w in [384, 960, 224]},
                                  **{f"sevennet-l3i5-w{w}": ["EQP_TABLE_PIECES=2", f"EQP_TABLE_WIDTH={w}"]
                                     for w in [512, 1760, 256]}},
                        "hot": {"eqp_table_forward", "eqp_table_grad_r"}},
    # Path-table counts again come from the Rust cases (--specs).
    # Gates (docs/sevennet-architecture.md): SevenNet-0 blocks 0-3, 224x0e+64x1e+32x2e
    # -> 128x0e+64x1e+32x2e; l3i5 with 32x3e more (and 32 more gates).
    "gate.cu": {"specs": {"sevennet-0": ["EQP_GATE_DIN=576", "EQP_GATE_DOUT=480"],
                          "sevennet-l3i5": ["EQP_GATE_DIN=832", "EQP_GATE_DOUT=704"]},
                "hot": {"eqp_gate_forward", "eqp_gate_backward"}},
    # MACE-MP-0 medium's product blocks (docs/mace-architecture.md): 16 = 0e+1o+2e+3o
    # components per channel, 128 channels, 0e+1o out (4 components), then 0e.
    "symmetric_contraction.cu": {"specs": {"mace-mp-0-medium-block0": ["EQP_SC_D=16", "EQP_SC_CHANNELS=128", "EQP_SC_COMPONENTS=4"],
                                           "mace-mp-0-medium-block1": ["EQP_SC_D=16", "EQP_SC_CHANNELS=128", "EQP_SC_COMPONENTS=1"]},
                                 "hot": {"eqp_sc_forward", "eqp_sc_backward"}},
    "linear.cu": {"specs": {}, "hot": {"eqp_linear_forward", "eqp_linear_backward"}},
    "tensor_product_conv.cu": {"specs": {}, "hot": {"eqp_conv_forward", "eqp_conv_backward_x",
                                                    "eqp_conv_backward_sh", "eqp_conv_backward_w"}},
    # Weights from a radial table (reference and fast): the Rust case's sizes.
    "tensor_product_conv_table.cu": {"specs": {}, "hot": {"eqp_conv_forward_table", "eqp_conv_grad_r_table",
                                                          "eqp_conv_forward_table_fast"}},
    # GPU only: the same specializations as the reference convolution.
    "tensor_product_conv_fast.cu": {"specs": {}, "specs_of": "tensor_product_conv.cu",
                                    "hot": {"eqp_conv_forward_fast", "eqp_conv_backward_fast"}},
}


def find_lib(pattern):
    import site
    for base in site.getsitepackages() + [site.getusersitepackages()]:
        hits = sorted(glob.glob(os.path.join(base, "nvidia", "**", pattern), recursive=True))
        if hits:
            return hits[-1]
    sys.exit(f"cannot find {pattern}: pip install nvidia-cuda-nvrtc nvidia-cuda-nvcc")


class Nvrtc:
    def __init__(self):
        self.lib = ctypes.CDLL(find_lib("libnvrtc.so*[0-9]"))
        self.lib.nvrtcGetErrorString.restype = ctypes.c_char_p
        major, minor = ctypes.c_int(), ctypes.c_int()
        self.check(self.lib.nvrtcVersion(ctypes.byref(major), ctypes.byref(minor)), "version")
        self.version = (major.value, minor.value)

    def check(self, status, what, log=""):
        if status != 0:
            raise RuntimeError(f"{what}: {self.lib.nvrtcGetErrorString(status).decode()}\n{log}")

    def compile(self, source, name, options, headers):
        prog = ctypes.c_void_p()
        names = [h.encode() for h in headers]
        texts = [headers[h].encode() for h in headers]
        self.check(
            self.lib.nvrtcCreateProgram(
                ctypes.byref(prog), source.encode(), name.encode(), len(headers),
                (ctypes.c_char_p * len(texts))(*texts), (ctypes.c_char_p * len(names))(*names)),
            "nvrtcCreateProgram")
        opts = [o.encode() for o in options]
        status = self.lib.nvrtcCompileProgram(prog, len(opts), (ctypes.c_char_p * len(opts))(*opts))
        size = ctypes.c_size_t()
        self.lib.nvrtcGetProgramLogSize(prog, ctypes.byref(size))
        log = ctypes.create_string_buffer(size.value)
        self.lib.nvrtcGetProgramLog(prog, log)
        log = log.value.decode(errors="replace")
        try:
            self.check(status, f"compiling {name} {' '.join(options)}", log)
            self.lib.nvrtcGetPTXSize(prog, ctypes.byref(size))
            ptx = ctypes.create_string_buffer(size.value)
            self.check(self.lib.nvrtcGetPTX(prog, ptx), "nvrtcGetPTX")
            return ptx.value.decode(), log
        finally:
            self.lib.nvrtcDestroyProgram(ctypes.byref(prog))


def cuda_headers():
    return {os.path.basename(p): open(p).read() for p in glob.glob(os.path.join(CUDA_DIR, "*.cuh"))}


def parse_ptxas(text):
    """{kernel: {registers, spill_stores, spill_loads, stack, smem}} from ptxas -v."""
    kernels, current = {}, None
    for line in text.splitlines():
        m = re.search(r"Compiling entry function '(\w+)'", line)
        if m:
            current = m.group(1)
            kernels.setdefault(current, {"registers": 0, "spill_stores": 0, "spill_loads": 0, "stack": 0, "smem": 0})
            continue
        m = re.search(r"Function properties for (\w+)", line)
        if m:  # device functions (math slow paths) are not kernels
            current = m.group(1) if m.group(1) in kernels else None
            continue
        if current is None:
            continue
        k = kernels[current]
        m = re.search(r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads", line)
        if m:
            k["stack"], k["spill_stores"], k["spill_loads"] = map(int, m.groups())
        m = re.search(r"Used (\d+) registers", line)
        if m:
            k["registers"] = int(m.group(1))
        m = re.search(r"(\d+) bytes smem", line)
        if m:
            k["smem"] = int(m.group(1))
    return kernels


def summary(rows):
    """One markdown row per kernel: register range per precision and arch over
    the specializations, total spills, the largest stack frame and shared memory."""
    agg = {}
    for r in rows:
        a = agg.setdefault((r["source"], r["kernel"]), {"specs": set(), "spills": 0, "stack": 0, "smem": 0})
        a.setdefault((r["real"], r["arch"]), []).append(r["registers"])
        a["specs"].add(r["spec"])
        a["spills"] += r["spill_stores"] + r["spill_loads"]
        a["stack"], a["smem"] = max(a["stack"], r["stack"]), max(a["smem"], r["smem"])
    cols = [(real, f"sm_{arch}") for real in ["float", "double"] for arch in ARCHS]
    out = ["| kernel | source | specs | " + " | ".join(f"{'f32' if r == 'float' else 'f64'} {a}" for r, a in cols)
           + " | spills (B) | max stack (B) | max smem (B) |",
           "|---" * (6 + len(cols)) + "|"]
    for (source, kernel), a in sorted(agg.items()):
        cells = []
        for col in cols:
            regs = a.get(col)
            cells.append("—" if not regs else str(min(regs)) if min(regs) == max(regs) else f"{min(regs)}–{max(regs)}")
        out.append(f"| `{kernel}` | {source} | {len(a['specs'])} | " + " | ".join(cells)
                   + f" | {a['spills']} | {a['stack']} | {a['smem']} |")
    return "\n".join(out) + "\n"


def extra_specs(directory):
    """Specializations the host reference tests use: <case>/defines.txt."""
    specs = {}
    for path in sorted(glob.glob(os.path.join(directory, "*", "defines.txt"))):
        case = os.path.basename(os.path.dirname(path))
        source = open(os.path.join(os.path.dirname(path), "source.txt")).read().strip()
        specs.setdefault(source, {})[f"test:{case}"] = [l.strip() for l in open(path) if l.strip()]
    return specs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--specs", help="directory of test specializations (target/cuda-ref)")
    ap.add_argument("--out", default=os.path.join(ROOT, "target", "cuda-compile"))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    nvrtc = Nvrtc()
    ptxas = find_lib("ptxas")
    headers = cuda_headers()
    print(f"NVRTC {nvrtc.version[0]}.{nvrtc.version[1]}, ptxas {ptxas}")

    jobs = []  # (source, spec name, defines, hot kernels)
    for source, what in SOURCES.items():
        for name, defines in what["specs"].items():
            jobs.append((source, name, defines, what["hot"]))
    if args.specs:
        for source, specs in extra_specs(args.specs).items():
            if source not in SOURCES:
                sys.exit(f"{args.specs}: unknown source {source}")
            users = [s for s, what in SOURCES.items() if s == source or what.get("specs_of") == source]
            for user in users:
                for name, defines in specs.items():
                    jobs.append((user, name, defines, SOURCES[user]["hot"]))

    rows, failures = [], []
    for source in SOURCES:
        if not any(job[0] == source for job in jobs):
            failures.append(f"{source}: no specialization to compile (pass --specs target/cuda-ref)")
    def build(job):
        """One (source, spec, precision, arch): NVRTC, then ptxas -v. Returns (rows, failures)."""
        source, name, defines, hot, real, arch = job
        text = open(os.path.join(CUDA_DIR, source)).read()
        options = [f"--gpu-architecture=compute_{arch}", "--std=c++17", "-default-device"] \
            + [f"-D{d}" for d in defines] + [f"-DEQP_REAL={real}"]
        try:
            ptx, log = nvrtc.compile(text, source, options, headers)
        except RuntimeError as e:
            return [], [f"FAIL {source} {name} {real} compute_{arch}: {e}"]
        base = os.path.join(args.out, f"{source[:-3]}.{name.replace(':', '_')}.{real}.sm_{arch}")
        with open(base + ".ptx", "w") as f:
            f.write(ptx)
        run = subprocess.run([ptxas, "-v", f"-arch=sm_{arch}", base + ".ptx", "-o", base + ".cubin"],
                             capture_output=True, text=True)
        if run.returncode != 0:
            return [], [f"ptxas {base}.ptx: {run.stderr}"]
        out_rows, out_failures = [], []
        for kernel, k in sorted(parse_ptxas(run.stderr).items()):
            spills = k["spill_stores"] + k["spill_loads"]
            out_rows.append(dict(source=source, spec=name, real=real, arch=f"sm_{arch}", kernel=kernel, **k))
            if spills and kernel in hot:
                out_failures.append(f"{kernel} ({source}, {name}, {real}, sm_{arch}) spills {spills} bytes")
        return out_rows, out_failures

    # NVRTC runs in ctypes calls (the GIL released) and ptxas in subprocesses: threads suffice.
    builds = [(source, name, defines, hot, real, arch) for source, name, defines, hot in jobs
              for real in SOURCES[source].get("reals", ["float", "double"]) for arch in ARCHS]
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        for out_rows, out_failures in pool.map(build, builds):
            rows.extend(out_rows)
            failures.extend(out_failures)
            for f_ in out_failures:
                print(f_)

    table = os.path.join(args.out, "ptxas.tsv")
    cols = ["source", "spec", "real", "arch", "kernel", "registers", "spill_stores", "spill_loads", "stack", "smem"]
    with open(table, "w") as f:
        f.write("\t".join(cols) + "\n")
        for r in rows:
            f.write("\t".join(str(r[c]) for c in cols) + "\n")
    with open(os.path.join(args.out, "ptxas.json"), "w") as f:
        json.dump(rows, f, indent=1)
    with open(os.path.join(args.out, "ptxas-summary.md"), "w") as f:
        f.write(summary(rows))
    width = max(len(r["kernel"]) for r in rows) if rows else 10
    print(f"{'kernel':<{width}}  {'spec':<28} real   arch   regs spill(st/ld) stack smem")
    for r in rows:
        print(f"{r['kernel']:<{width}}  {r['spec']:<28} {r['real']:<6} {r['arch']}  {r['registers']:4} "
              f"{r['spill_stores']:6}/{r['spill_loads']:<6} {r['stack']:5} {r['smem']:5}")
    print(f"{len(jobs)} specializations x 2 precisions x {len(ARCHS)} archs; table: {table}")
    if failures:
        print(f"{len(failures)} failure(s):")
        for f_ in failures:
            print("  " + f_.splitlines()[0])
        sys.exit(1)


if __name__ == "__main__":
    main()
