//! o3.Linear on SevenNet-0's node features: 128x0e+64x1e+32x2e → same, 1000
//! rows, forward and forward + backward, f32 and f64, on a 2-thread
//! workspace. scripts/bench_e3nn_layers.py runs this next to e3nn.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use equipot::nn::{Linear, LinearSpec, PathNormalization};
use equipot::so3::Irreps;
use equipot::{Real, Workspace};
use std::hint::black_box;

const ROWS: usize = 1000;
const IRREPS: &str = "128x0e+64x1e+32x2e";

/// Deterministic pseudo-random values in [-1, 1).
fn values(n: usize, seed: u64) -> Vec<f64> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s = s.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            (s >> 11) as f64 / (1u64 << 52) as f64 - 1.0
        })
        .collect()
}

fn bench_precision<T: Real>(c: &mut Criterion, name: &str) {
    let threads: usize = std::env::var("EQUIPOT_BENCH_THREADS").ok().and_then(|t| t.parse().ok()).unwrap_or(2);
    let ws = Workspace::new(threads).unwrap();
    let irreps = Irreps::parse(IRREPS).unwrap();
    let spec = LinearSpec::new(&irreps, &irreps, None, false, PathNormalization::Element).unwrap();
    let lin = Linear::<T>::new(&spec, &values(spec.weight_numel(), 1), &[]).unwrap();
    let dim = irreps.dim();
    let x: Vec<T> = values(ROWS * dim, 2).into_iter().map(T::of).collect();
    let g: Vec<T> = values(ROWS * dim, 3).into_iter().map(T::of).collect();
    let mut y = vec![T::zero(); ROWS * dim];
    let mut gx = vec![T::zero(); ROWS * dim];

    let mut group = c.benchmark_group("linear");
    group.bench_function(BenchmarkId::new("forward", name), |b| {
        b.iter(|| ws.run(|| lin.forward(ROWS, black_box(&x), &mut y).unwrap()))
    });
    group.bench_function(BenchmarkId::new("forward_backward", name), |b| {
        b.iter(|| {
            ws.run(|| {
                lin.forward(ROWS, black_box(&x), &mut y).unwrap();
                lin.backward(ROWS, black_box(&g), &mut gx).unwrap();
            })
        })
    });
    group.finish();
}

fn linear(c: &mut Criterion) {
    bench_precision::<f32>(c, "f32");
    bench_precision::<f64>(c, "f64");
}

criterion_group!(benches, linear);
criterion_main!(benches);
