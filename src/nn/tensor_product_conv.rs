//! The convolution of NequIP/SevenNet: e3nn's `o3.TensorProduct` with 'uvu'
//! instructions and per-edge weights, fused with the scatter-sum of messages
//! onto their receivers, forward and backward.
//!
//! out[i] = scale · Σ_{e: center(e) = i} TP(x[neighbor(e)], sh[e], w[e])
//!
//! (SevenNet: `edge_dst` = center i, `edge_src` = neighbor j, scale = 1/denominator.)
//!
//! Layout. Inputs and outputs are in e3nn's layout (inside a block of `mul`
//! copies of an irrep: [u][m]). The kernels first transpose node features to
//! channel-last ([m][u] inside each block), so that the inner loops run over
//! the channel u, contiguous, 32–128 long: they vectorize. Edge data (sh, w)
//! is used as given: for a 'uvu' path with one copy of the edge irrep (v = 1),
//! the weights w[u] are already contiguous in u.
//!
//! Per edge and path, the CG tensor is first contracted with the edge's
//! attributes: A[m3, m1] = Σ_m2 C[m1, m2, m3] sh[m2], a tiny matrix that is
//! nonzero only where C is; then out[m3][·] += A[m3, m1] · (w ∘ x[m1])[·].
//!
//! Threads. The forward pass runs over centers: center i owns out[i] and sums
//! its edges, no atomics. The backward pass runs over *neighbors*, through a
//! transposed index of the edges: node j owns grad_x[j] and sums the edges it
//! is the neighbor of, and each edge is visited exactly once, so it owns its
//! grad_sh[e] and grad_w[e]. One pass computes all three gradients, with no
//! recomputation and no per-thread copies of grad_x (which would cost
//! threads × atoms × features memory and a reduction). It needs no full
//! neighbor list either: ghost atoms that are never centers get their grad_x.

use rayon::prelude::*;

use super::tensor_product::{
    axpy, dot, from_channel_last, to_channel_last, Connection, Instruction, IrrepNormalization, Path,
    PathNormalization, Paths,
};
use crate::so3::{Irreps, MulIr};
use crate::{invalid, Error, Real, Result};

/// The edges of a graph indexed both ways: by center (receiver, SevenNet's
/// `edge_dst`) and by neighbor (sender, `edge_src`), as CSR permutations.
/// Edges may come in any order; equipot's graphs are sorted by center already.
#[derive(Clone, Debug)]
pub struct EdgeIndex {
    n_nodes: usize,
    centers: Vec<u32>,
    neighbors: Vec<u32>,
    by_center: Csr,
    by_neighbor: Csr,
}

#[derive(Clone, Debug)]
struct Csr {
    offsets: Vec<usize>,
    edges: Vec<u32>,
}

impl Csr {
    /// Counting sort of edges by `key` (stable: edges keep their order).
    fn new(n_nodes: usize, key: &[u32]) -> Csr {
        let mut offsets = vec![0usize; n_nodes + 1];
        for &k in key {
            offsets[k as usize + 1] += 1;
        }
        for i in 0..n_nodes {
            offsets[i + 1] += offsets[i];
        }
        let mut next = offsets.clone();
        let mut edges = vec![0u32; key.len()];
        for (e, &k) in key.iter().enumerate() {
            edges[next[k as usize]] = e as u32;
            next[k as usize] += 1;
        }
        Csr { offsets, edges }
    }

    fn of(&self, i: usize) -> &[u32] {
        &self.edges[self.offsets[i]..self.offsets[i + 1]]
    }
}

impl EdgeIndex {
    /// Edge e goes from its center `centers[e]` (which receives the message)
    /// to its neighbor `neighbors[e]` (whose features it carries).
    pub fn new(n_nodes: usize, centers: &[u32], neighbors: &[u32]) -> Result<EdgeIndex> {
        if centers.len() != neighbors.len() {
            return Err(Error::LengthMismatch(format!(
                "{} edge centers but {} edge neighbors",
                centers.len(),
                neighbors.len()
            )));
        }
        if centers.len() >= u32::MAX as usize {
            return invalid!("too many edges ({})", centers.len());
        }
        if let Some(&bad) = centers.iter().chain(neighbors).find(|&&k| k as usize >= n_nodes) {
            return invalid!("edge refers to node {bad} but the graph has {n_nodes} nodes");
        }
        Ok(EdgeIndex {
            n_nodes,
            centers: centers.to_vec(),
            neighbors: neighbors.to_vec(),
            by_center: Csr::new(n_nodes, centers),
            by_neighbor: Csr::new(n_nodes, neighbors),
        })
    }

