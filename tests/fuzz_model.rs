//! Model-file fuzzing: valid model files (the tiny NequIP models of
//! tests/model_files, single- and multi-fidelity; the MACE fixtures; the
//! Lennard-Jones model) mutated by a seeded xorshift generator — the header
//! length, the JSON metadata (keys deleted, types changed, numbers made
//! 0/−1/huge/tiny, enum strings swapped), tensor dtypes, shapes, offsets and
//! names, data bytes (bit flips, NaN/Inf/huge values written), truncation —
//! and loaded. Every case must end in a clear error (ModelFormat,
//! Unsupported, or InvalidArgument for a modal) or in a model whose energy,
//! forces and virial on a tiny molecule are finite, in both precisions: no
//! panic, no non-finite success. A failure prints the seed, the case and its
//! mutations; rerun one case with EQUIPOT_FUZZ_SEED=S EQUIPOT_FUZZ_CASES=N
//! EQUIPOT_FUZZ_ONLY=K (EQUIPOT_FUZZ_TRACE=1 prints each case before it
//! runs, to name one that aborts the process). Bugs the fuzzer found are kept below as named
//! regression cases.

use equipot::model::file::load_bytes;
use equipot::model::Precision;
use equipot::{Error, Workspace};
use serde_json::{json, Value};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

mod model_files;
use model_files::{evaluate, finite, lj_bytes, mace_bytes, tiny_nequip, File, Rng};

/// A base file to mutate.
enum Base {
    Safetensors(String, File),
    Json(String, Value),
}

fn bases() -> Vec<Base> {
    let lj: Value = serde_json::from_slice(&lj_bytes()).unwrap();
    vec![
        Base::Safetensors("tiny nequip".into(), tiny_nequip(false)),
        Base::Safetensors("tiny nequip, two modals".into(), tiny_nequip(true)),
        Base::Safetensors("mace mp0_l0_3int".into(), File::parse(&mace_bytes("mp0_l0_3int"))),
        Base::Safetensors("mace mp0_l1".into(), File::parse(&mace_bytes("mp0_l1"))),
        Base::Json("lennard-jones".into(), lj),
    ]
}

/// A random JSON pointer into `v` (possibly "" for the root).
fn random_pointer(v: &Value, rng: &mut Rng) -> String {
    let mut pointer = String::new();
    let mut at = v;
    loop {
        let children: Vec<(String, &Value)> = match at {
            Value::Object(m) => m.iter().map(|(k, v)| (k.replace('~', "~0").replace('/', "~1"), v)).collect(),
            Value::Array(a) => a.iter().enumerate().map(|(k, v)| (k.to_string(), v)).collect(),
            _ => break,
        };
        if children.is_empty() || (!pointer.is_empty() && rng.chance(0.25)) {
            break;
        }
        let (key, child) = &children[rng.below(children.len())];
        pointer = format!("{pointer}/{key}");
        at = child;
    }
    pointer
}

fn all_strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|x| all_strings(x, out)),
        Value::Object(m) => m.iter().for_each(|(k, x)| {
            out.push(k.clone());
            all_strings(x, out)
        }),
        _ => {}
    }
}

