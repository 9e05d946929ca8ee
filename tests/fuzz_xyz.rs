//! Fuzzing the `equipot` command's extended XYZ reader: seeded mutations of
//! valid files (truncated, lines deleted/duplicated/swapped, bytes flipped,
//! numbers replaced by nan/inf/1e400/huge integers, Properties, Lattice, pbc
//! and atom counts corrupted). Every case must end in frames that hold only
//! valid, finite values, or in an error naming a line of the input — never a
//! panic or a hang.
//!
//! In process (the reader is included on its own), then end to end: the
//! `equipot eval` and `equipot md` binaries on mutated files must exit 0, 1
//! or 2, never 101 (panic) or by a signal.
//!
//! Reproduce a failure with the seed it prints: EQUIPOT_FUZZ_SEED=S (and
//! EQUIPOT_FUZZ_CASES=N for a longer run).

#[path = "../src/bin/equipot/xyz.rs"]
#[allow(dead_code)]
mod xyz;

mod cli_support;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

/// xorshift64*: small, seeded, reproducible.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in 0..n (n > 0).
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Valid files, each in a form ASE or equipot writes.
fn corpus() -> Vec<String> {
    let lattice = "Lattice=\"10.5 0 0 0.4 10.2 0 -0.3 0.2 10.4\"";
    let atoms = [("Ar", [0.1, 0.0, 0.2]), ("Ar", [3.6, 0.1, 0.0]), ("Si", [0.2, 3.7, 0.1]), ("O", [3.8, 3.5, 3.9])];
    let rows = |extra: &dyn Fn(usize) -> String| -> String {
        atoms.iter().enumerate().map(|(i, (s, r))| format!("{s} {} {} {}{}\n", r[0], r[1], r[2], extra(i))).collect()
    };
    let none = |_: usize| String::new();
    let periodic = format!("4\n{lattice} Properties=species:S:1:pos:R:3 pbc=\"T T T\"\n{}", rows(&none));
    vec![
        periodic.clone(),
        format!("{periodic}{periodic}"),
        format!("4\n{lattice} Properties=species:S:1:pos:R:3 energy=-1.25 pbc=\"T T F\"\n{}", rows(&none)),
        format!("4\nProperties=species:S:1:pos:R:3 pbc=\"F F F\"\n{}", rows(&none)),
        format!("4\nplain title line\n{}", rows(&none)),
        format!("4\n{lattice}\n{}", rows(&none)),
        format!(
            "4\n{lattice} Properties=species:S:1:pos:R:3:velocities:R:3:masses:R:1 pbc=\"True True True\"\n{}",
            rows(&|i| format!(" 0.001 {} -0.002 {}", 0.0005 * i as f64, 16.0 + 4.0 * i as f64))
        ),
        format!("4\n{lattice} Properties=species:S:1:pos:R:3:momenta:R:3 pbc=\"1 1 1\"\n{}", rows(&|i| format!(" 0.1 -0.2 {}", 0.05 * i as f64))),
        format!(
            "4\n{lattice} Properties=species:S:1:pos:R:3:forces:R:3:move_mask:L:1:tags:I:1 stress=\"1 2 3 4 5 6 7 8 9\" pbc=\"T T T\"\n{}",
            rows(&|i| format!(" 0.5 -0.25 1e-3 {} {i}", if i % 2 == 0 { "T" } else { "F" }))
        ),
        format!(
            "4\r\n{lattice} Properties=Z:I:1:pos:R:3 pbc=\"T T T\"\r\n18 0.1 0 0.2\r\n18 3.6 0.1 0\r\n14 0.2 3.7 0.1\r\n8 3.8 3.5 3.9\r\n\r\n"
        ),
    ]
}

/// Replacements for a number, chosen to break naive readers.
const BAD_NUMBERS: [&str; 24] = [
    "nan", "NaN", "-nan", "inf", "-inf", "infinity", "1e400", "-1e400", "1e308", "1e-320", "99999999999999999999",
    "18446744073709551616", "-1", "0", "-0", "", "x", "+", "1e", "0x10", "1,5", "1.0.0", "١", "1e30",
];

const BAD_PBC: [&str; 12] = ["yes yes yes", "T T", "T T T T", "2 0 0", "", "t f t", "TRUE false 1", "F F F", "T", "T T X", "on on on", "T\tT\tT"];

