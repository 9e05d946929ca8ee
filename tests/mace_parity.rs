//! MACE parity: equipot's mace model, loaded from the committed files that
//! equipot's converter wrote from small random mace-torch 0.3.16 models,
//! against mace-torch's own energies, per-atom energies, forces and stress
//! (tests/fixtures/mace/parity, written by tests/fixtures/mace/generate_models.py).
//!
//! Tolerances as for SevenNet (tests/sevenn_parity.rs): float64 |ΔE| ≤ 1e-8
//! eV/atom (and per atom), |ΔF| ≤ 1e-7 eV/Å, |Δσ| ≤ 1e-8 eV/Å³, and every
//! float64 quantity within 1e-10 of the reference relative to its largest entry
//! (a recomputed float32 buffer would be ~1e-8 off); float32 (mace's `.float()`
//! model on float32 positions) 1e-5 eV/atom, 1e-4 eV/Å, 1e-5 eV/Å³. Models saved
//! in float32 carry `"float32_reference": "float64"`: mace's float64 evaluation
//! of the float32-stored weights is the reference for both precisions.
//! Structures with close pairs (0.6-0.9 Å, for the ZBL models, forces up to
//! 380 eV/Å) judge float32 against float64 within `float32_relative_tolerance`
//! (1e-5) of the largest entry, or the absolute tolerance if larger (mace's own
//! float32 is 7e-7 of max|F| off there).

mod nn_support;

use equipot::graph::Structure;
use equipot::model::{Precision, Request};
use equipot::{AtomGraph, Workspace};
use nn_support::max_abs_err;
use serde_json::Value;
use std::path::{Path, PathBuf};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mace")
}

/// A JSON list of numbers, or of rows of numbers, flattened (an error if it is neither).
fn numbers(v: &Value, what: &str) -> Result<Vec<f64>, String> {
    let bad = || format!("{what} is missing or not a list of numbers");
    let mut out = Vec::new();
    for x in v.as_array().ok_or_else(bad)? {
        match x {
            Value::Array(row) => out.extend(row.iter().map(Value::as_f64).collect::<Option<Vec<_>>>().ok_or_else(bad)?),
            x => out.push(x.as_f64().ok_or_else(bad)?),
        }
    }
    Ok(out)
}

fn rows3(v: &Value, what: &str) -> Result<Vec<[f64; 3]>, String> {
    let flat = numbers(v, what)?;
    (flat.len() % 3 == 0).then(|| flat.chunks(3).map(|r| [r[0], r[1], r[2]]).collect()).ok_or(format!("{what} is not a list of 3-vectors"))
}

