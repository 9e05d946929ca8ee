//! Opening a shared library once per process, and keeping it open, so that
//! cudarc's own `dlopen` of the same soname later finds it already loaded.

use crate::Error;
use libloading::Library;
use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Opens the first of `candidates` that loads; the handle is never closed.
/// Returns the library and the name it was found under, or every name tried.
pub(super) fn open_first(candidates: &[String]) -> Result<(&'static Library, String), Vec<String>> {
    let mut failures = Vec::new();
    for name in candidates {
        // SAFETY: these are NVIDIA's libraries, whose initializers are sound.
        match unsafe { Library::new(name) } {
            Ok(lib) => return Ok((Box::leak(Box::new(lib)), name.clone())),
            // dlerror's text (the source) names the file and the reason.
            Err(e) => failures.push(std::error::Error::source(&e).map_or_else(|| format!("{name}: {e}"), |s| s.to_string())),
        }
    }
    Err(failures)
}

/// The names of `symbols` that `lib` lacks.
pub(super) fn missing_symbols(lib: &Library, symbols: &[&str]) -> Vec<String> {
    symbols
        .iter()
        // SAFETY: only looked up, never called through this type.
        .filter(|s| unsafe { lib.get::<*const ()>(s.as_bytes()) }.is_err())
        .map(|s| s.to_string())
        .collect()
}

/// Runs `body`, turning a panic inside cudarc into an `Unsupported` error
/// that names `what` (a bug in the pre-checks if it ever happens).
pub(super) fn no_panic<T>(what: &str, body: impl FnOnce() -> crate::Result<T>) -> crate::Result<T> {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or_else(|panic| {
        Err(Error::Unsupported(format!("{what}: cudarc failed: {}", panic_text(&*panic))))
    })
}

fn panic_text(panic: &(dyn Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into())
}
