//! MACE's SymmetricContraction: parity of forward values and vector–Jacobian
//! products with mace-torch 0.3.16 (fixtures written by
//! tests/fixtures/mace/generate_symmetric_contraction.py), the backward
//! against central finite differences, O(3) equivariance through the
//! library's Wigner-D, and errors on bad input.
//!
//! Errors are relative to the reference array, both as 2-norms and as
//! max |a − b| / max |b| (nn_support::assert_close): float64 within 1e-12 and
//! float32 within 1e-5 of the float64 reference, float32 also within 1e-5 of
//! mace-torch's own float32 run.

mod nn_support;

use equipot::nn::{ContractionTensors, SymmetricContraction, TensorView};
use equipot::so3::{Irreps, MulIr};
use equipot::{Error, Real};
use nn_support::{array, assert_close, back, irreps, max_rel_err, rel_err, rotate, rotations, to, Rng};
use serde_json::Value;

const TOL_F64: f64 = 1e-12;
const TOL_F32: f64 = 1e-5;
const TOL_FINITE_DIFFERENCES: f64 = 1e-7;

fn fixture() -> Vec<Value> {
    let path = format!("{}/tests/fixtures/mace/symmetric_contraction.json", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let value: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    value["cases"].as_array().unwrap().clone()
}

fn usizes(v: &Value) -> Vec<usize> {
    v.as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as usize).collect()
}

/// A dense tensor owned by the test.
struct Dense {
    shape: Vec<usize>,
    values: Vec<f64>,
}

impl Dense {
    fn view(&self) -> TensorView<'_> {
        TensorView { shape: &self.shape, values: &self.values }
    }
}

/// The U matrices (densified from the fixture's exact nonzeros) and weights
/// of every output irrep of a case, by order.
struct Tensors(Vec<(Vec<Dense>, Vec<Dense>)>);

impl Tensors {
    fn of(case: &Value) -> Tensors {
        let list = case["contractions"].as_array().unwrap();
        Tensors(
            list.iter()
                .map(|c| {
                    let u = c["U"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|u| {
                            let shape = usizes(&u["shape"]);
                            let mut values = vec![0.0; shape.iter().product()];
                            for (i, v) in usizes(&u["indices"]).into_iter().zip(array(&u["values"])) {
                                values[i] = v;
                            }
                            Dense { shape, values }
                        })
                        .collect();
                    let w = c["weights"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .map(|w| Dense { shape: usizes(&w["shape"]), values: array(&w["values"]) })
                        .collect();
                    (u, w)
                })
                .collect(),
        )
    }

    fn views(&self) -> Vec<ContractionTensors<'_>> {
        self.0
            .iter()
            .map(|(u, w)| ContractionTensors {
                u: u.iter().map(Dense::view).collect(),
                weights: w.iter().map(Dense::view).collect(),
            })
            .collect()
    }
}

fn layer<T: Real>(case: &Value, tensors: &Tensors) -> SymmetricContraction<T> {
    SymmetricContraction::new(&irreps(&case["irreps_in"]), &irreps(&case["irreps_out"]), &tensors.views()).unwrap()
}

fn forward<T: Real>(layer: &SymmetricContraction<T>, elements: &[usize], x: &[f64]) -> Vec<f64> {
    let mut out = vec![T::zero(); elements.len() * layer.irreps_out().dim()];
    layer.forward(elements, &to(x), &mut out).unwrap();
    back(&out)
}

fn backward<T: Real>(layer: &SymmetricContraction<T>, elements: &[usize], x: &[f64], g: &[f64]) -> Vec<f64> {
    let mut grad_x = vec![T::zero(); x.len()];
    layer.backward(elements, &to(x), &to(g), &mut grad_x).unwrap();
    back(&grad_x)
}

/// assert_close, printing the errors (run with --nocapture to see them).
fn check(what: &str, a: &[f64], b: &[f64], tol: f64) {
    eprintln!("{what}: {:.2e} (2-norm), {:.2e} (max)", rel_err(a, b), max_rel_err(a, b));
    assert_close(what, a, b, tol);
}

