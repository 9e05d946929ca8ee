//! Structures that would need absurd memory are refused before anything
//! large is allocated, and a non-finite result is an error naming the atom,
//! never a success.

use equipot::graph::Structure;
use equipot::model::{LennardJones, Precision, Request};
use equipot::{AtomGraph, Error, Model, Workspace};
use std::time::Instant;

mod sevenn_support;

fn cubic(a: f64) -> Option<[[f64; 3]; 3]> {
    Some([[a, 0.0, 0.0], [0.0, a, 0.0], [0.0, 0.0, a]])
}

/// Diamond Si, `n`³ conventional cells of side `a`.
fn diamond(n: usize, a: f64) -> Vec<[f64; 3]> {
    let basis = [[0.0, 0.0, 0.0], [0.0, 0.5, 0.5], [0.5, 0.0, 0.5], [0.5, 0.5, 0.0]];
    let mut out = Vec::new();
    for (i, j, k) in (0..n).flat_map(|i| (0..n).flat_map(move |j| (0..n).map(move |k| (i, j, k)))) {
        for b in basis {
            for d in [0.0, 0.25] {
                out.push([(i as f64 + b[0] + d) * a, (j as f64 + b[1] + d) * a, (k as f64 + b[2] + d) * a]);
            }
        }
    }
    out
}

fn out_of_memory(result: equipot::Result<AtomGraph>) -> String {
    match result {
        Err(Error::OutOfMemory(why)) => why,
        Err(other) => panic!("expected an out-of-memory error, got {other}"),
        Ok(g) => panic!("a graph of {} edges was built", g.n_edges()),
    }
}

#[test]
fn tiny_cells_and_cells_in_nm_are_refused_at_once() {
    // A limit independent of this machine's memory: 4 GB.
    let mut ws = Workspace::new(2).unwrap();
    ws.set_memory_limit(4 << 30);
    let started = Instant::now();
    // One atom in a 0.01 Å cube: 5e8 images within 5 Å, 27 GB.
    let one = [[0.0; 3]];
    let s = Structure { positions: &one, numbers: &[14], cell: cubic(0.01), pbc: [true; 3] };
    let why = out_of_memory(AtomGraph::build(&s, 5.0, &ws));
    assert!(why.contains("GB") && why.contains("memory limit") && why.contains("edges"), "{why}");
    // 4096 Si atoms with the cell written in nm (5.43 → 0.543): 1.1e8 edges,
    // 5.6 GB, past a 1 GB limit.
    ws.set_memory_limit(1 << 30);
    let nm = diamond(8, 0.543);
    let numbers = vec![14; nm.len()];
    let s = Structure { positions: &nm, numbers: &numbers, cell: cubic(8.0 * 0.543), pbc: [true; 3] };
    let why = out_of_memory(AtomGraph::build(&s, 5.0, &ws));
    assert!(why.contains("4096 atoms"), "{why}");
    assert!(started.elapsed().as_secs_f64() < 2.0, "refusing took {:?}", started.elapsed());
}

#[test]
fn the_search_stops_at_the_limit_whatever_the_structure() {
    // A molecule (no cell, so no upfront estimate): 4000 atoms in a 2 Å box
    // have 1.6e7 pairs, 0.8 GB; the limit is 50 MB.
    let mut ws = Workspace::new(2).unwrap();
    ws.set_memory_limit(50 << 20);
    let positions: Vec<[f64; 3]> = (0..4000).map(|i| [(i % 16) as f64 * 0.125, (i / 16 % 16) as f64 * 0.125, (i / 256) as f64 * 0.125]).collect();
    let numbers = vec![1; positions.len()];
    let s = Structure { positions: &positions, numbers: &numbers, cell: None, pbc: [false; 3] };
    let why = out_of_memory(AtomGraph::build(&s, 5.0, &ws));
    assert!(why.contains("more than") && why.contains("edges"), "{why}");
    // The same structure within the default limit builds.
    let ws = Workspace::new(2).unwrap();
    assert!(AtomGraph::build(&s, 5.0, &ws).unwrap().n_edges() == 4000 * 3999);
}

