//! A block's radial network w(r) = MLP(B(r)·f(r)), exact or read from a
//! float32 cubic Hermite table over r — one stage shared by SevenNet and MACE.
//!
//! With a table the convolution reads each edge's weights from it inside its
//! kernels (no n_edges × width buffer) and its backward keeps one value per
//! edge, ∂E/∂r = Σ_k ∂E/∂w_k · w_k'(r). Edges outside the table's domain take
//! the exact network. A table needs w to depend on r alone: a model whose
//! Bessel basis reads a species-dependent r' (MACE's distance transforms)
//! evaluates the exact network.

use super::edges::{EdgeFeatures, EdgeStage, Envelope};
use super::description::format_error;
use crate::backend::cpu::{zeros, Buf};
use crate::graph::AtomGraph;
use crate::nn::tensor_product_conv::{EdgeWeights, WeightRows};
use crate::nn::{dot, Activation, BesselBasis, FullyConnectedNet, HermiteTable};
use crate::{Error, Real, Result};
use rayon::prelude::*;

/// Knot spacing of the radial tables (Å): the cubic Hermite error bound
/// h⁴/384·max|w⁗| is then ~1e-12·max|w⁗| (see the tests of each model).
pub(super) const KNOT_SPACING: f64 = 0.005;
/// Tables start here (Å); shorter edges, which no sane structure has, take
/// the exact network. Up to SHORT_RANGE the networks vary fastest: knots
/// there are 4× denser.
pub(super) const TABLE_START: f64 = 0.25;
const SHORT_RANGE: f64 = 1.0;
/// Values the float32 radial tables of all blocks of a model may hold
/// together (1 GiB): SevenNet-l3i5 needs 3.4·10⁷ at its 5 Å cutoff.
const MAX_TABLE_VALUES: usize = 1 << 28;

/// Whether precision T builds radial tables at load (RadialMode::Exact
/// evaluates the exact networks even so).
pub(super) fn tabulate_radial<T: Real>() -> bool {
    TABULATE_F64 || std::mem::size_of::<T>() == 4
}
const TABULATE_F64: bool = false;

/// Break points and knot spacings of the radial tables: a knot where the
/// envelope is only C¹.
pub(super) fn table_pieces(cutoff: f64, envelope: &Envelope<f64>) -> (Vec<f64>, Vec<f64>) {
    let mut breaks = vec![TABLE_START.min(cutoff / 4.0), SHORT_RANGE.min(cutoff / 2.0)];
    let mut spacings = vec![KNOT_SPACING / 4.0];
    if let Some(r) = envelope.break_point().filter(|&r| r > breaks[1] && r < cutoff) {
        breaks.push(r);
        spacings.push(KNOT_SPACING);
    }
    breaks.push(cutoff);
    spacings.push(KNOT_SPACING);
    (breaks, spacings)
}

/// Times `Radial::new` may halve the knot spacing to meet the error targets.
const MAX_REFINEMENTS: u32 = 2;
/// Error targets of a table at its probe points, relative to the largest
/// |w| and |w'| there: half the bounds the tests assert at random points.
const TARGET_W: f64 = 5e-7;
const TARGET_DW: f64 = 5e-6;

