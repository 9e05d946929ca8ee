//! Equivariance of the layers under the library's own Wigner-D
//! (`Irrep::d_from_matrix`, whose agreement with e3nn's `D_from_matrix` is
//! tests/so3_parity.rs's `wigner_d_equals_e3nn`): for random rotations R and
//! for -R (inversion, acting through the parity of each irrep), rotating the
//! input rotates the output, f(D_in x) = D_out f(x), to 1e-12 in float64.
//! Linear and Gate here, the tensor products in tests/tp_parity.rs; the radial
//! pipeline (Bessel basis, cutoffs, FullyConnectedNet on scalars) sees only
//! lengths and must be invariant.

mod nn_support;

use equipot::nn::{BesselBasis, Linear, PolynomialCutoff, XplorCutoff};
use equipot::so3::Irreps;
use nn_support::{apply, array, assert_close, fixture, rel_err, rotate, rotations, Rng};

const TOL: f64 = 1e-12;

/// f(D_in x) = D_out f(x) for three random rotations, each with and without inversion.
fn check(what: &str, irreps_in: &Irreps, irreps_out: &Irreps, rows: usize, f: impl Fn(&[f64]) -> Vec<f64>) {
    let x = Rng::new(11).normals(rows * irreps_in.dim());
    let y = f(&x);
    let mut moved = 0.0f64;
    for (name, r) in rotations(5, 3) {
        let dx = rotate(irreps_in, &r, &x);
        moved = moved.max(rel_err(&dx, &x));
        assert_close(&format!("{what} ({name})"), &f(&dx), &rotate(irreps_out, &r, &y), TOL);
    }
    assert!(moved > 0.1, "{what}: the rotations barely move the input, the test would prove nothing");
}

#[test]
fn linear_is_equivariant() {
    nn_support::every_simd(|| {
        for file in ["linear.json", "linear_sevennet.json"] {
            for (k, case) in fixture(file)["cases"].as_array().unwrap().iter().enumerate() {
                let spec = nn_support::linear_spec(case);
                let lin = Linear::<f64>::new(&spec, &array(&case["weight"]), &array(&case["bias"])).unwrap();
                let rows = 3;
                check(&format!("{file} case {k}"), &spec.irreps_in, &spec.irreps_out, rows, |x| {
                    let mut y = vec![0.0; rows * spec.irreps_out.dim()];
                    lin.forward(rows, x, &mut y).unwrap();
                    y
                });
            }
        }
    });
}

#[test]
fn gate_is_equivariant() {
    nn_support::every_simd(|| {
        for (k, case) in fixture("gate.json")["cases"].as_array().unwrap().iter().enumerate() {
            let gate = nn_support::gate::<f64>(case);
            let rows = 3;
            check(&format!("gate case {k}"), gate.irreps_in(), gate.irreps_out(), rows, |x| {
                let mut y = vec![0.0; rows * gate.irreps_out().dim()];
                gate.forward(rows, x, &mut y).unwrap();
                y
            });
        }
    });
}

/// Edge vectors → lengths → Bessel basis × cutoff → FullyConnectedNet (the
/// radial weights of a convolution): all invariant under rotations and
/// inversion of the vectors, for every fc.json net and both cutoffs.
#[test]
fn radial_pipeline_is_invariant() {
    nn_support::every_simd(|| {
        let radial = fixture("radial.json");
        let cutoff = radial["cutoff"].as_f64().unwrap();
        let poly = PolynomialCutoff::<f64>::new(cutoff, 6).unwrap();
        let xplor = XplorCutoff::<f64>::new(cutoff, radial["xplor"]["cutoff_on"].as_f64().unwrap()).unwrap();
        let mut rng = Rng::new(3);
        let vectors: Vec<[f64; 3]> = (0..40)
            .map(|_| {
                let v = [rng.normal(), rng.normal(), rng.normal()];
                let length = 0.3 + (cutoff - 0.3) * rng.uniform();
                let n = v.iter().map(|x| x * x).sum::<f64>().sqrt();
                v.map(|x| x * length / n)
            })
            .collect();
        let n = vectors.len();
        for (k, case) in fixture("fc.json")["cases"].as_array().unwrap().iter().enumerate() {
            let (net, hs) = nn_support::fc_net::<f64>(case);
            let bessel = BesselBasis::<f64>::new(cutoff, hs[0]).unwrap();
            // [Bessel × polynomial cutoff, Bessel × XPLOR cutoff] → net, per edge
            let pipeline = |vs: &[[f64; 3]]| -> Vec<f64> {
                let r: Vec<f64> = vs.iter().map(|v| v.iter().map(|x| x * x).sum::<f64>().sqrt()).collect();
                let mut basis = vec![0.0; n * hs[0]];
                bessel.forward(&r, &mut basis).unwrap();
                let (mut c_poly, mut c_xplor) = (vec![0.0; n], vec![0.0; n]);
                poly.forward(&r, &mut c_poly).unwrap();
                xplor.forward(&r, &mut c_xplor).unwrap();
                let mut out = vec![];
                for c in [c_poly, c_xplor] {
                    let x: Vec<f64> = basis.iter().enumerate().map(|(i, b)| b * c[i / hs[0]]).collect();
                    let mut y = vec![0.0; n * hs[hs.len() - 1]];
                    net.forward(n, &x, &mut y, None).unwrap();
                    out.extend(c);
                    out.extend(y);
                }
                out
            };
            let expected = pipeline(&vectors);
            for (name, r) in rotations(9, 3) {
                let moved: Vec<[f64; 3]> = vectors.iter().map(|&v| apply(&r, v)).collect();
                assert_close(&format!("fc case {k} radial pipeline ({name})"), &pipeline(&moved), &expected, TOL);
            }
        }
    });
}
