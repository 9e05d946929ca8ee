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

/// `equipot ARGS` in `dir` must fail with `status`, and its message must start
/// with "equipot: ", contain every needle and not be a panic.
fn fails(dir: &Path, args: &[&str], status: i32, needles: &[&str]) {
    let out = equipot(dir, args);
    let message = stderr(&out);
    assert_eq!(out.status.code(), Some(status), "{args:?}: {message}");
    assert!(message.starts_with("equipot: ") && !message.contains("panicked"), "{args:?}: {message}");
    for needle in needles {
        assert!(message.contains(needle), "{args:?}: {message:?} does not contain {needle:?}");
    }
}

const AR_LATTICE: &str = "Lattice=\"15 0 0 0 15 0 0 0 15\" Properties=species:S:1:pos:R:3 pbc=\"T T T\"";

/// Every malformed extended XYZ file is refused with exit status 1 and a
/// message naming file:line and the problem; nothing is guessed.
#[test]
fn malformed_xyz_is_refused_naming_file_and_line() {
    let dir = scratch("xyz");
    write_lj(&dir);
    let lattice = AR_LATTICE;
    let good = format!("2\n{lattice}\nAr 0 0 0\nAr 3.7 0 0\n");
    let cases: Vec<(String, usize, &str)> = vec![
        // The probe's cases.
        ("2\nProperties=species:S:1:pos:R:2\nAr 0 0\nAr 3 0\n".into(), 2, "pos must be pos:R:3, not pos:R:2"),
        (String::new(), 1, "no frames: the file is empty"),
        ("\n  \n".into(), 1, "no frames"),
        ("1\nLattice=\"15 0 0 0 15 0 0 0 15\" pbc=\"yes yes yes\"\nAr 0 0 0\n".into(), 2, "pbc=\"yes yes yes\""),
        // Atom count line.
        ("2.0\n\nAr 0 0 0\nAr 3 0 0\n".into(), 1, "expected an atom count"),
        ("-1\n\nAr 0 0 0\n".into(), 1, "expected an atom count"),
        ("0\n\n".into(), 1, "the atom count is 0"),
        ("99999999999999999999999\n\nAr 0 0 0\n".into(), 1, "too large"),
        ("1000000\n\nAr 0 0 0\n".into(), 4, "truncated frame: expected 1000000 atoms"),
        ("1\n".into(), 2, "ends before the frame's comment line"),
        // Lattice and pbc.
        ("1\nLattice=\"15 0 0 0 15 0 0 0\"\nAr 0 0 0\n".into(), 2, "Lattice needs 9 numbers"),
        ("1\nLattice=\"15 0 0 0 15 0 0 0 nan\"\nAr 0 0 0\n".into(), 2, "\"nan\" is not a finite number"),
        ("1\nLattice=\"15 0 0 0 15 0 0 0 1e400\"\nAr 0 0 0\n".into(), 2, "\"1e400\" is not a finite number"),
        ("1\nLattice=\"15 0 0 0 15 0 0 0 x\"\nAr 0 0 0\n".into(), 2, "\"x\" is not a number"),
        ("1\nLattice=\"15 0 0 0 15 0 0 0 15\nAr 0 0 0\n".into(), 2, "has no closing quote"),
        ("1\nLattice=\"15 0 0 0 15 0 0 0 15\" lattice=\"1 0 0 0 1 0 0 0 1\"\nAr 0 0 0\n".into(), 2, "Lattice is given twice"),
        ("1\nLattice=\"15 0 0 0 15 0 0 0 15\" pbc=\"T T\"\nAr 0 0 0\n".into(), 2, "expected 3 values"),
        ("1\npbc=\"T T T\"\nAr 0 0 0\n".into(), 2, "is periodic but the frame has no Lattice"),
        // A cell thinner than an atom's distance to its own image (0.5 Å), or a
        // degenerate one: the neighbor search would hang on the images.
        ("1\nLattice=\"0.01 0 0 0 0.01 0 0 0 0.01\"\nAr 0 0 0\n".into(), 2, "the cell is 1.000e-2 Å thick along periodic axis 0"),
        ("1\nLattice=\"10 0 0 10 0 0 0 0 10\"\nAr 0 0 0\n".into(), 2, "thick along periodic axis 0, less than the 0.5 Å"),
        ("1\nLattice=\"10 0 0 0 10 0 0 0 0.4\" pbc=\"F F T\"\nAr 0 0 0\n".into(), 2, "4.000e-1 Å thick along periodic axis 2"),
        // Properties.
        ("1\nProperties=species:S:1:pos:X:3\nAr 0 0 0\n".into(), 2, "type \"X\" is not S, R, I or L"),
        ("1\nProperties=species:S:1:pos:R:3:forces:R:0\nAr 0 0 0\n".into(), 2, "column count \"0\" is not a positive integer"),
        ("1\nProperties=species:S:1:pos:R:3:forces:R:-3\nAr 0 0 0\n".into(), 2, "column count \"-3\""),
        ("1\nProperties=species:S:1:pos:R\nAr 0 0 0\n".into(), 2, "expected name:type:count triples"),
        ("1\nProperties=species:S:1\nAr\n".into(), 2, "has no pos:R:3 column"),
        ("1\nProperties=pos:R:3\n0 0 0\n".into(), 2, "has no species:S:1 or Z:I:1 column"),
        ("1\nProperties=species:S:1:pos:R:3:pos:R:3\nAr 0 0 0 0 0 0\n".into(), 2, "pos is given twice"),
        ("1\nProperties=species:S:1:pos:R:3:velocities:R:3:momenta:R:3\nAr 0 0 0 0 0 0 0 0 0\n".into(), 2, "both velocities and momenta"),
        // Atom lines: exact column counts, known species, finite numbers.
        (format!("2\n{lattice}\nAr 0 0 0\nAr 3.7 0\n"), 4, "expected 4 columns as Properties declares, found 3"),
        (format!("2\n{lattice}\nAr 0 0 0 0\nAr 3.7 0 0\n"), 3, "expected 4 columns as Properties declares, found 5"),
        ("1\nProperties=species:S:1:pos:R:3:forces:R:3\nAr 0 0 0\n".into(), 3, "expected 7 columns"),
        (format!("2\n{lattice}\nAr 0 0 0\nXx 3.7 0 0\n"), 4, "unknown element \"Xx\""),
        (format!("2\n{lattice}\nAr 0 0 0\nar 3.7 0 0\n"), 4, "unknown element \"ar\""),
        (format!("2\n{lattice}\nAr 0 0 0\nAr nan 0 0\n"), 4, "pos: \"nan\" is not a finite number"),
        (format!("2\n{lattice}\nAr 0 0 0\nAr 3.7 inf 0\n"), 4, "pos: \"inf\" is not a finite number"),
        (format!("2\n{lattice}\nAr 0 0 0\nAr 3.7 0 1e400\n"), 4, "pos: \"1e400\" is not a finite number"),
        (format!("2\n{lattice}\nAr 0 0 0\nAr 3.7 0 0x1\n"), 4, "pos: \"0x1\" is not a number"),
        ("1\nProperties=species:S:1:pos:R:3:forces:R:3\nAr 0 0 0 0 NaN 0\n".into(), 3, "forces: \"NaN\" is not a finite number"),
        ("1\nProperties=species:S:1:pos:R:3:fixed:L:1\nAr 0 0 0 maybe\n".into(), 3, "fixed: \"maybe\" is not a logical"),
        ("1\nProperties=species:S:1:pos:R:3:tag:I:1\nAr 0 0 0 1.5\n".into(), 3, "tag: \"1.5\" is not an integer"),
        ("1\nProperties=Z:I:1:pos:R:3\n0 0 0 0\n".into(), 3, "Z \"0\" is not an atomic number"),
        ("1\nProperties=Z:I:1:pos:R:3\n200 0 0 0\n".into(), 3, "Z \"200\" is not an atomic number"),
        ("1\nProperties=species:S:1:Z:I:1:pos:R:3\nAr 19 0 0 0\n".into(), 3, "species Ar and Z 19 disagree"),
        ("1\nProperties=species:S:1:pos:R:3:masses:R:1\nAr 0 0 0 0\n".into(), 3, "masses: 0 is not a positive mass"),
        ("1\nProperties=species:S:1:pos:R:3:masses:R:1\nAr 0 0 0 -40\n".into(), 3, "masses: -40 is not a positive mass"),
        // Frames: no truncation, no blank lines inside the file, no trailing garbage.
        // One atom line lost: the next count line is read as an atom line.
        (format!("{good}{good}").replacen("Ar 3.7 0 0\n", "", 1), 4, "expected 4 columns as Properties declares, found 1"),
        (format!("{good}\n{good}"), 5, "blank line before the frame on line 6"),
        (format!("{good}junk\n"), 5, "expected an atom count"),
        (format!("{good}2\n{lattice}\nAr 0 0 0\n"), 8, "truncated frame: expected 2 atoms (line 5), the file ends after 1"),
    ];
    for (k, (text, line, needle)) in cases.iter().enumerate() {
        let name = format!("case{k}.xyz");
        std::fs::write(dir.join(&name), text).unwrap();
        let at = format!("{name}:{line}: ");
        fails(&dir, &["eval", "--model", "ar.json", "--json", &name], 1, &[&at, needle]);
    }
    // Bytes that are not UTF-8, on line 3.
    std::fs::write(dir.join("latin1.xyz"), b"1\n\nAr 0 0 \xe9\n").unwrap();
    fails(&dir, &["eval", "--model", "ar.json", "latin1.xyz"], 1, &["latin1.xyz:3: not UTF-8 text"]);
    std::fs::remove_dir_all(&dir).ok();
}

