//! The sparse structure of the Wigner-3j symbols, for tensor-product kernels:
//! only the nonzero C[m1][m2][m3] of a path (l1, l2) → l3, as a list.

use crate::so3::wigner_3j;
use crate::{Real, Result};

/// Entries below this magnitude are rounding residue of exact zeros (true
/// nonzeros of the unit-norm symbols for l ≤ 12 are far larger).
const ZERO: f64 = 1e-14;

/// One nonzero coefficient: indices are m + l, in 0..2l+1.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CgEntry<T> {
    /// Index into the first input, m1 + l1.
    pub i: u16,
    /// Index into the second input, m2 + l2.
    pub j: u16,
    /// Index into the output, m3 + l3.
    pub k: u16,
    /// C[i][j][k] as e3nn's `o3.wigner_3j(l1, l2, l3)`.
    pub value: T,
}

/// The nonzero Wigner-3j coefficients of (l1, l2, l3), in (i, j, k) order.
#[derive(Clone, Debug)]
pub struct Cg {
    /// Degree of the first input.
    pub l1: u32,
    /// Degree of the second input.
    pub l2: u32,
    /// Degree of the output.
    pub l3: u32,
    /// The nonzero entries.
    pub entries: Vec<CgEntry<f64>>,
}

impl Cg {
    /// The sparse form of `wigner_3j(l1, l2, l3)`; an error off the triangle rule.
    pub fn new(l1: u32, l2: u32, l3: u32) -> Result<Cg> {
        let dense = wigner_3j(l1, l2, l3)?;
        let (d2, d3) = (2 * l2 as usize + 1, 2 * l3 as usize + 1);
        let entries = dense
            .iter()
            .enumerate()
            .filter(|(_, v)| v.abs() > ZERO)
            .map(|(flat, &value)| CgEntry {
                i: (flat / (d2 * d3)) as u16,
                j: (flat / d3 % d2) as u16,
                k: (flat % d3) as u16,
                value,
            })
            .collect();
        Ok(Cg { l1, l2, l3, entries })
    }

    /// The entries in precision T.
    pub fn entries_as<T: Real>(&self) -> Vec<CgEntry<T>> {
        self.entries.iter().map(|e| CgEntry { i: e.i, j: e.j, k: e.k, value: T::of(e.value) }).collect()
    }

    /// Back to the dense row-major (2l1+1)(2l2+1)(2l3+1) array.
    pub fn dense(&self) -> Vec<f64> {
        let (d1, d2, d3) = (2 * self.l1 as usize + 1, 2 * self.l2 as usize + 1, 2 * self.l3 as usize + 1);
        let mut out = vec![0.0; d1 * d2 * d3];
        for e in &self.entries {
            out[(e.i as usize * d2 + e.j as usize) * d3 + e.k as usize] = e.value;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparse_keeps_everything_but_rounding() {
        for l1 in 0..=6u32 {
            for l2 in 0..=6 {
                for l3 in l1.abs_diff(l2)..=l1 + l2 {
                    let dense = wigner_3j(l1, l2, l3).unwrap();
                    let cg = Cg::new(l1, l2, l3).unwrap();
                    let dropped: f64 = dense.iter().zip(cg.dense()).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
                    assert!(dropped < 1e-14, "({l1},{l2},{l3}) dropped {dropped}");
                    // selection rule of the real basis: fewer than a third survive
                    assert!(cg.entries.len() * 3 <= dense.len().max(3), "({l1},{l2},{l3})");
                }
            }
        }
        assert!(Cg::new(1, 1, 3).is_err());
    }
}
