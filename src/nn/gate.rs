//! e3nn's `nn.Gate`: scalars go through their activations; every gated irrep
//! copy is multiplied by its own activated gate scalar.
//!
//! Input layout (e3nn's `_Sortcut`): the blocks of scalars, gates and gated
//! are concatenated and stably sorted by irrep, so odd scalars come first and
//! scalars and gates may interleave. Output: the activated scalars in their
//! given order, then the gated irreps in theirs.

use super::activation::{Activation, ScaledActivation};
use crate::so3::{Irrep, Irreps, MulIr};
use crate::{invalid, Error, Real, Result};
use rayon::prelude::*;

/// A run of scalars sharing one activation (or none: identity).
#[derive(Clone, Debug)]
struct Scalars<T> {
    src: usize,
    dst: usize,
    len: usize,
    act: Option<ScaledActivation<T>>,
}

/// One gated irrep copy and the gate scalar that multiplies it.
#[derive(Clone, Debug)]
struct Gated<T> {
    src: usize,
    dst: usize,
    dim: usize,
    gate: usize,
    act: Option<ScaledActivation<T>>,
}

/// An `nn.Gate`.
#[derive(Clone, Debug)]
pub struct Gate<T> {
    irreps_in: Irreps,
    irreps_out: Irreps,
    scalars: Vec<Scalars<T>>,
    gated: Vec<Gated<T>>,
}

/// Rows per parallel task.
const ROWS_PER_TASK: usize = 8;

impl<T: Real> Gate<T> {
    /// As `Gate(irreps_scalars, act_scalars, irreps_gates, act_gates,
    /// irreps_gated)`: one activation (or `None`) per block of scalars and of
    /// gates, normalized as e3nn normalizes them.
    pub fn new(
        irreps_scalars: &Irreps,
        act_scalars: &[Option<Activation>],
        irreps_gates: &Irreps,
        act_gates: &[Option<Activation>],
        irreps_gated: &Irreps,
    ) -> Result<Gate<T>> {
        if irreps_scalars.iter().chain(irreps_gates.iter()).any(|m| m.ir.l != 0) {
            return invalid!("gate: scalars ({irreps_scalars}) and gates ({irreps_gates}) must be scalars");
        }
        if irreps_gates.num_irreps() != irreps_gated.num_irreps() {
            return invalid!(
                "gate: {} gated irreps in {irreps_gated} but {} gates in {irreps_gates}",
                irreps_gated.num_irreps(),
                irreps_gates.num_irreps()
            );
        }
        let out_scalars = activated_irreps(irreps_scalars, act_scalars, "scalars")?;
        let out_gates = activated_irreps(irreps_gates, act_gates, "gates")?;

        // Input offsets: blocks of the three groups, stably sorted by irrep.
        let groups = [irreps_scalars, irreps_gates, irreps_gated];
        let mut blocks: Vec<(usize, usize, MulIr)> = groups
            .iter()
            .enumerate()
            .flat_map(|(g, irreps)| irreps.iter().enumerate().map(move |(b, m)| (g, b, *m)))
            .collect();
        blocks.sort_by_key(|&(_, _, m)| m.ir);
        let mut starts = [Vec::new(), Vec::new(), Vec::new()];
        (0..3).for_each(|g| starts[g] = vec![0; groups[g].len()]);
        let mut offset = 0;
        for &(g, b, m) in &blocks {
            starts[g][b] = offset;
            offset += m.dim();
        }
        let irreps_in = Irreps(blocks.iter().map(|b| b.2).collect()).simplify();

        let normalized = |a: &Option<Activation>| a.map(|a| ScaledActivation::normalized(a, 1.0));
        let mut dst = 0;
        let scalars = irreps_scalars
            .iter()
            .zip(act_scalars)
            .zip(&starts[0])
            .map(|((m, act), &src)| {
                dst += m.mul;
                Scalars { src, dst: dst - m.mul, len: m.mul, act: normalized(act) }
            })
            .collect();
        // Gate scalar k (in the order of irreps_gates) and its activation.
        let gates: Vec<(usize, Option<ScaledActivation<T>>)> = irreps_gates
            .iter()
            .zip(act_gates)
            .zip(&starts[1])
            .flat_map(|((m, act), &src)| (0..m.mul).map(move |u| (src + u, normalized(act))))
            .collect();
        let copies = irreps_gated
            .iter()
            .zip(&starts[2])
            .flat_map(|(m, &src)| (0..m.mul).map(move |u| (src + u * m.ir.dim(), m.ir.dim())));
        let gated = copies
            .zip(gates)
            .map(|((src, dim), (gate, act))| {
                dst += dim;
                Gated { src, dst: dst - dim, dim, gate, act }
            })
            .collect();

        let mut irreps_out = out_scalars;
        irreps_out.0.extend(elementwise_product(irreps_gated, &out_gates).0);
        Ok(Gate { irreps_in, irreps_out, scalars, gated })
    }

    /// Input irreps, in the sorted layout the input must have.
    pub fn irreps_in(&self) -> &Irreps {
        &self.irreps_in
    }

    /// Output irreps: activated scalars then gated irreps (with the gates'
    /// parity).
    pub fn irreps_out(&self) -> &Irreps {
        &self.irreps_out
    }

