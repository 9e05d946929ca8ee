//! Spherical harmonics per edge: 10^5 random vectors, forward and
//! forward + backward, f32 and f64, lmax 2, 3, 6, on a 2-thread workspace
//! (the thread count scripts/bench_e3nn_sh.py gives torch).
//! Run: cargo bench --bench spherical_harmonics

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use equipot::so3::{Normalization, SphericalHarmonics};
use equipot::{Real, Workspace};
use std::time::Duration;

const EDGES: usize = 100_000;

/// Deterministic pseudo-random numbers in [-1, 1).
fn noise(n: usize, seed: u64) -> Vec<f64> {
    let mut s = seed;
    (0..n)
        .map(|_| {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (s >> 11) as f64 / (1u64 << 52) as f64 - 1.0
        })
        .collect()
}

fn bench_precision<T: Real>(c: &mut Criterion, name: &str, ws: &Workspace) {
    let mut group = c.benchmark_group("spherical_harmonics");
    group.throughput(Throughput::Elements(EDGES as u64));
    let vectors: Vec<[T; 3]> = noise(3 * EDGES, 1).chunks(3).map(|v| [T::of(v[0] * 3.0), T::of(v[1] * 3.0), T::of(v[2] * 3.0)]).collect();
    for lmax in [2, 3, 6] {
        let sh = SphericalHarmonics::new(lmax, true, Normalization::Component).unwrap();
        let mut out = vec![T::zero(); EDGES * sh.dim()];
        let cotangent: Vec<T> = noise(EDGES * sh.dim(), 2).into_iter().map(T::of).collect();
        let mut grad = vec![[T::zero(); 3]; EDGES];
        group.bench_function(BenchmarkId::new(format!("{name}/forward"), lmax), |b| {
            b.iter(|| ws.run(|| sh.compute(&vectors, &mut out).unwrap()))
        });
        group.bench_function(BenchmarkId::new(format!("{name}/forward+backward"), lmax), |b| {
            b.iter(|| {
                ws.run(|| {
                    sh.compute(&vectors, &mut out).unwrap();
                    sh.backward(&vectors, &cotangent, &mut grad).unwrap();
                })
            })
        });
    }
    group.finish();
}

fn benches(c: &mut Criterion) {
    let ws = Workspace::new(2).unwrap();
    bench_precision::<f32>(c, "f32", &ws);
    bench_precision::<f64>(c, "f64", &ws);
}

criterion_group! {
    name = spherical_harmonics;
    config = Criterion::default().sample_size(20).warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2));
    targets = benches
}
criterion_main!(spherical_harmonics);
