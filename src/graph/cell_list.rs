//! Cell-list neighbor search: O(N) time and memory, parallel over centers.
//!
//! Atoms are wrapped into the cell and sorted into a grid of bins along the
//! cell axes. A center scans only the bins, and the periodic images of bins,
//! that its cutoff sphere reaches (face-to-face distances bound the reach of
//! a sphere along each axis, whatever the cell's skew). Distances are computed
//! from the same wrapped positions and image translations, in the same order
//! of operations, as the brute-force oracle (`brute.rs`), so both find the
//! same pairs bit for bit; rows are sorted by (neighbor, shift) like there, so
//! the output does not depend on the number of threads.

use std::ops::Range;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use rayon::prelude::*;

use super::cell::Cell;
use super::{norm2, AtomGraph, MIN_DISTANCE};
use crate::{invalid, Result};

/// Centers per parallel task.
const CHUNK: usize = 256;

/// Bins per cutoff along each axis. A center scans, for each of the ~3 × 3
/// columns of bins around it along the first two axes, one run of bins that
/// are contiguous in memory along the third; thin bins along that axis trim
/// the empty space scanned at no extra cost per run.
const BINS_PER_CUTOFF: [f64; 3] = [1.0, 1.0, 4.0];

/// The grid holds at most this many bins per atom (plus a few), so that
/// sparse systems (two atoms far apart) stay O(N) in time and memory.
const MAX_BINS_PER_ATOM: usize = 2;

/// Relative slack on bin reach: rounding may leave a wrapped atom a hair
/// outside its bin, and a pair at exactly the cutoff must still be checked.
const SLACK: f64 = 1e-9;

/// The graph, or `Err(found)` when more than `max_edges` edges turned up
/// after the search of `found.1` centers had found `found.0` (the search
/// stops there, so memory stays bounded whatever the structure).
pub(super) fn search(
    positions: &[[f64; 3]],
    cell: &Cell,
    cutoff: f64,
    max_edges: usize,
) -> Result<std::result::Result<AtomGraph, (usize, usize)>> {
    let n = positions.len();
    let wrapped: Vec<([f64; 3], [i32; 3])> =
        positions.par_iter().map(|r| cell.wrap(r)).collect::<Result<_>>()?;
    let grid = Grid::new(&wrapped, cell, cutoff);
    let budget = Budget { max_edges, found: AtomicUsize::new(0), centers: AtomicUsize::new(0) };
    let rows: Vec<Rows> = (0..n.div_ceil(CHUNK))
        .into_par_iter()
        .map(|c| grid.rows(c * CHUNK..n.min((c + 1) * CHUNK), &wrapped, cell, cutoff, &budget))
        .collect();
    drop(grid);
    let found = budget.found.load(Relaxed);
    if found > max_edges {
        return Ok(Err((found, budget.centers.load(Relaxed).max(1))));
    }
    assemble(positions, &wrapped, cell, cutoff, rows).map(Ok)
}

/// The edges all threads have found so far, against the most allowed.
struct Budget {
    max_edges: usize,
    found: AtomicUsize,
    /// Centers whose rows are complete.
    centers: AtomicUsize,
}

impl Budget {
    fn exceeded(&self, pending: usize) -> bool {
        self.found.load(Relaxed) + pending > self.max_edges
    }
}

/// Wrapped atoms sorted into bins along the cell axes.
struct Grid {
    /// Bins along each axis.
    shape: [usize; 3],
    /// How many bins (with slack for rounding) a cutoff spans, along each axis.
    reach: [f64; 3],
    /// Each atom's position in bin units: bin b spans [b, b + 1) along each axis.
    coords: Vec<[f64; 3]>,
    /// Bin `b` holds `atoms[starts[b]..starts[b + 1]]`.
    starts: Vec<usize>,
    /// Atom indices, sorted by bin.
    atoms: Vec<u32>,
    /// Their wrapped positions, stored contiguously for the distance loop.
    points: Vec<[f64; 3]>,
}