    /// y = Gate(x) for `rows` rows.
    pub fn forward(&self, rows: usize, x: &[T], y: &mut [T]) -> Result<()> {
        let (di, dout) = self.check(rows, x.len(), y.len(), "forward")?;
        if dout == 0 {
            return Ok(());
        }
        y.par_chunks_mut(ROWS_PER_TASK * dout).zip(x.par_chunks(ROWS_PER_TASK * di.max(1))).for_each(|(y, x)| {
            for (y, x) in y.chunks_exact_mut(dout).zip(x.chunks_exact(di)) {
                for s in &self.scalars {
                    let (x, y) = (&x[s.src..s.src + s.len], &mut y[s.dst..s.dst + s.len]);
                    match &s.act {
                        Some(f) => y.iter_mut().zip(x).for_each(|(y, &x)| *y = f.value(x)),
                        None => y.copy_from_slice(x),
                    }
                }
                for g in &self.gated {
                    let gate = g.act.as_ref().map_or(x[g.gate], |f| f.value(x[g.gate]));
                    y[g.dst..g.dst + g.dim].iter_mut().zip(&x[g.src..g.src + g.dim]).for_each(|(y, &x)| *y = gate * x);
                }
            }
        });
        Ok(())
    }

    /// grad_x = grad_y · ∂y/∂x at x.
    pub fn backward(&self, rows: usize, x: &[T], grad_y: &[T], grad_x: &mut [T]) -> Result<()> {
        let (di, dout) = self.check(rows, x.len(), grad_y.len(), "backward")?;
        if grad_x.len() != x.len() {
            return Err(Error::LengthMismatch(format!(
                "gate backward: grad_x has {} elements, x has {}",
                grad_x.len(),
                x.len()
            )));
        }
        if di == 0 {
            return Ok(());
        }
        let chunks = grad_x.par_chunks_mut(ROWS_PER_TASK * di).zip(x.par_chunks(ROWS_PER_TASK * di));
        chunks.zip(grad_y.par_chunks(ROWS_PER_TASK * dout)).for_each(|((gx, x), gy)| {
            for ((gx, x), gy) in gx.chunks_exact_mut(di).zip(x.chunks_exact(di)).zip(gy.chunks_exact(dout)) {
                for s in &self.scalars {
                    let (x, gy) = (&x[s.src..s.src + s.len], &gy[s.dst..s.dst + s.len]);
                    let gx = &mut gx[s.src..s.src + s.len];
                    match &s.act {
                        Some(f) => gx.iter_mut().zip(x).zip(gy).for_each(|((gx, &x), &gy)| *gx = gy * f.derivative(x)),
                        None => gx.copy_from_slice(gy),
                    }
                }
                for g in &self.gated {
                    let (gate, dgate) = match &g.act {
                        Some(f) => (f.value(x[g.gate]), f.derivative(x[g.gate])),
                        None => (x[g.gate], T::one()),
                    };
                    let (xs, gys) = (&x[g.src..g.src + g.dim], &gy[g.dst..g.dst + g.dim]);
                    let dot: T = xs.iter().zip(gys).map(|(&x, &gy)| x * gy).sum();
                    gx[g.gate] = dgate * dot;
                    gx[g.src..g.src + g.dim].iter_mut().zip(gys).for_each(|(gx, &gy)| *gx = gate * gy);
                }
            }
        });
        Ok(())
    }

    fn check(&self, rows: usize, nx: usize, ny: usize, what: &str) -> Result<(usize, usize)> {
        let (di, dout) = (self.irreps_in.dim(), self.irreps_out.dim());
        if nx != rows * di || ny != rows * dout {
            return Err(Error::LengthMismatch(format!(
                "gate {what}: {rows} rows of {} -> {} need {} and {} elements, got {nx} and {ny}",
                self.irreps_in,
                self.irreps_out,
                rows * di,
                rows * dout
            )));
        }
        Ok((di, dout))
    }
}

/// Output irreps of e3nn's `Activation(irreps, acts)`, checking its rules.
fn activated_irreps(irreps: &Irreps, acts: &[Option<Activation>], what: &str) -> Result<Irreps> {
    if irreps.len() != acts.len() {
        return invalid!("gate: {} blocks of {what} ({irreps}) but {} activations", irreps.len(), acts.len());
    }
    let mut out = Vec::with_capacity(irreps.len());
    for (m, act) in irreps.iter().zip(acts) {
        let p = match act {
            None => m.ir.p,
            Some(_) if m.ir.p == 1 => 1,
            Some(a) if a.parity() != 0 => a.parity(),
            Some(a) => return invalid!("gate: {a:?} is neither even nor odd, so it cannot act on odd {what} ({m:?})"),
        };
        out.push(MulIr { mul: m.mul, ir: Irrep::new(m.ir.l, p) });
    }
    Ok(Irreps(out))
}

/// Output irreps of e3nn's `ElementwiseTensorProduct(gated, gates)` for scalar
/// gates: both sides simplified, blocks split until multiplicities pair up.
fn elementwise_product(gated: &Irreps, gates: &Irreps) -> Irreps {
    let mut a = gated.simplify().0;
    let mut b = gates.simplify().0;
    let mut i = 0;
    while i < a.len() && i < b.len() {
        let (ma, mb) = (a[i].mul, b[i].mul);
        if ma < mb {
            b[i].mul = ma;
            b.insert(i + 1, MulIr { mul: mb - ma, ir: b[i].ir });
        } else if mb < ma {
            a[i].mul = mb;
            a.insert(i + 1, MulIr { mul: ma - mb, ir: a[i].ir });
        }
        i += 1;
    }
    Irreps(a.iter().zip(&b).map(|(x, g)| MulIr { mul: x.mul, ir: Irrep::new(x.ir.l, x.ir.p * g.ir.p) }).collect())
}
