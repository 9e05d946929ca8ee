//! The cell-list search against the brute-force oracle on randomized cells:
//! the same edges, shifts and order, and bit-identical vectors.

use equipot::graph::neighbors_brute_force;
use equipot::{AtomGraph, Error, Structure, Workspace};

/// A small seeded generator (SplitMix64), so cases are reproducible.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [lo, hi).
    fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Uniform integer in lo..=hi.
    fn int(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next() % (hi - lo + 1) as u64) as i64
    }
}

/// A random system: a triclinic (possibly strongly skewed, arbitrarily
/// oriented) cell, atoms inside, outside and far outside it, and a cutoff
/// that gives on average 1 to 150 neighbors per atom.
struct Case {
    positions: Vec<[f64; 3]>,
    cell: [[f64; 3]; 3],
    pbc: [bool; 3],
    cutoff: f64,
}

fn random_case(rng: &mut Rng, pbc: [bool; 3]) -> Case {
    let n = rng.int(1, 60) as usize;
    let skew = [0.0, 0.4, 2.0, 5.0][rng.int(0, 3) as usize];
    let cell = loop {
        let mut m = [[0.0; 3]; 3];
        for (k, row) in m.iter_mut().enumerate() {
            for (l, x) in row.iter_mut().enumerate() {
                *x = if k == l { rng.uniform(1.0, 6.0) } else { skew * rng.uniform(-1.0, 1.0) * 3.0 };
            }
        }
        let m = rotate(m, rng);
        let volume = det(&m).abs();
        let lengths: f64 = m.iter().map(norm).product();
        if volume > 0.02 * lengths {
            break m;
        }
    };
    let mut positions = Vec::with_capacity(n);
    for _ in 0..n {
        let mut f = [0.0; 3];
        for k in 0..3 {
            f[k] = if pbc[k] { rng.uniform(-0.3, 1.3) } else { rng.uniform(-1.0, 2.0) };
            // Some atoms lie far from the cell (unwrapped trajectories).
            if pbc[k] && rng.int(0, 9) == 0 {
                f[k] += rng.int(-1000, 1000) as f64;
            }
        }
        positions.push(cartesian(&cell, f));
    }
    let volume = det(&cell).abs();
    let neighbors = rng.uniform(1.0, 150.0);
    let cutoff = (3.0 * neighbors * volume / (4.0 * std::f64::consts::PI * n as f64)).cbrt();
    Case { positions, cell, pbc, cutoff }
}

fn build(case: &Case, ws: &Workspace) -> equipot::Result<AtomGraph> {
    let numbers = vec![14; case.positions.len()];
    let structure = Structure { positions: &case.positions, numbers: &numbers, cell: Some(case.cell), pbc: case.pbc };
    AtomGraph::build(&structure, case.cutoff, ws)
}

fn assert_same(fast: &AtomGraph, oracle: &AtomGraph, what: &str) {
    assert_eq!(fast.offsets, oracle.offsets, "{what}: offsets");
    assert_eq!(fast.centers, oracle.centers, "{what}: centers");
    assert_eq!(fast.neighbors, oracle.neighbors, "{what}: neighbors");
    assert_eq!(fast.shifts, oracle.shifts, "{what}: shifts");
    assert!(fast.vectors == oracle.vectors, "{what}: vectors differ");
    assert_eq!(fast.positions, oracle.positions, "{what}: positions");
    assert_eq!(fast.pbc, oracle.pbc, "{what}: pbc");
    assert_eq!(fast.cell, oracle.cell, "{what}: cell");
}

