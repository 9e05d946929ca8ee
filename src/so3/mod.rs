//! Rotations: irreps, real spherical harmonics, Wigner-3j / Clebsch–Gordan
//! coefficients and Wigner-D matrices, in e3nn's conventions.

mod clebsch_gordan;
mod irreps;
mod lanes;
mod sh_kernel;
mod spherical_harmonics;
mod wigner_3j;
mod wigner_d;

pub use clebsch_gordan::{Cg, CgEntry};
pub use irreps::{Irrep, Irreps, MulIr};
pub use lanes::Lanes;
pub use sh_kernel::ShKernel;
pub(crate) use sh_kernel::SH_LMAX;
pub use spherical_harmonics::{Normalization, SphericalHarmonics};
pub use wigner_3j::wigner_3j;
pub use wigner_d::wigner_d;