const BAD_PROPERTIES: [&str; 14] = [
    "species:S:1:pos:R:2",
    "species:S:1:pos:R:4",
    "species:S:1:pos:R",
    "species:S:1",
    "pos:R:3",
    "species:S:1:pos:R:3:pos:R:3",
    "species:X:1:pos:R:3",
    "species:S:0:pos:R:3",
    "species:S:-1:pos:R:3",
    "species:S:99999999999999999999:pos:R:3",
    "species:S:1:pos:R:3:forces:R:3",
    "species:S:1:pos:R:3:masses:R:1",
    "Z:I:1:pos:R:3",
    "species:S:1:pos:R:3:velocities:R:3:momenta:R:3",
];

const BAD_LINES: [&str; 10] = ["", "   ", "garbage", "4", "0", "Ar 0 0 0", "Lattice=\"1 0 0 0 1 0 0 0 1\"", "\"", "=", "\u{0}"];

fn lines_of(text: &str) -> Vec<String> {
    text.split_inclusive('\n').map(str::to_string).collect()
}

/// Applies one random mutation to `bytes`.
fn mutate(rng: &mut Rng, bytes: &mut Vec<u8>) {
    let text = String::from_utf8_lossy(bytes).into_owned();
    let mut lines = lines_of(&text);
    let line = if lines.is_empty() { 0 } else { rng.below(lines.len()) };
    match rng.below(13) {
        0 => bytes.truncate(rng.below(bytes.len() + 1)),
        1 if !bytes.is_empty() => {
            let at = rng.below(bytes.len());
            bytes[at] ^= 1 << rng.below(8);
            return;
        }
        2 if !bytes.is_empty() => {
            let at = rng.below(bytes.len());
            bytes[at] = *rng.pick(b"\"=:. \n\t-+eE0123456789TFx\x00\xff");
            return;
        }
        3 if !lines.is_empty() => drop(lines.remove(line)),
        4 if !lines.is_empty() => lines.insert(line, lines[line].clone()),
        5 if lines.len() > 1 => {
            let other = rng.below(lines.len());
            lines.swap(line, other);
        }
        6 => lines.insert(line, format!("{}\n", rng.pick(&BAD_LINES))),
        7 => replace_number(rng, &mut lines),
        8 => {
            let value = *rng.pick(&BAD_PBC);
            replace_value(rng, &mut lines, "pbc=\"", value);
        }
        9 => {
            let value = *rng.pick(&BAD_PROPERTIES);
            replace_value(rng, &mut lines, "Properties=", value);
        }
        10 => corrupt_lattice(rng, &mut lines),
        11 => change_count(rng, &mut lines),
        _ => {
            // A few columns more or fewer on one atom line.
            if let Some(l) = lines.get_mut(line) {
                *l = if rng.below(2) == 0 { l.replacen(' ', "  1.5 ", 1) } else { l.rsplitn(2, ' ').last().unwrap_or("").to_string() + "\n" };
            }
        }
    }
    *bytes = lines.concat().into_bytes();
    if bytes.is_empty() && rng.below(2) == 0 {
        bytes.extend_from_slice(b"\n");
    }
}

/// Replaces one number-looking token anywhere in the file.
fn replace_number(rng: &mut Rng, lines: &mut [String]) {
    if lines.is_empty() {
        return;
    }
    let l = rng.below(lines.len());
    let tokens: Vec<&str> = lines[l].split(' ').collect();
    let numeric: Vec<usize> = (0..tokens.len()).filter(|&i| tokens[i].trim_matches(['"', '\n', '\r']).parse::<f64>().is_ok()).collect();
    if numeric.is_empty() {
        return;
    }
    let i = *rng.pick(&numeric);
    let old = tokens[i].trim_matches(['"', '\n', '\r']);
    let bad: &str = BAD_NUMBERS[rng.below(BAD_NUMBERS.len())];
    let new = tokens[i].replacen(old, bad, 1);
    let mut tokens: Vec<String> = tokens.iter().map(|t| t.to_string()).collect();
    tokens[i] = new;
    lines[l] = tokens.join(" ");
}