#[test]
fn cell_lists_match_brute_force_on_random_cells() {
    let ws = Workspace::new(2).unwrap();
    let mut rng = Rng(0x5EED_0001);
    let mut edges = 0;
    let mut images_of_self = 0;
    for case_index in 0..400 {
        let pbc = [case_index & 1 != 0, case_index & 2 != 0, case_index & 4 != 0];
        let case = random_case(&mut rng, pbc);
        let what = format!("case {case_index} (pbc {pbc:?}, {} atoms, cutoff {})", case.positions.len(), case.cutoff);
        let fast = build(&case, &ws).unwrap_or_else(|e| panic!("{what}: {e}"));
        let oracle = neighbors_brute_force(&case.positions, Some(case.cell), pbc, case.cutoff).unwrap();
        assert_same(&fast, &oracle, &what);
        edges += fast.n_edges();
        images_of_self += (0..fast.n_edges()).filter(|&e| fast.centers[e] == fast.neighbors[e]).count();
    }
    // The cases must exercise the search: many edges, and cells small
    // enough that atoms see their own images.
    assert!(edges > 100_000, "only {edges} edges in all cases");
    assert!(images_of_self > 1000, "only {images_of_self} self-image edges");
}

#[test]
fn cell_lists_match_brute_force_on_larger_random_cells() {
    // Enough atoms, and a short enough cutoff, for grids of many bins.
    let ws = Workspace::new(2).unwrap();
    let mut rng = Rng(0x5EED_0005);
    for case_index in 0..16 {
        let pbc = [case_index & 1 != 0, case_index & 2 != 0, case_index & 4 != 0];
        let mut case = random_case(&mut rng, pbc);
        let scale = rng.uniform(3.0, 5.0);
        case.cell = case.cell.map(|row| row.map(|x| x * scale));
        let n = rng.int(300, 800) as usize;
        case.positions = (0..n)
            .map(|_| {
                let f = std::array::from_fn(|k| if pbc[k] { rng.uniform(-0.2, 1.2) } else { rng.uniform(-0.5, 1.5) });
                cartesian(&case.cell, f)
            })
            .collect();
        let neighbors = rng.uniform(5.0, 40.0);
        let spread: f64 = (0..3).map(|k| if pbc[k] { 1.0 } else { 2.0 }).product();
        let volume = det(&case.cell).abs() * spread;
        case.cutoff = (3.0 * neighbors * volume / (4.0 * std::f64::consts::PI * n as f64)).cbrt();
        let what = format!("larger case {case_index} (pbc {pbc:?}, {n} atoms, cutoff {})", case.cutoff);
        let fast = build(&case, &ws).unwrap_or_else(|e| panic!("{what}: {e}"));
        let oracle = neighbors_brute_force(&case.positions, Some(case.cell), pbc, case.cutoff).unwrap();
        assert_same(&fast, &oracle, &what);
        assert!(fast.n_edges() > n, "{what}: only {} edges", fast.n_edges());
    }
}

#[test]
fn cell_lists_match_brute_force_on_cells_much_smaller_than_the_cutoff() {
    let ws = Workspace::new(2).unwrap();
    let mut rng = Rng(0x5EED_0002);
    for case_index in 0..40 {
        let pbc = [true, case_index % 2 == 0, true];
        let mut case = random_case(&mut rng, pbc);
        case.positions.truncate(3);
        // Every atom sees its own images along the shortest periodic vector.
        let shortest = (0..3).filter(|&k| pbc[k]).map(|k| norm(&case.cell[k])).fold(f64::INFINITY, f64::min);
        case.cutoff = rng.uniform(2.0, 4.0) * shortest;
        let what = format!("small cell {case_index}");
        let fast = build(&case, &ws).unwrap();
        let oracle = neighbors_brute_force(&case.positions, Some(case.cell), pbc, case.cutoff).unwrap();
        assert_same(&fast, &oracle, &what);
        assert!(fast.n_edges() > 0, "{what}: no edges");
    }
}

