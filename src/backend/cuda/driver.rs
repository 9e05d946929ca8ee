//! Device discovery through the CUDA driver API (libcuda, opened at run time).

use super::library::{missing_symbols, no_panic, open_first};
use crate::Error;
use cudarc::driver::{result, sys};
use std::sync::OnceLock;

/// The driver's names: the soname the driver package installs, then the
/// development symlink (both are among the names cudarc tries).
const DRIVER_NAMES: [&str; 2] = ["libcuda.so.1", "libcuda.so"];

/// Every driver function discovery calls (through cudarc, which would panic
/// on a missing one).
const DRIVER_SYMBOLS: [&str; 8] = [
    "cuInit",
    "cuDeviceGetCount",
    "cuDeviceGet",
    "cuDeviceGetName",
    "cuDeviceGetAttribute",
    "cuDeviceTotalMem_v2",
    "cuGetErrorName",
    "cuGetErrorString",
];

/// A CUDA device found by the driver: what the kernels are compiled for.
#[derive(Clone, Debug)]
pub struct CudaDevice {
    ordinal: usize,
    name: String,
    compute_capability: (u32, u32),
    total_memory: usize,
}

impl CudaDevice {
    /// Finds device `ordinal` (from 0). Where there is no driver, no device,
    /// or fewer devices, returns `Error::Unsupported` saying which.
    pub fn open(ordinal: usize) -> crate::Result<CudaDevice> {
        let count = Self::count()?;
        if ordinal >= count {
            let devices = if count == 1 { "device" } else { "devices" };
            return Err(Error::Unsupported(format!("CUDA device ordinal {ordinal} but only {count} {devices}")));
        }
        no_panic("CUDA device discovery", || {
            let query = |e: result::DriverError| {
                Error::Unsupported(format!("CUDA device {ordinal}: the driver's query failed: {e}"))
            };
            let dev = result::device::get(ordinal as i32).map_err(query)?;
            let name = result::device::get_name(dev).map_err(query)?;
            use sys::CUdevice_attribute::*;
            // SAFETY: `dev` came from cuDeviceGet.
            let (major, minor, total_memory) = unsafe {
                (
                    result::device::get_attribute(dev, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR).map_err(query)?,
                    result::device::get_attribute(dev, CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR).map_err(query)?,
                    result::device::total_mem(dev).map_err(query)?,
                )
            };
            Ok(CudaDevice { ordinal, name, compute_capability: (major as u32, minor as u32), total_memory })
        })
    }

    /// How many CUDA devices the driver sees. `Error::Unsupported` where
    /// there is no driver or it finds no device.
    pub fn count() -> crate::Result<usize> {
        init_driver()?;
        no_panic("CUDA device discovery", || {
            let n = result::device::get_count()
                .map_err(|e| Error::Unsupported(format!("the CUDA driver cannot count its devices: {e}")))?;
            match n {
                0 => Err(Error::Unsupported("no CUDA device (the driver found none)".into())),
                n => Ok(n as usize),
            }
        })
    }

    /// The ordinal it was opened with.
    pub fn ordinal(&self) -> usize {
        self.ordinal
    }

    /// The device's name, as the driver reports it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// (major, minor): (9, 0) is an H100/H200.
    pub fn compute_capability(&self) -> (u32, u32) {
        self.compute_capability
    }

    /// Bytes of device memory.
    pub fn total_memory(&self) -> usize {
        self.total_memory
    }
}

/// Opens the driver and runs cuInit once per process; the outcome, failure
/// included, is kept (a driver does not appear while a process runs).
fn init_driver() -> crate::Result<()> {
    static INIT: OnceLock<Result<(), String>> = OnceLock::new();
    INIT.get_or_init(|| {
        let names: Vec<String> = DRIVER_NAMES.iter().map(|s| s.to_string()).collect();
        let (lib, found) = open_first(&names).map_err(|tried| {
            format!("no CUDA driver (libcuda.so.1 not found; tried {})", tried.join("; "))
        })?;
        let missing = missing_symbols(lib, &DRIVER_SYMBOLS);
        if !missing.is_empty() {
            return Err(format!("the CUDA driver {found} is too old or not a driver: it lacks {}", missing.join(", ")));
        }
        no_panic("CUDA driver", || {
            result::init().map_err(|e| {
                Error::Unsupported(if e.0 == sys::CUresult::CUDA_ERROR_NO_DEVICE {
                    "no CUDA device (cuInit: CUDA_ERROR_NO_DEVICE)".to_string()
                } else {
                    format!("the CUDA driver ({found}) failed to initialize: {e}")
                })
            })
        })
        .map_err(|e| match e {
            Error::Unsupported(message) => message,
            other => other.to_string(),
        })
    })
    .clone()
    .map_err(Error::Unsupported)
}
