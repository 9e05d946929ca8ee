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
//! Weights. They come through [`EdgeWeights`]: rows of a buffer, or computed
//! per edge inside the pass into a small per-thread buffer (SevenNet's radial
//! tables), whose backward reduces ∂L/∂w at once (to ∂L/∂r): no
//! n_edges × weight_numel array is written and read back.
//!
//! Per edge, the CG tensors of all paths are first contracted with the edge's
//! attributes: A[m3, m1] = Σ_m2 C[m1, m2, m3] sh[m2], tiny matrices nonzero
//! only where C is (attribute_contraction.rs); then
//! out[m3][·] += A[m3, m1] · (w ∘ x[m1])[·].
//!
//! Threads. The forward pass runs over centers: center i owns out[i] and sums
//! its edges, no atomics. The backward pass runs over *neighbors*, through a
//! transposed index of the edges: node j owns grad_x[j] and sums the edges it
//! is the neighbor of, and each edge is visited exactly once, so it owns its
//! grad_sh[e] and grad_w[e] (or what EdgeWeights keeps of it). One pass computes all three gradients, with no
//! recomputation and no per-thread copies of grad_x (which would cost
//! threads × atoms × features memory and a reduction). It needs no full
//! neighbor list either: ghost atoms that are never centers get their grad_x.

use rayon::prelude::*;

use super::attribute_contraction::AttributeContraction;
use super::vector::{Portable, Scalar, Vector};
use super::tensor_product::{
    from_channel_last, paths_accessors, to_channel_last, Connection, Instruction, IrrepNormalization, Path,
    PathNormalization, Paths,
};
use crate::so3::{Irreps, MulIr};
use crate::backend::cpu::{zeros, Buf};
use crate::{invalid, Error, Real, Result};

/// The edges of a graph indexed both ways: by center (receiver, SevenNet's
/// `edge_dst`) and by neighbor (sender, `edge_src`), as CSR permutations.
/// Edges may come in any order; equipot's graphs are sorted by center already.
#[derive(Debug)]
pub struct EdgeIndex {
    n_nodes: usize,
    centers: Buf<u32>,
    neighbors: Buf<u32>,
    by_center: Csr,
    by_neighbor: Csr,
}

#[derive(Debug)]
struct Csr {
    offsets: Buf<usize>,
    edges: Buf<u32>,
}

impl Csr {
    /// Counting sort of edges by `key` (stable: edges keep their order).
    fn new(n_nodes: usize, key: &[u32]) -> Result<Csr> {
        let mut offsets = zeros::<usize>(n_nodes + 1)?;
        for &k in key {
            offsets[k as usize + 1] += 1;
        }
        for i in 0..n_nodes {
            offsets[i + 1] += offsets[i];
        }
        let mut next = Buf::copy_of(&offsets)?;
        let mut edges = zeros::<u32>(key.len())?;
        for (e, &k) in key.iter().enumerate() {
            edges[next[k as usize]] = e as u32;
            next[k as usize] += 1;
        }
        Ok(Csr { offsets, edges })
    }

    fn of(&self, i: usize) -> &[u32] {
        &self.edges[self.offsets[i]..self.offsets[i + 1]]
    }

    /// The edges of node i, each with the one after it (whose data the
    /// kernels prefetch while they compute this one).
    #[inline]
    fn with_next(&self, i: usize) -> impl Iterator<Item = (usize, Option<usize>)> + '_ {
        let edges = self.of(i);
        edges.iter().enumerate().map(move |(k, &e)| (e as usize, edges.get(k + 1).map(|&n| n as usize)))
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
            centers: Buf::copy_of(centers)?,
            neighbors: Buf::copy_of(neighbors)?,
            by_center: Csr::new(n_nodes, centers)?,
            by_neighbor: Csr::new(n_nodes, neighbors)?,
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

    /// The edges node i receives (those whose center it is), in edge order.
    pub fn received_by(&self, i: usize) -> &[u32] {
        self.by_center.of(i)
    }

    /// The center (receiver) of each edge.
    pub fn centers(&self) -> &[u32] {
        &self.centers
    }
}

