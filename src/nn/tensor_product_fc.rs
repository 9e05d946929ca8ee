//! e3nn's `o3.FullyConnectedTensorProduct`: every path allowed by the
//! selection rules, 'uvw', with internal weights shared by all samples. In
//! NequIP it is the self-connection, with a one-hot species vector as the
//! second input (those zero rows of in2 are skipped in the forward pass).
//!
//! out[w] = Σ_paths sqrt(alpha) Σ_{u,v} W[u,v,w] C · (x1[u] ⊗ x2[v])
//!
//! Node features are transposed to channel-last inside the kernel (see
//! `tensor_product_conv`), so the loops over u and w are contiguous.

use rayon::prelude::*;

use super::tensor_product::{
    axpy, dot, from_channel_last, paths_accessors, to_channel_last, Connection, Instruction, IrrepNormalization,
    Path, PathNormalization, Paths,
};
use crate::so3::Irreps;
use crate::{invalid, Error, Real, Result};

/// `FullyConnectedTensorProduct(irreps_in1, irreps_in2, irreps_out)` with its weights.
#[derive(Clone, Debug)]
pub struct FullyConnectedTensorProduct<T> {
    paths: Paths,
    weights: Vec<T>,
    max_pairs: usize,
    /// Largest (2l+1)·mul of a path's in1 block and of its (2l3+1)·mul1 product.
    max_block: usize,
}

impl<T: Real> FullyConnectedTensorProduct<T> {
    /// The product with e3nn's instructions (for each in1 block, in2 block and
    /// out block whose irrep is in the product, in that order) and `weights`,
    /// flat as e3nn's `weight` parameter: path after path, each [u][v][w].
    pub fn new(
        irreps_in1: &Irreps,
        irreps_in2: &Irreps,
        irreps_out: &Irreps,
        irrep_norm: IrrepNormalization,
        path_norm: PathNormalization,
        weights: Vec<T>,
    ) -> Result<Self> {
        let instructions = fully_connected(irreps_in1, irreps_in2, irreps_out);
        let paths = Paths::new(irreps_in1, irreps_in2, irreps_out, &instructions, irrep_norm, path_norm)?;
        if weights.len() != paths.weight_numel {
            return Err(Error::LengthMismatch(format!(
                "fully connected tensor product {irreps_in1} x {irreps_in2} -> {irreps_out}: {} weights, expected {}",
                weights.len(),
                paths.weight_numel
            )));
        }
        if weights.iter().any(|w| !w.is_finite()) {
            return invalid!("fully connected tensor product: weights must be finite");
        }
        let max_pairs = paths.paths.iter().map(|p| p.pairs.len()).max().unwrap_or(0);
        let max_block = paths.paths.iter().map(|p| p.mul1 * p.d1.max(p.d3)).max().unwrap_or(0);
        Ok(FullyConnectedTensorProduct { paths, weights, max_pairs, max_block })
    }

    /// The number of weights `new` expects for these irreps.
    pub fn count_weights(irreps_in1: &Irreps, irreps_in2: &Irreps, irreps_out: &Irreps) -> usize {
        fully_connected(irreps_in1, irreps_in2, irreps_out)
            .iter()
            .map(|i| irreps_in1.0[i.i_in1].mul * irreps_in2.0[i.i_in2].mul * irreps_out.0[i.i_out].mul)
            .sum()
    }

    // irreps_in1, irreps_in2, irreps_out, weight_numel (each path's as
    // [u][v][w]), instructions (in e3nn's order), path_normalizations.
    paths_accessors!();

    fn check(&self, x1: &[T], x2: &[T], out: &[T], name: &str) -> Result<usize> {
        let (d1, d2, d3) = (self.irreps_in1().dim(), self.irreps_in2().dim(), self.irreps_out().dim());
        if d1 == 0 || d2 == 0 {
            return invalid!("fully connected tensor product with an empty input");
        }
        let n = x1.len() / d1;
        for (what, got, want) in [("in1", x1.len(), n * d1), ("in2", x2.len(), n * d2), (name, out.len(), n * d3)] {
            if got != want {
                return Err(Error::LengthMismatch(format!(
                    "fully connected tensor product {what}: {got} values, expected {want} ({n} samples)"
                )));
            }
        }
        Ok(n)
    }

