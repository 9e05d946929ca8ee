//! Parity of equipot's layers with e3nn 0.6 and sevenn 0.13: forward values
//! and vector–Jacobian products against torch autograd, from the fixtures
//! written by tests/fixtures/e3nn/generate_nn.py. float64 must agree to
//! 1e-12 and float32 to 1e-5 (relative, 2-norm and max), both against the
//! float64 reference.

mod nn_support;

use equipot::nn::{Activation, BesselBasis, Linear, PolynomialCutoff, SpeciesRescale, XplorCutoff};
use equipot::Real;
use nn_support::{array, assert_close, back, fixture, gate, irreps, linear_spec, to};
use serde_json::Value;

const TOL_F64: f64 = 1e-12;
const TOL_F32: f64 = 1e-5;

fn tol<T: Real>() -> f64 {
    if std::mem::size_of::<T>() == 8 {
        TOL_F64
    } else {
        TOL_F32
    }
}

fn rows(case: &Value) -> usize {
    case["rows"].as_u64().unwrap() as usize
}

#[test]
fn normalize2mom_constants_match_e3nn() {
    nn_support::every_simd(|| {
        let constants = fixture("normalize2mom.json");
        for (name, c) in constants.as_object().unwrap() {
            let act = Activation::from_name(name).unwrap();
            let expected = c["cst"].as_f64().unwrap();
            let got = act.second_moment_constant();
            let err = (got - expected).abs() / expected;
            assert!(err <= TOL_F64, "{name}: normalize2mom {got} vs e3nn {expected} ({err:.2e})");
            let is_id = c["is_id"].as_bool().unwrap();
            assert_eq!(act.normalization() == 1.0, is_id, "{name}: e3nn's identity shortcut");
        }
    });
}

fn check_linear<T: Real>(file: &str) {
    for (k, case) in fixture(file)["cases"].as_array().unwrap().iter().enumerate() {
        let spec = linear_spec(case);
        let lin = Linear::<T>::new(&spec, &array(&case["weight"]), &array(&case["bias"])).unwrap();
        let n = rows(case);
        let mut y = vec![T::zero(); n * spec.irreps_out.dim()];
        lin.forward(n, &to(&array(&case["x"])), &mut y).unwrap();
        assert_close(&format!("{file} case {k} forward"), &back(&y), &array(&case["y"]), tol::<T>());
        let mut gx = vec![T::zero(); n * spec.irreps_in.dim()];
        lin.backward(n, &to(&array(&case["g"])), &mut gx).unwrap();
        assert_close(&format!("{file} case {k} backward"), &back(&gx), &array(&case["grad_x"]), tol::<T>());
    }
}

#[test]
fn linear_matches_e3nn() {
    nn_support::every_simd(|| {
        for file in ["linear.json", "linear_sevennet.json"] {
            check_linear::<f64>(file);
            check_linear::<f32>(file);
        }
    });
}

fn check_gate<T: Real>() {
    for (k, case) in fixture("gate.json")["cases"].as_array().unwrap().iter().enumerate() {
        let g = gate::<T>(case);
        assert_eq!(g.irreps_in(), &irreps(&case["irreps_in"]), "case {k} irreps_in");
        assert_eq!(g.irreps_out(), &irreps(&case["irreps_out"]), "case {k} irreps_out");
        let n = rows(case);
        let x = to::<T>(&array(&case["x"]));
        let mut y = vec![T::zero(); n * g.irreps_out().dim()];
        g.forward(n, &x, &mut y).unwrap();
        assert_close(&format!("gate case {k} forward"), &back(&y), &array(&case["y"]), tol::<T>());
        let mut gx = vec![T::zero(); x.len()];
        g.backward(n, &x, &to(&array(&case["g"])), &mut gx).unwrap();
        assert_close(&format!("gate case {k} backward"), &back(&gx), &array(&case["grad_x"]), tol::<T>());
    }
}

#[test]
fn gate_matches_e3nn() {
    nn_support::every_simd(|| {
        check_gate::<f64>();
        check_gate::<f32>();
    });
}

