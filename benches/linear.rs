//! o3.Linear on SevenNet-0's node features: 128x0e+64x1e+32x2e → same, 1000
//! rows, forward and forward + backward, f32 and f64, on a workspace of
//! EQUIPOT_BENCH_THREADS threads (2 by default). scripts/bench_e3nn_layers.py
//! runs this next to e3nn.
//!
//! EQUIPOT_BENCH_CLOCK=cpu measures the CPU time of the process instead of
//! wall time: on a shared, oversubscribed machine it is the steadier number
//! (with one thread it equals the run time on an idle core).

use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use criterion::{BenchmarkId, Criterion, Throughput};
use equipot::nn::{Linear, LinearSpec, PathNormalization};
use equipot::so3::Irreps;
use equipot::{Real, Workspace};
use std::hint::black_box;

const ROWS: usize = 1000;
const IRREPS: &str = "128x0e+64x1e+32x2e";

#[path = "support/noise.rs"]
mod noise;
use noise::noise;
#[path = "support/cpu_time.rs"]
mod cpu_time;
use cpu_time::process_cpu_time;

fn bench_precision<T: Real, M: Measurement>(c: &mut Criterion<M>, ws: &Workspace, name: &str) {
    let irreps = Irreps::parse(IRREPS).unwrap();
    let spec = LinearSpec::new(&irreps, &irreps, None, false, PathNormalization::Element).unwrap();
    let lin = Linear::<T>::new(&spec, &noise(spec.weight_numel(), 1), &[]).unwrap();
    let dim = irreps.dim();
    let x: Vec<T> = noise(ROWS * dim, 2).into_iter().map(T::of).collect();
    let g: Vec<T> = noise(ROWS * dim, 3).into_iter().map(T::of).collect();
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

fn linear<M: Measurement>(mut c: Criterion<M>) {
    let threads = std::env::var("EQUIPOT_BENCH_THREADS").ok().and_then(|t| t.parse().ok()).unwrap_or(2);
    let ws = Workspace::new(threads).unwrap();
    bench_precision::<f32, M>(&mut c, &ws, "f32");
    bench_precision::<f64, M>(&mut c, &ws, "f64");
    c.final_summary();
}

fn main() {
    if std::env::var("EQUIPOT_BENCH_CLOCK").as_deref() == Ok("cpu") {
        linear(Criterion::default().with_measurement(ProcessCpuTime).configure_from_args());
    } else {
        linear(Criterion::default().with_measurement(WallTime).configure_from_args());
    }
}

/// CPU time of the whole process (all threads), in nanoseconds.
struct ProcessCpuTime;

fn process_cpu_ns() -> f64 {
    process_cpu_time().as_nanos() as f64
}

impl Measurement for ProcessCpuTime {
    type Intermediate = f64;
    type Value = f64;
    fn start(&self) -> f64 {
        process_cpu_ns()
    }
    fn end(&self, start: f64) -> f64 {
        process_cpu_ns() - start
    }
    fn add(&self, a: &f64, b: &f64) -> f64 {
        a + b
    }
    fn zero(&self) -> f64 {
        0.0
    }
    fn to_f64(&self, v: &f64) -> f64 {
        *v
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        &Nanoseconds
    }
}

struct Nanoseconds;

impl ValueFormatter for Nanoseconds {
    fn scale_values(&self, typical: f64, values: &mut [f64]) -> &'static str {
        let (factor, unit) = if typical < 1e3 {
            (1.0, "ns (cpu)")
        } else if typical < 1e6 {
            (1e-3, "µs (cpu)")
        } else {
            (1e-6, "ms (cpu)")
        };
        values.iter_mut().for_each(|v| *v *= factor);
        unit
    }
    fn scale_throughputs(&self, _typical: f64, throughput: &Throughput, values: &mut [f64]) -> &'static str {
        let n = match throughput {
            Throughput::Bytes(n) | Throughput::BytesDecimal(n) | Throughput::Elements(n) => *n as f64,
        };
        values.iter_mut().for_each(|v| *v = n * 1e9 / *v);
        "per cpu-second"
    }
    fn scale_for_machines(&self, _values: &mut [f64]) -> &'static str {
        "ns"
    }
}