/// e3nn's `o3.TensorProduct` restricted to 'uvu' instructions with external
/// per-edge weights (`shared_weights=False, internal_weights=False`), fused
/// with the scatter-sum of a graph convolution.
#[derive(Clone, Debug)]
pub struct UvuTensorProduct {
    paths: Paths,
    /// The CG tensors contracted with an edge's attributes, all paths at once.
    contraction: AttributeContraction,
    /// Use the portable kernel even where a SIMD one exists (tests compare them).
    portable: bool,
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
        Ok(UvuTensorProduct { contraction: AttributeContraction::new(&paths.paths), portable: false, paths })
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

    // irreps_in1 (node features), irreps_in2 (edge attributes), irreps_out
    // (messages, summed onto nodes), weight_numel (per edge, each path's as
    // [u][v]), instructions, path_normalizations.
    paths_accessors!();

    fn check<T>(&self, index: &EdgeIndex, x: &[T], sh: &[T], w: &dyn EdgeWeights<T>, out: &[T], out_name: &str) -> Result<()> {
        let (n, e) = (index.n_nodes, index.n_edges());
        let expect = [
            ("node features", x.len(), n * self.irreps_in1().dim()),
            ("edge attributes", sh.len(), e * self.irreps_in2().dim()),
            (out_name, out.len(), n * self.irreps_out().dim()),
        ];
        for (name, got, want) in expect {
            if got != want {
                return Err(Error::LengthMismatch(format!("tensor product {name}: {got} values, expected {want}")));
            }
        }
        w.check(e, self.weight_numel())
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
        self.conv_forward_with(index, x, sh, &WeightRows { rows: w, width: self.weight_numel() }, scale, out)
    }

