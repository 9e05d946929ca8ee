//! Physics of equipot's MACE model on the fixture models (tests/fixtures/mace/models):
//! forces and stress against central differences of its own energy, rotation
//! invariance and force covariance, inversion invariance (the models are
//! O(3)-equivariant: E(−r) = E(r) exactly in mace too), the halo exchange
//! (local atoms plus ghosts within one cutoff give the periodic result), and
//! clear errors.

use equipot::graph::Structure;
use equipot::model::{Precision, Request};
use equipot::{AtomGraph, Model, Outputs, Workspace};
use std::path::Path;

mod halo_support;

/// "MODEL" or "MODEL@HEAD" (a head of a multi-head model).
const MODELS: [&str; 10] = [
    "mp0_l1",
    "off_l1",
    "mp0_l0_3int",
    "mpa_zbl",
    "mpa_agnesi",
    "mp0_soft",
    "mpa_density",
    "density_l0_f32",
    "mh_residual@r2scan",
    "mh_density_f32@spice",
];
/// Models with ZBL pair repulsion (mpa_agnesi and mpa_density also with the Agnesi transform),
/// also checked on a compressed cell (pairs at 0.6-1 Å).
const ZBL_MODELS: [&str; 4] = ["mpa_zbl", "mpa_zbl_f32", "mpa_agnesi", "mpa_density"];

fn load(name: &str) -> Model {
    let (file, head) = match name.split_once('@') {
        Some((file, head)) => (file, Some(head)),
        None => (name, None),
    };
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/fixtures/mace/models/{file}.eqp.safetensors"));
    equipot::model::load_modal(&path, head).unwrap()
}

/// A periodic triclinic cell with the fixture models' four elements.
#[derive(Clone)]
struct Cell {
    positions: Vec<[f64; 3]>,
    numbers: Vec<i32>,
    cell: [[f64; 3]; 3],
}

impl Cell {
    fn new() -> Cell {
        let cell = [[4.3, 0.0, 0.0], [0.7, 4.1, 0.0], [-0.4, 0.5, 4.6]];
        let frac = [[0.03, 0.02, 0.01], [0.51, 0.47, 0.05], [0.48, 0.04, 0.52], [0.06, 0.55, 0.49], [0.27, 0.24, 0.73]];
        let positions = frac.iter().map(|f| std::array::from_fn(|k| (0..3).map(|i| f[i] * cell[i][k]).sum())).collect();
        Cell { positions, numbers: vec![14, 6, 8, 1, 6], cell }
    }
    fn structure(&self, pbc: [bool; 3]) -> Structure<'_> {
        Structure { positions: &self.positions, numbers: &self.numbers, cell: Some(self.cell), pbc }
    }
    fn compute(&self, model: &Model, pbc: [bool; 3], request: &Request) -> Outputs {
        let ws = Workspace::new(2).unwrap();
        let graph = AtomGraph::build(&self.structure(pbc), model.cutoff(), &ws).unwrap();
        model.compute(&graph, request, &ws).unwrap()
    }
    fn eval(&self, model: &Model) -> Outputs {
        let request = Request { forces: true, virial: true, atom_energies: true, precision: Precision::F64, ..Default::default() };
        self.compute(model, [true; 3], &request)
    }
    /// Positions and cell mapped by the linear map m (rows: r → m r).
    fn mapped(&self, m: &[[f64; 3]; 3]) -> Cell {
        let apply = |v: &[f64; 3]| -> [f64; 3] { std::array::from_fn(|i| (0..3).map(|k| m[i][k] * v[k]).sum()) };
        Cell { positions: self.positions.iter().map(apply).collect(), numbers: self.numbers.clone(), cell: self.cell.map(|row| apply(&row)) }
    }
}

fn rotation() -> [[f64; 3]; 3] {
    let (a, b) = (0.7f64, -1.1f64);
    let rz = [[a.cos(), -a.sin(), 0.0], [a.sin(), a.cos(), 0.0], [0.0, 0.0, 1.0]];
    let rx = [[1.0, 0.0, 0.0], [0.0, b.cos(), -b.sin()], [0.0, b.sin(), b.cos()]];
    std::array::from_fn(|i| std::array::from_fn(|j| (0..3).map(|k| rz[i][k] * rx[k][j]).sum()))
}

