//! SevenNet parity: equipot's nequip model, loaded from files converted from
//! the real checkpoints, against sevenn 0.13's own results
//! (tests/fixtures/sevenn/parity, written by tests/fixtures/sevenn/generate.py).
//!
//! The converted model files are not committed: scripts/ci/10-sevenn-convert.sh
//! fetches the checkpoints from the sevenn wheel, converts them into
//! $EQUIPOT_SEVENN_MODELS, and runs this test. Without that variable the test
//! fails and says how to set it up, rather than skipping silently.

use equipot::graph::Structure;
use equipot::model::{Precision, Request};
use equipot::{AtomGraph, Workspace};
use serde_json::Value;

fn models_dir() -> std::path::PathBuf {
    match std::env::var_os("EQUIPOT_SEVENN_MODELS") {
        Some(dir) => dir.into(),
        None => panic!(
            "EQUIPOT_SEVENN_MODELS is not set: run scripts/ci/10-sevenn-convert.sh, which converts the \
             SevenNet checkpoints and runs this test"
        ),
    }
}

fn matrix(v: &Value) -> Vec<[f64; 3]> {
    v.as_array().unwrap().iter().map(|r| {
        let r = r.as_array().unwrap();
        [r[0].as_f64().unwrap(), r[1].as_f64().unwrap(), r[2].as_f64().unwrap()]
    }).collect()
}

fn check_fixture(path: &std::path::Path) -> Result<(), String> {
    let fixture: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let model_name = fixture["model"].as_str().unwrap();
    let model_path = models_dir().join(format!("{model_name}.eqp.safetensors"));
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
    for (key, precision, tol_e, tol_f, tol_s) in
        [("float64", Precision::F64, 1e-8, 1e-7, 1e-8), ("float32", Precision::F32, 1e-5, 1e-4, f64::INFINITY)]
    {
        let reference = &fixture[key];
        if reference.is_null() {
            continue;
        }
        let request = Request { forces: true, virial: true, atom_energies: true, precision, ..Default::default() };
        let out = model.compute(&graph, &request, &ws).map_err(|e| e.to_string())?;
        let de = (out.energy - reference["energy"].as_f64().unwrap()).abs() / n;
        let mut measured = format!("{key}: ΔE {de:.1e}");
        if de > tol_e {
            report.push(format!("{key}: |ΔE| = {de:e} eV/atom > {tol_e:e}"));
        }
        if let Some(forces) = reference.get("forces").filter(|f| !f.is_null()) {
            let forces = matrix(forces);
            let df = forces.iter().zip(&out.forces).flat_map(|(a, b)| (0..3).map(move |k| (a[k] - b[k]).abs())).fold(0.0, f64::max);
            measured += &format!(" ΔF {df:.1e}");
            if df > tol_f {
                report.push(format!("{key}: max |ΔF| = {df:e} eV/Å > {tol_f:e}"));
            }
        }
        if let (Some(stress), Some(volume)) = (reference.get("stress").filter(|s| !s.is_null()), graph.volume()) {
            let w = out.virial;
            let ours = [-w[0][0], -w[1][1], -w[2][2], -w[1][2], -w[0][2], -w[0][1]].map(|x| x / volume);
            let ds = stress.as_array().unwrap().iter().zip(ours).map(|(a, b)| (a.as_f64().unwrap() - b).abs()).fold(0.0, f64::max);
            measured += &format!(" Δσ {ds:.1e}");
            if ds > tol_s {
                report.push(format!("{key}: max |Δσ| = {ds:e} eV/Å³ > {tol_s:e}"));
            }
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