    /// [`conv_forward`](Self::conv_forward) with the weights from any
    /// [`EdgeWeights`] (e.g. computed edge by edge inside the kernel).
    pub fn conv_forward_with<T: Real>(
        &self,
        index: &EdgeIndex,
        x: &[T],
        sh: &[T],
        weights: &dyn EdgeWeights<T>,
        scale: T,
        out: &mut [T],
    ) -> Result<()> {
        self.check(index, x, sh, weights, out, "output")?;
        let (d1, d2, d3) = (self.irreps_in1().dim(), self.irreps_in2().dim(), self.irreps_out().dim());
        if d3 == 0 {
            return Ok(());
        }
        let x_cl = self.nodes_to_channel_last(self.irreps_in1(), x)?;
        let kernel = self.kernel();
        out.par_chunks_mut(d3).enumerate().for_each_init(
            || (Scratch::new(self, d3), Buf::scratch(weights.scratch_len(), T::zero())),
            |(s, w_scratch), (i, out_i)| {
                s.acc.fill(T::zero());
                for (e, next) in index.by_center.with_next(i) {
                    let j = index.neighbors[e] as usize;
                    let next = next.map(|n| {
                        let jn = index.neighbors[n] as usize;
                        weights.prefetch(n);
                        &x_cl[jn * d1..(jn + 1) * d1]
                    });
                    let edge = Edge { x: &x_cl[j * d1..(j + 1) * d1], sh: &sh[e * d2..(e + 1) * d2], w: weights.weights(e, w_scratch, false), next };
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
        let weights = WeightRows { rows: w, width: self.weight_numel() };
        self.conv_backward_with(index, x, sh, &weights, scale, grad_out, grad_x, grad_sh, grad_w)
    }

    /// [`conv_backward`](Self::conv_backward) with the weights from any
    /// [`EdgeWeights`]: each edge's ∂L/∂w goes through
    /// `weights.gradient` into its row of `grad_weights` (n_edges ×
    /// `weights.gradient_width()`), overwritten.
    #[allow(clippy::too_many_arguments)]
    pub fn conv_backward_with<T: Real>(
        &self,
        index: &EdgeIndex,
        x: &[T],
        sh: &[T],
        weights: &dyn EdgeWeights<T>,
        scale: T,
        grad_out: &[T],
        grad_x: &mut [T],
        grad_sh: &mut [T],
        grad_weights: &mut [T],
    ) -> Result<()> {
        self.check(index, x, sh, weights, grad_out, "output gradient")?;
        self.check(index, grad_x, grad_sh, weights, grad_out, "output gradient")?;
        let (d1, d2, d3, nw) =
            (self.irreps_in1().dim(), self.irreps_in2().dim(), self.irreps_out().dim(), self.weight_numel());
        let gw_width = weights.gradient_width();
        if grad_weights.len() != index.n_edges() * gw_width {
            return Err(Error::LengthMismatch(format!(
                "tensor product weight gradient: {} values, expected {}",
                grad_weights.len(),
                index.n_edges() * gw_width
            )));
        }
        let x_cl = self.nodes_to_channel_last(self.irreps_in1(), x)?;
        // The scale is folded into the transposed output gradient.
        let mut g_cl = zeros(grad_out.len())?;
        if d3 > 0 {
            g_cl.par_chunks_mut(d3).zip(grad_out.par_chunks(d3)).for_each(|(dst, src)| {
                to_channel_last(self.irreps_out(), src, dst);
                dst.iter_mut().for_each(|v| *v *= scale);
            });
        }
        let grad_sh_ptr = SharedMut(grad_sh.as_mut_ptr());
        let grad_weights_ptr = SharedMut(grad_weights.as_mut_ptr());
        let kernel = self.kernel();
        if d1 == 0 {
            grad_sh.fill(T::zero());
            let zeros = vec![T::zero(); nw];
            for (e, out) in grad_weights.chunks_exact_mut(gw_width.max(1)).enumerate() {
                weights.gradient(e, &zeros, &[], out);
            }
            return Ok(());
        }
        grad_x.par_chunks_mut(d1).enumerate().for_each_init(
            // Unwritten entries of grad_w (weightless paths) stay zero.
            || (Scratch::new(self, d1), Buf::scratch(weights.scratch_len(), T::zero()), Buf::scratch(nw, T::zero())),
            |(s, w_scratch, grad_w), (j, grad_x_j)| {
                s.acc.fill(T::zero());
                let x_j = &x_cl[j * d1..(j + 1) * d1];
                for (e, next) in index.by_neighbor.with_next(j) {
                    let i = index.centers[e] as usize;
                    let next = next.map(|n| {
                        let i_n = index.centers[n] as usize;
                        weights.prefetch(n);
                        &g_cl[i_n * d3..(i_n + 1) * d3]
                    });
                    // SAFETY: the transposed index is a permutation of the
                    // edges, so this task is the only one touching edge e's rows.
                    let (gsh, gwe) = unsafe {
                        (
                            std::slice::from_raw_parts_mut(grad_sh_ptr.get().add(e * d2), d2),
                            std::slice::from_raw_parts_mut(grad_weights_ptr.get().add(e * gw_width), gw_width),
                        )
                    };
                    let edge = Edge { x: x_j, sh: &sh[e * d2..(e + 1) * d2], w: weights.weights(e, w_scratch, true), next };
                    kernel.backward_edge(self, &edge, &g_cl[i * d3..(i + 1) * d3], gsh, grad_w, s);
                    weights.gradient(e, grad_w, w_scratch, gwe);
                }
                from_channel_last(self.irreps_in1(), &s.acc, T::one(), grad_x_j);
            },
        );
        Ok(())
    }

    /// The per-edge kernels this product runs.
    fn kernel(&self) -> Kernel {
        if self.portable {
            Kernel::Portable
        } else {
            Kernel::detect()
        }
    }

    fn nodes_to_channel_last<T: Real>(&self, irreps: &Irreps, x: &[T]) -> Result<Buf<T>> {
        let d = irreps.dim();
        let mut x_cl = zeros(x.len())?;
        if d > 0 {
            x_cl.par_chunks_mut(d).zip(x.par_chunks(d)).for_each(|(dst, src)| to_channel_last(irreps, src, dst));
        }
        Ok(x_cl)
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

/// One edge's data: neighbor features (channel-last), attributes, weights;
/// and the next edge's gathered node row (x forward, g backward), which the
/// kernel prefetches path by path while it computes this edge.
struct Edge<'a, T> {
    x: &'a [T],
    sh: &'a [T],
    w: &'a [T],
    next: Option<&'a [T]>,
}

/// Where a convolution's per-edge weights come from, and where their
/// gradient goes: rows of a buffer ([`WeightRows`]), or values computed edge
/// by edge inside the kernels (a radial network's table), so that no
/// n_edges × weight_numel buffer is written and read back.
pub trait EdgeWeights<T>: Sync {
    /// Ok when it gives `weight_numel` weights for each of `n_edges` edges.
    fn check(&self, n_edges: usize, weight_numel: usize) -> Result<()>;
    /// Length of the per-edge scratch the kernels lend to `weights` and `gradient`.
    fn scratch_len(&self) -> usize;
    /// Edge e's weights: its own row, or part of `scratch` filled. With
    /// `backward`, `gradient` follows for this edge, with the same scratch.
    fn weights<'a>(&'a self, e: usize, scratch: &'a mut [T], backward: bool) -> &'a [T];
    /// A hint that edge e comes next (no effect on results).
    fn prefetch(&self, _e: usize) {}
    /// Values per edge that the backward pass keeps of ∂L/∂w.
    fn gradient_width(&self) -> usize;
    /// From edge e's ∂L/∂w (weight_numel values), its `gradient_width()`
    /// values into `out`.
    fn gradient(&self, e: usize, grad_w: &[T], scratch: &[T], out: &mut [T]);
}

/// Weights as rows (n_edges × width); the backward pass keeps ∂L/∂w whole.
pub struct WeightRows<'a, T> {
    /// n_edges × width weights.
    pub rows: &'a [T],
    /// Weights per edge.
    pub width: usize,
}

impl<T: Real> EdgeWeights<T> for WeightRows<'_, T> {
    fn check(&self, n_edges: usize, weight_numel: usize) -> Result<()> {
        if self.width != weight_numel || self.rows.len() != n_edges * weight_numel {
            return Err(Error::LengthMismatch(format!(
                "tensor product edge weights: {} values in rows of {}, expected {n_edges} rows of {weight_numel}",
                self.rows.len(),
                self.width
            )));
        }
        Ok(())
    }
    fn scratch_len(&self) -> usize {
        0
    }
    fn weights<'a>(&'a self, e: usize, _scratch: &'a mut [T], _backward: bool) -> &'a [T] {
        &self.rows[e * self.width..(e + 1) * self.width]
    }
    fn prefetch(&self, e: usize) {
        prefetch(&self.rows[e * self.width..(e + 1) * self.width]);
    }
    fn gradient_width(&self) -> usize {
        self.width
    }
    fn gradient(&self, _e: usize, grad_w: &[T], _scratch: &[T], out: &mut [T]) {
        out.copy_from_slice(grad_w);
    }
}

/// Asks the CPU to bring a slice into L1 (a hint: no effect on results).
#[inline(always)]
pub fn prefetch<T>(s: &[T]) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        let (ptr, bytes) = (s.as_ptr() as *const i8, std::mem::size_of_val(s));
        for off in (0..bytes).step_by(64) {
            // SAFETY: a prefetch never faults, and the address is inside the slice.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(ptr.add(off)) };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = s;
}

/// Per-task buffers, allocated once per rayon task, never in the hot loop.
struct Scratch<T> {
    /// Channel-last accumulator: out[i] (forward) or grad_x[j] (backward).
    acc: Buf<T>,
    /// The attribute contraction's matrix, in T.
    m: Buf<T>,
    /// A[slot] of one edge (all paths), and its gradient (backward).
    a: Buf<T>,
    grad_a: Buf<T>,
    /// Backward: per pair of one path, a register of partial sums of w x[m1] g[m3].
    b: Buf<T>,
    /// One path's weights of copy v, and their gradient, contiguous in u
    /// (used only when the edge attributes have several copies, v > 1).
    wv: Buf<T>,
    gwv: Buf<T>,
}

impl<T: Real> Scratch<T> {
    fn new(tp: &UvuTensorProduct, acc: usize) -> Self {
        let n_slots = tp.contraction.n_slots();
        let max_pairs = tp.paths.paths.iter().map(|p| p.pairs.len()).max().unwrap_or(0);
        let max_mul = tp.paths.paths.iter().map(|p| p.mul1).max().unwrap_or(0);
        Scratch {
            acc: Buf::scratch(acc, T::zero()),
            m: tp.contraction.matrix(),
            a: Buf::scratch(n_slots, T::zero()),
            grad_a: Buf::scratch(n_slots, T::zero()),
            b: Buf::scratch(max_pairs * B_STRIDE, T::zero()),
            wv: Buf::scratch(max_mul, T::zero()),
            gwv: Buf::scratch(max_mul, T::zero()),
        }
    }
}

/// Stride of the backward pass's partial sums: the widest register's lanes.
const B_STRIDE: usize = 8;

/// Registers of channels per block. The forward pass holds one accumulator
/// per register: eight, enough independent chains to hide the FMA latency.
/// The backward pass holds six per register (w, x, w·x, t, grad_w, a row of
/// g) besides the partial sums: two fit AVX2's sixteen.
const K_FORWARD: usize = 8;
const K_BACKWARD: usize = 4;

/// Calls `$f::<T, V, K>(args)` for blocks of channels [c0, c0 + K·lanes)
/// covering 0..mul: K = 8, 4, 2, 1 registers of `$v` (at most `$kmax`),
/// the largest that fits first, then single channels. K and the lanes are
/// constants in each call, so its loops unroll into full-width instructions.
macro_rules! for_blocks {
    ($t:ty, $v:ty, $kmax:expr, $mul:expr, $c0:ident => $f:ident($($arg:expr),*)) => {{
        let mul = $mul;
        let mut $c0 = 0;
        macro_rules! blocks {
            ($w:ty, $k:literal) => {
                if $k <= $kmax {
                    while $c0 + $k * <$w as Vector<$t>>::LANES <= mul {
                        $f::<$t, $w, $k>($($arg),*);
                        $c0 += $k * <$w as Vector<$t>>::LANES;
                    }
                }
            };
        }
        blocks!($v, 8);
        blocks!($v, 4);
        blocks!($v, 2);
        blocks!($v, 1);
        blocks!(Scalar<$t>, 1);
    }};
}

/// acc[m3][c] += w[c] Σ_{m1} A[m3, m1] x[m1][c] for the K registers of
/// channels from c0. `w` is null for a weightless path.
///
/// SAFETY: c0 + K·LANES ≤ mul1; `x` and `acc` hold the path's d1 and d3 rows
/// of mul1 channels, `w` (unless null) mul1 weights, `a` the path's pairs;
/// the CPU has V's instructions.
#[inline(always)]
unsafe fn forward_block<T: Real, V: Vector<T>, const K: usize>(
    p: &Path,
    a: *const T,
    x: *const T,
    w: *const T,
    c0: usize,
    acc: *mut T,
) {
    let (mul, lanes) = (p.mul1, V::LANES);
    for (m3, &(q0, q1)) in p.by_m3.iter().enumerate() {
        if q0 == q1 {
            continue;
        }
        let mut sum = [V::zero(); K];
        for &(q, m1) in p.m3_order.get_unchecked(q0..q1) {
            let (aq, xr) = (V::splat(*a.add(q)), x.add(m1 * mul + c0));
            for k in 0..K {
                sum[k] = aq.mul_add(V::load(xr.add(k * lanes)), sum[k]);
            }
        }
        let out = acc.add(m3 * mul + c0);
        for k in 0..K {
            let wk = if w.is_null() { V::splat(T::one()) } else { V::load(w.add(c0 + k * lanes)) };
            let o = out.add(k * lanes);
            wk.mul_add(sum[k], V::load(o)).store(o);
        }
    }
}

/// The backward pass over the K registers of channels from c0: with
/// t[m1] = Σ_m3 A[m3, m1] g[m3], gx[m1] += w t[m1], grad_w = Σ_m1 x[m1] t[m1]
/// (into `gw` unless null), and per pair q the register of partial sums
/// b[q] += Σ_k w x[m1] g[m3] that gives grad_A once its lanes are summed (the
/// block at c0 = 0 starts them).
///
/// SAFETY: as [`forward_block`], with `g` and `gx` the path's d3 and d1 rows,
/// `b` B_STRIDE values per pair and `gw` (unless null) mul1 values.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn backward_block<T: Real, V: Vector<T>, const K: usize>(
    p: &Path,
    a: *const T,
    x: *const T,
    w: *const T,
    g: *const T,
    c0: usize,
    gx: *mut T,
    b: *mut T,
    gw: *mut T,
) {
    let (mul, lanes) = (p.mul1, V::LANES);
    let mut wv = [V::splat(T::one()); K];
    if !w.is_null() {
        for k in 0..K {
            wv[k] = V::load(w.add(c0 + k * lanes));
        }
    }
    let mut gwv = [V::zero(); K];
    for (m1, &(q0, q1)) in p.by_m1.iter().enumerate() {
        if q0 == q1 {
            continue;
        }
        let xp = x.add(m1 * mul + c0);
        let (mut xr, mut wx, mut t) = ([V::zero(); K], [V::zero(); K], [V::zero(); K]);
        for k in 0..K {
            xr[k] = V::load(xp.add(k * lanes));
            wx[k] = wv[k].mul(xr[k]);
        }
        for q in q0..q1 {
            let m3 = p.pairs.get_unchecked(q).m3;
            let (aq, gp, bq) = (V::splat(*a.add(q)), g.add(m3 * mul + c0), b.add(q * B_STRIDE));
            let mut partial = if c0 == 0 { V::zero() } else { V::load(bq) };
            for k in 0..K {
                let gr = V::load(gp.add(k * lanes));
                t[k] = aq.mul_add(gr, t[k]);
                partial = wx[k].mul_add(gr, partial);
            }
            partial.store(bq);
        }
        let gxp = gx.add(m1 * mul + c0);
        for k in 0..K {
            let o = gxp.add(k * lanes);
            wv[k].mul_add(t[k], V::load(o)).store(o);
            gwv[k] = xr[k].mul_add(t[k], gwv[k]);
        }
    }
    if !gw.is_null() {
        for k in 0..K {
            gwv[k].store(gw.add(c0 + k * lanes));
        }
    }
}

/// Path p's weights of copy v, contiguous in u (null for a weightless path).
#[inline(always)]
fn path_weights<T: Real>(p: &Path, w: &[T], v: usize, wv: &mut [T]) -> *const T {
    if !p.ins.has_weight {
        return std::ptr::null();
    }
    let w = &w[p.off_w..p.off_w + p.n_w];
    if p.mul2 == 1 {
        return w.as_ptr();
    }
    for (u, wv) in wv[..p.mul1].iter_mut().enumerate() {
        *wv = w[u * p.mul2 + v];
    }
    wv.as_ptr()
}

/// The bounds the block kernels rely on, checked once per path.
#[inline(always)]
fn check_path<T>(p: &Path, x: &[T], rows3: &[T], a: &[T]) {
    assert!(x.len() >= p.d1 * p.mul1 && rows3.len() >= p.d3 * p.mul1 && a.len() >= p.pairs.len());
}

#[inline(always)]
unsafe fn forward_edge<T: Real, V: Vector<T>>(tp: &UvuTensorProduct, edge: &Edge<T>, s: &mut Scratch<T>) {
    tp.contraction.forward(&s.m, edge.sh, &mut s.a);
    for (pi, p) in tp.paths.paths.iter().enumerate() {
        if let Some(x) = edge.next {
            prefetch(&x[p.off1..p.off1 + p.d1 * p.mul1]);
        }
        let x = &edge.x[p.off1..p.off1 + p.d1 * p.mul1];
        let acc = &mut s.acc[p.off3..p.off3 + p.d3 * p.mul1];
        for v in 0..p.mul2 {
            let first = tp.contraction.first(pi, v);
            let a = &s.a[first..first + p.pairs.len()];
            check_path(p, x, acc, a);
            let w = path_weights(p, edge.w, v, &mut s.wv);
            let (a, x, acc) = (a.as_ptr(), x.as_ptr(), acc.as_mut_ptr());
            for_blocks!(T, V, K_FORWARD, p.mul1, c0 => forward_block(p, a, x, w, c0, acc));
        }
    }
}

/// One edge of the backward pass: adds into s.acc (grad_x of the neighbor,
/// channel-last), writes grad_sh and grad_w of the edge. `g` is the center's
/// output gradient, channel-last and scaled.
#[inline(always)]
unsafe fn backward_edge<T: Real, V: Vector<T>>(
    tp: &UvuTensorProduct,
    edge: &Edge<T>,
    g: &[T],
    grad_sh: &mut [T],
    grad_w: &mut [T],
    s: &mut Scratch<T>,
) {
    tp.contraction.forward(&s.m, edge.sh, &mut s.a);
    for (pi, p) in tp.paths.paths.iter().enumerate() {
        if let Some(g) = edge.next {
            prefetch(&g[p.off3..p.off3 + p.d3 * p.mul1]);
        }
        let x = &edge.x[p.off1..p.off1 + p.d1 * p.mul1];
        let g = &g[p.off3..p.off3 + p.d3 * p.mul1];
        let gx = &mut s.acc[p.off1..p.off1 + p.d1 * p.mul1];
        let b = &mut s.b[..p.pairs.len() * B_STRIDE];
        for v in 0..p.mul2 {
            let first = tp.contraction.first(pi, v);
            let a = &s.a[first..first + p.pairs.len()];
            check_path(p, x, g, a);
            assert!(gx.len() >= p.d1 * p.mul1 && s.gwv.len() >= p.mul1);
            let w = path_weights(p, edge.w, v, &mut s.wv);
            let gw = match (p.ins.has_weight, p.mul2) {
                (false, _) => std::ptr::null_mut(),
                (true, 1) => grad_w[p.off_w..p.off_w + p.n_w].as_mut_ptr(),
                _ => s.gwv.as_mut_ptr(),
            };
            let (ap, xp, gp, gxp, bp) = (a.as_ptr(), x.as_ptr(), g.as_ptr(), gx.as_mut_ptr(), b.as_mut_ptr());
            for_blocks!(T, V, K_BACKWARD, p.mul1, c0 => backward_block(p, ap, xp, w, gp, c0, gxp, bp, gw));
            if p.ins.has_weight && p.mul2 > 1 {
                for (u, &gwv) in s.gwv[..p.mul1].iter().enumerate() {
                    grad_w[p.off_w + u * p.mul2 + v] = gwv;
                }
            }
            // The lanes the block at c0 = 0 started (none when mul1 = 0).
            let lanes = if p.mul1 >= V::LANES { V::LANES } else { p.mul1.min(1) };
            for (ga, bq) in s.grad_a[first..first + p.pairs.len()].iter_mut().zip(b.chunks_exact(B_STRIDE)) {
                *ga = match lanes {
                    0 => T::zero(),
                    1 => bq[0],
                    _ => V::load(bq.as_ptr()).sum(),
                };
            }
        }
    }
    grad_sh.fill(T::zero());
    tp.contraction.backward(&s.m, &s.grad_a, grad_sh);
}

/// Which instruction set the per-edge loops are compiled for, chosen once per
/// call from the evaluation's SIMD level (the library is built for baseline
/// x86-64; AVX2+FMA doubles the vector width where the CPU has it).
#[derive(Clone, Copy)]
enum Kernel {
    Portable,
    #[cfg(target_arch = "x86_64")]
    Avx2,
}

impl Kernel {
    fn detect() -> Kernel {
        #[cfg(target_arch = "x86_64")]
        if super::simd::simd() >= super::simd::Simd::Avx2 {
            return Kernel::Avx2;
        }
        Kernel::Portable
    }

