//! equipot: equivariant machine-learned interatomic potentials, evaluated by
//! hand-written kernels, behind a stable C ABI.
//!
//! Data flows one way: a [`graph::Structure`] (or a host's
//! [`graph::NeighborList`]) becomes an [`graph::AtomGraph`]; a
//! [`model::Model`] turns the graph into energy, forces and virial; [`ffi`]
//! exposes all of it to C, C++, Fortran, LAMMPS and Python; [`arrays`]
//! gives the Rust API's inputs and outputs as `ndarray` arrays.

#![warn(missing_docs)]

mod error;
mod real;

pub mod arrays;
pub mod backend;
pub mod elements;
pub mod ffi;
pub mod graph;
pub mod model;
pub mod nn;
pub mod so3;

pub use arrays::OutputArrays;
pub use backend::Workspace;
pub use error::{Error, Result};
pub use graph::{AtomGraph, NeighborList, Structure};
pub use model::{Model, Outputs, Precision, Profile, RadialMode, Request};
pub use nn::SimdLevel;
pub use real::Real;

/// Version of the library, as in Cargo.toml.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
