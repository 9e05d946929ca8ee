use super::status::*;
use super::workspace::{eqp_workspace_t, with_workspace};
use crate::graph::{AtomGraph, NeighborList, Structure};
use crate::Error;

/// An atom graph: atoms (local, then ghost) and the directed edges between
/// them. Edge e goes from center i to neighbor j, with the vector
/// r_j − r_i + S·cell (Å), S the integer image shift of j and the cell's rows
/// the lattice vectors. Lists are full (i→j and j→i) and sorted by center.
pub struct eqp_graph_t {
    pub(crate) inner: AtomGraph,
}

/// Builds the full neighbor graph of a structure with cell lists (O(N)).
///
/// - `n_atoms` atoms; `positions` holds 3·n_atoms doubles (Å, x y z per atom);
///   `numbers` holds n_atoms atomic numbers (1..118);
/// - `cell`: 9 doubles, the lattice vectors as rows (Å), or NULL when no axis
///   is periodic; `pbc`: 3 one-byte flags, any nonzero byte meaning periodic
///   (NULL: no axis periodic);
/// - `cutoff` (Å) > 0; `workspace` may be NULL (single thread).
///
/// Zero atoms is valid (an empty graph). Non-finite positions, a singular or
/// non-finite cell, a periodic axis with a zero-length vector, unknown atomic
/// numbers and two atoms at the same position are errors. On error, `*graph`
/// is set to NULL.
#[no_mangle]
pub unsafe extern "C" fn eqp_graph_build(
    workspace: *mut eqp_workspace_t,
    n_atoms: usize,
    positions: *const f64,
    numbers: *const i32,
    cell: *const f64,
    pbc: *const bool,
    cutoff: f64,
    graph: *mut *mut eqp_graph_t,
) -> eqp_status_t {
    guard("eqp_graph_build", || {
        slot(graph, "graph")?;
        let positions = input(positions.cast::<[f64; 3]>(), n_atoms, "positions")?;
        let numbers = input(numbers, n_atoms, "numbers")?;
        // Read as bytes: a Rust bool holding anything but 0 or 1 is undefined behaviour.
        let pbc = if pbc.is_null() { [false; 3] } else { (*pbc.cast::<[u8; 3]>()).map(|b| b != 0) };
        let cell = if cell.is_null() { None } else { Some(*cell.cast::<[[f64; 3]; 3]>()) };
        let structure = Structure { positions, numbers, cell, pbc };
        let inner = with_workspace(workspace, |ws| AtomGraph::build(&structure, cutoff, ws))?;
        give(graph, eqp_graph_t { inner });
        Ok(())
    })
}

/// Builds a graph from a host's own neighbor list, LAMMPS-style.
///
/// - `n_atoms` atoms in all, of which the first `n_local` are local (they own
///   their energy) and the rest are ghosts (images owned elsewhere, which get
///   forces but no energy); `positions` (3·n_atoms doubles, Å) and `numbers`
///   (n_atoms) cover all of them, ghosts at their image positions;
/// - `offsets` (n_rows + 1 entries, from 0 to n_neighbors, non-decreasing):
///   the neighbors of atom i < n_rows are `neighbors[offsets[i]..offsets[i+1]]`,
///   indices into the n_atoms atoms (a negative or out-of-range index is an
///   error); atoms i >= n_rows have none;
/// - only pairs closer than `cutoff` (Å) become edges, so a list with a skin
///   may be passed as it is. Edge vectors are r_j − r_i, shifts are zero.
#[no_mangle]
pub unsafe extern "C" fn eqp_graph_from_neighbor_list(
    n_atoms: usize,
    n_local: usize,
    positions: *const f64,
    numbers: *const i32,
    n_rows: usize,
    offsets: *const usize,
    n_neighbors: usize,
    neighbors: *const i32,
    cutoff: f64,
    graph: *mut *mut eqp_graph_t,
) -> eqp_status_t {
    guard("eqp_graph_from_neighbor_list", || {
        slot(graph, "graph")?;
        let n_offsets =
            n_rows.checked_add(1).ok_or_else(|| Error::InvalidArgument(format!("n_rows {n_rows} is too large")))?;
        let neighbor_indices = input(neighbors, n_neighbors, "neighbors")?;
        if let Some(k) = neighbor_indices.iter().position(|&j| j < 0) {
            return Err(Error::InvalidArgument(format!("neighbors[{k}] is {}, a negative index", neighbor_indices[k])));
        }
        let list = NeighborList {
            positions: input(positions.cast::<[f64; 3]>(), n_atoms, "positions")?,
            numbers: input(numbers, n_atoms, "numbers")?,
            n_local,
            offsets: input(offsets, n_offsets, "offsets")?,
            // Checked non-negative above, so i32 → u32 keeps the values.
            neighbors: input(neighbors.cast::<u32>(), n_neighbors, "neighbors")?,
            cutoff,
        };
        give(graph, eqp_graph_t { inner: AtomGraph::from_neighbor_list(&list)? });
        Ok(())
    })
}

