//! Every hand-written backward against central finite differences of its
//! forward, in float64 on random inputs and random weights: the directional
//! derivative g·∂f/∂x_j must match grad_x[j] to 1e-7 relative.

mod nn_support;

use equipot::nn::{
    Activation, BesselBasis, FullyConnectedNet, Linear, PolynomialCutoff, SpeciesRescale, XplorCutoff,
};
use nn_support::{assert_close, fixture, gate, linear_spec, Rng};

const TOL: f64 = 1e-7;
const STEP: f64 = 1e-5;

/// Compares `grad` with the central differences of x ↦ g·f(x).
fn check(what: &str, x: &[f64], g: &[f64], f: impl Fn(&[f64]) -> Vec<f64>, grad: &[f64]) {
    let dot = |y: Vec<f64>| -> f64 { y.iter().zip(g).map(|(a, b)| a * b).sum() };
    let mut xp = x.to_vec();
    let fd: Vec<f64> = (0..x.len())
        .map(|j| {
            xp[j] = x[j] + STEP;
            let up = dot(f(&xp));
            xp[j] = x[j] - STEP;
            let down = dot(f(&xp));
            xp[j] = x[j];
            (up - down) / (2.0 * STEP)
        })
        .collect();
    assert_close(what, grad, &fd, TOL);
}

#[test]
fn linear_backward_is_the_gradient() {
    nn_support::every_simd(|| {
        let mut rng = Rng::new(1);
        for file in ["linear.json", "linear_sevennet.json"] {
            for (k, case) in fixture(file)["cases"].as_array().unwrap().iter().enumerate() {
                let spec = linear_spec(case);
                let weight = rng.normals(spec.weight_numel());
                let lin = Linear::<f64>::new(&spec, &weight, &rng.normals(spec.bias_numel())).unwrap();
                let (rows, di, dout) = (2, spec.irreps_in.dim(), spec.irreps_out.dim());
                let (x, g) = (rng.normals(rows * di), rng.normals(rows * dout));
                let mut gx = vec![0.0; rows * di];
                lin.backward(rows, &g, &mut gx).unwrap();
                let f = |x: &[f64]| {
                    let mut y = vec![0.0; rows * dout];
                    lin.forward(rows, x, &mut y).unwrap();
                    y
                };
                check(&format!("{file} case {k}"), &x, &g, f, &gx);
            }
        }
    });
}

#[test]
fn gate_backward_is_the_gradient() {
    nn_support::every_simd(|| {
        let mut rng = Rng::new(2);
        for (k, case) in fixture("gate.json")["cases"].as_array().unwrap().iter().enumerate() {
            let gate = gate::<f64>(case);
            let (rows, di, dout) = (3, gate.irreps_in().dim(), gate.irreps_out().dim());
            let (x, g) = (rng.normals(rows * di), rng.normals(rows * dout));
            let mut gx = vec![0.0; rows * di];
            gate.backward(rows, &x, &g, &mut gx).unwrap();
            let f = |x: &[f64]| {
                let mut y = vec![0.0; rows * dout];
                gate.forward(rows, x, &mut y).unwrap();
                y
            };
            check(&format!("gate case {k}"), &x, &g, f, &gx);
        }
    });
}

#[test]
fn fully_connected_backward_is_the_gradient() {
    nn_support::every_simd(|| {
        let mut rng = Rng::new(3);
        let acts = [None, Some(Activation::Silu), Some(Activation::Tanh), Some(Activation::Sigmoid)];
        let acts = acts.iter().chain(&[Some(Activation::ShiftedSoftplus), Some(Activation::Abs)]);
        for (k, &act) in acts.enumerate() {
            for (hs, var_in, var_out, out_act) in
                [(vec![8, 16, 16, 12], 1.0, 1.0, false), (vec![5, 7, 3], 2.0, 3.0, true), (vec![4, 6], 1.0, 2.0, false)]
            {
                let weights: Vec<Vec<f64>> = hs.windows(2).map(|h| rng.normals(h[0] * h[1])).collect();
                let refs: Vec<&[f64]> = weights.iter().map(|w| w.as_slice()).collect();
                let net = FullyConnectedNet::<f64>::new(&hs, act, &refs, var_in, var_out, out_act).unwrap();
                let (rows, h0, hn) = (3, hs[0], hs[hs.len() - 1]);
                let (x, g) = (rng.normals(rows * h0), rng.normals(rows * hn));
                let mut tape = vec![0.0; rows * net.tape_len()];
                let mut y = vec![0.0; rows * hn];
                net.forward(rows, &x, &mut y, Some(&mut tape)).unwrap();
                let mut gx = vec![0.0; rows * h0];
                net.backward(rows, &tape, &g, &mut gx).unwrap();
                let f = |x: &[f64]| {
                    let mut y = vec![0.0; rows * hn];
                    net.forward(rows, x, &mut y, None).unwrap();
                    y
                };
                check(&format!("fc {k} {hs:?} {act:?}"), &x, &g, f, &gx);
            }
        }
    });
}

#[test]
fn radial_backwards_are_the_gradients() {
    nn_support::every_simd(|| {
        let mut rng = Rng::new(4);
        let cutoff = 5.0;
        let r: Vec<f64> = (0..50).map(|_| 0.3 + (cutoff - 0.3) * rng.uniform()).collect();

        let coeffs: Vec<f64> = (1..=8).map(|k| k as f64 * std::f64::consts::PI / cutoff * (1.0 + 0.1 * rng.normal())).collect();
        let bessel = BesselBasis::<f64>::with_coeffs(cutoff, &coeffs).unwrap();
        let g = rng.normals(r.len() * 8);
        let mut gr = vec![0.0; r.len()];
        bessel.backward(&r, &g, &mut gr).unwrap();
        let f = |r: &[f64]| {
            let mut y = vec![0.0; r.len() * 8];
            bessel.forward(r, &mut y).unwrap();
            y
        };
        check("Bessel basis", &r, &g, f, &gr);

        let g = rng.normals(r.len());
        for p in [6, 5, 2] {
            let poly = PolynomialCutoff::<f64>::new(cutoff, p).unwrap();
            poly.backward(&r, &g, &mut gr).unwrap();
            let f = |r: &[f64]| {
                let mut y = vec![0.0; r.len()];
                poly.forward(r, &mut y).unwrap();
                y
            };
            check(&format!("polynomial cutoff p = {p}"), &r, &g, f, &gr);
        }

        let xplor = XplorCutoff::<f64>::new(cutoff, 3.5).unwrap();
        xplor.backward(&r, &g, &mut gr).unwrap();
        let f = |r: &[f64]| {
            let mut y = vec![0.0; r.len()];
            xplor.forward(r, &mut y).unwrap();
            y
        };
        check("XPLOR cutoff", &r, &g, f, &gr);
    });
}

#[test]
fn rescale_backward_is_the_gradient() {
    nn_support::every_simd(|| {
        let mut rng = Rng::new(5);
        let rescale = SpeciesRescale::<f64>::new(&rng.normals(3), &rng.normals(3)).unwrap();
        let species = [0, 2, 1, 1, 0, 2, 2];
        let (x, g) = (rng.normals(species.len()), rng.normals(species.len()));
        let mut gx = vec![0.0; x.len()];
        rescale.backward(&species, &g, &mut gx).unwrap();
        let f = |x: &[f64]| {
            let mut y = vec![0.0; x.len()];
            rescale.forward(&species, x, &mut y).unwrap();
            y
        };
        check("species rescale", &x, &g, f, &gx);
    });
}