/// The triclinic cell shrunk to 45 %: its closest pairs at 0.6-1 Å, where ZBL dominates.
fn compressed() -> Cell {
    Cell::new().mapped(&[[0.45, 0.0, 0.0], [0.0, 0.45, 0.0], [0.0, 0.0, 0.45]])
}

#[test]
fn forces_and_stress_are_energy_derivatives() {
    for name in MODELS {
        check_derivatives(name, &Cell::new());
    }
    for name in ZBL_MODELS {
        check_derivatives(name, &compressed());
    }
}

fn check_derivatives(name: &str, base: &Cell) {
    let h = 1e-5;
    {
        let model = load(name);
        let out = base.eval(&model);
        let f_max = out.forces.iter().flatten().fold(0.0f64, |m, x| m.max(x.abs()));
        assert!(f_max > 0.1, "{name}: forces too small ({f_max}) for a meaningful check");
        let mut worst_f = 0.0f64;
        for i in 0..base.positions.len() {
            for k in 0..3 {
                let shifted = |d: f64| {
                    let mut c = base.clone();
                    c.positions[i][k] += d;
                    c.eval(&model).energy
                };
                let fd = -(shifted(h) - shifted(-h)) / (2.0 * h);
                worst_f = worst_f.max((fd - out.forces[i][k]).abs());
            }
        }
        // Virial W = −Σ r ⊗ ∂E/∂r: W_ab = −∂E/∂ε_ab under r → (1 + ε) r.
        let mut worst_w = 0.0f64;
        for a in 0..3 {
            for b in 0..3 {
                let strained = |d: f64| {
                    let mut m = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]];
                    m[a][b] += d;
                    base.mapped(&m).eval(&model).energy
                };
                let fd = -(strained(h) - strained(-h)) / (2.0 * h);
                worst_w = worst_w.max((fd - out.virial[a][b]).abs());
            }
        }
        eprintln!("{name}: max|F| {f_max:.2}, max|F − FD| {worst_f:.1e}, max|W − FD| {worst_w:.1e}");
        assert!(worst_f < 1e-6 * f_max.max(1.0), "{name}: forces differ from −dE/dr by {worst_f:e}");
        assert!(worst_w < 1e-6 * f_max.max(1.0) * 10.0, "{name}: virial differs from −dE/dε by {worst_w:e}");
    }
}

#[test]
fn rotation_and_inversion_invariance() {
    for name in MODELS {
        check_invariance(name, &Cell::new());
    }
    for name in ZBL_MODELS {
        check_invariance(name, &compressed());
    }
}

/// Models saved in float32 with L > 0 features: their U matrices are stored
/// rounded to float32, so the function they define (in mace too) is
/// rotation-invariant only to that rounding (~1e-8 relative), not to 1e-11.
const FLOAT32_U: [&str; 1] = ["mh_density_f32@spice"];

fn check_invariance(name: &str, base: &Cell) {
    let rot = rotation();
    let tol = if FLOAT32_U.contains(&name) { 1e-8 } else { 1e-11 };
    let inversion = [[-1.0, 0.0, 0.0], [0.0, -1.0, 0.0], [0.0, 0.0, -1.0]];
    {
        let model = load(name);
        let out = base.eval(&model);
        let scale = out.atom_energies.iter().fold(1.0f64, |m, e| m.max(e.abs()));
        for (label, m) in [("rotation", rot), ("inversion", inversion)] {
            let moved = base.mapped(&m).eval(&model);
            let de = (moved.energy - out.energy).abs();
            // Forces are vectors: F'(m r) = m F(r).
            let df = out
                .forces
                .iter()
                .zip(&moved.forces)
                .flat_map(|(f, g)| (0..3).map(move |i| ((0..3).map(|k| m[i][k] * f[k]).sum::<f64>() - g[i]).abs()))
                .fold(0.0, f64::max);
            let de_atoms = out.atom_energies.iter().zip(&moved.atom_energies).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
            eprintln!("{name} {label}: |ΔE| {de:.1e}, max|ΔE_i| {de_atoms:.1e}, max|ΔF| {df:.1e}");
            let f_max = out.forces.iter().flatten().fold(1.0f64, |m, x| m.max(x.abs()));
            assert!(de < tol * scale && de_atoms < tol * scale && df < 10.0 * tol * f_max, "{name}: not invariant under {label}");
        }
    }
}

