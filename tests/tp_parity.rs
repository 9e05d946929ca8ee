//! Tensor products against e3nn 0.6 and sevenn 0.13: the uvu convolution
//! (TensorProduct + scatter) and FullyConnectedTensorProduct, forward and
//! backward, float64 and float32, plus equivariance under the library's
//! Wigner-D (random rotations, with and without inversion).
//! Fixtures: tests/fixtures/e3nn/tp.{json,bin}, written by generate_tp.py.

use std::sync::OnceLock;

use equipot::nn::{
    Connection, EdgeIndex, FullyConnectedTensorProduct, Instruction, IrrepNormalization, PathNormalization,
    UvuTensorProduct,
};
use equipot::so3::Irreps;
use equipot::{Real, Workspace};
use serde_json::Value;

mod nn_support;
use nn_support::{rotate, rotations};

struct Fixture {
    meta: Value,
    data: Vec<f64>,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/e3nn/");
        let meta = serde_json::from_str(&std::fs::read_to_string(format!("{dir}tp.json")).unwrap()).unwrap();
        let bytes = std::fs::read(format!("{dir}tp.bin")).unwrap();
        let data = bytes.chunks_exact(8).map(|b| f64::from_le_bytes(b.try_into().unwrap())).collect();
        Fixture { meta, data }
    })
}

impl Fixture {
    fn array(&self, loc: &Value) -> &[f64] {
        let (at, n) = (loc[0].as_u64().unwrap() as usize, loc[1].as_u64().unwrap() as usize);
        &self.data[at..at + n]
    }
}

/// The generator's splitmix64 draws, uniform in [-1, 1).
fn draw(seed: &Value, n: usize) -> Vec<f64> {
    let mut s = seed.as_u64().unwrap();
    (0..n)
        .map(|_| {
            s = s.wrapping_add(0x9E3779B97F4A7C15);
            let mut z = s;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58476D1CE4E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D049BB133111EB);
            z ^= z >> 31;
            (z >> 11) as f64 * 2f64.powi(-52) - 1.0
        })
        .collect()
}

fn relative_error(ours: &[f64], theirs: &[f64]) -> f64 {
    assert_eq!(ours.len(), theirs.len());
    let diff: f64 = ours.iter().zip(theirs).map(|(a, b)| (a - b).powi(2)).sum::<f64>().sqrt();
    let norm: f64 = theirs.iter().map(|b| b * b).sum::<f64>().sqrt();
    assert!(norm > 0.0, "reference is all zeros");
    diff / norm
}

fn cast<T: Real>(v: &[f64]) -> Vec<T> {
    v.iter().map(|&x| T::of(x)).collect()
}

fn back(v: &[impl Real]) -> Vec<f64> {
    v.iter().map(|x| x.f64()).collect()
}

fn irreps(v: &Value) -> Irreps {
    Irreps::parse(v.as_str().unwrap()).unwrap()
}

fn normalizations(irrep: &str, path: &str) -> (IrrepNormalization, PathNormalization) {
    let i = match irrep {
        "component" => IrrepNormalization::Component,
        "norm" => IrrepNormalization::Norm,
        _ => IrrepNormalization::None,
    };
    let p = match path {
        "element" => PathNormalization::Element,
        "path" => PathNormalization::Path,
        _ => PathNormalization::None,
    };
    (i, p)
}

fn build_conv(case: &Value) -> UvuTensorProduct {
    if let Some(args) = case.get("sevenn") {
        UvuTensorProduct::sevenn(&irreps(&args[0]), &irreps(&args[1]), &irreps(&args[2])).unwrap()
    } else {
        let raw = case["raw_instructions"].as_array().unwrap();
        let instructions: Vec<Instruction> = raw
            .iter()
            .map(|i| Instruction {
                i_in1: i[0].as_u64().unwrap() as usize,
                i_in2: i[1].as_u64().unwrap() as usize,
                i_out: i[2].as_u64().unwrap() as usize,
                connection: Connection::Uvu,
                has_weight: i[4].as_bool().unwrap(),
                path_weight: i[5].as_f64().unwrap(),
            })
            .collect();
        let norm = &case["normalization"];
        let (i, p) = normalizations(norm[0].as_str().unwrap(), norm[1].as_str().unwrap());
        UvuTensorProduct::new(
            &irreps(&case["irreps_in1"]),
            &irreps(&case["irreps_in2"]),
            &irreps(&case["irreps_out"]),
            &instructions,
            i,
            p,
        )
        .unwrap()
    }
}