/// Replaces the value after `key` on some comment line (up to the next space
/// or quote) with `value`.
fn replace_value(rng: &mut Rng, lines: &mut [String], key: &str, value: &str) {
    let with_key: Vec<usize> = (0..lines.len()).filter(|&i| lines[i].contains(key)).collect();
    if with_key.is_empty() {
        return;
    }
    let l = *rng.pick(&with_key);
    let start = lines[l].find(key).unwrap_or(0) + key.len();
    let rest = &lines[l][start..];
    let end = start + rest.find(['"', ' ', '\n']).unwrap_or(rest.len());
    lines[l].replace_range(start..end, value);
}

/// Lattices with the wrong count, non-finite, degenerate or tiny; or a
/// closing quote removed.
const BAD_LATTICES: [&str; 10] = [
    "0.01 0 0 0 0.01 0 0 0 0.01",
    "0.49 0 0 0 10 0 0 0 10",
    "10 0 0 10 0.001 0 0 0 10",
    "10 0 0 0 10 0 0 0",
    "10 0 0 0 10 0 0 0 10 10",
    "nan 0 0 0 10 0 0 0 10",
    "1e400 0 0 0 1 0 0 0 1",
    "0 0 0 0 0 0 0 0 0",
    "1e-300 0 0 0 1e-300 0 0 0 1e-300",
    "1 0 0 1 0 0 0 0 1",
];

fn corrupt_lattice(rng: &mut Rng, lines: &mut [String]) {
    if rng.below(3) == 0 {
        if let Some(l) = lines.iter_mut().find(|l| l.contains('"')) {
            *l = l.replacen("\" ", " ", 1);
        }
    } else {
        let value = *rng.pick(&BAD_LATTICES);
        replace_value(rng, lines, "Lattice=\"", value);
    }
}

/// Changes an atom-count line (a line that is only digits).
fn change_count(rng: &mut Rng, lines: &mut [String]) {
    let counts: Vec<usize> = (0..lines.len()).filter(|&i| lines[i].trim().parse::<u64>().is_ok()).collect();
    if counts.is_empty() {
        return;
    }
    let l = *rng.pick(&counts);
    let n: i128 = lines[l].trim().parse().unwrap_or(0);
    let new = match rng.below(6) {
        0 => (n + 1).to_string(),
        1 => (n - 1).to_string(),
        2 => "0".to_string(),
        3 => "18446744073709551615".to_string(),
        4 => (-n).to_string(),
        _ => format!("{n}.0"),
    };
    lines[l] = format!("{new}\n");
}

/// What a successful parse must hold: only valid, finite values.
fn check_frames(frames: &[xyz::Frame]) -> Result<(), String> {
    if frames.is_empty() {
        return Err("Ok with no frames".into());
    }
    for (k, f) in frames.iter().enumerate() {
        let n = f.numbers.len();
        let finite3 = |v: &[[f64; 3]]| v.iter().flatten().all(|x| x.is_finite());
        let problem = if n == 0 || f.positions.len() != n {
            Some("atom counts disagree")
        } else if f.numbers.iter().any(|&z| equipot::elements::symbol(z).is_none()) {
            Some("an unknown atomic number")
        } else if !finite3(&f.positions) || f.cell.is_some_and(|c| !finite3(&c)) {
            Some("a non-finite position or cell")
        } else if f.pbc.contains(&true) && f.cell.is_none() {
            Some("periodic without a cell")
        } else if f.velocities.as_ref().is_some_and(|v| v.len() != n || !finite3(v)) {
            Some("bad velocities")
        } else if f.masses.as_ref().is_some_and(|m| m.len() != n || m.iter().any(|&x| !(x.is_finite() && x > 0.0))) {
            Some("bad masses")
        } else {
            None
        };
        if let Some(p) = problem {
            return Err(format!("frame {k}: {p}: {f:?}"));
        }
    }
    Ok(())
}

/// Written frames read back the same.
fn check_round_trip(frames: &[xyz::Frame]) -> Result<(), String> {
    let mut text = String::new();
    for f in frames {
        xyz::write(&mut text, f, Some(-1.0), None, None);
    }
    let again = xyz::parse(&text).map_err(|e| format!("written frames do not read back: {e}\n{text}"))?;
    for (a, b) in frames.iter().zip(&again) {
        let close = a.positions.iter().flatten().zip(b.positions.iter().flatten()).all(|(x, y)| (x - y).abs() <= 1e-9 * (1.0 + x.abs()));
        if a.numbers != b.numbers || a.pbc != b.pbc || !close || a.cell.is_some() != b.cell.is_some() {
            return Err(format!("round trip changed a frame:\n{a:?}\n{b:?}"));
        }
    }
    Ok(())
}