#[test]
fn output_does_not_depend_on_the_number_of_threads() {
    let mut rng = Rng(0x5EED_0003);
    // Enough atoms for many parallel chunks; a skewed, fully periodic cell.
    let cell = [[14.0, 0.0, 0.0], [6.0, 13.0, 0.0], [-3.0, 4.0, 12.0]];
    let positions: Vec<[f64; 3]> = (0..3000)
        .map(|_| cartesian(&cell, [rng.uniform(-0.1, 1.1), rng.uniform(0.0, 1.0), rng.uniform(0.0, 1.0)]))
        .collect();
    let case = Case { positions, cell, pbc: [true, true, false], cutoff: 2.5 };
    let graphs: Vec<AtomGraph> =
        [1, 2, 4].iter().map(|&t| build(&case, &Workspace::new(t).unwrap()).unwrap()).collect();
    assert!(graphs[0].n_edges() > 50_000);
    assert_same(&graphs[1], &graphs[0], "2 vs 1 threads");
    assert_same(&graphs[2], &graphs[0], "4 vs 1 threads");
    let oracle = neighbors_brute_force(&case.positions, Some(case.cell), case.pbc, case.cutoff).unwrap();
    assert_same(&graphs[0], &oracle, "3000 atoms vs brute force");
}

#[test]
fn empty_system_and_single_atom() {
    let ws = Workspace::new(2).unwrap();
    let cell = [[3.0, 0.0, 0.0], [0.0, 3.0, 0.0], [0.0, 0.0, 3.0]];
    for pbc in [[true; 3], [false; 3], [true, true, false]] {
        let empty = Structure { positions: &[], numbers: &[], cell: Some(cell), pbc };
        let graph = AtomGraph::build(&empty, 5.0, &ws).unwrap();
        assert_eq!(graph.n_edges(), 0);
        assert_eq!(graph.offsets, vec![0]);
    }
    // One atom in a 3 Å cube with a 5 Å cutoff sees 6 + 12 of its own
    // images (at 3 and 4.24 Å; those at 5.2 Å are out).
    let single = Structure { positions: &[[-7.0, 1.0, 100.0]], numbers: &[14], cell: Some(cell), pbc: [true; 3] };
    let graph = AtomGraph::build(&single, 5.0, &ws).unwrap();
    assert_eq!(graph.n_edges(), 18);
    assert!(graph.neighbors.iter().all(|&j| j == 0));
    // Alone and not periodic: no edges.
    let molecule = Structure { positions: &[[1.0, 2.0, 3.0]], numbers: &[1], cell: None, pbc: [false; 3] };
    assert_eq!(AtomGraph::build(&molecule, 5.0, &ws).unwrap().n_edges(), 0);
}

#[test]
fn molecules_and_wires_need_no_full_cell() {
    let ws = Workspace::new(2).unwrap();
    let mut rng = Rng(0x5EED_0004);
    let positions: Vec<[f64; 3]> =
        (0..50).map(|_| [rng.uniform(-5.0, 5.0), rng.uniform(-50.0, 5.0), rng.uniform(0.0, 3.0)]).collect();
    let numbers = vec![6; positions.len()];
    let molecule = Structure { positions: &positions, numbers: &numbers, cell: None, pbc: [false; 3] };
    let fast = AtomGraph::build(&molecule, 4.0, &ws).unwrap();
    let oracle = neighbors_brute_force(&positions, None, [false; 3], 4.0).unwrap();
    assert_same(&fast, &oracle, "molecule");
    assert!(fast.n_edges() > 0);
    // A wire along a tilted axis; the other rows of the cell are unused.
    let cell = [[0.0; 3], [0.0; 3], [0.5, 0.3, 2.9]];
    let wire = Structure { positions: &positions, numbers: &numbers, cell: Some(cell), pbc: [false, false, true] };
    let fast = AtomGraph::build(&wire, 4.0, &ws).unwrap();
    let oracle = neighbors_brute_force(&positions, Some(cell), [false, false, true], 4.0).unwrap();
    assert_same(&fast, &oracle, "wire");
    assert!(fast.shifts.iter().any(|s| s[2].abs() > 1));
    // Two clusters 10^5 Å apart: the grid must stay small (O(N) bins).
    let far: Vec<[f64; 3]> = positions.iter().map(|p| [p[0] + 1e5, p[1] - 3e4, p[2]]).collect();
    let both = [positions.clone(), far].concat();
    let numbers = vec![6; both.len()];
    let sparse = Structure { positions: &both, numbers: &numbers, cell: None, pbc: [false; 3] };
    let fast = AtomGraph::build(&sparse, 4.0, &ws).unwrap();
    let oracle = neighbors_brute_force(&both, None, [false; 3], 4.0).unwrap();
    assert_same(&fast, &oracle, "two far clusters");
}