    /// out = FCTP(x1, x2) row by row: x1 n × dim_in1, x2 n × dim_in2, out n × dim_out.
    pub fn forward(&self, x1: &[T], x2: &[T], out: &mut [T]) -> Result<()> {
        self.check(x1, x2, out, "output")?;
        let (d1, d2, d3) = (self.irreps_in1().dim(), self.irreps_in2().dim(), self.irreps_out().dim());
        if d3 == 0 {
            return Ok(());
        }
        out.par_chunks_mut(d3).enumerate().for_each_init(
            || Scratch::new(self),
            |s, (n, out_n)| {
                to_channel_last(self.irreps_in1(), &x1[n * d1..(n + 1) * d1], &mut s.x_cl);
                s.acc.fill(T::zero());
                let x2_n = &x2[n * d2..(n + 1) * d2];
                for p in &self.paths.paths {
                    self.forward_path(p, x2_n, s);
                }
                from_channel_last(self.irreps_out(), &s.acc, T::one(), out_n);
            },
        );
        Ok(())
    }

    fn forward_path(&self, p: &Path, x2: &[T], s: &mut Scratch<T>) {
        let (u_n, w_n) = (p.mul1, p.mul3);
        let weights = &self.weights[p.off_w..p.off_w + p.n_w];
        for v in 0..p.mul2 {
            let x2_v = &x2[p.off2 + v * p.d2..p.off2 + (v + 1) * p.d2];
            if x2_v.iter().all(|&a| a == T::zero()) {
                continue; // one-hot species: most rows are zero
            }
            contract(p, x2_v, &mut s.a);
            // t[m3][u] = Σ_m1 A[m3, m1] x1[m1][u]
            let t = &mut s.t[..p.d3 * u_n];
            t.fill(T::zero());
            for (pair, &a) in p.pairs.iter().zip(&s.a) {
                let x_m1 = &s.x_cl[p.off1 + pair.m1 * u_n..p.off1 + (pair.m1 + 1) * u_n];
                axpy(&mut t[pair.m3 * u_n..(pair.m3 + 1) * u_n], a, x_m1);
            }
            // out[m3][w] += Σ_u t[m3][u] W[u, v, w]
            let out = &mut s.acc[p.off3..p.off3 + p.d3 * w_n];
            for (out_m3, t_m3) in out.chunks_exact_mut(w_n).zip(t.chunks_exact(u_n)) {
                for (u, &t) in t_m3.iter().enumerate() {
                    let row = (u * p.mul2 + v) * w_n;
                    axpy(out_m3, t, &weights[row..row + w_n]);
                }
            }
        }
    }

    /// The vector–Jacobian product of [`forward`](Self::forward): overwrites
    /// grad_x1 and, when given, grad_x2 (without it, zero rows of x2 are skipped).
    pub fn backward(&self, x1: &[T], x2: &[T], grad_out: &[T], grad_x1: &mut [T], grad_x2: Option<&mut [T]>) -> Result<()> {
        let n = self.check(x1, x2, grad_out, "output gradient")?;
        let (d1, d2, d3) = (self.irreps_in1().dim(), self.irreps_in2().dim(), self.irreps_out().dim());
        if grad_x1.len() != n * d1 || grad_x2.as_ref().is_some_and(|g| g.len() != n * d2) {
            return Err(Error::LengthMismatch("fully connected tensor product: gradient buffers".into()));
        }
        let one = |s: &mut Scratch<T>, n: usize, gx1: &mut [T], gx2: Option<&mut [T]>| {
            to_channel_last(self.irreps_in1(), &x1[n * d1..(n + 1) * d1], &mut s.x_cl);
            to_channel_last(self.irreps_out(), &grad_out[n * d3..(n + 1) * d3], &mut s.g_cl);
            s.acc.fill(T::zero());
            let mut gx2 = gx2;
            if let Some(g) = gx2.as_deref_mut() {
                g.fill(T::zero());
            }
            for p in &self.paths.paths {
                self.backward_path(p, &x2[n * d2..(n + 1) * d2], s, gx2.as_deref_mut());
            }
            from_channel_last(self.irreps_in1(), &s.acc, T::one(), gx1);
        };
        match grad_x2 {
            Some(g2) => grad_x1
                .par_chunks_mut(d1)
                .zip(g2.par_chunks_mut(d2))
                .enumerate()
                .for_each_init(|| Scratch::new(self), |s, (n, (g1, g2))| one(s, n, g1, Some(g2))),
            None => grad_x1
                .par_chunks_mut(d1)
                .enumerate()
                .for_each_init(|| Scratch::new(self), |s, (n, g1)| one(s, n, g1, None)),
        }
        Ok(())
    }

