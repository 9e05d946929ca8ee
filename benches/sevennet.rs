//! SevenNet-0 (11Jul2024), float32, energy + forces + stress on Si diamond
//! (512 atoms, rattled), 2 threads. Needs the converted model:
//! EQUIPOT_SEVENN_MODELS=DIR (DIR/SevenNet_0__11Jul2024.eqp.safetensors,
//! as scripts/ci/10-sevenn-convert.sh makes it); without it the bench says so and
//! measures nothing.

use criterion::{criterion_group, criterion_main, Criterion};
use equipot::graph::Structure;
use equipot::model::{Precision, Request};
use equipot::{AtomGraph, Workspace};

/// Diamond silicon, n×n×n conventional cells, each atom moved by up to ±0.05 Å.
fn si_diamond(n: usize) -> (Vec<[f64; 3]>, Vec<i32>, [[f64; 3]; 3]) {
    let a = 5.43;
    let basis = [[0.0, 0.0, 0.0], [0.0, 0.5, 0.5], [0.5, 0.0, 0.5], [0.5, 0.5, 0.0]];
    let mut positions = Vec::new();
    let mut seed = 12345u64;
    let mut jitter = || {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((seed >> 11) as f64 / (1u64 << 53) as f64 - 0.5) * 0.1
    };
    for (i, j, k) in (0..n).flat_map(|i| (0..n).flat_map(move |j| (0..n).map(move |k| (i, j, k)))) {
        for b in basis {
            for shift in [0.0, 0.25] {
                let f = [i as f64 + b[0] + shift, j as f64 + b[1] + shift, k as f64 + b[2] + shift];
                positions.push([a * f[0] + jitter(), a * f[1] + jitter(), a * f[2] + jitter()]);
            }
        }
    }
    let l = a * n as f64;
    let numbers = vec![14; positions.len()];
    (positions, numbers, [[l, 0.0, 0.0], [0.0, l, 0.0], [0.0, 0.0, l]])
}

fn bench(c: &mut Criterion) {
    let Some(dir) = std::env::var_os("EQUIPOT_SEVENN_MODELS") else {
        eprintln!("sevennet bench SKIPPED: set EQUIPOT_SEVENN_MODELS to the folder of converted SevenNet models");
        return;
    };
    let path = std::path::Path::new(&dir).join("SevenNet_0__11Jul2024.eqp.safetensors");
    let model = equipot::model::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let ws = Workspace::new(2).unwrap();
    let (positions, numbers, cell) = si_diamond(4);
    let structure = Structure { positions: &positions, numbers: &numbers, cell: Some(cell), pbc: [true; 3] };
    let request = Request { forces: true, virial: true, precision: Precision::F32, ..Default::default() };
    let mut group = c.benchmark_group("sevennet");
    group.sample_size(10);
    group.bench_function("SevenNet-0 f32 Si512 energy+forces+stress, 2 threads (graph included)", |b| {
        b.iter(|| {
            let graph = AtomGraph::build(&structure, model.cutoff(), &ws).unwrap();
            let out = model.compute(&graph, &request, &ws).unwrap();
            assert!(out.energy.is_finite() && out.forces.len() == numbers.len());
            out.energy
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
