#!/usr/bin/env python3
"""The GPU half of docs/cuda.md's verification, for a machine with a GPU but no
Rust, no network and maybe no numpy: Python's standard library and the
driver (libcuda) only.

It runs the cubins that scripts/cuda_compile_check.py built (target/cuda-compile/)
on the cases that tests/cuda_reference.rs wrote (target/cuda-ref/), and
compares the results with the CPU backend's float64 outputs at the host
checks' tolerances (1e-12 in float64, 1e-5 in float32). The fast convolution
kernels are checked there as well, against the same CPU outputs, and every
convolution kernel is timed. Exit status 1 on any failure.

    python3 scripts/gpu_check.py [--cases target/cuda-ref] [--cubins target/cuda-compile] [--arch sm_90]
    python3 scripts/gpu_check.py --dry-run    # no GPU: inputs, cubins, argument lists (35-cuda.sh runs this)

STATUS: written without a GPU. Only --dry-run has run (in CI): the launches,
the downloads and the comparisons on a device have not, so the first GPU
session must run it and fix what it finds before any of its results count.
"""
import argparse
import array
import ctypes
import os
import sys
import time

TOL = {"double": 1e-12, "float": 1e-5}


class Cuda:
    """The few driver-API calls needed, through ctypes."""

    def __init__(self):
        self.lib = ctypes.CDLL("libcuda.so.1")
        self.call("cuInit", 0)
        dev = ctypes.c_int()
        self.call("cuDeviceGet", ctypes.byref(dev), 0)
        major, minor = ctypes.c_int(), ctypes.c_int()
        self.call("cuDeviceGetAttribute", ctypes.byref(major), 75, dev)  # COMPUTE_CAPABILITY_MAJOR
        self.call("cuDeviceGetAttribute", ctypes.byref(minor), 76, dev)  # COMPUTE_CAPABILITY_MINOR
        self.arch = f"sm_{major.value}{minor.value}"
        name = ctypes.create_string_buffer(256)
        self.call("cuDeviceGetName", name, 256, dev)
        self.name = name.value.decode()
        version = ctypes.c_int()
        self.call("cuDriverGetVersion", ctypes.byref(version))
        self.driver = version.value
        self.ctx = ctypes.c_void_p()
        self.call("cuDevicePrimaryCtxRetain", ctypes.byref(self.ctx), dev)
        self.call("cuCtxSetCurrent", self.ctx)
        self.modules = {}

    def call(self, name, *args):
        status = getattr(self.lib, name)(*args)
        if status != 0:
            text = ctypes.c_char_p()
            self.lib.cuGetErrorString(status, ctypes.byref(text))
            raise RuntimeError(f"{name}: {text.value.decode() if text.value else status}")

    def function(self, cubin, kernel):
        if cubin not in self.modules:
            image = open(cubin, "rb").read()
            module = ctypes.c_void_p()
            self.call("cuModuleLoadData", ctypes.byref(module), image)
            self.modules[cubin] = module
        f = ctypes.c_void_p()
        self.call("cuModuleGetFunction", ctypes.byref(f), self.modules[cubin], kernel.encode())
        return f

    def upload(self, values):
        """A device copy of an array.array (or bytes); returns its address."""
        data = bytes(values) if not isinstance(values, bytes) else values
        ptr = ctypes.c_uint64()
        self.call("cuMemAlloc_v2", ctypes.byref(ptr), max(len(data), 1))
        if data:
            self.call("cuMemcpyHtoD_v2", ptr, data, len(data))
        return ptr.value

    def download(self, ptr, typecode, n):
        out = array.array(typecode, bytes(n * array.array(typecode).itemsize))
        if n:
            buf = (ctypes.c_char * (n * out.itemsize)).from_buffer(out)
            self.call("cuMemcpyDtoH_v2", buf, ctypes.c_uint64(ptr), n * out.itemsize)
        return out

    def free_all(self, ptrs):
        for p in ptrs:
            self.call("cuMemFree_v2", ctypes.c_uint64(p))

    def launch(self, f, grid, block, args, shared=0):
        """args: ctypes values, in the kernel's parameter order."""
        params = (ctypes.c_void_p * len(args))(*[ctypes.cast(ctypes.pointer(a), ctypes.c_void_p) for a in args])
        self.call("cuLaunchKernel", f, grid, 1, 1, block, 1, 1, shared, None, params, None)
        self.call("cuCtxSynchronize")