/// Whether `table` meets TARGET_W and TARGET_DW at three points inside each
/// interval (s = 0.21, 0.5, 0.79: near where the errors of w and w' peak),
/// each rounded to T so that the exact network is evaluated where the table is.
fn table_fits<T: Real>(
    table: &HermiteTable<T>,
    breaks: &[f64],
    spacings: &[f64],
    src: &TableSource,
    exact: &FullyConnectedNet<f64>,
) -> Result<bool> {
    let mut probes = Vec::new();
    for (b, &h) in breaks.windows(2).zip(spacings) {
        let n = ((b[1] - b[0]) / h).ceil().max(1.0) as usize;
        let h = (b[1] - b[0]) / n as f64;
        for k in 0..n {
            probes.extend([0.21, 0.5, 0.79].map(|s| T::of(b[0] + (k as f64 + s) * h)));
        }
    }
    let r: Vec<f64> = probes.iter().map(|r| r.f64()).collect();
    let (w, dw) = radial_exact(&src.basis, &src.envelope, exact, &r)?;
    let nw = table.width();
    let scale = |v: &[f64]| v.iter().fold(0f64, |m, x| m.max(x.abs()));
    let (w_max, dw_max) = (scale(&w), scale(&dw));
    let (mut y, mut dy) = (vec![T::zero(); nw], vec![T::zero(); nw]);
    let (mut err, mut derr) = (0f64, 0f64);
    for (p, &r) in probes.iter().enumerate() {
        if !table.value_and_derivative(r, &mut y, &mut dy) {
            return Ok(false);
        }
        for k in 0..nw {
            err = err.max((y[k].f64() - w[p * nw + k]).abs());
            derr = derr.max((dy[k].f64() - dw[p * nw + k]).abs());
        }
    }
    Ok(err <= TARGET_W * w_max && derr <= TARGET_DW * dw_max)
}

/// Number of intervals `HermiteTable::new` makes of these pieces.
fn table_intervals(breaks: &[f64], spacings: &[f64]) -> usize {
    breaks.windows(2).zip(spacings).map(|(b, &h)| ((b[1] - b[0]) / h).ceil().max(1.0) as usize).sum()
}

/// w(r) and dw/dr (r.len() × width each) of a radial network on the edge
/// embedding B(r)·f(r), exactly (forward-mode derivative).
pub(super) fn radial_exact<U: Real>(
    basis: &BesselBasis<U>,
    envelope: &Envelope<U>,
    net: &FullyConnectedNet<U>,
    r: &[U],
) -> Result<(Vec<U>, Vec<U>)> {
    let (m, nb) = (r.len(), basis.len());
    let mut b = vec![U::zero(); m * nb];
    basis.forward(r, &mut b)?;
    // dB_k/dr, one basis function at a time through the basis' backward.
    let (mut db, mut one_hot, mut column) = (vec![U::zero(); m * nb], vec![U::zero(); m * nb], vec![U::zero(); m]);
    for k in 0..nb {
        one_hot.iter_mut().enumerate().for_each(|(i, g)| *g = if i % nb == k { U::one() } else { U::zero() });
        basis.backward(r, &one_hot, &mut column)?;
        column.iter().enumerate().for_each(|(e, &d)| db[e * nb + k] = d);
    }
    let (mut x, mut dx) = (b.clone(), db);
    for (e, &r) in r.iter().enumerate() {
        let (f, df) = (envelope.value(r), envelope.derivative(r));
        for k in e * nb..(e + 1) * nb {
            dx[k] = dx[k] * f + b[k] * df;
            x[k] = b[k] * f;
        }
    }
    let width = net.hs()[net.hs().len() - 1];
    let (mut w, mut dw) = (vec![U::zero(); m * width], vec![U::zero(); m * width]);
    net.forward_tangent(m, &x, &dx, &mut w, &mut dw)?;
    Ok((w, dw))
}

/// The float64 pieces a table is computed from: the edge embedding of the
/// model, its cutoff, and the tables' value budget shared by its blocks.
pub(super) struct TableSource {
    pub basis: BesselBasis<f64>,
    pub envelope: Envelope<f64>,
    pub cutoff: f64,
    /// Values the tables built so far hold.
    pub values: usize,
}

/// One block's radial network, and its table when the precision has one.
pub(super) struct Radial<T> {
    pub net: FullyConnectedNet<T>,
    pub table: Option<HermiteTable<T>>,
}

