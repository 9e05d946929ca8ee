//! MACE parity: equipot's mace model, loaded from the committed files that
//! equipot's converter wrote from small random mace-torch 0.3.16 models,
//! against mace-torch's own energies, per-atom energies, forces and stress
//! (tests/fixtures/mace/parity, written by tests/fixtures/mace/generate_models.py).
//!
//! Tolerances as for SevenNet (tests/sevenn_parity.rs): float64 |ΔE| ≤ 1e-8
//! eV/atom (and per atom), |ΔF| ≤ 1e-7 eV/Å, |Δσ| ≤ 1e-8 eV/Å³; float32
//! (mace's `.float()` model on float32 positions) 1e-5 eV/atom, 1e-4 eV/Å.

use equipot::graph::Structure;
use equipot::model::{Precision, Request};
use equipot::{AtomGraph, Workspace};
use serde_json::Value;
use std::path::{Path, PathBuf};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mace")
}

fn rows3(v: &Value) -> Vec<[f64; 3]> {
    v.as_array().unwrap().iter().map(|r| std::array::from_fn(|k| r[k].as_f64().unwrap())).collect()
}

fn numbers(v: &Value) -> Vec<f64> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect()
}

fn max_abs_diff(a: impl IntoIterator<Item = f64>, b: impl IntoIterator<Item = f64>) -> f64 {
    a.into_iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max)
}

/// Compares one fixture (its model in `models`); returns the measured errors
/// or what exceeded its tolerance. A reference without "float32" is checked
/// in float64 only.
fn check(path: &Path, models: &Path) -> Result<String, String> {
    let fixture: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let model_path = models.join(format!("{}.eqp.safetensors", fixture["model"].as_str().unwrap()));
    let model = equipot::model::load(&model_path).map_err(|e| e.to_string())?;
    let s = &fixture["structure"];
    let positions = rows3(&s["positions"]);
    let z: Vec<i32> = numbers(&s["numbers"]).into_iter().map(|z| z as i32).collect();
    let pbc: [bool; 3] = std::array::from_fn(|k| s["pbc"][k].as_bool().unwrap());
    let cell = pbc.iter().any(|&p| p).then(|| {
        let c = rows3(&s["cell"]);
        [c[0], c[1], c[2]]
    });
    let ws = Workspace::new(2).unwrap();
    let structure = Structure { positions: &positions, numbers: &z, cell, pbc };
    let graph = AtomGraph::build(&structure, model.cutoff(), &ws).map_err(|e| e.to_string())?;
    let n = z.len() as f64;
    let (mut measured, mut failed) = (Vec::new(), Vec::new());
    for (key, precision, tol_e, tol_f, tol_s) in
        [("float64", Precision::F64, 1e-8, 1e-7, 1e-8), ("float32", Precision::F32, 1e-5, 1e-4, 1e-5)]
    {
        let reference = &fixture[key];
        if reference.is_null() && key == "float32" {
            continue;
        }
        let request = Request { forces: true, virial: true, atom_energies: true, precision, ..Default::default() };
        let out = model.compute(&graph, &request, &ws).map_err(|e| e.to_string())?;
        let de = (out.energy - reference["energy"].as_f64().unwrap()).abs() / n;
        let de_atom = max_abs_diff(out.atom_energies.iter().copied(), numbers(&reference["atom_energies"]));
        let df = max_abs_diff(
            out.forces.iter().flatten().copied(),
            rows3(&reference["forces"]).into_iter().flatten(),
        );
        let mut line = format!("{key}: |ΔE|/n {de:.1e} max|ΔE_i| {de_atom:.1e} max|ΔF| {df:.1e}");
        for (what, err, tol) in [("|ΔE|/n", de, tol_e), ("max|ΔE_i|", de_atom, tol_e), ("max|ΔF|", df, tol_f)] {
            if err.is_nan() || err > tol {
                failed.push(format!("{key} {what} = {err:.2e} > {tol:e}"));
            }
        }
        if let (Some(stress), Some(volume)) = (reference.get("stress"), graph.volume()) {
            let w = out.virial;
            let ours = [w[0][0], w[1][1], w[2][2], w[1][2], w[0][2], w[0][1]].map(|x| -x / volume);
            let ds = max_abs_diff(ours, numbers(stress));
            line += &format!(" max|Δσ| {ds:.1e}");
            if ds.is_nan() || ds > tol_s {
                failed.push(format!("{key} max|Δσ| = {ds:.2e} > {tol_s:e}"));
            }
        }
        measured.push(line);
    }
    if failed.is_empty() {
        Ok(measured.join("; "))
    } else {
        Err(format!("{} ({})", failed.join(", "), measured.join("; ")))
    }
}

/// Checks every reference JSON in `references` whose name contains $EQUIPOT_MACE_FILTER.
fn check_all(references: &Path, models: &Path) {
    let filter = std::env::var("EQUIPOT_MACE_FILTER").unwrap_or_default();
    let mut paths: Vec<PathBuf> = std::fs::read_dir(references).unwrap().map(|e| e.unwrap().path()).collect();
    paths.sort();
    let (mut checked, mut failures) = (0, Vec::new());
    for path in paths.iter().filter(|p| p.to_string_lossy().ends_with(".json") && p.to_string_lossy().contains(&filter)) {
        checked += 1;
        let name = path.file_name().unwrap().to_string_lossy();
        match check(path, models) {
            Ok(m) => eprintln!("ok   {name}: {m}"),
            Err(why) => {
                eprintln!("FAIL {name}: {why}");
                failures.push(format!("{name}: {why}"));
            }
        }
    }
    assert!(checked > 0, "no MACE parity fixture matched {filter:?}");
    assert!(failures.is_empty(), "{} of {checked} fixtures differ from mace-torch:\n{}", failures.len(), failures.join("\n"));
}

#[test]
fn mace_models_match_mace_torch() {
    check_all(&fixtures().join("parity"), &fixtures().join("models"));
}

/// Models a user converted (e.g. foundation models, which cannot be
/// downloaded here) with references computed by mace-torch in the fixtures'
/// format (`NAME__STRUCTURE.json` with "model": NAME next to
/// `NAME.eqp.safetensors`): `EQUIPOT_MACE_MODELS=DIR cargo test --release
/// --test mace_parity -- --ignored`.
#[test]
#[ignore = "needs EQUIPOT_MACE_MODELS: converted models and mace-torch references"]
fn user_mace_models_match_their_references() {
    let dir = std::env::var_os("EQUIPOT_MACE_MODELS").expect("set EQUIPOT_MACE_MODELS to a directory of models and references");
    let dir = PathBuf::from(dir);
    check_all(&dir, &dir);
}
