//! The comparisons of numeric results that tests share: each fails on a NaN
//! (anywhere, in either array) and on arrays of different lengths, so a
//! missing or poisoned output can never pass as "within tolerance".
#![allow(dead_code)]

/// max |got − want|, after checking that both hold the same number of finite values.
pub fn max_abs_diff(what: &str, got: &[f64], want: &[f64]) -> f64 {
    assert_eq!(got.len(), want.len(), "{what}: {} values, expected {}", got.len(), want.len());
    assert!(!want.is_empty() || got.is_empty(), "{what}: nothing to compare");
    if let Some(i) = got.iter().position(|x| !x.is_finite()) {
        panic!("{what}: value {i} is {} (expected {})", got[i], want[i]);
    }
    if let Some(i) = want.iter().position(|x| !x.is_finite()) {
        panic!("{what}: the reference's value {i} is {}", want[i]);
    }
    got.iter().zip(want).map(|(a, b)| (a - b).abs()).fold(0.0, f64::max)
}

/// max |v|, after checking every value is finite.
pub fn max_abs(what: &str, v: &[f64]) -> f64 {
    if let Some(i) = v.iter().position(|x| !x.is_finite()) {
        panic!("{what}: value {i} is {}", v[i]);
    }
    v.iter().fold(0.0, |m, x| m.max(x.abs()))
}

/// Asserts max |got − want| ≤ tol; returns it.
pub fn assert_abs(what: &str, got: &[f64], want: &[f64], tol: f64) -> f64 {
    let d = max_abs_diff(what, got, want);
    assert!(d <= tol, "{what}: max |Δ| = {d:.3e} > {tol:e}");
    d
}

/// Asserts max |got − want| ≤ tol · max(max |want|, floor); returns the
/// relative difference.
pub fn assert_rel(what: &str, got: &[f64], want: &[f64], tol: f64, floor: f64) -> f64 {
    let d = max_abs_diff(what, got, want) / max_abs(what, want).max(floor);
    assert!(d <= tol, "{what}: max relative |Δ| = {d:.3e} > {tol:e}");
    d
}

/// Rows of three as one flat array.
pub fn flat<const N: usize>(rows: &[[f64; N]]) -> Vec<f64> {
    rows.iter().flatten().copied().collect()
}
