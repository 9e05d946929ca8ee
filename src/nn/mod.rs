//! Layers of equivariant networks, each with its forward pass and its
//! hand-written backward (vector–Jacobian product) side by side. Batches are
//! row-major (rows × features); outputs go to caller-provided buffers;
//! weights are converted to the working precision once, at construction.

mod agnesi;
mod attribute_contraction;
mod density;
mod gemm;
mod moment;
mod simd;
mod soft_transform;
pub(crate) mod vector;

pub mod activation;
pub mod fc;
pub mod gate;
pub mod linear;
pub mod radial;
pub mod rescale;
pub mod spline;
pub mod symmetric_contraction;
pub mod tensor_product;
pub mod tensor_product_conv;
pub mod tensor_product_fc;
pub mod zbl;

pub(crate) use attribute_contraction::dot;
pub use activation::{Activation, ScaledActivation};
pub use fc::FullyConnectedNet;
pub use gate::Gate;
pub use linear::{Linear, LinearSpec};
pub use radial::{BesselBasis, PolynomialCutoff, XplorCutoff};
pub use rescale::SpeciesRescale;
pub use simd::{SimdLevel, SimdScope};
pub use spline::HermiteTable;
pub use symmetric_contraction::{ContractionTensors, SymmetricContraction, TensorView};
pub use tensor_product::{Connection, Instruction, IrrepNormalization, PathNormalization};
pub use tensor_product_conv::{EdgeIndex, EdgeWeights, UvuTensorProduct, WeightRows};
pub use tensor_product_fc::FullyConnectedTensorProduct;
pub use zbl::ZblRepulsion;
pub use agnesi::AgnesiTransform;
pub use density::{DensityNormalization, DensityTape};
pub use soft_transform::SoftTransform;
