//! A block's radial network w(r) = MLP(B(r)·f(r)), exact or read from a
//! float32 cubic Hermite table over r — one stage shared by SevenNet and MACE.
//!
//! With a table the convolution reads each edge's weights from it inside its
//! kernels (no n_edges × width buffer) and its backward keeps one value per
//! edge, ∂E/∂r = Σ_k ∂E/∂w_k · w_k'(r). Edges outside the table's domain take
//! the exact network. Where the Bessel basis reads a species-dependent r'
//! (MACE's distance transforms: Agnesi, Soft), w depends on r and the pair
//! of species, through r0 = R_u + R_v alone: one table per unordered pair of
//! types, built the first time a graph has that pair, within the same value
//! budget as all other tables (a pair past it takes the exact network).

use super::edges::{DistanceTransform, EdgeFeatures, EdgeStage, Envelope};
use super::description::format_error;
use crate::backend::cpu::{zeros, Buf};
use crate::graph::AtomGraph;
use crate::nn::tensor_product_conv::{EdgeWeights, WeightRows};
use crate::nn::{dot, Activation, BesselBasis, FullyConnectedNet, HermiteTable};
use crate::{Error, Real, Result};
use rayon::prelude::*;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

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

/// w(r) and w'(r) (points × width each) of the exact float64 network a
/// table interpolates.
pub(super) type Exact<'a> = dyn Fn(&[f64]) -> Result<(Vec<f64>, Vec<f64>)> + Sync + 'a;

