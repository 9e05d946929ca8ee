//! Layers of equivariant networks, each with its forward pass and its
//! hand-written backward (vector–Jacobian product) side by side.
