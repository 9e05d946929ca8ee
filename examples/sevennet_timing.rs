//! Times SevenNet-0 (float32 by default) energy + forces + stress on rattled
//! diamond silicon: µs per atom-step, wall and process CPU time (medians and
//! minima over steps after one warm-up). For quick before/after comparisons of kernel
//! changes on a shared machine (CPU time is the steadier number); the
//! comparison with sevenn is scripts/bench_sevennet.py.
//!
//! cargo run --release --example sevennet_timing -- MODEL [cells=4] [steps=3] [threads=2] [f32|f64] [profile] [exact]
//! (cells = 4: 512 atoms; 8: 4096.) `profile` prints the last step's per-stage
//! times (Request::profile); `exact` evaluates the exact radial networks
//! instead of the float32 tables (RadialMode::Exact).

use std::time::Instant;

use equipot::graph::Structure;
use equipot::model::{Precision, RadialMode, Request};
use equipot::{AtomGraph, Workspace};

#[path = "../benches/support/silicon.rs"]
mod silicon;
use silicon::rattled_silicon;
#[path = "../benches/support/cpu_time.rs"]
mod cpu_time;
use cpu_time::process_cpu_time;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let model_path = args.first().expect("usage: sevennet_timing MODEL [cells] [steps] [threads] [f32|f64]");
    let arg = |k: usize, default: usize| args.get(k).map_or(default, |a| a.parse().expect("integer argument"));
    let (cells, steps, threads) = (arg(1, 4), arg(2, 3), arg(3, 2));
    let precision = if args.get(4).is_some_and(|p| p == "f64") { Precision::F64 } else { Precision::F32 };
    let model = equipot::model::load(std::path::Path::new(model_path)).unwrap();
    let ws = Workspace::new(threads).unwrap();
    let (positions, cell) = rattled_silicon(cells, 0.05);
    let n = positions.len();
    let numbers = vec![14; n];
    let structure = Structure { positions: &positions, numbers: &numbers, cell: Some(cell), pbc: [true; 3] };
    let flag = |name: &str| args.iter().skip(5).any(|a| a == name);
    let radial = if flag("exact") { RadialMode::Exact } else { RadialMode::Auto };
    let request = Request { forces: true, virial: true, precision, radial, profile: flag("profile"), ..Default::default() };
    let mut profile = equipot::model::Profile::default();
    let (mut walls, mut cpus) = (Vec::new(), Vec::new());
    for step in 0..=steps {
        let (w0, c0) = (Instant::now(), process_cpu_time().as_secs_f64());
        let graph = AtomGraph::build(&structure, model.cutoff(), &ws).unwrap();
        let out = model.compute(&graph, &request, &ws).unwrap();
        let (wall, cpu) = (w0.elapsed().as_secs_f64(), process_cpu_time().as_secs_f64() - c0);
        assert!(out.energy.is_finite());
        profile = out.profile;
        if step > 0 {
            walls.push(wall * 1e6 / n as f64);
            cpus.push(cpu * 1e6 / n as f64);
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        v[v.len() / 2]
    };
    let (wall, cpu) = (median(&mut walls), median(&mut cpus));
    println!(
        "{n} atoms, {threads} threads: {wall:.0} µs/atom-step wall, {cpu:.0} CPU (median); {:.0} wall, {:.0} CPU (best)",
        walls[0], cpus[0]
    );
    if request.profile {
        print!("last step, model evaluation:\n{}", profile.table());
    }
}
