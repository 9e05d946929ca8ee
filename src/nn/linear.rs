//! e3nn's `o3.Linear`: each output block is a sum over instructions of the
//! input blocks of the same irrep mixed across multiplicities,
//! `y[w, m] = Σ_ins α_ins Σ_u W_ins[u, w] x[u, m]`, plus optional biases on
//! even scalars.

use super::gemm::{Block, Panel};
pub use super::tensor_product::PathNormalization;
use crate::so3::Irreps;
use crate::{invalid, Error, Real, Result};
use rayon::prelude::*;


/// The structure of an `o3.Linear` (no numbers): which input block feeds
/// which output block, with which path weight, and where the weights lie.
#[derive(Clone, Debug)]
pub struct LinearSpec {
    /// Input irreps.
    pub irreps_in: Irreps,
    /// Output irreps.
    pub irreps_out: Irreps,
    /// (i_in, i_out, path weight α), in e3nn's order, which is the order of
    /// the weight blocks (each mul_in × mul_out, row-major).
    pub instructions: Vec<(usize, usize, f64)>,
    /// Output blocks that carry a bias (even scalars only).
    pub biases: Vec<bool>,
}

impl LinearSpec {
    /// As `o3.Linear(irreps_in, irreps_out, instructions=..., biases=...,
    /// path_normalization=...)`. `instructions = None` connects every pair of
    /// equal irreps, input-major; `biases = true` gives a bias to every even
    /// scalar output block.
    pub fn new(
        irreps_in: &Irreps,
        irreps_out: &Irreps,
        instructions: Option<&[(usize, usize)]>,
        biases: bool,
        normalization: PathNormalization,
    ) -> Result<LinearSpec> {
        let pairs: Vec<(usize, usize)> = match instructions {
            Some(list) => list.to_vec(),
            None => (0..irreps_in.len())
                .flat_map(|i| (0..irreps_out.len()).map(move |o| (i, o)))
                .filter(|&(i, o)| irreps_in.0[i].ir == irreps_out.0[o].ir)
                .collect(),
        };
        for &(i, o) in &pairs {
            if i >= irreps_in.len() || o >= irreps_out.len() {
                return invalid!("linear instruction ({i}, {o}) is out of range for {irreps_in} -> {irreps_out}");
            }
            if irreps_in.0[i].ir != irreps_out.0[o].ir {
                return invalid!(
                    "linear instruction ({i}, {o}) connects {} to {}: irreps must be equal",
                    irreps_in.0[i].ir,
                    irreps_out.0[o].ir
                );
            }
        }
        let alpha = |i: usize, o: usize| {
            let fan_in: usize = pairs
                .iter()
                .filter(|p| p.1 == o)
                .map(|p| match normalization {
                    PathNormalization::Element => irreps_in.0[p.0].mul,
                    PathNormalization::Path => irreps_in.0[i].mul,
                    PathNormalization::None => 0,
                })
                .sum();
            if fan_in == 0 {
                1.0
            } else {
                (fan_in as f64).powf(-0.5)
            }
        };
        let instructions = pairs.iter().map(|&(i, o)| (i, o, alpha(i, o))).collect();
        let biases = irreps_out.iter().map(|m| biases && m.ir.l == 0 && m.ir.p == 1).collect();
        Ok(LinearSpec { irreps_in: irreps_in.clone(), irreps_out: irreps_out.clone(), instructions, biases })
    }

    /// Length of e3nn's flat `weight`.
    pub fn weight_numel(&self) -> usize {
        self.instructions.iter().map(|&(i, o, _)| self.irreps_in.0[i].mul * self.irreps_out.0[o].mul).sum()
    }

    /// Length of e3nn's flat `bias`.
    pub fn bias_numel(&self) -> usize {
        self.irreps_out.iter().zip(&self.biases).filter(|(_, &b)| b).map(|(m, _)| m.dim()).sum()
    }
}

/// An `o3.Linear` with its weights, ready to run on batches of rows.
#[derive(Clone, Debug)]
pub struct Linear<T> {
    spec: LinearSpec,
    dim_in: usize,
    dim_out: usize,
    /// One per output block: forward.
    forward: Vec<Block<T>>,
    /// One per input block: the transposed map, for the backward.
    backward: Vec<Block<T>>,
}

/// Rows per parallel task.
const ROWS_PER_TASK: usize = 16;

