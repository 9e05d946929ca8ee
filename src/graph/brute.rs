//! O(N² × images) neighbor search: the oracle the fast search is tested
//! against, and the definition of what a neighbor list contains.

use super::cell::Cell;
use super::{norm2, AtomGraph};
use crate::Result;

/// Full neighbor list by checking every pair against every periodic image
/// that can be within `cutoff`. For tests and tiny systems only.
pub fn neighbors_brute_force(
    positions: &[[f64; 3]],
    cell: Option<[[f64; 3]; 3]>,
    pbc: [bool; 3],
    cutoff: f64,
) -> Result<AtomGraph> {
    super::check_cutoff(cutoff)?;
    let cell = Cell::new(cell, pbc)?;
    cell.check_reach(cutoff)?;
    search(positions, &cell, cutoff)
}

fn search(positions: &[[f64; 3]], cell: &Cell, cutoff: f64) -> Result<AtomGraph> {
    // Wrap along periodic axes; remember by how many cells each atom moved.
    let n = positions.len();
    let mut wrapped = Vec::with_capacity(n);
    let mut moved = Vec::with_capacity(n);
    for r in positions {
        let (w, m) = cell.wrap(r)?;
        wrapped.push(w);
        moved.push(m);
    }
    // Wrapped atoms are (up to rounding) inside the cell, so an image more
    // than cutoff / face distance cells away is out of reach; one more image
    // than that covers points that rounding left just outside the cell.
    let d = cell.face_distances();
    let reach: Vec<i32> =
        (0..3).map(|k| if cell.pbc[k] { (cutoff / d[k]).floor() as i32 + 1 } else { 0 }).collect();
    let cut2 = cutoff * cutoff;
    let mut graph = AtomGraph {
        positions: positions.to_vec(),
        cell: cell.given,
        pbc: cell.pbc,
        cutoff,
        offsets: vec![0],
        ..Default::default()
    };
    for i in 0..n {
        let mut row = Vec::new();
        for j in 0..n {
            for a in -reach[0]..=reach[0] {
                for b in -reach[1]..=reach[1] {
                    for c in -reach[2]..=reach[2] {
                        if i == j && a == 0 && b == 0 && c == 0 {
                            continue;
                        }
                        // i moved back by the image translation: the same
                        // rounding as in the cell-list search.
                        let t = cell.cartesian([a as f64, b as f64, c as f64]);
                        let origin = [wrapped[i][0] - t[0], wrapped[i][1] - t[1], wrapped[i][2] - t[2]];
                        let v = [wrapped[j][0] - origin[0], wrapped[j][1] - origin[1], wrapped[j][2] - origin[2]];
                        if norm2(&v) < cut2 {
                            let s = [
                                a + moved[i][0] - moved[j][0],
                                b + moved[i][1] - moved[j][1],
                                c + moved[i][2] - moved[j][2],
                            ];
                            row.push((j as u32, s));
                        }
                    }
                }
            }
        }
        row.sort_unstable();
        for (j, s) in row {
            let t = cell.cartesian([s[0] as f64, s[1] as f64, s[2] as f64]);
            let pj = positions[j as usize];
            let pi = positions[i];
            graph.centers.push(i as u32);
            graph.neighbors.push(j);
            graph.shifts.push(s);
            graph.vectors.push([pj[0] - pi[0] + t[0], pj[1] - pi[1] + t[1], pj[2] - pi[2] + t[2]]);
        }
        graph.offsets.push(graph.centers.len());
    }
    Ok(graph)
}
