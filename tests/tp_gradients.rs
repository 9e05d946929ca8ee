//! The tensor products' backward passes against central finite differences
//! (float64): for L = <g, forward(inputs)>, the hand-written gradient of each
//! input, projected on random directions and on single components, equals
//! (L(a + h·d) − L(a − h·d)) / 2h.

use equipot::nn::{EdgeIndex, FullyConnectedTensorProduct, IrrepNormalization, PathNormalization, UvuTensorProduct};
use equipot::so3::Irreps;

/// Deterministic numbers in [-1, 1) (xorshift64*).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545F4914F6CDD1D) >> 11) as f64 * 2f64.powi(-52) - 1.0
    }
    fn vec(&mut self, n: usize) -> Vec<f64> {
        (0..n).map(|_| self.next()).collect()
    }
    fn below(&mut self, n: usize) -> usize {
        ((self.next() + 1.0) * 0.5 * n as f64) as usize % n
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Checks grad against finite differences of `loss` along random directions
/// and along single components of the input `a`.
fn check(name: &str, a: &[f64], grad: &[f64], rng: &mut Rng, loss: impl Fn(&[f64]) -> f64) {
    let h = 1e-4;
    let scale = dot(grad, grad).sqrt();
    let mut directions: Vec<Vec<f64>> = (0..3).map(|_| rng.vec(a.len())).collect();
    for _ in 0..6 {
        let mut d = vec![0.0; a.len()];
        d[rng.below(a.len())] = 1.0;
        directions.push(d);
    }
    for d in directions {
        let shifted = |s: f64| -> Vec<f64> { a.iter().zip(&d).map(|(x, dx)| x + s * h * dx).collect() };
        let fd = (loss(&shifted(1.0)) - loss(&shifted(-1.0))) / (2.0 * h);
        let analytic = dot(grad, &d);
        let norm = dot(&d, &d).sqrt() * scale;
        assert!(
            (fd - analytic).abs() <= 1e-7 * norm,
            "{name}: finite difference {fd} vs gradient {analytic} (relative {:e})",
            (fd - analytic).abs() / norm
        );
    }
}

#[test]
fn conv_backward_matches_finite_differences() {
    let x_irreps = Irreps::parse("5x0e+4x1o+3x1e+3x2e+2x3o").unwrap();
    let sh_irreps = Irreps::parse("1x0e+1x1o+1x2e+1x3o").unwrap();
    let tp = UvuTensorProduct::sevenn(&x_irreps, &sh_irreps, &x_irreps).unwrap();
    let mut rng = Rng(0x1234_5678_9abc_def1);
    let (n, e) = (6, 25);
    let centers: Vec<u32> = (0..e).map(|_| rng.below(n) as u32).collect();
    let neighbors: Vec<u32> = (0..e).map(|_| rng.below(n) as u32).collect();
    let index = EdgeIndex::new(n, &centers, &neighbors).unwrap();
    let x = rng.vec(n * tp.irreps_in1().dim());
    let sh = rng.vec(e * tp.irreps_in2().dim());
    let w = rng.vec(e * tp.weight_numel());
    let g = rng.vec(n * tp.irreps_out().dim());
    let scale = 0.37;
    let loss = |x: &[f64], sh: &[f64], w: &[f64]| {
        let mut out = vec![0.0; g.len()];
        tp.conv_forward(&index, x, sh, w, scale, &mut out).unwrap();
        dot(&g, &out)
    };
    let (mut gx, mut gsh, mut gw) = (vec![0.0; x.len()], vec![0.0; sh.len()], vec![0.0; w.len()]);
    tp.conv_backward(&index, &x, &sh, &w, scale, &g, &mut gx, &mut gsh, &mut gw).unwrap();
    check("grad_x", &x, &gx, &mut rng, |a| loss(a, &sh, &w));
    check("grad_sh", &sh, &gsh, &mut rng, |a| loss(&x, a, &w));
    check("grad_w", &w, &gw, &mut rng, |a| loss(&x, &sh, a));
}

#[test]
fn fc_backward_matches_finite_differences() {
    let mut rng = Rng(0x0fed_cba9_8765_4321);
    for (in1, in2, out, norm) in [
        ("4x0e+3x1o+2x2e+1x3o", "2x0e+1x1o+1x2e", "3x0e+2x1o+2x1e+2x2e+1x3e", (IrrepNormalization::Component, PathNormalization::Element)),
        ("3x0o+2x1e", "2x0e+1x1o", "2x0o+2x1e+1x1o+2x2o", (IrrepNormalization::Norm, PathNormalization::Path)),
    ] {
        let (in1, in2, out) = (Irreps::parse(in1).unwrap(), Irreps::parse(in2).unwrap(), Irreps::parse(out).unwrap());
        let numel = FullyConnectedTensorProduct::<f64>::count_weights(&in1, &in2, &out);
        let wrong = FullyConnectedTensorProduct::<f64>::new(&in1, &in2, &out, norm.0, norm.1, vec![0.0; numel + 1]);
        assert!(wrong.is_err(), "a wrong weight count must be rejected");
        let tp = FullyConnectedTensorProduct::new(&in1, &in2, &out, norm.0, norm.1, rng.vec(numel)).unwrap();
        let n = 3;
        let x1 = rng.vec(n * in1.dim());
        let x2 = rng.vec(n * in2.dim());
        let g = rng.vec(n * out.dim());
        let loss = |x1: &[f64], x2: &[f64]| {
            let mut o = vec![0.0; g.len()];
            tp.forward(x1, x2, &mut o).unwrap();
            dot(&g, &o)
        };
        let (mut g1, mut g2) = (vec![0.0; x1.len()], vec![0.0; x2.len()]);
        tp.backward(&x1, &x2, &g, &mut g1, Some(&mut g2)).unwrap();
        check("grad_x1", &x1, &g1, &mut rng, |a| loss(a, &x2));
        check("grad_x2", &x2, &g2, &mut rng, |a| loss(&x1, a));
    }
}
