//! Cell-list neighbor search: O(N) time and memory, parallel over centers.
//!
//! Atoms are wrapped into the cell and sorted into a grid of bins at least a
//! cutoff wide (face to face). A center scans only the bins, and the periodic
//! images of bins, that can hold one of its neighbors. Distances are computed
//! from the same wrapped positions and image translations, in the same order
//! of operations, as the brute-force oracle (`brute.rs`), so both find the
//! same pairs bit for bit; rows are sorted by (neighbor, shift) like there, so
//! the output does not depend on the number of threads.

use std::ops::Range;

use rayon::prelude::*;

use super::cell::Cell;
use super::AtomGraph;
use crate::Result;

/// Centers per parallel task.
const CHUNK: usize = 256;

/// The grid holds at most this many bins per atom (plus a few), so that
/// sparse systems (two atoms far apart) stay O(N) in time and memory.
const MAX_BINS_PER_ATOM: usize = 2;

/// Relative slack on bin reach: rounding may leave a wrapped atom a hair
/// outside its bin, and a pair at exactly the cutoff must still be checked.
const SLACK: f64 = 1e-9;

pub(super) fn search(positions: &[[f64; 3]], cell: &Cell, cutoff: f64) -> Result<AtomGraph> {
    let n = positions.len();
    let wrapped: Vec<([f64; 3], [i32; 3])> =
        positions.par_iter().map(|r| cell.wrap(r)).collect::<Result<_>>()?;
    let grid = Grid::new(&wrapped, cell, cutoff);
    let rows: Vec<Rows> = (0..n.div_ceil(CHUNK))
        .into_par_iter()
        .map(|c| grid.rows(c * CHUNK..n.min((c + 1) * CHUNK), &wrapped, cell, cutoff))
        .collect();
    drop(grid);
    Ok(assemble(positions, cell, cutoff, rows))
}

/// Wrapped atoms sorted into bins, and which bins each bin must scan.
struct Grid {
    /// Bins along each axis.
    shape: [usize; 3],
    /// Bin coordinates of each atom.
    coords: Vec<[u32; 3]>,
    /// `stencil[k][b]`: the bin coordinates a center in bin coordinate `b`
    /// scans along axis `k`, each with the periodic image it lies in.
    stencil: [Vec<Vec<(u32, i32)>>; 3],
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
            std::array::from_fn(|k| ((length[k] / cutoff).floor().min(1e6) as usize).max(1));
        let max_bins = MAX_BINS_PER_ATOM * wrapped.len() + 8;
        while shape.iter().product::<usize>() > max_bins {
            let factor = (max_bins as f64 / shape.iter().product::<usize>() as f64).cbrt();
            shape = shape.map(|s| ((s as f64 * factor).floor() as usize).max(1));
        }

        let stencil = std::array::from_fn(|k| {
            let bins = shape[k] as i64;
            let reach = if cell.pbc[k] || bins > 1 {
                let width = length[k] / bins as f64;
                (cutoff / width * (1.0 + SLACK) + SLACK).ceil() as i64
            } else {
                0
            };
            (0..bins)
                .map(|b| {
                    (b - reach..=b + reach)
                        .filter(|&g| cell.pbc[k] || (0..bins).contains(&g))
                        .map(|g| (g.rem_euclid(bins) as u32, g.div_euclid(bins) as i32))
                        .collect()
                })
                .collect()
        });

        let coords: Vec<[u32; 3]> = fractional
            .par_iter()
            .map(|f| {
                std::array::from_fn(|k| {
                    let x = if span[k] > 0.0 { (f[k] - low[k]) / span[k] * shape[k] as f64 } else { 0.0 };
                    (x.floor().max(0.0) as usize).min(shape[k] - 1) as u32
                })
            })
            .collect();

