//! The spherical-harmonics kernel: values and vector–Jacobian product of
//! e3nn 0.6's real spherical harmonics, per edge or W edges at a time.
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

use crate::so3::lanes::{lanes_to_rows, rows_to_lanes, Lanes};
use crate::Real;

/// Highest degree implemented (e3nn 0.6 goes to 12 as well); public as
/// `SphericalHarmonics::max_lmax()`.
pub(crate) const SH_LMAX: u32 = 12;

/// Number of (l, m ≥ 0) pairs for l ≤ SH_LMAX: the size of per-(l, m) tables.
pub(crate) const NQ: usize = ((SH_LMAX + 1) * (SH_LMAX + 2) / 2) as usize;

/// Length of a column of Q (one m, every l) or of C, S.
const COLUMN: usize = SH_LMAX as usize + 1;

/// Components for l ≤ SH_LMAX.
const MAX_DIM: usize = COLUMN * COLUMN;

/// Edges evaluated in lock-step by the batched kernels.
const W: usize = 8;

/// e3nn's `torch.nn.functional.normalize` epsilon: |r| is clamped below by it.
const NORMALIZE_EPS: f64 = 1e-12;

#[inline(always)]
pub(crate) const fn q_index(l: usize, m: usize) -> usize {
    l * (l + 1) / 2 + m
}

/// Per-edge spherical harmonics with its constants in precision T.
#[derive(Clone, Debug)]
pub struct ShKernel<T> {
    lmax: u32,
    normalize: bool,
    /// N_lm, normalization included, at q_index(l, m).
    factors: [T; NQ],
    /// Q_m^m = (2m - 1)!!.
    diagonal: [T; COLUMN],
    /// (2l - 1)/(l - m) and (l + m - 1)/(l - m): the Legendre recurrence.
    rec_a: [T; NQ],
    rec_b: [T; NQ],
    /// l + m at q_index(l, m), and m, as T.
    l_plus_m: [T; NQ],
    m: [T; COLUMN],
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
    /// The kernel for degrees ≤ lmax (≤ SH_LMAX) with normalization factors
    /// N_lm at q_index(l, m).
    pub(crate) fn new(lmax: u32, normalize: bool, factors: &[f64]) -> Self {
        let per_lm = |f: &dyn Fn(usize, usize) -> f64| {
            let mut out = [T::zero(); NQ];
            for l in 0..=SH_LMAX as usize {
                for m in 0..=l {
                    out[q_index(l, m)] = T::of(f(l, m));
                }
            }
            out
        };
        ShKernel {
            lmax,
            normalize,
            factors: per_lm(&|l, m| factors[q_index(l, m)]),
            diagonal: std::array::from_fn(|m| T::of((1..=m).map(|k| (2 * k - 1) as f64).product())),
            rec_a: per_lm(&|l, m| if l > m { (2 * l - 1) as f64 / (l - m) as f64 } else { 0.0 }),
            rec_b: per_lm(&|l, m| if l > m { (l + m - 1) as f64 / (l - m) as f64 } else { 0.0 }),
            l_plus_m: per_lm(&|l, m| (l + m) as f64),
            m: std::array::from_fn(|m| T::of(m as f64)),
        }
    }

    /// Y(v) into `out[..(lmax+1)²]`.
    #[inline]
    pub fn forward(&self, v: [T; 3], out: &mut [T]) {
        let p = self.point([Lanes([v[0]]), Lanes([v[1]]), Lanes([v[2]])]).p;
        dispatch_lmax!(self.lmax, forward_one, T, self, p, out)
    }

    /// dL/dv given dL/dY(v) = `grad_out[..(lmax+1)²]`.
    #[inline]
    pub fn backward(&self, v: [T; 3], grad_out: &[T]) -> [T; 3] {
        let point = self.point([Lanes([v[0]]), Lanes([v[1]]), Lanes([v[2]])]);
        let gp = dispatch_lmax!(self.lmax, backward_one, T, self, point.p, grad_out);
        let g = self.chain(&point, gp);
        [g[0].0[0], g[1].0[0], g[2].0[0]]
    }