fn check_fc<T: Real>() {
    for (k, case) in fixture("fc.json")["cases"].as_array().unwrap().iter().enumerate() {
        let (net, hs) = nn_support::fc_net::<T>(case);
        let n = rows(case);
        let mut y = vec![T::zero(); n * hs[hs.len() - 1]];
        let mut tape = vec![T::zero(); n * net.tape_len()];
        net.forward(n, &to(&array(&case["x"])), &mut y, Some(&mut tape)).unwrap();
        assert_close(&format!("fc case {k} forward"), &back(&y), &array(&case["y"]), tol::<T>());
        let mut gx = vec![T::zero(); n * hs[0]];
        net.backward(n, &tape, &to(&array(&case["g"])), &mut gx).unwrap();
        assert_close(&format!("fc case {k} backward"), &back(&gx), &array(&case["grad_x"]), tol::<T>());
        // Without a tape the forward gives the same values.
        let mut y2 = vec![T::zero(); y.len()];
        net.forward(n, &to(&array(&case["x"])), &mut y2, None).unwrap();
        assert_eq!(back(&y), back(&y2));
    }
}

#[test]
fn fully_connected_net_matches_e3nn() {
    nn_support::every_simd(|| {
        check_fc::<f64>();
        check_fc::<f32>();
    });
}

fn check_radial<T: Real>() {
    let f = fixture("radial.json");
    let cutoff = f["cutoff"].as_f64().unwrap();
    let r = to::<T>(&array(&f["r"]));
    let n = r.len();

    let b = &f["bessel"];
    let bessel = BesselBasis::<T>::with_coeffs(cutoff, &array(&b["coeffs"])).unwrap();
    let mut y = vec![T::zero(); n * bessel.len()];
    bessel.forward(&r, &mut y).unwrap();
    assert_close("Bessel forward", &back(&y), &array(&b["y"]), tol::<T>());
    let mut gr = vec![T::zero(); n];
    bessel.backward(&r, &to(&array(&b["g"])), &mut gr).unwrap();
    assert_close("Bessel backward", &back(&gr), &array(&b["grad_r"]), tol::<T>());

    let p = &f["polynomial"];
    let poly = PolynomialCutoff::<T>::new(cutoff, p["p"].as_u64().unwrap() as u32).unwrap();
    let mut y = vec![T::zero(); n];
    poly.forward(&r, &mut y).unwrap();
    assert_close("polynomial cutoff forward", &back(&y), &array(&p["y"]), tol::<T>());
    poly.backward(&r, &to(&array(&p["g"])), &mut gr).unwrap();
    assert_close("polynomial cutoff backward", &back(&gr), &array(&p["grad_r"]), tol::<T>());

    let x = &f["xplor"];
    let xplor = XplorCutoff::<T>::new(cutoff, x["cutoff_on"].as_f64().unwrap()).unwrap();
    xplor.forward(&r, &mut y).unwrap();
    assert_close("XPLOR cutoff forward", &back(&y), &array(&x["y"]), tol::<T>());
    xplor.backward(&r, &to(&array(&x["g"])), &mut gr).unwrap();
    assert_close("XPLOR cutoff backward", &back(&gr), &array(&x["grad_r"]), tol::<T>());
}

#[test]
fn radial_functions_match_sevenn() {
    nn_support::every_simd(|| {
        check_radial::<f64>();
        check_radial::<f32>();
    });
}

fn check_rescale<T: Real>() {
    let f = fixture("rescale.json");
    let rescale = SpeciesRescale::<T>::new(&array(&f["shift"]), &array(&f["scale"])).unwrap();
    let species: Vec<usize> = f["species"].as_array().unwrap().iter().map(|s| s.as_u64().unwrap() as usize).collect();
    let mut y = vec![T::zero(); species.len()];
    rescale.forward(&species, &to(&array(&f["x"])), &mut y).unwrap();
    assert_close("rescale forward", &back(&y), &array(&f["y"]), tol::<T>());
    let mut gx = vec![T::zero(); species.len()];
    rescale.backward(&species, &to(&array(&f["g"])), &mut gx).unwrap();
    assert_close("rescale backward", &back(&gx), &array(&f["grad_x"]), tol::<T>());
}

#[test]
fn species_rescale_matches_sevenn() {
    nn_support::every_simd(|| {
        check_rescale::<f64>();
        check_rescale::<f32>();
    });
}
