//! W numbers processed in lock-step: a fixed-size array with lane-wise
//! arithmetic. Kernels written on `Lanes<T, W>` read like scalar code and
//! compile to SIMD over W edges; W = 1 is the plain scalar kernel.

use crate::Real;
use std::ops::{Add, AddAssign, Mul, Sub, SubAssign};

/// W values of T, one per edge.
#[derive(Clone, Copy, Debug, PartialEq)]
#[repr(transparent)]
pub struct Lanes<T, const W: usize>(pub [T; W]);

impl<T: Real, const W: usize> Lanes<T, W> {
    /// Every lane x.
    #[inline(always)]
    pub fn splat(x: T) -> Self {
        Lanes([x; W])
    }

    /// Every lane 0.
    #[inline(always)]
    pub fn zero() -> Self {
        Self::splat(T::zero())
    }

    /// f applied to each lane.
    #[inline(always)]
    pub fn map(self, f: impl Fn(T) -> T) -> Self {
        // a plain loop: array::map may stay out of line, and out of SIMD
        let mut out = self;
        for a in out.0.iter_mut() {
            *a = f(*a);
        }
        out
    }

    /// f applied lane by lane to self and other.
    #[inline(always)]
    pub fn zip(self, other: Self, f: impl Fn(T, T) -> T) -> Self {
        let mut out = self;
        for (a, b) in out.0.iter_mut().zip(other.0) {
            *a = f(*a, b);
        }
        out
    }
}

impl<T: Real, const W: usize> Add for Lanes<T, W> {
    type Output = Self;
    #[inline(always)]
    fn add(self, o: Self) -> Self {
        self.zip(o, |a, b| a + b)
    }
}

impl<T: Real, const W: usize> Sub for Lanes<T, W> {
    type Output = Self;
    #[inline(always)]
    fn sub(self, o: Self) -> Self {
        self.zip(o, |a, b| a - b)
    }
}

impl<T: Real, const W: usize> Mul for Lanes<T, W> {
    type Output = Self;
    #[inline(always)]
    fn mul(self, o: Self) -> Self {
        self.zip(o, |a, b| a * b)
    }
}

/// Lane-wise product with a constant shared by all lanes.
impl<T: Real, const W: usize> Mul<T> for Lanes<T, W> {
    type Output = Self;
    #[inline(always)]
    fn mul(self, c: T) -> Self {
        self.map(|a| a * c)
    }
}

impl<T: Real, const W: usize> AddAssign for Lanes<T, W> {
    #[inline(always)]
    fn add_assign(&mut self, o: Self) {
        *self = *self + o;
    }
}

impl<T: Real, const W: usize> SubAssign for Lanes<T, W> {
    #[inline(always)]
    fn sub_assign(&mut self, o: Self) {
        *self = *self - o;
    }
}

/// Moves W lanes between the kernels' layout, one `Lanes` per component
/// (`cols[i].0[e]`), and the callers' edge-major rows (`rows[e * dim + i]`,
/// dim = cols.len()), in either direction. `simd` says the caller runs with
/// AVX2 enabled, where f32 with W = 8 moves as 8×8 register transposes
/// instead of element by element. (f64 stays element-wise: its 4×4
/// transposes measured no faster, and slower at lmax 6 once the rows
/// outgrew the caches.)
#[inline(always)]
pub(crate) fn lanes_to_rows<T: Real, const W: usize>(simd: bool, cols: &[Lanes<T, W>], rows: &mut [T]) {
    let dim = cols.len();
    assert_eq!(rows.len(), W * dim);
    #[cfg(target_arch = "x86_64")]
    if simd && W == 8 && dim >= 8 {
        if is::<T, f32>() {
            // SAFETY: `simd` is set only by callers compiled with AVX2 on a
            // CPU that has it; T is f32 (checked), Lanes<f32, 8> is [f32; 8],
            // and the lengths were checked above.
            return unsafe { avx2::lanes_to_rows_f32(cols.as_ptr().cast(), dim, rows.as_mut_ptr().cast()) };
        }
    }
    for (e, row) in rows.chunks_exact_mut(dim).enumerate() {
        for (i, x) in row.iter_mut().enumerate() {
            *x = cols[i].0[e];
        }
    }
}

/// The inverse of `lanes_to_rows`.
#[inline(always)]
pub(crate) fn rows_to_lanes<T: Real, const W: usize>(simd: bool, rows: &[T], cols: &mut [Lanes<T, W>]) {
    let dim = cols.len();
    assert_eq!(rows.len(), W * dim);
    #[cfg(target_arch = "x86_64")]
    if simd && W == 8 && dim >= 8 {
        if is::<T, f32>() {
            // SAFETY: as in lanes_to_rows.
            return unsafe { avx2::rows_to_lanes_f32(rows.as_ptr().cast(), dim, cols.as_mut_ptr().cast()) };
        }
    }
    for (e, row) in rows.chunks_exact(dim).enumerate() {
        for (i, &x) in row.iter().enumerate() {
            cols[i].0[e] = x;
        }
    }
}

