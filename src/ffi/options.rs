//! Option structs that start with their own size, so that fields can be
//! appended without breaking callers compiled against an older header.
//!
//! The rule for every sized struct (eqp_workspace_options_t,
//! eqp_evaluation_options_t, eqp_results_t):
//! - its first field is `size_t struct_size`, set by the caller to
//!   `sizeof` the struct it was compiled with (the *_default functions do);
//! - fields are only ever appended, laid out with no padding at the end, and
//!   an appended field's zero value means its default;
//! - the library reads the fields that fit in `struct_size` and takes
//!   defaults for the others (an older caller); from a newer caller with a
//!   larger struct it accepts the unknown tail when it is all zero (every
//!   newer field left at its default), and refuses it otherwise.

use super::status::*;
use crate::Error;
use std::mem::{align_of, size_of};

/// Where a workspace runs (kind EQP_DEVICE_*, and which device of that kind).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct eqp_device_t {
    /// EQP_DEVICE_CPU or EQP_DEVICE_CUDA.
    pub kind: i32,
    /// Which device of that kind, from 0 (must be 0 for the CPU).
    pub ordinal: i32,
}

/// The CPU: the workspace's thread pool.
pub const EQP_DEVICE_CPU: i32 = 0;
/// A CUDA GPU: EQP_ERROR_UNSUPPORTED for now, naming what is missing (no
/// driver, no device, ordinal out of range) or, where the device is found,
/// that CUDA evaluation is not implemented yet.
pub const EQP_DEVICE_CUDA: i32 = 1;

/// Options of eqp_workspace_new_with_options. Initialize with
/// eqp_workspace_options_default(&options, sizeof options), then set the
/// fields wanted.
///
/// Sized structs (this one, eqp_evaluation_options_t, eqp_results_t) start
/// with `struct_size`, and fields are only ever appended (with no padding at
/// the end; an appended field's zero means its default), so the ABI version
/// stays. The library reads the fields that fit in `struct_size` and takes
/// defaults for the others (a caller built against an older header); a larger
/// struct_size (a newer header) is accepted when the bytes past the fields it
/// knows are all zero and refused with EQP_ERROR_UNSUPPORTED otherwise; a
/// struct_size below sizeof(size_t), not a multiple of 8 or above 4096 is
/// EQP_ERROR_INVALID_ARGUMENT. NULL options mean the defaults.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct eqp_workspace_options_t {
    /// sizeof(eqp_workspace_options_t) as the caller was compiled with.
    pub struct_size: usize,
    /// Threads of the pool; 0 (default): one per core.
    pub n_threads: i32,
    /// Where to run; default EQP_DEVICE_CPU, ordinal 0.
    pub device: eqp_device_t,
    /// Most bytes one graph build or evaluation may plan to use (see
    /// eqp_workspace_set_memory_limit); 0 (default): 80 % of physical memory.
    pub memory_limit: usize,
}

/// Options of eqp_compute_with_options. Initialize with
/// eqp_evaluation_options_default(&options, sizeof options), then set the
/// fields wanted (a sized struct: see eqp_workspace_options_t).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct eqp_evaluation_options_t {
    /// sizeof(eqp_evaluation_options_t) as the caller was compiled with.
    pub struct_size: usize,
    /// Arithmetic precision; default EQP_FLOAT64.
    pub precision: i32,
    /// Radial networks: EQP_RADIAL_DEFAULT (-1, the default) as the model
    /// was loaded (SevenNet/NequIP and MACE: tables in float32 — MACE with a
    /// distance transform one per pair of species, built when first needed —
    /// exact in float64), EQP_RADIAL_EXACT (0) the exact networks (less
    /// memory), EQP_RADIAL_TABLES (1) the tables (EQP_ERROR_UNSUPPORTED where
    /// the model has none in that precision: float64, Lennard-Jones).
    pub radial_tables: i32,
    /// Instruction set of the CPU kernels: EQP_SIMD_DEFAULT (-1, the default)
    /// the best the CPU has, or EQP_SIMD_NONE, EQP_SIMD_AVX2, EQP_SIMD_AVX512
    /// (EQP_ERROR_UNSUPPORTED when the CPU lacks it). float64 results differ
    /// between levels only by rounding (FMA).
    pub simd: i32,
    /// 1: per-stage wall times, written to results->profile (see
    /// eqp_results_t); 0 (default) none. An int, not a bool: no padding.
    pub profile: i32,
}

/// options.radial_tables: as the model was loaded (the default).
pub const EQP_RADIAL_DEFAULT: i32 = -1;
/// options.radial_tables: the exact radial networks.
pub const EQP_RADIAL_EXACT: i32 = 0;
/// options.radial_tables: the radial tables.
pub const EQP_RADIAL_TABLES: i32 = 1;

/// options.simd: the best level the CPU has (the default).
pub const EQP_SIMD_DEFAULT: i32 = -1;
/// options.simd: portable code, no AVX.
pub const EQP_SIMD_NONE: i32 = 0;
/// options.simd: AVX2 and FMA (x86-64).
pub const EQP_SIMD_AVX2: i32 = 1;
/// options.simd: AVX-512F (x86-64).
pub const EQP_SIMD_AVX512: i32 = 2;

/// The most `struct_size` the library believes: anything larger is not the
/// size of an options struct but garbage (an uninitialized field).
const MAX_STRUCT_SIZE: usize = 4096;

