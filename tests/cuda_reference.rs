//! Writes inputs and the CPU backend's outputs for the CUDA reference kernels
//! (cuda/*.cu) to target/cuda-ref/<case>/, one directory per case: the
//! kernels' compile-time sizes (`defines.txt`, one -D per line), which source
//! they specialize (`source.txt`), scalars (`meta.txt`, `key value` lines),
//! and raw little-endian arrays (`<name>.f64`, `<name>.i32`). The host build
//! of the kernels (cuda/host/, run by scripts/ci/35-cuda.sh) reads them and
//! compares; scripts/cuda_compile_check.py compiles the same specializations
//! through NVRTC. Nothing here needs a GPU or the CUDA toolkit.
//!
//! Only the public API is used, so this test reads the CPU kernels, never
//! changes them.

mod nn_support;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use equipot::graph::Cell;
use equipot::nn::{Activation, BesselBasis, ContractionTensors, Gate, SymmetricContraction, TensorView, HermiteTable, Linear, LinearSpec, PathNormalization, PolynomialCutoff, UvuTensorProduct, XplorCutoff};
use equipot::so3::{wigner_3j, Irreps, Normalization, SphericalHarmonics};
use equipot::{AtomGraph, Structure, Workspace};

/// A small seeded generator (splitmix64), uniform in [lo, hi).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e3779b97f4a7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58476d1ce4e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d049bb133111eb);
        z ^ (z >> 31)
    }
    fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn vec(&mut self, n: usize, lo: f64, hi: f64) -> Vec<f64> {
        (0..n).map(|_| self.uniform(lo, hi)).collect()
    }
    fn index(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// One case's directory, written file by file.
struct Case {
    dir: PathBuf,
    meta: String,
}

impl Case {
    fn new(name: &str, source: &str, defines: &[String]) -> Case {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/cuda-ref").join(name);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("source.txt"), format!("{source}\n")).unwrap();
        std::fs::write(dir.join("defines.txt"), defines.join("\n") + "\n").unwrap();
        Case { dir, meta: String::new() }
    }
    fn scalar(&mut self, key: &str, value: impl std::fmt::Display) {
        writeln!(self.meta, "{key} {value}").unwrap();
    }
    fn f64s(&self, name: &str, values: &[f64]) {
        assert!(values.iter().all(|v| v.is_finite()), "{name}: a reference value is not finite");
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        std::fs::write(self.dir.join(format!("{name}.f64")), bytes).unwrap();
    }
    fn i32s(&self, name: &str, values: &[i32]) {
        let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        std::fs::write(self.dir.join(format!("{name}.i32")), bytes).unwrap();
    }
}

impl Drop for Case {
    fn drop(&mut self) {
        std::fs::write(self.dir.join("meta.txt"), &self.meta).unwrap();
    }
}

enum Envelope {
    Xplor { cutoff_on: f64 },
    Polynomial { p: u32 },
}

/// The edge stage of one model family: r, Y, B(r)·f(r) with edges r ≥ r_c
/// masked (the models drop them), and dE/dv for random cotangents.
fn edge_case(name: &str, lmax: u32, n_basis: usize, cutoff: f64, envelope: Envelope, normalize: bool, mace: bool) {
    let mut rng = Rng(0x5eed ^ name.len() as u64 * 7919 + lmax as u64);
    let n_edges = 300;
    // Lengths from 0.3 Å to past the cutoff, a few at exactly r_c.
    let mut vectors: Vec<[f64; 3]> = (0..n_edges)
        .map(|_| {
            let d: [f64; 3] = std::array::from_fn(|_| rng.uniform(-1.0, 1.0));
            let n = (d[0] * d[0] + d[1] * d[1] + d[2] * d[2]).sqrt().max(1e-3);
            let r = rng.uniform(0.3, cutoff * 1.15);
            d.map(|x| x / n * r)
        })
        .collect();
    vectors[7] = [cutoff, 0.0, 0.0];
    vectors[8] = [0.0, -cutoff, 0.0];
    let coeffs: Vec<f64> = (1..=n_basis)
        .map(|k| k as f64 * std::f64::consts::PI / cutoff * if mace { 1.0 } else { rng.uniform(0.9, 1.1) })
        .collect();
    let prefactor = if mace { (2.0 / cutoff).sqrt() } else { 2.0 / cutoff };
    let basis = BesselBasis::<f64>::with_prefactor(prefactor, &coeffs).unwrap();
    let (f, df): (Box<dyn Fn(f64) -> f64>, Box<dyn Fn(f64) -> f64>) = match envelope {
        Envelope::Xplor { cutoff_on } => {
            let x = XplorCutoff::<f64>::new(cutoff, cutoff_on).unwrap();
            let y = x.clone();
            (Box::new(move |r| x.value(r)), Box::new(move |r| y.derivative(r)))
        }
        Envelope::Polynomial { p } => {
            let x = PolynomialCutoff::<f64>::new(cutoff, p).unwrap();
            let y = x.clone();
            (Box::new(move |r| x.value(r)), Box::new(move |r| y.derivative(r)))
        }
    };
    let sh = SphericalHarmonics::new(lmax, normalize, Normalization::Component).unwrap();
    let dim = sh.dim();
    let r: Vec<f64> = vectors.iter().map(|v| (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt()).collect();
    let mut y = vec![0.0; n_edges * dim];
    sh.compute(&vectors, &mut y).unwrap();
    let mut b = vec![0.0; n_edges * n_basis];
    basis.forward(&r, &mut b).unwrap();
    let keep: Vec<bool> = r.iter().map(|&r| r < cutoff).collect();
    let mut embedding = vec![0.0; n_edges * n_basis];
    for e in 0..n_edges {
        for k in 0..n_basis {
            embedding[e * n_basis + k] = if keep[e] { b[e * n_basis + k] * f(r[e]) } else { 0.0 };
        }
        if !keep[e] {
            y[e * dim..(e + 1) * dim].fill(0.0);
        }
    }
    // Backward: dE/dv = SH vjp + dE/dr v/r, dE/dr = g_r + Σ_k g_k (B_k' f + B_k f').
    let grad_sh = rng.vec(n_edges * dim, -1.0, 1.0);
    let grad_embedding = rng.vec(n_edges * n_basis, -1.0, 1.0);
    let grad_r = rng.vec(n_edges, -1.0, 1.0);
    let mut grad_vectors = vec![[0.0; 3]; n_edges];
    sh.backward(&vectors, &grad_sh, &mut grad_vectors).unwrap();
    let g_times_f: Vec<f64> = (0..n_edges * n_basis).map(|i| grad_embedding[i] * f(r[i / n_basis])).collect();
    let mut through_basis = vec![0.0; n_edges];
    basis.backward(&r, &g_times_f, &mut through_basis).unwrap();
    for e in 0..n_edges {
        if !keep[e] {
            grad_vectors[e] = [0.0; 3];
            continue;
        }
        let through_f: f64 = (0..n_basis).map(|k| grad_embedding[e * n_basis + k] * b[e * n_basis + k]).sum::<f64>() * df(r[e]);
        let dr = grad_r[e] + through_basis[e] + through_f;
        for c in 0..3 {
            grad_vectors[e][c] += dr * vectors[e][c] / r[e];
        }
    }

    let mut defines = vec![format!("EQP_LMAX={lmax}"), format!("EQP_NUM_BASIS={n_basis}")];
    let cutoff_on = match envelope {
        Envelope::Xplor { cutoff_on } => {
            defines.push("EQP_ENVELOPE=EQP_ENVELOPE_XPLOR".into());
            cutoff_on
        }
        Envelope::Polynomial { p } => {
            defines.extend(["EQP_ENVELOPE=EQP_ENVELOPE_POLYNOMIAL".into(), format!("EQP_POLY_P={p}")]);
            0.0
        }
    };
    defines.push(format!("EQP_SH_NORMALIZE={}", normalize as i32));
    let mut case = Case::new(name, "edge_stage.cu", &defines);
    case.scalar("n_edges", n_edges);
    case.scalar("cutoff", format!("{cutoff:.17e}"));
    case.scalar("cutoff_on", format!("{cutoff_on:.17e}"));
    case.scalar("prefactor", format!("{prefactor:.17e}"));
    case.f64s("vectors", vectors.as_flattened());
    case.f64s("coeffs", &coeffs);
    case.f64s("grad_sh", &grad_sh);
    case.f64s("grad_embedding", &grad_embedding);
    case.f64s("grad_r", &grad_r);
    case.f64s("r", &r);
    case.f64s("sh", &y);
    case.f64s("embedding", &embedding);
    case.f64s("grad_vectors", grad_vectors.as_flattened());
}

/// C(l1, l2, l3)·scale's nonzero entries (m1, m2, m3, value), as the CPU's
/// tensor product tables them (src/nn/tensor_product.rs `cg_table`): with a
/// degree 0, the identity / sqrt(2l + 1) written exactly.
fn cg_terms(l1: u32, l2: u32, l3: u32, scale: f64) -> Vec<(i32, i32, i32, f64)> {
    let (d1, d2, d3) = (2 * l1 as usize + 1, 2 * l2 as usize + 1, 2 * l3 as usize + 1);
    let c = if l1 == 0 || l2 == 0 || l3 == 0 {
        let d = d1.max(d2).max(d3);
        let mut c = vec![0.0; d1 * d2 * d3];
        for m in 0..d {
            let (i, j, k) = (if l1 == 0 { 0 } else { m }, if l2 == 0 { 0 } else { m }, if l3 == 0 { 0 } else { m });
            c[(i * d2 + j) * d3 + k] = 1.0 / (d as f64).sqrt();
        }
        c
    } else {
        wigner_3j(l1, l2, l3).unwrap()
    };
    let mut terms = Vec::new();
    for m1 in 0..d1 {
        for m3 in 0..d3 {
            for m2 in 0..d2 {
                let v = c[(m1 * d2 + m2) * d3 + m3];
                if v.abs() > 1e-14 {
                    terms.push((m1 as i32, m2 as i32, m3 as i32, v * scale));
                }
            }
        }
    }
    terms
}

/// The uvu convolution on a random graph: forward and the three gradients.
/// With `tabulated`, the weights come from a radial table at random lengths
/// (three edges, too short for the table, with exact weights), and the case
/// holds what the table-reading kernels give: out, dE/dr and the exact edges' dE/dw.
fn conv_case(name: &str, x_irreps: &str, sh_lmax: u32, odd_sh: bool, n_nodes: usize, n_edges: usize, tabulated: bool) {
    let mut rng = Rng(0xc0ffee + name.len() as u64);
    let irreps_x = Irreps::parse(x_irreps).unwrap();
    let sh_str: Vec<String> = (0..=sh_lmax).map(|l| format!("1x{l}{}", if odd_sh && l % 2 == 1 { "o" } else { "e" })).collect();
    let irreps_sh = Irreps::parse(&sh_str.join("+")).unwrap();
    let tp = UvuTensorProduct::sevenn(&irreps_x, &irreps_sh, &irreps_x).unwrap();
    let (d1, d2, d3, nw) = (irreps_x.dim(), irreps_sh.dim(), tp.irreps_out().dim(), tp.weight_numel());
    // Edges in random order, some nodes with no edges at all (the last one).
    let centers: Vec<u32> = (0..n_edges).map(|_| rng.index(n_nodes - 1) as u32).collect();
    let neighbors: Vec<u32> = (0..n_edges).map(|_| rng.index(n_nodes - 1) as u32).collect();
    let index = equipot::nn::EdgeIndex::new(n_nodes, &centers, &neighbors).unwrap();
    let x = rng.vec(n_nodes * d1, -1.0, 1.0);
    let sh = rng.vec(n_edges * d2, -1.0, 1.0);
    let mut w = rng.vec(n_edges * nw, -1.0, 1.0);
    let g = rng.vec(n_nodes * d3, -1.0, 1.0);
    // Table weights: w rows from the table, but for the exact edges.
    let (radial, pieces, first, cubics) = sample_table(if tabulated { nw } else { 1 }); // (unused when not tabulated)
    let r: Vec<f64> = (0..n_edges).map(|e| if e % 17 == 3 { 0.15 } else { rng.uniform(0.25, 4.99) as f32 as f64 }).collect();
    let mut exact_slot = vec![-1i32; n_edges];
    let mut exact_w = Vec::new();
    if tabulated {
        for e in 0..n_edges {
            let row = &mut w[e * nw..(e + 1) * nw];
            if !radial.value(r[e], row) {
                exact_slot[e] = (exact_w.len() / nw) as i32;
                exact_w.extend_from_slice(row);
            }
        }
        assert!(!exact_w.is_empty());
    }
    let scale = 1.0 / 35.98957443237305; // SevenNet-0's denominator
    let mut out = vec![0.0; n_nodes * d3];
    tp.conv_forward(&index, &x, &sh, &w, scale, &mut out).unwrap();
    let (mut gx, mut gsh, mut gw) = (vec![0.0; x.len()], vec![0.0; sh.len()], vec![0.0; w.len()]);
    tp.conv_backward(&index, &x, &sh, &w, scale, &g, &mut gx, &mut gsh, &mut gw).unwrap();

    // The path table (layout in cuda/tensor_product_conv.cuh).
    let slices = |irreps: &Irreps| -> Vec<(i32, i32, i32)> {
        irreps.slices().iter().zip(irreps.iter()).map(|(s, b)| (s.start as i32, b.mul as i32, b.ir.dim() as i32)).collect()
    };
    let (b1, b2, b3) = (slices(&irreps_x), slices(&irreps_sh), slices(tp.irreps_out()));
    let mut paths = Vec::new();
    let mut terms = Vec::new();
    let mut coefficients = Vec::new();
    let mut off_w = 0i32;
    for (ins, norm) in tp.instructions().iter().zip(tp.path_normalizations()) {
        let (l1, l2, l3) = (irreps_x.0[ins.i_in1].ir.l, irreps_sh.0[ins.i_in2].ir.l, tp.irreps_out().0[ins.i_out].ir.l);
        let (mul, mul2) = (irreps_x.0[ins.i_in1].mul as i32, irreps_sh.0[ins.i_in2].mul);
        assert_eq!(mul2, 1, "the kernels take one copy of each edge irrep");
        let first = terms.len() as i32 / 3;
        for (m1, m2, m3, v) in cg_terms(l1, l2, l3, norm) {
            terms.extend([m1, m2, m3]);
            coefficients.push(v);
        }
        let last = terms.len() as i32 / 3;
        let w_at = if ins.has_weight { off_w } else { -1 };
        paths.extend([ins.i_in1 as i32, ins.i_in2 as i32, ins.i_out as i32, w_at, first, last]);
        if ins.has_weight {
            off_w += mul;
        }
    }
    assert_eq!(off_w as usize, nw);
    let mut table: Vec<i32> = paths.clone();
    for b in [&b1, &b3] {
        table.extend(b.iter().flat_map(|&(o, m, d)| [o, m, d]));
    }
    table.extend(b2.iter().flat_map(|&(o, _, d)| [o, d]));
    table.extend(&terms);
    // Receiver and sender CSR, stable (as EdgeIndex builds them).
    let csr = |key: &[u32]| -> (Vec<i32>, Vec<i32>) {
        let mut offsets = vec![0i32; n_nodes + 1];
        for &k in key {
            offsets[k as usize + 1] += 1;
        }
        for i in 0..n_nodes {
            offsets[i + 1] += offsets[i];
        }
        let mut next = offsets.clone();
        let mut edges = vec![0i32; key.len()];
        for (e, &k) in key.iter().enumerate() {
            edges[next[k as usize] as usize] = e as i32;
            next[k as usize] += 1;
        }
        (offsets, edges)
    };
    let (recv_offsets, recv_edges) = csr(&centers);
    let (send_offsets, send_edges) = csr(&neighbors);
    let max_l = irreps_x.lmax().max(tp.irreps_out().lmax()).max(sh_lmax);
    let defines = vec![
        format!("EQP_CONV_PATHS={}", tp.instructions().len()),
        format!("EQP_CONV_IN1_BLOCKS={}", b1.len()),
        format!("EQP_CONV_IN2_BLOCKS={}", b2.len()),
        format!("EQP_CONV_OUT_BLOCKS={}", b3.len()),
        format!("EQP_CONV_D1={d1}"),
        format!("EQP_CONV_D2={d2}"),
        format!("EQP_CONV_D3={d3}"),
        format!("EQP_CONV_WEIGHTS={nw}"),
        format!("EQP_CONV_IN1_CHANNELS={}", irreps_x.iter().map(|b| b.mul).sum::<usize>()),
        format!("EQP_CONV_OUT_CHANNELS={}", tp.irreps_out().iter().map(|b| b.mul).sum::<usize>()),
        format!("EQP_CONV_MAX_L={max_l}"),
    ];
    let mut defines = defines;
    if tabulated {
        defines.extend([format!("EQP_TABLE_PIECES={}", pieces.len() / 3), format!("EQP_TABLE_WIDTH={nw}")]);
    }
    let source = if tabulated { "tensor_product_conv_table.cu" } else { "tensor_product_conv.cu" };
    let mut case = Case::new(name, source, &defines);
    if tabulated {
        // dE/dr of tabulated edges, the exact edges' dE/dw rows.
        let mut grad_r = vec![0.0; n_edges];
        let mut grad_w_exact = Vec::new();
        for e in 0..n_edges {
            let row = &gw[e * nw..(e + 1) * nw];
            match radial.derivative_dot(r[e], row) {
                Some(d) if exact_slot[e] < 0 => grad_r[e] = d,
                _ => grad_w_exact.extend_from_slice(row),
            }
        }
        case.scalar("n_intervals", radial.n_intervals());
        case.scalar("n_exact", exact_w.len() / nw);
        case.f64s("r", &r);
        case.f64s("pieces", &pieces);
        case.i32s("first", &first);
        case.f64s("cubics", &cubics);
        case.i32s("exact_slot", &exact_slot);
        case.f64s("exact_w", &exact_w);
        case.f64s("grad_r", &grad_r);
        case.f64s("grad_w_exact", &grad_w_exact);
    }
    case.scalar("n_nodes", n_nodes);
    case.scalar("n_edges", n_edges);
    case.scalar("n_terms", coefficients.len());
    case.scalar("scale", format!("{scale:.17e}"));
    case.i32s("table", &table);
    case.f64s("coefficients", &coefficients);
    case.i32s("senders", &neighbors.iter().map(|&j| j as i32).collect::<Vec<_>>());
    case.i32s("receivers", &centers.iter().map(|&i| i as i32).collect::<Vec<_>>());
    case.i32s("recv_offsets", &recv_offsets);
    case.i32s("recv_edges", &recv_edges);
    case.i32s("send_offsets", &send_offsets);
    case.i32s("send_edges", &send_edges);
    case.f64s("x", &x);
    case.f64s("sh", &sh);
    case.f64s("w", &w);
    case.f64s("grad_out", &g);
    case.f64s("out", &out);
    case.f64s("grad_x", &gx);
    case.f64s("grad_sh", &gsh);
    case.f64s("grad_w", &gw);
}

/// The CPU graph builder's edges of one structure, and the completed cell
/// the kernels take (Cell::new's matrix and inverse).
fn neighbor_case(name: &str, positions: &[[f64; 3]], cell: Option<[[f64; 3]; 3]>, pbc: [bool; 3], cutoff: f64) {
    let numbers = vec![14; positions.len()];
    let structure = Structure { positions, numbers: &numbers, cell, pbc };
    let ws = Workspace::new(1).unwrap();
    let graph: AtomGraph = AtomGraph::build(&structure, cutoff, &ws).unwrap();
    let c = Cell::new(cell, pbc).unwrap();
    let mut case = Case::new(name, "neighbors.cu", &[]);
    case.scalar("n_atoms", positions.len());
    case.scalar("n_edges", graph.n_edges());
    case.scalar("cutoff", format!("{cutoff:.17e}"));
    case.f64s("positions", positions.as_flattened());
    case.f64s("matrix", c.matrix.as_flattened());
    case.f64s("inverse", c.inverse.as_flattened());
    case.i32s("pbc", &pbc.map(|p| p as i32));
    case.i32s("offsets", &graph.offsets.iter().map(|&o| o as i32).collect::<Vec<_>>());
    case.i32s("neighbors", &graph.neighbors.iter().map(|&j| j as i32).collect::<Vec<_>>());
    case.i32s("shifts", graph.shifts.as_flattened());
    case.f64s("vectors", graph.vectors.as_flattened());
}

/// A Hermite table of a smooth vector function of r (SevenNet's radial
/// network is one, tabulated at load time) on SevenNet's three pieces, with
/// the kernels' layout of it: (table, pieces, first intervals, cubics).
/// HermiteTable keeps its coefficients private, so they are rebuilt here with
/// its formulas (src/nn/spline.rs); the comparisons with its values check them.
fn sample_table(width: usize) -> (HermiteTable<f64>, Vec<f64>, Vec<i32>, Vec<f64>) {
    let freq: Vec<f64> = (0..width).map(|k| 0.5 + 0.37 * k as f64).collect();
    let phase: Vec<f64> = (0..width).map(|k| 0.1 * k as f64).collect();
    let exact = |r: &[f64]| -> equipot::Result<(Vec<f64>, Vec<f64>)> {
        let mut y = Vec::with_capacity(r.len() * width);
        let mut dy = Vec::with_capacity(r.len() * width);
        for &r in r {
            for k in 0..width {
                let (s, c, decay) = ((freq[k] * r + phase[k]).sin(), (freq[k] * r + phase[k]).cos(), (-0.3 * r).exp());
                y.push(s * decay);
                dy.push((freq[k] * c - 0.3 * s) * decay);
            }
        }
        Ok((y, dy))
    };
    // Break points like SevenNet's tables (src/model/nequip.rs table_pieces);
    // coarser knots for wide tables, whose files must stay small enough
    // (~6 MB) to carry to a GPU machine.
    let breaks = [0.2, 2.5, 4.5, 5.0];
    let spacings = if width > 100 { [0.05, 0.02, 0.01] } else { [0.01, 0.004, 0.002] };
    let table = HermiteTable::<f64>::new(&breaks, &spacings, width, exact).unwrap();
    let (mut pieces, mut first, mut cubics) = (Vec::new(), vec![0i32], Vec::new());
    for (b, &spacing) in breaks.windows(2).zip(&spacings) {
        let n = ((b[1] - b[0]) / spacing).ceil().max(1.0) as usize;
        let h = (b[1] - b[0]) / n as f64;
        pieces.extend([b[0], b[1], 1.0 / h]);
        first.push(first.last().unwrap() + n as i32);
        let knots: Vec<f64> = (0..=n).map(|i| if i == n { b[1] } else { b[0] + i as f64 * h }).collect();
        let (y, dy) = exact(&knots).unwrap();
        for k in 0..n {
            let (y0, y1) = (&y[k * width..(k + 1) * width], &y[(k + 1) * width..(k + 2) * width]);
            let (m0, m1) = (&dy[k * width..(k + 1) * width], &dy[(k + 1) * width..(k + 2) * width]);
            cubics.extend_from_slice(y0);
            cubics.extend(m0.iter().map(|&m| h * m));
            cubics.extend((0..width).map(|i| 3.0 * (y1[i] - y0[i]) - h * (2.0 * m0[i] + m1[i])));
            cubics.extend((0..width).map(|i| 2.0 * (y0[i] - y1[i]) + h * (m0[i] + m1[i])));
        }
    }
    assert_eq!(*first.last().unwrap() as usize, table.n_intervals());
    (table, pieces, first, cubics)
}

/// The table's values, derivatives and dE/dr at random lengths, some outside
/// the domain.
fn table_case(name: &str, width: usize) {
    let mut rng = Rng(0x7ab1e + width as u64);
    let (table, pieces, first, cubics) = sample_table(width);
    let breaks = [0.2, 2.5, 4.5, 5.0];
    let n_edges = 400;
    // Lengths exact in float32 too, so the float32 check sees the same points
    // (the fastest columns change by ~1e-4 per float32 rounding of r).
    let mut r: Vec<f64> = rng.vec(n_edges, 0.1, 5.3).iter().map(|&r| r as f32 as f64).collect();
    r[0] = breaks[0];
    r[1] = 5.0;
    r[2] = 2.5;
    r[3] = 4.5;
    let (mut w, mut dw, mut outside, mut grad_r) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let grad_w = rng.vec(n_edges * width, -1.0, 1.0);
    for (e, &re) in r.iter().enumerate() {
        let (mut y, mut d) = (vec![0.0; width], vec![0.0; width]);
        let inside = table.value_and_derivative(re, &mut y, &mut d);
        outside.push(!inside as i32);
        grad_r.push(table.derivative_dot(re, &grad_w[e * width..(e + 1) * width]).unwrap_or(0.0));
        w.extend(y);
        dw.extend(d);
    }
    let mut case = Case::new(name, "radial_table.cu", &[format!("EQP_TABLE_PIECES={}", pieces.len() / 3), format!("EQP_TABLE_WIDTH={width}")]);
    case.scalar("n_edges", n_edges);
    case.scalar("n_intervals", table.n_intervals());
    case.f64s("r", &r);
    case.f64s("pieces", &pieces);
    case.i32s("first", &first);
    case.f64s("cubics", &cubics);
    case.f64s("grad_w", &grad_w);
    case.i32s("outside", &outside);
    case.f64s("w", &w);
    case.f64s("dw", &dw);
    case.f64s("grad_r", &grad_r);
}

/// An e3nn Linear (every pair of equal irreps, 'element' normalization) on
/// random rows, forward and backward.
fn linear_case(name: &str, irreps_in: &str, irreps_out: &str, biases: bool, rows: usize) {
    let mut rng = Rng(0x11ea4 + rows as u64);
    let (ii, io) = (Irreps::parse(irreps_in).unwrap(), Irreps::parse(irreps_out).unwrap());
    let spec = LinearSpec::new(&ii, &io, None, biases, PathNormalization::Element).unwrap();
    let weight = rng.vec(spec.weight_numel(), -1.0, 1.0);
    let bias = rng.vec(spec.bias_numel(), -1.0, 1.0);
    let layer = Linear::<f64>::new(&spec, &weight, &bias).unwrap();
    let x = rng.vec(rows * ii.dim(), -1.0, 1.0);
    let g = rng.vec(rows * io.dim(), -1.0, 1.0);
    let (mut y, mut gx) = (vec![0.0; rows * io.dim()], vec![0.0; rows * ii.dim()]);
    layer.forward(rows, &x, &mut y).unwrap();
    layer.backward(rows, &g, &mut gx).unwrap();
    let mut table = Vec::new();
    let mut alpha = Vec::new();
    let mut offset = 0;
    for &(i, o, a) in &spec.instructions {
        table.extend([i as i32, o as i32, offset as i32]);
        alpha.push(a);
        offset += ii.0[i].mul * io.0[o].mul;
    }
    for (s, b) in ii.slices().iter().zip(ii.iter()) {
        table.extend([s.start as i32, b.mul as i32, b.ir.dim() as i32]);
    }
    let mut bias_at = 0;
    for ((s, b), &has_bias) in io.slices().iter().zip(io.iter()).zip(&spec.biases) {
        table.extend([s.start as i32, b.mul as i32, b.ir.dim() as i32, if has_bias { bias_at as i32 } else { -1 }]);
        if has_bias {
            bias_at += b.dim();
        }
    }
    let defines = vec![
        format!("EQP_LIN_PATHS={}", spec.instructions.len()),
        format!("EQP_LIN_IN_BLOCKS={}", ii.len()),
        format!("EQP_LIN_OUT_BLOCKS={}", io.len()),
        format!("EQP_LIN_DIN={}", ii.dim()),
        format!("EQP_LIN_DOUT={}", io.dim()),
    ];
    let mut case = Case::new(name, "linear.cu", &defines);
    case.scalar("rows", rows);
    case.scalar("n_weights", weight.len());
    case.scalar("n_biases", bias.len());
    case.i32s("table", &table);
    case.f64s("alpha", &alpha);
    case.f64s("weight", &weight);
    case.f64s("bias", &bias);
    case.f64s("x", &x);
    case.f64s("grad_y", &g);
    case.f64s("y", &y);
    case.f64s("grad_x", &gx);
}

/// SevenNet's gate (silu on scalars and gates) on random rows. The kernels'
/// flat maps are built here from the layout nn::Gate documents (blocks of
/// scalars, gates, gated stably sorted by irrep); the comparison with
/// nn::Gate checks them.
fn gate_case(name: &str, scalars: &str, gates: &str, gated: &str, rows: usize) {
    let mut rng = Rng(0x6a7e + rows as u64);
    let groups = [Irreps::parse(scalars).unwrap(), Irreps::parse(gates).unwrap(), Irreps::parse(gated).unwrap()];
    let silu = |irreps: &Irreps| vec![Some(Activation::Silu); irreps.len()];
    let gate = Gate::<f64>::new(&groups[0], &silu(&groups[0]), &groups[1], &silu(&groups[1]), &groups[2]).unwrap();
    let (din, dout) = (gate.irreps_in().dim(), gate.irreps_out().dim());
    let mut blocks: Vec<(usize, usize, equipot::so3::MulIr)> =
        groups.iter().enumerate().flat_map(|(g, irreps)| irreps.iter().enumerate().map(move |(b, m)| (g, b, *m))).collect();
    blocks.sort_by_key(|&(_, _, m)| m.ir);
    let mut starts = [vec![0; groups[0].len()], vec![0; groups[1].len()], vec![0; groups[2].len()]];
    let mut offset = 0;
    for &(g, b, m) in &blocks {
        starts[g][b] = offset;
        offset += m.dim();
    }
    let (mut out_map, mut in_map) = (Vec::new(), vec![[3i32, 0, 0, 0, 0]; din]);
    for (m, &src) in groups[0].iter().zip(&starts[0]) {
        for u in 0..m.mul {
            in_map[src + u] = [0, 1, (out_map.len() / 3) as i32, 0, 0];
            out_map.extend([(src + u) as i32, -1, 1]);
        }
    }
    let gate_inputs: Vec<usize> = groups[1].iter().zip(&starts[1]).flat_map(|(m, &src)| (0..m.mul).map(move |u| src + u)).collect();
    let copies: Vec<(usize, usize)> =
        groups[2].iter().zip(&starts[2]).flat_map(|(m, &src)| (0..m.mul).map(move |u| (src + u * m.ir.dim(), m.ir.dim()))).collect();
    assert_eq!(copies.len(), gate_inputs.len());
    for (&(src, dim), &g) in copies.iter().zip(&gate_inputs) {
        let first_out = out_map.len() / 3;
        in_map[g] = [1, 1, first_out as i32, src as i32, dim as i32];
        for m in 0..dim {
            in_map[src + m] = [2, 1, (first_out + m) as i32, g as i32, 0];
            out_map.extend([(src + m) as i32, g as i32, 1]);
        }
    }
    assert_eq!(out_map.len(), 3 * dout);
    let x = rng.vec(rows * din, -3.0, 3.0);
    let g = rng.vec(rows * dout, -1.0, 1.0);
    let (mut y, mut gx) = (vec![0.0; rows * dout], vec![0.0; rows * din]);
    gate.forward(rows, &x, &mut y).unwrap();
    gate.backward(rows, &x, &g, &mut gx).unwrap();
    let mut case = Case::new(name, "gate.cu", &[format!("EQP_GATE_DIN={din}"), format!("EQP_GATE_DOUT={dout}")]);
    case.scalar("rows", rows);
    case.scalar("act_scale", format!("{:.17e}", Activation::Silu.normalization()));
    case.i32s("out_map", &out_map);
    case.i32s("in_map", in_map.as_flattened());
    case.f64s("x", &x);
    case.f64s("grad_y", &g);
    case.f64s("y", &y);
    case.f64s("grad_x", &gx);
}

/// MACE's symmetric contraction on the fixture cases that mace-torch wrote
/// (tests/fixtures/mace/symmetric_contraction.json: U's exact nonzeros,
/// weights, inputs), against the CPU layer built from the same tensors.
fn symmetric_contraction_cases() {
    let path = format!("{}/tests/fixtures/mace/symmetric_contraction.json", env!("CARGO_MANIFEST_DIR"));
    let fixture: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let usizes = |v: &serde_json::Value| -> Vec<usize> { v.as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as usize).collect() };
    for (n_case, case) in fixture["cases"].as_array().unwrap().iter().enumerate() {
        let irreps_in = Irreps::parse(case["irreps_in"].as_str().unwrap()).unwrap();
        let irreps_out = Irreps::parse(case["irreps_out"].as_str().unwrap()).unwrap();
        let (channels, n_nodes) = (case["channels"].as_u64().unwrap() as usize, case["nodes"].as_u64().unwrap() as usize);
        let d = irreps_in.iter().map(|m| m.ir.dim()).sum::<usize>();
        // Dense U and weights per output irrep, by order nu = 1..
        let mut dense: Vec<(Vec<(Vec<usize>, Vec<f64>)>, Vec<(Vec<usize>, Vec<f64>)>)> = Vec::new();
        for c in case["contractions"].as_array().unwrap() {
            let u = c["U"].as_array().unwrap().iter().map(|u| {
                let shape = usizes(&u["shape"]);
                let mut values = vec![0.0; shape.iter().product()];
                for (i, v) in usizes(&u["indices"]).into_iter().zip(nn_support::array(&u["values"])) {
                    values[i] = v;
                }
                (shape, values)
            }).collect();
            let w = c["weights"].as_array().unwrap().iter().map(|w| (usizes(&w["shape"]), nn_support::array(&w["values"]))).collect();
            dense.push((u, w));
        }
        let tensors: Vec<ContractionTensors> = dense
            .iter()
            .map(|(u, w)| ContractionTensors {
                u: u.iter().map(|(s, v)| TensorView { shape: s, values: v }).collect(),
                weights: w.iter().map(|(s, v)| TensorView { shape: s, values: v }).collect(),
            })
            .collect();
        let layer = SymmetricContraction::<f64>::new(&irreps_in, &irreps_out, &tensors).unwrap();
        let elements = usizes(&case["elements"]);
        let (x, g) = (nn_support::array(&case["x"]), nn_support::array(&case["g"]));
        let mut out = vec![0.0; n_nodes * irreps_out.dim()];
        layer.forward(&elements, &x, &mut out).unwrap();
        let mut grad_x = vec![0.0; x.len()];
        layer.backward(&elements, &x, &g, &mut grad_x).unwrap();

        // U's nonzeros as terms, by output component (block by block, m inside).
        let (mut components, mut component_terms, mut terms, mut values, mut weights) =
            (Vec::new(), vec![0i32], Vec::new(), Vec::new(), Vec::new());
        let mut block_offset = 0;
        for ((u, w), out_irrep) in dense.iter().zip(irreps_out.iter()) {
            let dim = out_irrep.ir.dim();
            let mut bases = Vec::new(); // weight offset of each nu
            for (shape, wv) in w {
                bases.push((weights.len(), shape[1] * shape[2]));
                weights.extend_from_slice(wv);
            }
            for m in 0..dim {
                components.extend([block_offset as i32, dim as i32, m as i32]);
                for (nu0, (shape, uv)) in u.iter().enumerate() {
                    let nu = nu0 + 1;
                    let k_count = *shape.last().unwrap();
                    let per_m: usize = d.pow(nu as u32) * k_count; // entries per output component
                    let base = if out_irrep.ir.l == 0 { 0 } else { m * per_m };
                    for flat in 0..per_m {
                        let v = uv[base + flat];
                        if v == 0.0 {
                            continue;
                        }
                        let k = flat % k_count;
                        let mut rest = flat / k_count;
                        let mut idx = [-1i32; 3];
                        for a in (0..nu).rev() {
                            idx[a] = (rest % d) as i32;
                            rest /= d;
                        }
                        let (w_base, stride) = bases[nu0];
                        terms.extend([block_offset as i32, dim as i32, m as i32, nu as i32, idx[0], idx[1], idx[2]]);
                        terms.extend([(w_base + k * channels) as i32, stride as i32]);
                        values.push(v);
                    }
                }
                component_terms.push((values.len()) as i32);
            }
            block_offset += out_irrep.mul * dim;
        }
        let n_components = components.len() / 3;
        let defines = vec![format!("EQP_SC_D={d}"), format!("EQP_SC_CHANNELS={channels}"), format!("EQP_SC_COMPONENTS={n_components}")];
        let mut out_case = Case::new(&format!("sc_mace_fixture{n_case}"), "symmetric_contraction.cu", &defines);
        out_case.scalar("n_nodes", n_nodes);
        out_case.scalar("n_terms", values.len());
        out_case.scalar("n_weights", weights.len());
        out_case.i32s("elements", &elements.iter().map(|&z| z as i32).collect::<Vec<_>>());
        out_case.i32s("components", &components);
        out_case.i32s("component_terms", &component_terms);
        out_case.i32s("terms", &terms);
        out_case.f64s("values", &values);
        out_case.f64s("weights", &weights);
        out_case.f64s("x", &x);
        out_case.f64s("grad_out", &g);
        out_case.f64s("out", &out);
        out_case.f64s("grad_x", &grad_x);
    }
}

#[test]
fn write_cuda_reference_cases() {
    // Edge stage, the four model families (docs/sevennet-architecture.md, docs/mace-architecture.md).
    edge_case("edge_sevennet0", 2, 8, 5.0, Envelope::Xplor { cutoff_on: 4.5 }, true, false);
    edge_case("edge_sevennet0_22may2024", 2, 8, 5.0, Envelope::Xplor { cutoff_on: 4.5 }, false, false);
    edge_case("edge_l3i5", 3, 8, 5.0, Envelope::Polynomial { p: 6 }, true, false);
    edge_case("edge_mace", 3, 10, 6.0, Envelope::Polynomial { p: 5 }, true, true);

    // Convolutions: SevenNet-0's and l3i5's first-block irreps, a MACE-like O(3) one.
    conv_case("conv_sevennet0", "128x0e+64x1e+32x2e", 2, false, 9, 40, false);
    conv_case("conv_l3i5", "128x0e+64x1e+32x2e+32x3e", 3, false, 7, 25, false);
    conv_case("conv_mace_l1", "16x0e+16x1o", 3, true, 12, 80, false);
    // SevenNet-0 block 1 with its weights from a radial table (960 columns).
    conv_case("conv_table_sevennet0", "128x0e+64x1e+32x2e", 2, false, 9, 40, true);

    // Linear layers: SevenNet-0's self-interaction 2 of block 1 (the convolution's
    // output to the gate's input), a MACE-like one with biases on its scalars.
    linear_case("linear_sevennet0", "224x0e+384x1e+352x2e", "224x0e+64x1e+32x2e", false, 6);
    linear_case("linear_biased", "16x0e+8x1o+4x2e", "8x0e+4x1o", true, 10);

    // Gates: SevenNet-0 blocks 1-3 (128 scalars, 96 gates for 64x1e+32x2e), and
    // one whose gated blocks are reordered by the sort (1o before 2e).
    gate_case("gate_sevennet0", "128x0e", "96x0e", "64x1e+32x2e", 5);
    gate_case("gate_sorted_blocks", "6x0e", "3x0e", "1x2e+2x1o", 7);

    // Symmetric contractions: mace-torch's fixture cases (up to lmax 3, correlation 3).
    symmetric_contraction_cases();

    // Radial tables: SevenNet-0 block 1's width (960 = the weights of its 15 paths) and a small one.
    table_case("table_sevennet0", 960);
    table_case("table_small", 5);

    // Neighbor search: triclinic cells smaller than the cutoff, a slab, a molecule.
    let mut rng = Rng(42);
    let skewed = [[4.1, 0.0, 0.0], [1.3, 3.7, 0.0], [-0.9, 0.8, 4.4]];
    let frac_to_cart = |f: [f64; 3], m: &[[f64; 3]; 3]| -> [f64; 3] {
        std::array::from_fn(|k| f[0] * m[0][k] + f[1] * m[1][k] + f[2] * m[2][k])
    };
    let atoms = |rng: &mut Rng, n: usize, m: &[[f64; 3]; 3], spread: f64| -> Vec<[f64; 3]> {
        // Fractional coordinates partly outside [0, 1): the kernels must wrap.
        (0..n).map(|_| frac_to_cart([rng.uniform(-spread, 1.0 + spread), rng.uniform(0.0, 1.0), rng.uniform(-spread, 1.0)], m)).collect()
    };
    let p = atoms(&mut rng, 9, &skewed, 0.3);
    neighbor_case("neighbors_triclinic_small", &p, Some(skewed), [true; 3], 5.0);
    let big = skewed.map(|row| row.map(|x| 3.0 * x));
    let p = atoms(&mut rng, 150, &big, 0.0);
    neighbor_case("neighbors_triclinic_bulk", &p, Some(big), [true; 3], 4.0);
    let p = atoms(&mut rng, 40, &big, 0.1);
    neighbor_case("neighbors_slab", &p, Some(big), [true, true, false], 4.5);
    let p: Vec<[f64; 3]> = (0..30).map(|_| [rng.uniform(0.0, 8.0), rng.uniform(0.0, 6.0), rng.uniform(-2.0, 3.0)]).collect();
    neighbor_case("neighbors_molecule", &p, None, [false; 3], 3.5);
    // One atom: its own periodic images are its only neighbors (a small skewed
    // cell, cutoff past two cells); and a pair too far apart for any edge.
    neighbor_case("neighbors_single_atom", &[[0.3, -0.2, 0.1]], Some(skewed), [true; 3], 9.0);
    neighbor_case("neighbors_no_edges", &[[0.0, 0.0, 0.0], [10.0, 0.0, 0.0]], None, [false; 3], 3.0);
}