/// A replacement for `old`: another type, an extreme number, another string.
fn replacement(old: &Value, strings: &[String], rng: &mut Rng) -> Value {
    let extreme = [json!(0), json!(-1), json!(1e308), json!(-1e308), json!(1e6), json!(1e-300), json!(9007199254740993u64),
        json!(u64::MAX), json!(i64::MIN), json!(0.5), json!(2), json!(100000)];
    match (old, rng.below(4)) {
        (Value::Number(n), 0 | 1) => {
            let x = n.as_f64().unwrap_or(1.0);
            match rng.below(6) {
                0 => json!(x * 2.0),
                1 => json!(x + 1.0),
                2 => json!(-x),
                3 => json!(x * 1e6),
                4 => json!(x - 1.0),
                _ => extreme[rng.below(extreme.len())].clone(),
            }
        }
        (Value::String(s), 0 | 1) => match rng.below(5) {
            0 => json!(""),
            1 => json!(strings[rng.below(strings.len())]),
            2 => {
                // Change one character: a digit of an irreps string, a letter of a name.
                let mut bytes = s.clone().into_bytes();
                if !bytes.is_empty() {
                    let k = rng.below(bytes.len());
                    bytes[k] = b"0123456789xeo+ y.\xc3"[rng.below(18)];
                }
                json!(String::from_utf8_lossy(&bytes))
            }
            3 => json!(format!("{s}+{s}")),
            _ => json!(["mlp", "nm", "gelu", "nequip", "fancy", "1x0e+1x1e+1x2e+1x3e+1x4e+1x5e+1x6e+1x7e+1x8e+1x9e+1x10e"][rng.below(6)]),
        },
        (Value::Bool(b), 0 | 1) => json!(!b),
        (Value::Array(a), 0) if !a.is_empty() => {
            let mut a = a.clone();
            match rng.below(3) {
                0 => {
                    a.pop();
                }
                1 => a.push(a[0].clone()),
                _ => a.reverse(),
            }
            Value::Array(a)
        }
        _ => match rng.below(7) {
            0 => Value::Null,
            1 => json!("text"),
            2 => json!(true),
            3 => json!([]),
            4 => json!({}),
            5 => json!([1, 2, 3]),
            _ => extreme[rng.below(extreme.len())].clone(),
        },
    }
}

/// One metadata edit: delete the key, or replace its value.
fn mutate_json(meta: &mut Value, rng: &mut Rng, log: &mut Vec<String>) {
    let mut strings = Vec::new();
    all_strings(meta, &mut strings);
    let pointer = random_pointer(meta, rng);
    if pointer.is_empty() {
        log.push("metadata := []".into());
        *meta = json!([]);
        return;
    }
    let (parent, key) = pointer.rsplit_once('/').unwrap();
    let delete = rng.chance(0.25);
    let target = meta.pointer_mut(parent).unwrap();
    match target {
        Value::Object(m) if delete => {
            log.push(format!("delete {pointer}"));
            m.remove(&key.replace("~1", "/").replace("~0", "~"));
        }
        Value::Array(a) if delete => {
            log.push(format!("delete {pointer}"));
            a.remove(key.parse::<usize>().unwrap());
        }
        _ => {
            let slot = meta.pointer_mut(&pointer).unwrap();
            let new = replacement(slot, &strings, rng);
            log.push(format!("{pointer}: {slot} -> {new}"));
            *slot = new;
        }
    }
}

const DTYPES: [&str; 10] = ["F64", "F32", "F16", "BF16", "I64", "I32", "I16", "I8", "U8", "BOOL"];

