//! Atom graphs: who is whose neighbor, with which periodic image.
//!
//! Conventions (shared by every model and by the C ABI):
//! - an edge `e` goes from its `center` i to its `neighbor` j;
//! - `vectors[e] = positions[j] - positions[i] + shifts[e] · cell` (Å), where
//!   the cell's rows are the lattice vectors; this is ASE's `D` and `S`;
//! - lists are full: every pair appears as i→j and j→i;
//! - edges are sorted by center, and `offsets` is their CSR index: the edges
//!   of center i are `offsets[i]..offsets[i + 1]`;
//! - atoms `0..n_local` are local (they own their energy); the others are
//!   ghosts, images owned by someone else (a LAMMPS rank, say), which receive
//!   forces but contribute no energy.

mod brute;
mod cell;
mod cell_list;
mod external;

pub use brute::neighbors_brute_force;
pub use cell::Cell;

use crate::backend::Workspace;
use crate::{invalid, Result};

/// Largest atomic number accepted (oganesson).
pub const MAX_ATOMIC_NUMBER: i32 = 118;

/// Two atoms closer than this (Å) are rejected as coinciding.
pub const MIN_DISTANCE: f64 = 1e-6;

/// Bytes a graph holds per edge (center, neighbor, shift, vector), plus the
/// search's own 8: what the memory limit is weighed against.
pub const BYTES_PER_EDGE: usize = 4 + 4 + 12 + 24 + 8;

/// A structure as a host code describes it.
#[derive(Clone, Copy, Debug)]
pub struct Structure<'a> {
    /// Cartesian positions, Å.
    pub positions: &'a [[f64; 3]],
    /// Atomic numbers, one per atom.
    pub numbers: &'a [i32],
    /// Lattice vectors as rows, Å; may be `None` when no axis is periodic.
    pub cell: Option<[[f64; 3]; 3]>,
    /// Periodicity along each lattice vector.
    pub pbc: [bool; 3],
}

/// A host's own neighbor list (LAMMPS-like): local atoms, then ghost atoms,
/// and for each of the first `offsets.len() - 1` atoms the indices of its
/// neighbors. Positions are taken as they are (ghosts are images already).
#[derive(Clone, Copy, Debug)]
pub struct NeighborList<'a> {
    /// Positions of local then ghost atoms, Å.
    pub positions: &'a [[f64; 3]],
    /// Atomic numbers of local then ghost atoms.
    pub numbers: &'a [i32],
    /// Number of local atoms (the first ones).
    pub n_local: usize,
    /// CSR row offsets: neighbors of atom i are `neighbors[offsets[i]..offsets[i+1]]`.
    pub offsets: &'a [usize],
    /// Neighbor indices into `positions`.
    pub neighbors: &'a [u32],
    /// Only pairs closer than this are kept (host lists include a skin).
    pub cutoff: f64,
}

/// The graph a model runs on. See the module docs for conventions.
#[derive(Clone, Debug, Default)]
pub struct AtomGraph {
    /// Positions of all atoms (local then ghost), Å.
    pub positions: Vec<[f64; 3]>,
    /// Atomic numbers of all atoms.
    pub numbers: Vec<i32>,
    /// Number of local atoms.
    pub n_local: usize,
    /// Lattice vectors as rows (zeros when the graph did not come from a cell).
    pub cell: [[f64; 3]; 3],
    /// Periodic axes.
    pub pbc: [bool; 3],
    /// Cutoff the graph was built with, Å.
    pub cutoff: f64,
    /// Edge centers i.
    pub centers: Vec<u32>,
    /// Edge neighbors j.
    pub neighbors: Vec<u32>,
    /// Integer image shifts of j.
    pub shifts: Vec<[i32; 3]>,
    /// Edge vectors r_j - r_i + S·cell, Å.
    pub vectors: Vec<[f64; 3]>,
    /// CSR offsets of the edges by center (length `n_atoms + 1`).
    pub offsets: Vec<usize>,
}