fn check_parity<T: Real>(tol: f64) {
    for (k, case) in fixture().iter().enumerate() {
        let tensors = Tensors::of(case);
        let layer = layer::<T>(case, &tensors);
        let elements = usizes(&case["elements"]);
        let (x, g) = (array(&case["x"]), array(&case["g"]));
        let name =
            format!("case {k} ({} -> {}, correlation {})", case["irreps_in"], case["irreps_out"], case["correlation"]);
        let out = forward(&layer, &elements, &x);
        let grad_x = backward(&layer, &elements, &x, &g);
        let precision = std::any::type_name::<T>();
        check(&format!("{precision} {name} forward"), &out, &array(&case["out"]), tol);
        check(&format!("{precision} {name} backward"), &grad_x, &array(&case["grad_x"]), tol);
        if std::mem::size_of::<T>() == 4 {
            check(&format!("{precision} {name} forward vs mace f32"), &out, &array(&case["out_f32"]), tol);
            check(&format!("{precision} {name} backward vs mace f32"), &grad_x, &array(&case["grad_x_f32"]), tol);
        }
    }
}

#[test]
fn forward_and_backward_match_mace_f64() {
    nn_support::every_simd(|| {
        check_parity::<f64>(TOL_F64);
    });
}

#[test]
fn forward_and_backward_match_mace_f32() {
    nn_support::every_simd(|| {
        check_parity::<f32>(TOL_F32);
    });
}

#[test]
fn fixture_covers_mace_mp_structure() {
    nn_support::every_simd(|| {
        // The lmax-3, correlation-3, 0e+1o case: the structure of MACE-MP-0's product blocks.
        let cases = fixture();
        assert!(cases
            .iter()
            .any(|c| c["correlation"] == 3 && irreps(&c["irreps_in"]).lmax() == 3 && irreps(&c["irreps_out"]).len() == 2));
    });
}

/// d/dx of g·out(x) by central differences, every entry of x.
#[test]
fn backward_matches_finite_differences() {
    nn_support::every_simd(|| {
        let h = 1e-5;
        for (k, case) in fixture().iter().enumerate() {
            let tensors = Tensors::of(case);
            let layer = layer::<f64>(case, &tensors);
            let elements = usizes(&case["elements"]);
            let (x, g) = (array(&case["x"]), array(&case["g"]));
            let loss = |x: &[f64]| forward(&layer, &elements, x).iter().zip(&g).map(|(a, b)| a * b).sum::<f64>();
            let numeric: Vec<f64> = (0..x.len())
                .map(|i| {
                    let (mut plus, mut minus) = (x.clone(), x.clone());
                    plus[i] += h;
                    minus[i] -= h;
                    (loss(&plus) - loss(&minus)) / (2.0 * h)
                })
                .collect();
            let analytic = backward(&layer, &elements, &x, &g);
            check(&format!("case {k} finite differences"), &analytic, &numeric, TOL_FINITE_DIFFERENCES);
        }
    });
}

/// The irreps of one channel's D-vector: irreps_in with multiplicity 1.
fn coupling(irreps_in: &Irreps) -> Irreps {
    Irreps(irreps_in.iter().map(|m| MulIr { mul: 1, ir: m.ir }).collect())
}

/// out(D_in x) = D_out out(x) for rotations with and without inversion.
#[test]
fn equivariant_under_rotations_and_inversion() {
    nn_support::every_simd(|| {
        for (k, case) in fixture().iter().enumerate() {
            let tensors = Tensors::of(case);
            let layer = layer::<f64>(case, &tensors);
            let elements = usizes(&case["elements"]);
            let x = array(&case["x"]);
            let (irreps_x, irreps_out) = (coupling(&irreps(&case["irreps_in"])), irreps(&case["irreps_out"]));
            let out = forward(&layer, &elements, &x);
            for (what, r) in rotations(40 + k as u64, 2) {
                let rotated_out = forward(&layer, &elements, &rotate(&irreps_x, &r, &x));
                check(&format!("case {k} {what}"), &rotated_out, &rotate(&irreps_out, &r, &out), TOL_F64);
            }
        }
    });
}

fn is_err<T>(result: equipot::Result<T>, what: &str) {
    assert!(result.is_err(), "{what}: expected an error");
}

