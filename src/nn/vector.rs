//! One SIMD register of f32 or f64 lanes, for the loops that autovectorization
//! gets wrong: in the convolution's backward pass LLVM split 16-lane blocks
//! into 128-bit operations and loaded each row twice, half the width the
//! AVX2 kernel was compiled for. Written with these, a loop over `K`
//! registers is exactly `K` full-width instructions per step.
//!
//! Three kinds: [`Portable`] (four lanes as an array, for any CPU; the
//! compiler maps it to SSE or NEON), [`Scalar`] (one lane, for the channels
//! left over after the full registers) and, on x86-64, the AVX2 registers of
//! f32 and f64 ([`Real::Avx2`](crate::Real)).

use crate::Real;

/// A register of `LANES` values of T.
///
/// # Safety
/// Every method is `unsafe`: the caller guarantees that the CPU has the
/// instruction set the implementation uses (AVX2 and FMA for the x86-64
/// registers), and, for `load` and `store`, that `p` is valid for `LANES`
/// reads or writes.
pub trait Vector<T: Copy>: Copy {
    const LANES: usize;
    unsafe fn load(p: *const T) -> Self;
    unsafe fn store(self, p: *mut T);
    unsafe fn splat(x: T) -> Self;
    unsafe fn zero() -> Self;
    unsafe fn mul(self, b: Self) -> Self;
    /// self · b + c (fused where the instruction set has it).
    unsafe fn mul_add(self, b: Self, c: Self) -> Self;
    /// The sum of the lanes.
    unsafe fn sum(self) -> T;
}

/// Whether portable code fuses multiply-adds: on aarch64 (NEON has them);
/// not on baseline x86-64, where `mul_add` would be a library call.
const PORTABLE_FMA: bool = cfg!(target_arch = "aarch64");

#[inline(always)]
fn fmadd<T: Real>(a: T, b: T, c: T) -> T {
    if PORTABLE_FMA {
        a.mul_add(b, c)
    } else {
        a * b + c
    }
}

/// Four lanes in an array: vectorized by the compiler for the target's baseline.
#[derive(Clone, Copy)]
pub struct Portable<T>([T; 4]);

impl<T: Real> Vector<T> for Portable<T> {
    const LANES: usize = 4;
    #[inline(always)]
    unsafe fn load(p: *const T) -> Self {
        Portable(*(p as *const [T; 4]))
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut T) {
        *(p as *mut [T; 4]) = self.0;
    }
    #[inline(always)]
    unsafe fn splat(x: T) -> Self {
        Portable([x; 4])
    }
    #[inline(always)]
    unsafe fn zero() -> Self {
        Portable([T::zero(); 4])
    }
    #[inline(always)]
    unsafe fn mul(self, b: Self) -> Self {
        Portable(std::array::from_fn(|k| self.0[k] * b.0[k]))
    }
    #[inline(always)]
    unsafe fn mul_add(self, b: Self, c: Self) -> Self {
        Portable(std::array::from_fn(|k| fmadd(self.0[k], b.0[k], c.0[k])))
    }
    #[inline(always)]
    unsafe fn sum(self) -> T {
        (self.0[0] + self.0[1]) + (self.0[2] + self.0[3])
    }
}

/// One lane: the channels after the last full register.
#[derive(Clone, Copy)]
pub struct Scalar<T>(T);

impl<T: Real> Vector<T> for Scalar<T> {
    const LANES: usize = 1;
    #[inline(always)]
    unsafe fn load(p: *const T) -> Self {
        Scalar(*p)
    }
    #[inline(always)]
    unsafe fn store(self, p: *mut T) {
        *p = self.0;
    }
    #[inline(always)]
    unsafe fn splat(x: T) -> Self {
        Scalar(x)
    }
    #[inline(always)]
    unsafe fn zero() -> Self {
        Scalar(T::zero())
    }
    #[inline(always)]
    unsafe fn mul(self, b: Self) -> Self {
        Scalar(self.0 * b.0)
    }
    #[inline(always)]
    unsafe fn mul_add(self, b: Self, c: Self) -> Self {
        Scalar(fmadd(self.0, b.0, c.0))
    }
    #[inline(always)]
    unsafe fn sum(self) -> T {
        self.0
    }
}