/// What ASE writes is read: pbc as T/F, True/False, 1/0 in any case; a
/// Lattice without pbc is periodic; plain XYZ titles are titles; trailing
/// blank lines and CRLF line ends are fine.
#[test]
fn xyz_as_ase_writes_it_is_read() {
    let dir = scratch("xyz-ok");
    write_lj(&dir);
    let atoms = "Ar 0 0 0\r\nAr 3.7 0 0\r\n";
    let periodic = |pbc: &str| format!("2\r\nLattice=\"15 0 0 0 15 0 0 0 15\" Properties=species:S:1:pos:R:3 pbc=\"{pbc}\"\r\n{atoms}");
    for (pbc, has_stress) in [("T T T", true), ("True true TRUE", true), ("1 1 1", true), ("t T 1", true), ("F F F", false), ("false False 0", false)] {
        std::fs::write(dir.join("in.xyz"), periodic(pbc) + "\r\n\n  \n").unwrap();
        let frames = eval_json(&dir, "in.xyz");
        assert_eq!(frames.len(), 1);
        assert_eq!(frames[0].get("stress").is_some(), has_stress, "pbc=\"{pbc}\"");
    }
    let others = [
        "2\nLattice=\"15 0 0 0 15 0 0 0 15\"\nAr 0 0 0\nAr 3.7 0 0\n",
        "2\nargon dimer, E = -0.01 eV\nAr 0 0 0\nAr 3.7 0 0\n",
        "2\n\nAr 0 0 0\nAr 3.7 0 0\n",
        "2\nProperties=species:S:1:pos:R:3:forces:R:3:move_mask:L:1 energy=-0.01 stress=\"1 2 3 4 5 6 7 8 9\"\nAr 0 0 0 1 0 0 T\nAr 3.7 0 0 -1 0 0 F\n",
        "2\nProperties=Z:I:1:pos:R:3\n18 0 0 0\n18 3.7 0 0\n",
    ];
    for text in others {
        std::fs::write(dir.join("in.xyz"), text).unwrap();
        assert_eq!(eval_json(&dir, "in.xyz").len(), 1, "{text}");
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// Unknown options are errors (exit 2) that list the valid ones; options
/// without their value, given twice, or extra files are errors too.
#[test]
fn unknown_or_malformed_options_are_errors() {
    let dir = scratch("options");
    write_lj(&dir);
    std::fs::write(dir.join("ok.xyz"), format!("2\n{AR_LATTICE}\nAr 0 0 0\nAr 3.7 0 0\n")).unwrap();
    let cases: [(&[&str], &[&str]); 13] = [
        (&["eval", "--model", "ar.json", "--precison", "f32", "ok.xyz"], &["unknown option --precison", "valid options: ", "--precision"]),
        (&["md", "--model", "ar.json", "ok.xyz", "--steps", "1", "--temprature", "5"], &["unknown option --temprature", "--temperature"]),
        (&["eval", "--model", "ar.json", "--steps", "3", "ok.xyz"], &["unknown option --steps for `equipot eval`"]),
        (&["eval", "--model", "ar.json", "--json=yes", "ok.xyz"], &["--json takes no value"]),
        (&["eval", "ok.xyz", "--model"], &["--model needs a value"]),
        (&["eval", "--model", "--json", "ok.xyz"], &["--model needs a value"]),
        (&["eval", "--model", "ar.json", "--model", "ar.json", "ok.xyz"], &["--model is given twice"]),
        (&["eval", "--model", "ar.json", "ok.xyz", "ok.xyz"], &["takes one input file, got 2"]),
        (&["eval", "--model", "ar.json"], &["needs an input .xyz file"]),
        (&["eval", "ok.xyz"], &["--model is required"]),
        (&["evaluate", "ok.xyz"], &["unknown command \"evaluate\""]),
        (&[], &["no command given"]),
        (&["--version", "extra"], &["--version takes no arguments"]),
    ];
    for (args, needles) in cases {
        fails(&dir, args, 2, needles);
    }
    let out = equipot(&dir, &["eval", "--model", "ar.json", "--precision=f32", "--threads=1", "--json", "ok.xyz"]);
    assert!(out.status.success(), "--name=value is read: {}", stderr(&out));
    for help in [&["--help"][..], &["md", "--help"], &["eval", "-h"]] {
        let out = equipot(&dir, help);
        assert!(out.status.success() && String::from_utf8_lossy(&out.stdout).contains("--max-force"), "{help:?}");
    }
    std::fs::remove_dir_all(&dir).ok();
}

/// Every md argument is checked before anything runs or is written, with a
/// message naming the argument and its valid range (exit 2).
#[test]
fn md_checks_its_arguments_before_the_first_step() {
    let dir = scratch("md-args");
    write_lj(&dir);
    std::fs::write(dir.join("ok.xyz"), format!("2\n{AR_LATTICE}\nAr 0 0 0\nAr 3.7 0 0\n")).unwrap();
    let cases: [(&[&str], &[&str]); 30] = [
        (&["--temperature", "-5"], &["--temperature: -5 is out of range", "0 to --max-temperature 100000"]),
        (&["--temperature", "nan"], &["--temperature: nan is out of range"]),
        (&["--temperature", "2e5"], &["--temperature: 2e5 is out of range"]),
        (&["--dt", "nan"], &["--dt: nan is out of range", "0 < dt <= 100"]),
        (&["--dt", "inf"], &["--dt: inf is out of range"]),
        (&["--dt", "0"], &["--dt: 0 is out of range"]),
        (&["--dt", "-1"], &["--dt: -1 is out of range"]),
        (&["--dt", "101"], &["--dt: 101 is out of range"]),
        (&["--dt", "1fs"], &["--dt: cannot read \"1fs\" as a number"]),
        (&["--thermostat", "langevin", "--friction", "-1"], &["--friction: -1 is out of range", "0 < friction <= 10"]),
        (&["--thermostat", "langevin", "--friction", "nan"], &["--friction: nan is out of range"]),
        (&["--thermostat", "langevin", "--friction", "0"], &["--friction: 0 is out of range"]),
        (&["--friction", "0.1"], &["--friction applies only to --thermostat langevin"]),
        (&["--thermostat", "berendsen"], &["--thermostat: unknown thermostat \"berendsen\""]),
        (&["--max-force", "0"], &["--max-force: 0 is out of range"]),
        (&["--max-force", "-inf"], &["--max-force: -inf is out of range"]),
        (&["--max-temperature", "nan"], &["--max-temperature: nan is out of range"]),
        (&["--max-temperature", "100", "--temperature", "300"], &["--temperature: 300 is out of range", "--max-temperature 100"]),
        (&["--every", "0"], &["--every: 0 is out of range"]),
        (&["--every", "-1"], &["--every: cannot read \"-1\""]),
        (&["--seed", "-1"], &["--seed: cannot read \"-1\" as a number"]),
        (&["--seed", "1.5"], &["--seed: cannot read \"1.5\""]),
        (&["--threads", "x"], &["--threads: cannot read \"x\""]),
        (&["--threads", "100000"], &["--threads: ", "100000 threads is more than the 4096 allowed"]),
        (&["--precision", "f16"], &["--precision must be f32 or f64"]),
        (&["--log", "same.txt", "--trajectory", "same.txt"], &["--log and --trajectory are the same file"]),
        (&["--log", "ok.xyz"], &["--log ok.xyz would overwrite the input file"]),
        (&["--trajectory", "./ok.xyz"], &["--trajectory ./ok.xyz would overwrite the input file"]),
        (&["--steps", "1e3x"], &["--steps: cannot read \"1e3x\" as a number"]),
        (&["--steps", "-10"], &["--steps: cannot read \"-10\""]),
    ];
    for (extra, needles) in cases {
        let steps: &[&str] = if extra.contains(&"--steps") { &[] } else { &["--steps", "5"] };
        let args = [&["md", "--model", "ar.json", "ok.xyz"][..], steps, extra].concat();
        fails(&dir, &args, 2, needles);
    }
    fails(&dir, &["md", "--model", "ar.json", "ok.xyz"], 2, &["--steps is required"]);
    assert!(!dir.join("md.log").exists() && !dir.join("md.xyz").exists(), "nothing is written before the arguments are checked");
    assert_eq!(std::fs::read_to_string(dir.join("ok.xyz")).unwrap().lines().count(), 4, "the input is untouched");
    std::fs::remove_dir_all(&dir).ok();
}

const VELOCITY_PROPERTIES: &str = "Properties=species:S:1:pos:R:3:velocities:R:3";

/// Velocities and masses from the file are checked too; ASE's momenta give
/// the same run as the equivalent velocities.
#[test]
fn md_reads_and_checks_velocities_masses_and_momenta() {
    let dir = scratch("md-velocities");
    write_lj(&dir);
    let lattice = "Lattice=\"15 0 0 0 15 0 0 0 15\"";
    let with = |props: &str, rows: [&str; 2]| format!("2\n{lattice} {props}\nAr 0 0 0 {}\nAr 3.7 0 0 {}\n", rows[0], rows[1]);
    let cases = [
        ("nan.xyz", with(VELOCITY_PROPERTIES, ["0 0 0", "nan 0 0"]), "nan.xyz:4: velocities: \"nan\" is not a finite number"),
        ("zero-mass.xyz", with("Properties=species:S:1:pos:R:3:masses:R:1", ["40", "0"]), "zero-mass.xyz:4: masses: 0 is not a positive mass"),
        ("neg-mass.xyz", with("Properties=species:S:1:pos:R:3:masses:R:1", ["-1", "40"]), "neg-mass.xyz:3: masses: -1 is not a positive mass"),
        ("fast.xyz", with(VELOCITY_PROPERTIES, ["0 0 0", "500 0 0"]), "fast.xyz:1: the starting structure: the temperature is"),
    ];
    for (name, text, needle) in &cases {
        std::fs::write(dir.join(name), text).unwrap();
        fails(&dir, &["md", "--model", "ar.json", name, "--steps", "3"], 1, &[needle]);
    }
    assert!(!dir.join("md.log").exists(), "nothing is written for a bad start");

    // Velocities (Å/fs) and the equivalent ASE momenta (amu·√(eV/amu)).
    let (v, m) = (0.004, equipot::elements::mass(18).unwrap());
    let p = m * v * 103.642_696_56_f64.sqrt();
    std::fs::write(dir.join("v.xyz"), with(VELOCITY_PROPERTIES, ["0 0 0", &format!("{v} 0 0")])).unwrap();
    std::fs::write(dir.join("p.xyz"), with("Properties=species:S:1:pos:R:3:momenta:R:3", ["0 0 0", &format!("{p} 0 0")])).unwrap();
    let mut logs = Vec::new();
    for file in ["v.xyz", "p.xyz"] {
        let out = equipot(&dir, &["md", "--model", "ar.json", file, "--steps", "4", "--every", "1", "--log", "md.log"]);
        assert!(out.status.success(), "{file}: {}", stderr(&out));
        logs.push(md_rows(&dir.join("md.log")));
    }
    assert_eq!(logs[0].len(), 5);
    for (a, b) in logs[0].iter().zip(&logs[1]) {
        assert!(a.iter().zip(b).all(|(x, y)| (x - y).abs() <= 1e-9 * (1.0 + x.abs())), "momenta {b:?} vs velocities {a:?}");
    }
    assert!(logs[0][0][3] > 0.0, "the file's velocities are used");
    // NVE from the file's velocities does not use --temperature: saying so is an error.
    fails(&dir, &["md", "--model", "ar.json", "v.xyz", "--steps", "1", "--temperature", "300"], 2, &["--temperature has no effect", "v.xyz:1"]);
    std::fs::remove_dir_all(&dir).ok();
}

/// A structure that explodes stops md with exit 1 and a message saying what
/// blew up; the log holds only finite rows below the limits.
#[test]
fn md_stops_when_the_dynamics_blow_up() {
    let dir = scratch("md-blowup");
    write_lj(&dir);
    let dimer = |r: f64| format!("2\nLattice=\"15 0 0 0 15 0 0 0 15\"\nAr 0 0 0\nAr {r} 0 0\n");
    std::fs::write(dir.join("close.xyz"), dimer(0.3)).unwrap();
    fails(
        &dir,
        &["md", "--model", "ar.json", "close.xyz", "--steps", "100"],
        1,
        &["close.xyz:1: the starting structure: the force on atom 0 is", "above --max-force 1000 eV/Å"],
    );
    // 2.2 Å apart with 10 fs steps: fine at the start, then far too hot.
    std::fs::write(dir.join("hot.xyz"), dimer(2.2)).unwrap();
    let run = ["md", "--model", "ar.json", "hot.xyz", "--steps", "200", "--dt", "10", "--every", "1"];
    fails(&dir, &run, 1, &["md stopped at step ", "above --max-temperature 100000 K", "blew up"]);
    let rows = md_rows(&dir.join("md.log"));
    assert!(rows.len() > 1 && rows.len() < 200, "{} rows", rows.len());
    assert!(rows.iter().flatten().all(|x| x.is_finite()) && rows.iter().all(|r| r[5] <= 1e5));
    // The limits are flags (the start has 40 eV/Å on each atom).
    fails(&dir, &[&run[..], &["--max-force", "30"]].concat(), 1, &["the starting structure: the force on atom 0 is 4.0", "above --max-force 30 eV/Å"]);
    fails(&dir, &[&run[..], &["--max-temperature", "2e4"]].concat(), 1, &["md stopped at step ", "above --max-temperature 20000 K"]);
    assert!(md_rows(&dir.join("md.log")).iter().all(|r| r[5] <= 2e4));
    std::fs::remove_dir_all(&dir).ok();
}

/// md says where it starts: the last frame of a trajectory, or 0 K for one atom.
#[test]
fn md_says_which_frame_it_starts_from() {
    let dir = scratch("md-frames");
    write_lj(&dir);
    let frame = format!("2\n{AR_LATTICE}\nAr 0 0 0\nAr 3.7 0 0\n");
    std::fs::write(dir.join("two.xyz"), format!("{frame}{frame}")).unwrap();
    let out = equipot(&dir, &["md", "--model", "ar.json", "two.xyz", "--steps", "1"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains("two.xyz has 2 frames; md starts from the last, on line 5"), "{}", stderr(&out));
    // One atom cannot be given a temperature without total momentum: said, not hidden.
    std::fs::write(dir.join("one.xyz"), format!("1\n{AR_LATTICE}\nAr 0 0 0\n")).unwrap();
    let out = equipot(&dir, &["md", "--model", "ar.json", "one.xyz", "--steps", "1"]);
    assert!(out.status.success() && stderr(&out).contains("md starts at 0 K"), "{}", stderr(&out));
    std::fs::remove_dir_all(&dir).ok();
}