#[inline(always)]
fn is<T: 'static, U: 'static>() -> bool {
    std::any::TypeId::of::<T>() == std::any::TypeId::of::<U>()
}

/// Register transposes of 8 f32 lanes. Components go in groups of 8; a last
/// partial group is taken as the group ending at dim, which overlaps the
/// previous one and rewrites the same values; dim ≥ 8.
#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    /// Start of each group of `g` components out of `dim` (dim ≥ g).
    #[inline(always)]
    fn groups(dim: usize, g: usize) -> impl Iterator<Item = usize> {
        (0..dim.div_ceil(g)).map(move |k| (k * g).min(dim - g))
    }

    /// 8×8 transpose: row k of the output is lane k of the inputs.
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn transpose8(r: [__m256; 8]) -> [__m256; 8] {
        let t: [__m256; 8] = [
            _mm256_unpacklo_ps(r[0], r[1]),
            _mm256_unpackhi_ps(r[0], r[1]),
            _mm256_unpacklo_ps(r[2], r[3]),
            _mm256_unpackhi_ps(r[2], r[3]),
            _mm256_unpacklo_ps(r[4], r[5]),
            _mm256_unpackhi_ps(r[4], r[5]),
            _mm256_unpacklo_ps(r[6], r[7]),
            _mm256_unpackhi_ps(r[6], r[7]),
        ];
        let u: [__m256; 8] = [
            _mm256_shuffle_ps::<0x44>(t[0], t[2]),
            _mm256_shuffle_ps::<0xEE>(t[0], t[2]),
            _mm256_shuffle_ps::<0x44>(t[1], t[3]),
            _mm256_shuffle_ps::<0xEE>(t[1], t[3]),
            _mm256_shuffle_ps::<0x44>(t[4], t[6]),
            _mm256_shuffle_ps::<0xEE>(t[4], t[6]),
            _mm256_shuffle_ps::<0x44>(t[5], t[7]),
            _mm256_shuffle_ps::<0xEE>(t[5], t[7]),
        ];
        [
            _mm256_permute2f128_ps::<0x20>(u[0], u[4]),
            _mm256_permute2f128_ps::<0x20>(u[1], u[5]),
            _mm256_permute2f128_ps::<0x20>(u[2], u[6]),
            _mm256_permute2f128_ps::<0x20>(u[3], u[7]),
            _mm256_permute2f128_ps::<0x31>(u[0], u[4]),
            _mm256_permute2f128_ps::<0x31>(u[1], u[5]),
            _mm256_permute2f128_ps::<0x31>(u[2], u[6]),
            _mm256_permute2f128_ps::<0x31>(u[3], u[7]),
        ]
    }

    /// # Safety
    /// AVX2; dim ≥ 8; `cols` holds dim × 8 floats, `rows` 8 × dim.
    #[inline]
    #[target_feature(enable = "avx2")]
    pub unsafe fn lanes_to_rows_f32(cols: *const f32, dim: usize, rows: *mut f32) {
        for i in groups(dim, 8) {
            let mut r = [_mm256_setzero_ps(); 8];
            for (k, r) in r.iter_mut().enumerate() {
                *r = _mm256_loadu_ps(cols.add((i + k) * 8));
            }
            for (e, row) in transpose8(r).into_iter().enumerate() {
                _mm256_storeu_ps(rows.add(e * dim + i), row);
            }
        }
    }

    /// # Safety
    /// As lanes_to_rows_f32.
    #[inline]
    #[target_feature(enable = "avx2")]
    pub unsafe fn rows_to_lanes_f32(rows: *const f32, dim: usize, cols: *mut f32) {
        for i in groups(dim, 8) {
            let mut r = [_mm256_setzero_ps(); 8];
            for (e, r) in r.iter_mut().enumerate() {
                *r = _mm256_loadu_ps(rows.add(e * dim + i));
            }
            for (k, col) in transpose8(r).into_iter().enumerate() {
                _mm256_storeu_ps(cols.add((i + k) * 8), col);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The register transposes move every value where the element moves do.
    #[test]
    fn transposes_equal_element_moves() {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            for dim in [1, 3, 4, 8, 9, 15, 16, 17, 25, 49, 169] {
                let cols: Vec<Lanes<f32, 8>> = (0..dim).map(|i| Lanes(std::array::from_fn(|e| (i * 8 + e) as f32))).collect();
                let (mut simd, mut plain) = (vec![0.0; 8 * dim], vec![0.0; 8 * dim]);
                lanes_to_rows(true, &cols, &mut simd);
                lanes_to_rows(false, &cols, &mut plain);
                assert_eq!(simd, plain, "dim {dim}");
                let (mut back_simd, mut back_plain) = (vec![Lanes::zero(); dim], vec![Lanes::zero(); dim]);
                rows_to_lanes(true, &plain, &mut back_simd);
                rows_to_lanes(false, &plain, &mut back_plain);
                assert_eq!(back_simd, cols, "dim {dim}");
                assert_eq!(back_plain, cols, "dim {dim}");
            }
        }
    }
}
