//! Real spherical harmonics in e3nn 0.6's conventions, and their vector–Jacobian
//! product with respect to the input vector.
//!
//! e3nn's Y^l(x, y, z) is the table of real spherical harmonics (no
//! Condon–Shortley phase) read with y as the polar axis: its (x, y, z) are the
//! textbook (Y, Z, X). So with (X, Y, Z) = (z, x, y) we evaluate the textbook
//! homogeneous polynomials
//!
//!   Y_{l,+m} = N_lm Q_l^m(Z, r²) C_m(X, Y),   Y_{l,-m} = N_lm Q_l^m(Z, r²) S_m(X, Y),
//!
//! where C_m + i S_m = (X + iY)^m and Q_l^m = d^m P_l / dz^m homogenized to
//! degree l - m. Both follow short recurrences; their derivatives are
//! ∂_X Q_l^m = -X Q_{l-1}^{m+1}, ∂_Y Q_l^m = -Y Q_{l-1}^{m+1},
//! ∂_Z Q_l^m = (l + m) Q_{l-1}^m, ∂_X C_m = m C_{m-1}, ∂_Y C_m = -m S_{m-1},
//! ∂_X S_m = m S_{m-1}, ∂_Y S_m = m C_{m-1}.
//!
//! Components are ordered as e3nn orders them: l = 0, 1, ..., lmax, and
//! m = -l..=l inside each l, at index l² + l + m.

use crate::so3::Irreps;
use crate::{invalid, Error, Real, Result};
use rayon::prelude::*;
use std::str::FromStr;

/// Highest degree implemented (e3nn 0.6 goes to 12 as well).
pub const SH_LMAX: u32 = 12;

/// e3nn's `torch.nn.functional.normalize` epsilon: |r| is clamped below by it.
const NORMALIZE_EPS: f64 = 1e-12;

/// Number of (l, m ≥ 0) pairs for l ≤ SH_LMAX: the size of the Q table.
const NQ: usize = ((SH_LMAX + 1) * (SH_LMAX + 2) / 2) as usize;

/// Edges handed to one rayon task.
const CHUNK: usize = 512;

/// Output normalization, as e3nn names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Normalization {
    /// |Y^l(x)|² = 2l + 1 on the unit sphere.
    Component,
    /// |Y^l(x)| = 1 on the unit sphere.
    Norm,
    /// ∫ Y^l_m² = 1 over the unit sphere.
    Integral,
}

impl FromStr for Normalization {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "component" => Ok(Normalization::Component),
            "norm" => Ok(Normalization::Norm),
            "integral" => Ok(Normalization::Integral),
            _ => invalid!("unknown normalization \"{s}\" (expected component, norm or integral)"),
        }
    }
}

/// `e3nn.o3.spherical_harmonics(range(lmax + 1), x, normalize, normalization)`
/// for many vectors at once, with its backward.
#[derive(Clone, Debug)]
pub struct SphericalHarmonics {
    lmax: u32,
    normalize: bool,
    normalization: Normalization,
    /// N_lm at index l(l+1)/2 + m, normalization included.
    factors: Vec<f64>,
}

impl SphericalHarmonics {
    /// Harmonics of degrees 0..=lmax; `normalize` divides each vector by its
    /// norm first (as e3nn does, with |r| clamped below at 1e-12).
    pub fn new(lmax: u32, normalize: bool, normalization: Normalization) -> Result<Self> {
        if lmax > SH_LMAX {
            return invalid!("spherical harmonics are implemented up to l = {SH_LMAX}, not {lmax}");
        }
        let mut factors = vec![0.0; NQ];
        for l in 0..=lmax as usize {
            let scale = match normalization {
                Normalization::Component => 1.0,
                Normalization::Norm => 1.0 / ((2 * l + 1) as f64).sqrt(),
                Normalization::Integral => 1.0 / (4.0 * std::f64::consts::PI).sqrt(),
            };
            for m in 0..=l {
                // (l-m)!/(l+m)! as a product, exact enough for l ≤ 12
                let ratio: f64 = (l - m + 1..=l + m).map(|k| 1.0 / k as f64).product();
                let two = if m == 0 { 1.0 } else { 2.0 };
                factors[q_index(l, m)] = (two * (2 * l + 1) as f64 * ratio).sqrt() * scale;
            }
        }
        Ok(SphericalHarmonics { lmax, normalize, normalization, factors })
    }

    /// Highest degree.
    pub fn lmax(&self) -> u32 {
        self.lmax
    }

    /// Whether input vectors are normalized first.
    pub fn normalize(&self) -> bool {
        self.normalize
    }

    /// Output normalization.
    pub fn normalization(&self) -> Normalization {
        self.normalization
    }

    /// Components per vector: (lmax + 1)².
    pub fn dim(&self) -> usize {
        ((self.lmax + 1) * (self.lmax + 1)) as usize
    }

    /// The output irreps, 1x0e+1x1o+1x2e+...
    pub fn irreps(&self) -> Irreps {
        Irreps::spherical_harmonics(self.lmax)
    }

