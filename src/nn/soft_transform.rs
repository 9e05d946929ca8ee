//! mace-torch 0.3.16's `SoftTransform` of an edge length before the radial
//! basis, and its derivative side by side. For an edge between species u, v:
//!   r0 = R_u + R_v (not halved),  p0 = 3 r0 / 4,  p1 = 4 r0 / 3,  m = (p0 + p1) / 2,
//!   s = (1 + tanh(α (r − m) / (p1 − p0))) / 2,  r' = p0 + (r − p0) s,
//! R the covalent radii the model stores, α its buffer.

use crate::{Error, Real, Result};

/// Per species pair: p0, m and α / (p1 − p0).
#[derive(Clone, Debug)]
struct Pair<T> {
    p0: T,
    m: T,
    slope: T,
}

/// The transform between the species of a model (types 0..n).
#[derive(Clone, Debug)]
pub struct SoftTransform<T> {
    n_types: usize,
    pairs: Vec<Pair<T>>,
}

impl<T: Real> SoftTransform<T> {
    /// `numbers[t]`: the atomic number of type t; `alpha` and `covalent_radii` (indexed by Z) as stored.
    pub fn new(numbers: &[i32], alpha: f64, covalent_radii: &[f64]) -> Result<Self> {
        let radius = |z: i32| {
            usize::try_from(z)
                .ok()
                .and_then(|z| covalent_radii.get(z))
                .copied()
                .filter(|r| r.is_finite() && *r > 0.0)
                .ok_or_else(|| Error::InvalidArgument(format!("Soft transform: no covalent radius for Z = {z}")))
        };
        if !alpha.is_finite() {
            return Err(Error::InvalidArgument(format!("Soft transform: alpha = {alpha} is not finite")));
        }
        let mut pairs = Vec::with_capacity(numbers.len() * numbers.len());
        for &zu in numbers {
            for &zv in numbers {
                // mace's order of operations: (3/4)·r0, (4/3)·r0, 0.5·(p0 + p1), alpha / (p1 − p0)
                let r0 = radius(zu)? + radius(zv)?;
                let (p0, p1) = (0.75 * r0, (4.0 / 3.0) * r0);
                pairs.push(Pair { p0: T::of(p0), m: T::of(0.5 * (p0 + p1)), slope: T::of(alpha / (p1 - p0)) });
            }
        }
        Ok(SoftTransform { n_types: numbers.len(), pairs })
    }

    /// Number of types.
    pub fn n_types(&self) -> usize {
        self.n_types
    }

    /// (r', dr'/dr) of an edge from a type-`sender` atom to a type-`receiver` one.
    #[inline]
    pub fn apply(&self, sender: usize, receiver: usize, r: T) -> (T, T) {
        let Pair { p0, m, slope } = self.pairs[sender * self.n_types + receiver];
        let half = T::of(0.5);
        let t = (slope * (r - m)).tanh();
        let s = half * (T::one() + t);
        (p0 + (r - p0) * s, s + (r - p0) * half * slope * (T::one() - t * t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_and_derivative() {
        let mut radii = vec![0.5; 10];
        (radii[1], radii[6]) = (0.31, 0.76);
        let t = SoftTransform::<f64>::new(&[1, 6], 4.0, &radii).unwrap();
        let r0: f64 = 0.31 + 0.76;
        let (p0, p1) = (0.75 * r0, 4.0 / 3.0 * r0);
        let r = 1.1;
        let want = p0 + (r - p0) * 0.5 * (1.0 + (4.0 / (p1 - p0) * (r - 0.5 * (p0 + p1))).tanh());
        assert!((t.apply(0, 1, r).0 - want).abs() < 1e-15);
        // r' → p0 well below the pair's radii, → r well above
        assert!((t.apply(1, 1, 0.2).0 - 0.75 * 1.52).abs() < 1e-3);
        assert!((t.apply(1, 1, 5.0).0 - 5.0).abs() < 1e-9);
        for r in [0.2, 0.7, 1.1, 1.5, 3.0, 5.5] {
            let h = 1e-6;
            let fd = (t.apply(1, 0, r + h).0 - t.apply(1, 0, r - h).0) / (2.0 * h);
            let d = t.apply(1, 0, r).1;
            assert!((fd - d).abs() < 1e-8 * d.abs().max(1e-3), "{r}: {fd} vs {d}");
        }
        assert!(SoftTransform::<f64>::new(&[1, 30], 4.0, &radii).is_err());
        assert!(SoftTransform::<f64>::new(&[1], f64::NAN, &radii).is_err());
    }
}
