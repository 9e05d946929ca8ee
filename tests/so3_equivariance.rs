//! Properties of the spherical harmonics and Wigner matrices that hold
//! without reference to e3nn: gradients against finite differences,
//! Y(R r) = D(R) Y(r), D a representation, Wigner-3j invariance.

use equipot::so3::{wigner_3j, wigner_d, Irrep, Irreps, Normalization, SphericalHarmonics};

const SH_LMAX: u32 = SphericalHarmonics::max_lmax();

/// A small deterministic generator (xorshift64*) for test inputs.
struct Rng(u64);

impl Rng {
    fn uniform(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545F4914F6CDD1D) >> 11) as f64 / (1u64 << 53) as f64
    }
    fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform().max(1e-300), self.uniform());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
    fn vector(&mut self) -> [f64; 3] {
        [self.normal(), self.normal(), self.normal()]
    }
    fn rotation(&mut self) -> [[f64; 3]; 3] {
        let q = [self.normal(), self.normal(), self.normal(), self.normal()];
        let n = q.iter().map(|x| x * x).sum::<f64>().sqrt();
        let [w, x, y, z] = q.map(|c| c / n);
        [
            [1.0 - 2.0 * (y * y + z * z), 2.0 * (x * y - z * w), 2.0 * (x * z + y * w)],
            [2.0 * (x * y + z * w), 1.0 - 2.0 * (x * x + z * z), 2.0 * (y * z - x * w)],
            [2.0 * (x * z - y * w), 2.0 * (y * z + x * w), 1.0 - 2.0 * (x * x + y * y)],
        ]
    }
}

fn apply(r: &[[f64; 3]; 3], v: [f64; 3]) -> [f64; 3] {
    [0, 1, 2].map(|i| r[i][0] * v[0] + r[i][1] * v[1] + r[i][2] * v[2])
}

fn matmul(a: &[f64], b: &[f64], n: usize) -> Vec<f64> {
    let mut c = vec![0.0; n * n];
    for i in 0..n {
        for k in 0..n {
            for j in 0..n {
                c[i * n + j] += a[i * n + k] * b[k * n + j];
            }
        }
    }
    c
}

fn max_abs_diff(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max)
}

fn all_harmonics() -> Vec<SphericalHarmonics> {
    let mut out = vec![];
    for normalize in [false, true] {
        for normalization in [Normalization::Component, Normalization::Norm, Normalization::Integral] {
            out.push(SphericalHarmonics::new(SH_LMAX, normalize, normalization).unwrap());
        }
    }
    out
}

