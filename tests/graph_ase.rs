//! Agreement with ASE's `neighbor_list("ijSD", atoms, cutoff)` on the
//! fixtures of tests/fixtures/neighbors/ (see generate.py there): the same
//! (i, j, S) multiset, and the same vectors to 1e-12 Å.

use std::path::Path;

use equipot::graph::neighbors_brute_force;
use equipot::{AtomGraph, Structure, Workspace};
use serde_json::Value;

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/neighbors");

/// The cases generate.py writes; each must be present.
const CASES: [&str; 12] = [
    "triclinic",
    "smaller_than_cutoff",
    "single_atom",
    "empty",
    "slab",
    "wire",
    "molecule",
    "skewed",
    "bulk_200",
    "mixed_species",
    "unwrapped",
    "mixed_pbc_tft",
];

type Edge = (u32, u32, [i32; 3]);

fn vec3s(v: &Value) -> Vec<[f64; 3]> {
    v.as_array().unwrap().iter().map(|r| std::array::from_fn(|k| r[k].as_f64().unwrap())).collect()
}

fn check(name: &str, ws: &Workspace) -> usize {
    let path = Path::new(FIXTURES).join(format!("{name}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let f: Value = serde_json::from_str(&text).unwrap();
    let positions = vec3s(&f["positions"]);
    let numbers: Vec<i32> = f["numbers"].as_array().unwrap().iter().map(|z| z.as_i64().unwrap() as i32).collect();
    let pbc: [bool; 3] = std::array::from_fn(|k| f["pbc"][k].as_bool().unwrap());
    let cell = (!f["cell"].is_null()).then(|| {
        let rows = vec3s(&f["cell"]);
        [rows[0], rows[1], rows[2]]
    });
    let cutoff = f["cutoff"].as_f64().unwrap();
    let structure = Structure { positions: &positions, numbers: &numbers, cell, pbc };
    let graph = AtomGraph::build(&structure, cutoff, ws).unwrap_or_else(|e| panic!("{name}: {e}"));

    let ints = |key: &str| -> Vec<i64> { f[key].as_array().unwrap().iter().map(|x| x.as_i64().unwrap()).collect() };
    let (i, j) = (ints("i"), ints("j"));
    let shifts: Vec<[i32; 3]> = f["S"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| std::array::from_fn(|k| s[k].as_i64().unwrap() as i32))
        .collect();
    let vectors = vec3s(&f["D"]);
    let mut expected: Vec<(Edge, [f64; 3])> =
        (0..i.len()).map(|e| ((i[e] as u32, j[e] as u32, shifts[e]), vectors[e])).collect();
    expected.sort_by_key(|e| e.0);
    let ours: Vec<(Edge, [f64; 3])> = (0..graph.n_edges())
        .map(|e| ((graph.centers[e], graph.neighbors[e], graph.shifts[e]), graph.vectors[e]))
        .collect();
    // equipot's own order is already (center, neighbor, shift).
    assert!(ours.windows(2).all(|w| w[0].0 < w[1].0), "{name}: edges not sorted by (i, j, S)");

    let missing: Vec<_> = expected.iter().filter(|e| ours.binary_search_by(|o| o.0.cmp(&e.0)).is_err()).collect();
    let extra: Vec<_> = ours.iter().filter(|o| expected.binary_search_by(|e| e.0.cmp(&o.0)).is_err()).collect();
    assert!(missing.is_empty() && extra.is_empty(), "{name}: missing {missing:?}\nextra {extra:?}");
    assert_eq!(ours.len(), expected.len(), "{name}: duplicated edges");
    for ((edge, v), (_, d)) in ours.iter().zip(&expected) {
        for k in 0..3 {
            assert!((v[k] - d[k]).abs() <= 1e-12, "{name}: edge {edge:?}: vector {v:?} vs ASE {d:?}");
        }
    }
    // The brute-force oracle of the property tests agrees with ASE too.
    let oracle = neighbors_brute_force(&positions, cell, pbc, cutoff).unwrap();
    assert_eq!((&oracle.centers, &oracle.neighbors, &oracle.shifts), (&graph.centers, &graph.neighbors, &graph.shifts));
    for c in 0..graph.n_atoms() {
        let row = graph.offsets[c]..graph.offsets[c + 1];
        assert!(graph.centers[row].iter().all(|&x| x as usize == c), "{name}: offsets of center {c}");
    }
    graph.n_edges()
}

#[test]
fn neighbor_lists_match_ase() {
    let ws = Workspace::new(2).unwrap();
    let edges: usize = CASES.iter().map(|name| check(name, &ws)).sum();
    assert!(edges > 10_000, "the fixtures hold only {edges} edges");
    // Every fixture on disk is checked.
    let on_disk = std::fs::read_dir(FIXTURES).unwrap().filter(|e| {
        e.as_ref().unwrap().path().extension().is_some_and(|x| x == "json")
    });
    assert_eq!(on_disk.count(), CASES.len(), "fixtures on disk that the test does not list");
}