#[test]
fn bad_input_is_an_error() {
    nn_support::every_simd(|| {
        let case = &fixture()[2];
        let tensors = Tensors::of(case);
        let (irreps_in, irreps_out) = (irreps(&case["irreps_in"]), irreps(&case["irreps_out"]));
        let layer = layer::<f64>(case, &tensors);
        let elements = usizes(&case["elements"]);
        let x = array(&case["x"]);
        let out_len = elements.len() * irreps_out.dim();
        let mut out = vec![0.0; out_len];
        let mut gx = vec![0.0; x.len()];

        is_err(layer.forward(&elements, &x[1..], &mut out), "short x");
        is_err(layer.forward(&elements, &x, &mut out[1..]), "short out");
        is_err(layer.forward(&elements[1..], &x, &mut out), "too few elements");
        let mut wrong = elements.clone();
        wrong[0] = layer.n_elements();
        let e = layer.forward(&wrong, &x, &mut out).unwrap_err();
        assert!(matches!(e, Error::InvalidArgument(_)), "{e}");
        is_err(layer.backward(&elements, &x, &out[1..], &mut gx), "short grad_out");
        is_err(layer.backward(&elements, &x, &out, &mut gx[1..]), "short grad_x");
        is_err(layer.backward(&wrong, &x, &out, &mut gx), "element out of range");

        let views = tensors.views();
        let new = |i: &Irreps, o: &Irreps, t: &[ContractionTensors]| SymmetricContraction::<f64>::new(i, o, t);
        is_err(new(&irreps_in, &irreps_out, &views[..1]), "one tensor set for two output irreps");
        is_err(new(&Irreps::parse("4x0e+3x1o+4x2e").unwrap(), &irreps_out, &views), "uneven multiplicities");
        is_err(new(&Irreps::parse("4x0e+4x1o").unwrap(), &irreps_out, &views), "U of another input dimension");
        is_err(new(&irreps_in, &Irreps::parse("4x0e+4x2e").unwrap(), &views), "U of another output irrep");
        is_err(new(&irreps_in, &Irreps::parse("4x0e+3x1o").unwrap(), &views), "output multiplicity");
        is_err(new(&irreps_in, &Irreps::parse("").unwrap(), &[]), "no outputs");

        let mut missing = views.clone();
        missing[1].weights.pop();
        is_err(new(&irreps_in, &irreps_out, &missing), "one weight tensor missing");
        let mut short = views.clone();
        short[0].u[2].values = &short[0].u[2].values[1..];
        is_err(new(&irreps_in, &irreps_out, &short), "U shorter than its shape");
        let mut shape = views.clone();
        let bad_shape = [3, 5, 4];
        shape[1].weights[0].shape = &bad_shape;
        is_err(new(&irreps_in, &irreps_out, &shape), "weights of the wrong shape");
        let nan_weights: Vec<f64> = views[0].weights[0].values.iter().map(|_| f64::NAN).collect();
        let mut nan = views.clone();
        nan[0].weights[0].values = &nan_weights;
        is_err(new(&irreps_in, &irreps_out, &nan), "NaN weights");
    });
}

/// Zero nodes is a valid batch; random inputs give finite values.
#[test]
fn empty_batch_and_random_inputs() {
    nn_support::every_simd(|| {
        let case = &fixture()[4];
        let tensors = Tensors::of(case);
        let layer = layer::<f32>(case, &tensors);
        layer.forward(&[], &[], &mut []).unwrap();
        layer.backward(&[], &[], &[], &mut []).unwrap();
        let mut rng = Rng::new(7);
        let nodes = 37; // not a multiple of the task size
        let x = rng.normals(nodes * irreps(&case["irreps_in"]).dim());
        let elements: Vec<usize> = (0..nodes).map(|i| i % layer.n_elements()).collect();
        let out = forward(&layer, &elements, &x);
        assert!(out.iter().all(|v| v.is_finite()) && out.iter().any(|&v| v != 0.0));
        // Node by node equals the batch.
        let x_row = x.len() / nodes;
        let out_row = out.len() / nodes;
        for n in [0, 5, 36] {
            let single = forward(&layer, &elements[n..n + 1], &x[n * x_row..][..x_row]);
            assert_eq!(single, out[n * out_row..][..out_row].to_vec(), "node {n}");
        }
    });
}