impl Default for eqp_workspace_options_t {
    fn default() -> Self {
        eqp_workspace_options_t {
            struct_size: size_of::<Self>(),
            n_threads: 0,
            device: eqp_device_t { kind: EQP_DEVICE_CPU, ordinal: 0 },
            memory_limit: 0,
        }
    }
}

impl Default for eqp_evaluation_options_t {
    fn default() -> Self {
        eqp_evaluation_options_t {
            struct_size: size_of::<Self>(),
            precision: super::compute::EQP_FLOAT64,
            radial_tables: -1,
            simd: -1,
            profile: 0,
        }
    }
}

/// Reads a caller's sized struct: the fields that fit in its `struct_size`
/// over `T::default()`; NULL gives the defaults. `min_size` is the smallest
/// struct_size accepted (the fields every caller must have).
///
/// # Safety
/// `ptr` is NULL or points to at least `struct_size` readable bytes.
pub(crate) unsafe fn read_sized<T: Copy + Default>(ptr: *const T, min_size: usize, name: &str) -> crate::Result<T> {
    let mut value = T::default();
    if ptr.is_null() {
        return Ok(value);
    }
    if (ptr as usize) % align_of::<T>() != 0 {
        return Err(Error::InvalidArgument(format!("`{name}` is not aligned")));
    }
    let size = ptr.cast::<usize>().read();
    let known = size_of::<T>();
    if size < min_size || size > MAX_STRUCT_SIZE || size % align_of::<T>() != 0 {
        return Err(Error::InvalidArgument(format!(
            "{name}->struct_size is {size}, not the size of a {name} struct (this library's is {known}, \
             the smallest it accepts {min_size}): set it with sizeof or the *_default function"
        )));
    }
    let bytes = ptr.cast::<u8>();
    if size > known && std::slice::from_raw_parts(bytes.add(known), size - known).iter().any(|&b| b != 0) {
        return Err(Error::Unsupported(format!(
            "{name} has fields this library does not know set (struct_size {size} > {known}): \
             the header is newer than the library (equipot {}); upgrade the library",
            env!("CARGO_PKG_VERSION")
        )));
    }
    std::ptr::copy_nonoverlapping(bytes, (&mut value as *mut T).cast::<u8>(), size.min(known));
    Ok(value)
}

/// Writes the defaults of the first `struct_size` bytes of a caller's
/// struct (zero past the fields this library knows), struct_size included.
unsafe fn write_default<T: Copy + Default>(ptr: *mut T, struct_size: usize, name: &str) -> crate::Result<()> {
    if ptr.is_null() {
        return Err(Error::NullPointer(format!("`{name}` is NULL")));
    }
    if struct_size < size_of::<usize>() || struct_size > MAX_STRUCT_SIZE || struct_size % align_of::<T>() != 0 {
        return Err(Error::InvalidArgument(format!(
            "struct_size {struct_size} is not the size of a {name} struct (this library's is {})",
            size_of::<T>()
        )));
    }
    let value = T::default();
    let bytes = ptr.cast::<u8>();
    let n = struct_size.min(size_of::<T>());
    std::ptr::copy_nonoverlapping((&value as *const T).cast::<u8>(), bytes, n);
    std::ptr::write_bytes(bytes.add(n), 0, struct_size - n);
    ptr.cast::<usize>().write(struct_size);
    Ok(())
}

/// Sets `*options` to the defaults; `struct_size` is sizeof(*options) as the
/// caller was compiled with (only that many bytes are written, so a caller
/// compiled against an older header is safe with a newer library).
#[no_mangle]
pub unsafe extern "C" fn eqp_workspace_options_default(
    options: *mut eqp_workspace_options_t,
    struct_size: usize,
) -> eqp_status_t {
    guard("eqp_workspace_options_default", || write_default(options, struct_size, "eqp_workspace_options_t"))
}

/// Sets `*options` to the defaults; `struct_size` is sizeof(*options) as the
/// caller was compiled with (see eqp_workspace_options_default).
#[no_mangle]
pub unsafe extern "C" fn eqp_evaluation_options_default(
    options: *mut eqp_evaluation_options_t,
    struct_size: usize,
) -> eqp_status_t {
    guard("eqp_evaluation_options_default", || write_default(options, struct_size, "eqp_evaluation_options_t"))
}

/// Checks a device. A CUDA device goes through discovery (driver, device,
/// ordinal) and, where it is found, is still refused: CUDA evaluation is not
/// implemented yet (EQP_ERROR_UNSUPPORTED either way).
pub(crate) fn check_device(device: eqp_device_t) -> crate::Result<()> {
    match device.kind {
        EQP_DEVICE_CPU if device.ordinal == 0 => Ok(()),
        EQP_DEVICE_CPU => Err(Error::InvalidArgument(format!("CPU device ordinal {} (must be 0)", device.ordinal))),
        EQP_DEVICE_CUDA => {
            let ordinal = usize::try_from(device.ordinal)
                .map_err(|_| Error::InvalidArgument(format!("CUDA device ordinal {} (must be >= 0)", device.ordinal)))?;
            crate::backend::Device::Cuda { ordinal }.check()
        }
        kind => Err(Error::InvalidArgument(format!("unknown device kind {kind}"))),
    }
}