/// One tensor edit: dtype, shape, name, a value, or the tensor removed/duplicated.
fn mutate_tensor(file: &mut File, rng: &mut Rng, log: &mut Vec<String>) {
    if file.tensors.is_empty() {
        return;
    }
    let k = rng.below(file.tensors.len());
    let name = file.tensors[k].0.clone();
    let t = &mut file.tensors[k].1;
    match rng.below(9) {
        0 => {
            let d = DTYPES[rng.below(DTYPES.len())];
            log.push(format!("{name}: dtype {} -> {d}", t.dtype));
            t.dtype = d.into();
        }
        1 => {
            let old = t.shape.clone();
            match rng.below(5) {
                0 => t.shape.reverse(),
                1 => t.shape.push(1),
                2 => {
                    t.shape.pop();
                }
                3 if !t.shape.is_empty() => {
                    let i = rng.below(t.shape.len());
                    t.shape[i] = [0, 1, t.shape[i] + 1, t.shape[i] * 2, 1 << 40][rng.below(5)];
                }
                _ => {
                    // Same element count, another factorization.
                    let n: usize = t.shape.iter().product();
                    t.shape = if n % 2 == 0 && n > 0 { vec![2, n / 2] } else { vec![n, 1] };
                }
            }
            log.push(format!("{name}: shape {old:?} -> {:?}", t.shape));
        }
        2 => {
            log.push(format!("remove {name}"));
            file.tensors.remove(k);
        }
        3 => {
            // A copy under a neighboring name (another block, order, layer).
            let new: String = name.chars().map(|c| if c.is_ascii_digit() { char::from(b'0' + ((c as u8 - b'0' + 1) % 10)) } else { c }).collect();
            log.push(format!("copy {name} as {new}"));
            let copy = file.tensors[k].1.clone();
            file.tensors.retain(|(n, _)| *n != new);
            file.tensors.push((new, copy));
            file.tensors.sort_by(|a, b| a.0.cmp(&b.0));
        }
        _ => {
            // A value: NaN, ±Inf, huge, zero, tiny, or a flipped bit.
            let width = match t.dtype.as_str() {
                "F64" | "I64" => 8,
                "F32" => 4,
                _ => return,
            };
            let n = t.bytes.len() / width;
            if n == 0 {
                return;
            }
            let i = rng.below(n);
            let bytes = &mut t.bytes[i * width..(i + 1) * width];
            let what = match (t.dtype.as_str(), rng.below(8)) {
                (_, 0) => {
                    let bit = rng.below(width * 8);
                    bytes[bit / 8] ^= 1 << (bit % 8);
                    format!("flip bit {bit}")
                }
                ("I64", r) => {
                    let v = [-1i64, 0, 1 << 40, i64::MAX, i64::MIN, 17, 1_000_000][r % 7];
                    bytes.copy_from_slice(&v.to_le_bytes());
                    format!("{v}")
                }
                (dtype, r) => {
                    let v = [f64::NAN, f64::INFINITY, f64::NEG_INFINITY, 1e30, 0.0, 1e-40, 1e300, -1e7][r % 8];
                    if dtype == "F32" {
                        bytes.copy_from_slice(&(v as f32).to_le_bytes());
                    } else {
                        bytes.copy_from_slice(&v.to_le_bytes());
                    }
                    format!("{v:e}")
                }
            };
            log.push(format!("{name}[{i}] := {what}"));
        }
    }
}

/// Raw-byte edits of a serialized file.
fn mutate_bytes(bytes: &mut Vec<u8>, rng: &mut Rng, log: &mut Vec<String>) {
    let header_len = if bytes.len() >= 8 { u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize } else { 0 };
    match rng.below(6) {
        0 => {
            let n = rng.below(bytes.len() + 1);
            log.push(format!("truncate to {n} of {} bytes", bytes.len()));
            bytes.truncate(n);
        }
        1 if bytes.len() >= 8 => {
            let v = [0u64, 1, 7, header_len as u64 - 8, header_len as u64 + 8, bytes.len() as u64, u64::MAX, 1 << 40][rng.below(8)];
            log.push(format!("header length {header_len} -> {v}"));
            bytes[..8].copy_from_slice(&v.to_le_bytes());
        }
        2 if header_len > 0 && header_len + 8 <= bytes.len() => {
            let k = 8 + rng.below(header_len);
            let b = b"{}[]\",:0123456789.-eE \x00\xff"[rng.below(23)];
            log.push(format!("header byte {k}: {:?} -> {:?}", bytes[k] as char, b as char));
            bytes[k] = b;
        }
        3 if header_len > 0 && header_len + 8 <= bytes.len() => {
            // Header data_offsets: shift one number inside "data_offsets":[a,b].
            let text = String::from_utf8_lossy(&bytes[8..8 + header_len]).to_string();
            let spots: Vec<usize> = text.match_indices("data_offsets\":[").map(|(i, m)| i + m.len()).collect();
            if spots.is_empty() {
                return;
            }
            let at = spots[rng.below(spots.len())];
            let end = at + text[at..].find(']').unwrap();
            let parts: Vec<i64> = text[at..end].split(',').map(|p| p.trim().parse().unwrap_or(0)).collect();
            let d = [1i64, -1, 4, -4, 8, 1000][rng.below(6)];
            let new = match rng.below(3) {
                0 => format!("{},{}", parts[0] + d, parts[1] + d),
                1 => format!("{},{}", parts[0] + d, parts[1]),
                _ => format!("{},{}", parts[0], parts[1] + d),
            };
            log.push(format!("data_offsets [{}] -> [{new}]", &text[at..end]));
            let new_text = format!("{}{}{}", &text[..at], new, &text[end..]);
            let mut out = (new_text.len() as u64).to_le_bytes().to_vec();
            out.extend_from_slice(new_text.as_bytes());
            out.extend_from_slice(&bytes[8 + header_len..]);
            *bytes = out;
        }
        _ if !bytes.is_empty() => {
            let k = if header_len + 8 < bytes.len() && rng.chance(0.8) {
                8 + header_len + rng.below(bytes.len() - 8 - header_len)
            } else {
                rng.below(bytes.len())
            };
            let bit = rng.below(8);
            log.push(format!("flip bit {bit} of byte {k}"));
            bytes[k] ^= 1 << bit;
        }
        _ => {}
    }
}