    /// Y of many vectors into `out` (row-major, n × (lmax+1)²), W at a time.
    pub fn forward_many(&self, vectors: &[[T; 3]], out: &mut [T]) {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2.
            return unsafe { self.forward_many_avx2(vectors, out) };
        }
        dispatch_lmax!(self.lmax, forward_many, T, self, vectors, out, false)
    }

    /// dL/dv of many vectors given dL/dY (row-major, n × (lmax+1)²).
    pub fn backward_many(&self, vectors: &[[T; 3]], grad_out: &[T], grads: &mut [[T; 3]]) {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2.
            return unsafe { self.backward_many_avx2(vectors, grad_out, grads) };
        }
        dispatch_lmax!(self.lmax, backward_many, T, self, vectors, grad_out, grads, false)
    }

    /// The same code compiled for 256-bit vectors (the lanes become AVX).
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn forward_many_avx2(&self, vectors: &[[T; 3]], out: &mut [T]) {
        dispatch_lmax!(self.lmax, forward_many, T, self, vectors, out, true)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn backward_many_avx2(&self, vectors: &[[T; 3]], grad_out: &[T], grads: &mut [[T; 3]]) {
        dispatch_lmax!(self.lmax, backward_many, T, self, vectors, grad_out, grads, true)
    }

    /// The point the polynomials are evaluated at, v or v / max(|v|, eps),
    /// with what the backward needs to chain through it.
    #[inline(always)]
    fn point<const N: usize>(&self, v: [Lanes<T, N>; 3]) -> Point<T, N> {
        if !self.normalize {
            return Point { p: v, inverse: Lanes::zero(), clamped: Lanes::zero() };
        }
        let eps = T::of(NORMALIZE_EPS);
        let r = dot(v, v).map(|r2| r2.sqrt());
        let inverse = r.map(|r| T::one() / r.max(eps));
        let clamped = r.map(|r| if r > eps { T::zero() } else { T::one() });
        Point { p: [v[0] * inverse, v[1] * inverse, v[2] * inverse], inverse, clamped }
    }

    /// dL/dv from dL/dp through p = v / max(|v|, eps): the radial part
    /// projected out and divided by |v|, or divided by eps where |v| ≤ eps.
    #[inline(always)]
    fn chain<const N: usize>(&self, point: &Point<T, N>, gp: [Lanes<T, N>; 3]) -> [Lanes<T, N>; 3] {
        if !self.normalize {
            return gp;
        }
        let p = point.p;
        let radial = dot(gp, p).zip(point.clamped, |d, clamped| if clamped == T::zero() { d } else { T::zero() });
        let scale = point.inverse;
        [(gp[0] - p[0] * radial) * scale, (gp[1] - p[1] * radial) * scale, (gp[2] - p[2] * radial) * scale]
    }
}

/// A normalized (or not) input: p, 1 / max(|v|, eps), and 1 where |v| ≤ eps.
struct Point<T, const N: usize> {
    p: [Lanes<T, N>; 3],
    inverse: Lanes<T, N>,
    clamped: Lanes<T, N>,
}

