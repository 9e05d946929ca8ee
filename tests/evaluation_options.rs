//! The evaluation options of `Request` (radial mode, SIMD level, profile)
//! reach their effect, keep the default path as it was, and refuse what a
//! model or CPU cannot do; and the CLI passes them on.

#[path = "sevenn_support/mod.rs"]
mod sevenn_support;

use equipot::model::{Outputs, Precision, RadialMode, Request, SimdLevel};
use equipot::{AtomGraph, Error, Model, Structure, Workspace};
use std::path::PathBuf;

/// Rattled zincblende SiC, 2 × 2 × 2 conventional cells (64 atoms).
fn sic() -> (Vec<[f64; 3]>, Vec<i32>, [[f64; 3]; 3]) {
    let a = 4.36;
    let basis = [[0.0, 0.0, 0.0], [0.0, 0.5, 0.5], [0.5, 0.0, 0.5], [0.5, 0.5, 0.0]];
    let (mut positions, mut numbers) = (Vec::new(), Vec::new());
    let mut k = 0u32;
    for (i, j, l) in (0..8).map(|c| (c / 4, (c / 2) % 2, c % 2)) {
        for b in basis {
            for (z, offset) in [(14, 0.0), (6, 0.25)] {
                // A fixed, irregular rattle (±0.1 Å).
                k += 1;
                let r = |s: u32| 0.1 * (((k * 7919 + s * 104729) % 1000) as f64 / 500.0 - 1.0);
                positions.push([
                    a * (i as f64 + b[0] + offset) + r(1),
                    a * (j as f64 + b[1] + offset) + r(2),
                    a * (l as f64 + b[2] + offset) + r(3),
                ]);
                numbers.push(z);
            }
        }
    }
    (positions, numbers, [[2.0 * a, 0.0, 0.0], [0.0, 2.0 * a, 0.0], [0.0, 0.0, 2.0 * a]])
}

fn sevennet() -> Model {
    equipot::model::load(sevenn_support::model_path("SevenNet_0__11Jul2024")).unwrap()
}

fn mace() -> Model {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mace/models/mp0_l1.eqp.safetensors");
    equipot::model::load(path).unwrap()
}

fn graph(model: &Model, ws: &Workspace) -> AtomGraph {
    let (positions, numbers, cell) = sic();
    let structure = Structure { positions: &positions, numbers: &numbers, cell: Some(cell), pbc: [true; 3] };
    AtomGraph::build(&structure, model.cutoff(), ws).unwrap()
}

fn request(precision: Precision) -> Request {
    Request { forces: true, virial: true, precision, ..Default::default() }
}

/// Largest |a − b| over energy, forces and virial (NaN if any is NaN).
fn max_diff(a: &Outputs, b: &Outputs) -> f64 {
    assert_eq!(a.forces.len(), b.forces.len());
    let fa = a.forces.iter().flatten().chain(a.virial.iter().flatten());
    let fb = b.forces.iter().flatten().chain(b.virial.iter().flatten());
    std::iter::once((a.energy - b.energy).abs())
        .chain(fa.zip(fb).map(|(x, y)| (x - y).abs()))
        .fold(0.0, |m: f64, d| if d.is_nan() || m.is_nan() { f64::NAN } else { m.max(d) })
}

fn bit_identical(a: &Outputs, b: &Outputs) -> bool {
    a.energy.to_bits() == b.energy.to_bits()
        && a.forces.iter().flatten().zip(b.forces.iter().flatten()).all(|(x, y)| x.to_bits() == y.to_bits())
        && a.virial.iter().flatten().zip(b.virial.iter().flatten()).all(|(x, y)| x.to_bits() == y.to_bits())
}

