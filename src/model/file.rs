//! Loading a model from a file: read the JSON description, check the format
//! version, dispatch on the architecture.
//!
//! For now the only loadable architecture is "lennard-jones", stored as a
//! small JSON file:
//!
//! ```json
//! {"equipot": {"format_version": "1.0", "architecture": "lennard-jones",
//!              "species": [18], "cutoff": 8.5,
//!              "epsilon": [[0.0104]], "sigma": [[3.4]]}}
//! ```
//!
//! Learned architectures (safetensors files whose metadata holds the same
//! "equipot" object) plug in here as further arms of `load`.

use super::safetensors::SafeTensors;
use super::{LennardJones, Model};
use crate::{Error, Result};
use serde_json::Value;
use std::path::Path;

/// Major version of the model-file format this library reads.
pub const FORMAT_MAJOR: u64 = 1;

/// Loads the model stored at `path`: a safetensors model file, or a JSON
/// description for analytic models. A multi-fidelity model runs its default
/// modal; see [`load_modal`].
pub fn load(path: impl AsRef<Path>) -> Result<Model> {
    load_modal(path, None)
}

/// Loads a model, choosing the fidelity head (`modal`, e.g. "PBE") of a
/// multi-fidelity model; `None` takes the file's default.
/// Loading runs on the calling thread only.
pub fn load_modal(path: impl AsRef<Path>, modal: Option<&str>) -> Result<Model> {
    let path = path.as_ref();
    crate::backend::cpu::on_current_thread(|| load_on_this_thread(path, modal))
}

fn load_on_this_thread(path: &Path, modal: Option<&str>) -> Result<Model> {
    let bytes = std::fs::read(path).map_err(|e| Error::Io(format!("cannot read {}: {e}", path.display())))?;
    let (meta, tensors) = if bytes.first() == Some(&b'{') {
        let root: Value = serde_json::from_slice(&bytes)
            .map_err(|e| format_error(path, &format!("not a JSON model description ({e})")))?;
        let meta = root.get("equipot").cloned().ok_or_else(|| format_error(path, "no top-level \"equipot\" object"))?;
        (meta, None)
    } else {
        let tensors = SafeTensors::parse(bytes).map_err(|e| {
            let why = match e {
                Error::ModelFormat(why) => why,
                other => other.to_string(),
            };
            format_error(path, &format!("neither a JSON model description nor a valid safetensors file: {why}"))
        })?;
        let text = tensors
            .metadata
            .get("equipot")
            .ok_or_else(|| format_error(path, "not an equipot model file (no \"equipot\" metadata)"))?;
        let meta: Value = serde_json::from_str(text)
            .map_err(|e| format_error(path, &format!("the \"equipot\" metadata is not valid JSON ({e})")))?;
        (meta, Some(tensors))
    };
    check_format_version(path, &meta)?;
    let architecture = meta
        .get("architecture")
        .and_then(Value::as_str)
        .ok_or_else(|| format_error(path, "no \"architecture\" string"))?;
    match (architecture, &tensors) {
        ("lennard-jones", _) => match modal {
            Some(m) => Err(Error::InvalidArgument(format!("{}: modal {m:?} given, but this model has none", path.display()))),
            None => lennard_jones(path, &meta),
        },
        ("nequip", Some(tensors)) => super::nequip::Nequip::from_file(&meta, tensors, modal)
            .map(Model::new)
            .map_err(|e| match e {
                Error::ModelFormat(why) => format_error(path, &why),
                other => other,
            }),
        ("nequip", None) => Err(format_error(path, "a \"nequip\" model needs its weights: a safetensors file, not JSON")),
        ("mace", Some(tensors)) => match modal {
            Some(m) => Err(Error::InvalidArgument(format!("{}: modal {m:?} given, but this model has none", path.display()))),
            None => super::mace::Mace::from_file(&meta, tensors).map(Model::new).map_err(|e| match e {
                Error::ModelFormat(why) => format_error(path, &why),
                other => other,
            }),
        },
        ("mace", None) => Err(format_error(path, "a \"mace\" model needs its weights: a safetensors file, not JSON")),
        (other, _) => Err(format_error(
            path,
            &format!("architecture \"{other}\" cannot be loaded by this version of equipot (it loads: lennard-jones, nequip, mace)"),
        )),
    }
}

