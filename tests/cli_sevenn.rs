//! The `equipot` command with the SevenNet models: `eval --json` against
//! sevenn's own numbers (the parity fixtures), `--modal`, a few MD steps, and
//! SevenNet bad input. The converted models come from tests/sevenn_support.

use serde_json::Value;
use std::path::Path;

mod cli_support;
use cli_support::{equipot, fixture_xyz, max_diff, scratch, stderr};

mod sevenn_support;

fn model(name: &str) -> String {
    sevenn_support::model_path(name).to_string_lossy().into_owned()
}


fn fixture(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sevenn/parity").join(format!("{name}.json"));
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).unwrap()
}

/// The fixture's structure as extended XYZ (atomic numbers, full precision).

/// `equipot eval --json` against sevenn, with the issue's tolerances.
#[test]
fn eval_json_matches_sevenn() {
    let dir = scratch("sevenn-eval");
    for (name, modal, precision) in [
        ("SevenNet_0__11Jul2024__si_rattled", None, "f64"),
        ("SevenNet_0__11Jul2024__si_rattled", None, "f32"),
        ("SevenNet_0__11Jul2024__molecule_ch4", None, "f64"),
        ("SevenNet_MF_0__oxide_srtio3__R2SCAN", Some("R2SCAN"), "f64"),
    ] {
        let f = fixture(name);
        std::fs::write(dir.join("in.xyz"), fixture_xyz(&f)).unwrap();
        let model_path = model(f["model"].as_str().unwrap());
        let mut args = vec!["eval", "--model", &model_path, "--json", "--precision", precision, "--threads", "2"];
        if let Some(m) = modal {
            args.extend(["--modal", m]);
        }
        args.push("in.xyz");
        let out = equipot(&dir, &args);
        assert!(out.status.success(), "{name}: {}", stderr(&out));
        let got: Value = serde_json::from_slice(&out.stdout).unwrap();
        let reference = &f[if precision == "f64" { "float64" } else { "float32" }];
        let (tol_e, tol_f, tol_s) = if precision == "f64" { (1e-8, 1e-7, 1e-8) } else { (1e-5, 1e-4, 1e-5) };
        let n = f["structure"]["numbers"].as_array().unwrap().len() as f64;
        let de = (got["energy"].as_f64().unwrap() - reference["energy"].as_f64().unwrap()).abs() / n;
        let df = max_diff(&got["forces"], &reference["forces"]);
        assert!(de <= tol_e && df <= tol_f, "{name} {precision}: ΔE {de:e} eV/atom, ΔF {df:e} eV/Å");
        match reference.get("stress") {
            Some(stress) => {
                let ds = max_diff(&got["stress"], stress);
                assert!(ds <= tol_s, "{name} {precision}: Δσ {ds:e} eV/Å³");
            }
            None => assert!(got.get("stress").is_none(), "{name}: stress for a non-3D-periodic frame"),
        }
    }
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn md_runs_a_few_steps() {
    let dir = scratch("sevenn-md");
    std::fs::write(dir.join("in.xyz"), fixture_xyz(&fixture("SevenNet_0__11Jul2024__si_rattled"))).unwrap();
    let model_path = model("SevenNet_0__11Jul2024");
    let args = ["md", "--model", &model_path, "in.xyz", "--steps", "3", "--dt", "1", "--temperature", "300", "--every", "1", "--threads", "2"];
    let out = equipot(&dir, &args);
    assert!(out.status.success(), "{}", stderr(&out));
    let log = std::fs::read_to_string(dir.join("md.log")).unwrap();
    assert_eq!(log.lines().filter(|l| !l.starts_with('#')).count(), 4);
    let trajectory = std::fs::read_to_string(dir.join("md.xyz")).unwrap();
    assert_eq!(trajectory.lines().filter(|l| l.trim() == "16").count(), 4);
    std::fs::remove_dir_all(&dir).ok();
}

/// Writes SevenNet-0's model file into `dir`, cut to `keep` bytes, with one
/// same-length replacement in its header.
fn variant(dir: &Path, name: &str, keep: Option<usize>, replace: Option<(&str, &str)>) -> String {
    let mut data = std::fs::read(model("SevenNet_0__11Jul2024")).unwrap();
    if let Some((from, to)) = replace {
        assert_eq!(from.len(), to.len());
        let at = data.windows(from.len()).position(|w| w == from.as_bytes()).expect(from);
        data[at..at + to.len()].copy_from_slice(to.as_bytes());
    }
    data.truncate(keep.unwrap_or(data.len()));
    let path = dir.join(name);
    std::fs::write(&path, data).unwrap();
    path.to_string_lossy().into_owned()
}

#[test]
fn bad_input_is_reported() {
    let dir = scratch("sevenn-bad");
    std::fs::write(dir.join("og.xyz"), "2\nProperties=species:S:1:pos:R:3\nSi 0 0 0\nOg 2.5 0 0\n").unwrap();
    std::fs::write(dir.join("sio.xyz"), "2\nProperties=species:S:1:pos:R:3\nSi 0 0 0\nO 1.6 0 0\n").unwrap();
    let seven = model("SevenNet_0__11Jul2024");
    let mf = model("SevenNet_MF_0");
    let size = std::fs::metadata(&seven).unwrap().len() as usize;
    let other = variant(&dir, "painn.eqp.safetensors", None, Some((r#"\"nequip\""#, r#"\"painn\" "#)));
    let half = variant(&dir, "half.eqp.safetensors", Some(size / 2), None);
    let newer = variant(&dir, "v9.eqp.safetensors", None, Some((r#"\"format_version\": \"1.0\""#, r#"\"format_version\": \"9.0\""#)));
    // Diamond Si with the cell in nm (a = 0.543): atoms 0.235 Å apart.
    std::fs::write(
        dir.join("nm.xyz"),
        "8\nLattice=\"0.543 0 0 0 0.543 0 0 0 0.543\" Properties=species:S:1:pos:R:3 pbc=\"T T T\"\nSi 0 0 0\nSi 0.13575 0.13575 0.13575\nSi 0 0.2715 0.2715\nSi 0.13575 0.40725 0.40725\nSi 0.2715 0 0.2715\nSi 0.40725 0.13575 0.40725\nSi 0.2715 0.2715 0\nSi 0.40725 0.40725 0.13575\n",
    )
    .unwrap();
    let cases: [(Vec<&str>, &str); 8] = [
        (vec!["--model", &seven, "nm.xyz"], "0.235 Å apart"),
        (vec!["--model", &seven, "--precision", "f32", "nm.xyz"], "is the cell in Å, not nm?"),
        (vec!["--model", &seven, "og.xyz"], "atom 1 has atomic number 118, which the model does not know"),
        (vec!["--model", &other, "sio.xyz"], "architecture \"painn\" cannot be loaded by this version of equipot"),
        (vec!["--model", &half, "sio.xyz"], "truncated"),
        (vec!["--model", &newer, "sio.xyz"], "format version 9.0 is newer than this library reads"),
        (vec!["--model", &mf, "--modal", "HSE06", "sio.xyz"], "unknown modal \"HSE06\": this model has [\"R2SCAN\", \"PBE\"]"),
        (vec!["--model", &seven, "--modal", "PBE", "sio.xyz"], "but this model has none"),
    ];
    for (args, needle) in cases {
        let out = equipot(&dir, &[&["eval", "--json"][..], &args].concat());
        let message = stderr(&out);
        assert!(!out.status.success() && message.starts_with("equipot: ") && message.contains(needle), "{args:?}: {message}");
    }

    // Valid: an Fe atom 1 mÅ beyond the cutoff of the Si–O pair has its
    // lone-atom energy and no force.
    std::fs::write(dir.join("fe.xyz"), "1\nProperties=species:S:1:pos:R:3\nFe 0 0 0\n").unwrap();
    std::fs::write(dir.join("far.xyz"), "3\nProperties=species:S:1:pos:R:3\nSi 0 0 0\nO 1.6 0 0\nFe 6.601 0 0\n").unwrap();
    let eval = |file: &str| -> Value {
        let out = equipot(&dir, &["eval", "--json", "--model", &seven, file]);
        assert!(out.status.success(), "{file}: {}", stderr(&out));
        serde_json::from_slice(&out.stdout).unwrap()
    };
    let (fe, sio, far) = (eval("fe.xyz"), eval("sio.xyz"), eval("far.xyz"));
    let sum = fe["energy"].as_f64().unwrap() + sio["energy"].as_f64().unwrap();
    assert!((far["energy"].as_f64().unwrap() - sum).abs() <= 1e-10, "energies of separated parts add up");
    assert_eq!(far["forces"][2], serde_json::json!([0.0, 0.0, 0.0]));
    std::fs::remove_dir_all(&dir).ok();
}
