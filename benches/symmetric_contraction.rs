//! MACE's SymmetricContraction at the shape of MACE-MP-0 medium's product
//! blocks: 128x0e+128x1o+128x2e+128x3o → 128x0e+128x1o, correlation 3, 89
//! elements, 1000 nodes (3 elements present), forward and forward + backward,
//! f32 and f64, on a workspace of EQUIPOT_BENCH_THREADS threads (2 by
//! default). scripts/bench_mace_symmetric_contraction.py runs this next to
//! mace-torch.
//!
//! The U matrices do not depend on the channel count, so they are read from
//! the 8-channel case of tests/fixtures/mace/symmetric_contraction.json
//! (written by mace-torch); the weights and inputs are pseudo-random.

use criterion::{BenchmarkId, Criterion};
use equipot::nn::{ContractionTensors, SymmetricContraction, TensorView};
use equipot::so3::Irreps;
use equipot::{Real, Workspace};
use serde_json::Value;
use std::hint::black_box;

#[path = "support/noise.rs"]
mod noise;
use noise::noise;
// the fixture readers of the tests (base64 float64 arrays)
#[path = "../tests/nn_support/mod.rs"]
mod nn_support;
use nn_support::array;

const NODES: usize = 1000;
const CHANNELS: usize = 128;
const ELEMENTS: usize = 89;
const IRREPS_IN: &str = "128x0e+128x1o+128x2e+128x3o";
const IRREPS_OUT: &str = "128x0e+128x1o";
const FIXTURE_IRREPS_IN: &str = "8x0e+8x1o+8x2e+8x3o";


/// Dense U matrices of every output irrep, by order, from the fixture.
fn u_matrices() -> Vec<Vec<(Vec<usize>, Vec<f64>)>> {
    let path = format!("{}/tests/fixtures/mace/symmetric_contraction.json", env!("CARGO_MANIFEST_DIR"));
    let fixture: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let case = fixture["cases"].as_array().unwrap().iter().find(|c| c["irreps_in"] == FIXTURE_IRREPS_IN).unwrap();
    let usizes = |v: &Value| v.as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as usize).collect::<Vec<_>>();
    case["contractions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            c["U"]
                .as_array()
                .unwrap()
                .iter()
                .map(|u| {
                    let shape = usizes(&u["shape"]);
                    let mut dense = vec![0.0; shape.iter().product()];
                    for (i, v) in usizes(&u["indices"]).into_iter().zip(array(&u["values"])) {
                        dense[i] = v;
                    }
                    (shape, dense)
                })
                .collect()
        })
        .collect()
}

fn bench_precision<T: Real>(c: &mut Criterion, ws: &Workspace, name: &str) {
    let u = u_matrices();
    let weights: Vec<Vec<(Vec<usize>, Vec<f64>)>> = u
        .iter()
        .enumerate()
        .map(|(o, orders)| {
            orders
                .iter()
                .enumerate()
                .map(|(nu, (shape, _))| {
                    let w_shape = vec![ELEMENTS, shape[shape.len() - 1], CHANNELS];
                    let n = w_shape.iter().product();
                    (w_shape, noise(n, 10 * o as u64 + nu as u64))
                })
                .collect()
        })
        .collect();
    let tensors: Vec<ContractionTensors> = u
        .iter()
        .zip(&weights)
        .map(|(u, w)| ContractionTensors {
            u: u.iter().map(|(s, v)| TensorView { shape: s, values: v }).collect(),
            weights: w.iter().map(|(s, v)| TensorView { shape: s, values: v }).collect(),
        })
        .collect();
    let (irreps_in, irreps_out) = (Irreps::parse(IRREPS_IN).unwrap(), Irreps::parse(IRREPS_OUT).unwrap());
    let layer = SymmetricContraction::<T>::new(&irreps_in, &irreps_out, &tensors).unwrap();
    let elements: Vec<usize> = (0..NODES).map(|i| [0, 7, 13][i % 3]).collect();
    let x: Vec<T> = noise(NODES * irreps_in.dim(), 2).into_iter().map(T::of).collect();
    let g: Vec<T> = noise(NODES * irreps_out.dim(), 3).into_iter().map(T::of).collect();
    let mut out = vec![T::zero(); NODES * irreps_out.dim()];
    let mut gx = vec![T::zero(); x.len()];

    let mut group = c.benchmark_group("symmetric_contraction");
    group.bench_function(BenchmarkId::new("forward", name), |b| {
        b.iter(|| ws.run(|| layer.forward(&elements, black_box(&x), &mut out).unwrap()))
    });
    group.bench_function(BenchmarkId::new("forward_backward", name), |b| {
        b.iter(|| {
            ws.run(|| {
                layer.forward(&elements, black_box(&x), &mut out).unwrap();
                layer.backward(&elements, black_box(&x), black_box(&g), &mut gx).unwrap();
            })
        })
    });
    group.finish();
}

fn main() {
    let threads = std::env::var("EQUIPOT_BENCH_THREADS").ok().and_then(|t| t.parse().ok()).unwrap_or(2);
    let ws = Workspace::new(threads).unwrap();
    let mut c = Criterion::default().configure_from_args();
    bench_precision::<f32>(&mut c, &ws, "f32");
    bench_precision::<f64>(&mut c, &ws, "f64");
    c.final_summary();
}