/// One case: no panic, and a valid result or an error on a line of the input.
fn check_case(input: &[u8]) -> Result<(), String> {
    let outcome = catch_unwind(AssertUnwindSafe(|| xyz::parse_bytes(input))).map_err(|_| "the reader panicked".to_string())?;
    match outcome {
        Ok(frames) => {
            check_frames(&frames)?;
            catch_unwind(AssertUnwindSafe(|| check_round_trip(&frames))).map_err(|_| "writing panicked".to_string())?
        }
        Err(e) => {
            let last_line = input.split(|&b| b == b'\n').count() + 1;
            if e.message.trim().is_empty() || e.line == 0 || e.line > last_line {
                return Err(format!("unclear error {e:?} (the input has {last_line} lines)"));
            }
            Ok(())
        }
    }
}

/// Inputs that found bugs, kept as named regression cases.
const REGRESSIONS: [(&str, &str); 5] = [
    // A 0.01 Å cell: accepted by the first reader, then the neighbor search
    // ran for minutes over its images (a hang to the user).
    ("tiny cell", "1\nLattice=\"0.01 0 0 0 0.01 0 0 0 0.01\"\nAr 0 0 0\n"),
    // Panicked in the first reader: the Properties count did not fit pos.
    ("pos with two columns", "2\nProperties=species:S:1:pos:R:2\nAr 0 0\nAr 3 0\n"),
    // Read as non-periodic by the first reader.
    ("pbc=yes", "1\nLattice=\"5 0 0 0 5 0 0 0 5\" pbc=\"yes yes yes\"\nAr 0 0 0\n"),
    // An atom count far beyond the file must not be allocated up front.
    ("huge count", "18446744073709551615\n\nAr 0 0 0\n"),
    // A Properties count that overflows when added up.
    ("huge column count", "1\nProperties=species:S:18446744073709551615:pos:R:3\nAr 0 0 0\n"),
];

#[test]
fn regressions_end_in_a_clear_error() {
    for (name, input) in REGRESSIONS {
        check_case(input.as_bytes()).unwrap_or_else(|e| panic!("{name}: {e}\ninput: {input:?}"));
        assert!(xyz::parse(input).is_err(), "{name}: accepted");
    }
}

#[test]
fn mutated_xyz_never_panics_or_accepts_bad_values() {
    let seed = env_or("EQUIPOT_FUZZ_SEED", 20261203);
    let cases = env_or("EQUIPOT_FUZZ_CASES", 100_000) as usize;
    let corpus = corpus();
    for text in &corpus {
        check_case(text.as_bytes()).unwrap();
        assert!(xyz::parse(text).is_ok(), "the corpus is valid: {text}");
    }
    let start = Instant::now();
    let (mut accepted, mut failures) = (0, Vec::new());
    for case in 0..cases {
        let case_seed = seed ^ (case as u64).wrapping_mul(0x1000_0000_01b3);
        let mut rng = Rng::new(case_seed);
        let mut input = rng.pick(&corpus).clone().into_bytes();
        for _ in 0..1 + rng.below(4) {
            mutate(&mut rng, &mut input);
        }
        let t = Instant::now();
        let result = check_case(&input);
        if t.elapsed() > Duration::from_secs(1) {
            failures.push(format!("case seed {case_seed}: took {:?} (a hang?)\ninput: {:?}", t.elapsed(), String::from_utf8_lossy(&input)));
        }
        match result {
            Ok(()) => accepted += xyz::parse_bytes(&input).is_ok() as usize,
            Err(e) => failures.push(format!("case seed {case_seed}: {e}\ninput: {:?}", String::from_utf8_lossy(&input))),
        }
        if failures.len() >= 10 {
            break;
        }
    }
    eprintln!("{cases} mutated files (seed {seed}): {accepted} read, the rest refused, in {:.2?}", start.elapsed());
    assert!(failures.is_empty(), "{} failures:\n{}", failures.len(), failures.join("\n\n"));
    assert!(accepted > cases / 50 && accepted < cases / 2, "the mutations should mostly, not always, break the file: {accepted} of {cases} read");
}

