//! Cubic Hermite tables of a smooth vector-valued function of one variable,
//! r ↦ y(r) ∈ R^width, built once from exact values and exact derivatives at
//! the knots. Between knots k and k+1 (spacing h, s = (r − r_k)/h ∈ [0, 1]):
//!
//! y(r) ≈ h00(s)·y_k + h10(s)·h·y'_k + h01(s)·y_{k+1} + h11(s)·h·y'_{k+1},
//!
//! with the Hermite cubics h00 = (1+2s)(1−s)², h10 = s(1−s)², h01 = s²(3−2s),
//! h11 = s²(s−1); the derivative is that of the cubic, so value and derivative
//! are consistent (forces are the exact gradient of the tabulated energy).
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
    /// Intervals in this piece, and its first knot in the table.
    n_intervals: usize,
    first_knot: usize,
}

/// A tabulated function r ↦ y(r) ∈ R^width on [breaks[0], breaks[last]].
#[derive(Clone, Debug)]
pub struct HermiteTable<T> {
    width: usize,
    pieces: Vec<Piece>,
    /// Per knot: y (width values), then h·y' (width values).
    knots: Vec<T>,
}

/// Weights of a cubic Hermite segment at s: for y_k, h·y'_k, y_{k+1},
/// h·y'_{k+1}, and their derivatives d/ds.
#[inline]
fn hermite(s: f64) -> ([f64; 4], [f64; 4]) {
    let (s2, t) = (s * s, 1.0 - s);
    let value = [(1.0 + 2.0 * s) * t * t, s * t * t, s2 * (3.0 - 2.0 * s), s2 * (s - 1.0)];
    let slope = [6.0 * s2 - 6.0 * s, 3.0 * s2 - 4.0 * s + 1.0, 6.0 * s - 6.0 * s2, 3.0 * s2 - 2.0 * s];
    (value, slope)
}

impl<T: Real> HermiteTable<T> {
    /// Tabulates y on [breaks[0], breaks[last]] with knots at most `spacing`
    /// apart in each piece. `exact(r)` gives, for the knots r (m of them),
    /// y (m × width) and y' (m × width) in float64.
    pub fn new(
        breaks: &[f64],
        spacing: f64,
        width: usize,
        exact: impl Fn(&[f64]) -> Result<(Vec<f64>, Vec<f64>)>,
    ) -> Result<Self> {
        if breaks.len() < 2 || breaks.windows(2).any(|b| !(b[0] < b[1])) || !(spacing > 0.0) {
            return invalid!("Hermite table: breaks {breaks:?} must increase and spacing {spacing} be positive");
        }
        let mut pieces = Vec::new();
        let mut r = Vec::new();
        for b in breaks.windows(2) {
            let n = ((b[1] - b[0]) / spacing).ceil().max(1.0) as usize;
            let h = (b[1] - b[0]) / n as f64;
            pieces.push(Piece { start: b[0], end: b[1], inv_h: 1.0 / h, n_intervals: n, first_knot: r.len() });
            r.extend((0..=n).map(|i| if i == n { b[1] } else { b[0] + i as f64 * h }));
        }
        let (y, dy) = exact(&r)?;
        if y.len() != r.len() * width || dy.len() != y.len() {
            return invalid!("Hermite table: {} knots of width {width}, got {} values", r.len(), y.len());
        }
        let mut knots = Vec::with_capacity(2 * y.len());
        for p in &pieces {
            let h = 1.0 / p.inv_h;
            for k in p.first_knot..=p.first_knot + p.n_intervals {
                knots.extend(y[k * width..(k + 1) * width].iter().map(|&v| T::of(v)));
                knots.extend(dy[k * width..(k + 1) * width].iter().map(|&d| T::of(h * d)));
            }
        }
        Ok(HermiteTable { width, pieces, knots })
    }

    /// Values per point.
    pub fn width(&self) -> usize {
        self.width
    }

    /// The tabulated interval.
    pub fn domain(&self) -> (f64, f64) {
        (self.pieces[0].start, self.pieces[self.pieces.len() - 1].end)
    }