/// With a halo exchange, a graph of local atoms plus ghosts within one
/// cutoff (only local atoms have neighbor rows) gives the energy, forces
/// (ghost forces added to their owners), virial and per-atom energies of the
/// periodic structure, however many interactions the model has: the
/// triclinic cell, whose atoms are their own ghosts' owners, and a slab;
/// both precisions; every fixture model.
#[test]
fn halo_exchange_gives_the_periodic_result() {
    for name in MODELS {
        let model = load(name);
        for (pbc, label) in [([true; 3], "triclinic cell"), ([true, true, false], "slab")] {
            let cell = Cell::new();
            let (graph, mut halo) = halo_support::as_halo(&cell.structure(pbc), model.cutoff());
            let n = cell.positions.len();
            assert!(graph.n_atoms() > 3 * n, "{name}, {label}: too few ghosts to test anything");
            assert!(model.halo_width() > 0);
            // f64: ΔE ≤ 1e-12 relative, ΔF ≤ 1e-10 eV/Å; f32 as in the SevenNet test.
            for (precision, rel_e, tol_f) in [(Precision::F64, 1e-12, 1e-10), (Precision::F32, 2e-5, 2e-5)] {
                let request = Request { forces: true, virial: true, atom_energies: true, precision, ..Default::default() };
                let expected = cell.compute(&model, pbc, &request);
                let ws = Workspace::new(2).unwrap();
                let got = model.compute_with_halo(&graph, &request, &ws, &mut halo).unwrap();
                let forces = halo_support::owner_forces(&got.forces, &halo);
                let de = (got.energy - expected.energy).abs();
                let df = forces.iter().zip(&expected.forces).flat_map(|(a, b)| (0..3).map(move |k| (a[k] - b[k]).abs())).fold(0.0, f64::max);
                let dw = (0..9).map(|k| (got.virial[k / 3][k % 3] - expected.virial[k / 3][k % 3]).abs()).fold(0.0, f64::max);
                let dea = got.atom_energies[..n].iter().zip(&expected.atom_energies).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max);
                let f_max = expected.forces.iter().flatten().fold(1.0f64, |m, x| m.max(x.abs()));
                let w_max = expected.virial.iter().flatten().fold(1.0f64, |m, x| m.max(x.abs()));
                eprintln!("{name}, {label}, {precision:?}: ΔE {de:.1e} eV (E {:.3}), ΔF {df:.1e} eV/Å, ΔW {dw:.1e} eV, ΔE_i {dea:.1e} eV", expected.energy);
                let tol_f = if precision == Precision::F64 { tol_f } else { tol_f * f_max };
                assert!(de <= rel_e * expected.energy.abs(), "{name}, {label}: energy {} vs {}", got.energy, expected.energy);
                assert!(df <= tol_f, "{name}, {label}: forces differ by {df:e}");
                assert!(dw <= tol_f.max(rel_e) * w_max, "{name}, {label}: virial differs by {dw:e}");
                assert!(dea <= rel_e * expected.energy.abs(), "{name}, {label}: per-atom energies differ by {dea:e}");
                assert!(got.atom_energies[n..].iter().all(|&e| e == 0.0), "ghosts carry no energy");
            }
        }
    }
}

/// One forward exchange per interaction, then one reverse per interaction,
/// also with no atoms; a failing exchange stops the evaluation.
#[test]
fn halo_exchanges_are_collective_and_their_errors_stop_the_evaluation() {
    for name in MODELS {
        let model = load(name);
        let (graph, _) = halo_support::as_halo(&Cell::new().structure([true; 3]), model.cutoff());
        halo_support::check_exchanges_are_collective(&model, &graph);
    }
}

