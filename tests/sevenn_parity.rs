//! SevenNet parity: equipot's nequip model, loaded from files converted from
//! the real checkpoints, against sevenn 0.13's own results
//! (tests/fixtures/sevenn/parity, written by tests/fixtures/sevenn/generate.py).
//!
//! The converted model files are not committed: tests/sevenn_support finds or
//! makes them (scripts/prepare_sevenn_models.sh). Every comparison fails on a
//! NaN and on a missing or short output (tests/compare_support).

use equipot::graph::Structure;
use equipot::model::{Precision, Request};
use equipot::{AtomGraph, Workspace};
use serde_json::Value;

mod compare_support;
mod sevenn_support;
use compare_support::{flat, max_abs_diff};

fn matrix(v: &Value) -> Vec<[f64; 3]> {
    v.as_array().unwrap().iter().map(|r| {
        let r = r.as_array().unwrap();
        [r[0].as_f64().unwrap(), r[1].as_f64().unwrap(), r[2].as_f64().unwrap()]
    }).collect()
}

fn check_fixture(path: &std::path::Path) -> Result<(), String> {
    let fixture: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let model_name = fixture["model"].as_str().unwrap();
    let model_path = sevenn_support::model_path(model_name);
    let modal = fixture["modal"].as_str();
    let model = equipot::model::load_modal(&model_path, modal).map_err(|e| e.to_string())?;
    let s = &fixture["structure"];
    let positions = matrix(&s["positions"]);
    let numbers: Vec<i32> = s["numbers"].as_array().unwrap().iter().map(|z| z.as_i64().unwrap() as i32).collect();
    let pbc_v: Vec<bool> = s["pbc"].as_array().unwrap().iter().map(|b| b.as_bool().unwrap()).collect();
    let pbc = [pbc_v[0], pbc_v[1], pbc_v[2]];
    let cell = if pbc.iter().any(|&p| p) {
        let c = matrix(&s["cell"]);
        Some([c[0], c[1], c[2]])
    } else {
        None
    };
    let ws = Workspace::new(2).unwrap();
    let structure = Structure { positions: &positions, numbers: &numbers, cell, pbc };
    let graph = AtomGraph::build(&structure, model.cutoff(), &ws).map_err(|e| e.to_string())?;
    let n = numbers.len() as f64;
    let mut report = Vec::new();
    // Tolerances: energy per atom (eV), forces (eV/Å), stress (eV/Å³).
    for (key, precision, tol_e, tol_f, tol_s) in
        [("float64", Precision::F64, 1e-8, 1e-7, 1e-8), ("float32", Precision::F32, 1e-5, 1e-4, 1e-5)]
    {
        let reference = &fixture[key];
        let request = Request { forces: true, virial: true, atom_energies: true, precision, ..Default::default() };
        let out = model.compute(&graph, &request, &ws).map_err(|e| e.to_string())?;
        let mut check = |what: &str, got: &[f64], want: &[f64], tol: f64| {
            let d = max_abs_diff(&format!("{key} {what}"), got, want);
            if !(d <= tol) {
                report.push(format!("{key}: max |Δ{what}| = {d:e} > {tol:e}"));
            }
            format!(" Δ{what} {d:.1e}")
        };
        let number = |v: &Value, what: &str| v.as_f64().unwrap_or_else(|| panic!("{key}: no {what} in the fixture"));
        let mut measured = key.to_string();
        measured += &check("E/n", &[out.energy / n], &[number(&reference["energy"], "energy") / n], tol_e);
        let atom_energies: Vec<f64> = reference["atom_energies"].as_array().expect("atom_energies").iter().map(|e| number(e, "atom energy")).collect();
        measured += &check("E_i", &out.atom_energies, &atom_energies, tol_e);
        // Large structures keep only the first forces in float32.
        let want_f = flat(&matrix(&reference["forces"]));
        let n_f = reference.get("forces_first_n").and_then(Value::as_u64).map_or(out.forces.len(), |k| k as usize);
        assert!(n_f <= out.forces.len(), "{key}: forces_first_n {n_f} > {} atoms", out.forces.len());
        measured += &check("F", &flat(&out.forces[..n_f]), &want_f, tol_f);
        match (reference.get("stress"), graph.volume()) {
            (Some(stress), Some(volume)) => {
                let w = out.virial;
                let ours = [-w[0][0], -w[1][1], -w[2][2], -w[1][2], -w[0][2], -w[0][1]].map(|x| x / volume);
                let want: Vec<f64> = stress.as_array().expect("stress").iter().map(|s| number(s, "stress")).collect();
                measured += &check("σ", &ours, &want, tol_s);
            }
            (None, Some(_)) => report.push(format!("{key}: the fixture of a periodic structure has no stress")),
            _ => {}
        }
        eprintln!("     {}: {measured}", path.file_name().unwrap().to_string_lossy());
    }
    if report.is_empty() { Ok(()) } else { Err(report.join("; ")) }
}

#[test]
fn sevennet_models_match_sevenn() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sevenn/parity");
    let filter = std::env::var("EQUIPOT_SEVENN_FILTER").unwrap_or_default();
    let mut failures = Vec::new();
    let mut checked = 0;
    let mut entries: Vec<_> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    entries.sort();
    for path in entries {
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        if !name.ends_with(".json") || !name.contains(&filter) {
            continue;
        }
        checked += 1;
        match check_fixture(&path) {
            Ok(()) => eprintln!("ok   {name}"),
            Err(why) => {
                eprintln!("FAIL {name}: {why}");
                failures.push(format!("{name}: {why}"));
            }
        }
    }
    assert!(checked > 0, "no fixtures matched");
    assert!(failures.is_empty(), "{} of {checked} fixtures differ from sevenn:\n{}", failures.len(), failures.join("\n"));
}
