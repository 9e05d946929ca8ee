//! Spherical harmonics per edge: 10^5 random vectors, forward and
//! forward + backward, f32 and f64, lmax 2, 3, 6 (normalize = true,
//! 'component').
//!
//! Two clocks, chosen by EQUIPOT_BENCH_CLOCK:
//! - unset or "wall": wall-clock time on a 2-thread workspace (the thread
//!   count scripts/bench_e3nn_sh.py gives torch);
//! - "cpu": one thread, its CPU time (robust on a loaded machine).
//!
//! Run: cargo bench --bench spherical_harmonics

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use equipot::so3::{Normalization, SphericalHarmonics};
use equipot::{Real, Workspace};
use std::time::Duration;

const EDGES: usize = 100_000;

#[path = "support/noise.rs"]
mod noise;
use noise::noise;
#[path = "support/cpu_time.rs"]
mod cpu_time;
use cpu_time::thread_cpu_time;

/// Times `work` by the chosen clock.
fn measure(b: &mut criterion::Bencher, cpu_clock: bool, ws: &Workspace, mut work: impl FnMut() + Send) {
    if cpu_clock {
        b.iter_custom(|iters| {
            let start = thread_cpu_time();
            for _ in 0..iters {
                work();
            }
            thread_cpu_time() - start
        })
    } else {
        b.iter(|| ws.run(&mut work))
    }
}

fn bench_precision<T: Real>(c: &mut Criterion, name: &str, cpu_clock: bool, ws: &Workspace) {
    let mut group = c.benchmark_group("spherical_harmonics");
    group.throughput(Throughput::Elements(EDGES as u64));
    let vectors: Vec<[T; 3]> = noise(3 * EDGES, 1).chunks(3).map(|v| [T::of(v[0] * 3.0), T::of(v[1] * 3.0), T::of(v[2] * 3.0)]).collect();
    for lmax in [2, 3, 6] {
        let sh = SphericalHarmonics::new(lmax, true, Normalization::Component).unwrap();
        let kernel = sh.kernel::<T>();
        let mut out = vec![T::zero(); EDGES * sh.dim()];
        let cotangent: Vec<T> = noise(EDGES * sh.dim(), 2).into_iter().map(T::of).collect();
        let mut grad = vec![[T::zero(); 3]; EDGES];
        // one thread: the kernel directly; two: the rayon-parallel API
        let forward = |out: &mut [T]| {
            if cpu_clock {
                kernel.forward_many(&vectors, out)
            } else {
                sh.compute(&vectors, out).unwrap()
            }
        };
        group.bench_function(BenchmarkId::new(format!("{name}/forward"), lmax), |b| measure(b, cpu_clock, ws, || forward(&mut out)));
        group.bench_function(BenchmarkId::new(format!("{name}/forward+backward"), lmax), |b| {
            measure(b, cpu_clock, ws, || {
                forward(&mut out);
                if cpu_clock {
                    kernel.backward_many(&vectors, &cotangent, &mut grad)
                } else {
                    sh.backward(&vectors, &cotangent, &mut grad).unwrap()
                }
            })
        });
    }
    group.finish();
}

fn benches(c: &mut Criterion) {
    let cpu_clock = std::env::var("EQUIPOT_BENCH_CLOCK").is_ok_and(|v| v == "cpu");
    let ws = Workspace::new(2).unwrap();
    bench_precision::<f32>(c, "f32", cpu_clock, &ws);
    bench_precision::<f64>(c, "f64", cpu_clock, &ws);
}

criterion_group! {
    name = spherical_harmonics;
    config = Criterion::default().sample_size(20).warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2));
    targets = benches
}
criterion_main!(spherical_harmonics);
