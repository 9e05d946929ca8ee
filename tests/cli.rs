//! The `equipot` command, run as a user would: `eval --json` (fields, units,
//! ASE's stress convention), `md` (log and trajectory), and bad input with a
//! clear message and a failing exit status. A Lennard-Jones model keeps it
//! fast; tests/cli_sevenn.rs does the same with SevenNet.

use std::path::Path;

mod cli_support;
use cli_support::{equipot, scratch, stderr};

const EPSILON: f64 = 0.0104;
const SIGMA: f64 = 3.4;
const CUTOFF: f64 = 6.0;

fn write_lj(dir: &Path) {
    let model = format!(
        r#"{{"equipot": {{"format_version": "1.0", "architecture": "lennard-jones", "species": [18],
            "cutoff": {CUTOFF}, "epsilon": [[{EPSILON}]], "sigma": [[{SIGMA}]]}}}}"#
    );
    std::fs::write(dir.join("ar.json"), model).unwrap();
}

/// Rattled fcc Ar in a triclinic cell (periodic), then an Ar trimer in vacuum.
const CELL: [[f64; 3]; 3] = [[5.3, 0.0, 0.0], [0.4, 5.2, 0.0], [-0.3, 0.2, 5.4]];
const FRACTIONAL: [[f64; 3]; 4] = [[0.01, 0.0, 0.02], [0.5, 0.48, 0.0], [0.52, 0.0, 0.5], [0.0, 0.5, 0.49]];

fn periodic_positions(strain: [[f64; 3]; 3]) -> (Vec<[f64; 3]>, [[f64; 3]; 3]) {
    let deform = |r: [f64; 3]| [0, 1, 2].map(|i| (0..3).map(|k| (if i == k { 1.0 } else { 0.0 } + strain[i][k]) * r[k]).sum::<f64>());
    let cell = CELL.map(deform);
    let positions = FRACTIONAL.iter().map(|s| [0, 1, 2].map(|k| (0..3).map(|i| s[i] * cell[i][k]).sum::<f64>())).collect();
    (positions, cell)
}

fn xyz_frame(positions: &[[f64; 3]], cell: Option<[[f64; 3]; 3]>) -> String {
    let mut text = format!("{}\n", positions.len());
    match cell {
        Some(c) => {
            let lattice: Vec<String> = c.iter().flatten().map(|x| format!("{x:.15}")).collect();
            text += &format!("Lattice=\"{}\" Properties=species:S:1:pos:R:3 pbc=\"T T T\"\n", lattice.join(" "));
        }
        None => text += "Properties=species:S:1:pos:R:3 pbc=\"F F F\"\n",
    }
    for r in positions {
        text += &format!("Ar {:.15} {:.15} {:.15}\n", r[0], r[1], r[2]);
    }
    text
}