    /// The index of an equipot graph (all atoms, local and ghost, are nodes).
    pub fn from_graph(graph: &crate::AtomGraph) -> Result<EdgeIndex> {
        EdgeIndex::new(graph.positions.len(), &graph.centers, &graph.neighbors)
    }

    /// Number of nodes.
    pub fn n_nodes(&self) -> usize {
        self.n_nodes
    }

    /// Number of edges.
    pub fn n_edges(&self) -> usize {
        self.centers.len()
    }
}

/// e3nn's `o3.TensorProduct` restricted to 'uvu' instructions with external
/// per-edge weights (`shared_weights=False, internal_weights=False`), fused
/// with the scatter-sum of a graph convolution.
#[derive(Clone, Debug)]
pub struct UvuTensorProduct {
    paths: Paths,
    /// Largest mul × (2l1+1) of a path, and number of CG pairs: scratch sizes.
    max_block1: usize,
    max_pairs: usize,
    max_mul1: usize,
}

impl UvuTensorProduct {
    /// A tensor product with the given instructions (all must be 'uvu').
    pub fn new(
        irreps_in1: &Irreps,
        irreps_in2: &Irreps,
        irreps_out: &Irreps,
        instructions: &[Instruction],
        irrep_norm: IrrepNormalization,
        path_norm: PathNormalization,
    ) -> Result<Self> {
        if let Some(ins) = instructions.iter().find(|i| i.connection != Connection::Uvu) {
            return invalid!("UvuTensorProduct takes only 'uvu' instructions, not {ins:?}");
        }
        let paths = Paths::new(irreps_in1, irreps_in2, irreps_out, instructions, irrep_norm, path_norm)?;
        Ok(UvuTensorProduct {
            max_block1: paths.max_block1(),
            max_pairs: paths.paths.iter().map(|p| p.pairs.len()).max().unwrap_or(0),
            max_mul1: paths.paths.iter().map(|p| p.mul1).max().unwrap_or(0),
            paths,
        })
    }

    /// The convolution exactly as SevenNet builds it (`IrrepsConvolution`):
    /// one path per (x block, filter block, product irrep allowed by
    /// `irreps_out`), output blocks sorted by irrep (not merged), instructions
    /// sorted by output block, e3nn's default normalization.
    pub fn sevenn(irreps_x: &Irreps, irreps_filter: &Irreps, irreps_out: &Irreps) -> Result<Self> {
        let mut mid: Vec<MulIr> = Vec::new();
        let mut ins: Vec<(usize, usize, usize)> = Vec::new();
        for (i, x) in irreps_x.iter().enumerate() {
            for (j, f) in irreps_filter.iter().enumerate() {
                for ir in x.ir.product(&f.ir) {
                    if irreps_out.iter().any(|o| o.ir == ir) {
                        ins.push((i, j, mid.len()));
                        mid.push(MulIr { mul: x.mul, ir });
                    }
                }
            }
        }
        let (mid, order) = Irreps(mid).sort();
        // order[k] = the block now at k; e3nn's p is its inverse.
        let mut p = vec![0; order.len()];
        for (k, &old) in order.iter().enumerate() {
            p[old] = k;
        }
        let mut instructions: Vec<Instruction> =
            ins.iter().map(|&(i, j, k)| Instruction::new(i, j, p[k], Connection::Uvu)).collect();
        instructions.sort_by_key(|i| i.i_out); // stable, as Python's sorted
        Self::new(
            irreps_x,
            irreps_filter,
            &mid,
            &instructions,
            IrrepNormalization::Component,
            PathNormalization::Element,
        )
    }

