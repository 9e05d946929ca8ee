//! Reading a model file's description (the "equipot" metadata and its
//! tensors) with clear errors: the pieces every architecture shares, and the
//! one place where each value read from a file is checked against
//! docs/model-format.md ("Limits" and "Reader rules").
//!
//! Every size that the code allocates from is bounded here *before* anything
//! is allocated from it; every tensor is read through [`Description::tensor`]
//! (exact shape, F32/F64, finite, bounded magnitude) and marked as used, so
//! that a tensor the architecture does not know is an error too
//! ([`Description::check_all_used`]).

use super::safetensors::SafeTensors;
use crate::nn::{Activation, Linear, LinearSpec, PathNormalization};
use crate::so3::Irreps;
use crate::{Error, Real, Result};
use serde_json::Value;
use std::cell::RefCell;
use std::collections::BTreeSet;

/// Cutoff radii a model file may have, Å (real models: 4–6 Å for SevenNet
/// and MACE, up to ~10 Å for Lennard-Jones).
pub const CUTOFF_RANGE: (f64, f64) = (1.0, 20.0);
/// Largest number of interaction blocks (SevenNet-0: 5, MACE: 2).
pub const MAX_BLOCKS: usize = 16;
/// Largest l of any irrep in a model file (spherical harmonics and
/// features; real models: 2–3).
pub const MAX_L: u32 = 8;
/// Largest multiplicity of one irrep in an irreps string (SevenNet-l3i5: 544).
pub const MAX_MULTIPLICITY: usize = 4096;
/// Largest dimension of one irreps string (SevenNet-l3i5: 7776).
pub const MAX_IRREPS_DIM: usize = 65536;
/// Terms of one irreps string ("8x0e+8x1o" has 2; real models: ≤ 4).
pub const MAX_IRREPS_TERMS: usize = 64;
/// Radial basis functions (real models: 8).
pub const MAX_BASIS: usize = 64;
/// Hidden layers of a radial MLP and the width of each (real: up to 3 × 64).
pub const MAX_HIDDEN_LAYERS: usize = 8;
pub const MAX_HIDDEN_WIDTH: usize = 1024;
/// Exponent p of a polynomial cutoff (real models: 5–6).
pub const MAX_POLYNOMIAL_P: u64 = 32;
/// Correlation order of a MACE symmetric contraction (real models: 3).
pub const MAX_CORRELATION: u64 = 4;
/// Largest magnitude of any value of a float tensor: trained weights are
/// O(1)–O(100) (the largest in the SevenNet and MACE models: 89); isolated-atom
/// energies and per-species shifts (eV) may reach ~10⁶ for heavy elements with
/// all-electron references.
pub const MAX_WEIGHT: f64 = 1e6;
pub const MAX_ENERGY: f64 = 1e7;
/// Message divisors (SevenNet's per-block `denominator`, MACE's
/// `avg_num_neighbors`; real models: 9–40).
pub const DIVISOR_RANGE: (f64, f64) = (1e-3, 1e6);

pub(super) fn format_error(what: String) -> Error {
    Error::ModelFormat(what)
}

/// Errors of the layers' constructors (invalid argument, length mismatch,
/// ...) become model-format errors when their arguments came from a file;
/// `Unsupported` (a valid file using what equipot does not implement) stays.
pub(super) fn from_file_error(e: Error) -> Error {
    match e {
        Error::ModelFormat(_) | Error::Unsupported(_) | Error::Io(_) | Error::OutOfMemory(_) => e,
        Error::InvalidArgument(why)
        | Error::LengthMismatch(why)
        | Error::UnknownElement(why)
        | Error::NullPointer(why)
        | Error::Callback(why)
        | Error::NonFinite(why)
        | Error::Internal(why) => Error::ModelFormat(why),
    }
}

/// "a", "b" or "c" for messages.
fn one_of(allowed: &[&str]) -> String {
    allowed.iter().map(|a| format!("{a:?}")).collect::<Vec<_>>().join(", ")
}

/// `value` must be a string among `allowed`; `key` names it in the message.
pub(super) fn enum_str<'v>(key: &str, value: Option<&'v Value>, allowed: &[&str]) -> Result<&'v str> {
    match value.and_then(Value::as_str) {
        Some(s) if allowed.contains(&s) => Ok(s),
        Some(s) => Err(format_error(format!("\"{key}\" is {s:?}; allowed: {}", one_of(allowed)))),
        None => Err(format_error(format!(
            "\"{key}\" must be a string, one of {} (found {})",
            one_of(allowed),
            value.map_or("nothing".to_string(), Value::to_string)
        ))),
    }
}