#[cfg(target_arch = "x86_64")]
pub use avx2::{F32x8, F64x4};

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::Vector;
    use std::arch::x86_64::*;

    /// An AVX2 register type `$name` of `$lanes` lanes of `$t`, from the
    /// intrinsics of that width; `$sum` reduces a register `v` to one lane.
    macro_rules! register {
        ($doc:literal, $name:ident, $t:ty, $reg:ty, $lanes:literal, $load:ident, $store:ident, $set1:ident,
         $zero:ident, $mul:ident, $fmadd:ident, |$v:ident| $sum:expr) => {
            #[doc = $doc]
            #[derive(Clone, Copy)]
            pub struct $name($reg);

            impl Vector<$t> for $name {
                const LANES: usize = $lanes;
                #[inline]
                #[target_feature(enable = "avx2,fma")]
                unsafe fn load(p: *const $t) -> Self {
                    $name($load(p))
                }
                #[inline]
                #[target_feature(enable = "avx2,fma")]
                unsafe fn store(self, p: *mut $t) {
                    $store(p, self.0)
                }
                #[inline]
                #[target_feature(enable = "avx2,fma")]
                unsafe fn splat(x: $t) -> Self {
                    $name($set1(x))
                }
                #[inline]
                #[target_feature(enable = "avx2,fma")]
                unsafe fn zero() -> Self {
                    $name($zero())
                }
                #[inline]
                #[target_feature(enable = "avx2,fma")]
                unsafe fn mul(self, b: Self) -> Self {
                    $name($mul(self.0, b.0))
                }
                #[inline]
                #[target_feature(enable = "avx2,fma")]
                unsafe fn mul_add(self, b: Self, c: Self) -> Self {
                    $name($fmadd(self.0, b.0, c.0))
                }
                #[inline]
                #[target_feature(enable = "avx2,fma")]
                unsafe fn sum(self) -> $t {
                    let $v = self.0;
                    $sum
                }
            }
        };
    }

    register!("Eight f32 lanes (AVX2 + FMA).", F32x8, f32, __m256, 8, _mm256_loadu_ps, _mm256_storeu_ps,
              _mm256_set1_ps, _mm256_setzero_ps, _mm256_mul_ps, _mm256_fmadd_ps, |v| {
        let half = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
        let pair = _mm_add_ps(half, _mm_movehl_ps(half, half));
        _mm_cvtss_f32(_mm_add_ss(pair, _mm_movehdup_ps(pair)))
    });
    register!("Four f64 lanes (AVX2 + FMA).", F64x4, f64, __m256d, 4, _mm256_loadu_pd, _mm256_storeu_pd,
              _mm256_set1_pd, _mm256_setzero_pd, _mm256_mul_pd, _mm256_fmadd_pd, |v| {
        let half = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
        _mm_cvtsd_f64(_mm_add_sd(half, _mm_unpackhi_pd(half, half)))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check<T: Real, V: Vector<T>>() {
        let (a, b, c): (Vec<T>, Vec<T>, Vec<T>) = (
            (0..V::LANES).map(|k| T::of(k as f64 + 1.0)).collect(),
            (0..V::LANES).map(|k| T::of(0.5 - k as f64)).collect(),
            (0..V::LANES).map(|k| T::of(2.0 * k as f64)).collect(),
        );
        let mut out = vec![T::zero(); V::LANES];
        // SAFETY: the slices hold LANES values; callers check the CPU.
        unsafe {
            let (va, vb, vc) = (V::load(a.as_ptr()), V::load(b.as_ptr()), V::load(c.as_ptr()));
            va.mul_add(vb, vc).store(out.as_mut_ptr());
            for k in 0..V::LANES {
                assert_eq!(out[k], a[k] * b[k] + c[k]);
            }
            va.mul(V::splat(T::of(3.0))).store(out.as_mut_ptr());
            assert!(out.iter().zip(&a).all(|(&o, &a)| o == a * T::of(3.0)));
            assert_eq!(va.sum(), a.iter().copied().sum::<T>());
            assert_eq!(V::zero().sum(), T::zero());
        }
    }

    #[test]
    fn every_register_computes_the_same() {
        check::<f32, Portable<f32>>();
        check::<f64, Portable<f64>>();
        check::<f32, Scalar<f32>>();
        check::<f64, Scalar<f64>>();
        #[cfg(target_arch = "x86_64")]
        if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            check::<f32, F32x8>();
            check::<f64, F64x4>();
        }
    }
}