/// Frees a graph; NULL does nothing.
#[no_mangle]
pub unsafe extern "C" fn eqp_graph_free(graph: *mut eqp_graph_t) {
    let _ = guard("eqp_graph_free", || {
        free(graph);
        Ok(())
    });
}

/// Writes the number of atoms (local + ghost) of a graph to `*n_atoms`.
#[no_mangle]
pub unsafe extern "C" fn eqp_graph_n_atoms(graph: *const eqp_graph_t, n_atoms: *mut usize) -> eqp_status_t {
    guard("eqp_graph_n_atoms", || {
        let g = handle(graph, "graph")?;
        output(n_atoms, 1, "n_atoms")?[0] = g.inner.n_atoms();
        Ok(())
    })
}

/// Writes the number of edges of a graph to `*n_edges`.
#[no_mangle]
pub unsafe extern "C" fn eqp_graph_n_edges(graph: *const eqp_graph_t, n_edges: *mut usize) -> eqp_status_t {
    guard("eqp_graph_n_edges", || {
        let g = handle(graph, "graph")?;
        output(n_edges, 1, "n_edges")?[0] = g.inner.n_edges();
        Ok(())
    })
}

/// Copies the edges out. `n_edges` must equal the graph's number of edges;
/// each output may be NULL to skip it: `centers` and `neighbors` (n_edges
/// ints each), `shifts` (3·n_edges ints), `vectors` (3·n_edges doubles, Å).
#[no_mangle]
pub unsafe extern "C" fn eqp_graph_edges(
    graph: *const eqp_graph_t,
    n_edges: usize,
    centers: *mut i32,
    neighbors: *mut i32,
    shifts: *mut i32,
    vectors: *mut f64,
) -> eqp_status_t {
    guard("eqp_graph_edges", || {
        let g = &handle(graph, "graph")?.inner;
        if n_edges != g.n_edges() {
            return Err(Error::LengthMismatch(format!(
                "n_edges is {n_edges} but the graph has {} edges",
                g.n_edges()
            )));
        }
        if !centers.is_null() {
            for (o, &i) in output(centers, n_edges, "centers")?.iter_mut().zip(&g.centers) {
                *o = i as i32;
            }
        }
        if !neighbors.is_null() {
            for (o, &j) in output(neighbors, n_edges, "neighbors")?.iter_mut().zip(&g.neighbors) {
                *o = j as i32;
            }
        }
        if !shifts.is_null() {
            output(shifts.cast::<[i32; 3]>(), n_edges, "shifts")?.copy_from_slice(&g.shifts);
        }
        if !vectors.is_null() {
            output(vectors.cast::<[f64; 3]>(), n_edges, "vectors")?.copy_from_slice(&g.vectors);
        }
        Ok(())
    })
}
