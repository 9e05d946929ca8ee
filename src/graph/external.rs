//! Graphs from a host's own neighbor list (local + ghost atoms).

use super::{check_atoms, check_cutoff, norm2, AtomGraph, NeighborList, MIN_DISTANCE};
use crate::{invalid, Error, Result};

pub(super) fn from_neighbor_list(list: &NeighborList) -> Result<AtomGraph> {
    check_atoms(list.positions, list.numbers)?;
    check_cutoff(list.cutoff)?;
    let n_atoms = list.positions.len();
    if list.n_local > n_atoms {
        return Err(Error::LengthMismatch(format!(
            "{} local atoms but only {n_atoms} atoms in all",
            list.n_local
        )));
    }
    if list.offsets.is_empty() {
        return Err(Error::LengthMismatch("offsets must hold at least one entry (0)".into()));
    }
    let n_rows = list.offsets.len() - 1;
    if n_rows > n_atoms {
        return Err(Error::LengthMismatch(format!(
            "neighbor rows for {n_rows} atoms but only {n_atoms} atoms"
        )));
    }
    if list.offsets[0] != 0 || list.offsets[n_rows] != list.neighbors.len() {
        return Err(Error::LengthMismatch(format!(
            "offsets must start at 0 and end at the number of neighbors ({}), got {} and {}",
            list.neighbors.len(),
            list.offsets[0],
            list.offsets[n_rows]
        )));
    }
    if let Some(i) = (0..n_rows).find(|&i| list.offsets[i] > list.offsets[i + 1]) {
        return invalid!("offsets decrease at row {i}: {} > {}", list.offsets[i], list.offsets[i + 1]);
    }
    let cut2 = list.cutoff * list.cutoff;
    let mut graph = AtomGraph {
        positions: list.positions.to_vec(),
        numbers: list.numbers.to_vec(),
        n_local: list.n_local,
        cutoff: list.cutoff,
        offsets: Vec::with_capacity(n_atoms + 1),
        ..Default::default()
    };
    graph.offsets.push(0);
    for i in 0..n_rows {
        let (start, end) = (list.offsets[i], list.offsets[i + 1]);
        let pi = list.positions[i];
        for &j in &list.neighbors[start..end] {
            let ju = j as usize;
            if ju >= n_atoms {
                return invalid!("atom {i} has neighbor {j}, but there are only {n_atoms} atoms");
            }
            let pj = list.positions[ju];
            let v = [pj[0] - pi[0], pj[1] - pi[1], pj[2] - pi[2]];
            let r2 = norm2(&v);
            if r2 >= cut2 {
                continue;
            }
            if r2 < MIN_DISTANCE * MIN_DISTANCE {
                return invalid!("atoms {i} and {j} are at the same position");
            }
            graph.centers.push(i as u32);
            graph.neighbors.push(j);
            graph.shifts.push([0; 3]);
            graph.vectors.push(v);
        }
        graph.offsets.push(graph.centers.len());
    }
    graph.offsets.resize(n_atoms + 1, graph.centers.len());
    Ok(graph)
}
