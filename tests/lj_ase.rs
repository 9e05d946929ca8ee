//! The Lennard-Jones reference model against independent computations:
//! - ASE's `LennardJones(smooth=False)` on single-species structures
//!   (tests/fixtures/lj/ase.json, made by tests/fixtures/lj/generate.py):
//!   energy, per-atom energies, forces and stress = -virial / V;
//! - a brute-force pair sum over periodic images written here, for mixed
//!   species (ASE's calculator has a single species), including per-atom
//!   virials.

use equipot::model::LennardJones;
use equipot::{AtomGraph, Model, Request, Structure, Workspace};
use serde_json::Value;

fn vec3s(v: &Value) -> Vec<[f64; 3]> {
    v.as_array().unwrap().iter().map(|r| mat_row(r)).collect()
}

fn mat_row(v: &Value) -> [f64; 3] {
    let r = v.as_array().unwrap();
    [r[0].as_f64().unwrap(), r[1].as_f64().unwrap(), r[2].as_f64().unwrap()]
}

fn max_abs<'a>(x: impl IntoIterator<Item = &'a f64>) -> f64 {
    x.into_iter().fold(0.0, |m, v| m.max(v.abs()))
}

/// Every element within 1e-10 of the largest reference value.
fn assert_close(what: &str, got: &[f64], want: &[f64]) {
    assert_eq!(got.len(), want.len(), "{what}: lengths differ");
    let scale = max_abs(want);
    for (k, (g, w)) in got.iter().zip(want).enumerate() {
        assert!((g - w).abs() <= 1e-10 * scale, "{what}[{k}]: equipot {g:.17e}, reference {w:.17e} (scale {scale:e})");
    }
}

#[test]
fn lennard_jones_matches_ase() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/lj/ase.json");
    let fixture: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let structures = fixture["structures"].as_array().unwrap();
    assert_eq!(structures.len(), 5);
    let ws = Workspace::new(2).unwrap();
    for s in structures {
        let name = s["name"].as_str().unwrap();
        let numbers: Vec<i32> = s["numbers"].as_array().unwrap().iter().map(|z| z.as_i64().unwrap() as i32).collect();
        let positions = vec3s(&s["positions"]);
        let cell = vec3s(&s["cell"]);
        let pbc: Vec<bool> = s["pbc"].as_array().unwrap().iter().map(|p| p.as_bool().unwrap()).collect();
        let pbc = [pbc[0], pbc[1], pbc[2]];
        let structure = Structure {
            positions: &positions,
            numbers: &numbers,
            cell: pbc.iter().any(|&p| p).then(|| [cell[0], cell[1], cell[2]]),
            pbc,
        };
        let (sigma, epsilon, cutoff) =
            (s["sigma"].as_f64().unwrap(), s["epsilon"].as_f64().unwrap(), s["cutoff"].as_f64().unwrap());
        let model = Model::new(LennardJones::new(&[numbers[0]], &[epsilon], &[sigma], cutoff).unwrap());
        let graph = AtomGraph::build(&structure, cutoff, &ws).unwrap();
        let out = model.compute(&graph, &Request::all(), &ws).unwrap();

        let energy = s["energy"].as_f64().unwrap();
        assert!((out.energy - energy).abs() <= 1e-10 * energy.abs(), "{name}: energy {} vs ASE {energy}", out.energy);
        let energies: Vec<f64> = s["energies"].as_array().unwrap().iter().map(|e| e.as_f64().unwrap()).collect();
        assert_close(&format!("{name} energies"), &out.atom_energies, &energies);
        let forces: Vec<f64> = vec3s(&s["forces"]).into_iter().flatten().collect();
        assert_close(&format!("{name} forces"), &out.forces.concat(), &forces);
        if let Some(stress) = s["stress"].as_array() {
            let volume = s["volume"].as_f64().unwrap();
            let want: Vec<f64> = stress.iter().flat_map(mat_row).collect();
            let got: Vec<f64> = out.virial.iter().flatten().map(|w| -w / volume).collect();
            assert_close(&format!("{name} stress"), &got, &want);
        }
    }
}