/// An integer `value` in `lo..=hi`.
pub(super) fn int_in(key: &str, value: Option<&Value>, lo: u64, hi: u64) -> Result<usize> {
    match value.and_then(Value::as_u64) {
        Some(x) if (lo..=hi).contains(&x) => Ok(x as usize),
        _ => Err(format_error(format!(
            "\"{key}\" must be an integer in {lo}..={hi}, found {}",
            value.map_or("nothing".to_string(), Value::to_string)
        ))),
    }
}

/// A number `value` in `[lo, hi]`.
pub(super) fn number_in(key: &str, value: Option<&Value>, lo: f64, hi: f64) -> Result<f64> {
    match value.and_then(Value::as_f64) {
        Some(x) if x >= lo && x <= hi => Ok(x),
        _ => Err(format_error(format!(
            "\"{key}\" must be a number in [{lo}, {hi}], found {}",
            value.map_or("nothing".to_string(), Value::to_string)
        ))),
    }
}

/// A boolean `value`.
pub(super) fn boolean(key: &str, value: Option<&Value>) -> Result<bool> {
    value.and_then(Value::as_bool).ok_or_else(|| {
        format_error(format!("\"{key}\" must be true or false, found {}", value.map_or("nothing".to_string(), Value::to_string)))
    })
}

/// An irreps string within the limits (1..=MAX_IRREPS_TERMS terms, l ≤
/// MAX_L, multiplicities 1..=MAX_MULTIPLICITY, dimension ≤ MAX_IRREPS_DIM).
pub(super) fn irreps(key: &str, value: Option<&Value>) -> Result<Irreps> {
    let text = value.and_then(Value::as_str).ok_or_else(|| format_error(format!("\"{key}\" must be an irreps string")))?;
    if !text.is_ascii() {
        return Err(format_error(format!("\"{key}\": {text:?} is not an irreps string")));
    }
    let irreps = Irreps::parse(text).map_err(|e| format_error(format!("\"{key}\": {e}")))?;
    if irreps.is_empty() || irreps.len() > MAX_IRREPS_TERMS {
        return Err(format_error(format!("\"{key}\" has {} terms; it must have 1..={MAX_IRREPS_TERMS}", irreps.len())));
    }
    for m in irreps.iter() {
        if m.ir.l > MAX_L || !(1..=MAX_MULTIPLICITY).contains(&m.mul) {
            return Err(format_error(format!(
                "\"{key}\": {}x{} is out of bounds (l ≤ {MAX_L}, multiplicity 1..={MAX_MULTIPLICITY})",
                m.mul, m.ir
            )));
        }
    }
    if irreps.dim() > MAX_IRREPS_DIM {
        return Err(format_error(format!("\"{key}\": {text} has dimension {} > {MAX_IRREPS_DIM}", irreps.dim())));
    }
    Ok(irreps)
}

/// The species table of a model file: atomic numbers in type-index order,
/// the cutoff, and the type index of each atomic number (-1: unknown).
pub(super) struct Species {
    pub species: Vec<i32>,
    pub cutoff: f64,
    pub type_of: Vec<i32>,
}

impl Species {
    /// `species`: a non-empty list of distinct atomic numbers 1..=118;
    /// `cutoff`: a number of Å in CUTOFF_RANGE; `units`, when present,
    /// Å and eV.
    pub fn from_meta(meta: &Value) -> Result<Species> {
        let max = crate::graph::MAX_ATOMIC_NUMBER;
        let list = meta
            .get("species")
            .and_then(Value::as_array)
            .filter(|a| !a.is_empty())
            .ok_or_else(|| format_error("\"species\" must be a non-empty list of atomic numbers".into()))?;
        let mut type_of = vec![-1; max as usize + 1];
        let mut species = Vec::with_capacity(list.len());
        for (k, z) in list.iter().enumerate() {
            let z = z
                .as_i64()
                .filter(|z| (1..=max as i64).contains(z))
                .ok_or_else(|| format_error(format!("\"species\"[{k}] is {z}, not an atomic number in 1..={max}")))?;
            if type_of[z as usize] >= 0 {
                return Err(format_error(format!(
                    "\"species\" lists atomic number {z} twice (at {} and {k})",
                    type_of[z as usize]
                )));
            }
            type_of[z as usize] = k as i32;
            species.push(z as i32);
        }
        let cutoff = number_in("cutoff", meta.get("cutoff"), CUTOFF_RANGE.0, CUTOFF_RANGE.1)?;
        if let Some(units) = meta.get("units") {
            enum_str("units.length", units.get("length"), &["angstrom"])?;
            enum_str("units.energy", units.get("energy"), &["eV"])?;
        }
        Ok(Species { species, cutoff, type_of })
    }
}