fn eval_json(dir: &Path, file: &str) -> Vec<serde_json::Value> {
    let out = equipot(dir, &["eval", "--model", "ar.json", "--json", "--threads", "1", file]);
    assert!(out.status.success(), "equipot eval failed: {}", stderr(&out));
    String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[test]
fn eval_json_fields_and_ase_stress_convention() {
    let dir = scratch("eval");
    write_lj(&dir);
    let (positions, cell) = periodic_positions([[0.0; 3]; 3]);
    let trimer = [[0.0, 0.0, 0.0], [3.7, 0.0, 0.0], [1.8, 3.3, 0.1]];
    std::fs::write(dir.join("two.xyz"), xyz_frame(&positions, Some(cell)) + &xyz_frame(&trimer, None)).unwrap();
    let frames = eval_json(&dir, "two.xyz");
    assert_eq!(frames.len(), 2, "one JSON object per frame");

    let periodic = &frames[0];
    assert!(periodic["energy"].as_f64().unwrap() < 0.0);
    let forces = periodic["forces"].as_array().unwrap();
    assert_eq!(forces.len(), 4);
    assert!(forces.iter().all(|f| f.as_array().unwrap().len() == 3));
    let stress: Vec<f64> = periodic["stress"].as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect();
    assert_eq!(stress.len(), 6, "Voigt stress has 6 components");
    assert!(frames[1].get("stress").is_none(), "no stress for a non-periodic frame");
    assert_eq!(frames[1]["forces"].as_array().unwrap().len(), 3);

    // ASE's convention: σ_ab = (1/V) ∂E/∂ε_ab, Voigt order xx yy zz yz xz xy.
    // Check it against the energies `equipot eval` itself prints for strained
    // cells (symmetric strain, central differences).
    let volume = {
        let c = cell;
        (c[0][0] * (c[1][1] * c[2][2] - c[1][2] * c[2][1]) - c[0][1] * (c[1][0] * c[2][2] - c[1][2] * c[2][0])
            + c[0][2] * (c[1][0] * c[2][1] - c[1][1] * c[2][0]))
            .abs()
    };
    let h = 1e-5;
    for (voigt, (a, b)) in [(0, 0), (1, 1), (2, 2), (1, 2), (0, 2), (0, 1)].into_iter().enumerate() {
        let energy = |sign: f64| {
            let mut strain = [[0.0; 3]; 3];
            strain[a][b] += sign * h / 2.0;
            strain[b][a] += sign * h / 2.0;
            let (p, c) = periodic_positions(strain);
            std::fs::write(dir.join("strained.xyz"), xyz_frame(&p, Some(c))).unwrap();
            eval_json(&dir, "strained.xyz")[0]["energy"].as_f64().unwrap()
        };
        let fd = (energy(1.0) - energy(-1.0)) / (2.0 * h) / volume;
        assert!(
            (fd - stress[voigt]).abs() <= 1e-8 + 1e-5 * fd.abs(),
            "stress[{voigt}] = {} but (1/V) dE/dε = {fd}",
            stress[voigt]
        );
    }
    // And the forces are −∂E/∂r (one component, central differences).
    let fx = forces[1][0].as_f64().unwrap();
    let energy = |dx: f64| {
        let mut p = positions.clone();
        p[1][0] += dx;
        std::fs::write(dir.join("moved.xyz"), xyz_frame(&p, Some(cell))).unwrap();
        eval_json(&dir, "moved.xyz")[0]["energy"].as_f64().unwrap()
    };
    let fd = -(energy(1e-5) - energy(-1e-5)) / 2e-5;
    assert!((fd - fx).abs() <= 1e-7 + 1e-5 * fd.abs(), "force {fx} vs −dE/dx {fd}");

    // Without --json: extended XYZ with energy, forces and the 3×3 stress.
    let out = equipot(&dir, &["eval", "--model", "ar.json", "two.xyz"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("Properties=species:S:1:pos:R:3:forces:R:3") && text.contains("energy=") && text.contains("stress=\""));
    std::fs::remove_dir_all(&dir).ok();
}

fn md_rows(path: &Path) -> Vec<Vec<f64>> {
    let log = std::fs::read_to_string(path).unwrap();
    log.lines().filter(|l| !l.starts_with('#')).map(|l| l.split_whitespace().map(|x| x.parse().unwrap()).collect()).collect()
}

#[test]
fn md_writes_log_and_trajectory() {
    let dir = scratch("md");
    write_lj(&dir);
    let (positions, cell) = periodic_positions([[0.0; 3]; 3]);
    std::fs::write(dir.join("ar.xyz"), xyz_frame(&positions, Some(cell))).unwrap();
    for thermostat in ["none", "langevin"] {
        let out = equipot(
            &dir,
            &[
                "md", "--model", "ar.json", "ar.xyz", "--steps", "20", "--dt", "2", "--temperature", "40", "--every", "5",
                "--thermostat", thermostat, "--log", "md.log", "--trajectory", "md.xyz", "--threads", "1",
            ],
        );
        assert!(out.status.success(), "{thermostat}: {}", stderr(&out));
        assert!(stderr(&out).contains("steps/s") && stderr(&out).contains("ns/day"), "progress line: {}", stderr(&out));
        let rows = md_rows(&dir.join("md.log"));
        let steps: Vec<f64> = rows.iter().map(|r| r[0]).collect();
        assert_eq!(steps, vec![0.0, 5.0, 10.0, 15.0, 20.0], "{thermostat}: logged steps");
        for r in &rows {
            assert_eq!(r.len(), 6, "step time potential kinetic total temperature");
            assert!((r[2] + r[3] - r[4]).abs() < 1e-8, "total = potential + kinetic");
            assert_eq!(r[1], 2.0 * r[0], "time in fs");
        }
        assert!((rows[0][5] - 40.0).abs() < 1e-6, "starts at the requested temperature: {}", rows[0][5]);
        let trajectory = std::fs::read_to_string(dir.join("md.xyz")).unwrap();
        let frames = trajectory.lines().filter(|l| l.trim() == "4").count();
        assert_eq!(frames, 5, "{thermostat}: one trajectory frame per logged step");
        assert!(trajectory.contains("forces:R:3"));
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// Bad input: a failing exit status and a message naming the problem.
#[test]
fn bad_input_is_reported() {
    let dir = scratch("bad");
    write_lj(&dir);
    std::fs::write(dir.join("og.xyz"), "2\nProperties=species:S:1:pos:R:3\nAr 0 0 0\nOg 3.5 0 0\n").unwrap();
    std::fs::write(dir.join("short.xyz"), "3\ncomment\nAr 0 0 0\n").unwrap();
    std::fs::write(dir.join("newer.json"), r#"{"equipot": {"format_version": "2.0", "architecture": "lennard-jones"}}"#).unwrap();
    std::fs::write(dir.join("ok.xyz"), "1\nProperties=species:S:1:pos:R:3\nAr 0 0 0\n").unwrap();
    let cases: [(&[&str], &str); 7] = [
        (&["eval", "--model", "ar.json", "og.xyz"], "atom 1 has atomic number 118, which the model does not know"),
        (&["eval", "--model", "ar.json", "short.xyz"], "expected 3 atoms"),
        (&["eval", "--model", "newer.json", "ok.xyz"], "format version 2.0 is newer than this library reads"),
        (&["eval", "--model", "missing.json", "ok.xyz"], "cannot read"),
        (&["eval", "--model", "ar.json", "--modal", "PBE", "ok.xyz"], "but this model has none"),
        (&["eval", "--model", "ar.json", "--precision", "f16", "ok.xyz"], "--precision must be f32 or f64"),
        (&["md", "--model", "ar.json", "ok.xyz", "--steps", "x"], "--steps: cannot read \"x\" as a number"),
    ];
    for (args, needle) in cases {
        let out = equipot(&dir, args);
        assert!(!out.status.success(), "{args:?} succeeded");
        let message = stderr(&out);
        assert!(message.starts_with("equipot: ") && message.contains(needle), "{args:?}: {message}");
        assert!(!message.contains("panicked"), "{args:?}: {message}");
    }
    std::fs::remove_dir_all(&dir).ok();
}
