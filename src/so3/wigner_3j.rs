//! Wigner-3j symbols in e3nn's real basis, computed (not tabulated): the
//! complex Clebsch–Gordan coefficients of SU(2) by Racah's formula, rotated
//! into e3nn's real spherical-harmonic basis, made real and normalized to
//! unit Frobenius norm — e3nn's definition, so the signs match it.

use crate::{invalid, Result};

/// C[m1][m2][m3] for degrees l1, l2, l3, as a row-major
/// (2l1+1)·(2l2+1)·(2l3+1) array, equal to e3nn's `o3.wigner_3j(l1, l2, l3)`.
/// It is invariant: C_{ijk} = C_{abc} D¹_{ai} D²_{bj} D³_{ck} for every rotation,
/// and Σ C² = 1.
pub fn wigner_3j(l1: u32, l2: u32, l3: u32) -> Result<Vec<f64>> {
    if l3 < l1.abs_diff(l2) || l3 > l1 + l2 {
        return invalid!("wigner_3j({l1}, {l2}, {l3}) violates the triangle rule");
    }
    if l1 + l2 + l3 > 60 {
        return invalid!("wigner_3j({l1}, {l2}, {l3}): degrees too large for f64 factorials");
    }
    let (d1, d2, d3) = (2 * l1 as usize + 1, 2 * l2 as usize + 1, 2 * l3 as usize + 1);
    let (q1, q2, q3) = (real_to_complex(l1), real_to_complex(l2), real_to_complex(l3));
    // C_real[j,l,m] = Σ_{i,k,n} Q1[i,j] Q2[k,l] conj(Q3[n,m]) CG[i,k,n]
    let mut re = vec![0.0; d1 * d2 * d3];
    let mut im = vec![0.0; d1 * d2 * d3];
    for i in 0..d1 {
        for k in 0..d2 {
            let (m1, m2) = (i as i64 - l1 as i64, k as i64 - l2 as i64);
            let m3 = m1 + m2;
            if m3.unsigned_abs() > l3 as u64 {
                continue;
            }
            let n = (m3 + l3 as i64) as usize;
            let cg = su2_clebsch_gordan(l1 as i64, m1, l2 as i64, m2, l3 as i64, m3);
            if cg == 0.0 {
                continue;
            }
            for &(j, a) in &q1[i] {
                for &(l, b) in &q2[k] {
                    let ab = mul(a, b);
                    for &(m, c) in &q3[n] {
                        let t = mul(ab, (c.0, -c.1));
                        let idx = (j * d2 + l) * d3 + m;
                        re[idx] += cg * t.0;
                        im[idx] += cg * t.1;
                    }
                }
            }
        }
    }
    debug_assert!(im.iter().all(|x| x.abs() < 1e-10), "Wigner-3j must be real");
    let norm = re.iter().map(|x| x * x).sum::<f64>().sqrt();
    Ok(re.into_iter().map(|x| x / norm).collect())
}

type Complex = (f64, f64);

fn mul(a: Complex, b: Complex) -> Complex {
    (a.0 * b.0 - a.1 * b.1, a.0 * b.1 + a.1 * b.0)
}

/// Rows of e3nn's `change_basis_real_to_complex(l)` (the factor (-i)^l
/// included), as (column, value) lists: each row has at most two entries.
fn real_to_complex(l: u32) -> Vec<Vec<(usize, Complex)>> {
    let l_ = l as i64;
    let s = std::f64::consts::FRAC_1_SQRT_2;
    let phase = [(1.0, 0.0), (0.0, -1.0), (-1.0, 0.0), (0.0, 1.0)][(l % 4) as usize];
    (-l_..=l_)
        .map(|m| {
            let row = (m + l_) as usize;
            let (plus, minus) = ((l_ + m.abs()) as usize, (l_ - m.abs()) as usize);
            let entries: Vec<(usize, Complex)> = if m < 0 {
                vec![(plus, (s, 0.0)), (minus, (0.0, -s))]
            } else if m == 0 {
                vec![(row, (1.0, 0.0))]
            } else {
                let sign = if m % 2 == 0 { 1.0 } else { -1.0 };
                vec![(plus, (sign * s, 0.0)), (minus, (0.0, sign * s))]
            };
            entries.into_iter().map(|(col, v)| (col, mul(phase, v))).collect()
        })
        .collect()
}

/// ⟨j1 m1 j2 m2 | j3 m3⟩ by Racah's formula, integer angular momenta.
fn su2_clebsch_gordan(j1: i64, m1: i64, j2: i64, m2: i64, j3: i64, m3: i64) -> f64 {
    if m3 != m1 + m2 {
        return 0.0;
    }
    let f = |n: i64| -> f64 { (1..=n).map(|k| k as f64).product() };
    let prefactor = ((2 * j3 + 1) as f64 * f(j3 + j1 - j2) * f(j3 - j1 + j2) * f(j1 + j2 - j3) * f(j3 + m3)
        * f(j3 - m3)
        / (f(j1 + j2 + j3 + 1) * f(j1 - m1) * f(j1 + m1) * f(j2 - m2) * f(j2 + m2)))
        .sqrt();
    let vmin = (-j1 + j2 + m3).max(-j1 + m1).max(0);
    let vmax = (j2 + j3 + m1).min(j3 - j1 + j2).min(j3 + m3);
    let mut sum = 0.0;
    for v in vmin..=vmax {
        let sign = if (v + j2 + m2) % 2 == 0 { 1.0 } else { -1.0 };
        sum += sign * f(j2 + j3 + m1 - v) * f(j1 - m1 + v)
            / (f(v) * f(j3 - j1 + j2 - v) * f(j3 + m3 - v) * f(v + j1 - j2 - m3));
    }
    prefactor * sum
}