/// Whether `table` meets TARGET_W and TARGET_DW at three points inside each
/// interval (s = 0.21, 0.5, 0.79: near where the errors of w and w' peak),
/// each rounded to T so that the exact network is evaluated where the table is.
fn table_fits<T: Real>(table: &HermiteTable<T>, breaks: &[f64], spacings: &[f64], exact: &Exact) -> Result<bool> {
    let mut probes = Vec::new();
    for (b, &h) in breaks.windows(2).zip(spacings) {
        let n = ((b[1] - b[0]) / h).ceil().max(1.0) as usize;
        let h = (b[1] - b[0]) / n as f64;
        for k in 0..n {
            probes.extend([0.21, 0.5, 0.79].map(|s| T::of(b[0] + (k as f64 + s) * h)));
        }
    }
    let r: Vec<f64> = probes.iter().map(|r| r.f64()).collect();
    let (w, dw) = exact(&r)?;
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
/// embedding B(r')·f(r), exactly (forward-mode derivative). `transformed`:
/// the basis' argument r' and dr'/dr per point (a distance transform), or
/// None (r' = r).
pub(super) fn radial_exact<U: Real>(
    basis: &BesselBasis<U>,
    envelope: &Envelope<U>,
    net: &FullyConnectedNet<U>,
    r: &[U],
    transformed: Option<(&[U], &[U])>,
) -> Result<(Vec<U>, Vec<U>)> {
    let (m, nb) = (r.len(), basis.len());
    let r_basis = transformed.map_or(r, |(rb, _)| rb);
    let mut b = vec![U::zero(); m * nb];
    basis.forward(r_basis, &mut b)?;
    // dB_k/dr, one basis function at a time through the basis' backward.
    let (mut db, mut one_hot, mut column) = (vec![U::zero(); m * nb], vec![U::zero(); m * nb], vec![U::zero(); m]);
    for k in 0..nb {
        one_hot.iter_mut().enumerate().for_each(|(i, g)| *g = if i % nb == k { U::one() } else { U::zero() });
        basis.backward(r_basis, &one_hot, &mut column)?;
        let chain = |e: usize| transformed.map_or(U::one(), |(_, d)| d[e]);
        column.iter().enumerate().for_each(|(e, &d)| db[e * nb + k] = d * chain(e));
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
/// model, its cutoff, its distance transform, and the tables' value budget
/// shared by its blocks (and by the per-pair tables they build later).
pub(super) struct TableSource {
    pub basis: BesselBasis<f64>,
    pub envelope: Envelope<f64>,
    pub cutoff: f64,
    /// With a transform the tables are per pair of types.
    pub transform: Option<DistanceTransform<f64>>,
    /// Values the tables built so far hold.
    pub values: AtomicUsize,
}

impl TableSource {
    /// The tables' domain (TABLE_START.., cutoff): shorter edges take the exact network.
    fn domain(&self) -> (f64, f64) {
        let (breaks, _) = table_pieces(self.cutoff, &self.envelope);
        (breaks[0], breaks[breaks.len() - 1])
    }

    /// A table of `exact` (width values per point) over the pieces, its knot
    /// spacing halved up to MAX_REFINEMENTS times until it meets its error
    /// targets at probe points between the knots (`table_fits`): a sharper
    /// network gets a finer table, not a worse one. None when the budget
    /// cannot hold it.
    fn tabulate<T: Real>(&self, width: usize, exact: &Exact) -> Result<Option<HermiteTable<T>>> {
        let (breaks, coarse) = table_pieces(self.cutoff, &self.envelope);
        for refinement in 0..=MAX_REFINEMENTS {
            let spacings: Vec<f64> = coarse.iter().map(|h| h / f64::from(1u32 << refinement)).collect();
            let values = table_intervals(&breaks, &spacings).saturating_mul(4 * width);
            if self.values.load(Ordering::Relaxed).saturating_add(values) > MAX_TABLE_VALUES {
                return Ok(None);
            }
            let table = HermiteTable::new(&breaks, &spacings, width, exact)?;
            if refinement == MAX_REFINEMENTS || table_fits(&table, &breaks, &spacings, exact)? {
                let reserve = |held: usize| held.checked_add(values).filter(|&v| v <= MAX_TABLE_VALUES);
                let reserved = self.values.fetch_update(Ordering::Relaxed, Ordering::Relaxed, reserve).is_ok();
                return Ok(reserved.then_some(table));
            }
        }
        unreachable!("the last refinement returns")
    }

    /// The exact function of one network between types u and v (u, v unused
    /// without a transform).
    fn exact_fn<'a>(&'a self, net: &'a FullyConnectedNet<f64>, pair: (usize, usize)) -> impl Fn(&[f64]) -> Result<(Vec<f64>, Vec<f64>)> + Sync + 'a {
        move |r: &[f64]| match &self.transform {
            None => radial_exact(&self.basis, &self.envelope, net, r, None),
            Some(t) => {
                let (rb, drb): (Vec<f64>, Vec<f64>) = r.iter().map(|&r| t.apply(pair.0, pair.1, r)).unzip();
                radial_exact(&self.basis, &self.envelope, net, r, Some((&rb, &drb)))
            }
        }
    }
}

/// Unordered pairs of n types, (u, v) with u ≤ v, as one index.
fn pair_key(u: usize, v: usize) -> usize {
    let (lo, hi) = if u <= v { (u, v) } else { (v, u) };
    hi * (hi + 1) / 2 + lo
}

/// A block's radial network, and its tables when the precision has them.
pub(super) struct Radial<T> {
    pub net: FullyConnectedNet<T>,
    pub tables: Tables<T>,
}

/// A block's radial tables.
pub(super) enum Tables<T> {
    /// Exact network only.
    None,
    /// w depends on r alone.
    One(HermiteTable<T>),
    /// w depends on the pair of types too (a distance transform).
    PerPair(PairTables<T>),
}

/// One table per unordered pair of types, each built the first time a graph
/// has the pair.
pub(super) struct PairTables<T> {
    src: Arc<TableSource>,
    exact: FullyConnectedNet<f64>,
    width: usize,
    /// By `pair_key`: unset until needed, then the pair's table, or None for
    /// good when the value budget could not hold it.
    cells: Vec<OnceLock<Option<HermiteTable<T>>>>,
}

impl<T: Real> PairTables<T> {
    /// Builds the missing tables of these pairs (in parallel); true when every one has a table.
    fn ensure(&self, keys: &[usize]) -> bool {
        let n = self.src.transform.as_ref().map_or(1, DistanceTransform::n_types);
        let unkey = |k: usize| (0..n).flat_map(|hi| (0..=hi).map(move |lo| (lo, hi))).nth(k).expect("a pair key below n(n+1)/2");
        keys.par_iter().for_each(|&k| {
            self.cells[k].get_or_init(|| {
                let exact = self.src.exact_fn(&self.exact, unkey(k));
                // A table that cannot be built leaves the exact network, which is always right.
                self.src.tabulate(self.width, &exact).ok().flatten()
            });
        });
        keys.iter().all(|&k| self.cells[k].get().is_some_and(Option::is_some))
    }
}

#[cfg(test)]
impl<T: Real> PairTables<T> {
    /// The table of types (u, v), built if missing (None past the budget).
    pub fn table(&self, u: usize, v: usize) -> Option<&HermiteTable<T>> {
        let k = pair_key(u, v);
        self.ensure(&[k]);
        self.cells[k].get().and_then(Option::as_ref)
    }
}

impl<T: Real> Radial<T> {
    /// The network of widths `hs` (activation between layers, no biases) and,
    /// with `source`, its table over (TABLE_START, cutoff) (`TableSource::tabulate`),
    /// or with a distance transform its per-pair tables, none built yet.
    pub fn new(hs: &[usize], act: Activation, weights: &[&[f64]], source: Option<&Arc<TableSource>>) -> Result<Self> {
        let net = FullyConnectedNet::new(hs, Some(act), weights, 1.0, 1.0, false)?;
        let Some(src) = source else {
            return Ok(Radial { net, tables: Tables::None });
        };
        let width = hs[hs.len() - 1];
        let exact = FullyConnectedNet::<f64>::new(hs, Some(act), weights, 1.0, 1.0, false)?;
        if let Some(t) = &src.transform {
            let n = t.n_types();
            let cells = (0..n * (n + 1) / 2).map(|_| OnceLock::new()).collect();
            return Ok(Radial { net, tables: Tables::PerPair(PairTables { src: src.clone(), exact, width, cells }) });
        }
        let table = src.tabulate(width, &src.exact_fn(&exact, (0, 0)))?;
        match table {
            Some(table) => Ok(Radial { net, tables: Tables::One(table) }),
            None => Err(format_error(format!(
                "the radial tables would hold more than {MAX_TABLE_VALUES} values: the cutoff {} Å and the convolution \
                 widths are too large together",
                src.cutoff
            ))),
        }
    }

    /// Whether the block has tables (per pair: built or to be built).
    pub fn has_tables(&self) -> bool {
        !matches!(self.tables, Tables::None)
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
        let pick = |v: &[T]| edges.untabulated.iter().map(|&e| v[e]).collect::<Vec<T>>();
        let r = pick(&edges.r);
        let (rb, drb) = (pick(&edges.r_basis), pick(&edges.dr_basis));
        let transformed = (!edges.r_basis.is_empty()).then_some((rb.as_slice(), drb.as_slice()));
        let (exact_w, exact_dw) = if r.is_empty() {
            (Vec::new(), Vec::new())
        } else {
            radial_exact(&stage.basis, &stage.envelope, &self.net, &r, transformed)?
        };
        Ok(Box::new(TableWeights { table, width: nw, r: &edges.r, untabulated: &edges.untabulated, exact_w, exact_dw }))
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

/// The table an edge reads: the block's one, or its pair's.
#[derive(Clone, Copy)]
pub(super) enum TableRef<'a, T> {
    One(&'a HermiteTable<T>),
    PerPair { cells: &'a [OnceLock<Option<HermiteTable<T>>>], keys: &'a [u32] },
}

impl<'a, T> TableRef<'a, T> {
    /// Edge e's table.
    #[inline]
    fn of(&self, e: usize) -> &'a HermiteTable<T> {
        match *self {
            TableRef::One(t) => t,
            TableRef::PerPair { cells, keys } => {
                cells[keys[e] as usize].get().and_then(Option::as_ref).expect("Edges::table checked every pair's table")
            }
        }
    }
}

/// The shared edge features, and the edges outside the radial tables'
/// domain (exact networks for them).
pub(super) struct Edges<T> {
    features: EdgeFeatures<T>,
    pub untabulated: Vec<usize>,
    /// This evaluation reads the radial tables (where the blocks have them).
    tables: bool,
    /// Per-pair tables: each edge's pair key, and the keys present.
    pair_keys: Vec<u32>,
    present: Vec<usize>,
}

impl<T: Real> Edges<T> {
    /// The edge stage's features; the embedding B(r)·f(r) only when
    /// `embedding` or some network is evaluated exactly. Per-pair tables of
    /// the pairs this graph has are built here when missing.
    pub fn new<'r>(
        stage: &EdgeStage<T>,
        radials: impl Iterator<Item = &'r Radial<T>> + Clone,
        graph: &AtomGraph,
        types: &[usize],
        tables: bool,
        embedding: bool,
    ) -> Result<Self> {
        let per_pair = tables && radials.clone().any(|b| matches!(b.tables, Tables::PerPair(_)));
        let (mut pair_keys, mut present) = (Vec::new(), Vec::new());
        if per_pair {
            let key = |e: usize| pair_key(types[graph.neighbors[e] as usize], types[graph.centers[e] as usize]) as u32;
            pair_keys = (0..graph.centers.len()).into_par_iter().map(key).collect();
            let mut seen = vec![false; pair_keys.iter().max().map_or(0, |&k| k as usize + 1)];
            pair_keys.iter().for_each(|&k| seen[k as usize] = true);
            present = (0..seen.len()).filter(|&k| seen[k]).collect();
        }
        let mut exact = !tables;
        let mut domain = None;
        for b in radials {
            match &b.tables {
                Tables::None => exact = true,
                Tables::One(t) => domain = Some(t.domain()),
                Tables::PerPair(p) => {
                    exact |= tables && !p.ensure(&present);
                    domain = Some(p.src.domain());
                }
            }
        }
        let features = stage.forward(graph, types, embedding || exact)?;
        let r = &features.r;
        let untabulated = match domain.filter(|_| tables) {
            Some((lo, hi)) => (0..r.len()).filter(|&e| !(r[e].f64() >= lo && r[e].f64() <= hi)).collect(),
            None => Vec::new(),
        };
        Ok(Edges { features, untabulated, tables, pair_keys, present })
    }

    /// A block's table(s), if this evaluation reads them.
    pub fn table<'a>(&'a self, radial: &'a Radial<T>) -> Option<TableRef<'a, T>> {
        if !self.tables {
            return None;
        }
        match &radial.tables {
            Tables::None => None,
            Tables::One(t) => Some(TableRef::One(t)),
            Tables::PerPair(p) => {
                let all = self.present.iter().all(|&k| p.cells[k].get().is_some_and(Option::is_some));
                all.then_some(TableRef::PerPair { cells: &p.cells, keys: &self.pair_keys })
            }
        }
    }
}

impl<T> std::ops::Deref for Edges<T> {
    type Target = EdgeFeatures<T>;
    fn deref(&self) -> &EdgeFeatures<T> {
        &self.features
    }
}

/// A block's radial weights from its table(s), edge by edge; the backward
/// keeps one value per edge, ∂E/∂r = Σ_k ∂E/∂w_k · w_k'(r).
struct TableWeights<'a, T> {
    table: TableRef<'a, T>,
    width: usize,
    r: &'a [T],
    /// The edges outside the tables' domain (increasing), and their exact
    /// w and w' rows.
    untabulated: &'a [usize],
    exact_w: Vec<T>,
    exact_dw: Vec<T>,
}

impl<T: Real> TableWeights<'_, T> {
    /// Edge e's exact row of `rows` (e must be untabulated).
    fn exact<'b>(&self, e: usize, rows: &'b [T]) -> &'b [T] {
        let k = self.untabulated.binary_search(&e).expect("edges outside the table are listed as untabulated");
        &rows[k * self.width..(k + 1) * self.width]
    }
}

