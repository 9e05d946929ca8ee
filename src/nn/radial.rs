//! Radial functions of the edge length r, as SevenNet (sevenn 0.13) defines
//! them: the Bessel basis with trainable frequencies, NequIP's polynomial
//! cutoff and the XPLOR cutoff. Each gives values and the vector–Jacobian
//! product with respect to r.

use crate::{invalid, Error, Real, Result};
use rayon::prelude::*;

/// Edges per parallel task.
const EDGES_PER_TASK: usize = 256;

/// B_k(r) = (2/r_c)·sin(c_k r)/r, c_k = kπ/r_c unless trained (SevenNet);
/// MACE's prefactor is √(2/r_c) instead ([`BesselBasis::with_prefactor`]).
#[derive(Clone, Debug)]
pub struct BesselBasis<T> {
    prefactor: T,
    coeffs: Vec<T>,
}

impl<T: Real> BesselBasis<T> {
    /// With the untrained frequencies kπ/r_c, k = 1..=n.
    pub fn new(cutoff: f64, n: usize) -> Result<Self> {
        let coeffs: Vec<f64> = (1..=n).map(|k| k as f64 * std::f64::consts::PI / cutoff).collect();
        Self::with_coeffs(cutoff, &coeffs)
    }

    /// With given (trained) frequencies c_k.
    pub fn with_coeffs(cutoff: f64, coeffs: &[f64]) -> Result<Self> {
        if !(cutoff.is_finite() && cutoff > 0.0) {
            return invalid!("Bessel basis: cutoff {cutoff} must be positive");
        }
        Self::with_prefactor(2.0 / cutoff, coeffs)
    }

    /// With frequencies c_k and prefactor p: B_k(r) = p·sin(c_k r)/r.
    pub fn with_prefactor(prefactor: f64, coeffs: &[f64]) -> Result<Self> {
        if !prefactor.is_finite() || coeffs.is_empty() || coeffs.iter().any(|c| !c.is_finite()) {
            return invalid!("Bessel basis: prefactor {prefactor} and {} coefficients must be finite", coeffs.len());
        }
        Ok(BesselBasis { prefactor: T::of(prefactor), coeffs: coeffs.iter().map(|&c| T::of(c)).collect() })
    }

    /// Number of basis functions.
    pub fn len(&self) -> usize {
        self.coeffs.len()
    }

    /// Always false: a basis has at least one function.
    pub fn is_empty(&self) -> bool {
        self.coeffs.is_empty()
    }

    /// out[e, k] = B_k(r[e]) (edges × len).
    pub fn forward(&self, r: &[T], out: &mut [T]) -> Result<()> {
        let n = self.len();
        check(r.len() * n, out.len(), "Bessel basis output")?;
        out.par_chunks_mut(EDGES_PER_TASK * n).zip(r.par_chunks(EDGES_PER_TASK)).for_each(|(out, r)| {
            for (out, &r) in out.chunks_exact_mut(n).zip(r) {
                let p = self.prefactor / r;
                out.iter_mut().zip(&self.coeffs).for_each(|(o, &c)| *o = p * (c * r).sin());
            }
        });
        Ok(())
    }

    /// grad_r[e] = Σ_k grad[e, k]·B_k'(r[e]), with
    /// B_k' = (2/r_c)·(c_k r cos(c_k r) − sin(c_k r))/r².
    pub fn backward(&self, r: &[T], grad: &[T], grad_r: &mut [T]) -> Result<()> {
        let n = self.len();
        check(r.len() * n, grad.len(), "Bessel basis gradient")?;
        check(r.len(), grad_r.len(), "Bessel basis grad_r")?;
        grad_r.par_iter_mut().zip(r.par_iter()).zip(grad.par_chunks(n)).for_each(|((gr, &r), g)| {
            let p = self.prefactor / (r * r);
            *gr = g
                .iter()
                .zip(&self.coeffs)
                .map(|(&g, &c)| {
                    let (s, co) = (c * r).sin_cos();
                    g * p * (c * r * co - s)
                })
                .sum();
        });
        Ok(())
    }
}

/// NequIP's polynomial envelope, x = r/r_c:
/// f = 1 − (p+1)(p+2)/2·x^p + p(p+2)·x^(p+1) − p(p+1)/2·x^(p+2).
/// As sevenn computes it, without clamping beyond r_c (it is 0 at r_c).
#[derive(Clone, Debug)]
pub struct PolynomialCutoff<T> {
    inv_cutoff: T,
    p: i32,
    c0: T,
    c1: T,
    c2: T,
}

impl<T: Real> PolynomialCutoff<T> {
    /// Cutoff r_c and exponent p (6 in SevenNet and NequIP).
    pub fn new(cutoff: f64, p: u32) -> Result<Self> {
        if !(cutoff.is_finite() && cutoff > 0.0) || p == 0 {
            return invalid!("polynomial cutoff: r_c = {cutoff} must be positive and p = {p} at least 1");
        }
        let pf = p as f64;
        Ok(PolynomialCutoff {
            inv_cutoff: T::of(1.0 / cutoff),
            p: p as i32,
            c0: T::of((pf + 1.0) * (pf + 2.0) / 2.0),
            c1: T::of(pf * (pf + 2.0)),
            c2: T::of(pf * (pf + 1.0) / 2.0),
        })
    }

