//! Wigner-D matrices in e3nn's real basis, defined by the spherical harmonics
//! themselves: D^l(R) is the matrix with Y^l(R r) = D^l(R) Y^l(r) for all r
//! (e3nn's `Irrep.D_from_matrix`).
//!
//! Since the Y^l_m are orthogonal on the sphere, D_ab = ⟨Y_a ∘ R, Y_b⟩ / 4π in
//! 'component' normalization. The integrand is a polynomial of degree 2l, so a
//! product rule — Gauss–Legendre in the polar coordinate (l + 1 nodes) times
//! 2l + 1 equally spaced azimuths — integrates it exactly: no fitting, no
//! linear solve, just rounding error.

use crate::so3::{Irrep, Irreps, Normalization, SphericalHarmonics, SH_LMAX};
use crate::{invalid, Result};

/// How far from orthogonal (max |RᵀR - I|) an input matrix may be.
const ORTHOGONALITY_TOLERANCE: f64 = 1e-9;

/// D^l(R) for a proper rotation R (det +1), row-major (2l+1) × (2l+1), such
/// that Y^l(R r) = D^l(R) Y^l(r). `r[i][j]` is row i, column j.
pub fn wigner_d(l: u32, r: &[[f64; 3]; 3]) -> Result<Vec<f64>> {
    if check_orthogonal(r)? < 0.0 {
        return invalid!("wigner_d: the matrix has determinant -1; use Irrep::d_from_matrix for improper rotations");
    }
    rotation_d(l, r)
}

impl Irrep {
    /// p^k D^l(±R) for an orthogonal R, k = 1 where det R = -1 (e3nn's
    /// `Irrep.D_from_matrix`): inversion acts on the irrep as its parity.
    pub fn d_from_matrix(&self, r: &[[f64; 3]; 3]) -> Result<Vec<f64>> {
        if check_orthogonal(r)? > 0.0 {
            return rotation_d(self.l, r);
        }
        let proper = r.map(|row| row.map(|x| -x));
        let sign = self.p as f64;
        Ok(rotation_d(self.l, &proper)?.into_iter().map(|x| sign * x).collect())
    }
}

impl Irreps {
    /// The block-diagonal representation matrix (dim × dim, row-major) of an
    /// orthogonal R: one `Irrep::d_from_matrix` block per copy of each irrep.
    pub fn d_from_matrix(&self, r: &[[f64; 3]; 3]) -> Result<Vec<f64>> {
        let dim = self.dim();
        let mut out = vec![0.0; dim * dim];
        let mut offset = 0;
        for mul_ir in self.iter() {
            let block = mul_ir.ir.d_from_matrix(r)?;
            let d = mul_ir.ir.dim();
            for _ in 0..mul_ir.mul {
                for a in 0..d {
                    out[(offset + a) * dim + offset..][..d].copy_from_slice(&block[a * d..][..d]);
                }
                offset += d;
            }
        }
        Ok(out)
    }
}

/// Checks R is finite and orthogonal; returns det R (±1).
fn check_orthogonal(r: &[[f64; 3]; 3]) -> Result<f64> {
    if r.iter().flatten().any(|x| !x.is_finite()) {
        return invalid!("rotation matrix has a non-finite entry: {r:?}");
    }
    for i in 0..3 {
        for j in 0..3 {
            let rtr: f64 = (0..3).map(|k| r[k][i] * r[k][j]).sum();
            let expected = if i == j { 1.0 } else { 0.0 };
            if (rtr - expected).abs() > ORTHOGONALITY_TOLERANCE {
                return invalid!("matrix is not orthogonal (RᵀR[{i}][{j}] = {rtr}): {r:?}");
            }
        }
    }
    let det = r[0][0] * (r[1][1] * r[2][2] - r[1][2] * r[2][1]) - r[0][1] * (r[1][0] * r[2][2] - r[1][2] * r[2][0])
        + r[0][2] * (r[1][0] * r[2][1] - r[1][1] * r[2][0]);
    Ok(det.signum())
}

/// D^l(R) by exact quadrature of ⟨Y^l ∘ R, Y^l⟩ over the sphere.
fn rotation_d(l: u32, r: &[[f64; 3]; 3]) -> Result<Vec<f64>> {
    if l > SH_LMAX {
        return invalid!("Wigner-D is implemented up to l = {SH_LMAX}, not {l}");
    }
    let kernel = SphericalHarmonics::new(l, false, Normalization::Component)?.kernel::<f64>();
    let (dim, offset, n_phi) = (2 * l as usize + 1, (l * l) as usize, 2 * l as usize + 1);
    let mut y = vec![0.0; (l as usize + 1).pow(2)];
    let mut y_rotated = y.clone();
    let mut d = vec![0.0; dim * dim];
    for (t, w) in gauss_legendre(l as usize + 1) {
        // weight of the node: w · (2π / n_phi) / 4π
        let weight = w / (2.0 * n_phi as f64);
        let s = (1.0 - t * t).sqrt();
        for j in 0..n_phi {
            let phi = 2.0 * std::f64::consts::PI * j as f64 / n_phi as f64;
            let p = [s * phi.cos(), s * phi.sin(), t];
            let rp = [0, 1, 2].map(|i| r[i][0] * p[0] + r[i][1] * p[1] + r[i][2] * p[2]);
            kernel.forward(p, &mut y);
            kernel.forward(rp, &mut y_rotated);
            for a in 0..dim {
                let ya = weight * y_rotated[offset + a];
                for b in 0..dim {
                    d[a * dim + b] += ya * y[offset + b];
                }
            }
        }
    }
    Ok(d)
}

/// Nodes and weights of n-point Gauss–Legendre quadrature on [-1, 1]
/// (exact for polynomials of degree ≤ 2n - 1), by Newton's method on P_n.
fn gauss_legendre(n: usize) -> Vec<(f64, f64)> {
    (0..n)
        .map(|i| {
            let mut x = (std::f64::consts::PI * (i as f64 + 0.75) / (n as f64 + 0.5)).cos();
            let mut derivative = 0.0;
            for _ in 0..100 {
                // P_n(x) and P_n'(x) by the three-term recurrence
                let (mut p0, mut p1) = (1.0, x);
                for k in 2..=n {
                    let p2 = ((2 * k - 1) as f64 * x * p1 - (k - 1) as f64 * p0) / k as f64;
                    p0 = p1;
                    p1 = p2;
                }
                derivative = n as f64 * (x * p1 - p0) / (x * x - 1.0);
                let step = p1 / derivative;
                x -= step;
                if step.abs() < 1e-16 {
                    break;
                }
            }
            (x, 2.0 / ((1.0 - x * x) * derivative * derivative))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gauss_legendre_integrates_monomials() {
        for n in 1..=13 {
            let rule = gauss_legendre(n);
            for k in 0..2 * n {
                let exact = if k % 2 == 1 { 0.0 } else { 2.0 / (k + 1) as f64 };
                let sum: f64 = rule.iter().map(|(x, w)| w * x.powi(k as i32)).sum();
                assert!((sum - exact).abs() < 1e-14, "n = {n}, x^{k}: {sum} vs {exact}");
            }
        }
    }

    #[test]
    fn rejects_non_rotations() {
        let shear = [[1.0, 0.1, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];
        assert!(wigner_d(1, &shear).is_err());
        let mirror = [[-1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];
        assert!(wigner_d(1, &mirror).is_err());
        assert!(Irrep::new(1, -1).d_from_matrix(&mirror).is_ok());
        let identity = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];
        assert!(wigner_d(SH_LMAX + 1, &identity).is_err());
    }
}
