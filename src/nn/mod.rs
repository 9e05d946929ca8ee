//! Layers of equivariant networks, each with its forward pass and its
//! hand-written backward (vector–Jacobian product) side by side.

pub mod tensor_product;
pub mod tensor_product_conv;
pub mod tensor_product_fc;

pub use tensor_product::{Connection, Instruction, IrrepNormalization, PathNormalization};
pub use tensor_product_conv::{EdgeIndex, UvuTensorProduct};
pub use tensor_product_fc::FullyConnectedTensorProduct;
