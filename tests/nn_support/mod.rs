//! Shared helpers of the nn tests: fixture loading (arrays are base64 of
//! little-endian float64), error norms and a small seeded generator.
#![allow(dead_code)]

use equipot::nn::{Activation, FullyConnectedNet, Gate, LinearSpec, PathNormalization};
use equipot::so3::Irreps;
use equipot::Real;
use serde_json::Value;

/// Parses tests/fixtures/e3nn/<name>.
pub fn fixture(name: &str) -> Value {
    let path = format!("{}/tests/fixtures/e3nn/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Decodes an array written by generate_nn.py.
pub fn array(v: &Value) -> Vec<f64> {
    let text = v.as_str().expect("arrays are base64 strings");
    let bytes = base64(text);
    assert_eq!(bytes.len() % 8, 0);
    bytes.chunks_exact(8).map(|b| f64::from_le_bytes(b.try_into().unwrap())).collect()
}

fn base64(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("not base64: {c}"),
    } as u32;
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    for quad in text.as_bytes().chunks(4) {
        let digits: Vec<u32> = quad.iter().filter(|&&c| c != b'=').map(|&c| value(c)).collect();
        let word = digits.iter().enumerate().fold(0u32, |w, (k, &d)| w | d << (18 - 6 * k));
        out.extend_from_slice(&word.to_be_bytes()[1..digits.len()]);
    }
    out
}

pub fn to<T: Real>(v: &[f64]) -> Vec<T> {
    v.iter().map(|&x| T::of(x)).collect()
}

pub fn back<T: Real>(v: &[T]) -> Vec<f64> {
    v.iter().map(|x| x.f64()).collect()
}

/// Both arrays of equal length and every value finite: a NaN or a missing
/// value never passes a comparison.
fn check_comparable(a: &[f64], b: &[f64]) {
    assert_eq!(a.len(), b.len(), "lengths differ");
    assert!(a.iter().chain(b).all(|x| x.is_finite()), "non-finite value in a comparison");
}

/// ‖a − b‖ / ‖b‖ (2-norms).
pub fn rel_err(a: &[f64], b: &[f64]) -> f64 {
    check_comparable(a, b);
    let diff: f64 = a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum::<f64>().sqrt();
    let norm: f64 = b.iter().map(|y| y * y).sum::<f64>().sqrt();
    assert!(norm > 0.0, "reference is all zeros: the comparison would prove nothing");
    diff / norm
}

/// max |a − b| / max |b|.
pub fn max_rel_err(a: &[f64], b: &[f64]) -> f64 {
    check_comparable(a, b);
    let diff = a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max);
    let norm = b.iter().map(|y| y.abs()).fold(0.0, f64::max);
    assert!(norm > 0.0, "reference is all zeros: the comparison would prove nothing");
    diff / norm
}

/// Asserts both error measures are within `tol`.
pub fn assert_close(what: &str, a: &[f64], b: &[f64], tol: f64) {
    let (e2, emax) = (rel_err(a, b), max_rel_err(a, b));
    assert!(e2 <= tol && emax <= tol, "{what}: relative error {e2:.3e} (2-norm), {emax:.3e} (max) > {tol:e}");
}

/// SplitMix64 with Box–Muller normals.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn uniform(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn normal(&mut self) -> f64 {
        let (u1, u2) = (1.0 - self.uniform(), self.uniform());
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f64::consts::PI * u2).cos()
    }

    pub fn normals(&mut self, n: usize) -> Vec<f64> {
        (0..n).map(|_| self.normal()).collect()
    }
}

pub fn irreps(v: &Value) -> Irreps {
    Irreps::parse(v.as_str().unwrap()).unwrap()
}

pub fn activation(v: &Value) -> Option<Activation> {
    v.as_str().map(|name| Activation::from_name(name).unwrap())
}

/// The LinearSpec of a linear fixture case.
pub fn linear_spec(case: &Value) -> LinearSpec {
    let instructions: Option<Vec<(usize, usize)>> = case["instructions"].as_array().map(|list| {
        list.iter().map(|p| (p[0].as_u64().unwrap() as usize, p[1].as_u64().unwrap() as usize)).collect()
    });
    let normalization = match case["path_normalization"].as_str().unwrap() {
        "element" => PathNormalization::Element,
        "path" => PathNormalization::Path,
        other => panic!("unknown normalization {other}"),
    };
    LinearSpec::new(
        &irreps(&case["irreps_in"]),
        &irreps(&case["irreps_out"]),
        instructions.as_deref(),
        case["biases"].as_bool().unwrap(),
        normalization,
    )
    .unwrap()
}

/// The Gate of a gate fixture case.
pub fn gate<T: Real>(case: &Value) -> Gate<T> {
    let acts = |v: &Value| v.as_array().unwrap().iter().map(activation).collect::<Vec<_>>();
    Gate::new(
        &irreps(&case["irreps_scalars"]),
        &acts(&case["act_scalars"]),
        &irreps(&case["irreps_gates"]),
        &acts(&case["act_gates"]),
        &irreps(&case["irreps_gated"]),
    )
    .unwrap()
}

