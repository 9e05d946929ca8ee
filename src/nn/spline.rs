//! Cubic Hermite tables of a smooth vector-valued function of one variable,
//! r ↦ y(r) ∈ R^width, built once from exact values and exact derivatives at
//! the knots. Between knots k and k+1 (spacing h, s = (r − r_k)/h ∈ [0, 1]):
//!
//! y(r) ≈ h00(s)·y_k + h10(s)·h·y'_k + h01(s)·y_{k+1} + h11(s)·h·y'_{k+1},
//!
//! with the Hermite cubics h00 = (1+2s)(1−s)², h10 = s(1−s)², h01 = s²(3−2s),
//! h11 = s²(s−1); the derivative is that of the cubic, so value and derivative
//! are consistent (forces are the exact gradient of the tabulated energy).
//! Each interval stores its cubic in powers of s, a + b·s + c·s² + d·s³,
//! computed in float64: b, c, d are differences of size h·y', so a float32
//! table rounds the derivative relative to y', not to y/h.
//! Error: |y − p| ≤ h⁴/384·max|y⁗| and |y' − p'| ≤ h³·max|y⁗|/(72√3) on each
//! interval where y is C⁴.
//!
//! The domain is cut into pieces at given break points (where y is only C¹,
//! e.g. where a switching function starts), each with its own uniform grid,
//! so no interval straddles a break.

use crate::{invalid, Real, Result};

#[derive(Clone, Debug)]
struct Piece {
    start: f64,
    end: f64,
    inv_h: f64,
    /// Intervals in this piece, and its first knot (while building) or
    /// interval (after) in the table.
    n_intervals: usize,
    first_knot: usize,
}

/// A tabulated function r ↦ y(r) ∈ R^width on [breaks[0], breaks[last]].
#[derive(Clone, Debug)]
pub struct HermiteTable<T> {
    width: usize,
    pieces: Vec<Piece>,
    /// Per interval: the coefficients a, b, c, d (width values each).
    cubics: Vec<T>,
}

impl<T: Real> HermiteTable<T> {
    /// Tabulates y on [breaks[0], breaks[last]] with knots at most
    /// `spacings[p]` apart in piece p (between breaks p and p+1). `exact(r)` gives, for the knots r (m of them),
    /// y (m × width) and y' (m × width) in float64.
    pub fn new(
        breaks: &[f64],
        spacings: &[f64],
        width: usize,
        exact: impl Fn(&[f64]) -> Result<(Vec<f64>, Vec<f64>)>,
    ) -> Result<Self> {
        if breaks.len() < 2 || breaks.windows(2).any(|b| !(b[0] < b[1])) {
            return invalid!("Hermite table: breaks {breaks:?} must increase");
        }
        if spacings.len() + 1 != breaks.len() || spacings.iter().any(|&h| !(h > 0.0)) {
            return invalid!("Hermite table: spacings {spacings:?} must be positive, one per piece of {breaks:?}");
        }
        let mut pieces = Vec::new();
        let mut r = Vec::new();
        for (b, &spacing) in breaks.windows(2).zip(spacings) {
            let n = ((b[1] - b[0]) / spacing).ceil().max(1.0) as usize;
            let h = (b[1] - b[0]) / n as f64;
            pieces.push(Piece { start: b[0], end: b[1], inv_h: 1.0 / h, n_intervals: n, first_knot: r.len() });
            r.extend((0..=n).map(|i| if i == n { b[1] } else { b[0] + i as f64 * h }));
        }
        let (y, dy) = exact(&r)?;
        if y.len() != r.len() * width || dy.len() != y.len() {
            return invalid!("Hermite table: {} knots of width {width}, got {} values", r.len(), y.len());
        }
        let mut cubics = Vec::with_capacity(4 * y.len());
        let mut first_interval = 0;
        for p in &mut pieces {
            let h = 1.0 / p.inv_h;
            for k in p.first_knot..p.first_knot + p.n_intervals {
                let (y0, y1) = (&y[k * width..(k + 1) * width], &y[(k + 1) * width..(k + 2) * width]);
                let (m0, m1) = (&dy[k * width..(k + 1) * width], &dy[(k + 1) * width..(k + 2) * width]);
                cubics.extend(y0.iter().map(|&v| T::of(v)));
                cubics.extend(m0.iter().map(|&m| T::of(h * m)));
                cubics.extend((0..width).map(|i| T::of(3.0 * (y1[i] - y0[i]) - h * (2.0 * m0[i] + m1[i]))));
                cubics.extend((0..width).map(|i| T::of(2.0 * (y0[i] - y1[i]) + h * (m0[i] + m1[i]))));
            }
            p.first_knot = first_interval;
            first_interval += p.n_intervals;
        }
        Ok(HermiteTable { width, pieces, cubics })
    }