fn edges(case: &Value) -> EdgeIndex {
    let list = |k: &str| -> Vec<u32> { case[k].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as u32).collect() };
    EdgeIndex::new(case["n_nodes"].as_u64().unwrap() as usize, &list("centers"), &list("neighbors")).unwrap()
}

struct ConvInputs {
    x: Vec<f64>,
    sh: Vec<f64>,
    w: Vec<f64>,
    grad_out: Vec<f64>,
}

fn conv_inputs(tp: &UvuTensorProduct, index: &EdgeIndex, case: &Value) -> ConvInputs {
    let (n, e) = (index.n_nodes(), index.n_edges());
    let seeds = &case["seeds"];
    ConvInputs {
        x: draw(&seeds["x"], n * tp.irreps_in1().dim()),
        sh: draw(&seeds["sh"], e * tp.irreps_in2().dim()),
        w: draw(&seeds["w"], e * tp.weight_numel()),
        grad_out: draw(&seeds["grad_out"], n * tp.irreps_out().dim()),
    }
}

/// out, grad_x, grad_sh, grad_w computed in precision T.
fn run_conv<T: Real>(tp: &UvuTensorProduct, index: &EdgeIndex, inp: &ConvInputs, scale: f64) -> [Vec<f64>; 4] {
    let ws = Workspace::new(2).unwrap();
    let (x, sh, w, g) = (cast::<T>(&inp.x), cast::<T>(&inp.sh), cast::<T>(&inp.w), cast::<T>(&inp.grad_out));
    let mut out = vec![T::zero(); g.len()];
    let (mut gx, mut gsh, mut gw) = (vec![T::zero(); x.len()], vec![T::zero(); sh.len()], vec![T::zero(); w.len()]);
    ws.run(|| {
        tp.conv_forward(index, &x, &sh, &w, T::of(scale), &mut out).unwrap();
        tp.conv_backward(index, &x, &sh, &w, T::of(scale), &g, &mut gx, &mut gsh, &mut gw).unwrap();
    });
    [back(&out), back(&gx), back(&gsh), back(&gw)]
}

fn check_conv<T: Real>(tol: f64) {
    let f = fixture();
    let cases = f.meta["conv"].as_array().unwrap();
    assert!(cases.len() >= 8);
    for case in cases {
        let tp = build_conv(case);
        let index = edges(case);
        let inputs = conv_inputs(&tp, &index, case);
        let got = run_conv::<T>(&tp, &index, &inputs, case["scale"].as_f64().unwrap());
        for (k, name) in ["out", "grad_x", "grad_sh", "grad_w"].iter().enumerate() {
            let err = relative_error(&got[k], f.array(&case[name]));
            eprintln!("{} {name}: {err:.2e}", case["name"]);
            assert!(err <= tol, "{} {name}: relative error {err:e} > {tol:e}", case["name"]);
        }
    }
}

#[test]
fn conv_f64_matches_e3nn() {
    check_conv::<f64>(1e-12);
}

#[test]
fn conv_f32_matches_e3nn() {
    check_conv::<f32>(1e-5);
}