const MODEL: &str = r#"{"equipot": {"format_version": "1.0", "architecture": "lennard-jones", "species": [8, 14, 18],
    "cutoff": 5.0, "epsilon": [[0.01, 0.01, 0.01], [0.01, 0.01, 0.01], [0.01, 0.01, 0.0104]],
    "sigma": [[3.0, 3.2, 3.2], [3.2, 3.4, 3.4], [3.2, 3.4, 3.4]]}}"#;

/// The binary on mutated files: exit 0 with finite JSON, or 1–2 with a
/// message; never a panic (101) or a signal.
#[test]
fn equipot_eval_and_md_on_mutated_files_exit_cleanly() {
    use cli_support::{scratch, stderr};
    let dir = scratch("fuzz");
    std::fs::write(dir.join("model.json"), MODEL).unwrap();
    let seed = env_or("EQUIPOT_FUZZ_SEED", 20261203) ^ 0xe2e;
    let runs = env_or("EQUIPOT_FUZZ_RUNS", 300) as usize;
    let corpus = corpus();
    let start = Instant::now();
    let mut status_counts = [0usize; 3];
    for run in 0..runs {
        let case_seed = seed ^ (run as u64).wrapping_mul(0x1000_0000_01b3);
        let mut rng = Rng::new(case_seed);
        let mut input = rng.pick(&corpus).clone().into_bytes();
        for _ in 0..rng.below(3) {
            mutate(&mut rng, &mut input);
        }
        std::fs::write(dir.join("in.xyz"), &input).unwrap();
        let md = run % 5 == 4;
        let args: &[&str] = if md {
            &["md", "--model", "model.json", "in.xyz", "--steps", "3", "--every", "1", "--threads", "1"]
        } else {
            &["eval", "--model", "model.json", "--json", "--threads", "1", "in.xyz"]
        };
        let out = equipot_within(&dir, args, Duration::from_secs(20)).unwrap_or_else(|| {
            panic!("run seed {case_seed}, {args:?}: no answer within 20 s (a hang?)\ninput: {:?}", String::from_utf8_lossy(&input))
        });
        let message = stderr(&out);
        let context = || format!("run seed {case_seed}, {args:?}: {:?}\nstderr: {message}\ninput: {:?}", out.status, String::from_utf8_lossy(&input));
        let code = out.status.code().unwrap_or_else(|| panic!("killed by a signal: {}", context()));
        assert!(matches!(code, 0..=2) && !message.contains("panicked"), "{}", context());
        status_counts[code as usize] += 1;
        if code != 0 {
            assert!(message.starts_with("equipot: "), "{}", context());
        } else if !md {
            for line in String::from_utf8_lossy(&out.stdout).lines() {
                let value: serde_json::Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {}", context()));
                assert!(all_numbers_finite(&value), "{line}: {}", context());
            }
        }
    }
    eprintln!("{runs} runs of equipot (seed {seed}): exit 0/1/2 = {status_counts:?}, in {:.2?}", start.elapsed());
    assert!(status_counts[0] > 0 && status_counts[1] > 0, "both successes and refusals: {status_counts:?}");
    std::fs::remove_dir_all(&dir).ok();
}

/// `equipot ARGS` in `dir`, killed (None) when it runs longer than `limit`.
fn equipot_within(dir: &std::path::Path, args: &[&str], limit: Duration) -> Option<std::process::Output> {
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_equipot"))
        .current_dir(dir)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > limit {
            child.kill().ok();
            child.wait().ok();
            return None;
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    Some(child.wait_with_output().unwrap())
}

/// JSON numbers are all finite and there is no null (serde_json writes NaN as null).
fn all_numbers_finite(value: &serde_json::Value) -> bool {
    match value {
        serde_json::Value::Null => false,
        serde_json::Value::Number(n) => n.as_f64().is_some_and(f64::is_finite),
        serde_json::Value::Array(a) => a.iter().all(all_numbers_finite),
        serde_json::Value::Object(o) => o.values().all(all_numbers_finite),
        _ => true,
    }
}