    /// The per-edge kernel in precision T, for fused use inside other loops.
    pub fn kernel<T: Real>(&self) -> ShKernel<T> {
        let mut factors = [T::zero(); NQ];
        for (f, &x) in factors.iter_mut().zip(&self.factors) {
            *f = T::of(x);
        }
        ShKernel { lmax: self.lmax, normalize: self.normalize, factors }
    }

    /// Y(vectors) into `out`, row-major n × dim. Runs on the current rayon pool.
    pub fn compute<T: Real>(&self, vectors: &[[T; 3]], out: &mut [T]) -> Result<()> {
        let dim = self.dim();
        if out.len() != vectors.len() * dim {
            return Err(Error::LengthMismatch(format!(
                "spherical harmonics: {} vectors need {} outputs, got {}",
                vectors.len(),
                vectors.len() * dim,
                out.len()
            )));
        }
        let k = self.kernel::<T>();
        out.par_chunks_mut(CHUNK * dim).zip(vectors.par_chunks(CHUNK)).for_each(|(out, vectors)| {
            for (y, v) in out.chunks_exact_mut(dim).zip(vectors) {
                k.forward(*v, y);
            }
        });
        Ok(())
    }

    /// Vector–Jacobian product: given dL/dY (n × dim), writes dL/dvectors.
    pub fn backward<T: Real>(&self, vectors: &[[T; 3]], grad_out: &[T], grad_vectors: &mut [[T; 3]]) -> Result<()> {
        let dim = self.dim();
        if grad_out.len() != vectors.len() * dim || grad_vectors.len() != vectors.len() {
            return Err(Error::LengthMismatch(format!(
                "spherical harmonics backward: {} vectors need {} cotangents and {} gradients, got {} and {}",
                vectors.len(),
                vectors.len() * dim,
                vectors.len(),
                grad_out.len(),
                grad_vectors.len()
            )));
        }
        let k = self.kernel::<T>();
        grad_vectors.par_chunks_mut(CHUNK).zip(vectors.par_chunks(CHUNK)).zip(grad_out.par_chunks(CHUNK * dim)).for_each(
            |((grads, vectors), g)| {
                for ((d, v), g) in grads.iter_mut().zip(vectors).zip(g.chunks_exact(dim)) {
                    *d = k.backward(*v, g);
                }
            },
        );
        Ok(())
    }
}

#[inline(always)]
const fn q_index(l: usize, m: usize) -> usize {
    l * (l + 1) / 2 + m
}

/// Per-edge spherical harmonics with constants in precision T; cheap to copy.
#[derive(Clone, Copy, Debug)]
pub struct ShKernel<T> {
    lmax: u32,
    normalize: bool,
    factors: [T; NQ],
}

/// Calls `$f::<T, L>($args)` for the runtime `$lmax`, monomorphized per degree
/// so that every loop inside has a constant trip count.
macro_rules! dispatch_lmax {
    ($lmax:expr, $f:ident, $T:ty, $($arg:expr),*) => {
        match $lmax {
            0 => $f::<$T, 0>($($arg),*),
            1 => $f::<$T, 1>($($arg),*),
            2 => $f::<$T, 2>($($arg),*),
            3 => $f::<$T, 3>($($arg),*),
            4 => $f::<$T, 4>($($arg),*),
            5 => $f::<$T, 5>($($arg),*),
            6 => $f::<$T, 6>($($arg),*),
            7 => $f::<$T, 7>($($arg),*),
            8 => $f::<$T, 8>($($arg),*),
            9 => $f::<$T, 9>($($arg),*),
            10 => $f::<$T, 10>($($arg),*),
            11 => $f::<$T, 11>($($arg),*),
            _ => $f::<$T, 12>($($arg),*),
        }
    };
}

impl<T: Real> ShKernel<T> {
    /// Y(v) into `out[..(lmax+1)²]`.
    #[inline]
    pub fn forward(&self, v: [T; 3], out: &mut [T]) {
        let p = self.point(v);
        dispatch_lmax!(self.lmax, forward_poly, T, &self.factors, p, out)
    }

    /// dL/dv given dL/dY(v) = `grad_out[..(lmax+1)²]`.
    #[inline]
    pub fn backward(&self, v: [T; 3], grad_out: &[T]) -> [T; 3] {
        let p = self.point(v);
        let gp = dispatch_lmax!(self.lmax, backward_poly, T, &self.factors, p, grad_out);
        if !self.normalize {
            return gp;
        }
        // p = v / max(|v|, eps): project out the radial part, or scale below eps
        let r = norm(v);
        let eps = T::of(NORMALIZE_EPS);
        if r > eps {
            let radial = dot(gp, p);
            [0, 1, 2].map(|i| (gp[i] - radial * p[i]) / r)
        } else {
            gp.map(|g| g / eps)
        }
    }