/// ZBL models evaluate pairs down to 0.1 Å (where the repulsion dominates);
/// the others refuse pairs under 0.5 Å.
#[test]
fn zbl_models_evaluate_close_pairs() {
    let ws = Workspace::new(1).unwrap();
    let numbers = [6, 8];
    let energy = |model: &Model, r: f64| {
        let positions = [[0.0, 0.0, 0.0], [r, 0.1 * r, 0.0]];
        let s = Structure { positions: &positions, numbers: &numbers, cell: None, pbc: [false; 3] };
        let graph = AtomGraph::build(&s, model.cutoff(), &ws).unwrap();
        model.compute(&graph, &Request::all(), &ws).map(|o| o.energy)
    };
    let zbl = load("mpa_zbl");
    // (the random test network, not the repulsion, dominates there: only finiteness is checked;
    // tests/mace_parity.rs compares the ZBL energies with mace-torch's at 0.6-0.9 Å)
    for r in [0.11, 0.3] {
        assert!(energy(&zbl, r).unwrap().is_finite(), "{r} Å");
    }
    assert!(energy(&zbl, 0.09).is_err());
    assert!(energy(&load("mp0_l1"), 0.3).is_err());
}

#[test]
fn unknown_elements_and_bad_files_are_errors() {
    let model = load("mp0_l1");
    let ws = Workspace::new(1).unwrap();
    let positions = [[0.0, 0.0, 0.0], [1.2, 0.0, 0.0]];
    let numbers = [6, 26];
    let s = Structure { positions: &positions, numbers: &numbers, cell: None, pbc: [false; 3] };
    let graph = AtomGraph::build(&s, model.cutoff(), &ws).unwrap();
    let err = model.compute(&graph, &Request::all(), &ws).unwrap_err().to_string();
    assert!(err.contains("26"), "{err}");

    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mace/models/mp0_l1.eqp.safetensors");
    let err = equipot::model::load_modal(&path, Some("PBE")).err().unwrap().to_string();
    assert!(err.contains("modal"), "{err}");
    // The file with one tensor renamed: the model names what it misses.
    let bytes = std::fs::read(&path).unwrap();
    let needle = b"interactions.1.skip_tp.weight";
    let at = bytes.windows(needle.len()).position(|w| w == needle).unwrap();
    let mut broken = bytes.clone();
    broken[at..at + needle.len()].copy_from_slice(b"interactions.1.skip_tp.wEight");
    let tmp = std::env::temp_dir().join(format!("equipot-mace-broken-{}.eqp.safetensors", std::process::id()));
    std::fs::write(&tmp, &broken).unwrap();
    let err = equipot::model::load(&tmp).err().unwrap().to_string();
    std::fs::remove_file(&tmp).ok();
    assert!(err.contains("interactions.1.skip_tp.weight"), "{err}");
}

/// A multi-head model's heads are its modals: the default is the head mace
/// calls "Default"; a model without one needs a head; an unknown head is an
/// error listing the heads; the heads compute different energies.
#[test]
fn heads_are_chosen_at_load() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mace/models");
    let three = dir.join("mh_residual.eqp.safetensors");
    let energy = |m: &Model| Cell::new().eval(m).energy;
    let default = equipot::model::load(&three).unwrap();
    let named = equipot::model::load_modal(&three, Some("Default")).unwrap();
    assert_eq!(energy(&default), energy(&named));
    let energies: Vec<f64> = ["pbe_mp", "r2scan", "Default"].iter().map(|h| energy(&load(&format!("mh_residual@{h}")))).collect();
    assert!(energies[0] != energies[1] && energies[1] != energies[2] && energies[0] != energies[2], "{energies:?}");

    let err = equipot::model::load_modal(&three, Some("PBE")).err().unwrap().to_string();
    assert!(err.contains("unknown modal \"PBE\"") && err.contains("pbe_mp") && err.contains("r2scan"), "{err}");
    let two = dir.join("mh_density_f32.eqp.safetensors");
    let err = equipot::model::load(&two).err().unwrap().to_string();
    assert!(err.contains("needs a modal") && err.contains("omat") && err.contains("spice"), "{err}");
    assert!(equipot::model::load_modal(&two, Some("omat")).is_ok());
}
