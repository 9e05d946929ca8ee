//! Irreducible representations of O(3) and their direct sums, with e3nn's
//! string syntax ("128x0e+64x1o+32x2e"), ordering and simplification rules.

use crate::{Error, Result};
use std::fmt;
use std::ops::Range;
use std::str::FromStr;

/// An irrep of O(3): degree `l` and parity `p` (+1 even "e", -1 odd "o").
/// Ordered as e3nn orders them, by (l, p): 0o < 0e < 1o < 1e < ...
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Irrep {
    /// Degree.
    pub l: u32,
    /// Parity, +1 or -1.
    pub p: i32,
}

impl Irrep {
    /// The irrep (l, p); panics if p is not ±1 (a programming error).
    pub const fn new(l: u32, p: i32) -> Irrep {
        assert!(p == 1 || p == -1, "parity must be +1 or -1");
        Irrep { l, p }
    }

    /// Dimension 2l + 1.
    pub const fn dim(&self) -> usize {
        2 * self.l as usize + 1
    }

    /// The parity of the spherical harmonic of degree l: (-1)^l.
    pub const fn spherical(l: u32) -> Irrep {
        Irrep { l, p: if l % 2 == 0 { 1 } else { -1 } }
    }

    /// Irreps in the product self ⊗ other: |l1 - l2| ..= l1 + l2, parity p1 p2.
    pub fn product(&self, other: &Irrep) -> impl Iterator<Item = Irrep> {
        let p = self.p * other.p;
        (self.l.abs_diff(other.l)..=self.l + other.l).map(move |l| Irrep { l, p })
    }
}

impl FromStr for Irrep {
    type Err = Error;
    fn from_str(s: &str) -> Result<Irrep> {
        let s = s.trim();
        let bad = || Error::InvalidArgument(format!("cannot read \"{s}\" as an irrep (like \"1o\")"));
        let (digits, parity) = s.split_at(s.len().checked_sub(1).ok_or_else(bad)?);
        let l: u32 = digits.parse().map_err(|_| bad())?;
        let p = match parity {
            "e" => 1,
            "o" => -1,
            "y" => Irrep::spherical(l).p,
            _ => return Err(bad()),
        };
        Ok(Irrep { l, p })
    }
}

impl fmt::Display for Irrep {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "{}{}", self.l, if self.p == 1 { "e" } else { "o" })
    }
}

/// `mul` copies of an irrep.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct MulIr {
    /// Multiplicity.
    pub mul: usize,
    /// The irrep.
    pub ir: Irrep,
}

impl MulIr {
    /// Dimension mul × (2l + 1).
    pub const fn dim(&self) -> usize {
        self.mul * self.ir.dim()
    }
}

/// A direct sum of irreps, in order. Within a block of `mul` copies, data is
/// laid out multiplicity-major: component m of copy u is at u·(2l+1) + m.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Irreps(pub Vec<MulIr>);

impl Irreps {
    /// Parses e3nn's syntax, e.g. "128x0e + 64x1o + 2e".
    pub fn parse(s: &str) -> Result<Irreps> {
        s.parse()
    }

    /// Spherical harmonics irreps 0e + 1o + ... up to lmax (parity (-1)^l).
    pub fn spherical_harmonics(lmax: u32) -> Irreps {
        Irreps((0..=lmax).map(|l| MulIr { mul: 1, ir: Irrep::spherical(l) }).collect())
    }

    /// Total dimension.
    pub fn dim(&self) -> usize {
        self.0.iter().map(MulIr::dim).sum()
    }

    /// Sum of multiplicities.
    pub fn num_irreps(&self) -> usize {
        self.0.iter().map(|m| m.mul).sum()
    }

    /// Largest l (0 when empty).
    pub fn lmax(&self) -> u32 {
        self.0.iter().map(|m| m.ir.l).max().unwrap_or(0)
    }