class DryCuda:
    """No device: reads every input, resolves every cubin and kernel name
    (the files must exist), launches nothing, compares nothing. Checks the
    plumbing on a machine without a GPU."""

    arch, name, driver = "sm_90", "dry run (no device)", 0

    def __init__(self, cuda_dir):
        self.buffers, self.missing, self.mismatches = {}, set(), []
        self.arity = kernel_arity(cuda_dir)

    def function(self, cubin, kernel):
        if not os.path.exists(cubin):
            self.missing.add(cubin)
        return kernel

    def upload(self, values):
        data = bytes(values) if not isinstance(values, bytes) else values
        self.buffers[len(self.buffers) + 1] = bytearray(data)
        return len(self.buffers)

    def download(self, ptr, typecode, n):
        return array.array(typecode, bytes(n * array.array(typecode).itemsize))

    def free_all(self, ptrs):
        pass

    def call(self, name, *args):
        pass

    def launch(self, f, grid, block, args, shared=0):
        if self.arity.get(f) != len(args):
            self.mismatches.append(f"{f}: {len(args)} arguments, the kernel takes {self.arity.get(f)}")


def kernel_arity(cuda_dir):
    """{kernel: number of parameters} of every extern "C" kernel in cuda/*.cu."""
    import re
    arity = {}
    for name in os.listdir(cuda_dir):
        if not name.endswith(".cu"):
            continue
        text = open(os.path.join(cuda_dir, name)).read()
        for m in re.finditer(r'extern "C" __global__ void\s+(\w+)\s*\(([^)]*)\)', text):
            arity[m.group(1)] = len([p for p in m.group(2).split(",") if p.strip()])
    return arity


class Case:
    def __init__(self, directory):
        self.dir = directory
        self.name = os.path.basename(directory.rstrip("/"))
        self.source = open(os.path.join(directory, "source.txt")).read().strip()
        self.meta = dict(line.split() for line in open(os.path.join(directory, "meta.txt")) if line.strip())
        self.defines = dict(
            (l.strip().split("=", 1) + [""])[:2] for l in open(os.path.join(directory, "defines.txt")) if l.strip())

    def n(self, key):
        return int(float(self.meta[key]))

    def f(self, key):
        return float(self.meta[key])

    def d(self, key):
        return int(self.defines[key])

    def read(self, name, typecode, expected):
        ext = {"d": "f64", "i": "i32"}[typecode]
        a = array.array(typecode)
        with open(os.path.join(self.dir, f"{name}.{ext}"), "rb") as fh:
            a.frombytes(fh.read())
        if len(a) != expected:
            raise RuntimeError(f"{self.name}/{name}: {len(a)} values, expected {expected}")
        return a