/// The mutated bytes of case `case` and what was done.
fn make_case(bases: &[Base], seed: u64, case: u64) -> (String, Vec<u8>, Vec<String>) {
    let mut rng = Rng(seed ^ case.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ 0xd1b5_4a32_d192_ed03);
    for _ in 0..4 {
        rng.next();
    }
    // Mostly the cheap bases; the larger MACE model now and then.
    let weights = [30, 20, 30, 5, 15];
    let mut pick = rng.below(weights.iter().sum());
    let index = weights.iter().position(|&w| if pick < w { true } else { pick -= w; false }).unwrap();
    let mut log = Vec::new();
    let n_mutations = 1 + rng.below(3);
    match &bases[index] {
        Base::Json(name, value) => {
            let mut value = value.clone();
            for _ in 0..n_mutations {
                mutate_json(&mut value["equipot"], &mut rng, &mut log);
            }
            let mut bytes = value.to_string().into_bytes();
            if rng.chance(0.2) {
                mutate_bytes(&mut bytes, &mut rng, &mut log);
            }
            (name.clone(), bytes, log)
        }
        Base::Safetensors(name, file) => {
            let mut file = file.clone();
            let mut raw = false;
            for _ in 0..n_mutations {
                match rng.below(10) {
                    0..=3 => mutate_json(&mut file.meta, &mut rng, &mut log),
                    4..=7 => mutate_tensor(&mut file, &mut rng, &mut log),
                    _ => raw = true,
                }
            }
            let mut bytes = file.bytes();
            if raw {
                mutate_bytes(&mut bytes, &mut rng, &mut log);
            }
            (name.clone(), bytes, log)
        }
    }
}

#[derive(Default)]
struct Tally {
    loaded: usize,
    evaluated: usize,
    errors: std::collections::BTreeMap<&'static str, usize>,
    failures: Vec<String>,
    slowest: (Duration, String),
}