#[test]
fn an_evaluation_past_the_memory_limit_is_refused() {
    let model = equipot::model::load(sevenn_support::model_path("SevenNet_0__11Jul2024")).unwrap();
    let positions = diamond(2, 5.43);
    let numbers = vec![14; positions.len()];
    let mut ws = Workspace::new(2).unwrap();
    let s = Structure { positions: &positions, numbers: &numbers, cell: cubic(10.86), pbc: [true; 3] };
    let graph = AtomGraph::build(&s, model.cutoff(), &ws).unwrap();
    let request = Request { forces: true, virial: true, ..Default::default() };
    assert!(model.compute(&graph, &request, &ws).unwrap().energy.is_finite());
    ws.set_memory_limit(1 << 20);
    match model.compute(&graph, &request, &ws) {
        Err(Error::OutOfMemory(why)) => assert!(why.contains("64 atoms") && why.contains("nequip"), "{why}"),
        other => panic!("expected an out-of-memory error, got {:?}", other.map(|o| o.energy)),
    }
}

#[test]
fn non_finite_results_are_errors_naming_the_atom() {
    // Lennard-Jones in float32 overflows for two atoms 0.001 Å apart.
    let lj = Model::new(LennardJones::new(&[18], &[0.0104], &[3.4], 8.5).unwrap());
    let positions = [[0.0, 0.0, 0.0], [5.0, 0.0, 0.0], [5.001, 0.0, 0.0]];
    let ws = Workspace::new(1).unwrap();
    let s = Structure { positions: &positions, numbers: &[18, 18, 18], cell: None, pbc: [false; 3] };
    let graph = AtomGraph::build(&s, 8.5, &ws).unwrap();
    let f64_out = lj.compute(&graph, &Request { forces: true, ..Default::default() }, &ws).unwrap();
    assert!(f64_out.energy.is_finite());
    let request = Request { forces: true, virial: true, precision: Precision::F32, ..Default::default() };
    match lj.compute(&graph, &request, &ws) {
        Err(Error::NonFinite(why)) => assert!(why.contains("atom 1 (Z = 18)"), "{why}"),
        other => panic!("expected a non-finite error, got {:?}", other.map(|o| o.energy)),
    }
}

#[test]
fn learned_models_refuse_atoms_closer_than_half_an_angstrom() {
    // A 2-atom Si cell written in nm: atoms 0.235 Å apart, images 0.38 Å.
    // float64 gave 1e9–1e12 eV and float32 something else entirely.
    let model = equipot::model::load(sevenn_support::model_path("SevenNet_0__11Jul2024")).unwrap();
    let ws = Workspace::new(1).unwrap();
    let a = 0.543;
    let cell = Some([[0.0, a / 2.0, a / 2.0], [a / 2.0, 0.0, a / 2.0], [a / 2.0, a / 2.0, 0.0]]);
    let positions = [[0.0; 3], [a / 4.0; 3]];
    let s = Structure { positions: &positions, numbers: &[14, 14], cell, pbc: [true; 3] };
    let graph = AtomGraph::build(&s, model.cutoff(), &ws).unwrap();
    for precision in [Precision::F64, Precision::F32] {
        match model.compute(&graph, &Request { forces: true, precision, ..Default::default() }, &ws) {
            Err(Error::InvalidArgument(why)) => assert!(why.contains("0.235 Å apart") && why.contains("nm"), "{why}"),
            other => panic!("expected an error, got {:?}", other.map(|o| o.energy)),
        }
    }
    // At 1.5 Å it evaluates.
    let one = [[0.0; 3]];
    let s = Structure { positions: &one, numbers: &[14], cell: cubic(1.5), pbc: [true; 3] };
    let graph = AtomGraph::build(&s, model.cutoff(), &ws).unwrap();
    assert!(model.compute(&graph, &Request::default(), &ws).unwrap().energy.is_finite());
}
