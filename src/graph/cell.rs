//! Periodic cells: validation, fractional coordinates, and the neighbor search
//! entry point.

use super::AtomGraph;
use crate::{invalid, Result};

/// A validated cell. Rows of `matrix` are the periodic lattice vectors as
/// given; a non-periodic axis gets a unit vector orthogonal to the periodic
/// ones, so that fractional coordinates are always defined.
#[derive(Clone, Copy, Debug)]
pub struct Cell {
    /// Lattice vectors (rows), completed along non-periodic axes.
    pub matrix: [[f64; 3]; 3],
    /// The cell as the caller gave it (zeros if none).
    pub given: [[f64; 3]; 3],
    /// Periodic axes.
    pub pbc: [bool; 3],
    /// Inverse of `matrix`: fractional = cartesian · inverse.
    pub inverse: [[f64; 3]; 3],
}

impl Cell {
    /// Validates a cell: finite, and non-degenerate along its periodic axes.
    pub fn new(cell: Option<[[f64; 3]; 3]>, pbc: [bool; 3]) -> Result<Cell> {
        let given = match cell {
            Some(c) => c,
            None if pbc.iter().any(|&p| p) => {
                return invalid!("a cell is required when an axis is periodic (pbc = {pbc:?})")
            }
            None => [[0.0; 3]; 3],
        };
        if !given.iter().flatten().all(|x| x.is_finite()) {
            return invalid!("the cell is not finite: {given:?}");
        }
        let periodic: Vec<usize> = (0..3).filter(|&k| pbc[k]).collect();
        for &k in &periodic {
            if norm(&given[k]) == 0.0 {
                return invalid!("periodic axis {k} has a zero-length cell vector");
            }
        }
        let mut matrix = [[0.0; 3]; 3];
        for &k in &periodic {
            matrix[k] = given[k];
        }
        match periodic.len() {
            0 => matrix = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
            1 => {
                let k = periodic[0];
                let u = scale(&given[k], 1.0 / norm(&given[k]));
                let (v, w) = orthonormal_complement(&u);
                matrix[(k + 1) % 3] = v;
                matrix[(k + 2) % 3] = w;
            }
            2 => {
                let free = (0..3).find(|&k| !pbc[k]).unwrap();
                let n = cross(&given[periodic[0]], &given[periodic[1]]);
                let scale_ = norm(&given[periodic[0]]) * norm(&given[periodic[1]]);
                if norm(&n) <= 1e-10 * scale_ {
                    return invalid!("the two periodic cell vectors are parallel: the cell is singular");
                }
                matrix[free] = self::scale(&n, 1.0 / norm(&n));
            }
            _ => {}
        }
        let d = det(&matrix);
        let volume_scale = norm(&matrix[0]) * norm(&matrix[1]) * norm(&matrix[2]);
        if d.abs() <= 1e-10 * volume_scale {
            return invalid!("the cell is singular (determinant {d:e})");
        }
        Ok(Cell { matrix, given, pbc, inverse: inverse(&matrix, d) })
    }

    /// Distance between opposite faces of the cell along each axis (Å).
    pub fn face_distances(&self) -> [f64; 3] {
        let volume = det(&self.matrix).abs();
        let m = &self.matrix;
        [
            volume / norm(&cross(&m[1], &m[2])),
            volume / norm(&cross(&m[2], &m[0])),
            volume / norm(&cross(&m[0], &m[1])),
        ]
    }

    /// Fractional coordinates of a cartesian point.
    pub fn fractional(&self, r: &[f64; 3]) -> [f64; 3] {
        let m = &self.inverse;
        [
            r[0] * m[0][0] + r[1] * m[1][0] + r[2] * m[2][0],
            r[0] * m[0][1] + r[1] * m[1][1] + r[2] * m[2][1],
            r[0] * m[0][2] + r[1] * m[1][2] + r[2] * m[2][2],
        ]
    }

    /// Rejects a cutoff that spans more than `MAX_IMAGES` cells along a
    /// periodic axis: every atom would have thousands of images of each
    /// neighbor, and the list would not fit in memory.
    pub fn check_reach(&self, cutoff: f64) -> Result<()> {
        let d = self.face_distances();
        for k in (0..3).filter(|&k| self.pbc[k]) {
            if cutoff / d[k] > MAX_IMAGES {
                return invalid!(
                    "the cutoff ({cutoff} Å) spans more than {MAX_IMAGES} cells along periodic axis {k} \
                     (the cell is {:e} Å thick there)",
                    d[k]
                );
            }
        }
        Ok(())
    }

