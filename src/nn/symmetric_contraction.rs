//! MACE's `SymmetricContraction` (mace-torch, `mace/modules/symmetric_contraction.py`,
//! inside `EquivariantProductBasisBlock`): per node and channel c, each output
//! irrep L is a polynomial of degree ≤ ν_max in the node's features,
//!
//! ```text
//! out[c, m] = Σ_{ν=1..ν_max} Σ_k W_ν[e, k, c] Σ_{i_1..i_ν} U_ν[m, i_1, .., i_ν, k] x[c, i_1] ⋯ x[c, i_ν]
//! ```
//!
//! with e the node's element, U_ν the generalized Clebsch–Gordan coefficients
//! (mace's `U_matrix_{ν}` buffers) and W_ν the element-dependent weights. mace
//! evaluates it Horner-style from ν_max down; we evaluate the same polynomial
//! monomial by monomial. U is very sparse and x_{i_1}⋯x_{i_ν} does not depend
//! on the order of the indices, so at construction the nonzeros of every U_ν
//! are summed over index permutations into one list of monomials (sorted index
//! tuples), each feeding a few output components m through coefficients on a
//! few weight rows (L, ν, k). Per element, on first use, those are contracted
//! with the weights into one fused weight per (monomial, m) and channel:
//! out[c, m] = Σ_monomials fused[e, monomial, m, c] · Π x[c, i]. (MACE-MP-0's
//! shape: 3289 nonzeros of U → 422 monomials, 2081 terms, 422 fused weights.)
//! Channels never mix: the kernels run on blocks of one cache line of
//! channels (channel-last), which vectorize, with AVX2/AVX-512 + FMA picked at
//! run time like the GEMM kernel.
//!
//! Layouts (row-major):
//! - `x`: nodes × channels × D, where D is the dimension of irreps_in with
//!   multiplicities dropped (for `128x0e+128x1o+128x2e+128x3o`, D = 16 in the
//!   order 0e, 1o, 2e, 3o). This is the `[n, c, D]` tensor mace's
//!   `reshape_irreps` makes from e3nn-layout features.
//! - output: nodes × irreps_out.dim() in e3nn layout: per output irrep, a
//!   block channels × (2L+1) (mace's `torch.cat` of `[n, c·(2L+1)]` blocks).
//! - `U_ν` as mace stores it: shape `[D; ν] + [K_ν]` for L = 0 (squeezed),
//!   `[2L+1] + [D; ν] + [K_ν]` for L > 0.
//! - weights `W_ν`: `[n_elements, K_ν, channels]`, listed by ν = 1..ν_max
//!   (mace keeps ν_max as `weights_max` and ν_max−1 .. 1 as `weights[0..]`).
//!   mace feeds one-hot node attributes, so Σ_e W[e]·y[e] picks one element.

use super::simd::{simd, Simd};
use crate::backend::cpu::Buf;
use crate::so3::Irreps;
use crate::{invalid, Error, Real, Result};
use rayon::prelude::*;
use std::collections::BTreeMap;
use std::sync::OnceLock;

/// A dense row-major array borrowed from the caller (e.g. a model file).
#[derive(Clone, Copy, Debug)]
pub struct TensorView<'a> {
    /// Extent of each axis.
    pub shape: &'a [usize],
    /// shape.iter().product() values.
    pub values: &'a [f64],
}

/// The tensors of one output irrep (one mace `Contraction`), by order ν = 1..ν_max.
#[derive(Clone, Debug)]
pub struct ContractionTensors<'a> {
    /// U_ν, ν = 1..ν_max (mace's `U_matrix_{ν}`).
    pub u: Vec<TensorView<'a>>,
    /// W_ν, ν = 1..ν_max.
    pub weights: Vec<TensorView<'a>>,
}