    /// Values per point.
    pub fn width(&self) -> usize {
        self.width
    }

    /// The tabulated interval.
    pub fn domain(&self) -> (f64, f64) {
        (self.pieces[0].start, self.pieces[self.pieces.len() - 1].end)
    }

    /// Number of intervals (the table holds 4 × width values per interval).
    pub fn n_intervals(&self) -> usize {
        self.cubics.len() / (4 * self.width.max(1))
    }

    /// The interval holding r: its coefficients (a, b, c, d), s, and 1/h;
    /// None outside the domain.
    #[inline]
    fn interval(&self, r: f64) -> Option<([&[T]; 4], T, T)> {
        let p = self.pieces.iter().find(|p| r <= p.end)?;
        if !(r >= p.start) {
            return None;
        }
        let t = (r - p.start) * p.inv_h;
        let k = (t as usize).min(p.n_intervals - 1);
        let w = self.width;
        let at = (p.first_knot + k) * 4 * w;
        let c = &self.cubics[at..at + 4 * w];
        Some(([&c[..w], &c[w..2 * w], &c[2 * w..3 * w], &c[3 * w..]], T::of(t - k as f64), T::of(p.inv_h)))
    }

    /// y(r) into `y`; false (and y untouched) when r is outside the domain.
    #[inline]
    pub fn value(&self, r: T, y: &mut [T]) -> bool {
        let Some((c, s, _)) = self.interval(r.f64()) else { return false };
        evaluate(c, s, T::zero(), &mut y[..self.width], &mut []);
        true
    }

    /// y(r) into `y` and y'(r) into `dy` in one pass over the table; false
    /// (both untouched) outside the domain.
    #[inline]
    pub fn value_and_derivative(&self, r: T, y: &mut [T], dy: &mut [T]) -> bool {
        let Some((c, s, inv_h)) = self.interval(r.f64()) else { return false };
        evaluate(c, s, inv_h, &mut y[..self.width], &mut dy[..self.width]);
        true
    }

    /// Σ_i g[i]·y'_i(r); None outside the domain.
    #[inline]
    pub fn derivative_dot(&self, r: T, g: &[T]) -> Option<T> {
        let ([_, b, c, d], s, inv_h) = self.interval(r.f64())?;
        let (s2, s3) = (s + s, T::of(3.0) * s * s);
        // Four partial sums, so that the loop vectorizes.
        let mut sums = [T::zero(); 4];
        let n = self.width / 4 * 4;
        for i in (0..n).step_by(4) {
            for k in 0..4 {
                sums[k] += g[i + k] * (b[i + k] + s2 * c[i + k] + s3 * d[i + k]);
            }
        }
        let tail: T = (n..self.width).map(|i| g[i] * (b[i] + s2 * c[i] + s3 * d[i])).sum();
        Some((sums[0] + sums[1] + sums[2] + sums[3] + tail) * inv_h)
    }

    /// y'(r) into `dy`; false outside the domain.
    pub fn derivative(&self, r: T, dy: &mut [T]) -> bool {
        let mut y = vec![T::zero(); self.width];
        self.value_and_derivative(r, &mut y, dy)
    }
}