impl Grid {
    fn new(wrapped: &[([f64; 3], [i32; 3])], cell: &Cell, cutoff: f64) -> Grid {
        let fractional: Vec<[f64; 3]> = wrapped.par_iter().map(|(w, _)| cell.fractional(w)).collect();
        let faces = cell.face_distances();
        // Extent of the atoms in fractional coordinates: the whole cell along
        // periodic axes, the atoms' own span along the others.
        let mut low = [0.0; 3];
        let mut span = [1.0; 3];
        for k in (0..3).filter(|&k| !cell.pbc[k]) {
            let (lo, hi) = fractional
                .iter()
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), f| (lo.min(f[k]), hi.max(f[k])));
            low[k] = if lo.is_finite() { lo } else { 0.0 };
            span[k] = if hi > lo { hi - lo } else { 0.0 };
        }
        let length: [f64; 3] = std::array::from_fn(|k| span[k] * faces[k]);
        let mut shape: [usize; 3] =
            std::array::from_fn(|k| ((length[k] * BINS_PER_CUTOFF[k] / cutoff).floor().min(1e6) as usize).max(1));
        let max_bins = MAX_BINS_PER_ATOM * wrapped.len() + 8;
        while shape.iter().product::<usize>() > max_bins {
            let factor = (max_bins as f64 / shape.iter().product::<usize>() as f64).cbrt();
            shape = shape.map(|s| ((s as f64 * factor).floor() as usize).max(1));
        }
        let density: [f64; 3] = std::array::from_fn(|k| if span[k] > 0.0 { shape[k] as f64 / span[k] } else { 0.0 });
        let reach = std::array::from_fn(|k| {
            if span[k] > 0.0 {
                let width = length[k] / shape[k] as f64;
                cutoff / width * (1.0 + SLACK) + SLACK
            } else {
                0.0
            }
        });

        let coords: Vec<[f64; 3]> =
            fractional.par_iter().map(|f| std::array::from_fn(|k| (f[k] - low[k]) * density[k])).collect();
        let bin_of = |x: &[f64; 3]| {
            let c: [usize; 3] = std::array::from_fn(|k| (x[k].floor().max(0.0) as usize).min(shape[k] - 1));
            (c[0] * shape[1] + c[1]) * shape[2] + c[2]
        };
        // Counting sort of the atoms by bin.
        let mut starts = vec![0usize; shape.iter().product::<usize>() + 1];
        for x in &coords {
            starts[bin_of(x) + 1] += 1;
        }
        for b in 1..starts.len() {
            starts[b] += starts[b - 1];
        }
        let mut next = starts.clone();
        let n = wrapped.len();
        let (mut atoms, mut points) = (vec![0u32; n], vec![[0.0; 3]; n]);
        for (i, x) in coords.iter().enumerate() {
            let slot = &mut next[bin_of(x)];
            atoms[*slot] = i as u32;
            points[*slot] = wrapped[i].0;
            *slot += 1;
        }
        Grid { shape, reach, coords, starts, atoms, points }
    }

    /// The bins a center at bin coordinate `x` must scan along `axis`, as
    /// runs of consecutive bins, each with the periodic image it lies in.
    fn runs(&self, x: f64, axis: usize, periodic: bool, runs: &mut Vec<(usize, usize, i32)>) {
        runs.clear();
        let bins = self.shape[axis] as i64;
        let mut first = (x - self.reach[axis]).floor() as i64;
        let mut last = (x + self.reach[axis]).floor() as i64;
        if !periodic {
            first = first.max(0);
            last = last.min(bins - 1);
        }
        while first <= last {
            let image = first.div_euclid(bins);
            let end = last.min((image + 1) * bins - 1);
            runs.push(((first - image * bins) as usize, (end - image * bins) as usize, image as i32));
            first = end + 1;
        }
    }

    /// The sorted rows of neighbors of the centers in `centers`.
    /// The sorted rows of neighbors of the centers in `centers`; cut short
    /// (rows incomplete) once `budget` is exceeded.
    fn rows(
        &self,
        centers: Range<usize>,
        wrapped: &[([f64; 3], [i32; 3])],
        cell: &Cell,
        cutoff: f64,
        budget: &Budget,
    ) -> Rows {
        let cut2 = cutoff * cutoff;
        let mut rows = Rows { counts: Vec::with_capacity(centers.len()), edges: Vec::new() };
        let mut runs: [Vec<(usize, usize, i32)>; 3] = Default::default();
        for i in centers {
            let start = rows.edges.len();
            if budget.exceeded(start) {
                break;
            }
            let wi = wrapped[i].0;
            for (k, runs) in runs.iter_mut().enumerate() {
                self.runs(self.coords[i][k], k, cell.pbc[k], runs);
            }
            let m = &cell.matrix;
            for &(x0, x1, a) in &runs[0] {
                let ta = m[0].map(|x| a as f64 * x);
                for nx in x0..=x1 {
                    // A cell far smaller than the cutoff has millions of
                    // images in reach: stop as soon as the budget is spent.
                    if budget.exceeded(rows.edges.len()) {
                        budget.found.fetch_add(rows.edges.len(), Relaxed);
                        return rows;
                    }
                    for &(y0, y1, b) in &runs[1] {
                        let tab: [f64; 3] = std::array::from_fn(|k| ta[k] + b as f64 * m[1][k]);
                        for ny in y0..=y1 {
                            let base = (nx * self.shape[1] + ny) * self.shape[2];
                            for &(z0, z1, c) in &runs[2] {
                                // The center moved back by the image translation
                                // t = (a, b, c) · cell, summed in the order of
                                // `Cell::cartesian`, so rounded as in the brute force.
                                let t: [f64; 3] = std::array::from_fn(|k| tab[k] + c as f64 * m[2][k]);
                                let origin = [wi[0] - t[0], wi[1] - t[1], wi[2] - t[2]];
                                let range = self.starts[base + z0]..self.starts[base + z1 + 1];
                                let home = a == 0 && b == 0 && c == 0;
                                for (&j, p) in self.atoms[range.clone()].iter().zip(&self.points[range]) {
                                    let v = [p[0] - origin[0], p[1] - origin[1], p[2] - origin[2]];
                                    if v[0] * v[0] + v[1] * v[1] + v[2] * v[2] < cut2 && !(home && j as usize == i) {
                                        rows.edges.push(Edge::new(j, [a, b, c]));
                                    }
                                }
                            }
                        }
                    }
                }
            }
            sort_row(&mut rows.edges[start..]);
            rows.counts.push(rows.edges.len() - start);
            budget.centers.fetch_add(1, Relaxed);
        }
        budget.found.fetch_add(rows.edges.len(), Relaxed);
        rows
    }
}