    /// First input (node features).
    pub fn irreps_in1(&self) -> &Irreps {
        &self.paths.irreps_in1
    }

    /// Second input (edge attributes).
    pub fn irreps_in2(&self) -> &Irreps {
        &self.paths.irreps_in2
    }

    /// Output (messages, summed onto nodes).
    pub fn irreps_out(&self) -> &Irreps {
        &self.paths.irreps_out
    }

    /// Number of weights per edge (e3nn's `weight_numel`), laid out path
    /// after path, each as [u][v].
    pub fn weight_numel(&self) -> usize {
        self.paths.weight_numel
    }

    /// The instructions, in order.
    pub fn instructions(&self) -> Vec<Instruction> {
        self.paths.paths.iter().map(|p| p.ins).collect()
    }

    /// Each path's normalization sqrt(alpha), e3nn's `instructions[k].path_weight`
    /// after construction.
    pub fn path_normalizations(&self) -> Vec<f64> {
        self.paths.paths.iter().map(|p| p.norm).collect()
    }

    fn check<T>(&self, index: &EdgeIndex, x: &[T], sh: &[T], w: &[T], out: &[T], out_name: &str) -> Result<()> {
        let (n, e) = (index.n_nodes, index.n_edges());
        let expect = [
            ("node features", x.len(), n * self.irreps_in1().dim()),
            ("edge attributes", sh.len(), e * self.irreps_in2().dim()),
            ("edge weights", w.len(), e * self.weight_numel()),
            (out_name, out.len(), n * self.irreps_out().dim()),
        ];
        for (name, got, want) in expect {
            if got != want {
                return Err(Error::LengthMismatch(format!("tensor product {name}: {got} values, expected {want}")));
            }
        }
        Ok(())
    }

    /// out[i] = scale · Σ_{edges e of center i} TP(x[neighbor(e)], sh[e], w[e]).
    /// Shapes (row-major): x n_nodes × dim_in1, sh n_edges × dim_in2,
    /// w n_edges × weight_numel, out n_nodes × dim_out (overwritten).
    pub fn conv_forward<T: Real>(
        &self,
        index: &EdgeIndex,
        x: &[T],
        sh: &[T],
        w: &[T],
        scale: T,
        out: &mut [T],
    ) -> Result<()> {
        self.check(index, x, sh, w, out, "output")?;
        let (d1, d3) = (self.irreps_in1().dim(), self.irreps_out().dim());
        if d3 == 0 {
            return Ok(());
        }
        let x_cl = self.nodes_to_channel_last(self.irreps_in1(), x);
        let kernel = Kernel::detect();
        out.par_chunks_mut(d3).enumerate().for_each_init(
            || Scratch::new(self, d3),
            |s, (i, out_i)| {
                s.acc.fill(T::zero());
                for &e in index.by_center.of(i) {
                    let e = e as usize;
                    let j = index.neighbors[e] as usize;
                    let edge = Edge {
                        x: &x_cl[j * d1..(j + 1) * d1],
                        sh: &sh[e * self.irreps_in2().dim()..(e + 1) * self.irreps_in2().dim()],
                        w: &w[e * self.weight_numel()..(e + 1) * self.weight_numel()],
                    };
                    kernel.forward_edge(self, &edge, s);
                }
                from_channel_last(self.irreps_out(), &s.acc, scale, out_i);
            },
        );
        Ok(())
    }