/// The layer: U folded into symmetric sparse monomials, the weights in the
/// working precision, and per element (on first use) the weights contracted
/// with U's coefficients.
#[derive(Clone, Debug)]
pub struct SymmetricContraction<T> {
    irreps_in: Irreps,
    irreps_out: Irreps,
    channels: usize,
    /// D: per-channel input dimension.
    dim: usize,
    n_elements: usize,
    /// Per output irrep: (first column in a row of the output, 2L+1).
    outputs: Vec<(usize, usize)>,
    /// Total 2L+1 over the output irreps.
    components: usize,
    /// Distinct monomials with a nonzero coefficient.
    monomials: usize,
    /// A pair is (monomial, output component m), sorted by m: the pairs of m
    /// are component_start[m]..component_start[m + 1].
    component_start: Vec<usize>,
    /// Indices i_1 ≤ .. ≤ i_ν of every pair's monomial, concatenated; pair q
    /// owns factors[factor_start[q]..factor_start[q + 1]].
    factors: Vec<usize>,
    factor_start: Vec<usize>,
    /// Per pair, the (weight row, coefficient) whose sum over rows gives the
    /// pair's fused weight Σ coefficient · W[e, row, c]; concatenated likewise.
    pair_terms: Vec<(usize, f64)>,
    pair_term_start: Vec<usize>,
    /// n_elements × weight rows × channels; a weight row is one (L, ν, k).
    weights: Vec<T>,
    weight_rows: usize,
    /// Per element, the fused weights of every pair, in blocks of LANES
    /// channels: [channel block][pair][lane], padded with zeros.
    fused: Vec<OnceLock<Vec<T>>>,
}

/// Nodes per parallel task.
const NODES_PER_TASK: usize = 8;

/// Channels run in blocks of one cache line (8 f64 or 16 f32): small enough
/// that a block's fused weights stay in cache across a task's nodes.
const fn lanes<T>() -> usize {
    64 / std::mem::size_of::<T>()
}

