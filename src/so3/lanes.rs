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