    #[inline]
    fn forward_edge<T: Real>(self, tp: &UvuTensorProduct, edge: &Edge<T>, s: &mut Scratch<T>) {
        match self {
            // SAFETY: portable registers run on any CPU.
            Kernel::Portable => unsafe { forward_edge::<T, Portable<T>>(tp, edge, s) },
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
            // SAFETY: portable registers run on any CPU.
            Kernel::Portable => unsafe { backward_edge::<T, Portable<T>>(tp, edge, g, grad_sh, grad_w, s) },
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
        super::forward_edge::<T, T::Avx2>(tp, edge, s)
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
        super::backward_edge::<T, T::Avx2>(tp, edge, g, grad_sh, grad_w, s)
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

    /// The portable kernel and the SIMD one (where the CPU has it) agree.
    #[test]
    fn portable_and_simd_kernels_agree() {
        let x = Irreps::parse("35x0e+18x1o+17x1e+5x2e+2x3o").unwrap();
        let sh = Irreps::parse("1x0e+1x1o+2x2e").unwrap();
        let simd = UvuTensorProduct::sevenn(&x, &sh, &x).unwrap();
        let portable = UvuTensorProduct { portable: true, ..simd.clone() };
        let (n, e) = (5usize, 17usize);
        let mut k = 0u64;
        let mut rand = |len: usize| -> Vec<f64> {
            (0..len)
                .map(|_| {
                    k += 1;
                    ((k * 2654435761) % 1000) as f64 / 500.0 - 1.0
                })
                .collect()
        };
        let centers: Vec<u32> = (0..e).map(|i| (i * 3 % n) as u32).collect();
        let neighbors: Vec<u32> = (0..e).map(|i| (i * 7 % n) as u32).collect();
        let index = EdgeIndex::new(n, &centers, &neighbors).unwrap();
        let (xs, shs, ws, g) = (
            rand(n * x.dim()),
            rand(e * sh.dim()),
            rand(e * simd.weight_numel()),
            rand(n * simd.irreps_out().dim()),
        );
        let run = |tp: &UvuTensorProduct| {
            let mut out = vec![0.0; g.len()];
            let (mut gx, mut gsh, mut gw) = (vec![0.0; xs.len()], vec![0.0; shs.len()], vec![0.0; ws.len()]);
            tp.conv_forward(&index, &xs, &shs, &ws, 0.3, &mut out).unwrap();
            tp.conv_backward(&index, &xs, &shs, &ws, 0.3, &g, &mut gx, &mut gsh, &mut gw).unwrap();
            [out, gx, gsh, gw]
        };
        for (a, b) in run(&simd).iter().zip(run(&portable).iter()) {
            let diff: f64 = a.iter().zip(b).map(|(a, b)| (a - b).powi(2)).sum::<f64>().sqrt();
            let norm: f64 = b.iter().map(|b| b * b).sum::<f64>().sqrt();
            assert!(norm > 0.0 && diff <= 1e-14 * norm, "relative difference {}", diff / norm);
        }
    }

    #[test]
    fn rejects_bad_lengths() {
        let x = Irreps::parse("4x0e+2x1o").unwrap();
        let sh = Irreps::parse("1x0e+1x1o").unwrap();
        let tp = UvuTensorProduct::sevenn(&x, &sh, &x).unwrap();
        let index = EdgeIndex::new(2, &[0, 1], &[1, 0]).unwrap();
        let (d1, d2, d3, nw) = (x.dim(), sh.dim(), tp.irreps_out().dim(), tp.weight_numel());
        let mut out = vec![0.0; 2 * d3];
        assert!(tp.conv_forward(&index, &vec![0.0; 2 * d1], &vec![0.0; 2 * d2], &vec![0.0; 2 * nw], 1.0, &mut out).is_ok());
        assert!(tp.conv_forward(&index, &vec![0.0; 2 * d1 - 1], &vec![0.0; 2 * d2], &vec![0.0; 2 * nw], 1.0, &mut out).is_err());
        assert!(tp.conv_forward(&index, &vec![0.0; 2 * d1], &vec![0.0; 2 * d2], &vec![0.0; nw], 1.0, &mut out).is_err());
        let bad = Instruction::new(0, 1, 0, Connection::Uvu); // 0e x 1o -> 0e violates parity
        assert!(UvuTensorProduct::new(&x, &sh, &x, &[bad], IrrepNormalization::Component, PathNormalization::Element).is_err());
    }

    #[test]
    fn rejects_bad_edges() {
        assert!(EdgeIndex::new(2, &[0, 1], &[1]).is_err());
        assert!(EdgeIndex::new(2, &[0, 2], &[1, 0]).is_err());
    }
}