        // Counting sort of the atoms by bin.
        let bin = |c: &[u32; 3]| (c[0] as usize * shape[1] + c[1] as usize) * shape[2] + c[2] as usize;
        let mut starts = vec![0usize; shape.iter().product::<usize>() + 1];
        for c in &coords {
            starts[bin(c) + 1] += 1;
        }
        for b in 1..starts.len() {
            starts[b] += starts[b - 1];
        }
        let mut next = starts.clone();
        let mut atoms = vec![0u32; wrapped.len()];
        let mut points = vec![[0.0; 3]; wrapped.len()];
        for (i, c) in coords.iter().enumerate() {
            let slot = &mut next[bin(c)];
            atoms[*slot] = i as u32;
            points[*slot] = wrapped[i].0;
            *slot += 1;
        }
        Grid { shape, coords, stencil, starts, atoms, points }
    }

    /// The sorted rows of neighbors of the centers in `centers`.
    fn rows(&self, centers: Range<usize>, wrapped: &[([f64; 3], [i32; 3])], cell: &Cell, cutoff: f64) -> Rows {
        let cut2 = cutoff * cutoff;
        let mut rows = Rows { counts: Vec::with_capacity(centers.len()), pairs: Vec::new() };
        for i in centers {
            let start = rows.pairs.len();
            let (wi, mi) = wrapped[i];
            let [bx, by, bz] = self.coords[i];
            for &(nx, a) in &self.stencil[0][bx as usize] {
                for &(ny, b) in &self.stencil[1][by as usize] {
                    let base = (nx as usize * self.shape[1] + ny as usize) * self.shape[2];
                    for &(nz, c) in &self.stencil[2][bz as usize] {
                        let t = cell.cartesian([a as f64, b as f64, c as f64]);
                        let home = a == 0 && b == 0 && c == 0;
                        let bin = base + nz as usize;
                        let range = self.starts[bin]..self.starts[bin + 1];
                        for (&j, p) in self.atoms[range.clone()].iter().zip(&self.points[range]) {
                            let v = [p[0] - wi[0] + t[0], p[1] - wi[1] + t[1], p[2] - wi[2] + t[2]];
                            if v[0] * v[0] + v[1] * v[1] + v[2] * v[2] < cut2 && !(home && j as usize == i) {
                                let mj = wrapped[j as usize].1;
                                rows.pairs.push((j, [a + mi[0] - mj[0], b + mi[1] - mj[1], c + mi[2] - mj[2]]));
                            }
                        }
                    }
                }
            }
            rows.pairs[start..].sort_unstable();
            rows.counts.push(rows.pairs.len() - start);
        }
        rows
    }
}

/// Neighbor rows of a run of consecutive centers.
struct Rows {
    /// Number of neighbors of each center.
    counts: Vec<usize>,
    /// (neighbor, shift) of every edge, row after row.
    pairs: Vec<(u32, [i32; 3])>,
}

/// Concatenates the rows into a graph, computing each edge vector from the
/// original positions exactly as the oracle does.
fn assemble(positions: &[[f64; 3]], cell: &Cell, cutoff: f64, rows: Vec<Rows>) -> AtomGraph {
    let mut offsets = Vec::with_capacity(positions.len() + 1);
    offsets.push(0);
    for count in rows.iter().flat_map(|r| &r.counts) {
        offsets.push(offsets.last().unwrap() + count);
    }
    let n_edges = *offsets.last().unwrap();
    // Zeroed allocations are free until written, and each is written once.
    let mut centers = vec![0u32; n_edges];
    let mut neighbors = vec![0u32; n_edges];
    let mut shifts = vec![[0i32; 3]; n_edges];
    let mut vectors = vec![[0.0f64; 3]; n_edges];
    let lengths: Vec<usize> = rows.iter().map(|r| r.pairs.len()).collect();
    let parts: Vec<_> = split(&mut centers, &lengths)
        .into_iter()
        .zip(split(&mut neighbors, &lengths))
        .zip(split(&mut shifts, &lengths).into_iter().zip(split(&mut vectors, &lengths)))
        .collect();
    rows.into_par_iter().zip(parts).enumerate().for_each(|(chunk, (rows, ((ce, ne), (sh, ve))))| {
        let mut e = 0;
        for (k, &count) in rows.counts.iter().enumerate() {
            let i = chunk * CHUNK + k;
            let pi = positions[i];
            for &(j, s) in &rows.pairs[e..e + count] {
                let t = cell.cartesian([s[0] as f64, s[1] as f64, s[2] as f64]);
                let pj = positions[j as usize];
                ce[e] = i as u32;
                ne[e] = j;
                sh[e] = s;
                ve[e] = [pj[0] - pi[0] + t[0], pj[1] - pi[1] + t[1], pj[2] - pi[2] + t[2]];
                e += 1;
            }
        }
    });
    AtomGraph {
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
    }
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
