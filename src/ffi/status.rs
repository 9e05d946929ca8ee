//! Status codes, the thread-local last error, and the guard every entry point
//! runs in.

use crate::Error;
use std::cell::RefCell;
use std::ffi::CString;
use std::os::raw::c_char;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Status returned by every function of the C ABI (except version queries).
/// On any status but EQP_SUCCESS, eqp_last_error() describes what went wrong.
pub type eqp_status_t = i32;

/// The call succeeded.
pub const EQP_SUCCESS: eqp_status_t = 0;
/// An argument is out of range: NaN/Inf coordinates, singular cell, bad cutoff...
pub const EQP_ERROR_INVALID_ARGUMENT: eqp_status_t = 1;
/// Two lengths that must agree do not.
pub const EQP_ERROR_LENGTH_MISMATCH: eqp_status_t = 2;
/// A required pointer was NULL.
pub const EQP_ERROR_NULL_POINTER: eqp_status_t = 3;
/// An atomic number is unknown (to the library or to the model).
pub const EQP_ERROR_UNKNOWN_ELEMENT: eqp_status_t = 4;
/// Reading or writing a file failed.
pub const EQP_ERROR_IO: eqp_status_t = 5;
/// A model file is malformed, truncated, too new, or of another architecture.
pub const EQP_ERROR_MODEL_FORMAT: eqp_status_t = 6;
/// The request is valid but not supported by this build or model.
pub const EQP_ERROR_UNSUPPORTED: eqp_status_t = 7;
/// A bug in equipot (a caught panic); please report it with the message.
pub const EQP_ERROR_INTERNAL: eqp_status_t = 8;
/// A callback of the host (e.g. a halo exchange) returned a failure.
pub const EQP_ERROR_CALLBACK: eqp_status_t = 9;
/// The evaluation gave a non-finite energy, force or virial (the message names
/// the first bad atom): the structure or the model is broken, the numbers are
/// never returned as a success.
pub const EQP_ERROR_NON_FINITE: eqp_status_t = 10;
/// The structure needs more memory than the workspace's limit
/// (eqp_workspace_set_memory_limit), or an allocation failed; the message
/// gives the estimate and the limit. Nothing was allocated past the limit.
pub const EQP_ERROR_OUT_OF_MEMORY: eqp_status_t = 11;

thread_local! {
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

/// The message of the last error on the calling thread, as a NUL-terminated
/// string ("" if no call on this thread has failed). The pointer stays valid
/// until the next failing call on the same thread; successful calls do not
/// change it.
#[no_mangle]
pub extern "C" fn eqp_last_error() -> *const c_char {
    LAST_ERROR.with(|e| e.borrow().as_ptr())
}

fn set_last_error(message: &str) {
    let message = CString::new(message.replace('\0', " ")).unwrap_or_default();
    LAST_ERROR.with(|e| *e.borrow_mut() = message);
}

fn status_of(error: &Error) -> eqp_status_t {
    match error {
        Error::InvalidArgument(_) => EQP_ERROR_INVALID_ARGUMENT,
        Error::LengthMismatch(_) => EQP_ERROR_LENGTH_MISMATCH,
        Error::NullPointer(_) => EQP_ERROR_NULL_POINTER,
        Error::UnknownElement(_) => EQP_ERROR_UNKNOWN_ELEMENT,
        Error::Io(_) => EQP_ERROR_IO,
        Error::ModelFormat(_) => EQP_ERROR_MODEL_FORMAT,
        Error::Unsupported(_) => EQP_ERROR_UNSUPPORTED,
        Error::Internal(_) => EQP_ERROR_INTERNAL,
        Error::Callback(_) => EQP_ERROR_CALLBACK,
        Error::NonFinite(_) => EQP_ERROR_NON_FINITE,
        Error::OutOfMemory(_) => EQP_ERROR_OUT_OF_MEMORY,
    }
}

/// Runs the body of an entry point: errors become a status plus the last
/// error message, panics become EQP_ERROR_INTERNAL.
pub(crate) fn guard(function: &str, body: impl FnOnce() -> crate::Result<()>) -> eqp_status_t {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => EQP_SUCCESS,
        Ok(Err(error)) => {
            set_last_error(&format!("{function}: {error}"));
            status_of(&error)
        }
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            set_last_error(&format!("{function}: internal error (a bug in equipot, please report): {what}"));
            EQP_ERROR_INTERNAL
        }
    }
}

/// Borrows `len` elements at `ptr` (NULL is allowed when `len` is 0).
pub(crate) unsafe fn input<'a, T>(ptr: *const T, len: usize, name: &str) -> crate::Result<&'a [T]> {
    if len == 0 {
        return Ok(&[]);
    }
    check_pointer(ptr, len, name)?;
    Ok(std::slice::from_raw_parts(ptr, len))
}

/// Mutably borrows `len` elements at `ptr` (NULL is allowed when `len` is 0).
pub(crate) unsafe fn output<'a, T>(ptr: *mut T, len: usize, name: &str) -> crate::Result<&'a mut [T]> {
    if len == 0 {
        return Ok(&mut []);
    }
    check_pointer(ptr, len, name)?;
    Ok(std::slice::from_raw_parts_mut(ptr, len))
}

fn check_pointer<T>(ptr: *const T, len: usize, name: &str) -> crate::Result<()> {
    if ptr.is_null() {
        return Err(Error::NullPointer(format!("`{name}` is NULL")));
    }
    if (ptr as usize) % std::mem::align_of::<T>() != 0 {
        return Err(Error::InvalidArgument(format!("`{name}` is not aligned")));
    }
    if len.checked_mul(std::mem::size_of::<T>()).map_or(true, |b| b > isize::MAX as usize) {
        return Err(Error::InvalidArgument(format!("`{name}` length {len} is too large")));
    }
    Ok(())
}

/// Borrows the object behind a handle.
pub(crate) unsafe fn handle<'a, T>(ptr: *const T, name: &str) -> crate::Result<&'a T> {
    ptr.as_ref().ok_or_else(|| Error::NullPointer(format!("`{name}` is NULL")))
}

/// Writes a new handle to `*out`, which `slot` checked.
pub(crate) unsafe fn give<T>(out: *mut *mut T, value: T) {
    *out = Box::into_raw(Box::new(value));
}

/// Frees a handle made by `give`; NULL does nothing.
pub(crate) unsafe fn free<T>(ptr: *mut T) {
    if !ptr.is_null() {
        drop(Box::from_raw(ptr));
    }
}

/// Checks an output handle slot and clears it, so that it is NULL on failure.
pub(crate) unsafe fn slot<T>(out: *mut *mut T, name: &str) -> crate::Result<()> {
    if out.is_null() {
        return Err(Error::NullPointer(format!("`{name}` is NULL")));
    }
    *out = std::ptr::null_mut();
    Ok(())
}