    /// The point the polynomials are evaluated at.
    #[inline(always)]
    fn point(&self, v: [T; 3]) -> [T; 3] {
        if self.normalize {
            let s = T::one() / norm(v).max(T::of(NORMALIZE_EPS));
            v.map(|x| x * s)
        } else {
            v
        }
    }
}

#[inline(always)]
fn dot<T: Real>(a: [T; 3], b: [T; 3]) -> T {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

#[inline(always)]
fn norm<T: Real>(v: [T; 3]) -> T {
    dot(v, v).sqrt()
}

/// Q_l^m(Z, r²) for l ≤ L at q_index(l, m), and C_m, S_m for m ≤ L.
#[inline(always)]
fn legendre_and_azimuth<T: Real, const L: usize>(xyz: [T; 3]) -> ([T; NQ], [T; SH_LMAX as usize + 1], [T; SH_LMAX as usize + 1]) {
    // textbook axes: X = e3nn z, Y = e3nn x, Z = e3nn y (the polar axis)
    let (x, y, z) = (xyz[2], xyz[0], xyz[1]);
    let r2 = x * x + y * y + z * z;
    let mut q = [T::zero(); NQ];
    let mut c = [T::zero(); SH_LMAX as usize + 1];
    let mut s = [T::zero(); SH_LMAX as usize + 1];
    c[0] = T::one();
    for m in 1..=L {
        c[m] = x * c[m - 1] - y * s[m - 1];
        s[m] = x * s[m - 1] + y * c[m - 1];
    }
    q[0] = T::one();
    for m in 0..=L {
        if m > 0 {
            // Q_m^m = (2m - 1)!!
            q[q_index(m, m)] = T::of((2 * m - 1) as f64) * q[q_index(m - 1, m - 1)];
        }
        if m < L {
            q[q_index(m + 1, m)] = T::of((2 * m + 1) as f64) * z * q[q_index(m, m)];
        }
        for l in m + 2..=L {
            let a = T::of((2 * l - 1) as f64 / (l - m) as f64);
            let b = T::of((l + m - 1) as f64 / (l - m) as f64);
            q[q_index(l, m)] = a * z * q[q_index(l - 1, m)] - b * r2 * q[q_index(l - 2, m)];
        }
    }
    (q, c, s)
}

#[inline(always)]
fn forward_poly<T: Real, const L: usize>(factors: &[T; NQ], xyz: [T; 3], out: &mut [T]) {
    let out = &mut out[..(L + 1) * (L + 1)];
    let (q, c, s) = legendre_and_azimuth::<T, L>(xyz);
    for l in 0..=L {
        let center = l * l + l;
        out[center] = factors[q_index(l, 0)] * q[q_index(l, 0)];
        for m in 1..=l {
            let nq = factors[q_index(l, m)] * q[q_index(l, m)];
            out[center + m] = nq * c[m];
            out[center - m] = nq * s[m];
        }
    }
}

#[inline(always)]
fn backward_poly<T: Real, const L: usize>(factors: &[T; NQ], xyz: [T; 3], grad_out: &[T]) -> [T; 3] {
    let g = &grad_out[..(L + 1) * (L + 1)];
    let (q, c, s) = legendre_and_azimuth::<T, L>(xyz);
    let (x, y) = (xyz[2], xyz[0]);
    // Σ g·N·Q_{l-1}^{m+1}·(C or S): the common factor of the -X, -Y terms
    let mut radial = T::zero();
    let (mut gx, mut gy, mut gz) = (T::zero(), T::zero(), T::zero());
    for l in 1..=L {
        let center = l * l + l;
        for m in 0..=l {
            let n = factors[q_index(l, m)];
            let (gc, gs) = if m == 0 { (g[center] * n, T::zero()) } else { (g[center + m] * n, g[center - m] * n) };
            // a = ∂Y/∂Q_l^m contracted with g
            let a = gc * c[m] + gs * s[m];
            if m + 1 <= l - 1 {
                radial += a * q[q_index(l - 1, m + 1)];
            }
            if m <= l - 1 {
                gz += T::of((l + m) as f64) * a * q[q_index(l - 1, m)];
            }
            if m > 0 {
                let qm = T::of(m as f64) * q[q_index(l, m)];
                gx += qm * (gc * c[m - 1] + gs * s[m - 1]);
                gy += qm * (gs * c[m - 1] - gc * s[m - 1]);
            }
        }
    }
    gx -= x * radial;
    gy -= y * radial;
    // back to e3nn's axes: (x, y, z) = (Y, Z, X)
    [gy, gz, gx]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn degree_one_is_sqrt3_xyz() {
        let sh = SphericalHarmonics::new(1, false, Normalization::Component).unwrap();
        let mut y = [0.0; 4];
        sh.compute(&[[0.3, -0.5, 0.7]], &mut y).unwrap();
        let s3 = 3f64.sqrt();
        assert_eq!(y[0], 1.0);
        for (a, b) in y[1..].iter().zip([0.3 * s3, -0.5 * s3, 0.7 * s3]) {
            assert!((a - b).abs() < 1e-15);
        }
    }
}