    /// f(r).
    #[inline]
    pub fn value(&self, r: T) -> T {
        let x = r * self.inv_cutoff;
        let xp = x.powi(self.p);
        T::one() - self.c0 * xp + self.c1 * xp * x - self.c2 * xp * x * x
    }

    /// f'(r).
    #[inline]
    pub fn derivative(&self, r: T) -> T {
        let x = r * self.inv_cutoff;
        let xp1 = x.powi(self.p - 1);
        let p = T::of(self.p as f64);
        let one = T::one();
        (-self.c0 * p + self.c1 * (p + one) * x - self.c2 * (p + one + one) * x * x) * xp1 * self.inv_cutoff
    }

    /// out[e] = f(r[e]).
    pub fn forward(&self, r: &[T], out: &mut [T]) -> Result<()> {
        elementwise(r, out, |r| self.value(r), "polynomial cutoff")
    }

    /// grad_r[e] = grad[e]·f'(r[e]).
    pub fn backward(&self, r: &[T], grad: &[T], grad_r: &mut [T]) -> Result<()> {
        elementwise_vjp(r, grad, grad_r, |r| self.derivative(r), "polynomial cutoff")
    }
}

/// The XPLOR switch: 1 below r_on, then
/// f = (r_c² − r²)²(r_c² + 2r² − 3r_on²)/(r_c² − r_on²)³.
#[derive(Clone, Debug)]
pub struct XplorCutoff<T> {
    r_on: T,
    rc2: T,
    ron2: T,
    inv_denominator: T,
}

impl<T: Real> XplorCutoff<T> {
    /// Cutoff r_c and switch-on radius r_on < r_c.
    pub fn new(cutoff: f64, cutoff_on: f64) -> Result<Self> {
        if !(cutoff.is_finite() && cutoff_on.is_finite() && 0.0 <= cutoff_on && cutoff_on < cutoff) {
            return invalid!("XPLOR cutoff: need 0 <= r_on < r_c, got r_on = {cutoff_on}, r_c = {cutoff}");
        }
        let (rc2, ron2) = (cutoff * cutoff, cutoff_on * cutoff_on);
        Ok(XplorCutoff {
            r_on: T::of(cutoff_on),
            rc2: T::of(rc2),
            ron2: T::of(ron2),
            inv_denominator: T::of(1.0 / (rc2 - ron2).powi(3)),
        })
    }

    /// The switch-on radius.
    pub fn r_on(&self) -> T {
        self.r_on
    }

    /// f(r).
    #[inline]
    pub fn value(&self, r: T) -> T {
        if r < self.r_on {
            return T::one();
        }
        let r2 = r * r;
        let a = self.rc2 - r2;
        a * a * (self.rc2 + T::of(2.0) * r2 - T::of(3.0) * self.ron2) * self.inv_denominator
    }

    /// f'(r) = 12 r (r_c² − r²)(r_on² − r²)/(r_c² − r_on²)³ above r_on.
    #[inline]
    pub fn derivative(&self, r: T) -> T {
        if r < self.r_on {
            return T::zero();
        }
        let r2 = r * r;
        T::of(12.0) * r * (self.rc2 - r2) * (self.ron2 - r2) * self.inv_denominator
    }

    /// out[e] = f(r[e]).
    pub fn forward(&self, r: &[T], out: &mut [T]) -> Result<()> {
        elementwise(r, out, |r| self.value(r), "XPLOR cutoff")
    }

    /// grad_r[e] = grad[e]·f'(r[e]).
    pub fn backward(&self, r: &[T], grad: &[T], grad_r: &mut [T]) -> Result<()> {
        elementwise_vjp(r, grad, grad_r, |r| self.derivative(r), "XPLOR cutoff")
    }
}

fn check(expected: usize, got: usize, what: &str) -> Result<()> {
    if expected != got {
        return Err(Error::LengthMismatch(format!("{what}: expected {expected} elements, got {got}")));
    }
    Ok(())
}

fn elementwise<T: Real>(r: &[T], out: &mut [T], f: impl Fn(T) -> T + Sync, what: &str) -> Result<()> {
    check(r.len(), out.len(), what)?;
    out.par_iter_mut().zip(r.par_iter()).with_min_len(EDGES_PER_TASK).for_each(|(o, &r)| *o = f(r));
    Ok(())
}

fn elementwise_vjp<T: Real>(
    r: &[T],
    grad: &[T],
    grad_r: &mut [T],
    df: impl Fn(T) -> T + Sync,
    what: &str,
) -> Result<()> {
    check(r.len(), grad.len(), what)?;
    check(r.len(), grad_r.len(), what)?;
    grad_r.par_iter_mut().zip(r.par_iter()).zip(grad.par_iter()).with_min_len(EDGES_PER_TASK).for_each(
        |((gr, &r), &g)| *gr = g * df(r),
    );
    Ok(())
}
