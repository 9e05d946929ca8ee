//! Reading a model file's description (the "equipot" metadata and its
//! tensors) with clear errors: the pieces every learned architecture shares.

use super::safetensors::SafeTensors;
use crate::nn::{Activation, Linear, LinearSpec, PathNormalization};
use crate::so3::Irreps;
use crate::{Error, Real, Result};
use serde_json::Value;

/// The model-file description, read and checked.
pub(super) struct Description<'a> {
    pub meta: &'a Value,
    pub tensors: &'a SafeTensors,
}

pub(super) fn format_error(what: String) -> Error {
    Error::ModelFormat(what)
}

/// The species table of a model file: atomic numbers in type-index order,
/// the cutoff, and the type index of each atomic number (-1: unknown).
pub(super) struct Species {
    pub species: Vec<i32>,
    pub cutoff: f64,
    pub type_of: Vec<i32>,
}

impl Species {
    pub fn from_meta(meta: &Value) -> Result<Species> {
        let species: Vec<i32> = meta
            .get("species")
            .and_then(Value::as_array)
            .and_then(|a| a.iter().map(|z| z.as_i64().and_then(|z| i32::try_from(z).ok())).collect())
            .ok_or_else(|| format_error("\"species\" must be a list of atomic numbers".into()))?;
        let cutoff = meta.get("cutoff").and_then(Value::as_f64).ok_or_else(|| format_error("no numeric \"cutoff\"".into()))?;
        let mut type_of = vec![-1; crate::graph::MAX_ATOMIC_NUMBER as usize + 1];
        for (k, &z) in species.iter().enumerate() {
            let slot = usize::try_from(z).ok().and_then(|z| type_of.get_mut(z));
            *slot.ok_or_else(|| format_error(format!("species holds atomic number {z}")))? = k as i32;
        }
        Ok(Species { species, cutoff, type_of })
    }
}

impl<'a> Description<'a> {
    pub fn hyper(&self, key: &str) -> Result<&'a Value> {
        self.meta
            .get("hyperparameters")
            .and_then(|h| h.get(key))
            .ok_or_else(|| format_error(format!("hyperparameters lack \"{key}\"")))
    }
    pub fn usize(&self, key: &str) -> Result<usize> {
        self.hyper(key)?.as_u64().map(|x| x as usize).ok_or_else(|| format_error(format!("\"{key}\" must be an integer")))
    }
    pub fn irreps_list(&self, key: &str) -> Result<Vec<Irreps>> {
        self.hyper(key)?
            .as_array()
            .ok_or_else(|| format_error(format!("\"{key}\" must be a list of irreps")))?
            .iter()
            .map(|v| v.as_str().ok_or_else(|| format_error(format!("\"{key}\" must hold strings"))).and_then(Irreps::parse))
            .collect()
    }
    pub fn activation(&self, name: &str) -> Result<Activation> {
        let act = Activation::from_name(name)?;
        // The file stores e3nn's normalization constant; ours must agree.
        if let Some(stored) = self.meta.pointer(&format!("/constants/normalize2mom/{name}")).and_then(Value::as_f64) {
            let ours = act.second_moment_constant();
            if ((ours - stored) / stored).abs() > 1e-12 {
                return Err(format_error(format!(
                    "normalize2mom[{name}] is {stored} in the file but {ours} by e3nn's definition"
                )));
            }
        }
        Ok(act)
    }
    pub fn tensor(&self, name: &str, numel: usize) -> Result<Vec<f64>> {
        let (values, shape) = self.tensors.f64(name)?;
        if values.len() != numel {
            return Err(format_error(format!("tensor {name:?} has shape {shape:?}, expected {numel} values")));
        }
        Ok(values)
    }
    /// An e3nn `Linear` without biases whose weight is the tensor `weight_name`.
    pub fn linear_weight<T: Real>(&self, weight_name: &str, irreps_in: &Irreps, irreps_out: &Irreps) -> Result<Linear<T>> {
        let spec = LinearSpec::new(irreps_in, irreps_out, None, false, PathNormalization::Element)?;
        let weight = self.tensor(weight_name, spec.weight_numel())?;
        Linear::new(&spec, &weight, &[])
    }
    /// sevenn's naming: module `name` holds `name.linear.weight`.
    pub fn linear<T: Real>(&self, name: &str, irreps_in: &Irreps, irreps_out: &Irreps) -> Result<Linear<T>> {
        self.linear_weight(&format!("{name}.linear.weight"), irreps_in, irreps_out)
    }
}