class Run:
    """One case on the device in one precision: uploads, launches, comparisons."""

    def __init__(self, cuda, case, real, cubin_dir, arch):
        self.cuda, self.case, self.real = cuda, case, real
        self.rc = "d" if real == "double" else "f"
        self.scalar = ctypes.c_double if real == "double" else ctypes.c_float
        self.cubin_dir, self.arch = cubin_dir, arch
        self.ptrs, self.failures, self.lines = [], 0, []

    def cubin(self, source):
        return os.path.join(self.cubin_dir, f"{source[:-3]}.test_{self.case.name}.{self.real}.{self.arch}.cubin")

    def fn(self, kernel, source=None):
        return self.cuda.function(self.cubin(source or self.case.source), kernel)

    def dev(self, values):
        p = self.cuda.upload(values)
        self.ptrs.append(p)
        return ctypes.c_uint64(p)

    def reals(self, name, n):
        """An input in the working precision, on the device."""
        return self.dev(array.array(self.rc, self.case.read(name, "d", n)))

    def ints(self, name, n):
        return self.dev(self.case.read(name, "i", n))

    def out(self, n, typecode=None):
        """An output buffer filled with NaN (or -1 for ints): unwritten entries fail."""
        tc = typecode or self.rc
        fill = float("nan") if tc in "df" else -1
        return self.dev(array.array(tc, [fill]) * n), n, tc

    def compare(self, label, buf, name, allow_empty=False):
        ptr, n, tc = buf
        if isinstance(self.cuda, DryCuda):
            self.case.read(name, "d", n)  # the reference exists, with the right length
            return
        got = self.cuda.download(ptr.value, tc, n)
        want = self.case.read(name, "d", n)
        scale = max((abs(w) for w in want), default=0.0)
        bad = sum(1 for g, w in zip(got, want) if g != g or w != w or abs(g) == float("inf"))
        worst = max((abs(g - w) for g, w in zip(got, want)), default=float("inf"))
        rel = worst / scale if scale > 0 else (worst if n else 0.0)
        ok = bad == 0 and rel <= TOL[self.real] and (n > 0 or allow_empty)
        self.failures += not ok
        tag = "f64" if self.real == "double" else "f32"
        self.lines.append(f"{'ok  ' if ok else 'FAIL'} {tag} {self.case.name:<28} {label:<28} {n:9} values  "
                          f"max rel err {rel:.3e}{'  NON-FINITE' if bad else ''}")

    def compare_ints(self, label, buf, name):
        ptr, n, tc = buf
        if isinstance(self.cuda, DryCuda):
            self.case.read(name, "i", n)
            return
        got = list(self.cuda.download(ptr.value, tc, n))
        ok = got == list(self.case.read(name, "i", n))
        self.failures += not ok
        self.lines.append(f"{'ok  ' if ok else 'FAIL'}     {self.case.name:<28} {label:<28} {n:9} values  "
                          f"{'identical' if ok else 'differ'}")

    def timed(self, label, f, grid, block, args, repeats=20):
        if isinstance(self.cuda, DryCuda):
            return
        self.cuda.launch(f, grid, block, args)  # warm-up (and the result checked)
        start = time.perf_counter()
        for _ in range(repeats):
            self.cuda.launch(f, grid, block, args)
        ms = (time.perf_counter() - start) / repeats * 1e3
        self.lines.append(f"time {self.real:<6} {self.case.name:<28} {label:<28} {ms:9.4f} ms per launch (incl. sync)")

    def done(self):
        self.cuda.free_all(self.ptrs)
        return self.failures