#[test]
fn backward_matches_central_differences() {
    let mut rng = Rng(7);
    for sh in all_harmonics() {
        let dim = sh.dim();
        for _ in 0..20 {
            let v = rng.vector();
            let g: Vec<f64> = (0..dim).map(|_| rng.normal()).collect();
            let mut grad = [[0.0; 3]];
            sh.backward(&[v], &g, &mut grad).unwrap();
            let loss = |v: [f64; 3]| {
                let mut y = vec![0.0; dim];
                sh.compute(&[v], &mut y).unwrap();
                y.iter().zip(&g).map(|(a, b)| a * b).sum::<f64>()
            };
            let h = 1e-5 * (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt();
            let fd: Vec<f64> = (0..3)
                .map(|i| {
                    let (mut plus, mut minus) = (v, v);
                    plus[i] += h;
                    minus[i] -= h;
                    (loss(plus) - loss(minus)) / (2.0 * h)
                })
                .collect();
            let scale = fd.iter().map(|x| x * x).sum::<f64>().sqrt();
            let err = max_abs_diff(&grad[0], &fd);
            assert!(err <= 1e-7 * scale, "{sh:?} at {v:?}: {:?} vs {fd:?}", grad[0]);
        }
    }
}

#[test]
fn zero_vector_is_finite() {
    for sh in all_harmonics() {
        let mut y = vec![0.0; sh.dim()];
        sh.compute(&[[0.0; 3]], &mut y).unwrap();
        assert!(y[1..].iter().all(|&x| x == 0.0) && y[0] > 0.0);
        let mut grad = [[f64::NAN; 3]];
        sh.backward(&[[0.0; 3]], &vec![1.0; sh.dim()], &mut grad).unwrap();
        assert!(grad[0].iter().all(|x| x.is_finite()));
    }
}

#[test]
fn harmonics_are_equivariant() {
    let mut rng = Rng(11);
    let irreps = Irreps::spherical_harmonics(SH_LMAX);
    for sh in all_harmonics() {
        for _ in 0..5 {
            let r = rng.rotation();
            let v = rng.vector();
            let (mut y, mut y_rotated) = (vec![0.0; sh.dim()], vec![0.0; sh.dim()]);
            sh.compute(&[v], &mut y).unwrap();
            sh.compute(&[apply(&r, v)], &mut y_rotated).unwrap();
            // and under inversion, through the parity of the irreps
            let minus_r = r.map(|row| row.map(|x| -x));
            let mut y_inverted = vec![0.0; sh.dim()];
            sh.compute(&[apply(&minus_r, v)], &mut y_inverted).unwrap();
            for (rot, expected) in [(r, &y_rotated), (minus_r, &y_inverted)] {
                let d = irreps.d_from_matrix(&rot).unwrap();
                let dy: Vec<f64> = (0..sh.dim()).map(|i| (0..sh.dim()).map(|j| d[i * sh.dim() + j] * y[j]).sum()).collect();
                for l in 0..=SH_LMAX as usize {
                    let block = l * l..(l + 1) * (l + 1);
                    let scale = expected[block.clone()].iter().map(|x| x * x).sum::<f64>().sqrt();
                    let err = max_abs_diff(&dy[block.clone()], &expected[block]);
                    assert!(err <= 1e-12 * scale, "l = {l}: {err:e} of {scale:e}");
                }
            }
        }
    }
}

#[test]
fn wigner_d_is_an_orthogonal_representation() {
    let mut rng = Rng(13);
    for l in 0..=SH_LMAX {
        let n = 2 * l as usize + 1;
        let (r1, r2) = (rng.rotation(), rng.rotation());
        let r12: [[f64; 3]; 3] = std::array::from_fn(|i| std::array::from_fn(|j| (0..3).map(|k| r1[i][k] * r2[k][j]).sum()));
        let (d1, d2, d12) = (wigner_d(l, &r1).unwrap(), wigner_d(l, &r2).unwrap(), wigner_d(l, &r12).unwrap());
        assert!(max_abs_diff(&matmul(&d1, &d2, n), &d12) < 1e-12, "l = {l}: D(R1 R2) != D(R1) D(R2)");
        let d1t: Vec<f64> = (0..n * n).map(|k| d1[(k % n) * n + k / n]).collect();
        let identity: Vec<f64> = (0..n * n).map(|k| if k % (n + 1) == 0 { 1.0 } else { 0.0 }).collect();
        assert!(max_abs_diff(&matmul(&d1, &d1t, n), &identity) < 1e-12, "l = {l}: D Dᵀ != 1");
        // inversion acts as the parity
        let minus_r1 = r1.map(|row| row.map(|x| -x));
        let odd = Irrep::new(l, -1).d_from_matrix(&minus_r1).unwrap();
        assert!(max_abs_diff(&odd, &d1.iter().map(|x| -x).collect::<Vec<_>>()) == 0.0);
    }
}

#[test]
fn wigner_3j_is_invariant() {
    let mut rng = Rng(17);
    let r = rng.rotation();
    for l1 in 0..=4u32 {
        for l2 in 0..=4u32 {
            for l3 in l1.abs_diff(l2)..=(l1 + l2).min(4) {
                let c = wigner_3j(l1, l2, l3).unwrap();
                let (d1, d2, d3) = (wigner_d(l1, &r).unwrap(), wigner_d(l2, &r).unwrap(), wigner_d(l3, &r).unwrap());
                let (n1, n2, n3) = (2 * l1 as usize + 1, 2 * l2 as usize + 1, 2 * l3 as usize + 1);
                let mut rotated = vec![0.0; c.len()];
                for i in 0..n1 {
                    for j in 0..n2 {
                        for k in 0..n3 {
                            let mut sum = 0.0;
                            for a in 0..n1 {
                                for b in 0..n2 {
                                    for cc in 0..n3 {
                                        sum += c[(a * n2 + b) * n3 + cc] * d1[a * n1 + i] * d2[b * n2 + j] * d3[cc * n3 + k];
                                    }
                                }
                            }
                            rotated[(i * n2 + j) * n3 + k] = sum;
                        }
                    }
                }
                let err = max_abs_diff(&rotated, &c);
                assert!(err < 1e-12, "({l1},{l2},{l3}): {err:e}");
            }
        }
    }
}
