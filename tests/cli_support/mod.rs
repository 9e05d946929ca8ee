//! Running the `equipot` command from the CLI tests (tests/cli.rs,
//! tests/cli_sevenn.rs, tests/cli_mace.rs).
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use serde_json::Value;
use std::process::{Command, Output};

/// A fresh scratch directory per test (and per test process).
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("equipot-cli-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `equipot ARGS...` run in `dir`.
pub fn equipot(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_equipot")).current_dir(dir).args(args).output().unwrap()
}

/// The command's standard error, as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// A parity fixture's structure as an extended XYZ frame (numbers exact).
pub fn fixture_xyz(f: &Value) -> String {
    let s = &f["structure"];
    let numbers = s["numbers"].as_array().unwrap();
    let pbc: Vec<bool> = s["pbc"].as_array().unwrap().iter().map(|b| b.as_bool().unwrap()).collect();
    let flag = |b: bool| if b { "T" } else { "F" };
    let lattice: Vec<String> = s["cell"].as_array().unwrap().iter().flat_map(|r| r.as_array().unwrap().iter().map(|x| format!("{:e}", x.as_f64().unwrap()))).collect();
    let lattice = if pbc.iter().any(|&p| p) { format!("Lattice=\"{}\" ", lattice.join(" ")) } else { String::new() };
    let mut text = format!(
        "{}\n{lattice}Properties=Z:I:1:pos:R:3 pbc=\"{} {} {}\"\n",
        numbers.len(),
        flag(pbc[0]),
        flag(pbc[1]),
        flag(pbc[2])
    );
    for (z, r) in numbers.iter().zip(s["positions"].as_array().unwrap()) {
        let r: Vec<String> = r.as_array().unwrap().iter().map(|x| format!("{:e}", x.as_f64().unwrap())).collect();
        text += &format!("{} {}\n", z, r.join(" "));
    }
    text
}

/// The largest difference between two JSON numbers or (nested) lists of them;
/// NaN if any entry is NaN (so a `<=` check fails).
pub fn max_diff(a: &Value, b: &Value) -> f64 {
    let flat = |v: &Value| -> Vec<f64> {
        v.as_array().unwrap().iter().flat_map(|x| match x.as_array() {
            Some(row) => row.iter().map(|y| y.as_f64().unwrap()).collect(),
            None => vec![x.as_f64().unwrap()],
        }).collect()
    };
    let (a, b) = (flat(a), flat(b));
    assert_eq!(a.len(), b.len());
    a.iter().zip(&b).map(|(x, y)| (x - y).abs()).fold(0.0, |m, d| if m.is_nan() || d.is_nan() { f64::NAN } else { m.max(d) })
}
