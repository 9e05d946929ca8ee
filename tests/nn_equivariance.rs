//! Equivariance of Linear and Gate: rotating (and inverting) the input by the
//! Wigner-D matrices of its irreps transforms the output by those of the
//! output irreps, to 1e-12 in float64. The rotation and e3nn's D matrices
//! (`Irrep.D_from_matrix`) come from tests/fixtures/e3nn/rotations.json.

mod nn_support;

use equipot::nn::Linear;
use equipot::so3::Irreps;
use nn_support::{array, assert_close, fixture, rel_err, Rng};
use serde_json::Value;

const TOL: f64 = 1e-12;

/// Applies the block-diagonal D of `irreps` to every row: x_u ↦ D_l x_u for
/// each copy u of each irrep.
fn act(irreps: &Irreps, ds: &Value, rows: usize, x: &[f64]) -> Vec<f64> {
    let dim = irreps.dim();
    let mut y = vec![0.0; x.len()];
    for r in 0..rows {
        let mut offset = r * dim;
        for m in irreps.iter() {
            let d = array(&ds[m.ir.to_string()]);
            let n = m.ir.dim();
            for _ in 0..m.mul {
                for i in 0..n {
                    y[offset + i] = (0..n).map(|j| d[i * n + j] * x[offset + j]).sum();
                }
                offset += n;
            }
        }
    }
    y
}

/// f(D_in x) = D_out f(x) for both the proper rotation and the improper one.
fn check(what: &str, irreps_in: &Irreps, irreps_out: &Irreps, rows: usize, f: impl Fn(&[f64]) -> Vec<f64>) {
    let rotations = fixture("rotations.json");
    let x = Rng::new(11).normals(rows * irreps_in.dim());
    let mut moved = 0.0f64;
    for kind in ["proper", "improper"] {
        let ds = &rotations[kind];
        let dx = act(irreps_in, ds, rows, &x);
        moved = moved.max(rel_err(&dx, &x));
        let rotated_after = act(irreps_out, ds, rows, &f(&x));
        assert_close(&format!("{what} ({kind})"), &f(&dx), &rotated_after, TOL);
    }
    assert!(moved > 0.1, "{what}: the rotations barely move the input, the test would prove nothing");
}

#[test]
fn linear_is_equivariant() {
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
}

#[test]
fn gate_is_equivariant() {
    for (k, case) in fixture("gate.json")["cases"].as_array().unwrap().iter().enumerate() {
        let gate = nn_support::gate::<f64>(case);
        let rows = 3;
        check(&format!("gate case {k}"), gate.irreps_in(), gate.irreps_out(), rows, |x| {
            let mut y = vec![0.0; rows * gate.irreps_out().dim()];
            gate.forward(rows, x, &mut y).unwrap();
            y
        });
    }
}