/// The FullyConnectedNet of an fc fixture case, and its sizes.
pub fn fc_net<T: Real>(case: &Value) -> (FullyConnectedNet<T>, Vec<usize>) {
    let hs: Vec<usize> = case["hs"].as_array().unwrap().iter().map(|h| h.as_u64().unwrap() as usize).collect();
    let weights: Vec<Vec<f64>> = case["weights"].as_array().unwrap().iter().map(array).collect();
    let refs: Vec<&[f64]> = weights.iter().map(|w| w.as_slice()).collect();
    let net = FullyConnectedNet::new(
        &hs,
        activation(&case["act"]),
        &refs,
        case["variance_in"].as_f64().unwrap(),
        case["variance_out"].as_f64().unwrap(),
        case["out_act"].as_bool().unwrap(),
    )
    .unwrap();
    (net, hs)
}

/// A uniformly random rotation matrix (from a normalized Gaussian quaternion).
pub fn random_rotation(rng: &mut Rng) -> [[f64; 3]; 3] {
    let q = [rng.normal(), rng.normal(), rng.normal(), rng.normal()];
    let n = q.iter().map(|x| x * x).sum::<f64>().sqrt();
    let [w, x, y, z] = q.map(|c| c / n);
    [
        [1.0 - 2.0 * (y * y + z * z), 2.0 * (x * y - z * w), 2.0 * (x * z + y * w)],
        [2.0 * (x * y + z * w), 1.0 - 2.0 * (x * x + z * z), 2.0 * (y * z - x * w)],
        [2.0 * (x * z - y * w), 2.0 * (y * z + x * w), 1.0 - 2.0 * (x * x + y * y)],
    ]
}

/// `count` random rotations R, each followed by the improper -R (R composed
/// with the inversion), labelled for messages.
pub fn rotations(seed: u64, count: usize) -> Vec<(String, [[f64; 3]; 3])> {
    let mut rng = Rng::new(seed);
    let mut out = vec![];
    for k in 0..count {
        let r = random_rotation(&mut rng);
        out.push((format!("rotation {k}"), r));
        out.push((format!("rotation {k} with inversion"), r.map(|row| row.map(|x| -x))));
    }
    out
}

/// Rotates every row of `x` (rows × irreps.dim()) by the library's Wigner-D
/// of the orthogonal matrix `r`: x_u ↦ D_ir(r) x_u for each copy u of each
/// irrep (for det r = -1, D carries the irrep's parity).
pub fn rotate(irreps: &Irreps, r: &[[f64; 3]; 3], x: &[f64]) -> Vec<f64> {
    let dim = irreps.dim();
    assert_eq!(x.len() % dim.max(1), 0, "rows of {irreps} have {dim} entries");
    let blocks: Vec<Vec<f64>> = irreps.iter().map(|m| m.ir.d_from_matrix(r).unwrap()).collect();
    let mut y = vec![0.0; x.len()];
    for (row, out) in x.chunks(dim).zip(y.chunks_mut(dim)) {
        let mut offset = 0;
        for (m, d) in irreps.iter().zip(&blocks) {
            let n = m.ir.dim();
            for _ in 0..m.mul {
                for i in 0..n {
                    out[offset + i] = (0..n).map(|j| d[i * n + j] * row[offset + j]).sum();
                }
                offset += n;
            }
        }
    }
    y
}

/// r v for a 3-vector.
pub fn apply(r: &[[f64; 3]; 3], v: [f64; 3]) -> [f64; 3] {
    [0, 1, 2].map(|i| r[i][0] * v[0] + r[i][1] * v[1] + r[i][2] * v[2])
}

/// max |a − b| over equal-length slices; NaN when any difference is NaN (a fold with
/// `f64::max` would drop it), so `!(err <= tol)` fails on NaN. Panics, naming `what`, when
/// the lengths differ (a missing entry).
pub fn max_abs_err(what: &str, a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len(), "{what}: {} values, the reference has {}", a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, |m, d| if m.is_nan() || d.is_nan() { f64::NAN } else { m.max(d) })
}

/// Runs `body` once per SIMD level this CPU has, each time on a fresh
/// 2-thread workspace whose kernels are held to that level
/// (`Workspace::simd_scope`): the kernels compiled for several instruction
/// sets are then all tested by a plain `cargo test`. A failure's captured
/// stderr names the level.
pub fn every_simd(body: impl Fn() + Send + Sync) {
    for level in equipot::SimdLevel::available() {
        eprintln!("SIMD level {}", level.name());
        let ws = equipot::Workspace::new(2).unwrap();
        let _scope = ws.simd_scope(level).unwrap();
        ws.run(&body);
    }
}
