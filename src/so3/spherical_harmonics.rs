//! Real spherical harmonics in e3nn 0.6's conventions for many vectors at
//! once, and their vector–Jacobian product (the kernel is in sh_kernel.rs).

use crate::so3::sh_kernel::{q_index, ShKernel, NQ, SH_LMAX};
use crate::so3::Irreps;
use crate::{invalid, Error, Real, Result};
use rayon::prelude::*;
use std::str::FromStr;

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
    /// N_lm = √((2 - δ_m0)(2l + 1)(l - m)!/(l + m)!) at q_index(l, m), times
    /// the normalization's factor.
    factors: Vec<f64>,
}

impl SphericalHarmonics {
    /// Highest degree implemented (as in e3nn 0.6).
    pub const fn max_lmax() -> u32 {
        SH_LMAX
    }

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
        ShKernel::new(self.lmax, self.normalize, &self.factors)
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
        out.par_chunks_mut(CHUNK * dim)
            .zip(vectors.par_chunks(CHUNK))
            .for_each(|(out, vectors)| k.forward_many(vectors, out));
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
        grad_vectors
            .par_chunks_mut(CHUNK)
            .zip(vectors.par_chunks(CHUNK))
            .zip(grad_out.par_chunks(CHUNK * dim))
            .for_each(|((grads, vectors), g)| k.backward_many(vectors, g, grads));
        Ok(())
    }
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