/// Loads one case and evaluates what loads; a failure is described.
/// `via_file`: write the bytes to a file and load it with `equipot::model::load`.
fn run_case(bytes: Vec<u8>, ws: &Workspace, evaluate_it: bool, via_file: bool, tally: &mut Tally) -> Result<(), String> {
    let loaded = catch_unwind(AssertUnwindSafe(|| {
        if via_file {
            let dir = std::env::temp_dir().join(format!("equipot-fuzz-{}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            let path = dir.join("fuzz.eqp.safetensors");
            std::fs::write(&path, bytes).unwrap();
            let model = equipot::model::load(&path);
            std::fs::remove_file(&path).unwrap();
            model
        } else {
            load_bytes(bytes, "fuzz.eqp.safetensors", None)
        }
    }));
    let model = match loaded {
        Err(panic) => return Err(format!("load panicked: {}", panic_message(&panic))),
        Ok(Err(e)) => {
            let message = e.to_string();
            let kind = match e {
                Error::ModelFormat(_) => "ModelFormat",
                Error::Unsupported(_) => "Unsupported",
                Error::InvalidArgument(_) if message.contains("modal") => "InvalidArgument (modal)",
                _ => return Err(format!("load failed with an unexpected kind of error: {message}")),
            };
            if message.contains("Some(") || !message.contains("fuzz.eqp.safetensors") {
                return Err(format!("unclear message: {message}"));
            }
            *tally.errors.entry(kind).or_default() += 1;
            return Ok(());
        }
        Ok(Ok(model)) => model,
    };
    tally.loaded += 1;
    if !evaluate_it {
        return Ok(());
    }
    tally.evaluated += 1;
    for precision in [Precision::F64, Precision::F32] {
        match catch_unwind(AssertUnwindSafe(|| evaluate(&model, precision, ws))) {
            Err(panic) => return Err(format!("{precision:?} evaluation panicked: {}", panic_message(&panic))),
            Ok(Err(Error::Internal(why))) => return Err(format!("{precision:?} evaluation: internal error {why}")),
            Ok(Err(_)) => *tally.errors.entry("evaluation error").or_default() += 1,
            Ok(Ok(out)) if !finite(&out) => {
                return Err(format!("{precision:?} evaluation succeeded with non-finite outputs: energy {}", out.energy))
            }
            Ok(Ok(_)) => {}
        }
    }
    Ok(())
}

thread_local! {
    static IN_CASE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

fn panic_message(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic.downcast_ref::<String>().cloned().or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string())).unwrap_or_default()
}

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().map(|v| v.parse().unwrap_or_else(|_| panic!("{name}={v} is not a number")))
}

#[test]
fn mutated_model_files_load_cleanly_or_fail_clearly() {
    let seed = env_u64("EQUIPOT_FUZZ_SEED").unwrap_or(0x0e9a_1f11e);
    let cases = env_u64("EQUIPOT_FUZZ_CASES").unwrap_or(30_000);
    let only = env_u64("EQUIPOT_FUZZ_ONLY");
    let trace = std::env::var_os("EQUIPOT_FUZZ_TRACE").is_some();
    let bases = bases();
    let ws = Workspace::new(1).unwrap();
    // Panics inside a case are caught and reported with the case; keep
    // their default report off the output (others print as usual).
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if !IN_CASE.with(|c| c.get()) {
            default_hook(info)
        }
    }));
    let start = Instant::now();
    let mut tally = Tally::default();
    for case in 0..cases {
        if only.is_some_and(|k| k != case) {
            continue;
        }
        let (base, bytes, log) = make_case(&bases, seed, case);
        if trace {
            // An abort (e.g. a failed allocation) ends the process: this names the case.
            eprintln!("case {case} ({base}: {})", log.join("; "));
        }
        let t0 = Instant::now();
        // Evaluate every loaded case of the small models, every fourth of the larger MACE one.
        let evaluate_it = !base.contains("mp0_l1") || case % 4 == 0;
        IN_CASE.with(|c| c.set(true));
        let result = run_case(bytes, &ws, evaluate_it, case % 50 == 0, &mut tally);
        IN_CASE.with(|c| c.set(false));
        let dt = t0.elapsed();
        if dt > tally.slowest.0 {
            tally.slowest = (dt, format!("case {case} ({base}: {})", log.join("; ")));
        }
        if let Err(why) = result {
            tally.failures.push(format!("seed {seed:#x} case {case} ({base}: {}): {why}", log.join("; ")));
        }
        if dt > Duration::from_secs(5) {
            tally.failures.push(format!("seed {seed:#x} case {case} ({base}: {}): took {dt:?}", log.join("; ")));
        }
    }
    eprintln!(
        "fuzz: seed {seed:#x}, {cases} cases in {:.1} s: {} loaded ({} evaluated), errors {:?}; slowest {:.0} ms: {}",
        start.elapsed().as_secs_f64(),
        tally.loaded,
        tally.evaluated,
        tally.errors,
        tally.slowest.0.as_secs_f64() * 1e3,
        tally.slowest.1
    );
    assert!(
        tally.failures.is_empty(),
        "{} failing cases (first 20):\n{}",
        tally.failures.len(),
        tally.failures.iter().take(20).cloned().collect::<Vec<_>>().join("\n")
    );
}

