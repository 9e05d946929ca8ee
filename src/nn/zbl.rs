//! The Ziegler–Biersack–Littmark screened nuclear repulsion as mace-torch
//! 0.3.16's `ZBLBasis` computes it, forward and derivative side by side.
//!
//! For an edge from sender u to receiver v at distance r (mace's radial.py):
//!   a   = a_prefactor · 0.529 / (Z_u^a_exp + Z_v^a_exp)
//!   φ   = Σ_k c_k exp(−b_k r / a),  b = (3.2, 0.9423, 0.4028, 0.2016)
//!   V   = ½ · 14.3996 · Z_u Z_v / r · φ · f_p(r / (R_u + R_v)),
//! f_p mace's polynomial envelope (zero from R_u + R_v, the sum of the two
//! covalent radii, on); the receiver's energy is the sum of V over its edges.

use super::PolynomialCutoff;
use crate::{Error, Real, Result};

/// mace's screening exponents b_k (literals of its forward).
const EXPONENTS: [f64; 4] = [3.2, 0.9423, 0.4028, 0.2016];
/// e²/(4πε₀) in eV·Å and the Bohr radius in Å, as mace writes them.
const COULOMB: f64 = 14.3996;
const BOHR: f64 = 0.529;

/// What one species pair needs.
#[derive(Clone, Debug)]
struct Pair<T> {
    /// ½ · 14.3996 · Z_u Z_v.
    prefactor: T,
    /// 1/a.
    inv_a: T,
    /// R_u + R_v, where the envelope ends.
    r_max: T,
    envelope: PolynomialCutoff<T>,
}

/// ZBL repulsion between the species of a model (types 0..n).
#[derive(Clone, Debug)]
pub struct ZblRepulsion<T> {
    n_types: usize,
    c: [T; 4],
    pairs: Vec<Pair<T>>,
}

impl<T: Real> ZblRepulsion<T> {
    /// `numbers[t]`: the atomic number of type t; `c`, `a_exp`, `a_prefactor`
    /// and `covalent_radii` (indexed by Z) as the model stores them; `p` the
    /// envelope's exponent.
    pub fn new(numbers: &[i32], c: &[f64], a_exp: f64, a_prefactor: f64, covalent_radii: &[f64], p: u32) -> Result<Self> {
        let c: [f64; 4] = c.try_into().map_err(|_| Error::InvalidArgument(format!("ZBL: {} coefficients, expected 4", c.len())))?;
        let mut pairs = Vec::with_capacity(numbers.len() * numbers.len());
        for &zu in numbers {
            for &zv in numbers {
                let radius = |z: i32| {
                    usize::try_from(z).ok().and_then(|z| covalent_radii.get(z)).copied().filter(|r| r.is_finite() && *r > 0.0)
                };
                let (Some(ru), Some(rv)) = (radius(zu), radius(zv)) else {
                    return Err(Error::InvalidArgument(format!("ZBL: no covalent radius for Z = {zu} or {zv}")));
                };
                let (zu, zv) = (f64::from(zu), f64::from(zv));
                let a = a_prefactor * BOHR / (zu.powf(a_exp) + zv.powf(a_exp));
                pairs.push(Pair {
                    prefactor: T::of(0.5 * COULOMB * zu * zv),
                    inv_a: T::of(1.0 / a),
                    r_max: T::of(ru + rv),
                    envelope: PolynomialCutoff::new(ru + rv, p)?,
                });
            }
        }
        Ok(ZblRepulsion { n_types: numbers.len(), c: c.map(T::of), pairs })
    }

    /// (V, dV/dr) of the edge from a type-`sender` atom to a type-`receiver` one.
    #[inline]
    pub fn energy_and_derivative(&self, sender: usize, receiver: usize, r: T) -> (T, T) {
        let pair = &self.pairs[sender * self.n_types + receiver];
        if r >= pair.r_max {
            return (T::zero(), T::zero());
        }
        let (mut phi, mut dphi) = (T::zero(), T::zero());
        for (&c, &b) in self.c.iter().zip(&EXPONENTS) {
            let k = T::of(b) * pair.inv_a;
            let term = c * (-k * r).exp();
            phi += term;
            dphi -= k * term;
        }
        let (f, df) = (pair.envelope.value(r), pair.envelope.derivative(r));
        let g = pair.prefactor / r;
        let v = g * phi * f;
        let dv = g * (dphi * f + phi * df - phi * f / r);
        (v, dv)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ase_like_radii() -> Vec<f64> {
        let mut radii = vec![0.2; 20];
        (radii[1], radii[6], radii[8]) = (0.31, 0.76, 0.66);
        radii
    }

    #[test]
    fn value_matches_the_formula_and_derivative_matches_differences() {
        let c = [0.1818, 0.5099, 0.2802, 0.02817];
        let zbl = ZblRepulsion::<f64>::new(&[1, 6, 8], &c, 0.3, 0.4543, &ase_like_radii(), 5).unwrap();
        // C (type 1) and O (type 2) at 0.8 Å, by hand
        let r = 0.8;
        let a = 0.4543 * 0.529 / (6f64.powf(0.3) + 8f64.powf(0.3));
        let phi: f64 = c.iter().zip(EXPONENTS).map(|(c, b)| c * (-b * r / a).exp()).sum();
        let x = r / (0.76 + 0.66);
        let env = 1.0 - 21.0 * x.powi(5) + 35.0 * x.powi(6) - 15.0 * x.powi(7);
        let want = 0.5 * 14.3996 * 48.0 / r * phi * env;
        let (v, _) = zbl.energy_and_derivative(1, 2, r);
        assert!((v - want).abs() <= 1e-13 * want, "{v} vs {want}");
        assert_eq!(zbl.energy_and_derivative(2, 1, r).0, v);
        for (s, t, r) in [(0, 0, 0.3), (1, 2, 0.8), (0, 2, 0.95), (1, 1, 1.4)] {
            let h = 1e-6;
            let fd = (zbl.energy_and_derivative(s, t, r + h).0 - zbl.energy_and_derivative(s, t, r - h).0) / (2.0 * h);
            let (_, dv) = zbl.energy_and_derivative(s, t, r);
            assert!((fd - dv).abs() <= 1e-7 * dv.abs().max(1.0), "{s} {t} {r}: {fd} vs {dv}");
        }
        // zero from the covalent-radius sum on
        assert_eq!(zbl.energy_and_derivative(1, 2, 1.42), (0.0, 0.0));
        assert!(zbl.energy_and_derivative(1, 2, 1.419).0 > 0.0);
        assert!(ZblRepulsion::<f64>::new(&[1, 30], &c, 0.3, 0.4543, &ase_like_radii(), 5).is_err());
    }
}
