//! Times `AtomGraph::build` on Si diamond supercells and prints JSON, for
//! scripts/bench_neighbors_vesin.py.
//!
//! Usage: neighbors_timing THREADS REPEATS N1 [N2 ...]   (Ni: replicas per axis
//! of the conventional 8-atom cell, a = 5.43 Å; cutoff 5 Å)

use std::time::Instant;

use equipot::{AtomGraph, Structure, Workspace};

#[path = "../benches/support/silicon.rs"]
mod silicon;
use silicon::silicon;
#[path = "../benches/support/cpu_time.rs"]
mod cpu_time;
use cpu_time::process_cpu_time;

fn main() {
    let args: Vec<usize> = std::env::args().skip(1).map(|a| a.parse().expect("integer arguments")).collect();
    assert!(args.len() >= 3, "usage: neighbors_timing THREADS REPEATS N1 [N2 ...]");
    let ws = Workspace::new(args[0]).expect("thread pool");
    let mut results = Vec::new();
    for &n in &args[2..] {
        let (positions, cell) = silicon(n);
        let numbers = vec![14; positions.len()];
        let structure = Structure { positions: &positions, numbers: &numbers, cell: Some(cell), pbc: [true; 3] };
        let mut times = Vec::new();
        let mut cpu_times = Vec::new();
        let mut edges = 0;
        for _ in 0..args[1] {
            let (start, cpu_start) = (Instant::now(), cpu_time());
            let graph = AtomGraph::build(&structure, 5.0, &ws).expect("graph");
            times.push(start.elapsed().as_secs_f64());
            cpu_times.push(cpu_time() - cpu_start);
            edges = graph.n_edges();
        }
        results.push(format!("{{\"replicas\": {n}, \"atoms\": {}, \"edges\": {edges}, \"times_s\": {times:?}, \"cpu_s\": {cpu_times:?}}}",
            positions.len()
        ));
    }
    println!("[{}]", results.join(", "));
}

/// CPU time of the whole process (all threads), s.
fn cpu_time() -> f64 {
    process_cpu_time().as_secs_f64()
}
