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
//! monomial by monomial. U is very sparse and the product x_{i_1}⋯x_{i_ν}
//! does not depend on the order of the indices, so at construction the
//! nonzeros of every U_ν are summed over index permutations into one list of
//! monomials (sorted index tuples), each with its few (L, ν, m, k)
//! coefficients. Channels never mix: every inner loop runs over the channel
//! axis, so it vectorizes.
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

use crate::so3::Irreps;
use crate::{invalid, Error, Real, Result};
use rayon::prelude::*;
use std::collections::BTreeMap;

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

/// A sparse basis function: (L, ν, m, k) with a nonzero coefficient somewhere.
#[derive(Clone, Copy, Debug)]
struct Basis {
    /// Output component (index over all output irreps' m).
    component: usize,
    /// Row of the weights (index over all (L, ν, k)).
    weight_row: usize,
}

/// The layer, with U folded into symmetric sparse monomials and the weights
/// in the working precision.
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
    /// Indices i_1 ≤ .. ≤ i_ν of every monomial, concatenated; monomial t owns
    /// factors[factor_start[t]..factor_start[t + 1]].
    factors: Vec<usize>,
    factor_start: Vec<usize>,
    /// (basis function, coefficient) of every monomial, concatenated likewise.
    terms: Vec<(usize, T)>,
    term_start: Vec<usize>,
    basis: Vec<Basis>,
    /// n_elements × weight rows × channels.
    weights: Vec<T>,
    weight_rows: usize,
}