impl AtomGraph {
    /// Builds the full neighbor graph of a structure within `cutoff` (Å).
    pub fn build(structure: &Structure, cutoff: f64, ws: &Workspace) -> Result<AtomGraph> {
        check_atoms(structure.positions, structure.numbers)?;
        check_cutoff(cutoff)?;
        let cell = Cell::new(structure.cell, structure.pbc)?;
        let n = structure.positions.len() as f64;
        let what = |edges: f64| format!("the graph of {n} atoms within {cutoff} Å ({edges:.3e} edges)");
        if cell.pbc == [true; 3] {
            // Expected edges at uniform density, before anything is allocated.
            let volume = cell::det(&cell.matrix).abs();
            let edges = n * n * 4.0 / 3.0 * std::f64::consts::PI * cutoff.powi(3) / volume;
            ws.check_memory(&what(edges), edges * BYTES_PER_EDGE as f64)?;
        }
        // Any structure: the search stops once the edges pass the limit.
        let max_edges = ws.memory_limit() / BYTES_PER_EDGE;
        let mut graph = match ws.run(|| cell::neighbors(structure.positions, &cell, cutoff, max_edges))? {
            Ok(graph) => graph,
            Err((found, centers)) => {
                let edges = found as f64 * n / centers as f64;
                ws.check_memory(&what(edges), edges * BYTES_PER_EDGE as f64)?;
                return Err(crate::Error::OutOfMemory(format!(
                    "{} needs more than {max_edges} edges, the most this workspace's memory limit allows",
                    what(edges)
                )));
            }
        };
        graph.numbers = structure.numbers.to_vec();
        graph.n_local = structure.positions.len();
        Ok(graph)
    }

    /// Builds the graph from a host's neighbor list.
    pub fn from_neighbor_list(list: &NeighborList) -> Result<AtomGraph> {
        external::from_neighbor_list(list)
    }

    /// Number of atoms, local and ghost.
    pub fn n_atoms(&self) -> usize {
        self.positions.len()
    }

    /// Number of edges.
    pub fn n_edges(&self) -> usize {
        self.centers.len()
    }

    /// The graph without its edges of length ≥ `cutoff` (None: it has none;
    /// parallel on the current pool).
    /// A host's neighbor list with a skin, or a graph built for a longer
    /// cutoff, then gives exactly the model's numbers: the XPLOR envelope
    /// grows past the cutoff and the polynomial one turns negative there.
    pub fn within(&self, cutoff: f64) -> Option<AtomGraph> {
        use rayon::prelude::*;
        let cut2 = cutoff * cutoff;
        let inside = |e: usize| norm2(&self.vectors[e]) < cut2;
        if (0..self.n_edges()).into_par_iter().all(inside) {
            return None;
        }
        let kept: Vec<usize> = (0..self.n_edges()).filter(|&e| inside(e)).collect();
        let mut offsets = Vec::with_capacity(self.offsets.len());
        offsets.push(0);
        let mut e = 0;
        for i in 0..self.n_atoms() {
            while e < kept.len() && (self.centers[kept[e]] as usize) == i {
                e += 1;
            }
            offsets.push(e);
        }
        Some(AtomGraph {
            positions: self.positions.clone(),
            numbers: self.numbers.clone(),
            n_local: self.n_local,
            cell: self.cell,
            pbc: self.pbc,
            cutoff: cutoff.min(self.cutoff),
            centers: kept.iter().map(|&e| self.centers[e]).collect(),
            neighbors: kept.iter().map(|&e| self.neighbors[e]).collect(),
            shifts: kept.iter().map(|&e| self.shifts[e]).collect(),
            vectors: kept.iter().map(|&e| self.vectors[e]).collect(),
            offsets,
        })
    }

    /// Volume of the cell when periodic in all three axes.
    pub fn volume(&self) -> Option<f64> {
        if self.pbc == [true; 3] {
            Some(cell::det(&self.cell).abs())
        } else {
            None
        }
    }
}

pub(crate) fn norm2(v: &[f64; 3]) -> f64 {
    v[0] * v[0] + v[1] * v[1] + v[2] * v[2]
}

pub(crate) fn check_atoms(positions: &[[f64; 3]], numbers: &[i32]) -> Result<()> {
    if positions.len() != numbers.len() {
        return Err(crate::Error::LengthMismatch(format!(
            "{} positions but {} atomic numbers",
            positions.len(),
            numbers.len()
        )));
    }
    if i32::try_from(positions.len()).is_err() {
        return invalid!("{} atoms is more than 2^31 - 1", positions.len());
    }
    for (i, p) in positions.iter().enumerate() {
        if !p.iter().all(|x| x.is_finite()) {
            return invalid!("position of atom {i} is not finite: {p:?}");
        }
    }
    for (i, &z) in numbers.iter().enumerate() {
        if !(1..=MAX_ATOMIC_NUMBER).contains(&z) {
            return Err(crate::Error::UnknownElement(format!(
                "atom {i} has atomic number {z}, outside 1..={MAX_ATOMIC_NUMBER}"
            )));
        }
    }
    Ok(())
}

pub(crate) fn check_cutoff(cutoff: f64) -> Result<()> {
    if !(cutoff.is_finite() && cutoff > 0.0) {
        return invalid!("cutoff must be a positive finite number of Å, got {cutoff}");
    }
    Ok(())
}