impl<T: Real> SymmetricContraction<T> {
    /// Builds the layer. `irreps_in` is the feature irreps (every irrep with
    /// the same multiplicity, the channel count), `irreps_out` the output
    /// irreps (each with that multiplicity, one `tensors` entry each).
    pub fn new(irreps_in: &Irreps, irreps_out: &Irreps, tensors: &[ContractionTensors]) -> Result<Self> {
        let channels = match irreps_in.0.first() {
            Some(m) if m.mul > 0 && irreps_in.iter().all(|x| x.mul == m.mul) => m.mul,
            _ => {
                return invalid!(
                    "symmetric contraction: irreps_in {irreps_in} must be irreps of one nonzero multiplicity"
                )
            }
        };
        if irreps_out.iter().any(|m| m.mul != channels) {
            return invalid!(
                "symmetric contraction: every irrep of {irreps_out} must have multiplicity {channels} like {irreps_in}"
            );
        }
        if irreps_out.is_empty() {
            return invalid!("symmetric contraction: no output irreps");
        }
        if tensors.len() != irreps_out.len() {
            return Err(Error::LengthMismatch(format!(
                "symmetric contraction: {} output irreps, {} sets of tensors",
                irreps_out.len(),
                tensors.len()
            )));
        }
        let dim = irreps_in.dim() / channels;
        let n_elements = tensors.first().and_then(|t| t.weights.first()).and_then(|w| w.shape.first().copied());
        let n_elements = match n_elements {
            Some(n) if n > 0 => n,
            _ => return invalid!("symmetric contraction: the weights must be [n_elements ≥ 1, K, channels]"),
        };
        let mut outputs = vec![];
        // sorted indices → output component → weight row → summed coefficient.
        type Terms = BTreeMap<usize, BTreeMap<usize, f64>>;
        let mut monomials: BTreeMap<Vec<usize>, Terms> = BTreeMap::new();
        let mut row_tensors: Vec<(TensorView, usize, usize)> = vec![]; // (W, k, K)
        let (mut column, mut component) = (0, 0);
        for (o, (mul_ir, t)) in irreps_out.iter().zip(tensors).enumerate() {
            let m_dim = mul_ir.ir.dim();
            outputs.push((column, m_dim));
            if t.u.is_empty() || t.u.len() != t.weights.len() {
                return invalid!(
                    "symmetric contraction: output {o} ({}) needs one U and one weight tensor per order ≥ 1, got {} and {}",
                    mul_ir.ir,
                    t.u.len(),
                    t.weights.len()
                );
            }
            for (order, (u, w)) in t.u.iter().zip(&t.weights).enumerate() {
                let nu = order + 1;
                let what = format!("output {o} ({}) order {nu}", mul_ir.ir);
                let k_dim = check_u(u, m_dim, dim, nu, &what)?;
                check_tensor(w, &[n_elements, k_dim, channels], &format!("{what} weights"))?;
                let first_row = row_tensors.len();
                row_tensors.extend((0..k_dim).map(|k| (*w, k, k_dim)));
                let mut index = vec![0; nu];
                for (flat, &value) in u.values.iter().enumerate().filter(|(_, v)| **v != 0.0) {
                    // flat = ((m·D + i_1)·D + ..)·K + k
                    let k = flat % k_dim;
                    let mut rest = flat / k_dim;
                    for i in index.iter_mut().rev() {
                        *i = rest % dim;
                        rest /= dim;
                    }
                    let mut key = index.clone();
                    key.sort_unstable();
                    let terms = monomials.entry(key).or_default().entry(component + rest).or_default();
                    *terms.entry(first_row + k).or_insert(0.0) += value;
                }
            }
            column += mul_ir.dim();
            component += m_dim;
        }
        let weight_rows = row_tensors.len();
        let mut weights = vec![T::zero(); n_elements * weight_rows * channels];
        for (row, (w, k, k_dim)) in row_tensors.iter().enumerate() {
            for e in 0..n_elements {
                let src = &w.values[(e * k_dim + k) * channels..][..channels];
                let dst = &mut weights[(e * weight_rows + row) * channels..][..channels];
                dst.iter_mut().zip(src).for_each(|(d, &s)| *d = T::of(s));
            }
        }
        let mut layer = SymmetricContraction {
            irreps_in: irreps_in.clone(),
            irreps_out: irreps_out.clone(),
            channels,
            dim,
            n_elements,
            outputs,
            components: component,
            monomials: 0,
            component_start: vec![0],
            factors: vec![],
            factor_start: vec![0],
            pair_terms: vec![],
            pair_term_start: vec![0],
            weights,
            weight_rows,
            fused: (0..n_elements).map(|_| OnceLock::new()).collect(),
        };
        // Permutations may cancel exactly (antisymmetric couplings): drop those terms.
        // (component m, monomial, (weight row, coefficient) terms)
        type Pair<'k> = (usize, &'k Vec<usize>, Vec<(usize, f64)>);
        let mut pairs: Vec<Pair> = vec![];
        for (key, by_component) in &monomials {
            let before = pairs.len();
            for (&component, terms) in by_component {
                let nonzero: Vec<(usize, f64)> =
                    terms.iter().filter(|(_, c)| **c != 0.0).map(|(&r, &c)| (r, c)).collect();
                if !nonzero.is_empty() {
                    pairs.push((component, key, nonzero));
                }
            }
            layer.monomials += usize::from(pairs.len() > before);
        }
        pairs.sort_by_key(|p| p.0);
        for m in 0..layer.components {
            for (_, key, terms) in pairs.iter().filter(|p| p.0 == m) {
                layer.factors.extend_from_slice(key);
                layer.factor_start.push(layer.factors.len());
                layer.pair_terms.extend_from_slice(terms);
                layer.pair_term_start.push(layer.pair_terms.len());
            }
            layer.component_start.push(layer.factor_start.len() - 1);
        }
        Ok(layer)
    }

    /// Input irreps (with the channel multiplicity).
    pub fn irreps_in(&self) -> &Irreps {
        &self.irreps_in
    }

    /// Output irreps.
    pub fn irreps_out(&self) -> &Irreps {
        &self.irreps_out
    }

    /// Number of elements the weights know.
    pub fn n_elements(&self) -> usize {
        self.n_elements
    }

    /// Number of distinct monomials with a nonzero coefficient.
    pub fn n_monomials(&self) -> usize {
        self.monomials
    }

    fn n_pairs(&self) -> usize {
        self.factor_start.len() - 1
    }

    /// out = B(x) for one node per entry of `elements` (x: nodes × channels
    /// × D, out: nodes × irreps_out.dim()).
    pub fn forward(&self, elements: &[usize], x: &[T], out: &mut [T]) -> Result<()> {
        self.check(elements, x.len(), out.len(), "forward")?;
        let (x_row, out_row) = (self.channels * self.dim, self.irreps_out.dim());
        out.par_chunks_mut(NODES_PER_TASK * out_row)
            .zip(x.par_chunks(NODES_PER_TASK * x_row))
            .zip(elements.par_chunks(NODES_PER_TASK))
            .for_each_init(
                || Scratch::new(self),
                |s, ((out, x), elements)| self.run(elements, Pass::Forward { x, out }, s),
            );
        Ok(())
    }

    /// grad_x = grad_out · ∂out/∂x (the vector–Jacobian product; the weights
    /// are constants).
    pub fn backward(&self, elements: &[usize], x: &[T], grad_out: &[T], grad_x: &mut [T]) -> Result<()> {
        self.check(elements, x.len(), grad_out.len(), "backward")?;
        if grad_x.len() != x.len() {
            return Err(Error::LengthMismatch(format!(
                "symmetric contraction backward: grad_x has {} entries, x {}",
                grad_x.len(),
                x.len()
            )));
        }
        let (x_row, out_row) = (self.channels * self.dim, self.irreps_out.dim());
        grad_x
            .par_chunks_mut(NODES_PER_TASK * x_row)
            .zip(x.par_chunks(NODES_PER_TASK * x_row))
            .zip(grad_out.par_chunks(NODES_PER_TASK * out_row))
            .zip(elements.par_chunks(NODES_PER_TASK))
            .for_each_init(
                || Scratch::new(self),
                |s, (((grad_x, x), grad_out), elements)| self.run(elements, Pass::Backward { x, grad_out, grad_x }, s),
            );
        Ok(())
    }

    /// Runs one task with the lane count of T and the best instruction set.
    fn run(&self, elements: &[usize], pass: Pass<T>, s: &mut Scratch<T>) {
        if lanes::<T>() == 16 {
            self.run_lanes::<16>(elements, pass, s)
        } else {
            self.run_lanes::<8>(elements, pass, s)
        }
    }

    fn run_lanes<const W: usize>(&self, elements: &[usize], pass: Pass<T>, s: &mut Scratch<T>) {
        match simd() {
            // SAFETY: simd() checked that the CPU has these instruction sets.
            #[cfg(target_arch = "x86_64")]
            Simd::Avx512 => unsafe { self.task_avx512::<W>(elements, pass, s) },
            #[cfg(target_arch = "x86_64")]
            Simd::Avx2 => unsafe { self.task_avx2::<W>(elements, pass, s) },
            _ => self.task::<W, GENERIC_FMA>(elements, pass, s),
        }
    }

    /// # Safety
    /// The CPU must support AVX2 and FMA.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn task_avx2<const W: usize>(&self, elements: &[usize], pass: Pass<T>, s: &mut Scratch<T>) {
        self.task::<W, true>(elements, pass, s)
    }

    /// # Safety
    /// The CPU must support AVX-512F, AVX2 and FMA.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx2,fma")]
    unsafe fn task_avx512<const W: usize>(&self, elements: &[usize], pass: Pass<T>, s: &mut Scratch<T>) {
        self.task::<W, true>(elements, pass, s)
    }

    /// A few nodes, channel block by channel block (so a block of fused
    /// weights is reused across the nodes), in channel-last scratch.
    #[inline(always)]
    fn task<const W: usize, const FMA: bool>(&self, elements: &[usize], pass: Pass<T>, s: &mut Scratch<T>) {
        let (d, comps, blocks) = (self.dim, self.components, s.blocks);
        let pairs = self.n_pairs();
        let (x, mut out_or_grad) = match pass {
            Pass::Forward { x, out } => (x, Err(out)),
            Pass::Backward { x, grad_out, grad_x } => (x, Ok((grad_out, grad_x))),
        };
        let (x_row, out_row) = (self.channels * d, self.irreps_out.dim());
        for (n, x) in x.chunks(x_row).enumerate() {
            to_blocks::<T, W>(x, d, &mut s.x[n * blocks * d * W..][..blocks * d * W]);
            if let Ok((grad_out, _)) = &out_or_grad {
                self.gather_out::<W>(&grad_out[n * out_row..][..out_row], &mut s.out[n * blocks * comps * W..]);
            }
        }
        for b in 0..blocks {
            for (n, &e) in elements.iter().enumerate() {
                let fused = &self.fused(e)[b * pairs * W..][..pairs * W];
                let x = &s.x[(n * blocks + b) * d * W..][..d * W];
                let out = &mut s.out[(n * blocks + b) * comps * W..][..comps * W];
                let (fused, x) = (fused.as_chunks::<W>().0, x.as_chunks::<W>().0);
                match out_or_grad {
                    Err(_) => self.forward_block::<W, FMA>(fused, x, out.as_chunks_mut::<W>().0),
                    Ok(_) => {
                        let grad_x = &mut s.grad_x[(n * blocks + b) * d * W..][..d * W];
                        self.backward_block::<W, FMA>(fused, x, out.as_chunks::<W>().0, grad_x.as_chunks_mut::<W>().0)
                    }
                }
            }
        }
        for n in 0..elements.len() {
            match &mut out_or_grad {
                Err(out) => self.scatter_out::<W>(&s.out[n * blocks * comps * W..], &mut out[n * out_row..][..out_row]),
                Ok((_, grad_x)) => {
                    from_blocks::<T, W>(&s.grad_x[n * blocks * d * W..], d, &mut grad_x[n * x_row..][..x_row])
                }
            }
        }
    }

    /// One node, one channel block: out[m] = Σ_pairs of m fused · Π x, in
    /// four independent accumulators (FMA latency, not throughput, would
    /// bound a single chain).
    #[inline(always)]
    fn forward_block<const W: usize, const FMA: bool>(&self, fused: &[[T; W]], x: &[[T; W]], out: &mut [[T; W]]) {
        for (m, out) in out.iter_mut().enumerate() {
            let (mut q, end) = (self.component_start[m], self.component_start[m + 1]);
            let mut acc = [[T::zero(); W]; 4];
            while q + 4 <= end {
                for (a, acc) in acc.iter_mut().enumerate() {
                    let (p, f) = (self.monomial::<W>(q + a, x), &fused[q + a]);
                    for l in 0..W {
                        acc[l] = fmadd::<T, FMA>(f[l], p[l], acc[l]);
                    }
                }
                q += 4;
            }
            for (q, f) in (q..end).zip(&fused[q..end]) {
                let p = self.monomial::<W>(q, x);
                for l in 0..W {
                    acc[0][l] = fmadd::<T, FMA>(f[l], p[l], acc[0][l]);
                }
            }
            for l in 0..W {
                out[l] = (acc[0][l] + acc[1][l]) + (acc[2][l] + acc[3][l]);
            }
        }
    }

    /// One node, one channel block: grad_x from grad_out (both channel-last),
    /// by the product rule on each pair's monomial.
    #[inline(always)]
    fn backward_block<const W: usize, const FMA: bool>(
        &self,
        fused: &[[T; W]],
        x: &[[T; W]],
        grad_out: &[[T; W]],
        grad_x: &mut [[T; W]],
    ) {
        grad_x.fill([T::zero(); W]);
        for (m, g) in grad_out.iter().enumerate() {
            let pairs = self.component_start[m]..self.component_start[m + 1];
            for (q, f) in pairs.clone().zip(&fused[pairs]) {
                let mut grad = *f;
                for l in 0..W {
                    grad[l] *= g[l];
                }
                let factors = &self.factors[self.factor_start[q]..self.factor_start[q + 1]];
                for a in 0..factors.len() {
                    let mut partial = grad;
                    for b in 0..factors.len() {
                        if b != a {
                            let x = &x[factors[b]];
                            for l in 0..W {
                                partial[l] *= x[l];
                            }
                        }
                    }
                    let grad_x = &mut grad_x[factors[a]];
                    for l in 0..W {
                        grad_x[l] += partial[l];
                    }
                }
            }
        }
    }

    /// Π_{i ∈ monomial of pair q} x[i].
    #[inline(always)]
    fn monomial<const W: usize>(&self, q: usize, x: &[[T; W]]) -> [T; W] {
        let factors = &self.factors[self.factor_start[q]..self.factor_start[q + 1]];
        let mut product = x[factors[0]];
        for &i in &factors[1..] {
            let x = &x[i];
            for l in 0..W {
                product[l] *= x[l];
            }
        }
        product
    }

    /// The fused weights of an element, computed on first use (in f64).
    fn fused(&self, element: usize) -> &[T] {
        self.fused[element].get_or_init(|| {
            let (w, c_n, pairs) = (lanes::<T>(), self.channels, self.n_pairs());
            let mut fused = vec![T::zero(); c_n.div_ceil(w) * pairs * w];
            let weights = &self.weights[element * self.weight_rows * c_n..][..self.weight_rows * c_n];
            for q in 0..pairs {
                let terms = &self.pair_terms[self.pair_term_start[q]..self.pair_term_start[q + 1]];
                for c in 0..c_n {
                    let sum: f64 = terms.iter().map(|&(row, u)| u * weights[row * c_n + c].f64()).sum();
                    fused[((c / w) * pairs + q) * w + c % w] = T::of(sum);
                }
            }
            fused
        })
    }

    /// [block][component][lane] → the e3nn row (per irrep, channel × (2L+1)).
    fn scatter_out<const W: usize>(&self, blocks: &[T], out: &mut [T]) {
        let mut component = 0;
        for &(column, m_dim) in &self.outputs {
            for c in 0..self.channels {
                for m in 0..m_dim {
                    out[column + c * m_dim + m] = blocks[((c / W) * self.components + component + m) * W + c % W];
                }
            }
            component += m_dim;
        }
    }

    /// The e3nn row → [block][component][lane].
    fn gather_out<const W: usize>(&self, row: &[T], blocks: &mut [T]) {
        let mut component = 0;
        for &(column, m_dim) in &self.outputs {
            for c in 0..self.channels {
                for m in 0..m_dim {
                    blocks[((c / W) * self.components + component + m) * W + c % W] = row[column + c * m_dim + m];
                }
            }
            component += m_dim;
        }
    }

    fn check(&self, elements: &[usize], n_x: usize, n_out: usize, what: &str) -> Result<()> {
        let n = elements.len();
        let (x_row, out_row) = (self.channels * self.dim, self.irreps_out.dim());
        if n_x != n * x_row || n_out != n * out_row {
            return Err(Error::LengthMismatch(format!(
                "symmetric contraction {what}: {n} nodes need {} features ({} × {}) and {} outputs, got {n_x} and {n_out}",
                n * x_row,
                self.channels,
                self.dim,
                n * out_row
            )));
        }
        if let Some(&e) = elements.iter().find(|&&e| e >= self.n_elements) {
            return invalid!(
                "symmetric contraction {what}: element index {e} is out of range (the weights know {})",
                self.n_elements
            );
        }
        Ok(())
    }
}