impl<T: Real> Radial<T> {
    /// The network of widths `hs` (activation between layers, no biases) and,
    /// with `source`, its table over (TABLE_START, cutoff): knots KNOT_SPACING
    /// apart (4× denser below SHORT_RANGE), halved up to twice until the
    /// table meets its error targets at probe points between the knots
    /// (`table_fits`): a sharper network gets a finer table, not a worse one.
    pub fn new(hs: &[usize], act: Activation, weights: &[&[f64]], source: Option<&mut TableSource>) -> Result<Self> {
        let net = FullyConnectedNet::new(hs, Some(act), weights, 1.0, 1.0, false)?;
        let Some(src) = source else {
            return Ok(Radial { net, table: None });
        };
        let width = hs[hs.len() - 1];
        let exact = FullyConnectedNet::<f64>::new(hs, Some(act), weights, 1.0, 1.0, false)?;
        let (breaks, coarse) = table_pieces(src.cutoff, &src.envelope);
        for refinement in 0..=MAX_REFINEMENTS {
            let spacings: Vec<f64> = coarse.iter().map(|h| h / f64::from(1u32 << refinement)).collect();
            let values = src.values.saturating_add(table_intervals(&breaks, &spacings).saturating_mul(4 * width));
            if values > MAX_TABLE_VALUES {
                return Err(format_error(format!(
                    "the radial tables would hold {values} values (more than {MAX_TABLE_VALUES}): the cutoff {} Å and \
                     the convolution widths are too large together",
                    src.cutoff
                )));
            }
            let table = HermiteTable::new(&breaks, &spacings, width, |r| radial_exact(&src.basis, &src.envelope, &exact, r))?;
            if refinement == MAX_REFINEMENTS || table_fits(&table, &breaks, &spacings, src, &exact)? {
                src.values = values;
                return Ok(Radial { net, table: Some(table) });
            }
        }
        unreachable!("the last refinement returns")
    }

    /// Values per edge of the exact network's tape.
    pub fn tape_len(&self) -> usize {
        self.net.tape_len()
    }

    /// The weights for the convolution: read from the table edge by edge
    /// inside the kernels, or (exact network) computed into `w`, with what
    /// the backward needs in `tape` when given.
    pub fn weights<'a>(
        &'a self,
        stage: &EdgeStage<T>,
        edges: &'a Edges<T>,
        w: &'a mut Buf<T>,
        tape: Option<&mut Buf<T>>,
    ) -> Result<Box<dyn EdgeWeights<T> + 'a>> {
        let nw = self.net.hs()[self.net.hs().len() - 1];
        let Some(table) = edges.table(self) else {
            w.reset(edges.r.len() * nw)?;
            let tape = match tape {
                Some(t) => {
                    t.reset(edges.r.len() * self.net.tape_len())?;
                    Some(t.as_mut_slice())
                }
                None => None,
            };
            self.net.forward(edges.r.len(), &edges.embedding, w, tape)?;
            return Ok(Box::new(WeightRows { rows: w.as_slice(), width: nw }));
        };
        // Edges outside the table's domain: exact rows, computed here.
        let r: Vec<T> = edges.untabulated.iter().map(|&e| edges.r[e]).collect();
        let (exact_w, exact_dw) =
            if r.is_empty() { (Vec::new(), Vec::new()) } else { radial_exact(&stage.basis, &stage.envelope, &self.net, &r)? };
        Ok(Box::new(TableWeights { table, r: &edges.r, untabulated: &edges.untabulated, exact_w, exact_dw }))
    }

    /// Adds this block's share of ∂E/∂r (tables: `grad_weights` is it, one
    /// per edge) or of ∂E/∂embedding (exact network: `grad_weights` is
    /// ∂E/∂w, taken through the network's backward with its tape).
    pub fn backward(&self, edges: &Edges<T>, tape: &[T], grad_weights: &[T], grad_r: &mut [T], grad_embedding: &mut [T]) -> Result<()> {
        if edges.table(self).is_some() {
            grad_r.par_iter_mut().zip(grad_weights).for_each(|(a, b)| *a += *b);
        } else {
            let mut g = zeros(grad_embedding.len())?;
            self.net.backward(edges.r.len(), tape, grad_weights, &mut g)?;
            grad_embedding.par_iter_mut().zip(&g).for_each(|(a, b)| *a += *b);
        }
        Ok(())
    }
}

