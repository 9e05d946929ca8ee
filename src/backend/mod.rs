//! Where computations run. The CPU backend is the reference; the CUDA backend
//! (`cuda`, the kernels of cuda/ compiled at run time) will compute the same
//! functions. Today it discovers devices and compiles kernels, and a CUDA
//! workspace is refused (docs/cuda.md).

pub mod cpu;
#[cfg(feature = "cuda")]
pub mod cuda;
mod device;

pub use cpu::Workspace;
pub use device::{Device, CUDA_NOT_IMPLEMENTED};
