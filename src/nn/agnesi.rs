//! mace-torch 0.3.16's `AgnesiTransform` of an edge length before the radial
//! basis, and its derivative side by side. For an edge between species u, v:
//!   r0 = (R_u + R_v) / 2,  x = r / r0,  r' = 1 / (1 + a x^q / (1 + x^(q − p))),
//! R the covalent radii the model stores; q, p, a its buffers.

use crate::{Error, Real, Result};

/// The transform between the species of a model (types 0..n).
#[derive(Clone, Debug)]
pub struct AgnesiTransform<T> {
    n_types: usize,
    q: T,
    p: T,
    a: T,
    /// 1/r0 per species pair.
    inv_r0: Vec<T>,
}

impl<T: Real> AgnesiTransform<T> {
    /// `numbers[t]`: the atomic number of type t; the buffers as the model stores them.
    pub fn new(numbers: &[i32], q: f64, p: f64, a: f64, covalent_radii: &[f64]) -> Result<Self> {
        let radius = |z: i32| {
            usize::try_from(z)
                .ok()
                .and_then(|z| covalent_radii.get(z))
                .copied()
                .filter(|r| r.is_finite() && *r > 0.0)
                .ok_or_else(|| Error::InvalidArgument(format!("Agnesi transform: no covalent radius for Z = {z}")))
        };
        let mut inv_r0 = Vec::with_capacity(numbers.len() * numbers.len());
        for &zu in numbers {
            for &zv in numbers {
                inv_r0.push(T::of(1.0 / (0.5 * (radius(zu)? + radius(zv)?))));
            }
        }
        Ok(AgnesiTransform { n_types: numbers.len(), q: T::of(q), p: T::of(p), a: T::of(a), inv_r0 })
    }

    /// Number of types.
    pub fn n_types(&self) -> usize {
        self.n_types
    }

    /// (r', dr'/dr) of an edge from a type-`sender` atom to a type-`receiver` one.
    #[inline]
    pub fn apply(&self, sender: usize, receiver: usize, r: T) -> (T, T) {
        let inv_r0 = self.inv_r0[sender * self.n_types + receiver];
        let x = r * inv_r0;
        let one = T::one();
        let xq = x.powf(self.q);
        let xqp = x.powf(self.q - self.p);
        let den = one + xqp;
        let g = self.a * xq / den;
        // dg/dx = a (q x^(q−1) (1 + x^(q−p)) − (q − p) x^q x^(q−p−1)) / (1 + x^(q−p))²
        let dg = self.a * (self.q * xq * den - (self.q - self.p) * xq * xqp) / (x * den * den);
        let y = one / (one + g);
        (y, -y * y * dg * inv_r0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_and_derivative() {
        let mut radii = vec![0.5; 10];
        (radii[1], radii[6]) = (0.31, 0.76);
        let t = AgnesiTransform::<f64>::new(&[1, 6], 0.9183, 4.5791, 1.0805, &radii).unwrap();
        let r = 1.1;
        let x: f64 = r / (0.5 * (0.31 + 0.76));
        let want = 1.0 / (1.0 + 1.0805 * x.powf(0.9183) / (1.0 + x.powf(0.9183 - 4.5791)));
        assert!((t.apply(0, 1, r).0 - want).abs() < 1e-15);
        for r in [0.2, 0.7, 1.1, 3.0, 5.5] {
            let h = 1e-6;
            let fd = (t.apply(1, 1, r + h).0 - t.apply(1, 1, r - h).0) / (2.0 * h);
            let d = t.apply(1, 1, r).1;
            assert!((fd - d).abs() < 1e-8 * d.abs().max(1e-3), "{r}: {fd} vs {d}");
        }
        assert!(AgnesiTransform::<f64>::new(&[1, 30], 0.9, 4.6, 1.1, &radii).is_err());
    }
}
