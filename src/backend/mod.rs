//! Where computations run. The CPU backend is the reference; the CUDA backend
//! (cuda/, loaded at run time) will compute the same functions.

pub mod cpu;

pub use cpu::Workspace;