/// A minimal deterministic generator, so the test needs no extra crate.
struct Lcg(u64);
impl Lcg {
    fn uniform(&mut self) -> f64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Shifted LJ by brute force: every ordered pair (i, j) and every image
/// within `reach` cells, each atom taking half of each pair; each ordered
/// pair's virial term split evenly between its two atoms.
struct Reference {
    energy: f64,
    atom_energies: Vec<f64>,
    forces: Vec<[f64; 3]>,
    virial: [[f64; 3]; 3],
    atom_virials: Vec<[[f64; 3]; 3]>,
}

fn brute_force_lj(
    positions: &[[f64; 3]],
    kinds: &[usize],
    cell: &[[f64; 3]; 3],
    eps: &[f64],
    sig: &[f64],
    n_kinds: usize,
    cutoff: f64,
    reach: i32,
) -> Reference {
    let n = positions.len();
    let mut r = Reference {
        energy: 0.0,
        atom_energies: vec![0.0; n],
        forces: vec![[0.0; 3]; n],
        virial: [[0.0; 3]; 3],
        atom_virials: vec![[[0.0; 3]; 3]; n],
    };
    for i in 0..n {
        for j in 0..n {
            for a in -reach..=reach {
                for b in -reach..=reach {
                    for c in -reach..=reach {
                        if i == j && (a, b, c) == (0, 0, 0) {
                            continue;
                        }
                        let d: [f64; 3] = std::array::from_fn(|x| {
                            positions[j][x] - positions[i][x]
                                + a as f64 * cell[0][x]
                                + b as f64 * cell[1][x]
                                + c as f64 * cell[2][x]
                        });
                        let r2 = d.iter().map(|x| x * x).sum::<f64>();
                        if r2 >= cutoff * cutoff {
                            continue;
                        }
                        let p = kinds[i] * n_kinds + kinds[j];
                        let (e, s) = (eps[p], sig[p]);
                        let s6 = (s * s / r2).powi(3);
                        let c6 = (s / cutoff).powi(6);
                        let half_phi = 0.5 * 4.0 * e * (s6 * s6 - s6 - (c6 * c6 - c6));
                        let dphi_over_r = -24.0 * e * (2.0 * s6 * s6 - s6) / r2;
                        r.energy += half_phi;
                        r.atom_energies[i] += half_phi;
                        for x in 0..3 {
                            r.forces[i][x] += dphi_over_r * d[x];
                            for y in 0..3 {
                                let w = -0.5 * dphi_over_r * d[x] * d[y];
                                r.virial[x][y] += w;
                                r.atom_virials[i][x][y] += 0.5 * w;
                                r.atom_virials[j][x][y] += 0.5 * w;
                            }
                        }
                    }
                }
            }
        }
    }
    r
}

#[test]
fn mixed_species_matches_brute_force_pair_sum() {
    // Ar, Kr, Xe on a rattled, strongly sheared 3x3x3 simple-cubic lattice.
    let species = [18, 36, 54];
    let eps = [0.0104, 0.0121, 0.0144, 0.0121, 0.0140, 0.0167, 0.0144, 0.0167, 0.0200];
    let sig = [3.40, 3.52, 3.67, 3.52, 3.65, 3.80, 3.67, 3.80, 3.95];
    let cutoff = 9.0;
    let a = 4.1;
    let cell = [[3.0 * a, 0.0, 0.0], [1.5, 3.0 * a, 0.0], [-1.0, 2.0, 3.0 * a]];
    let mut rng = Lcg(2024);
    let (mut positions, mut kinds) = (Vec::new(), Vec::new());
    for i in 0..3 {
        for j in 0..3 {
            for k in 0..3 {
                let f = [i as f64 / 3.0, j as f64 / 3.0, k as f64 / 3.0];
                positions.push(std::array::from_fn(|x| {
                    (0..3).map(|r| f[r] * cell[r][x]).sum::<f64>() + 0.3 * (rng.uniform() - 0.5)
                }));
                kinds.push((rng.uniform() * 3.0) as usize);
            }
        }
    }
    let numbers: Vec<i32> = kinds.iter().map(|&k| species[k]).collect();
    let ws = Workspace::new(2).unwrap();
    let structure = Structure { positions: &positions, numbers: &numbers, cell: Some(cell), pbc: [true; 3] };
    let model = Model::new(LennardJones::new(&species, &eps, &sig, cutoff).unwrap());
    let graph = AtomGraph::build(&structure, cutoff, &ws).unwrap();
    let out = model.compute(&graph, &Request::all(), &ws).unwrap();
    // Faces are ≥ 11.4 Å apart: two images per side cover a 9 Å cutoff.
    let r = brute_force_lj(&positions, &kinds, &cell, &eps, &sig, 3, cutoff, 2);

    assert!(kinds.contains(&0) && kinds.contains(&1) && kinds.contains(&2));
    assert!((out.energy - r.energy).abs() <= 1e-10 * r.energy.abs(), "energy {} vs {}", out.energy, r.energy);
    assert_close("atom energies", &out.atom_energies, &r.atom_energies);
    assert_close("forces", &out.forces.concat(), &r.forces.concat());
    assert_close("virial", &out.virial.concat(), &r.virial.concat());
    let flat = |v: &[[[f64; 3]; 3]]| v.iter().flatten().flatten().copied().collect::<Vec<f64>>();
    assert_close("atom virials", &flat(&out.atom_virials), &flat(&r.atom_virials));
}