/// The model-file description, read and checked.
pub(super) struct Description<'a> {
    pub meta: &'a Value,
    pub tensors: &'a SafeTensors,
    /// The tensors read so far.
    used: RefCell<BTreeSet<String>>,
}

impl<'a> Description<'a> {
    /// The description of a learned architecture: `flavor` and `tensor_names`
    /// must be the ones it reads.
    pub fn new(meta: &'a Value, tensors: &'a SafeTensors, flavor: &str, tensor_names: &str) -> Result<Self> {
        enum_str("flavor", meta.get("flavor"), &[flavor])?;
        enum_str("tensor_names", meta.get("tensor_names"), &[tensor_names])?;
        meta.get("hyperparameters")
            .filter(|h| h.is_object())
            .ok_or_else(|| format_error("no \"hyperparameters\" object".into()))?;
        Ok(Description { meta, tensors, used: RefCell::default() })
    }

    pub fn hyper(&self, key: &str) -> Result<&'a Value> {
        self.meta
            .get("hyperparameters")
            .and_then(|h| h.get(key))
            .ok_or_else(|| format_error(format!("hyperparameters lack \"{key}\"")))
    }
    pub fn hyper_opt(&self, key: &str) -> Option<&'a Value> {
        self.meta.get("hyperparameters").and_then(|h| h.get(key))
    }
    /// An integer hyperparameter in `lo..=hi`.
    pub fn int(&self, key: &str, lo: u64, hi: u64) -> Result<usize> {
        int_in(key, Some(self.hyper(key)?), lo, hi)
    }
    pub fn boolean(&self, key: &str) -> Result<bool> {
        boolean(key, Some(self.hyper(key)?))
    }
    pub fn enum_str(&self, key: &str, allowed: &[&str]) -> Result<&'a str> {
        enum_str(key, Some(self.hyper(key)?), allowed)
    }
    pub fn irreps(&self, key: &str) -> Result<Irreps> {
        irreps(key, Some(self.hyper(key)?))
    }
    /// A hyperparameter list of exactly `n` entries.
    pub fn list(&self, key: &str, n: usize) -> Result<&'a Vec<Value>> {
        self.hyper(key)?
            .as_array()
            .filter(|a| a.len() == n)
            .ok_or_else(|| format_error(format!("\"{key}\" must be a list of {n} entries")))
    }
    /// A list of `n` irreps strings.
    pub fn irreps_list(&self, key: &str, n: usize) -> Result<Vec<Irreps>> {
        let list = self.list(key, n)?;
        list.iter().enumerate().map(|(k, v)| irreps(&format!("{key}[{k}]"), Some(v))).collect()
    }
    /// The radial MLP's hidden widths.
    pub fn hidden_widths(&self, key: &str) -> Result<Vec<usize>> {
        let list = self
            .hyper(key)?
            .as_array()
            .filter(|a| a.len() <= MAX_HIDDEN_LAYERS)
            .ok_or_else(|| format_error(format!("\"{key}\" must be a list of at most {MAX_HIDDEN_LAYERS} widths")))?;
        list.iter()
            .enumerate()
            .map(|(k, h)| int_in(&format!("{key}[{k}]"), Some(h), 1, MAX_HIDDEN_WIDTH as u64))
            .collect()
    }
    /// The activation called `name` (from key `key`), whose e3nn
    /// normalization constant the file must store, equal to ours.
    pub fn activation(&self, key: &str, name: Option<&Value>) -> Result<Activation> {
        let name = enum_str(key, name, &["silu", "tanh", "abs", "sigmoid", "ssp", "relu"])?;
        let act = Activation::from_name(name)?;
        let stored = self
            .meta
            .pointer(&format!("/constants/normalize2mom/{name}"))
            .and_then(Value::as_f64)
            .ok_or_else(|| format_error(format!("activation {name:?} has no constants.normalize2mom.{name} number")))?;
        let ours = act.second_moment_constant();
        if !(((ours - stored) / ours).abs() <= 1e-12) {
            return Err(format_error(format!(
                "normalize2mom[{name}] is {stored} in the file but {ours} by e3nn's definition"
            )));
        }
        Ok(act)
    }

    /// A float tensor of exactly `shape`, every value finite with |x| ≤
    /// MAX_WEIGHT; marked as used.
    pub fn tensor(&self, name: &str, shape: &[usize]) -> Result<Vec<f64>> {
        self.tensor_bounded(name, shape, MAX_WEIGHT)
    }
    /// An energy tensor (eV: isolated-atom energies, shifts): |x| ≤ MAX_ENERGY.
    pub fn energy_tensor(&self, name: &str, shape: &[usize]) -> Result<Vec<f64>> {
        self.tensor_bounded(name, shape, MAX_ENERGY)
    }
    /// A one-value message divisor within DIVISOR_RANGE.
    pub fn divisor(&self, name: &str) -> Result<f64> {
        let x = self.tensor(name, &[1])?[0];
        check_divisor(name, x)
    }
    /// A float tensor whose shape matches `pattern` (None: any size there),
    /// with the shape found.
    pub fn tensor_like(&self, name: &str, pattern: &[Option<usize>]) -> Result<(Vec<f64>, Vec<usize>)> {
        let shape = self.tensors.shape(name)?.to_vec();
        if shape.len() != pattern.len() || shape.iter().zip(pattern).any(|(s, p)| p.is_some_and(|p| p != *s)) {
            let want: Vec<String> = pattern.iter().map(|p| p.map_or("*".into(), |p| p.to_string())).collect();
            return Err(format_error(format!("tensor {name:?} has shape {shape:?}, expected [{}]", want.join(", "))));
        }
        Ok((self.tensor_bounded(name, &shape, MAX_WEIGHT)?, shape))
    }
    fn tensor_bounded(&self, name: &str, shape: &[usize], bound: f64) -> Result<Vec<f64>> {
        self.used.borrow_mut().insert(name.to_string());
        let values = self.tensors.f64_shaped(name, shape)?;
        if let Some(k) = values.iter().position(|x| x.abs() > bound) {
            return Err(format_error(format!(
                "tensor {name:?} holds {:?} at flat index {k}, beyond the bound |x| ≤ {bound:e}",
                values[k]
            )));
        }
        Ok(values)
    }
    /// An I64 tensor of exactly `shape`; marked as used.
    pub fn index_tensor(&self, name: &str, shape: Option<&[usize]>) -> Result<Vec<i64>> {
        self.used.borrow_mut().insert(name.to_string());
        let (values, actual) = self.tensors.i64(name)?;
        if shape.is_some_and(|s| s != actual) || actual.len() != 1 {
            let want = shape.map_or("one dimension".to_string(), |s| format!("{s:?}"));
            return Err(format_error(format!("tensor {name:?} has shape {actual:?}, expected {want}")));
        }
        Ok(values)
    }
    /// Every tensor of the file must have been read.
    pub fn check_all_used(&self) -> Result<()> {
        let used = self.used.borrow();
        match self.tensors.names().find(|n| !used.contains(*n)) {
            Some(name) => Err(format_error(format!("unexpected tensor {name:?} for this architecture"))),
            None => Ok(()),
        }
    }

    /// An e3nn `Linear` without biases whose weight is the tensor
    /// `weight_name`, of shape [number of weights].
    pub fn linear_weight<T: Real>(&self, weight_name: &str, irreps_in: &Irreps, irreps_out: &Irreps) -> Result<Linear<T>> {
        let spec = LinearSpec::new(irreps_in, irreps_out, None, false, PathNormalization::Element)?;
        let weight = self.tensor(weight_name, &[spec.weight_numel()])?;
        Linear::new(&spec, &weight, &[])
    }
    /// sevenn's naming: module `name` holds `name.linear.weight`.
    pub fn linear<T: Real>(&self, name: &str, irreps_in: &Irreps, irreps_out: &Irreps) -> Result<Linear<T>> {
        self.linear_weight(&format!("{name}.linear.weight"), irreps_in, irreps_out)
    }
}