#[test]
fn conv_instructions_match_sevenn_and_e3nn() {
    for case in fixture().meta["conv"].as_array().unwrap() {
        let tp = build_conv(case);
        assert_eq!(tp.irreps_out().to_string(), case["irreps_out"].as_str().unwrap(), "{}", case["name"]);
        assert_eq!(tp.weight_numel() as u64, case["weight_numel"].as_u64().unwrap());
        let theirs = case["instructions"].as_array().unwrap();
        let ours = tp.instructions();
        assert_eq!(ours.len(), theirs.len());
        for ((ins, norm), t) in ours.iter().zip(tp.path_normalizations()).zip(theirs) {
            let key = [ins.i_in1 as u64, ins.i_in2 as u64, ins.i_out as u64];
            assert_eq!(key, [0, 1, 2].map(|k| t[k].as_u64().unwrap()), "{}", case["name"]);
            assert_eq!(ins.has_weight, t[4].as_bool().unwrap());
            let e3nn_norm = t[5].as_f64().unwrap();
            assert!((norm - e3nn_norm).abs() <= 1e-15 * e3nn_norm, "{}: {norm} vs {e3nn_norm}", case["name"]);
        }
    }
}

/// f(D x) = D f(x) for the uvu convolution with its scatter-sum, under the
/// library's Wigner-D of random rotations with and without inversion; the
/// per-edge weights are invariant. The backward is covariant too: rotating the
/// inputs and the output cotangent rotates grad_x and grad_sh and leaves
/// grad_w unchanged.
#[test]
fn conv_is_equivariant() {
    for case in fixture().meta["conv"].as_array().unwrap() {
        let tp = build_conv(case);
        let index = edges(case);
        let inp = conv_inputs(&tp, &index, case);
        let [out, gx, gsh, gw] = run_conv::<f64>(&tp, &index, &inp, 0.5);
        for (name, r) in rotations(21, 2) {
            let moved = ConvInputs {
                x: rotate(tp.irreps_in1(), &r, &inp.x),
                sh: rotate(tp.irreps_in2(), &r, &inp.sh),
                w: inp.w.clone(),
                grad_out: rotate(tp.irreps_out(), &r, &inp.grad_out),
            };
            let [out_r, gx_r, gsh_r, gw_r] = run_conv::<f64>(&tp, &index, &moved, 0.5);
            let expected = [
                ("out", rotate(tp.irreps_out(), &r, &out)),
                ("grad_x", rotate(tp.irreps_in1(), &r, &gx)),
                ("grad_sh", rotate(tp.irreps_in2(), &r, &gsh)),
                ("grad_w", gw.clone()),
            ];
            for (got, (what, want)) in [out_r, gx_r, gsh_r, gw_r].iter().zip(&expected) {
                let err = relative_error(got, want);
                assert!(err <= 1e-12, "{} {name} {what}: equivariance error {err:e}", case["name"]);
            }
        }
    }
}

fn build_fc<T: Real>(case: &Value) -> FullyConnectedTensorProduct<T> {
    let (i, p) =
        normalizations(case["irrep_normalization"].as_str().unwrap(), case["path_normalization"].as_str().unwrap());
    let weights = draw(&case["seeds"]["weight"], case["weight_numel"].as_u64().unwrap() as usize);
    FullyConnectedTensorProduct::new(
        &irreps(&case["irreps_in1"]),
        &irreps(&case["irreps_in2"]),
        &irreps(&case["irreps_out"]),
        i,
        p,
        cast(&weights),
    )
    .unwrap()
}

fn fc_inputs(case: &Value, d1: usize, d2: usize, d3: usize) -> [Vec<f64>; 3] {
    let n = case["n"].as_u64().unwrap() as usize;
    let seeds = &case["seeds"];
    let x2 = if case["one_hot"].as_bool().unwrap() {
        let mut x2 = vec![0.0; n * d2];
        (0..n).for_each(|k| x2[k * d2 + k % d2] = 1.0);
        x2
    } else {
        draw(&seeds["x2"], n * d2)
    };
    [draw(&seeds["x1"], n * d1), x2, draw(&seeds["grad_out"], n * d3)]
}