#[inline(always)]
fn dot<T: Real, const N: usize>(a: [Lanes<T, N>; 3], b: [Lanes<T, N>; 3]) -> Lanes<T, N> {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

#[inline(always)]
fn forward_one<T: Real, const L: usize>(k: &ShKernel<T>, p: [Lanes<T, 1>; 3], out: &mut [T]) {
    let out = &mut out[..(L + 1) * (L + 1)];
    forward_lanes::<T, L, 1>(k, p, |i, y| out[i] = y.0[0]);
}

#[inline(always)]
fn backward_one<T: Real, const L: usize>(k: &ShKernel<T>, p: [Lanes<T, 1>; 3], grad_out: &[T]) -> [Lanes<T, 1>; 3] {
    let g = &grad_out[..(L + 1) * (L + 1)];
    backward_lanes::<T, L, 1>(k, p, |i| Lanes([g[i]]))
}

/// W vectors as lanes.
#[inline(always)]
fn load<T: Real>(vectors: &[[T; 3]; W]) -> [Lanes<T, W>; 3] {
    std::array::from_fn(|c| Lanes(std::array::from_fn(|e| vectors[e][c])))
}

/// W vectors as lanes, from `vectors[first..]`; lanes past the end are zero vectors.
#[inline(always)]
fn load_block<T: Real>(vectors: &[[T; 3]], first: usize) -> [[T; 3]; W] {
    if first + W <= vectors.len() {
        vectors[first..first + W].try_into().unwrap()
    } else {
        let mut padded = [[T::zero(); 3]; W];
        padded[..vectors.len() - first].copy_from_slice(&vectors[first..]);
        padded
    }
}

// The batched kernels below take W edges at a time, a last partial block
// padded, so that the transpositions between edge-major rows and lanes always
// have constant bounds. (No closures around the kernels: they would not
// inherit the caller's AVX2.)

#[inline(always)]
fn forward_many<T: Real, const L: usize>(k: &ShKernel<T>, vectors: &[[T; 3]], out: &mut [T], simd: bool) {
    let dim = (L + 1) * (L + 1);
    let mut y = [Lanes::<T, W>::zero(); MAX_DIM];
    let mut tail = [T::zero(); W * MAX_DIM];
    for first in (0..vectors.len()).step_by(W) {
        let n = W.min(vectors.len() - first);
        let p = k.point(load(&load_block(vectors, first))).p;
        forward_lanes::<T, L, W>(k, p, |i, value| y[i] = value);
        let rows: &mut [T] = if n == W { &mut out[first * dim..][..W * dim] } else { &mut tail[..W * dim] };
        lanes_to_rows(simd, &y[..dim], rows);
        if n < W {
            out[first * dim..].copy_from_slice(&tail[..n * dim]);
        }
    }
}

#[inline(always)]
fn backward_many<T: Real, const L: usize>(k: &ShKernel<T>, vectors: &[[T; 3]], grad_out: &[T], grads: &mut [[T; 3]], simd: bool) {
    let dim = (L + 1) * (L + 1);
    let mut g = [Lanes::<T, W>::zero(); MAX_DIM];
    // lanes past the last vector keep stale cotangents: their results are dropped
    let mut tail = [T::zero(); W * MAX_DIM];
    for first in (0..vectors.len()).step_by(W) {
        let n = W.min(vectors.len() - first);
        let rows: &[T] = if n == W {
            &grad_out[first * dim..][..W * dim]
        } else {
            tail[..n * dim].copy_from_slice(&grad_out[first * dim..]);
            &tail[..W * dim]
        };
        rows_to_lanes(simd, rows, &mut g[..dim]);
        let point = k.point(load(&load_block(vectors, first)));
        let gp = backward_lanes::<T, L, W>(k, point.p, |i| g[i]);
        let d = k.chain(&point, gp);
        for (e, out) in grads[first..first + n].iter_mut().enumerate() {
            *out = [d[0].0[e], d[1].0[e], d[2].0[e]];
        }
    }
}

/// Textbook axes: X = e3nn z, Y = e3nn x, Z = e3nn y (the polar axis).
#[inline(always)]
fn textbook_axes<V: Copy>(p: [V; 3]) -> (V, V, V) {
    (p[2], p[0], p[1])
}

// Both kernels stream over columns m = 0..=L and, inside, degrees l = m..=L,
// carrying C_m, S_m (and C_{m-1}, S_{m-1}) and the last two Q_l^m in
// registers: no tables of intermediate values.

/// Y(p) for N points at once, handed to `store(component, values)`.
#[inline(always)]
fn forward_lanes<T: Real, const L: usize, const N: usize>(k: &ShKernel<T>, p: [Lanes<T, N>; 3], mut store: impl FnMut(usize, Lanes<T, N>)) {
    let (x, y, z) = textbook_axes(p);
    let r2 = x * x + y * y + z * z;
    let (mut c, mut s) = (Lanes::splat(T::one()), Lanes::zero());
    for m in 0..=L {
        if m > 0 {
            (c, s) = (x * c - y * s, x * s + y * c);
        }
        // (l - m) Q_l^m = (2l - 1) Z Q_{l-1}^m - (l + m - 1) r² Q_{l-2}^m, from Q_m^m = (2m - 1)!!
        let (mut q, mut before) = (Lanes::splat(k.diagonal[m]), Lanes::zero());
        for l in m..=L {
            if l > m {
                (q, before) = (z * q * k.rec_a[q_index(l, m)] - r2 * before * k.rec_b[q_index(l, m)], q);
            }
            let nq = q * k.factors[q_index(l, m)];
            store(l * l + l + m, nq * c);
            if m > 0 {
                store(l * l + l - m, nq * s);
            }
        }
    }
}

/// Σ_i g_i ∂Y_i/∂p for N points at once, the cotangent g read by `g(component)`.
#[inline(always)]
fn backward_lanes<T: Real, const L: usize, const N: usize>(k: &ShKernel<T>, p: [Lanes<T, N>; 3], g: impl Fn(usize) -> Lanes<T, N>) -> [Lanes<T, N>; 3] {
    let (x, y, z) = textbook_axes(p);
    let r2 = x * x + y * y + z * z;
    // g · ∂Y_{l,±m}/∂Q_l^m = N_lm (g_{l,+m} C_m + g_{l,-m} S_m), with (C, S) of column m
    let weight = |l: usize, m: usize, c: Lanes<T, N>, s: Lanes<T, N>| {
        let n = k.factors[q_index(l, m)];
        let gc = g(l * l + l + m) * n;
        if m > 0 {
            let gs = g(l * l + l - m) * n;
            (gc, gs, gc * c + gs * s)
        } else {
            (gc, Lanes::zero(), gc * c)
        }
    };
    // Σ weight(l, m) Q_{l-1}^{m+1}: the common factor of the -X, -Y terms
    let mut radial = Lanes::zero();
    let (mut gx, mut gy, mut gz) = (Lanes::zero(), Lanes::zero(), Lanes::zero());
    let (mut c, mut s) = (Lanes::splat(T::one()), Lanes::zero());
    let (mut c_prev, mut s_prev) = (Lanes::zero(), Lanes::zero());
    for m in 0..=L {
        if m > 0 {
            (c_prev, s_prev) = (c, s);
            (c, s) = (x * c - y * s, x * s + y * c);
        }
        let (mut q, mut before) = (Lanes::splat(k.diagonal[m]), Lanes::zero());
        for l in m..=L {
            if l > m {
                (q, before) = (z * q * k.rec_a[q_index(l, m)] - r2 * before * k.rec_b[q_index(l, m)], q);
            }
            if l > 0 {
                // Y_{l,±m} = N Q_l^m (C_m, S_m): ∂_Z Q_l^m = (l+m) Q_{l-1}^m, and C_m, S_m depend on X, Y
                let (gc, gs, w) = weight(l, m, c, s);
                gz += w * before * k.l_plus_m[q_index(l, m)];
                if m > 0 {
                    let qm = q * k.m[m];
                    gx += qm * (gc * c_prev + gs * s_prev);
                    gy += qm * (gs * c_prev - gc * s_prev);
                }
            }
            if m > 0 && l < L {
                // Q_l^m is Q_{(l+1)-1}^{(m-1)+1}: the X, Y derivative of Q_{l+1}^{m-1}
                radial += weight(l + 1, m - 1, c_prev, s_prev).2 * q;
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
    use crate::so3::{Normalization, SphericalHarmonics};

    /// The batched kernel (W lanes, AVX2 where present) and the per-edge
    /// kernel (W = 1) are the same arithmetic: equal to the last bit, in both
    /// precisions, with a partial last block.
    fn batched_equals_per_edge<T: Real>() {
        let vectors: Vec<[T; 3]> =
            (0..21).map(|i| [(i as f64).sin(), (1.3 * i as f64).cos(), 0.4 - 0.1 * i as f64].map(T::of)).collect();
        for normalize in [false, true] {
            for lmax in [0, 1, 2, 3, 5, 6, SH_LMAX] {
                let sh = SphericalHarmonics::new(lmax, normalize, Normalization::Norm).unwrap();
                let k = sh.kernel::<T>();
                let dim = sh.dim();
                let mut batched = vec![T::zero(); vectors.len() * dim];
                k.forward_many(&vectors, &mut batched);
                let g: Vec<T> = (0..batched.len()).map(|i| T::of((0.37 * i as f64).cos())).collect();
                let mut grads = vec![[T::zero(); 3]; vectors.len()];
                k.backward_many(&vectors, &g, &mut grads);
                for (e, v) in vectors.iter().enumerate() {
                    let mut one = vec![T::zero(); dim];
                    k.forward(*v, &mut one);
                    assert_eq!(one, batched[e * dim..][..dim]);
                    assert_eq!(k.backward(*v, &g[e * dim..][..dim]), grads[e]);
                }
            }
        }
    }

    #[test]
    fn batched_equals_per_edge_f64() {
        batched_equals_per_edge::<f64>();
    }

    #[test]
    fn batched_equals_per_edge_f32() {
        batched_equals_per_edge::<f32>();
    }
}
