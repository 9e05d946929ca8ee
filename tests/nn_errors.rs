//! Bad input to the layers gives a clear error, never a panic.

use equipot::nn::{
    Activation, BesselBasis, FullyConnectedNet, Gate, Linear, LinearSpec, PathNormalization, PolynomialCutoff,
    SpeciesRescale, XplorCutoff,
};
use equipot::so3::Irreps;
use equipot::Error;

fn irreps(s: &str) -> Irreps {
    Irreps::parse(s).unwrap()
}

#[test]
fn linear_rejects_bad_structure_and_lengths() {
    let (a, b) = (irreps("2x0e+1x1o"), irreps("3x0e+2x1o"));
    let e = PathNormalization::Element;
    assert!(matches!(LinearSpec::new(&a, &b, Some(&[(0, 1)]), false, e), Err(Error::InvalidArgument(_))));
    assert!(matches!(LinearSpec::new(&a, &b, Some(&[(2, 0)]), false, e), Err(Error::InvalidArgument(_))));
    let spec = LinearSpec::new(&a, &b, None, true, e).unwrap();
    assert_eq!((spec.weight_numel(), spec.bias_numel()), (2 * 3 + 2, 3));
    assert!(matches!(Linear::<f64>::new(&spec, &[0.0; 7], &[0.0; 3]), Err(Error::LengthMismatch(_))));
    assert!(matches!(Linear::<f64>::new(&spec, &[0.0; 8], &[]), Err(Error::LengthMismatch(_))));
    let lin = Linear::<f64>::new(&spec, &[0.5; 8], &[0.0; 3]).unwrap();
    let mut y = vec![0.0; 2 * b.dim()];
    assert!(matches!(lin.forward(2, &[0.0; 9], &mut y), Err(Error::LengthMismatch(_))));
    assert!(matches!(lin.backward(2, &y[1..], &mut [0.0; 10]), Err(Error::LengthMismatch(_))));
}

#[test]
fn gate_rejects_parity_violations_and_mismatches() {
    let silu = Some(Activation::Silu);
    let (s, g) = (irreps("2x0o"), irreps("1x0e"));
    // silu is neither even nor odd: it cannot act on odd scalars.
    assert!(matches!(Gate::<f64>::new(&s, &[silu], &g, &[silu], &irreps("1x1o")), Err(Error::InvalidArgument(_))));
    let e = irreps("2x0e");
    assert!(matches!(Gate::<f64>::new(&e, &[silu], &g, &[silu], &irreps("2x1o")), Err(Error::InvalidArgument(_))));
    assert!(matches!(Gate::<f64>::new(&e, &[], &g, &[silu], &irreps("1x1o")), Err(Error::InvalidArgument(_))));
    assert!(matches!(Gate::<f64>::new(&irreps("1x1o"), &[None], &g, &[silu], &irreps("1x1o")), Err(Error::InvalidArgument(_))));
    let gate = Gate::<f64>::new(&e, &[silu], &g, &[silu], &irreps("1x1o")).unwrap();
    assert!(matches!(gate.forward(1, &[0.0; 5], &mut [0.0; 5]), Err(Error::LengthMismatch(_))));
    assert!(matches!(gate.backward(1, &[0.0; 6], &[0.0; 5], &mut [0.0; 5]), Err(Error::LengthMismatch(_))));
    assert!(Activation::from_name("gelu").is_err());
}

#[test]
fn fully_connected_net_rejects_bad_shapes() {
    let w = [0.1; 6];
    assert!(FullyConnectedNet::<f64>::new(&[2], None, &[], 1.0, 1.0, false).is_err());
    assert!(FullyConnectedNet::<f64>::new(&[2, 0], None, &[&[]], 1.0, 1.0, false).is_err());
    assert!(matches!(FullyConnectedNet::<f64>::new(&[2, 3], None, &[&w[..5]], 1.0, 1.0, false), Err(Error::LengthMismatch(_))));
    assert!(matches!(FullyConnectedNet::<f64>::new(&[2, 3], None, &[&w, &w], 1.0, 1.0, false), Err(Error::LengthMismatch(_))));
    let net = FullyConnectedNet::<f64>::new(&[2, 3], Some(Activation::Silu), &[&w], 1.0, 1.0, true).unwrap();
    assert_eq!(net.tape_len(), 3);
    let mut y = [0.0; 3];
    assert!(net.forward(1, &[0.0; 3], &mut y, None).is_err());
    assert!(net.forward(1, &[0.0; 2], &mut y, Some(&mut [0.0; 2])).is_err());
    assert!(net.backward(1, &[0.0; 3], &[0.0; 3], &mut [0.0; 3]).is_err());
}

#[test]
fn radial_and_rescale_reject_bad_parameters() {
    assert!(BesselBasis::<f64>::new(0.0, 8).is_err());
    assert!(BesselBasis::<f64>::new(4.0, 0).is_err());
    assert!(PolynomialCutoff::<f64>::new(-1.0, 6).is_err());
    assert!(XplorCutoff::<f64>::new(4.0, 4.5).is_err());
    let bessel = BesselBasis::<f64>::new(4.0, 8).unwrap();
    assert!(matches!(bessel.forward(&[1.0, 2.0], &mut [0.0; 8]), Err(Error::LengthMismatch(_))));
    assert!(SpeciesRescale::<f64>::new(&[0.0; 2], &[1.0; 3]).is_err());
    let rescale = SpeciesRescale::<f64>::new(&[0.0; 2], &[1.0; 2]).unwrap();
    assert!(matches!(rescale.forward(&[0, 2], &[1.0, 1.0], &mut [0.0; 2]), Err(Error::UnknownElement(_))));
    assert!(matches!(rescale.backward(&[0], &[1.0, 1.0], &mut [0.0; 2]), Err(Error::LengthMismatch(_))));
}