/// The shared edge features, and the edges outside the radial tables'
/// domain (exact networks for them).
pub(super) struct Edges<T> {
    features: EdgeFeatures<T>,
    pub untabulated: Vec<usize>,
    /// This evaluation reads the radial tables (where the blocks have them).
    tables: bool,
}

impl<T: Real> Edges<T> {
    /// The edge stage's features; the embedding B(r)·f(r) only when
    /// `embedding` or some network is evaluated exactly.
    pub fn new<'r>(
        stage: &EdgeStage<T>,
        radials: impl Iterator<Item = &'r Radial<T>> + Clone,
        graph: &AtomGraph,
        types: &[usize],
        tables: bool,
        embedding: bool,
    ) -> Result<Self> {
        let exact = !tables || radials.clone().any(|b| b.table.is_none());
        let features = stage.forward(graph, types, embedding || exact)?;
        let r = &features.r;
        let domain = radials.filter_map(|b| b.table.as_ref().filter(|_| tables).map(|t| t.domain())).next();
        let untabulated = match domain {
            Some((lo, hi)) => (0..r.len()).filter(|&e| !(r[e].f64() >= lo && r[e].f64() <= hi)).collect(),
            None => Vec::new(),
        };
        Ok(Edges { features, untabulated, tables })
    }

    /// A block's table, if this evaluation reads it.
    pub fn table<'a>(&self, radial: &'a Radial<T>) -> Option<&'a HermiteTable<T>> {
        radial.table.as_ref().filter(|_| self.tables)
    }
}

impl<T> std::ops::Deref for Edges<T> {
    type Target = EdgeFeatures<T>;
    fn deref(&self) -> &EdgeFeatures<T> {
        &self.features
    }
}

/// A block's radial weights from its table, edge by edge; the backward keeps
/// one value per edge, ∂E/∂r = Σ_k ∂E/∂w_k · w_k'(r).
struct TableWeights<'a, T> {
    table: &'a HermiteTable<T>,
    r: &'a [T],
    /// The edges outside the table's domain (increasing), and their exact
    /// w and w' rows.
    untabulated: &'a [usize],
    exact_w: Vec<T>,
    exact_dw: Vec<T>,
}

impl<T: Real> TableWeights<'_, T> {
    /// Edge e's exact row of `rows` (e must be untabulated).
    fn exact<'b>(&self, e: usize, rows: &'b [T]) -> &'b [T] {
        let nw = self.table.width();
        let k = self.untabulated.binary_search(&e).expect("edges outside the table are listed as untabulated");
        &rows[k * nw..(k + 1) * nw]
    }
}

impl<T: Real> EdgeWeights<T> for TableWeights<'_, T> {
    fn check(&self, n_edges: usize, weight_numel: usize) -> Result<()> {
        if self.r.len() != n_edges || self.table.width() != weight_numel {
            return Err(Error::LengthMismatch(format!(
                "radial table: {} edges of {} weights, the convolution has {n_edges} of {weight_numel}",
                self.r.len(),
                self.table.width()
            )));
        }
        Ok(())
    }
    /// Scratch: w, then (backward) w'.
    fn scratch_len(&self) -> usize {
        2 * self.table.width()
    }
    fn weights<'b>(&'b self, e: usize, scratch: &'b mut [T], backward: bool) -> &'b [T] {
        let (w, dw) = scratch.split_at_mut(self.table.width());
        let tabulated =
            if backward { self.table.value_and_derivative(self.r[e], w, dw) } else { self.table.value(self.r[e], w) };
        if tabulated {
            w
        } else {
            self.exact(e, &self.exact_w)
        }
    }
    fn gradient_width(&self) -> usize {
        1
    }
    fn gradient(&self, e: usize, grad_w: &[T], scratch: &[T], out: &mut [T]) {
        let dw = match self.untabulated.binary_search(&e) {
            Ok(k) => &self.exact_dw[k * self.table.width()..(k + 1) * self.table.width()],
            Err(_) => &scratch[self.table.width()..],
        };
        out[0] = dot(dw, grad_w);
    }
}

