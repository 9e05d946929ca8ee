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

use super::description::{from_file_error, Species, CUTOFF_RANGE};
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
///
/// Errors: `Error::Io` when the file cannot be read; `Error::ModelFormat`
/// when it is not a model file of a format this library reads, or breaks a
/// rule of docs/model-format.md (truncated, corrupted, inconsistent, a value
/// outside its documented range); `Error::Unsupported` when it is a valid
/// model file using a feature equipot does not implement (listed in
/// docs/model-format.md); `Error::InvalidArgument` for a `modal` the model
/// does not have.
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
    load_bytes(bytes, &path.display().to_string(), modal)
}

/// Loads a model from the bytes of a model file; `source` names it in error
/// messages (a path, or anything). The same rules as [`load_modal`].
pub fn load_bytes(bytes: Vec<u8>, source: &str, modal: Option<&str>) -> Result<Model> {
    read_model(bytes, modal).map_err(|e| match e {
        Error::ModelFormat(why) => Error::ModelFormat(format!("{source}: {why}")),
        Error::Unsupported(why) => Error::Unsupported(format!("{source}: {why}")),
        Error::InvalidArgument(why) => Error::InvalidArgument(format!("{source}: {why}")),
        other => other,
    })
}

fn read_model(bytes: Vec<u8>, modal: Option<&str>) -> Result<Model> {
    let (meta, tensors) = if bytes.first() == Some(&b'{') {
        let root: Value = serde_json::from_slice(&bytes)
            .map_err(|e| format_error(&format!("not a JSON model description ({e})")))?;
        let meta = root.get("equipot").cloned().ok_or_else(|| format_error("no top-level \"equipot\" object"))?;
        (meta, None)
    } else {
        let tensors = SafeTensors::parse(bytes).map_err(|e| {
            let why = match e {
                Error::ModelFormat(why) => why,
                other => other.to_string(),
            };
            format_error(&format!("neither a JSON model description nor a valid safetensors file: {why}"))
        })?;
        let text = tensors
            .metadata
            .get("equipot")
            .ok_or_else(|| format_error("not an equipot model file (no \"equipot\" metadata)"))?;
        let meta: Value = serde_json::from_str(text)
            .map_err(|e| format_error(&format!("the \"equipot\" metadata is not valid JSON ({e})")))?;
        (meta, Some(tensors))
    };
    if !meta.is_object() {
        return Err(format_error("the \"equipot\" description is not a JSON object"));
    }
    check_format_version(&meta)?;
    let architecture = meta.get("architecture").and_then(Value::as_str).ok_or_else(|| format_error("no \"architecture\" string"))?.to_string();
    let no_modal = || match modal {
        Some(m) => Err(Error::InvalidArgument(format!("modal {m:?} given, but this model has none"))),
        None => Ok(()),
    };
    match (architecture.as_str(), tensors) {
        ("lennard-jones", None) => {
            no_modal()?;
            lennard_jones(&meta)
        }
        ("lennard-jones", Some(_)) => Err(format_error("a \"lennard-jones\" model is a JSON description, not a safetensors file")),
        ("nequip", Some(tensors)) => super::nequip::Nequip::load(meta, tensors, modal).map(Model::new),
        ("nequip", None) => Err(format_error("a \"nequip\" model needs its weights: a safetensors file, not JSON")),
        ("mace", Some(tensors)) => super::mace::Mace::load(meta, tensors, modal).map(Model::new),
        ("mace", None) => Err(format_error("a \"mace\" model needs its weights: a safetensors file, not JSON")),
        (other, _) => Err(format_error(&format!(
            "architecture \"{other}\" cannot be loaded by this version of equipot (it loads: lennard-jones, nequip, mace)"
        ))),
    }
}

fn format_error(what: &str) -> Error {
    Error::ModelFormat(what.to_string())
}

/// `format_version` is "MAJOR.MINOR" (integers); MAJOR must be this
/// library's; any MINOR of it is read (newer minors only add optional keys).
fn check_format_version(meta: &Value) -> Result<()> {
    let version =
        meta.get("format_version").and_then(Value::as_str).ok_or_else(|| format_error("no \"format_version\" string"))?;
    let parsed = version.split_once('.').and_then(|(major, minor)| {
        let number = |s: &str| (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse::<u64>().ok()).flatten();
        Some((number(major)?, number(minor)?))
    });
    match parsed {
        Some((FORMAT_MAJOR, _)) => Ok(()),
        Some((m, _)) if m > FORMAT_MAJOR => Err(format_error(&format!(
            "format version {version} is newer than this library reads ({FORMAT_MAJOR}.x): upgrade equipot"
        ))),
        Some(_) => Err(format_error(&format!("unsupported format version \"{version}\""))),
        None => Err(format_error(&format!("format_version \"{version}\" is not \"MAJOR.MINOR\""))),
    }
}

/// Bounds of a Lennard-Jones file's parameters: |ε| ≤ 10 eV, 0 < σ ≤ 20 Å.
const LJ_MAX_EPSILON: f64 = 10.0;

fn lennard_jones(meta: &Value) -> Result<Model> {
    let field = |name: &str| meta.get(name).ok_or_else(|| format_error(&format!("no \"{name}\"")));
    let Species { species, cutoff, .. } = Species::from_meta(meta)?;
    let matrix = |name: &str| -> Result<Vec<f64>> {
        let rows = field(name)?.as_array().filter(|rows| rows.len() == species.len());
        let flat: Option<Vec<f64>> = rows.and_then(|rows| {
            rows.iter()
                .map(|row| row.as_array().filter(|r| r.len() == species.len()))
                .collect::<Option<Vec<_>>>()
                .and_then(|rows| rows.into_iter().flatten().map(Value::as_f64).collect())
        });
        let n = species.len();
        flat.ok_or_else(|| format_error(&format!("\"{name}\" must be a {n}×{n} matrix of numbers")))
    };
    let (epsilon, sigma) = (matrix("epsilon")?, matrix("sigma")?);
    if let Some(e) = epsilon.iter().find(|e| !(e.abs() <= LJ_MAX_EPSILON)) {
        return Err(format_error(&format!("\"epsilon\" holds {e:?} eV; |ε| must be at most {LJ_MAX_EPSILON} eV")));
    }
    if let Some(s) = sigma.iter().find(|s| !(**s > 0.0 && **s <= CUTOFF_RANGE.1)) {
        return Err(format_error(&format!("\"sigma\" holds {s:?} Å; σ must lie in (0, {}] Å", CUTOFF_RANGE.1)));
    }
    let lj = LennardJones::new(&species, &epsilon, &sigma, cutoff).map_err(from_file_error)?;
    Ok(Model::new(lj))
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