impl<T: Real> Linear<T> {
    /// Builds the layer from e3nn's flat `weight` and `bias` (float64).
    pub fn new(spec: &LinearSpec, weight: &[f64], bias: &[f64]) -> Result<Linear<T>> {
        if weight.len() != spec.weight_numel() || bias.len() != spec.bias_numel() {
            return Err(Error::LengthMismatch(format!(
                "linear {} -> {} takes {} weights and {} biases, got {} and {}",
                spec.irreps_in,
                spec.irreps_out,
                spec.weight_numel(),
                spec.bias_numel(),
                weight.len(),
                bias.len()
            )));
        }
        let (ins, outs) = (spec.irreps_in.slices(), spec.irreps_out.slices());
        // Start of each instruction's weights in the flat vector.
        let mut offsets = Vec::with_capacity(spec.instructions.len());
        let mut offset = 0;
        for &(i, o, _) in &spec.instructions {
            offsets.push(offset);
            offset += spec.irreps_in.0[i].mul * spec.irreps_out.0[o].mul;
        }
        let mut bias_at = 0;
        let forward = spec
            .irreps_out
            .iter()
            .enumerate()
            .map(|(o, m_out)| {
                let panels = spec
                    .instructions
                    .iter()
                    .zip(&offsets)
                    .filter(|((_, io, _), _)| *io == o)
                    .map(|(&(i, _, alpha), &off)| {
                        let (k, n) = (spec.irreps_in.0[i].mul, m_out.mul);
                        Panel::new(ins[i].start, k, n, alpha, |u, w| weight[off + u * n + w])
                    })
                    .collect();
                let bias = spec.biases[o].then(|| {
                    let b = bias[bias_at..bias_at + m_out.dim()].iter().map(|&v| T::of(v)).collect();
                    bias_at += m_out.dim();
                    b
                });
                Block { d: m_out.ir.dim(), n: m_out.mul, c_col0: outs[o].start, panels, bias }
            })
            .collect();
        let backward = spec
            .irreps_in
            .iter()
            .enumerate()
            .map(|(i, m_in)| {
                let panels = spec
                    .instructions
                    .iter()
                    .zip(&offsets)
                    .filter(|((ii, _, _), _)| *ii == i)
                    .map(|(&(_, o, alpha), &off)| {
                        let (k, n) = (spec.irreps_out.0[o].mul, m_in.mul);
                        // Bᵀ: row w (output multiplicity), column u.
                        Panel::new(outs[o].start, k, n, alpha, |w, u| weight[off + u * k + w])
                    })
                    .collect();
                Block { d: m_in.ir.dim(), n: m_in.mul, c_col0: ins[i].start, panels, bias: None }
            })
            .collect();
        Ok(Linear { spec: spec.clone(), dim_in: spec.irreps_in.dim(), dim_out: spec.irreps_out.dim(), forward, backward })
    }

    /// The structure this layer was built from.
    pub fn spec(&self) -> &LinearSpec {
        &self.spec
    }

    /// y = Linear(x) for `rows` rows (x: rows × dim_in, y: rows × dim_out).
    pub fn forward(&self, rows: usize, x: &[T], y: &mut [T]) -> Result<()> {
        apply(&self.forward, rows, x, self.dim_in, y, self.dim_out, "linear forward")
    }

    /// grad_x = grad_y · ∂y/∂x (the vector–Jacobian product; the layer is
    /// linear so x is not needed).
    pub fn backward(&self, rows: usize, grad_y: &[T], grad_x: &mut [T]) -> Result<()> {
        apply(&self.backward, rows, grad_y, self.dim_out, grad_x, self.dim_in, "linear backward")
    }
}

/// Runs every block over all rows, in parallel over chunks of rows.
fn apply<T: Real>(
    blocks: &[Block<T>],
    rows: usize,
    a: &[T],
    a_dim: usize,
    c: &mut [T],
    c_dim: usize,
    what: &str,
) -> Result<()> {
    if a.len() != rows * a_dim || c.len() != rows * c_dim {
        return Err(Error::LengthMismatch(format!(
            "{what}: {rows} rows need {} inputs and {} outputs, got {} and {}",
            rows * a_dim,
            rows * c_dim,
            a.len(),
            c.len()
        )));
    }
    if c_dim == 0 {
        return Ok(());
    }
    if a_dim == 0 {
        // Nothing feeds the outputs: only biases (or zeros).
        blocks.iter().for_each(|b| b.run(rows, &[], 0, c, c_dim));
        return Ok(());
    }
    c.par_chunks_mut(ROWS_PER_TASK * c_dim).zip(a.par_chunks(ROWS_PER_TASK * a_dim)).for_each(|(c, a)| {
        let n = c.len() / c_dim;
        blocks.iter().for_each(|b| b.run(n, a, a_dim, c, c_dim));
    });
    Ok(())
}