/// The file's `modals` (distinct non-empty names; none: an empty list) and
/// `default_modal` (null or one of them).
pub(super) fn read_modals(meta: &Value) -> Result<(Vec<String>, Option<String>)> {
    let modals: Vec<String> = match meta.get("modals") {
        None => Vec::new(),
        Some(Value::Array(a)) => a
            .iter()
            .map(|m| m.as_str().filter(|m| !m.is_empty()).map(String::from))
            .collect::<Option<_>>()
            .ok_or_else(|| format_error("\"modals\" must be a list of non-empty strings".into()))?,
        Some(other) => return Err(format_error(format!("\"modals\" must be a list of strings, found {other}"))),
    };
    if let Some(m) = modals.iter().enumerate().find_map(|(k, m)| modals[..k].contains(m).then_some(m)) {
        return Err(format_error(format!("\"modals\" lists {m:?} twice")));
    }
    let default_modal = match meta.get("default_modal") {
        None | Some(Value::Null) => None,
        Some(Value::String(m)) if modals.contains(m) => Some(m.clone()),
        Some(other) => return Err(format_error(format!("\"default_modal\" is {other}: it must be null or one of {modals:?}"))),
    };
    Ok((modals, default_modal))
}

/// The index of the modal the caller asks for (None: the file's default)
/// among `modals`; an unknown or missing modal is the caller's error, naming
/// the model's modals. A model without modals takes none.
pub(super) fn select_modal(modals: &[String], default_modal: Option<&str>, modal: Option<&str>) -> Result<Option<usize>> {
    if modals.is_empty() {
        return match modal {
            Some(m) => Err(Error::InvalidArgument(format!("modal {m:?} given, but this model has none"))),
            None => Ok(None),
        };
    }
    let name = modal
        .or(default_modal)
        .ok_or_else(|| Error::InvalidArgument(format!("this model needs a modal, one of {modals:?}")))?;
    let index = modals.iter().position(|m| m == name);
    Ok(Some(index.ok_or_else(|| Error::InvalidArgument(format!("unknown modal {name:?}: this model has {modals:?}")))?))
}

