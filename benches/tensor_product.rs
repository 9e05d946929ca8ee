//! The SevenNet-0 convolution (uvu tensor product 128x0e+64x1e+32x2e ⊗ SH(l≤2)
//! fused with the scatter-sum), forward and forward+backward, f32 and f64,
//! 1000 atoms × 30 edges, 2 threads. e3nn's time on the same shapes:
//! scripts/bench_e3nn_tp.py; results in docs/benchmarks.md.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use equipot::nn::{EdgeIndex, UvuTensorProduct};
use equipot::so3::Irreps;
use equipot::{Real, Workspace};

const ATOMS: usize = 1000;
const PER_ATOM: usize = 30;

fn values<T: Real>(n: usize, state: &mut u64) -> Vec<T> {
    (0..n)
        .map(|_| {
            *state ^= *state << 13;
            *state ^= *state >> 7;
            *state ^= *state << 17;
            T::of((*state >> 11) as f64 * 2f64.powi(-52) - 1.0)
        })
        .collect()
}

fn bench_precision<T: Real>(c: &mut Criterion, name: &str) {
    let ws = Workspace::new(2).unwrap();
    let x_irreps = Irreps::parse("128x0e+64x1e+32x2e").unwrap();
    let tp = UvuTensorProduct::sevenn(&x_irreps, &Irreps::parse("1x0e+1x1e+1x2e").unwrap(), &x_irreps).unwrap();
    let mut state = 0x2545F4914F6CDD1Du64;
    let centers: Vec<u32> = (0..ATOMS * PER_ATOM).map(|e| (e / PER_ATOM) as u32).collect();
    let neighbors: Vec<u32> = values::<f64>(ATOMS * PER_ATOM, &mut state)
        .iter()
        .map(|v| (((v + 1.0) * 0.5 * ATOMS as f64) as usize).min(ATOMS - 1) as u32)
        .collect();
    let index = EdgeIndex::new(ATOMS, &centers, &neighbors).unwrap();
    let e = index.n_edges();
    let x = values::<T>(ATOMS * tp.irreps_in1().dim(), &mut state);
    let sh = values::<T>(e * tp.irreps_in2().dim(), &mut state);
    let w = values::<T>(e * tp.weight_numel(), &mut state);
    let g = values::<T>(ATOMS * tp.irreps_out().dim(), &mut state);
    let mut out = vec![T::zero(); g.len()];
    let (mut gx, mut gsh, mut gw) = (vec![T::zero(); x.len()], vec![T::zero(); sh.len()], vec![T::zero(); w.len()]);
    let scale = T::of(1.0 / PER_ATOM as f64);
    let mut group = c.benchmark_group("uvu_conv_sevennet0_1000x30_2threads");
    group.sample_size(10);
    group.bench_function(BenchmarkId::new("forward", name), |b| {
        b.iter(|| ws.run(|| tp.conv_forward(&index, &x, &sh, &w, scale, &mut out)).unwrap())
    });
    group.bench_function(BenchmarkId::new("forward_backward", name), |b| {
        b.iter(|| {
            ws.run(|| {
                tp.conv_forward(&index, &x, &sh, &w, scale, &mut out)?;
                tp.conv_backward(&index, &x, &sh, &w, scale, &g, &mut gx, &mut gsh, &mut gw)
            })
            .unwrap()
        })
    });
    group.finish();
}

fn benches(c: &mut Criterion) {
    bench_precision::<f32>(c, "f32");
    bench_precision::<f64>(c, "f64");
}

criterion_group!(tensor_product, benches);
criterion_main!(tensor_product);