/// The worst errors of a float32 table and of the float64 interpolation
/// against the exact network, on random lengths over (TABLE_START, cutoff)
/// and the first knots' midpoints; asserts the bounds each model's test
/// documents (relative to max|w|, max|w'|). Returns a line to print.
#[cfg(test)]
pub(super) fn check_table(
    basis: &BesselBasis<f64>,
    envelope: &Envelope<f64>,
    cutoff: f64,
    exact: &FullyConnectedNet<f64>,
    table32: &HermiteTable<f32>,
) -> String {
    let mut seed = 0x9e3779b97f4a7c15u64;
    let mut uniform = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed >> 11) as f64 / (1u64 << 53) as f64
    };
    let (lo, hi) = (TABLE_START, cutoff);
    let mut r: Vec<f64> = (0..2000).map(|_| lo + (hi - lo) * uniform()).collect();
    r.extend((0..200).map(|k| lo + (k as f64 + 0.5) * KNOT_SPACING));
    let (w, dw) = radial_exact(basis, envelope, exact, &r).unwrap();
    let nw = table32.width();
    let scale = |v: &[f64]| v.iter().fold(0f64, |m, x| m.max(x.abs()));
    let (w_max, dw_max) = (scale(&w), scale(&dw));
    // the float64 interpolation at the spacing the model's table was refined to
    let (breaks, coarse) = table_pieces(hi, envelope);
    let spacings = (0..=MAX_REFINEMENTS)
        .map(|k| coarse.iter().map(|h| h / f64::from(1u32 << k)).collect::<Vec<f64>>())
        .find(|sp| table_intervals(&breaks, sp) == table32.n_intervals())
        .expect("the table's spacing is a refinement of the pieces'");
    let table64 = HermiteTable::<f64>::new(&breaks, &spacings, nw, |r| radial_exact(basis, envelope, exact, r)).unwrap();
    let (mut err64, mut derr64, mut err32, mut derr32, mut r_worst) = (0f64, 0f64, 0f64, 0f64, 0f64);
    let (mut y64, mut d64) = (vec![0f64; nw], vec![0f64; nw]);
    let (mut y32, mut d32) = (vec![0f32; nw], vec![0f32; nw]);
    for (e, &r) in r.iter().enumerate() {
        assert!(table64.value(r, &mut y64) && table64.derivative(r, &mut d64));
        assert!(table32.value(r as f32, &mut y32) && table32.derivative(r as f32, &mut d32));
        for k in 0..nw {
            let (we, de) = (w[e * nw + k], dw[e * nw + k]);
            err64 = err64.max((y64[k] - we).abs());
            if (d64[k] - de).abs() > derr64 {
                (derr64, r_worst) = ((d64[k] - de).abs(), r);
            }
            // The float32 table is read at r rounded to float32.
            let r32 = (r as f32) as f64 - r;
            err32 = err32.max((y32[k] as f64 - (we + de * r32)).abs());
            derr32 = derr32.max((d32[k] as f64 - de).abs());
        }
    }
    let line = format!(
        "{} intervals × {nw}; max|w| {w_max:.2}, max|w'| {dw_max:.2}; float64 table: |Δw| {err64:.1e}, |Δw'| {derr64:.1e}; \
         float32 table: |Δw| {err32:.1e}, |Δw'| {derr32:.1e}; worst w' at r = {r_worst:.3} Å",
        table32.n_intervals()
    );
    assert!(err64 <= 1e-7 * w_max && derr64 <= 1e-5 * dw_max, "float64 interpolation error above the bound: {line}");
    assert!(err32 <= 1e-6 * w_max && derr32 <= 1e-5 * dw_max, "float32 table error above the bound: {line}");
    line
}