/// A message divisor (SevenNet's denominator, MACE's avg_num_neighbors)
/// within DIVISOR_RANGE.
pub(super) fn check_divisor(what: &str, x: f64) -> Result<f64> {
    if !(x >= DIVISOR_RANGE.0 && x <= DIVISOR_RANGE.1) {
        return Err(format_error(format!(
            "{what} is {x:?}; a message divisor must lie in [{:e}, {:e}]",
            DIVISOR_RANGE.0, DIVISOR_RANGE.1
        )));
    }
    Ok(x)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn species_are_distinct_atomic_numbers() {
        let ok = json!({"species": [8, 1], "cutoff": 5});
        let s = Species::from_meta(&ok).unwrap();
        assert_eq!((s.species.as_slice(), s.cutoff, s.type_of[1], s.type_of[8]), (&[8, 1][..], 5.0, 1, 0));
        for (meta, needle) in [
            (json!({"species": [1, 1], "cutoff": 5}), "twice"),
            (json!({"species": [0], "cutoff": 5}), "not an atomic number"),
            (json!({"species": [119], "cutoff": 5}), "not an atomic number"),
            (json!({"species": [1.5], "cutoff": 5}), "not an atomic number"),
            (json!({"species": [], "cutoff": 5}), "non-empty"),
            (json!({"species": [1], "cutoff": 1e6}), "\"cutoff\" must be a number in [1, 20]"),
            (json!({"species": [1], "cutoff": -1}), "cutoff"),
            (json!({"species": [1], "cutoff": "5"}), "cutoff"),
            (json!({"species": [1], "cutoff": 5, "units": {"length": "nm", "energy": "eV"}}), "\"units.length\" is \"nm\"; allowed: \"angstrom\""),
        ] {
            let e = Species::from_meta(&meta).err().unwrap();
            assert!(matches!(e, Error::ModelFormat(_)) && e.to_string().contains(needle), "{meta}: {e}");
        }
    }

    #[test]
    fn irreps_are_bounded() {
        assert_eq!(irreps("x", Some(&json!("8x0e+8x1o"))).unwrap().dim(), 32);
        for bad in ["9x9e", "0x0e", "5000x0e", "4096x8e+4096x8o", "1x0é", "x", "1e+"] {
            let e = irreps("x", Some(&json!(bad))).err().unwrap();
            assert!(matches!(e, Error::ModelFormat(_)), "{bad}: {e}");
        }
    }
}