/// Nodes per parallel task.
const NODES_PER_TASK: usize = 4;

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
        // (sorted indices) → ((basis function) → summed coefficient).
        let mut monomials: BTreeMap<Vec<usize>, BTreeMap<usize, f64>> = BTreeMap::new();
        let mut basis_of: BTreeMap<(usize, usize), usize> = BTreeMap::new();
        let mut basis = vec![];
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
                    let m = rest;
                    let next = basis.len();
                    let b = *basis_of.entry((component + m, first_row + k)).or_insert(next);
                    if b == next {
                        basis.push(Basis { component: component + m, weight_row: first_row + k });
                    }
                    let mut key = index.clone();
                    key.sort_unstable();
                    *monomials.entry(key).or_default().entry(b).or_insert(0.0) += value;
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
        let (mut factors, mut factor_start, mut terms, mut term_start) = (vec![], vec![0], vec![], vec![0]);
        for (key, coefficients) in &monomials {
            // Permutations may cancel exactly (antisymmetric couplings): skip those.
            let nonzero: Vec<(usize, T)> =
                coefficients.iter().filter(|(_, c)| **c != 0.0).map(|(&b, &c)| (b, T::of(c))).collect();
            if nonzero.is_empty() {
                continue;
            }
            factors.extend_from_slice(key);
            factor_start.push(factors.len());
            terms.extend(nonzero);
            term_start.push(terms.len());
        }
        Ok(SymmetricContraction {
            irreps_in: irreps_in.clone(),
            irreps_out: irreps_out.clone(),
            channels,
            dim,
            n_elements,
            outputs,
            factors,
            factor_start,
            terms,
            term_start,
            basis,
            weights,
            weight_rows,
        })
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
                |s, ((out, x), elements)| {
                    for ((out, x), &e) in out.chunks_mut(out_row).zip(x.chunks(x_row)).zip(elements) {
                        self.forward_node(e, x, out, s);
                    }
                },
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
                |s, (((gx, x), g), elements)| {
                    for (((gx, x), g), &e) in
                        gx.chunks_mut(x_row).zip(x.chunks(x_row)).zip(g.chunks(out_row)).zip(elements)
                    {
                        self.backward_node(e, x, g, gx, s);
                    }
                },
            );
        Ok(())
    }

    fn forward_node(&self, element: usize, x: &[T], out: &mut [T], s: &mut Scratch<T>) {
        let c_n = self.channels;
        transpose(x, c_n, self.dim, &mut s.x);
        // basis[b][c] = Σ_monomials coefficient · Π x.
        s.basis.fill(T::zero());
        for t in 0..self.n_monomials() {
            self.monomial(t, &s.x, &mut s.product);
            for &(b, coefficient) in &self.terms[self.term_start[t]..self.term_start[t + 1]] {
                axpy(coefficient, &s.product, &mut s.basis[b * c_n..][..c_n]);
            }
        }
        // out[m][c] = Σ_b W[e, row(b), c] · basis[b][c].
        s.out.fill(T::zero());
        for (b, f) in self.basis.iter().enumerate() {
            let w = self.weight_row(element, f.weight_row);
            let dst = &mut s.out[f.component * c_n..][..c_n];
            for ((d, &w), &v) in dst.iter_mut().zip(w).zip(&s.basis[b * c_n..][..c_n]) {
                *d += w * v;
            }
        }
        self.scatter_out(&s.out, out);
    }

    fn backward_node(&self, element: usize, x: &[T], grad_out: &[T], grad_x: &mut [T], s: &mut Scratch<T>) {
        let c_n = self.channels;
        transpose(x, c_n, self.dim, &mut s.x);
        self.gather_out(grad_out, &mut s.out);
        // ∂L/∂basis[b][c] = W[e, row(b), c] · grad_out[m(b)][c].
        for (b, f) in self.basis.iter().enumerate() {
            let w = self.weight_row(element, f.weight_row);
            let g = &s.out[f.component * c_n..][..c_n];
            for ((d, &w), &g) in s.basis[b * c_n..][..c_n].iter_mut().zip(w).zip(g) {
                *d = w * g;
            }
        }
        s.grad_x.fill(T::zero());
        for t in 0..self.n_monomials() {
            // ∂L/∂monomial, then the product rule over its factors.
            s.grad_monomial.fill(T::zero());
            for &(b, coefficient) in &self.terms[self.term_start[t]..self.term_start[t + 1]] {
                axpy(coefficient, &s.basis[b * c_n..][..c_n], &mut s.grad_monomial);
            }
            let factors = &self.factors[self.factor_start[t]..self.factor_start[t + 1]];
            for a in 0..factors.len() {
                s.product.copy_from_slice(&s.grad_monomial);
                for (_, &i) in factors.iter().enumerate().filter(|&(b, _)| b != a) {
                    s.product.iter_mut().zip(&s.x[i * c_n..][..c_n]).for_each(|(p, &x)| *p *= x);
                }
                let i = factors[a];
                s.grad_x[i * c_n..][..c_n].iter_mut().zip(&s.product).for_each(|(g, &p)| *g += p);
            }
        }
        transpose(&s.grad_x, self.dim, c_n, grad_x);
    }

    /// product[c] = Π_{i ∈ monomial t} x[i][c].
    fn monomial(&self, t: usize, x: &[T], product: &mut [T]) {
        let c_n = self.channels;
        let factors = &self.factors[self.factor_start[t]..self.factor_start[t + 1]];
        product.copy_from_slice(&x[factors[0] * c_n..][..c_n]);
        for &i in &factors[1..] {
            product.iter_mut().zip(&x[i * c_n..][..c_n]).for_each(|(p, &x)| *p *= x);
        }
    }

    fn weight_row(&self, element: usize, row: usize) -> &[T] {
        &self.weights[(element * self.weight_rows + row) * self.channels..][..self.channels]
    }

    /// Component-major [m][c] → the e3nn row (per irrep, c × (2L+1)).
    fn scatter_out(&self, components: &[T], out: &mut [T]) {
        let mut component = 0;
        for &(column, m_dim) in &self.outputs {
            transpose(
                &components[component * self.channels..][..m_dim * self.channels],
                m_dim,
                self.channels,
                &mut out[column..][..m_dim * self.channels],
            );
            component += m_dim;
        }
    }

    /// The e3nn row → component-major [m][c].
    fn gather_out(&self, row: &[T], components: &mut [T]) {
        let mut component = 0;
        for &(column, m_dim) in &self.outputs {
            transpose(
                &row[column..][..m_dim * self.channels],
                self.channels,
                m_dim,
                &mut components[component * self.channels..][..m_dim * self.channels],
            );
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

/// Per-thread buffers, all channel-last.
struct Scratch<T> {
    /// x transposed: D × channels.
    x: Vec<T>,
    /// basis functions × channels (forward: values; backward: their gradients).
    basis: Vec<T>,
    /// output components × channels.
    out: Vec<T>,
    product: Vec<T>,
    grad_monomial: Vec<T>,
    grad_x: Vec<T>,
}

impl<T: Real> Scratch<T> {
    fn new(layer: &SymmetricContraction<T>) -> Self {
        let c = layer.channels;
        let components: usize = layer.outputs.iter().map(|&(_, m)| m).sum();
        Scratch {
            x: vec![T::zero(); layer.dim * c],
            basis: vec![T::zero(); layer.basis.len() * c],
            out: vec![T::zero(); components * c],
            product: vec![T::zero(); c],
            grad_monomial: vec![T::zero(); c],
            grad_x: vec![T::zero(); layer.dim * c],
        }
    }
}

/// dst (cols × rows) = srcᵀ, src rows × cols.
fn transpose<T: Real>(src: &[T], rows: usize, cols: usize, dst: &mut [T]) {
    for r in 0..rows {
        for c in 0..cols {
            dst[c * rows + r] = src[r * cols + c];
        }
    }
}

/// y += a·x.
fn axpy<T: Real>(a: T, x: &[T], y: &mut [T]) {
    y.iter_mut().zip(x).for_each(|(y, &x)| *y += a * x);
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