#[test]
fn radial_exact_and_tables_differ_within_the_table_bound() {
    let (model, ws) = (sevennet(), Workspace::new(2).unwrap());
    let graph = graph(&model, &ws);
    let run = |precision, radial| model.compute(&graph, &Request { radial, ..request(precision) }, &ws);
    // float32: the default reads the tables, Exact does not; they agree within
    // the tables' error (far below float32's own, 1e-5 eV/atom, 1e-4 eV/Å).
    let (auto, tables, exact) =
        (run(Precision::F32, RadialMode::Auto).unwrap(), run(Precision::F32, RadialMode::Tables).unwrap(), run(Precision::F32, RadialMode::Exact).unwrap());
    assert!(bit_identical(&auto, &tables), "float32 default = tables");
    assert!(!bit_identical(&auto, &exact), "RadialMode::Exact did not change the float32 path");
    let d = max_diff(&auto, &exact);
    assert!(d <= 1e-4 && (auto.energy - exact.energy).abs() <= 64.0 * 1e-5, "tables vs exact: {d:e}");
    // float64: the default is exact; there are no float64 tables.
    let (auto, exact) = (run(Precision::F64, RadialMode::Auto).unwrap(), run(Precision::F64, RadialMode::Exact).unwrap());
    assert!(bit_identical(&auto, &exact), "float64 default = exact");
    match run(Precision::F64, RadialMode::Tables) {
        Err(Error::Unsupported(m)) => assert!(m.contains("radial tables") && m.contains("F64"), "{m}"),
        other => panic!("float64 tables: {other:?}"),
    }
    // MACE: the same, where w depends on r alone, and with a distance
    // transform (r' per species pair: one table per pair of types).
    let agnesi = equipot::model::load(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mace/models/mpa_agnesi.eqp.safetensors")).unwrap();
    for (label, model) in [("MACE", mace()), ("Agnesi MACE (per-pair tables)", agnesi)] {
        let g = self::graph(&model, &ws);
        let run = |radial, precision| model.compute(&g, &Request { radial, ..request(precision) }, &ws);
        let (auto, tables, exact) =
            (run(RadialMode::Auto, Precision::F32).unwrap(), run(RadialMode::Tables, Precision::F32).unwrap(), run(RadialMode::Exact, Precision::F32).unwrap());
        assert!(bit_identical(&auto, &tables) && !bit_identical(&auto, &exact), "{label} float32 default = tables");
        let d = max_diff(&auto, &exact);
        assert!(d <= 1e-4, "{label} tables vs exact: {d:e}");
        let exact = run(RadialMode::Exact, Precision::F64).unwrap();
        assert!(bit_identical(&exact, &run(RadialMode::Auto, Precision::F64).unwrap()), "{label}: float64 is exact");
    }
}

#[test]
fn simd_levels_agree_within_rounding() {
    let ws = Workspace::new(2).unwrap();
    let levels = SimdLevel::available();
    for model in [sevennet(), mace()] {
        let graph = graph(&model, &ws);
        for precision in [Precision::F64, Precision::F32] {
            let run = |simd| model.compute(&graph, &Request { simd, ..request(precision) }, &ws).unwrap();
            let auto = run(SimdLevel::Auto);
            let best = run(*levels.last().unwrap());
            assert!(bit_identical(&auto, &best), "{}: Auto is the best level", model.architecture());
            let tol = if precision == Precision::F64 { 1e-10 } else { 1e-4 };
            for &level in &levels {
                let out = run(level);
                let d = max_diff(&auto, &out);
                assert!(d <= tol, "{} {precision:?}: {} vs auto differ by {d:e}", model.architecture(), level.name());
            }
            if levels.len() > 1 && precision == Precision::F64 {
                // FMA against separate multiply and add: the kernels were switched.
                assert!(!bit_identical(&auto, &run(SimdLevel::None)), "{}: SimdLevel::None changed nothing", model.architecture());
            }
        }
        // The default path is unchanged by having evaluated at other levels.
        assert!(bit_identical(&model.compute(&graph, &request(Precision::F64), &ws).unwrap(),
                              &model.compute(&graph, &Request { simd: SimdLevel::Auto, ..request(Precision::F64) }, &ws).unwrap()));
    }
    for level in [SimdLevel::Avx2, SimdLevel::Avx512] {
        if !levels.contains(&level) {
            match ws.simd_scope(level) {
                Err(Error::Unsupported(m)) => assert!(m.contains("not available on this CPU"), "{m}"),
                other => panic!("{}: {:?}", level.name(), other.err()),
            }
        }
    }
}

#[test]
fn profile_stages_cover_the_step_and_change_nothing() {
    let ws = Workspace::new(2).unwrap();
    for (model, stages) in [
        (sevennet(), &["forward: convolution", "backward: radial", "outputs: forces, virial"][..]),
        (mace(), &["forward: symmetric contraction", "backward: convolution", "outputs: forces, virial"][..]),
    ] {
        let graph = graph(&model, &ws);
        for precision in [Precision::F64, Precision::F32] {
            let plain = model.compute(&graph, &request(precision), &ws).unwrap();
            assert!(plain.profile.stages.is_empty());
            let started = std::time::Instant::now();
            let profiled = model.compute(&graph, &Request { profile: true, ..request(precision) }, &ws).unwrap();
            let wall = started.elapsed().as_secs_f64();
            assert!(bit_identical(&plain, &profiled), "profiling changed the numbers");
            let p = &profiled.profile;
            let names: Vec<&str> = p.stages.iter().map(|s| s.name).collect();
            for stage in stages.iter().chain(&["checks: graph, distances, memory", "checks: finite results"]) {
                assert!(names.contains(stage), "{}: no stage {stage:?} in {names:?}", model.architecture());
            }
            assert!(p.stages.iter().all(|s| s.seconds >= 0.0 && s.seconds.is_finite()));
            let total = p.total();
            assert!(total <= wall && total >= 0.7 * wall, "{}: stages sum to {total} s of a {wall} s step", model.architecture());
            assert!(p.table().contains("forward: convolution"));
        }
    }
}

fn equipot(args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_equipot")).args(args).output().unwrap()
}

#[test]
fn cli_passes_the_options_on() {
    let dir = std::env::temp_dir().join(format!("equipot-options-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (positions, numbers, cell) = sic();
    let mut xyz = format!(
        "{}\nLattice=\"{} 0 0 0 {} 0 0 0 {}\" Properties=species:S:1:pos:R:3 pbc=\"T T T\"\n",
        numbers.len(),
        cell[0][0],
        cell[1][1],
        cell[2][2]
    );
    for (p, z) in positions.iter().zip(&numbers) {
        xyz += &format!("{} {} {} {}\n", if *z == 14 { "Si" } else { "C" }, p[0], p[1], p[2]);
    }
    let file = dir.join("sic.xyz");
    std::fs::write(&file, xyz).unwrap();
    let (file, model) = (file.to_str().unwrap(), sevenn_support::model_path("SevenNet_0__11Jul2024"));
    let model = model.to_str().unwrap();
    let eval = |extra: &[&str]| equipot(&[&["eval", "--model", model, "--threads", "2"][..], extra, &[file]].concat());

    let out = eval(&["--json", "--profile", "--simd", "none", "--radial", "exact", "--precision", "f32"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let stages = json["profile"].as_array().expect("a profile field");
    assert!(stages.iter().any(|s| s["stage"] == "forward: convolution" && s["seconds"].as_f64().is_some()));
    let out = eval(&["--profile"]);
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("equipot profile: frame 0, 64 atoms") && stderr.contains("total"), "{stderr}");
    let out = eval(&["--json"]);
    assert!(out.status.success() && out.stderr.is_empty(), "nothing printed unless asked");
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(json.get("profile").is_none());

    for (args, needle) in [
        (&["--radial", "spline"][..], "unknown radial mode \"spline\" (auto, exact or tables)"),
        (&["--simd", "sse9"][..], "unknown SIMD level \"sse9\" (auto, none, avx2 or avx512)"),
    ] {
        let out = eval(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(String::from_utf8_lossy(&out.stderr).contains(needle), "{}", String::from_utf8_lossy(&out.stderr));
    }
    let out = eval(&["--radial", "tables"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("radial tables"), "{}", String::from_utf8_lossy(&out.stderr));
    let _ = std::fs::remove_dir_all(&dir);
}