    /// Number of blocks.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// No blocks at all.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Iterates over blocks.
    pub fn iter(&self) -> std::slice::Iter<'_, MulIr> {
        self.0.iter()
    }

    /// The index range of each block in a feature vector.
    pub fn slices(&self) -> Vec<Range<usize>> {
        let mut start = 0;
        self.0
            .iter()
            .map(|m| {
                let r = start..start + m.dim();
                start = r.end;
                r
            })
            .collect()
    }

    /// Merges consecutive equal irreps and drops zero multiplicities
    /// (e3nn's `simplify`: it does not sort).
    pub fn simplify(&self) -> Irreps {
        let mut out: Vec<MulIr> = Vec::new();
        for m in &self.0 {
            match out.last_mut() {
                Some(last) if last.ir == m.ir => last.mul += m.mul,
                _ if m.mul > 0 => out.push(*m),
                _ => {}
            }
        }
        Irreps(out)
    }

    /// Stable sort by irrep (e3nn's `sort`). Returns the sorted irreps and
    /// `inv`, where sorted block k is original block inv[k].
    pub fn sort(&self) -> (Irreps, Vec<usize>) {
        let mut order: Vec<usize> = (0..self.0.len()).collect();
        order.sort_by_key(|&i| (self.0[i].ir, i));
        (Irreps(order.iter().map(|&i| self.0[i]).collect()), order)
    }

    /// Sort then simplify (e3nn's `regroup`).
    pub fn regroup(&self) -> Irreps {
        self.sort().0.simplify()
    }

    /// Total multiplicity of an irrep.
    pub fn count(&self, ir: Irrep) -> usize {
        self.0.iter().filter(|m| m.ir == ir).map(|m| m.mul).sum()
    }
}

impl FromStr for Irreps {
    type Err = Error;
    fn from_str(s: &str) -> Result<Irreps> {
        if s.trim().is_empty() {
            return Ok(Irreps::default());
        }
        let mut out = Vec::new();
        for term in s.split('+') {
            let (mul, ir) = match term.split_once('x') {
                Some((mul, ir)) => (
                    mul.trim().parse().map_err(|_| {
                        Error::InvalidArgument(format!("bad multiplicity in \"{term}\" of \"{s}\""))
                    })?,
                    ir,
                ),
                None => (1, term),
            };
            out.push(MulIr { mul, ir: ir.parse()? });
        }
        Ok(Irreps(out))
    }
}

impl fmt::Display for Irreps {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        for (k, m) in self.0.iter().enumerate() {
            if k > 0 {
                write!(f, "+")?;
            }
            write!(f, "{}x{}", m.mul, m.ir)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_print() {
        let x = Irreps::parse("128x0e + 64x1o+32x2e").unwrap();
        assert_eq!(x.to_string(), "128x0e+64x1o+32x2e");
        assert_eq!(x.dim(), 128 + 64 * 3 + 32 * 5);
        assert_eq!(x.num_irreps(), 224);
        assert_eq!(x.lmax(), 2);
        assert_eq!(Irreps::parse("1y+2y").unwrap().to_string(), "1x1o+1x2e");
        assert_eq!(Irreps::parse("").unwrap(), Irreps::default());
        assert!(Irreps::parse("3x").is_err());
        assert!(Irreps::parse("ax1e").is_err());
        assert!(Irreps::parse("1q").is_err());
    }

    #[test]
    fn e3nn_examples() {
        // The examples of e3nn 0.6's docstrings.
        assert_eq!(Irreps::parse("1e + 1e + 0e").unwrap().simplify().to_string(), "2x1e+1x0e");
        assert_eq!(Irreps::parse("1e + 1e + 0e + 1e").unwrap().simplify().to_string(), "2x1e+1x0e+1x1e");
        let (sorted, inv) = Irreps::parse("2o + 1e + 0e + 1e").unwrap().sort();
        assert_eq!(sorted.to_string(), "1x0e+1x1e+1x1e+1x2o");
        assert_eq!(inv, vec![2, 1, 3, 0]);
        assert_eq!(Irreps::parse("1e + 0e + 1e + 0x2e").unwrap().regroup().to_string(), "1x0e+2x1e");
        assert!(Irrep::from_str("0o").unwrap() < Irrep::from_str("0e").unwrap());
    }
}
