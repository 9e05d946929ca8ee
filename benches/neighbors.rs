//! Neighbor-list build time on Si diamond supercells (a = 5.43 Å, cutoff
//! 5 Å, full list with shifts and vectors), 2 threads, ~10^3 to 10^5 atoms;
//! ~10^6 atoms too with EQUIPOT_BENCH_LARGE=1.
//! scripts/bench_neighbors_vesin.py compares the same systems with vesin.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use equipot::{AtomGraph, Structure, Workspace};

#[path = "support/silicon.rs"]
mod silicon;
use silicon::silicon;

fn neighbors(c: &mut Criterion) {
    let ws = Workspace::new(2).unwrap();
    let mut replicas = vec![5, 11, 23];
    if std::env::var("EQUIPOT_BENCH_LARGE").is_ok_and(|v| v == "1") {
        replicas.push(50);
    }
    let mut group = c.benchmark_group("neighbors_si_5A_2threads");
    for n in replicas {
        let (positions, cell) = silicon(n);
        let numbers = vec![14; positions.len()];
        let structure = Structure { positions: &positions, numbers: &numbers, cell: Some(cell), pbc: [true; 3] };
        // Si diamond has 28 neighbors within 5 Å: a wrong search fails here.
        let graph = AtomGraph::build(&structure, 5.0, &ws).unwrap();
        assert_eq!(graph.n_edges(), 28 * positions.len());
        drop(graph);
        group.sample_size(if positions.len() > 50_000 { 10 } else { 20 });
        group.throughput(Throughput::Elements(positions.len() as u64));
        group.bench_with_input(BenchmarkId::from_parameter(positions.len()), &structure, |b, s| {
            b.iter(|| AtomGraph::build(s, 5.0, &ws).unwrap())
        });
    }
    group.finish();
}

criterion_group!(benches, neighbors);
criterion_main!(benches);