impl<T: Real> EdgeWeights<T> for TableWeights<'_, T> {
    fn check(&self, n_edges: usize, weight_numel: usize) -> Result<()> {
        if self.r.len() != n_edges || self.width != weight_numel {
            return Err(Error::LengthMismatch(format!(
                "radial table: {} edges of {} weights, the convolution has {n_edges} of {weight_numel}",
                self.r.len(),
                self.width
            )));
        }
        Ok(())
    }
    /// Scratch: w, then (backward) w'.
    fn scratch_len(&self) -> usize {
        2 * self.width
    }
    fn weights<'b>(&'b self, e: usize, scratch: &'b mut [T], backward: bool) -> &'b [T] {
        let (w, dw) = scratch.split_at_mut(self.width);
        let table = self.table.of(e);
        let tabulated = if backward { table.value_and_derivative(self.r[e], w, dw) } else { table.value(self.r[e], w) };
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
            Ok(k) => &self.exact_dw[k * self.width..(k + 1) * self.width],
            Err(_) => &scratch[self.width..],
        };
        out[0] = dot(dw, grad_w);
    }
}

/// The worst errors of a float32 table and of the float64 interpolation
/// against the exact network, on random lengths over (TABLE_START, cutoff)
/// and the first knots' midpoints; asserts the bounds each model's test
/// documents (relative to max|w|, max|w'|). Returns a line to print.
#[cfg(test)]
pub(super) fn check_table(envelope: &Envelope<f64>, cutoff: f64, exact: &Exact, table32: &HermiteTable<f32>) -> String {
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
    let (w, dw) = exact(&r).unwrap();
    let nw = table32.width();
    let scale = |v: &[f64]| v.iter().fold(0f64, |m, x| m.max(x.abs()));
    let (w_max, dw_max) = (scale(&w), scale(&dw));
    // the float64 interpolation at the spacing the model's table was refined to
    let (breaks, coarse) = table_pieces(hi, envelope);
    let spacings = (0..=MAX_REFINEMENTS)
        .map(|k| coarse.iter().map(|h| h / f64::from(1u32 << k)).collect::<Vec<f64>>())
        .find(|sp| table_intervals(&breaks, sp) == table32.n_intervals())
        .expect("the table's spacing is a refinement of the pieces'");
    let table64 = HermiteTable::<f64>::new(&breaks, &spacings, nw, exact).unwrap();
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