    fn backward_path(&self, p: &Path, x2: &[T], s: &mut Scratch<T>, mut grad_x2: Option<&mut [T]>) {
        let (u_n, w_n) = (p.mul1, p.mul3);
        let weights = &self.weights[p.off_w..p.off_w + p.n_w];
        let g = &s.g_cl[p.off3..p.off3 + p.d3 * w_n];
        for v in 0..p.mul2 {
            let x2_v = &x2[p.off2 + v * p.d2..p.off2 + (v + 1) * p.d2];
            if grad_x2.is_none() && x2_v.iter().all(|&a| a == T::zero()) {
                continue;
            }
            contract(p, x2_v, &mut s.a);
            // gt[m3][u] = Σ_w W[u, v, w] g[m3][w]
            let gt = &mut s.t[..p.d3 * u_n];
            for (gt_m3, g_m3) in gt.chunks_exact_mut(u_n).zip(g.chunks_exact(w_n)) {
                for (u, gt) in gt_m3.iter_mut().enumerate() {
                    let row = (u * p.mul2 + v) * w_n;
                    *gt = dot(&weights[row..row + w_n], g_m3);
                }
            }
            let gx1 = &mut s.acc[p.off1..p.off1 + p.d1 * u_n];
            let x1 = &s.x_cl[p.off1..p.off1 + p.d1 * u_n];
            for (pair, &a) in p.pairs.iter().zip(&s.a) {
                let gt_m3 = &gt[pair.m3 * u_n..(pair.m3 + 1) * u_n];
                axpy(&mut gx1[pair.m1 * u_n..(pair.m1 + 1) * u_n], a, gt_m3);
                if let Some(gx2) = grad_x2.as_deref_mut() {
                    let b = dot(&x1[pair.m1 * u_n..(pair.m1 + 1) * u_n], gt_m3);
                    for &(m2, c) in &p.terms[pair.start..pair.end] {
                        gx2[p.off2 + v * p.d2 + m2] += T::of(c) * b;
                    }
                }
            }
        }
    }
}

/// e3nn's instructions: every (in1, in2, out) block triple the selection rules allow.
fn fully_connected(irreps_in1: &Irreps, irreps_in2: &Irreps, irreps_out: &Irreps) -> Vec<Instruction> {
    let mut instructions = Vec::new();
    for (i1, a) in irreps_in1.iter().enumerate() {
        for (i2, b) in irreps_in2.iter().enumerate() {
            for (i3, c) in irreps_out.iter().enumerate() {
                if a.ir.product(&b.ir).any(|ir| ir == c.ir) {
                    instructions.push(Instruction::new(i1, i2, i3, Connection::Uvw));
                }
            }
        }
    }
    instructions
}

/// A[pair] = Σ_m2 C[m1, m2, m3] x2[m2].
#[inline(always)]
fn contract<T: Real>(p: &Path, x2_v: &[T], a: &mut [T]) {
    for (a, pair) in a.iter_mut().zip(&p.pairs) {
        *a = p.terms[pair.start..pair.end].iter().map(|&(m2, c)| T::of(c) * x2_v[m2]).sum();
    }
}

struct Scratch<T> {
    x_cl: Vec<T>,
    g_cl: Vec<T>,
    acc: Vec<T>,
    t: Vec<T>,
    a: Vec<T>,
}

impl<T: Real> Scratch<T> {
    fn new(tp: &FullyConnectedTensorProduct<T>) -> Self {
        let (d1, d3) = (tp.irreps_in1().dim(), tp.irreps_out().dim());
        Scratch {
            x_cl: vec![T::zero(); d1],
            g_cl: vec![T::zero(); d3],
            acc: vec![T::zero(); d1.max(d3)],
            t: vec![T::zero(); tp.max_block],
            a: vec![T::zero(); tp.max_pairs],
        }
    }
}
