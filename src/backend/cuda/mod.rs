//! The CUDA backend's seam (docs/cuda.md): the driver and NVRTC, both opened
//! at run time through `cudarc` (no CUDA toolkit to build, one binary for CPU
//! and GPU hosts), device discovery, and the kernels of `cuda/` compiled per
//! model at load time. Evaluation on a device is not implemented yet.
//!
//! Nothing here may panic across the C ABI: cudarc panics when a library or a
//! symbol it wants is missing, so both libraries are opened and their symbols
//! checked here first, and every call into cudarc runs under `catch_unwind`.

mod driver;
mod kernels;
mod library;
mod nvrtc;

pub use driver::CudaDevice;
pub use kernels::{EdgeEnvelope, Kernel, Specialization};
pub use nvrtc::{nvrtc_version, Arch, Image, KernelCompiler, NVRTC_ENV};