#[test]
fn coincident_atoms_are_rejected() {
    let ws = Workspace::new(2).unwrap();
    let cell = [[4.0, 0.0, 0.0], [0.0, 4.0, 0.0], [0.0, 0.0, 4.0]];
    // The same point, once as given and once a whole cell away.
    for (second, pbc) in [([1.0, 1.0, 1.0], [false; 3]), ([5.0, 1.0, -3.0], [true; 3])] {
        let positions = [[1.0, 1.0, 1.0], [2.0, 2.5, 1.0], second];
        let s = Structure { positions: &positions, numbers: &[1, 1, 1], cell: Some(cell), pbc };
        match AtomGraph::build(&s, 3.0, &ws) {
            Err(Error::InvalidArgument(m)) => assert!(m.contains("same position"), "{m}"),
            other => panic!("coincident atoms accepted: {other:?}"),
        }
    }
}

#[test]
fn atoms_absurdly_far_from_the_cell_are_an_error() {
    let ws = Workspace::new(1).unwrap();
    let cell = [[4.0, 0.0, 0.0], [0.0, 4.0, 0.0], [0.0, 0.0, 4.0]];
    let s = Structure { positions: &[[0.0, 0.0, 1e12]], numbers: &[1], cell: Some(cell), pbc: [true; 3] };
    assert!(matches!(AtomGraph::build(&s, 3.0, &ws), Err(Error::InvalidArgument(_))));
}

#[test]
fn a_cutoff_spanning_thousands_of_cells_is_an_error() {
    let ws = Workspace::new(1).unwrap();
    let cell = [[4.0, 0.0, 0.0], [0.0, 4.0, 0.0], [0.0, 0.0, 1e-3]];
    let s = Structure { positions: &[[0.0, 0.0, 0.0]], numbers: &[1], cell: Some(cell), pbc: [true; 3] };
    match AtomGraph::build(&s, 3.0, &ws) {
        Err(Error::InvalidArgument(m)) => assert!(m.contains("spans more than"), "{m}"),
        other => panic!("accepted: {other:?}"),
    }
    // Along a non-periodic axis, a thin cell does not matter.
    let s = Structure { pbc: [true, true, false], ..s };
    assert_eq!(AtomGraph::build(&s, 3.0, &ws).unwrap().n_edges(), 0);
}

fn rotate(m: [[f64; 3]; 3], rng: &mut Rng) -> [[f64; 3]; 3] {
    // A random orthonormal basis by Gram-Schmidt.
    let mut q = [[0.0; 3]; 3];
    for k in 0..3 {
        loop {
            let mut v = [rng.uniform(-1.0, 1.0), rng.uniform(-1.0, 1.0), rng.uniform(-1.0, 1.0)];
            for p in &q[..k] {
                let d = dot(&v, p);
                v = [v[0] - d * p[0], v[1] - d * p[1], v[2] - d * p[2]];
            }
            let l = norm(&v);
            if l > 0.1 {
                q[k] = [v[0] / l, v[1] / l, v[2] / l];
                break;
            }
        }
    }
    std::array::from_fn(|k| cartesian(&q, m[k]))
}

fn cartesian(cell: &[[f64; 3]; 3], f: [f64; 3]) -> [f64; 3] {
    std::array::from_fn(|l| f[0] * cell[0][l] + f[1] * cell[1][l] + f[2] * cell[2][l])
}

fn det(m: &[[f64; 3]; 3]) -> f64 {
    dot(&m[0], &cross(&m[1], &m[2]))
}

fn cross(a: &[f64; 3], b: &[f64; 3]) -> [f64; 3] {
    [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]]
}

fn dot(a: &[f64; 3], b: &[f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

fn norm(a: &[f64; 3]) -> f64 {
    dot(a, a).sqrt()
}