def blocks(n, threads=128):
    return max(1, (n + threads - 1) // threads)


def i32(v):
    return ctypes.c_int(v)


def i64(v):
    return ctypes.c_int64(v)


def check_edge_stage(r):
    c, n = r.case, r.case.n("n_edges")
    dim, nb = (c.d("EQP_LMAX") + 1) ** 2, c.d("EQP_NUM_BASIS")

    class RadialParams(ctypes.Structure):
        _fields_ = [("cutoff", r.scalar), ("cutoff_on", r.scalar), ("prefactor", r.scalar)]

    rp = RadialParams(c.f("cutoff"), c.f("cutoff_on"), c.f("prefactor"))
    v, coeffs = r.reals("vectors", 3 * n), r.reals("coeffs", nb)
    out_r, out_sh, out_emb, out_gv = r.out(n), r.out(n * dim), r.out(n * nb), r.out(3 * n)
    r.cuda.launch(r.fn("eqp_edge_forward"), blocks(n), 128, [i64(n), v, rp, coeffs, out_r[0], out_sh[0], out_emb[0]])
    r.cuda.launch(r.fn("eqp_edge_backward"), blocks(n), 128,
                  [i64(n), v, rp, coeffs, r.reals("grad_sh", n * dim), r.reals("grad_embedding", n * nb),
                   r.reals("grad_r", n), out_gv[0]])
    for label, buf, name in [("r", out_r, "r"), ("sh", out_sh, "sh"), ("embedding", out_emb, "embedding"),
                             ("grad_vectors", out_gv, "grad_vectors")]:
        r.compare(label, buf, name)


def check_conv(r):
    c = r.case
    n, ne, nt = c.n("n_nodes"), c.n("n_edges"), c.n("n_terms")
    D1, D2, D3, W = (c.d(f"EQP_CONV_{k}") for k in ["D1", "D2", "D3", "WEIGHTS"])
    table_len = 6 * c.d("EQP_CONV_PATHS") + 3 * c.d("EQP_CONV_IN1_BLOCKS") + 3 * c.d("EQP_CONV_OUT_BLOCKS") \
        + 2 * c.d("EQP_CONV_IN2_BLOCKS") + 3 * nt
    table, coef = r.ints("table", table_len), r.reals("coefficients", nt)
    senders, receivers = r.ints("senders", ne), r.ints("receivers", ne)
    ro, re_, so, se = (r.ints("recv_offsets", n + 1), r.ints("recv_edges", ne), r.ints("send_offsets", n + 1),
                       r.ints("send_edges", ne))
    x, sh, w, g = r.reals("x", n * D1), r.reals("sh", ne * D2), r.reals("w", ne * W), r.reals("grad_out", n * D3)
    scale = r.scalar(c.f("scale"))
    out, gx, gsh, gw = r.out(n * D3), r.out(n * D1), r.out(ne * D2), r.out(ne * W)
    fwd = [i32(n), table, coef, ro, re_, senders, x, sh, w, scale, out[0]]
    r.cuda.launch(r.fn("eqp_conv_forward"), blocks(n * c.d("EQP_CONV_OUT_CHANNELS")), 128, fwd)
    r.cuda.launch(r.fn("eqp_conv_backward_x"), blocks(n * c.d("EQP_CONV_IN1_CHANNELS")), 128,
                  [i32(n), table, coef, so, se, receivers, sh, w, scale, g, gx[0]])
    r.cuda.launch(r.fn("eqp_conv_backward_sh"), blocks(ne * D2), 128,
                  [i32(ne), table, coef, senders, receivers, x, w, scale, g, gsh[0]])
    r.cuda.launch(r.fn("eqp_conv_backward_w"), blocks(ne * W), 128,
                  [i32(ne), table, coef, senders, receivers, x, sh, scale, g, gw[0]])
    for label, buf, name in [("out", out, "out"), ("grad_x", gx, "grad_x"), ("grad_sh", gsh, "grad_sh"),
                             ("grad_w", gw, "grad_w")]:
        r.compare(label, buf, name)
    r.timed("forward (reference)", r.fn("eqp_conv_forward"), blocks(n * c.d("EQP_CONV_OUT_CHANNELS")), 128, fwd)
    # The fast kernels (EQP_CONV_BLOCK = 128 threads, the default), same table.
    fast = "tensor_product_conv_fast.cu"
    out2, gx2, gsh2, gw2 = r.out(n * D3), r.out(n * D1), r.out(ne * D2), r.out(ne * W)
    fwd_fast = [i32(n), table, coef, ro, re_, senders, x, sh, w, scale, out2[0]]
    bwd_fast = [i32(n), table, coef, so, se, receivers, x, sh, w, scale, g, gx2[0], gsh2[0], gw2[0]]
    r.cuda.launch(r.fn("eqp_conv_forward_fast", fast), n, 128, fwd_fast)
    r.cuda.launch(r.fn("eqp_conv_backward_fast", fast), n, 128, bwd_fast)
    for label, buf, name in [("out (fast)", out2, "out"), ("grad_x (fast)", gx2, "grad_x"),
                             ("grad_sh (fast)", gsh2, "grad_sh"), ("grad_w (fast)", gw2, "grad_w")]:
        r.compare(label, buf, name)
    r.timed("forward (fast)", r.fn("eqp_conv_forward_fast", fast), n, 128, fwd_fast)
    r.timed("backward (fast)", r.fn("eqp_conv_backward_fast", fast), n, 128, bwd_fast)


def check_conv_table(r):
    c = r.case
    n, ne, nt = c.n("n_nodes"), c.n("n_edges"), c.n("n_terms")
    D1, D2, D3, W = (c.d(f"EQP_CONV_{k}") for k in ["D1", "D2", "D3", "WEIGHTS"])
    pieces_n, ni, n_exact = c.d("EQP_TABLE_PIECES"), c.n("n_intervals"), c.n("n_exact")
    table_len = 6 * c.d("EQP_CONV_PATHS") + 3 * c.d("EQP_CONV_IN1_BLOCKS") + 3 * c.d("EQP_CONV_OUT_BLOCKS") \
        + 2 * c.d("EQP_CONV_IN2_BLOCKS") + 3 * nt
    table, coef = r.ints("table", table_len), r.reals("coefficients", nt)
    senders, receivers = r.ints("senders", ne), r.ints("receivers", ne)
    ro, re_ = r.ints("recv_offsets", n + 1), r.ints("recv_edges", ne)
    x, sh, g = r.reals("x", n * D1), r.reals("sh", ne * D2), r.reals("grad_out", n * D3)

    class TableWeights(ctypes.Structure):
        _fields_ = [(k, ctypes.c_uint64) for k in ["r", "pieces", "first", "cubics", "exact_slot", "exact_w"]]

    tw = TableWeights(r.reals("r", ne).value, r.dev(c.read("pieces", "d", 3 * pieces_n)).value,
                      r.ints("first", pieces_n + 1).value, r.reals("cubics", ni * 4 * W).value,
                      r.ints("exact_slot", ne).value, r.reals("exact_w", n_exact * W).value)
    scale = r.scalar(c.f("scale"))
    out, grad_r, gwe, out_fast = r.out(n * D3), r.out(ne), r.out(n_exact * W), r.out(n * D3)
    fwd = [i32(n), table, coef, ro, re_, senders, x, sh, tw, scale, out[0]]
    r.cuda.launch(r.fn("eqp_conv_forward_table"), blocks(n * c.d("EQP_CONV_OUT_CHANNELS")), 128, fwd)
    r.cuda.launch(r.fn("eqp_conv_grad_r_table"), blocks(ne), 128,
                  [i32(ne), table, coef, senders, receivers, x, sh, tw, scale, g, grad_r[0], gwe[0]])
    fwd_fast = [i32(n), table, coef, ro, re_, senders, x, sh, tw, scale, out_fast[0]]
    r.cuda.launch(r.fn("eqp_conv_forward_table_fast"), n, 128, fwd_fast)
    for label, buf, name in [("out", out, "out"), ("grad_r", grad_r, "grad_r"), ("grad_w_exact", gwe, "grad_w_exact"),
                             ("out (fast)", out_fast, "out")]:
        r.compare(label, buf, name)
    r.timed("forward, table (fast)", r.fn("eqp_conv_forward_table_fast"), n, 128, fwd_fast)


def check_radial_table(r):
    c = r.case
    n, ni, width, pieces = c.n("n_edges"), c.n("n_intervals"), c.d("EQP_TABLE_WIDTH"), c.d("EQP_TABLE_PIECES")
    rr, pc = r.reals("r", n), r.dev(c.read("pieces", "d", 3 * pieces))
    first, cubics = r.ints("first", pieces + 1), r.reals("cubics", ni * 4 * width)
    w, dw, outside, gr = r.out(n * width), r.out(n * width), r.out(n, "i"), r.out(n)
    r.cuda.launch(r.fn("eqp_table_forward"), blocks(n * width), 128, [i64(n), rr, pc, first, cubics, w[0], dw[0], outside[0]])
    r.cuda.launch(r.fn("eqp_table_grad_r"), blocks(n), 128,
                  [i64(n), rr, pc, first, cubics, r.reals("grad_w", n * width), gr[0]])
    r.compare_ints("outside", outside, "outside")
    for label, buf, name in [("w", w, "w"), ("dw", dw, "dw"), ("grad_r", gr, "grad_r")]:
        r.compare(label, buf, name)


def check_linear(r):
    c = r.case
    rows, din, dout = c.n("rows"), c.d("EQP_LIN_DIN"), c.d("EQP_LIN_DOUT")
    paths = c.d("EQP_LIN_PATHS")
    table = r.ints("table", 3 * paths + 3 * c.d("EQP_LIN_IN_BLOCKS") + 4 * c.d("EQP_LIN_OUT_BLOCKS"))
    alpha, weight = r.reals("alpha", paths), r.reals("weight", c.n("n_weights"))
    bias = r.reals("bias", c.n("n_biases"))
    y, gx = r.out(rows * dout), r.out(rows * din)
    r.cuda.launch(r.fn("eqp_linear_forward"), blocks(rows * dout), 128,
                  [i64(rows), table, alpha, weight, bias, r.reals("x", rows * din), y[0]])
    r.cuda.launch(r.fn("eqp_linear_backward"), blocks(rows * din), 128,
                  [i64(rows), table, alpha, weight, r.reals("grad_y", rows * dout), gx[0]])
    r.compare("y", y, "y")
    r.compare("grad_x", gx, "grad_x")


def check_gate(r):
    c = r.case
    rows, din, dout = c.n("rows"), c.d("EQP_GATE_DIN"), c.d("EQP_GATE_DOUT")
    scale, x = r.scalar(c.f("act_scale")), r.reals("x", rows * din)
    y, gx = r.out(rows * dout), r.out(rows * din)
    r.cuda.launch(r.fn("eqp_gate_forward"), blocks(rows * dout), 128, [i64(rows), r.ints("out_map", 3 * dout), scale, x, y[0]])
    r.cuda.launch(r.fn("eqp_gate_backward"), blocks(rows * din), 128,
                  [i64(rows), r.ints("in_map", 5 * din), scale, x, r.reals("grad_y", rows * dout), gx[0]])
    r.compare("y", y, "y")
    r.compare("grad_x", gx, "grad_x")


def check_symmetric_contraction(r):
    c = r.case
    n, nt = c.n("n_nodes"), c.n("n_terms")
    d, ch, comp = c.d("EQP_SC_D"), c.d("EQP_SC_CHANNELS"), c.d("EQP_SC_COMPONENTS")
    elements, terms = r.ints("elements", n), r.ints("terms", 9 * nt)
    values, weights = r.reals("values", nt), r.reals("weights", c.n("n_weights"))
    x = r.reals("x", n * ch * d)
    out, gx = r.out(n * ch * comp), r.out(n * ch * d)
    r.cuda.launch(r.fn("eqp_sc_forward"), blocks(n * ch * comp), 128,
                  [i32(n), elements, r.ints("components", 3 * comp), terms, r.ints("component_terms", comp + 1),
                   values, weights, x, out[0]])
    r.cuda.launch(r.fn("eqp_sc_backward"), blocks(n * ch * d), 128,
                  [i32(n), i32(nt), elements, terms, values, weights, x, r.reals("grad_out", n * ch * comp), gx[0]])
    r.compare("out", out, "out")
    r.compare("grad_x", gx, "grad_x")


def check_neighbors(r):
    c = r.case
    n, cutoff = c.n("n_atoms"), ctypes.c_double(c.f("cutoff"))
    f = lambda k: r.fn(k)
    pos, m, inv = (r.dev(c.read(k, "d", s)) for k, s in [("positions", 3 * n), ("matrix", 9), ("inverse", 9)])
    pbc = r.ints("pbc", 3)
    wrapped, moved, frac = r.out(3 * n, "d"), r.out(3 * n, "i"), r.out(3 * n, "d")
    plan = r.dev(bytes(128))  # GridPlan: 4 ints + 9 doubles = 88 bytes, padded
    atoms = blocks(n)
    r.cuda.launch(f("eqp_nl_wrap"), atoms, 128, [i32(n), pos, m, inv, pbc, wrapped[0], moved[0], frac[0]])
    r.cuda.launch(f("eqp_nl_plan"), 1, 1, [i32(n), m, pbc, frac[0], cutoff, plan])
    n_bins = array.array("i", r.cuda.download(plan.value, "i", 4))[3]
    bin_starts = r.dev(array.array("i", [0]) * (n_bins + 1))
    bin_fill = r.dev(array.array("i", [0]) * n_bins)
    atom_bin, bin_atoms = r.dev(array.array("i", [0]) * n), r.dev(array.array("i", [-1]) * n)
    r.cuda.launch(f("eqp_nl_bin_count"), atoms, 128, [i32(n), plan, frac[0], atom_bin, bin_starts])
    r.cuda.launch(f("eqp_exclusive_scan"), 1, 1, [i32(n_bins), bin_starts])
    r.cuda.launch(f("eqp_nl_bin_fill"), atoms, 128, [i32(n), atom_bin, bin_starts, bin_fill, bin_atoms])
    offsets = r.dev(array.array("i", [0]) * (n + 1))
    r.cuda.launch(f("eqp_nl_count"), atoms, 128,
                  [i32(n), plan, m, pbc, wrapped[0], frac[0], bin_starts, bin_atoms, cutoff, offsets])
    r.cuda.launch(f("eqp_exclusive_scan"), 1, 1, [i32(n), offsets])
    n_edges = r.cuda.download(offsets.value, "i", n + 1)[n]
    if isinstance(r.cuda, DryCuda):
        n_edges = c.n("n_edges")
    keys = r.dev(bytes(8 * max(n_edges, 1)))
    centers, neighbors, shifts = r.out(n_edges, "i"), r.out(n_edges, "i"), r.out(3 * n_edges, "i")
    vectors = r.out(3 * n_edges, "d")
    coincident = r.dev(array.array("i", [2 ** 31 - 1]))
    r.cuda.launch(f("eqp_nl_fill"), atoms, 128,
                  [i32(n), plan, m, pbc, pos, wrapped[0], moved[0], frac[0], bin_starts, bin_atoms, cutoff, offsets,
                   keys, centers[0], neighbors[0], shifts[0], vectors[0], coincident])
    if n_edges != c.n("n_edges"):
        r.failures += 1
        r.lines.append(f"FAIL     {c.name:<28} {n_edges} edges, CPU {c.n('n_edges')}")
        return
    r.compare_ints("offsets", (offsets, n + 1, "i"), "offsets")
    r.compare_ints("neighbors", neighbors, "neighbors")
    r.compare_ints("shifts", shifts, "shifts")
    r.compare("vectors", vectors, "vectors", allow_empty=True)  # no pairs within the cutoff: no edges


def time_sevennet0(cuda, cases, cubins, arch, n_atoms, degree=40):
    """Timings of the convolution kernels at SevenNet-0's block-1 sizes on a
    synthetic graph of n_atoms nodes with `degree` edges each (constant
    features: timing only, nothing is compared). Reuses the path tables of the
    conv_sevennet0 and conv_table_sevennet0 cases and their cubins."""
    lines = []
    for real in ["float", "double"]:
        case = Case(os.path.join(cases, "conv_sevennet0"))
        run = Run(cuda, case, real, cubins, arch)
        c = case
        nt, n, ne = c.n("n_terms"), n_atoms, n_atoms * degree
        D1, D2, D3, W = (c.d(f"EQP_CONV_{k}") for k in ["D1", "D2", "D3", "WEIGHTS"])
        table_len = 6 * c.d("EQP_CONV_PATHS") + 3 * c.d("EQP_CONV_IN1_BLOCKS") + 3 * c.d("EQP_CONV_OUT_BLOCKS") \
            + 2 * c.d("EQP_CONV_IN2_BLOCKS") + 3 * nt
        table, coef = run.ints("table", table_len), run.reals("coefficients", nt)
        # Edge e = i * degree + k goes to receiver i from sender (7 i + 13 k + 1) mod n.
        receivers = array.array("i", [e // degree for e in range(ne)])
        senders = array.array("i", [(7 * (e // degree) + 13 * (e % degree) + 1) % n for e in range(ne)])
        recv_offsets = array.array("i", [i * degree for i in range(n + 1)])
        counts = [0] * (n + 1)
        for j in senders:
            counts[j + 1] += 1
        for i in range(n):
            counts[i + 1] += counts[i]
        send_offsets, fill = array.array("i", counts), list(counts)
        send_edges = array.array("i", [0]) * ne
        for e, j in enumerate(senders):
            send_edges[fill[j]] = e
            fill[j] += 1
        dev = lambda a: run.dev(a)
        rs, ss, ro, so = dev(receivers), dev(senders), dev(recv_offsets), dev(send_offsets)
        re_, se = dev(array.array("i", range(ne))), dev(send_edges)
        size = 8 if real == "double" else 4

        def constant(count):  # a normal number in either precision
            p = ctypes.c_uint64()
            cuda.call("cuMemAlloc_v2", ctypes.byref(p), count * size)
            cuda.call("cuMemsetD8_v2", p, 0x3e, count * size)
            run.ptrs.append(p.value)
            return ctypes.c_uint64(p.value)

        x, sh, w, g = constant(n * D1), constant(ne * D2), constant(ne * W), constant(n * D3)
        out, gx, gsh, gw = constant(n * D3), constant(n * D1), constant(ne * D2), constant(ne * W)
        scale = run.scalar(c.f("scale"))
        fast = "tensor_product_conv_fast.cu"
        kernels = [
            ("forward (reference)", run.fn("eqp_conv_forward"), blocks(n * c.d("EQP_CONV_OUT_CHANNELS")),
             [i32(n), table, coef, ro, re_, ss, x, sh, w, scale, out]),
            ("backward_x (reference)", run.fn("eqp_conv_backward_x"), blocks(n * c.d("EQP_CONV_IN1_CHANNELS")),
             [i32(n), table, coef, so, se, rs, sh, w, scale, g, gx]),
            ("backward_sh (reference)", run.fn("eqp_conv_backward_sh"), blocks(ne * D2),
             [i32(ne), table, coef, ss, rs, x, w, scale, g, gsh]),
            ("backward_w (reference)", run.fn("eqp_conv_backward_w"), blocks(ne * W),
             [i32(ne), table, coef, ss, rs, x, sh, scale, g, gw]),
            ("forward (fast)", run.fn("eqp_conv_forward_fast", fast), n,
             [i32(n), table, coef, ro, re_, ss, x, sh, w, scale, out]),
            ("backward (fast)", run.fn("eqp_conv_backward_fast", fast), n,
             [i32(n), table, coef, so, se, rs, x, sh, w, scale, g, gx, gsh, gw]),
        ]
        for label, f, grid, args in kernels:
            cuda.launch(f, grid, 128, args)
            start = time.perf_counter()
            for _ in range(10):
                cuda.launch(f, grid, 128, args)
            ms = (time.perf_counter() - start) / 10 * 1e3
            lines.append(f"time {real:<6} SevenNet-0 block 1, {n} atoms x {degree} edges  {label:<26} "
                         f"{ms:9.3f} ms  {ms * 1e3 / n:8.3f} us/atom")
        run.done()
    return lines


CHECKS = {
    "edge_stage.cu": check_edge_stage,
    "tensor_product_conv.cu": check_conv,
    "tensor_product_conv_table.cu": check_conv_table,
    "radial_table.cu": check_radial_table,
    "linear.cu": check_linear,
    "gate.cu": check_gate,
    "symmetric_contraction.cu": check_symmetric_contraction,
    "neighbors.cu": check_neighbors,
}


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser()
    ap.add_argument("--cases", default=os.path.join(root, "target", "cuda-ref"))
    ap.add_argument("--cubins", default=os.path.join(root, "target", "cuda-compile"))
    ap.add_argument("--arch", help="cubin architecture (default: the device's)")
    ap.add_argument("--dry-run", action="store_true", help="no device: check inputs, cubins and kernel arguments")
    ap.add_argument("--time-atoms", type=int, default=3000,
                    help="atoms of the synthetic SevenNet-0 timing graph (0: no timings)")
    args = ap.parse_args()
    try:
        cuda = DryCuda(os.path.join(root, "cuda")) if args.dry_run else Cuda()
    except OSError as e:
        sys.exit(f"no CUDA driver (libcuda.so.1): {e}")
    arch = args.arch or cuda.arch
    print(f"{cuda.name}, {cuda.arch}, driver CUDA {cuda.driver // 1000}.{cuda.driver % 1000 // 10}; cubins for {arch}")
    failures = 0
    for name in sorted(os.listdir(args.cases)):
        case = Case(os.path.join(args.cases, name))
        for real in (["double"] if case.source == "neighbors.cu" else ["double", "float"]):
            run = Run(cuda, case, real, args.cubins, arch)
            try:
                CHECKS[case.source](run)
            except Exception as e:  # a launch or load error is a failure of this case, not the end
                run.failures += 1
                run.lines.append(f"FAIL {real} {name}: {type(e).__name__}: {e}")
            failures += run.done()
            if run.lines:
                print("\n".join(run.lines), flush=True)
    if args.time_atoms:
        try:  # (a dry run goes through the same plumbing on a small graph, and prints nothing)
            dry = isinstance(cuda, DryCuda)
            lines = time_sevennet0(cuda, args.cases, args.cubins, arch, 50 if dry else args.time_atoms)
            if not dry:
                print("\n".join(lines))
        except Exception as e:
            print(f"FAIL timings: {type(e).__name__}: {e}")
            failures += 1
    if isinstance(cuda, DryCuda):
        for cubin in sorted(cuda.missing):
            print(f"FAIL missing {cubin}")
        for mismatch in cuda.mismatches:
            print(f"FAIL {mismatch}")
        failures += len(cuda.missing) + len(cuda.mismatches)
    print(f"{failures} failure(s)")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