/// Neighbor rows of a run of consecutive centers.
struct Rows {
    /// Number of neighbors of each center.
    counts: Vec<usize>,
    /// Every edge, row after row.
    edges: Vec<Edge>,
}

/// A neighbor j and the periodic image (a, b, c) of the wrapped cell it was
/// found in, packed in one integer whose order is (j, a, b, c) order. For a
/// given center, the shift is the image plus a constant per neighbor (how
/// far the two atoms were wrapped), so this is also (neighbor, shift) order,
/// and sorting a row is a fast sort of plain integers.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Edge(u64);

/// Bits per image component; `Cell::check_reach` keeps images within
/// ±1002 cells, and atom indices fit in the remaining 31 bits.
const IMAGE_BITS: u32 = 11;
const IMAGE_BIAS: i32 = 1 << (IMAGE_BITS - 1);

impl Edge {
    fn new(j: u32, image: [i32; 3]) -> Edge {
        debug_assert!(image.iter().all(|x| x.abs() < IMAGE_BIAS));
        let [a, b, c] = image.map(|x| (x + IMAGE_BIAS) as u64);
        Edge((j as u64) << (3 * IMAGE_BITS) | a << (2 * IMAGE_BITS) | b << IMAGE_BITS | c)
    }

    fn neighbor(self) -> u32 {
        (self.0 >> (3 * IMAGE_BITS)) as u32
    }

    fn image(self) -> [i32; 3] {
        let mask = (1 << IMAGE_BITS) - 1;
        [2 * IMAGE_BITS, IMAGE_BITS, 0].map(|bits| ((self.0 >> bits) & mask) as i32 - IMAGE_BIAS)
    }
}

