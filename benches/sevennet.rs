//! SevenNet-0 (11Jul2024), float32, energy + forces + stress on Si diamond
//! (512 atoms, rattled), 2 threads. Needs the converted model:
//! EQUIPOT_SEVENN_MODELS=DIR (DIR/SevenNet_0__11Jul2024.eqp.safetensors,
//! as scripts/ci/10-sevenn-convert.sh makes it); without it the bench says so and
//! measures nothing.

use criterion::{criterion_group, criterion_main, Criterion};
use equipot::graph::Structure;
use equipot::model::{Precision, Request};
use equipot::{AtomGraph, Workspace};

#[path = "support/silicon.rs"]
mod silicon;
use silicon::rattled_silicon;

fn bench(c: &mut Criterion) {
    let Some(dir) = std::env::var_os("EQUIPOT_SEVENN_MODELS") else {
        eprintln!("sevennet bench SKIPPED: set EQUIPOT_SEVENN_MODELS to the folder of converted SevenNet models");
        return;
    };
    let path = std::path::Path::new(&dir).join("SevenNet_0__11Jul2024.eqp.safetensors");
    let model = equipot::model::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let ws = Workspace::new(2).unwrap();
    // Diamond silicon, 4×4×4 conventional cells, each coordinate moved by up to ±0.05 Å.
    let (positions, cell) = rattled_silicon(4, 0.05);
    let numbers = vec![14; positions.len()];
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