/// y = a + s(b + s(c + s d)) and, unless `dy` is empty, dy = (b + s(2c + 3s d))·inv_h,
/// with AVX2 and FMA where the CPU has them and the evaluation allows (the
/// library is built for baseline x86-64; these loops are memory- and FMA-bound).
#[inline]
fn evaluate<T: Real>(coeffs: [&[T]; 4], s: T, inv_h: T, y: &mut [T], dy: &mut [T]) {
    #[cfg(target_arch = "x86_64")]
    if super::simd::simd() >= super::simd::Simd::Avx2 {
        // SAFETY: the CPU has AVX2 and FMA (simd() checked).
        return unsafe { evaluate_avx2(coeffs, s, inv_h, y, dy) };
    }
    evaluate_with::<T, { cfg!(target_arch = "aarch64") }>(coeffs, s, inv_h, y, dy)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn evaluate_avx2<T: Real>(coeffs: [&[T]; 4], s: T, inv_h: T, y: &mut [T], dy: &mut [T]) {
    evaluate_with::<T, true>(coeffs, s, inv_h, y, dy)
}

#[inline(always)]
fn evaluate_with<T: Real, const FMA: bool>(coeffs: [&[T]; 4], s: T, inv_h: T, y: &mut [T], dy: &mut [T]) {
    let fmadd = |a: T, b: T, c: T| if FMA { a.mul_add(b, c) } else { a * b + c };
    let [a, b, c, d] = coeffs;
    let n = y.len();
    let (a, b, c, d) = (&a[..n], &b[..n], &c[..n], &d[..n]);
    if dy.is_empty() {
        for i in 0..n {
            y[i] = fmadd(s, fmadd(s, fmadd(s, d[i], c[i]), b[i]), a[i]);
        }
    } else {
        let dy = &mut dy[..n];
        let s3 = T::of(3.0) * s;
        for i in 0..n {
            y[i] = fmadd(s, fmadd(s, fmadd(s, d[i], c[i]), b[i]), a[i]);
            dy[i] = fmadd(s, fmadd(s3, d[i], c[i] + c[i]), b[i]) * inv_h;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// y = (sin 3r, e^{-r}, r³): errors within the Hermite bounds, on both
    /// sides of a break, and nothing outside the domain.
    #[test]
    fn matches_smooth_functions_within_the_bound() {
        let exact = |r: &[f64]| -> Result<(Vec<f64>, Vec<f64>)> {
            let y = r.iter().flat_map(|&r| [(3.0 * r).sin(), (-r).exp(), r * r * r]).collect();
            let dy = r.iter().flat_map(|&r| [3.0 * (3.0 * r).cos(), -(-r).exp(), 3.0 * r * r]).collect();
            Ok((y, dy))
        };
        let h = 0.01;
        let table = HermiteTable::<f64>::new(&[0.5, 1.3, 2.0], &[h, h], 3, exact).unwrap();
        let d4 = [81.0, 1.0, 0.0];
        let (mut y, mut dy) = ([0.0; 3], [0.0; 3]);
        for i in 0..=1000 {
            let r = 0.5 + 1.5 * i as f64 / 1000.0;
            assert!(table.value(r, &mut y) && table.derivative(r, &mut dy));
            let (ye, dye) = exact(&[r]).unwrap();
            for k in 0..3 {
                assert!((y[k] - ye[k]).abs() <= h.powi(4) / 384.0 * d4[k] + 1e-13, "y{k}({r})");
                assert!((dy[k] - dye[k]).abs() <= h.powi(3) * d4[k] / (72.0 * 3f64.sqrt()) + 1e-11, "y{k}'({r})");
            }
            let g = [0.5, -2.0, 1.0];
            let dot = table.derivative_dot(r, &g).unwrap();
            assert!((dot - (0..3).map(|k| g[k] * dy[k]).sum::<f64>()).abs() < 1e-12);
        }
        assert!(!table.value(0.49, &mut y) && !table.value(2.01, &mut y) && !table.value(f64::NAN, &mut y));
    }
}