    /// The vector–Jacobian product of [`conv_forward`](Self::conv_forward):
    /// given grad_out (n_nodes × dim_out), overwrites grad_x, grad_sh and
    /// grad_w (shapes of x, sh and w).
    #[allow(clippy::too_many_arguments)]
    pub fn conv_backward<T: Real>(
        &self,
        index: &EdgeIndex,
        x: &[T],
        sh: &[T],
        w: &[T],
        scale: T,
        grad_out: &[T],
        grad_x: &mut [T],
        grad_sh: &mut [T],
        grad_w: &mut [T],
    ) -> Result<()> {
        self.check(index, x, sh, w, grad_out, "output gradient")?;
        self.check(index, grad_x, grad_sh, grad_w, grad_out, "output gradient")?;
        let (d1, d2, d3, nw) =
            (self.irreps_in1().dim(), self.irreps_in2().dim(), self.irreps_out().dim(), self.weight_numel());
        let x_cl = self.nodes_to_channel_last(self.irreps_in1(), x);
        // The scale is folded into the transposed output gradient.
        let mut g_cl = vec![T::zero(); grad_out.len()];
        if d3 > 0 {
            g_cl.par_chunks_mut(d3).zip(grad_out.par_chunks(d3)).for_each(|(dst, src)| {
                to_channel_last(self.irreps_out(), src, dst);
                dst.iter_mut().for_each(|v| *v *= scale);
            });
        }
        let grad_sh_ptr = SharedMut(grad_sh.as_mut_ptr());
        let grad_w_ptr = SharedMut(grad_w.as_mut_ptr());
        let kernel = Kernel::detect();
        if d1 == 0 {
            grad_sh.fill(T::zero());
            grad_w.fill(T::zero());
            return Ok(());
        }
        grad_x.par_chunks_mut(d1).enumerate().for_each_init(
            || Scratch::new(self, d1),
            |s, (j, grad_x_j)| {
                s.acc.fill(T::zero());
                let x_j = &x_cl[j * d1..(j + 1) * d1];
                for &e in index.by_neighbor.of(j) {
                    let e = e as usize;
                    let i = index.centers[e] as usize;
                    // SAFETY: the transposed index is a permutation of the
                    // edges, so this task is the only one touching edge e's rows.
                    let (gsh, gw) = unsafe {
                        (
                            std::slice::from_raw_parts_mut(grad_sh_ptr.get().add(e * d2), d2),
                            std::slice::from_raw_parts_mut(grad_w_ptr.get().add(e * nw), nw),
                        )
                    };
                    let edge = Edge { x: x_j, sh: &sh[e * d2..(e + 1) * d2], w: &w[e * nw..(e + 1) * nw] };
                    kernel.backward_edge(self, &edge, &g_cl[i * d3..(i + 1) * d3], gsh, gw, s);
                }
                from_channel_last(self.irreps_in1(), &s.acc, T::one(), grad_x_j);
            },
        );
        Ok(())
    }

    fn nodes_to_channel_last<T: Real>(&self, irreps: &Irreps, x: &[T]) -> Vec<T> {
        let d = irreps.dim();
        let mut x_cl = vec![T::zero(); x.len()];
        if d > 0 {
            x_cl.par_chunks_mut(d).zip(x.par_chunks(d)).for_each(|(dst, src)| to_channel_last(irreps, src, dst));
        }
        x_cl
    }
}

/// A raw pointer that tasks share to write disjoint rows.
#[derive(Clone, Copy)]
struct SharedMut<T>(*mut T);
// SAFETY: used only to write rows that a single task owns (see conv_backward).
unsafe impl<T: Send> Send for SharedMut<T> {}
unsafe impl<T: Send> Sync for SharedMut<T> {}
impl<T> SharedMut<T> {
    fn get(self) -> *mut T {
        self.0
    }
}

/// One edge's data: neighbor features (channel-last), attributes, weights.
struct Edge<'a, T> {
    x: &'a [T],
    sh: &'a [T],
    w: &'a [T],
}

/// Per-task buffers, allocated once per rayon task, never in the hot loop.
struct Scratch<T> {
    /// Channel-last accumulator: out[i] (forward) or grad_x[j] (backward).
    acc: Vec<T>,
    /// w ∘ x[m1] for one path.
    wx: Vec<T>,
    /// Backward: Σ_m3 A[m3, m1] g[m3] for one path.
    t: Vec<T>,
    /// A[pair] for one path and edge.
    a: Vec<T>,
    /// Backward: grad_w of one path, over u.
    gw: Vec<T>,
}

impl<T: Real> Scratch<T> {
    fn new(tp: &UvuTensorProduct, acc: usize) -> Self {
        Scratch {
            acc: vec![T::zero(); acc],
            wx: vec![T::zero(); tp.max_block1],
            t: vec![T::zero(); tp.max_block1],
            a: vec![T::zero(); tp.max_pairs],
            gw: vec![T::zero(); tp.max_mul1],
        }
    }
}