    /// Number of knots (the table holds 2 × width values per knot).
    pub fn n_knots(&self) -> usize {
        self.knots.len() / (2 * self.width.max(1))
    }

    /// The segment holding r: its first knot's values and the Hermite
    /// weights (value, d/dr) at r; None outside the domain.
    #[inline]
    fn segment(&self, r: f64) -> Option<(&[T], [f64; 4], [f64; 4])> {
        let p = self.pieces.iter().find(|p| r <= p.end)?;
        if !(r >= p.start) {
            return None;
        }
        let t = (r - p.start) * p.inv_h;
        let k = (t as usize).min(p.n_intervals - 1);
        let (value, slope) = hermite(t - k as f64);
        let at = (p.first_knot + k) * 2 * self.width;
        Some((&self.knots[at..at + 4 * self.width], value, slope.map(|d| d * p.inv_h)))
    }

    /// y(r) into `y`; false (and y untouched) when r is outside the domain.
    #[inline]
    pub fn value(&self, r: T, y: &mut [T]) -> bool {
        let Some((seg, c, _)) = self.segment(r.f64()) else { return false };
        let w = self.width;
        let c = c.map(T::of);
        let (y0, m0, y1, m1) = (&seg[..w], &seg[w..2 * w], &seg[2 * w..3 * w], &seg[3 * w..]);
        for i in 0..w {
            y[i] = c[0] * y0[i] + c[1] * m0[i] + c[2] * y1[i] + c[3] * m1[i];
        }
        true
    }

    /// Σ_i g[i]·y'_i(r); None outside the domain.
    #[inline]
    pub fn derivative_dot(&self, r: T, g: &[T]) -> Option<T> {
        let (seg, _, c) = self.segment(r.f64())?;
        let w = self.width;
        let c = c.map(T::of);
        let (y0, m0, y1, m1) = (&seg[..w], &seg[w..2 * w], &seg[2 * w..3 * w], &seg[3 * w..]);
        let mut sum = T::zero();
        for i in 0..w {
            sum += g[i] * (c[0] * y0[i] + c[1] * m0[i] + c[2] * y1[i] + c[3] * m1[i]);
        }
        Some(sum)
    }

    /// y'(r) into `dy`; false outside the domain.
    pub fn derivative(&self, r: T, dy: &mut [T]) -> bool {
        let Some((seg, _, c)) = self.segment(r.f64()) else { return false };
        let w = self.width;
        let c = c.map(T::of);
        for i in 0..w {
            dy[i] = c[0] * seg[i] + c[1] * seg[w + i] + c[2] * seg[2 * w + i] + c[3] * seg[3 * w + i];
        }
        true
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
        let table = HermiteTable::<f64>::new(&[0.5, 1.3, 2.0], h, 3, exact).unwrap();
        let d4 = [81.0, 1.0, 0.0];
        let (mut y, mut dy) = ([0.0; 3], [0.0; 3]);
        for i in 0..=1000 {
            let r = 0.5 + 1.5 * i as f64 / 1000.0;
            assert!(table.value(r, &mut y) && table.derivative(r, &mut dy));
            let (ye, dye) = exact(&[r]).unwrap();
            for k in 0..3 {
                assert!((y[k] - ye[k]).abs() <= h.powi(4) / 384.0 * d4[k] + 1e-15, "y{k}({r})");
                assert!((dy[k] - dye[k]).abs() <= h.powi(3) * d4[k] / (72.0 * 3f64.sqrt()) + 1e-13, "y{k}'({r})");
            }
            let g = [0.5, -2.0, 1.0];
            let dot = table.derivative_dot(r, &g).unwrap();
            assert!((dot - (0..3).map(|k| g[k] * dy[k]).sum::<f64>()).abs() < 1e-12);
        }
        assert!(!table.value(0.49, &mut y) && !table.value(2.01, &mut y) && !table.value(f64::NAN, &mut y));
    }
}