    /// Moves a point into the cell along the periodic axes: returns the
    /// wrapped point and by how many cells it moved (`r = wrapped + moved ·
    /// matrix`), or an error when it lies too many cells away for integer
    /// shifts to stay exact.
    pub fn wrap(&self, r: &[f64; 3]) -> Result<([f64; 3], [i32; 3])> {
        let f = self.fractional(r);
        let mut moved = [0i32; 3];
        for k in 0..3 {
            if self.pbc[k] {
                let m = f[k].floor();
                if m.abs() > MAX_CELLS_AWAY {
                    return invalid!("position {r:?} lies {m:e} cells away from the cell along axis {k}");
                }
                moved[k] = m as i32;
            }
        }
        let back = self.cartesian([moved[0] as f64, moved[1] as f64, moved[2] as f64]);
        Ok(([r[0] - back[0], r[1] - back[1], r[2] - back[2]], moved))
    }

    /// Cartesian vector of an integer (or fractional) shift: shift · matrix.
    pub fn cartesian(&self, s: [f64; 3]) -> [f64; 3] {
        let m = &self.matrix;
        [
            s[0] * m[0][0] + s[1] * m[1][0] + s[2] * m[2][0],
            s[0] * m[0][1] + s[1] * m[1][1] + s[2] * m[2][1],
            s[0] * m[0][2] + s[1] * m[1][2] + s[2] * m[2][2],
        ]
    }
}

/// A cutoff may span at most this many cells along a periodic axis.
const MAX_IMAGES: f64 = 1000.0;

/// Atoms may lie at most this many cells away from the cell along a periodic
/// axis, so that image shifts (sums of two such counts) fit in an `i32`.
const MAX_CELLS_AWAY: f64 = (1 << 29) as f64;

/// Full neighbor list of `positions` in `cell` within `cutoff`, sorted by
/// center, then neighbor, then shift (cell lists, `cell_list.rs`); an error
/// for two atoms at the same position. `numbers` and `n_local` are left for
/// the caller to fill.
pub(super) fn neighbors(
    positions: &[[f64; 3]],
    cell: &Cell,
    cutoff: f64,
    max_edges: usize,
) -> Result<std::result::Result<AtomGraph, (usize, usize)>> {
    cell.check_reach(cutoff)?;
    super::cell_list::search(positions, cell, cutoff, max_edges)
}

pub(crate) fn det(m: &[[f64; 3]; 3]) -> f64 {
    m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) - m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0])
        + m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0])
}

fn inverse(m: &[[f64; 3]; 3], d: f64) -> [[f64; 3]; 3] {
    let mut inv = [[0.0; 3]; 3];
    for i in 0..3 {
        for j in 0..3 {
            let (a, b) = ((j + 1) % 3, (j + 2) % 3);
            let (c, e) = ((i + 1) % 3, (i + 2) % 3);
            inv[i][j] = (m[a][c] * m[b][e] - m[a][e] * m[b][c]) / d;
        }
    }
    inv
}

pub(crate) fn cross(a: &[f64; 3], b: &[f64; 3]) -> [f64; 3] {
    [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]]
}

pub(crate) fn norm(a: &[f64; 3]) -> f64 {
    super::norm2(a).sqrt()
}

fn scale(a: &[f64; 3], s: f64) -> [f64; 3] {
    [a[0] * s, a[1] * s, a[2] * s]
}

fn orthonormal_complement(u: &[f64; 3]) -> ([f64; 3], [f64; 3]) {
    let helper = if u[0].abs() < 0.9 { [1.0, 0.0, 0.0] } else { [0.0, 1.0, 0.0] };
    let v = cross(u, &helper);
    let v = scale(&v, 1.0 / norm(&v));
    (v, cross(u, &v))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inverse_is_inverse() {
        let m = [[3.0, 0.1, -0.2], [1.5, 2.5, 0.3], [0.4, -0.7, 4.0]];
        let inv = inverse(&m, det(&m));
        for i in 0..3 {
            for j in 0..3 {
                let s: f64 = (0..3).map(|k| m[i][k] * inv[k][j]).sum();
                assert!((s - if i == j { 1.0 } else { 0.0 }).abs() < 1e-14);
            }
        }
    }
}