/// A[pair] = Σ_m2 C[m1, m2, m3] sh[v][m2] for one copy v of the edge irrep.
#[inline(always)]
fn contract_attributes<T: Real>(p: &Path, sh: &[T], v: usize, a: &mut [T]) {
    let sh_v = &sh[p.off2 + v * p.d2..p.off2 + (v + 1) * p.d2];
    for (a, pair) in a.iter_mut().zip(&p.pairs) {
        *a = p.terms[pair.start..pair.end].iter().map(|&(m2, c)| T::of(c) * sh_v[m2]).sum();
    }
}

/// wx[m1][u] = w[u, v] · x[m1][u] (or x itself for a path without weights).
#[inline(always)]
fn weighted_input<T: Real>(p: &Path, x: &[T], w: &[T], v: usize, wx: &mut [T]) {
    let u_n = p.mul1;
    let x = &x[p.off1..p.off1 + p.d1 * u_n];
    let wx = &mut wx[..p.d1 * u_n];
    if !p.ins.has_weight {
        wx.copy_from_slice(x);
        return;
    }
    let w = &w[p.off_w..p.off_w + p.n_w];
    for (wx_m, x_m) in wx.chunks_exact_mut(u_n).zip(x.chunks_exact(u_n)) {
        if p.mul2 == 1 {
            for ((o, &xv), &wv) in wx_m.iter_mut().zip(x_m).zip(w) {
                *o = wv * xv;
            }
        } else {
            for (u, (o, &xv)) in wx_m.iter_mut().zip(x_m).enumerate() {
                *o = w[u * p.mul2 + v] * xv;
            }
        }
    }
}

#[inline(always)]
fn forward_edge<T: Real>(tp: &UvuTensorProduct, edge: &Edge<T>, s: &mut Scratch<T>) {
    for p in &tp.paths.paths {
        let u_n = p.mul1;
        for v in 0..p.mul2 {
            contract_attributes(p, edge.sh, v, &mut s.a);
            weighted_input(p, edge.x, edge.w, v, &mut s.wx);
            let out = &mut s.acc[p.off3..p.off3 + p.d3 * u_n];
            for (pair, &a) in p.pairs.iter().zip(&s.a) {
                axpy(
                    &mut out[pair.m3 * u_n..(pair.m3 + 1) * u_n],
                    a,
                    &s.wx[pair.m1 * u_n..(pair.m1 + 1) * u_n],
                );
            }
        }
    }
}

/// One edge of the backward pass: adds into s.acc (grad_x of the neighbor,
/// channel-last), writes grad_sh and grad_w of the edge. `g` is the center's
/// output gradient, channel-last and scaled.
#[inline(always)]
fn backward_edge<T: Real>(
    tp: &UvuTensorProduct,
    edge: &Edge<T>,
    g: &[T],
    grad_sh: &mut [T],
    grad_w: &mut [T],
    s: &mut Scratch<T>,
) {
    grad_sh.fill(T::zero());
    for p in &tp.paths.paths {
        let u_n = p.mul1;
        let g = &g[p.off3..p.off3 + p.d3 * u_n];
        for v in 0..p.mul2 {
            contract_attributes(p, edge.sh, v, &mut s.a);
            weighted_input(p, edge.x, edge.w, v, &mut s.wx);
            let t = &mut s.t[..p.d1 * u_n];
            t.fill(T::zero());
            let gsh = &mut grad_sh[p.off2 + v * p.d2..p.off2 + (v + 1) * p.d2];
            for (pair, &a) in p.pairs.iter().zip(&s.a) {
                let g_m3 = &g[pair.m3 * u_n..(pair.m3 + 1) * u_n];
                axpy(&mut t[pair.m1 * u_n..(pair.m1 + 1) * u_n], a, g_m3);
                let b = dot(&s.wx[pair.m1 * u_n..(pair.m1 + 1) * u_n], g_m3);
                for &(m2, c) in &p.terms[pair.start..pair.end] {
                    gsh[m2] += T::of(c) * b;
                }
            }
            let x = &edge.x[p.off1..p.off1 + p.d1 * u_n];
            let gx = &mut s.acc[p.off1..p.off1 + p.d1 * u_n];
            if !p.ins.has_weight {
                axpy(gx, T::one(), t);
                continue;
            }
            let w = &edge.w[p.off_w..p.off_w + p.n_w];
            let gw = &mut s.gw[..u_n];
            gw.fill(T::zero());
            for ((gx_m, t_m), x_m) in gx.chunks_exact_mut(u_n).zip(t.chunks_exact(u_n)).zip(x.chunks_exact(u_n)) {
                if p.mul2 == 1 {
                    for ((gx, &t), &w) in gx_m.iter_mut().zip(t_m).zip(w) {
                        *gx += w * t;
                    }
                } else {
                    for (u, (gx, &t)) in gx_m.iter_mut().zip(t_m).enumerate() {
                        *gx += w[u * p.mul2 + v] * t;
                    }
                }
                for ((gw, &t), &x) in gw.iter_mut().zip(t_m).zip(x_m) {
                    *gw += t * x;
                }
            }
            let gw_out = &mut grad_w[p.off_w..p.off_w + p.n_w];
            for (u, &val) in gw.iter().enumerate() {
                gw_out[u * p.mul2 + v] = val;
            }
        }
    }
}