/// Cases the fuzzer found against the loader before the load-time checks
/// (default seed), kept by name: each loaded, aborted or failed unclearly then.
#[test]
fn regressions() {
    let model_format = |bytes: Vec<u8>, needle: &str| {
        let e = load_bytes(bytes, "fuzz.eqp.safetensors", None).err().expect("loads");
        assert!(matches!(e, Error::ModelFormat(_)) && e.to_string().contains(needle), "{e}");
    };
    let mace = || File::parse(&mace_bytes("mp0_l0_3int"));
    // Case 179: a bit flipped in a U matrix's dense shape: a 1.4 PB allocation aborted the process.
    let mut f = mace();
    let t = f.tensor_mut("products.2.symmetric_contractions.contractions.0.U_matrix_2.shape");
    t.bytes[8 * 2 + 5] ^= 1 << 1;
    model_format(f.bytes(), "U_matrix_2 has shape");
    // Case 173: a wrong dense shape was an InvalidArgument.
    let mut f = mace();
    f.tensor_mut("products.1.symmetric_contractions.contractions.0.U_matrix_2.shape").bytes[..8]
        .copy_from_slice(&17i64.to_le_bytes());
    model_format(f.bytes(), "U_matrix_2 has shape [17,");
    // Cases 45, 120: an infinite skip weight was an InvalidArgument.
    let mut f = mace();
    f.set_value("interactions.1.skip_tp.weight", 240, f64::INFINITY);
    model_format(f.bytes(), "\"interactions.1.skip_tp.weight\" (shape [");
    // Case 177: a weight of -1e7 loaded and gave NaN in float32.
    let mut f = mace();
    f.set_value("interactions.0.linear.weight", 87, -1e7);
    model_format(f.bytes(), "beyond the bound");
    // Case 83: an infinite scale loaded and gave an infinite energy.
    let mut f = mace();
    f.set_value("scale_shift.scale", 0, f64::INFINITY);
    model_format(f.bytes(), "holds inf");
    // Case 92: use_bias_in_linear true was Unsupported without the file's name.
    let mut f = mace();
    f.set("/hyperparameters/use_bias_in_linear", json!(true));
    model_format(f.bytes(), "fuzz.eqp.safetensors: \"use_bias_in_linear\" is true");
    // Case 144: a negative cutoff was an InvalidArgument from the Bessel basis.
    let mut f = tiny_nequip(false);
    f.set("/cutoff", json!(-1));
    model_format(f.bytes(), "\"cutoff\" must be a number in [1, 20], found -1");
    // Cases 15, 16, 28, 121, 132: infinite or huge nequip weights loaded and gave NaN energies.
    for (name, k, v) in [
        ("rescale_atomic_energy.scale", 1, f64::INFINITY),
        ("1_self_interaction_1.linear.weight", 10, f64::INFINITY),
        ("1_convolution.weight_nn.layer0.weight", 19, 1e300),
        ("onehot_to_feature_x.linear.weight", 2, f64::INFINITY),
    ] {
        let mut f = tiny_nequip(false);
        f.set_value(name, k, v);
        model_format(f.bytes(), name);
    }
    // A tensor reshaped to another factorization of its size (case 16) is refused too.
    let mut f = tiny_nequip(false);
    f.tensor_mut("reduce_hidden_to_energy.linear.weight").shape = vec![2, 1];
    model_format(f.bytes(), "has shape [2, 1], expected [2]");
}
