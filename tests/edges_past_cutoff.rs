//! Edges at or beyond a model's cutoff contribute exactly nothing: a graph
//! built with any longer cutoff, or a host neighbor list with a skin, gives
//! the model's numbers (SevenNet-0 once gave 7.7e58 eV from a 7 Å graph: the
//! XPLOR envelope grows past r_c and the polynomial one turns negative).
//! Every architecture, float64 and float32.

use equipot::graph::{NeighborList, Structure};
use equipot::model::{Precision, Request};
use equipot::{AtomGraph, Model, Outputs, Workspace};

mod compare_support;
mod sevenn_support;
use compare_support::{assert_rel, flat};

/// 8 atoms of the model's first species (and its second, every third
/// atom), rattled in a 5.6 Å cubic cell: no pair closer than 1.8 Å.
fn structure(model: &Model) -> (Vec<[f64; 3]>, Vec<i32>, [[f64; 3]; 3]) {
    let a = 5.6;
    let sites = [[0.0, 0.0, 0.0], [0.0, 0.5, 0.5], [0.5, 0.0, 0.5], [0.5, 0.5, 0.0]];
    let mut seed = 0x2545f4914f6cdd1du64;
    let mut noise = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        ((seed >> 11) as f64 / (1u64 << 53) as f64 - 0.5) * 0.3
    };
    let mut positions = Vec::new();
    for s in sites {
        for d in [[0.0; 3], [0.25; 3]] {
            positions.push([0, 1, 2].map(|k| (s[k] + d[k]) * a + noise()));
        }
    }
    let species = model.species();
    let numbers = (0..positions.len()).map(|i| species[if i % 3 == 2 { 1.min(species.len() - 1) } else { 0 }]).collect();
    (positions, numbers, [[a, 0.0, 0.0], [0.0, a, 0.0], [0.0, 0.0, a]])
}

fn compute(model: &Model, graph: &AtomGraph, precision: Precision, ws: &Workspace) -> Outputs {
    let request = Request { forces: true, virial: true, atom_energies: true, atom_virials: true, precision, ..Default::default() };
    model.compute(graph, &request, ws).unwrap()
}

fn assert_same(what: &str, got: &Outputs, want: &Outputs, tol: f64) {
    let n = want.forces.len() as f64;
    assert_rel(&format!("{what}: energy"), &[got.energy / n], &[want.energy / n], tol, 1.0);
    assert_rel(&format!("{what}: atom energies"), &got.atom_energies, &want.atom_energies, tol, 1.0);
    assert_rel(&format!("{what}: forces"), &flat(&got.forces), &flat(&want.forces), tol, 1.0);
    assert_rel(&format!("{what}: virial"), &flat(&got.virial), &flat(&want.virial), tol, 1.0);
    let atom_virials: Vec<f64> = got.atom_virials.iter().flat_map(|w| flat(w)).collect();
    let want_virials: Vec<f64> = want.atom_virials.iter().flat_map(|w| flat(w)).collect();
    assert_rel(&format!("{what}: atom virials"), &atom_virials, &want_virials, tol, 1.0);
}

/// Periodic graphs at the cutoff and beyond, and a molecule's host neighbor
/// list with a 2 Å skin against its own graph.
fn check(name: &str, model: &Model) {
    let ws = Workspace::new(2).unwrap();
    let rc = model.cutoff();
    let (positions, numbers, cell) = structure(model);
    let periodic = Structure { positions: &positions, numbers: &numbers, cell: Some(cell), pbc: [true; 3] };
    let molecule = Structure { positions: &positions, numbers: &numbers, cell: None, pbc: [false; 3] };
    for (precision, tol) in [(Precision::F64, 1e-12), (Precision::F32, 1e-6)] {
        let exact = AtomGraph::build(&periodic, rc, &ws).unwrap();
        let reference = compute(model, &exact, precision, &ws);
        assert!(reference.energy.abs() > 1e-3, "{name}: the test structure has no energy to compare");
        for extra in [1.0, 2.5] {
            let wide = AtomGraph::build(&periodic, rc + extra, &ws).unwrap();
            assert!(wide.n_edges() > exact.n_edges(), "{name}: the wider graph has no extra edges");
            assert_same(&format!("{name} {precision:?} graph at r_c + {extra} Å"), &compute(model, &wide, precision, &ws), &reference, tol);
        }
        // A host's list: every pair within r_c + 2 Å, in any order.
        let skin = rc + 2.0;
        let mut offsets = vec![0usize];
        let mut neighbors = Vec::new();
        for (i, a) in positions.iter().enumerate() {
            for (j, b) in positions.iter().enumerate().rev() {
                let d2: f64 = (0..3).map(|k| (a[k] - b[k]).powi(2)).sum();
                if i != j && d2 < skin * skin {
                    neighbors.push(j as u32);
                }
            }
            offsets.push(neighbors.len());
        }
        let list = NeighborList { positions: &positions, numbers: &numbers, n_local: positions.len(), offsets: &offsets, neighbors: &neighbors, cutoff: skin };
        let host = AtomGraph::from_neighbor_list(&list).unwrap();
        let own = AtomGraph::build(&molecule, rc, &ws).unwrap();
        assert!(host.n_edges() > own.n_edges(), "{name}: the skin adds no edges");
        assert_same(&format!("{name} {precision:?} host list with a 2 Å skin"), &compute(model, &host, precision, &ws), &compute(model, &own, precision, &ws), tol);
    }
}

#[test]
fn sevennet_models_ignore_edges_past_the_cutoff() {
    for name in ["SevenNet_0__11Jul2024", "SevenNet_0__22May2024", "SevenNet_l3i5", "SevenNet_MF_0"] {
        check(name, &equipot::model::load(sevenn_support::model_path(name)).unwrap());
    }
}

#[test]
fn mace_models_ignore_edges_past_the_cutoff() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mace/models");
    for name in ["mp0_l0_3int", "mp0_l1", "off_l1"] {
        check(name, &equipot::model::load(dir.join(format!("{name}.eqp.safetensors"))).unwrap());
    }
}

#[test]
fn lennard_jones_ignores_edges_past_the_cutoff() {
    let lj = equipot::model::LennardJones::new(&[14, 6], &[0.1, 0.05, 0.05, 0.02], &[2.2, 2.0, 2.0, 1.8], 4.0).unwrap();
    check("lennard-jones", &Model::new(lj));
}
