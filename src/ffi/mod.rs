//! The C ABI. Everything here is a thin shim over the Rust API: check every
//! pointer and length, catch every panic, turn every error into a status code
//! and a thread-local message. `include/equipot.h` is generated from this
//! module by cbindgen (see tests/header.rs) and committed.
#![allow(non_camel_case_types)]

mod compute;
mod graph;
mod model;
mod options;
mod status;
mod workspace;

pub use compute::*;
pub use graph::*;
pub use model::*;
pub use options::*;
pub use status::*;
pub use workspace::*;

use std::os::raw::c_char;

/// Major version of the library and of its C ABI (0 until the ABI is frozen:
/// before 1.0, each minor version may change the ABI).
pub const EQP_VERSION_MAJOR: i32 = 0;
/// Minor version of the library.
pub const EQP_VERSION_MINOR: i32 = 1;
/// Patch version of the library.
pub const EQP_VERSION_PATCH: i32 = 0;

/// Version of the C ABI: bumped on every incompatible change (a function's
/// signature or meaning, a struct's layout other than appending fields to a
/// struct that starts with `struct_size`, a constant's value). Bindings
/// compare eqp_abi_version() with this macro when they load the library and
/// refuse a mismatch.
pub const EQP_ABI_VERSION: i32 = 1;

/// The ABI version of the library (see EQP_ABI_VERSION).
#[no_mangle]
pub extern "C" fn eqp_abi_version() -> i32 {
    EQP_ABI_VERSION
}

/// The library's version as "MAJOR.MINOR.PATCH", a static NUL-terminated
/// string. Compare with the EQP_VERSION_* macros to detect a header/library
/// mismatch.
#[no_mangle]
pub extern "C" fn eqp_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}
