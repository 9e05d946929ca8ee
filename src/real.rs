//! The floating-point scalar every kernel is generic over: one code path for
//! f32 and f64.

use std::fmt::{Debug, Display};
use std::iter::Sum;
use std::ops::{AddAssign, DivAssign, MulAssign, SubAssign};

/// f32 or f64.
pub trait Real:
    num_traits::Float
    + num_traits::FloatConst
    + AddAssign
    + SubAssign
    + MulAssign
    + DivAssign
    + Sum
    + Default
    + Debug
    + Display
    + Send
    + Sync
    + 'static
{
    /// Converts from f64, rounding to nearest.
    fn of(x: f64) -> Self;
    /// Converts to f64, exactly.
    fn f64(self) -> f64;
    /// The same slice as f64, when Self is f64 (no copy needed).
    fn as_f64_mut(x: &mut [Self]) -> Option<&mut [f64]>;
    /// Its AVX2 register (the hand-vectorized kernels' lanes).
    #[cfg(target_arch = "x86_64")]
    #[doc(hidden)]
    type Avx2: crate::nn::vector::Vector<Self>;
}

impl Real for f64 {
    #[cfg(target_arch = "x86_64")]
    type Avx2 = crate::nn::vector::F64x4;
    #[inline(always)]
    fn of(x: f64) -> Self {
        x
    }
    #[inline(always)]
    fn f64(self) -> f64 {
        self
    }
    fn as_f64_mut(x: &mut [f64]) -> Option<&mut [f64]> {
        Some(x)
    }
}

impl Real for f32 {
    #[cfg(target_arch = "x86_64")]
    type Avx2 = crate::nn::vector::F32x8;
    #[inline(always)]
    fn of(x: f64) -> Self {
        x as f32
    }
    #[inline(always)]
    fn f64(self) -> f64 {
        self as f64
    }
    fn as_f64_mut(_: &mut [f32]) -> Option<&mut [f64]> {
        None
    }
}