fn format_error(path: &Path, what: &str) -> Error {
    Error::ModelFormat(format!("{}: {what}", path.display()))
}

fn check_format_version(path: &Path, meta: &Value) -> Result<()> {
    let version = meta
        .get("format_version")
        .and_then(Value::as_str)
        .ok_or_else(|| format_error(path, "no \"format_version\" string"))?;
    let major = version.split('.').next().and_then(|m| m.parse::<u64>().ok());
    match major {
        Some(FORMAT_MAJOR) => Ok(()),
        Some(m) if m > FORMAT_MAJOR => Err(format_error(
            path,
            &format!("format version {version} is newer than this library reads ({FORMAT_MAJOR}.x): upgrade equipot"),
        )),
        _ => Err(format_error(path, &format!("unsupported format version \"{version}\""))),
    }
}

fn lennard_jones(path: &Path, meta: &Value) -> Result<Model> {
    let field = |name: &str| meta.get(name).ok_or_else(|| format_error(path, &format!("no \"{name}\"")));
    let species: Vec<i32> = field("species")?
        .as_array()
        .and_then(|a| a.iter().map(|z| z.as_i64().and_then(|z| i32::try_from(z).ok())).collect())
        .ok_or_else(|| format_error(path, "\"species\" must be a list of atomic numbers"))?;
    let cutoff = field("cutoff")?
        .as_f64()
        .ok_or_else(|| format_error(path, "\"cutoff\" must be a number (Å)"))?;
    let matrix = |name: &str| -> Result<Vec<f64>> {
        let rows = field(name)?.as_array().filter(|rows| rows.len() == species.len());
        let flat: Option<Vec<f64>> = rows.and_then(|rows| {
            rows.iter()
                .map(|row| row.as_array().filter(|r| r.len() == species.len()))
                .collect::<Option<Vec<_>>>()
                .and_then(|rows| rows.into_iter().flatten().map(Value::as_f64).collect())
        });
        let n = species.len();
        flat.ok_or_else(|| format_error(path, &format!("\"{name}\" must be a {n}×{n} matrix of numbers")))
    };
    let (epsilon, sigma) = (matrix("epsilon")?, matrix("sigma")?);
    Ok(Model::new(LennardJones::new(&species, &epsilon, &sigma, cutoff)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(name: &str, text: &str) -> std::path::PathBuf {
        let path = std::env::temp_dir().join(format!("equipot-file-{}-{name}.json", std::process::id()));
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn loads_lennard_jones() {
        let path = write(
            "lj",
            r#"{"equipot": {"format_version": "1.0", "architecture": "lennard-jones",
                "species": [18, 36], "cutoff": 8.5,
                "epsilon": [[0.0104, 0.014], [0.014, 0.017]], "sigma": [[3.4, 3.5], [3.5, 3.6]]}}"#,
        );
        let model = load(&path).unwrap();
        assert_eq!(model.architecture(), "lennard-jones");
        assert_eq!(model.species(), &[18, 36]);
        assert_eq!(model.cutoff(), 8.5);
        assert_eq!(model.n_layers(), 1);
    }

    #[test]
    fn rejects_bad_files_clearly() {
        let cases = [
            ("garbage", "not json", "nor a valid safetensors file"),
            ("noroot", r#"{"x": 1}"#, "\"equipot\""),
            ("newer", r#"{"equipot": {"format_version": "2.0", "architecture": "lennard-jones"}}"#, "newer"),
            ("arch", r#"{"equipot": {"format_version": "1.0", "architecture": "nequip"}}"#, "\"nequip\""),
            (
                "shape",
                r#"{"equipot": {"format_version": "1.0", "architecture": "lennard-jones",
                    "species": [18], "cutoff": 8.5, "epsilon": [[1, 2]], "sigma": [[3.4]]}}"#,
                "1×1 matrix",
            ),
        ];
        for (name, text, needle) in cases {
            let message = load(write(name, text)).err().expect(name).to_string();
            assert!(message.contains(needle), "{name}: {message}");
            assert!(message.starts_with("model file error"), "{name}: {message}");
        }
        let missing = load("/nonexistent/model.json").err().unwrap();
        assert!(matches!(missing, Error::Io(_)), "{missing}");
    }
}