fn check_fc<T: Real>(tol: f64) {
    let f = fixture();
    let ws = Workspace::new(2).unwrap();
    for case in f.meta["fc"].as_array().unwrap() {
        let tp = build_fc::<T>(case);
        let (d1, d2, d3) = (tp.irreps_in1().dim(), tp.irreps_in2().dim(), tp.irreps_out().dim());
        let [x1, x2, g] = fc_inputs(case, d1, d2, d3).map(|v| cast::<T>(&v));
        let mut out = vec![T::zero(); g.len()];
        let (mut g1, mut g2) = (vec![T::zero(); x1.len()], vec![T::zero(); x2.len()]);
        let mut g1_only = vec![T::zero(); x1.len()];
        ws.run(|| {
            tp.forward(&x1, &x2, &mut out).unwrap();
            tp.backward(&x1, &x2, &g, &mut g1, Some(&mut g2)).unwrap();
            tp.backward(&x1, &x2, &g, &mut g1_only, None).unwrap();
        });
        for (name, ours) in [("out", &out), ("grad_x1", &g1), ("grad_x1", &g1_only), ("grad_x2", &g2)] {
            let err = relative_error(&back(ours), f.array(&case[name]));
            eprintln!("{} {name}: {err:.2e}", case["name"]);
            assert!(err <= tol, "{} {name}: relative error {err:e} > {tol:e}", case["name"]);
        }
    }
}

#[test]
fn fc_f64_matches_e3nn() {
    check_fc::<f64>(1e-12);
}

#[test]
fn fc_f32_matches_e3nn() {
    check_fc::<f32>(1e-5);
}

#[test]
fn fc_paths_match_e3nn() {
    for case in fixture().meta["fc"].as_array().unwrap() {
        let tp = build_fc::<f64>(case);
        assert_eq!(tp.weight_numel() as u64, case["weight_numel"].as_u64().unwrap());
        let theirs = case["instructions"].as_array().unwrap();
        let ours = tp.instructions();
        assert_eq!(ours.len(), theirs.len(), "{}", case["name"]);
        for ((ins, norm), t) in ours.iter().zip(tp.path_normalizations()).zip(theirs) {
            let key = [ins.i_in1 as u64, ins.i_in2 as u64, ins.i_out as u64];
            assert_eq!(key, [0, 1, 2].map(|k| t[k].as_u64().unwrap()), "{}", case["name"]);
            let e3nn_norm = t[5].as_f64().unwrap();
            assert!((norm - e3nn_norm).abs() <= 1e-15 * e3nn_norm, "{}: {norm} vs {e3nn_norm}", case["name"]);
        }
    }
}

/// FullyConnectedTensorProduct: f(D1 x1, D2 x2) = D_out f(x1, x2) under the
/// library's Wigner-D, random rotations with and without inversion; rotating
/// the cotangent too rotates both gradients.
#[test]
fn fc_is_equivariant() {
    for case in fixture().meta["fc"].as_array().unwrap() {
        let tp = build_fc::<f64>(case);
        let (d1, d2, d3) = (tp.irreps_in1().dim(), tp.irreps_in2().dim(), tp.irreps_out().dim());
        let run = |x1: &[f64], x2: &[f64], g: &[f64]| {
            let mut out = vec![0.0; g.len()];
            let (mut g1, mut g2) = (vec![0.0; x1.len()], vec![0.0; x2.len()]);
            tp.forward(x1, x2, &mut out).unwrap();
            tp.backward(x1, x2, g, &mut g1, Some(&mut g2)).unwrap();
            [out, g1, g2]
        };
        let [x1, x2, g] = fc_inputs(case, d1, d2, d3);
        let [out, g1, g2] = run(&x1, &x2, &g);
        for (name, r) in rotations(23, 3) {
            let (i1, i2, o) = (tp.irreps_in1(), tp.irreps_in2(), tp.irreps_out());
            let got = run(&rotate(i1, &r, &x1), &rotate(i2, &r, &x2), &rotate(o, &r, &g));
            let expected = [("out", rotate(o, &r, &out)), ("grad_x1", rotate(i1, &r, &g1)), ("grad_x2", rotate(i2, &r, &g2))];
            for (got, (what, want)) in got.iter().zip(&expected) {
                let err = relative_error(got, want);
                assert!(err <= 1e-12, "{} {name} {what}: equivariance error {err:e}", case["name"]);
            }
        }
    }
}
