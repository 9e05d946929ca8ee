use super::status::*;
use crate::model::{LennardJones, Model};
use std::os::raw::c_char;

/// A loaded model. Immutable: one model may be used by many threads at once.
pub struct eqp_model_t {
    pub(crate) inner: Model,
    architecture: std::ffi::CString,
}

impl eqp_model_t {
    pub(crate) fn new(inner: Model) -> Self {
        let architecture = std::ffi::CString::new(inner.architecture()).unwrap_or_default();
        eqp_model_t { inner, architecture }
    }
}

/// Creates the reference analytic model: Lennard-Jones shifted to zero energy
/// at `cutoff` (Å), φ(r) = 4ε[(σ/r)¹² − (σ/r)⁶] − φ(cutoff), each atom taking
/// half of each of its pairs. `species` holds `n_species` distinct atomic
/// numbers; `epsilon` (eV) and `sigma` (Å) are symmetric n_species × n_species
/// matrices, row-major, indexed in the order of `species`.
#[no_mangle]
pub unsafe extern "C" fn eqp_model_new_lennard_jones(
    n_species: usize,
    species: *const i32,
    epsilon: *const f64,
    sigma: *const f64,
    cutoff: f64,
    model: *mut *mut eqp_model_t,
) -> eqp_status_t {
    guard("eqp_model_new_lennard_jones", || {
        slot(model, "model")?;
        let n2 = n_species.checked_mul(n_species).unwrap_or(usize::MAX);
        let lj = LennardJones::new(
            input(species, n_species, "species")?,
            input(epsilon, n2, "epsilon")?,
            input(sigma, n2, "sigma")?,
            cutoff,
        )?;
        give(model, eqp_model_t::new(Model::new(lj)));
        Ok(())
    })
}

/// Loads a model from the file at `path` (a NUL-terminated UTF-8 path): a
/// safetensors model file (e.g. a converted SevenNet, architecture "nequip"),
/// or equipot's JSON description of an analytic model, e.g. {"equipot":
/// {"format_version": "1.0", "architecture": "lennard-jones", "species": [18],
/// "cutoff": 8.5, "epsilon": [[0.0104]], "sigma": [[3.4]]}}. A multi-fidelity
/// model runs its default modal (see eqp_model_load_modal).
/// A missing or unreadable file gives EQP_ERROR_IO; a malformed, truncated or
/// newer-major file, or one of an architecture this library cannot run, gives
/// EQP_ERROR_MODEL_FORMAT. On error, `*model` is set to NULL.
#[no_mangle]
pub unsafe extern "C" fn eqp_model_load(path: *const c_char, model: *mut *mut eqp_model_t) -> eqp_status_t {
    guard("eqp_model_load", || load(path, std::ptr::null(), model))
}

/// Loads a model like eqp_model_load, choosing the fidelity head `modal`
/// (NUL-terminated, e.g. "PBE" or "R2SCAN" for SevenNet-MF-0) of a
/// multi-fidelity model; NULL takes the file's default ("default_modal" in its
/// metadata, where "modals" lists them all). An unknown modal, or a modal
/// given for a model that has none, gives EQP_ERROR_INVALID_ARGUMENT and a
/// message listing the model's modals. On error, `*model` is set to NULL.
#[no_mangle]
pub unsafe extern "C" fn eqp_model_load_modal(
    path: *const c_char,
    modal: *const c_char,
    model: *mut *mut eqp_model_t,
) -> eqp_status_t {
    guard("eqp_model_load_modal", || load(path, modal, model))
}

unsafe fn load(path: *const c_char, modal: *const c_char, model: *mut *mut eqp_model_t) -> crate::Result<()> {
    slot(model, "model")?;
    if path.is_null() {
        return Err(crate::Error::NullPointer("`path` is NULL".into()));
    }
    let text = |ptr: *const c_char, name: &str| {
        std::ffi::CStr::from_ptr(ptr)
            .to_str()
            .map_err(|_| crate::Error::InvalidArgument(format!("`{name}` is not valid UTF-8")))
    };
    let path = text(path, "path")?;
    let modal = if modal.is_null() { None } else { Some(text(modal, "modal")?) };
    give(model, eqp_model_t::new(crate::model::load_modal(path, modal)?));
    Ok(())
}

/// Frees a model; NULL does nothing.
#[no_mangle]
pub unsafe extern "C" fn eqp_model_free(model: *mut eqp_model_t) {
    let _ = guard("eqp_model_free", || {
        free(model);
        Ok(())
    });
}

/// Writes the model's cutoff (Å) to `*cutoff`: graphs passed to eqp_compute
/// must be built with at least this cutoff.
#[no_mangle]
pub unsafe extern "C" fn eqp_model_cutoff(model: *const eqp_model_t, cutoff: *mut f64) -> eqp_status_t {
    guard("eqp_model_cutoff", || {
        let m = handle(model, "model")?;
        output(cutoff, 1, "cutoff")?[0] = m.inner.cutoff();
        Ok(())
    })
}

/// Writes the model's number of message-passing layers to `*n_layers`: an
/// atom's energy depends on atoms up to n_layers × cutoff away (hosts that
/// pass ghost atoms need a ghost shell that deep).
#[no_mangle]
pub unsafe extern "C" fn eqp_model_n_layers(model: *const eqp_model_t, n_layers: *mut usize) -> eqp_status_t {
    guard("eqp_model_n_layers", || {
        let m = handle(model, "model")?;
        output(n_layers, 1, "n_layers")?[0] = m.inner.n_layers();
        Ok(())
    })
}

/// Writes to `*width` the most values per atom a halo exchange of this model
/// carries (eqp_compute_with_halo); 0 for a model that never exchanges.
/// Hosts size their communication buffers with it.
#[no_mangle]
pub unsafe extern "C" fn eqp_model_halo_width(model: *const eqp_model_t, width: *mut usize) -> eqp_status_t {
    guard("eqp_model_halo_width", || {
        let m = handle(model, "model")?;
        output(width, 1, "width")?[0] = m.inner.halo_width();
        Ok(())
    })
}

/// Writes the number of species the model knows to `*n_species`.
#[no_mangle]
pub unsafe extern "C" fn eqp_model_n_species(model: *const eqp_model_t, n_species: *mut usize) -> eqp_status_t {
    guard("eqp_model_n_species", || {
        let m = handle(model, "model")?;
        output(n_species, 1, "n_species")?[0] = m.inner.species().len();
        Ok(())
    })
}

/// Copies the atomic numbers the model knows into `species`, which holds
/// `n_species` ints (as given by eqp_model_n_species).
#[no_mangle]
pub unsafe extern "C" fn eqp_model_species(model: *const eqp_model_t, n_species: usize, species: *mut i32) -> eqp_status_t {
    guard("eqp_model_species", || {
        let m = handle(model, "model")?;
        let known = m.inner.species();
        if n_species != known.len() {
            return Err(crate::Error::LengthMismatch(format!(
                "n_species is {n_species} but the model has {} species",
                known.len()
            )));
        }
        output(species, n_species, "species")?.copy_from_slice(known);
        Ok(())
    })
}

/// The model's architecture ("lennard-jones", "nequip", ...) as a
/// NUL-terminated string owned by the model, or NULL if `model` is NULL.
#[no_mangle]
pub unsafe extern "C" fn eqp_model_architecture(model: *const eqp_model_t) -> *const c_char {
    match model.as_ref() {
        Some(m) => m.architecture.as_ptr(),
        None => std::ptr::null(),
    }
}
