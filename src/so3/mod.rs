//! Rotations: irreps, real spherical harmonics, Wigner-3j / Clebsch–Gordan
//! coefficients and tensor-product paths, in e3nn's conventions.

mod irreps;

pub use irreps::{Irrep, Irreps, MulIr};
mod wigner_3j;

pub use wigner_3j::wigner_3j;