/// Which instruction set the per-edge loops are compiled for, chosen once per
/// call (the library is built for baseline x86-64; AVX2+FMA doubles the
/// vector width where the CPU has it).
#[derive(Clone, Copy)]
enum Kernel {
    Generic,
    #[cfg(target_arch = "x86_64")]
    Avx2,
}

impl Kernel {
    fn detect() -> Kernel {
        #[cfg(target_arch = "x86_64")]
        if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            return Kernel::Avx2;
        }
        Kernel::Generic
    }

    #[inline]
    fn forward_edge<T: Real>(self, tp: &UvuTensorProduct, edge: &Edge<T>, s: &mut Scratch<T>) {
        match self {
            Kernel::Generic => forward_edge(tp, edge, s),
            // SAFETY: detect() checked that the CPU has AVX2 and FMA.
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 => unsafe { avx2::forward_edge(tp, edge, s) },
        }
    }

    #[inline]
    fn backward_edge<T: Real>(
        self,
        tp: &UvuTensorProduct,
        edge: &Edge<T>,
        g: &[T],
        grad_sh: &mut [T],
        grad_w: &mut [T],
        s: &mut Scratch<T>,
    ) {
        match self {
            Kernel::Generic => backward_edge(tp, edge, g, grad_sh, grad_w, s),
            // SAFETY: detect() checked that the CPU has AVX2 and FMA.
            #[cfg(target_arch = "x86_64")]
            Kernel::Avx2 => unsafe { avx2::backward_edge(tp, edge, g, grad_sh, grad_w, s) },
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::*;

    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn forward_edge<T: Real>(tp: &UvuTensorProduct, edge: &Edge<T>, s: &mut Scratch<T>) {
        super::forward_edge(tp, edge, s)
    }

    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn backward_edge<T: Real>(
        tp: &UvuTensorProduct,
        edge: &Edge<T>,
        g: &[T],
        grad_sh: &mut [T],
        grad_w: &mut [T],
        s: &mut Scratch<T>,
    ) {
        super::backward_edge(tp, edge, g, grad_sh, grad_w, s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sevenn_shape_of_sevennet_0() {
        let x = Irreps::parse("128x0e+64x1e+32x2e").unwrap();
        let sh = Irreps::parse("1x0e+1x1e+1x2e").unwrap();
        let tp = UvuTensorProduct::sevenn(&x, &sh, &x).unwrap();
        assert_eq!(tp.weight_numel(), 960);
        assert_eq!(tp.irreps_out().dim(), 3136);
        assert_eq!(tp.instructions().len(), 15);
    }

    #[test]
    fn rejects_bad_edges() {
        assert!(EdgeIndex::new(2, &[0, 1], &[1]).is_err());
        assert!(EdgeIndex::new(2, &[0, 2], &[1, 0]).is_err());
    }
}
