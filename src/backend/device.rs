//! Where a workspace runs, as a user names it (`cpu`, `cuda`, `cuda:N`).

use super::Workspace;
use crate::Error;
use std::fmt;

/// A device a workspace can be asked to run on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Device {
    /// The CPU: the workspace's thread pool.
    Cpu,
    /// CUDA device `ordinal` (from 0).
    Cuda {
        /// Which device, as the driver numbers them.
        ordinal: usize,
    },
}

/// What a CUDA request gets once a device is found: nothing evaluates there yet.
pub const CUDA_NOT_IMPLEMENTED: &str = "CUDA evaluation is not implemented yet in this build";

impl Device {
    /// Reads `cpu`, `cuda` (device 0) or `cuda:N`.
    pub fn parse(text: &str) -> crate::Result<Device> {
        let bad = || Error::InvalidArgument(format!("device {text:?}: expected cpu, cuda or cuda:N (N = 0, 1, ...)"));
        match text {
            "cpu" => Ok(Device::Cpu),
            "cuda" => Ok(Device::Cuda { ordinal: 0 }),
            _ => {
                let n = text.strip_prefix("cuda:").ok_or_else(bad)?;
                if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(bad());
                }
                let ordinal = n.parse::<u32>().map_err(|_| bad())? as usize;
                Ok(Device::Cuda { ordinal })
            }
        }
    }

    /// Checks that the device can be used by this build on this machine. A
    /// CUDA device goes through discovery: `Error::Unsupported` naming what
    /// is missing (driver, device), or, where the device exists, that CUDA
    /// evaluation is not implemented yet.
    pub fn check(self) -> crate::Result<()> {
        match self {
            Device::Cpu => Ok(()),
            Device::Cuda { ordinal } => check_cuda(ordinal),
        }
    }
}

impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Device::Cpu => write!(f, "cpu"),
            Device::Cuda { ordinal } => write!(f, "cuda:{ordinal}"),
        }
    }
}

#[cfg(feature = "cuda")]
fn check_cuda(ordinal: usize) -> crate::Result<()> {
    let device = super::cuda::CudaDevice::open(ordinal)?;
    let (major, minor) = device.compute_capability();
    Err(Error::Unsupported(format!(
        "{CUDA_NOT_IMPLEMENTED} (found CUDA device {ordinal}: {}, compute capability {major}.{minor}; use the CPU)",
        device.name()
    )))
}

#[cfg(not(feature = "cuda"))]
fn check_cuda(ordinal: usize) -> crate::Result<()> {
    Err(Error::Unsupported(format!(
        "device cuda:{ordinal}: this build has no CUDA backend (built without the `cuda` feature; use the CPU)"
    )))
}

impl Workspace {
    /// A workspace of `n_threads` threads (0: one per core) on `device`.
    /// Only the CPU evaluates today: a CUDA device fails with
    /// `Error::Unsupported` (see [`Device::check`]).
    pub fn on_device(device: Device, n_threads: usize) -> crate::Result<Workspace> {
        device.check()?;
        Workspace::new(n_threads)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_parse() {
        assert_eq!(Device::parse("cpu").unwrap(), Device::Cpu);
        assert_eq!(Device::parse("cuda").unwrap(), Device::Cuda { ordinal: 0 });
        assert_eq!(Device::parse("cuda:3").unwrap(), Device::Cuda { ordinal: 3 });
        for bad in ["", "gpu", "CUDA", "cuda:", "cuda:-1", "cuda:+1", "cuda:1x", "cuda:99999999999", " cpu"] {
            let e = Device::parse(bad).unwrap_err();
            assert!(matches!(e, Error::InvalidArgument(_)) && e.to_string().contains("expected cpu, cuda or cuda:N"), "{bad:?}: {e}");
        }
        assert_eq!(Device::Cuda { ordinal: 2 }.to_string(), "cuda:2");
    }
}