/// Compares one fixture (its model in `models`); returns the measured errors
/// or what exceeded its tolerance. A reference without "float32" (and without
/// "float32_reference") is checked in float64 only.
fn check(path: &Path, models: &Path) -> Result<String, String> {
    let fixture: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let model_path = models.join(format!("{}.eqp.safetensors", fixture["model"].as_str().ok_or("no \"model\"")?));
    // a multi-head model's reference names its head
    let head = fixture.get("head").map(|h| h.as_str().ok_or("\"head\" is not a string")).transpose()?;
    let model = equipot::model::load_modal(&model_path, head).map_err(|e| e.to_string())?;
    let s = &fixture["structure"];
    let positions = rows3(&s["positions"], "positions")?;
    let z: Vec<i32> = numbers(&s["numbers"], "numbers")?.into_iter().map(|z| z as i32).collect();
    let pbc: [bool; 3] = std::array::from_fn(|k| s["pbc"][k].as_bool().unwrap());
    let cell = match pbc.iter().any(|&p| p) {
        true => Some(rows3(&s["cell"], "cell")?.try_into().map_err(|_| "cell is not 3 x 3")?),
        false => None,
    };
    let ws = Workspace::new(2).unwrap();
    let structure = Structure { positions: &positions, numbers: &z, cell, pbc };
    let graph = AtomGraph::build(&structure, model.cutoff(), &ws).map_err(|e| e.to_string())?;
    let n = z.len() as f64;
    let float32_reference = fixture.get("float32_reference").and_then(Value::as_str).unwrap_or("float32");
    // structures with close pairs (ZBL models): float32 within this fraction of the largest entry
    let f32_rtol = fixture.get("float32_relative_tolerance").and_then(Value::as_f64).unwrap_or(0.0);
    let (mut measured, mut failed) = (Vec::new(), Vec::new());
    for (key, reference_key, precision, tol_e, tol_f, tol_s, tol_rel) in [
        ("float64", "float64", Precision::F64, 1e-8, 1e-7, 1e-8, Some(1e-10)),
        ("float32", float32_reference, Precision::F32, 1e-5, 1e-4, 1e-5, None),
    ] {
        let reference = &fixture[reference_key];
        if reference.is_null() && key == "float32" {
            continue;
        }
        let request = Request { forces: true, virial: true, atom_energies: true, precision, ..Default::default() };
        let out = model.compute(&graph, &request, &ws).map_err(|e| e.to_string())?;
        let mut compare = vec![
            ("E", vec![out.energy], vec![reference["energy"].as_f64().ok_or("no energy")?], tol_e * n),
            ("E_i", out.atom_energies.clone(), numbers(&reference["atom_energies"], "atom_energies")?, tol_e),
            ("F", out.forces.iter().flatten().copied().collect(), numbers(&reference["forces"], "forces")?, tol_f),
        ];
        if !reference["atom_energies_without_e0"].is_null() {
            // the interaction energies on their own scale (E0 would dilute a relative error)
            let without = numbers(&reference["atom_energies_without_e0"], "atom_energies_without_e0")?;
            let with = &compare[1].2;
            let ours = out.atom_energies.iter().zip(with).zip(&without).map(|((o, w), wo)| o - (w - wo)).collect();
            compare.push(("E_i-E0", ours, without, tol_e));
        }
        if let Some(volume) = graph.volume() {
            // mace's stress is the symmetric part of dE/dε (it strains with a symmetrized
            // displacement). The virial is symmetric only for an exactly rotation-invariant
            // energy, which a float32-saved model is not quite: its U matrices are rounded
            // (mp0_l1_f32's off-diagonal σ has an antisymmetric part ~1e-12 eV/Å³).
            let w = out.virial;
            let sym = |i: usize, j: usize| 0.5 * (w[i][j] + w[j][i]);
            let ours = [sym(0, 0), sym(1, 1), sym(2, 2), sym(1, 2), sym(0, 2), sym(0, 1)].map(|x| -x / volume);
            compare.push(("σ", ours.to_vec(), numbers(&reference["stress"], "stress")?, tol_s));
        }
        let mut line = format!("{key} vs {reference_key}:");
        for (what, ours, theirs, tol) in compare {
            let err = max_abs_err(&format!("{key} {what}"), &ours, &theirs);
            let scale = theirs.iter().fold(0.0, |m: f64, x| m.max(x.abs()));
            let rel = err / scale;
            let tol = if precision == Precision::F32 { tol.max(f32_rtol * scale) } else { tol };
            line += &format!(" max|Δ{what}| {err:.1e} (rel {rel:.1e})");
            if !(err <= tol) {
                failed.push(format!("{key} max|Δ{what}| = {err:.2e} > {tol:e}"));
            }
            if let Some(tol_rel) = tol_rel.filter(|_| scale > 0.0) {
                if !(rel <= tol_rel) {
                    failed.push(format!("{key} max|Δ{what}| / max|{what}| = {rel:.2e} > {tol_rel:e}"));
                }
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

/// A format-1.1 file (written by the converter before it stored the Bessel
/// prefactor and the cutoff's r_max; equipot then computes them from r_max)
/// still loads and matches mace-torch.
#[test]
fn format_1_1_files_still_match() {
    let models = fixtures().join("models/format_1_1");
    let mut checked = 0;
    for entry in std::fs::read_dir(fixtures().join("parity")).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().unwrap().to_string_lossy().starts_with("mp0_l0_3int__") {
            let m = check(&path, &models).unwrap_or_else(|why| panic!("{}: {why}", path.display()));
            eprintln!("ok   {}: {m}", path.display());
            checked += 1;
        }
    }
    assert_eq!(checked, 6);
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
