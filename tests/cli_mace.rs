//! `equipot eval` with MACE models, as a user runs them: a density-block model
//! and a multi-head model whose head is chosen by `--modal`, against
//! mace-torch's numbers (tests/fixtures/mace/parity); an unknown or missing
//! head is a clear error listing the heads.

use serde_json::Value;
use std::path::{Path, PathBuf};

mod cli_support;
use cli_support::{equipot, fixture_xyz, max_diff, scratch, stderr};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mace")
}

#[test]
fn eval_json_matches_mace_torch() {
    let dir = scratch("mace-eval");
    for (name, precision) in [
        ("mpa_density__sic_rattled", "f64"),
        ("mpa_density__sic_rattled", "f32"),
        ("mh_residual__triclinic_4__r2scan", "f64"),
        ("mh_residual__molecule_ch3oh__pbe_mp", "f32"),
        ("mh_density_f32__small_cell_co__spice", "f64"),
    ] {
        let f: Value = serde_json::from_str(&std::fs::read_to_string(fixtures().join(format!("parity/{name}.json"))).unwrap()).unwrap();
        std::fs::write(dir.join("in.xyz"), fixture_xyz(&f)).unwrap();
        let model = fixtures().join(format!("models/{}.eqp.safetensors", f["model"].as_str().unwrap()));
        let model = model.to_str().unwrap();
        let mut args = vec!["eval", "--model", model, "--json", "--precision", precision, "--threads", "2"];
        if let Some(head) = f.get("head").and_then(Value::as_str) {
            args.extend(["--modal", head]);
        }
        args.push("in.xyz");
        let out = equipot(&dir, &args);
        assert!(out.status.success(), "{name}: {}", stderr(&out));
        let got: Value = serde_json::from_slice(&out.stdout).unwrap();
        // float32-saved models and the density model: mace's float64 is the reference of both precisions
        let key = if precision == "f64" || f.get("float32_reference").is_some() { "float64" } else { "float32" };
        let reference = &f[key];
        let (tol_e, tol_f, tol_s) = if precision == "f64" { (1e-8, 1e-7, 1e-8) } else { (1e-5, 1e-4, 1e-5) };
        let n = f["structure"]["numbers"].as_array().unwrap().len() as f64;
        let de = (got["energy"].as_f64().unwrap() - reference["energy"].as_f64().unwrap()).abs() / n;
        let df = max_diff(&got["forces"], &reference["forces"]);
        assert!(de <= tol_e && df <= tol_f, "{name} {precision}: ΔE {de:e} eV/atom, ΔF {df:e} eV/Å");
        if let Some(stress) = reference.get("stress") {
            let ds = max_diff(&got["stress"], stress);
            assert!(ds <= tol_s, "{name} {precision}: Δσ {ds:e} eV/Å³");
        }
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn unknown_or_missing_heads_are_errors_listing_them() {
    let dir = scratch("mace-heads");
    std::fs::write(dir.join("co.xyz"), "2\nProperties=species:S:1:pos:R:3\nC 0 0 0\nO 0.3 0.4 1.1\n").unwrap();
    let models = fixtures().join("models");
    let three = models.join("mh_residual.eqp.safetensors");
    let two = models.join("mh_density_f32.eqp.safetensors");
    let single = models.join("mpa_density.eqp.safetensors");
    for (model, modal, needle) in [
        (&three, Some("PBE"), "unknown modal \"PBE\": this model has [\"pbe_mp\", \"r2scan\", \"Default\"]"),
        (&two, None, "this model needs a modal, one of [\"omat\", \"spice\"]"),
        (&single, Some("omat"), "modal \"omat\" given, but this model has none"),
    ] {
        let mut args = vec!["eval", "--model", model.to_str().unwrap()];
        if let Some(m) = modal {
            args.extend(["--modal", m]);
        }
        args.push("co.xyz");
        let out = equipot(&dir, &args);
        let message = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {message}");
        assert!(message.starts_with("equipot: ") && message.contains(needle) && !message.contains("panicked"), "{args:?}: {message}");
    }
    // the default head is the one named "Default"
    let energy = |modal: Option<&str>| {
        let mut args = vec!["eval", "--model", three.to_str().unwrap(), "--json"];
        args.extend(modal.map(|m| ["--modal", m]).iter().flatten());
        args.push("co.xyz");
        let out = equipot(&dir, &args);
        assert!(out.status.success(), "{}", stderr(&out));
        serde_json::from_slice::<Value>(&out.stdout).unwrap()["energy"].as_f64().unwrap()
    };
    assert_eq!(energy(None), energy(Some("Default")));
    assert_ne!(energy(None), energy(Some("r2scan")));
    std::fs::remove_dir_all(&dir).ok();
}