/// What a task computes, on its nodes' rows.
enum Pass<'a, T> {
    Forward { x: &'a [T], out: &'a mut [T] },
    Backward { x: &'a [T], grad_out: &'a [T], grad_x: &'a mut [T] },
}

/// Per-thread buffers of a task's nodes, in channel blocks ([node][block][·][lane]).
struct Scratch<T> {
    blocks: usize,
    x: Buf<T>,
    /// Output components (forward) or their gradients (backward).
    out: Buf<T>,
    grad_x: Buf<T>,
}

impl<T: Real> Scratch<T> {
    fn new(layer: &SymmetricContraction<T>) -> Self {
        let blocks = layer.channels.div_ceil(lanes::<T>());
        let lanes_per_node = NODES_PER_TASK * blocks * lanes::<T>();
        Scratch {
            blocks,
            x: Buf::scratch(lanes_per_node * layer.dim, T::zero()),
            out: Buf::scratch(lanes_per_node * layer.components, T::zero()),
            grad_x: Buf::scratch(lanes_per_node * layer.dim, T::zero()),
        }
    }
}

/// One node's [channel][i] → [block][i][lane], padded lanes zero.
fn to_blocks<T: Real, const W: usize>(x: &[T], d: usize, blocks: &mut [T]) {
    blocks.fill(T::zero());
    for (c, row) in x.chunks(d).enumerate() {
        for (i, &v) in row.iter().enumerate() {
            blocks[((c / W) * d + i) * W + c % W] = v;
        }
    }
}