/// Concatenates the rows into a graph, computing each edge vector from the
/// original positions exactly as the oracle does; two atoms at the same
/// position are an error.
fn assemble(
    positions: &[[f64; 3]],
    wrapped: &[([f64; 3], [i32; 3])],
    cell: &Cell,
    cutoff: f64,
    rows: Vec<Rows>,
) -> Result<AtomGraph> {
    let mut offsets = Vec::with_capacity(positions.len() + 1);
    offsets.push(0);
    for count in rows.iter().flat_map(|r| &r.counts) {
        offsets.push(offsets.last().unwrap() + count);
    }
    let n_edges = *offsets.last().unwrap();
    let mut centers = output::<u32>(n_edges)?;
    let mut neighbors = output::<u32>(n_edges)?;
    let mut shifts = output::<[i32; 3]>(n_edges)?;
    let mut vectors = output::<[f64; 3]>(n_edges)?;
    let lengths: Vec<usize> = rows.iter().map(|r| r.edges.len()).collect();
    let parts: Vec<_> = split(&mut centers, &lengths)
        .into_iter()
        .zip(split(&mut neighbors, &lengths))
        .zip(split(&mut shifts, &lengths).into_iter().zip(split(&mut vectors, &lengths)))
        .collect();
    // Coincident atoms are caught here, while each vector is at hand.
    let first_coincident = rows
        .into_par_iter()
        .zip(parts)
        .enumerate()
        .filter_map(|(chunk, (rows, ((ce, ne), (sh, ve))))| {
            let mut coincident = None;
            let mut e = 0;
            for (k, &count) in rows.counts.iter().enumerate() {
                let i = chunk * CHUNK + k;
                let (pi, mi) = (positions[i], wrapped[i].1);
                for edge in &rows.edges[e..e + count] {
                    // Shift from the original positions: the image, plus
                    // how far each atom was wrapped.
                    let (j, [a, b, c]) = (edge.neighbor(), edge.image());
                    let mj = wrapped[j as usize].1;
                    let s = [a + mi[0] - mj[0], b + mi[1] - mj[1], c + mi[2] - mj[2]];
                    let t = cell.cartesian([s[0] as f64, s[1] as f64, s[2] as f64]);
                    let pj = positions[j as usize];
                    let v = [pj[0] - pi[0] + t[0], pj[1] - pi[1] + t[1], pj[2] - pi[2] + t[2]];
                    if coincident.is_none() && norm2(&v) < MIN_DISTANCE * MIN_DISTANCE {
                        coincident = Some((i, j, s));
                    }
                    (ce[e], ne[e], sh[e], ve[e]) = (i as u32, j, s, v);
                    e += 1;
                }
            }
            coincident
        })
        .min();
    if let Some((i, j, s)) = first_coincident {
        return invalid!("atoms {i} and {j} (image {s:?}) are at the same position");
    }
    Ok(AtomGraph {
        positions: positions.to_vec(),
        cell: cell.given,
        pbc: cell.pbc,
        cutoff,
        centers,
        neighbors,
        shifts,
        vectors,
        offsets,
        ..Default::default()
    })
}

/// Sorts one row. Rows are short and, as bins are scanned in order, often
/// nearly sorted: insertion sort is then the fastest.
fn sort_row(row: &mut [Edge]) {
    if row.len() > 64 {
        return row.sort_unstable();
    }
    for k in 1..row.len() {
        let edge = row[k];
        let mut at = k;
        while at > 0 && row[at - 1] > edge {
            row[at] = row[at - 1];
            at -= 1;
        }
        row[at] = edge;
    }
}

/// Plain data whose all-zero bytes are its zero.
trait Zeroed: Copy {}
impl Zeroed for u32 {}
impl Zeroed for [i32; 3] {}
impl Zeroed for [f64; 3] {}

/// A zeroed output array. Zeroed allocations are free until written, and
/// each element is written once; large ones ask Linux for huge pages, since
/// faulting hundreds of MB in 4 KiB pages costs as much as the search itself.
/// Running out of memory is an error, not an abort.
fn output<T: Zeroed>(n: usize) -> Result<Vec<T>> {
    let failed = || crate::Error::OutOfMemory(format!("cannot allocate the graph's {n} edges"));
    let layout = std::alloc::Layout::array::<T>(n).map_err(|_| failed())?;
    if layout.size() == 0 {
        return Ok(vec![]);
    }
    // SAFETY: a non-zero-sized layout; all-zero bytes are a valid T (Zeroed),
    // and the Vec takes ownership of the allocation with that layout.
    let v = unsafe {
        let ptr = std::alloc::alloc_zeroed(layout).cast::<T>();
        if ptr.is_null() {
            return Err(failed());
        }
        Vec::from_raw_parts(ptr, n, n)
    };
    #[cfg(target_os = "linux")]
    {
        const HUGE: usize = 2 << 20;
        let start = (v.as_ptr() as usize).next_multiple_of(HUGE);
        let end = (v.as_ptr() as usize + std::mem::size_of_val(v.as_slice())) / HUGE * HUGE;
        if end > start {
            // SAFETY: advice on pages of an allocation we own; it changes
            // how they are backed, never their contents.
            unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE) };
        }
    }
    Ok(v)
}

/// Splits `slice` into consecutive pieces of the given lengths.
fn split<'a, T>(mut slice: &'a mut [T], lengths: &[usize]) -> Vec<&'a mut [T]> {
    lengths
        .iter()
        .map(|&len| {
            let (head, tail) = std::mem::take(&mut slice).split_at_mut(len);
            slice = tail;
            head
        })
        .collect()
}