/// [block][i][lane] → [channel][i].
fn from_blocks<T: Real, const W: usize>(blocks: &[T], d: usize, x: &mut [T]) {
    for (c, row) in x.chunks_mut(d).enumerate() {
        for (i, v) in row.iter_mut().enumerate() {
            *v = blocks[((c / W) * d + i) * W + c % W];
        }
    }
}

/// Without AVX2 on x86-64, mul_add would be a library call: multiply, then add.
const GENERIC_FMA: bool = cfg!(target_arch = "aarch64");

#[inline(always)]
fn fmadd<T: Real, const FMA: bool>(a: T, b: T, c: T) -> T {
    if FMA {
        a.mul_add(b, c)
    } else {
        a * b + c
    }
}

/// Checks U_ν's shape against (2L+1, D, ν) and returns K_ν.
fn check_u(u: &TensorView, m_dim: usize, dim: usize, nu: usize, what: &str) -> Result<usize> {
    let lead = usize::from(m_dim > 1);
    let expected_rank = lead + nu + 1;
    let ok = u.shape.len() == expected_rank
        && (lead == 0 || u.shape[0] == m_dim)
        && u.shape[lead..lead + nu].iter().all(|&d| d == dim)
        && u.shape[expected_rank - 1] > 0;
    if !ok {
        let m = if lead == 1 { format!("{m_dim}, ") } else { String::new() };
        return invalid!("symmetric contraction {what}: U has shape {:?}, expected [{m}{dim} ×{nu}, K]", u.shape);
    }
    check_tensor(u, u.shape, &format!("{what} U"))?;
    Ok(u.shape[expected_rank - 1])
}

fn check_tensor(t: &TensorView, shape: &[usize], what: &str) -> Result<()> {
    if t.shape != shape {
        return invalid!("symmetric contraction {what}: shape {:?}, expected {:?}", t.shape, shape);
    }
    let n: usize = shape.iter().product();
    if t.values.len() != n {
        return Err(Error::LengthMismatch(format!(
            "symmetric contraction {what}: shape {shape:?} holds {n} values, got {}",
            t.values.len()
        )));
    }
    if t.values.iter().any(|v| !v.is_finite()) {
        return invalid!("symmetric contraction {what}: non-finite value");
    }
    Ok(())
}
