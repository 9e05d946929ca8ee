//! The density normalization of mace-torch 0.3.16's density interaction
//! blocks (`RealAgnosticDensity[Residual]InteractionBlock`), forward and
//! backward side by side.
//!
//! Per edge e, from its radial embedding b_e (num_basis values):
//!   x_e = b_e · W / √num_basis        (`density_fn`: e3nn FullyConnectedNet([n, 1]), no activation)
//!   d_e = tanh(x_e²)
//! per receiver j: D_j = Σ_{e → j} d_e and s_j = 1 / (D_j + 1); the block's
//! message (mace: `linear(message) / (density + 1)`) is scaled by s_j. As
//! `linear` is linear and per atom, scaling its input or its output is the same.

use super::EdgeIndex;
use crate::backend::cpu::{collect, Buf};
use crate::{Error, Real, Result};
use rayon::prelude::*;

/// A density block's `density_fn` (see the module docs).
#[derive(Clone, Debug)]
pub struct DensityNormalization<T> {
    /// W / √num_basis.
    weight: Vec<T>,
}

/// What the backward needs: x_e per edge and s_j per receiver.
pub struct DensityTape<T> {
    x: Buf<T>,
    scale: Buf<T>,
}

impl<T> DensityTape<T> {
    /// s_j = 1 / (D_j + 1) per receiver.
    pub fn scale(&self) -> &[T] {
        &self.scale
    }
}

impl<T: Real> DensityNormalization<T> {
    /// `weight`: `density_fn.layer0.weight`, shape [num_basis, 1].
    pub fn new(weight: &[f64]) -> Result<Self> {
        if weight.is_empty() || weight.iter().any(|w| !w.is_finite()) {
            return Err(Error::InvalidArgument("density weights must be finite, at least one".into()));
        }
        let norm = 1.0 / (weight.len() as f64).sqrt();
        Ok(DensityNormalization { weight: weight.iter().map(|&w| T::of(w * norm)).collect() })
    }

    /// Number of radial embedding values per edge it reads.
    pub fn num_basis(&self) -> usize {
        self.weight.len()
    }

    /// x_e for every edge and s_j for receivers 0..rows (`embedding`: the
    /// radial embedding, n_edges × num_basis).
    pub fn forward(&self, index: &EdgeIndex, rows: usize, embedding: &[T]) -> Result<DensityTape<T>> {
        let n = self.weight.len();
        if embedding.len() != index.n_edges() * n || rows > index.n_nodes() {
            return Err(Error::LengthMismatch(format!(
                "density: {} embedding values for {} edges of {n}, {rows} of {} nodes",
                embedding.len(),
                index.n_edges(),
                index.n_nodes()
            )));
        }
        let x = collect(embedding.par_chunks(n).map(|b| b.iter().zip(&self.weight).map(|(&b, &w)| b * w).sum::<T>()))?;
        let scale = collect((0..rows).into_par_iter().map(|j| {
            let density: T = index.received_by(j).iter().map(|&e| (x[e as usize] * x[e as usize]).tanh()).sum();
            T::one() / (density + T::one())
        }))?;
        Ok(DensityTape { x, scale })
    }

    /// Adds ∂E/∂embedding given r_j = ⟨∂E/∂y_j, y_j⟩ for the scaled rows
    /// y_j = s_j u_j (so ∂E/∂D_j = −s_j r_j).
    pub fn backward(&self, index: &EdgeIndex, tape: &DensityTape<T>, r: &[T], grad_embedding: &mut [T]) -> Result<()> {
        let n = self.weight.len();
        if r.len() != tape.scale.len() || grad_embedding.len() != tape.x.len() * n {
            return Err(Error::LengthMismatch(format!(
                "density backward: {} row products for {} rows, {} embedding gradients for {} edges of {n}",
                r.len(),
                tape.scale.len(),
                grad_embedding.len(),
                tape.x.len()
            )));
        }
        let centers = index.centers();
        grad_embedding.par_chunks_mut(n).enumerate().for_each(|(e, g)| {
            let j = centers[e] as usize;
            if j >= r.len() {
                return; // a ghost receiver: its message is not used
            }
            let grad_density = -tape.scale[j] * r[j];
            let x = tape.x[e];
            let d = (x * x).tanh();
            let grad_x = grad_density * (T::one() - d * d) * (x + x);
            for (g, &w) in g.iter_mut().zip(&self.weight) {
                *g += grad_x * w;
            }
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The backward is the gradient of E = Σ_j c_j s_j (so r_j = c_j s_j),
    /// checked by central differences of the embedding.
    #[test]
    fn backward_matches_finite_differences() {
        let centers = [0u32, 0, 1, 1, 1, 2];
        let neighbors = [1u32, 2, 0, 2, 0, 1];
        let index = EdgeIndex::new(3, &centers, &neighbors).unwrap();
        let weight = [0.7, -1.3, 2.1];
        let density = DensityNormalization::<f64>::new(&weight).unwrap();
        let emb: Vec<f64> = (0..18).map(|k| ((k * 7 % 11) as f64 - 5.0) * 0.23).collect();
        let c = [1.5, -0.4, 2.2];
        let energy = |emb: &[f64]| {
            let t = density.forward(&index, 3, emb).unwrap();
            t.scale().iter().zip(&c).map(|(s, c)| s * c).sum::<f64>()
        };
        let tape = density.forward(&index, 3, &emb).unwrap();
        let r: Vec<f64> = tape.scale().iter().zip(&c).map(|(s, c)| s * c).collect();
        let mut grad = vec![0.0; emb.len()];
        density.backward(&index, &tape, &r, &mut grad).unwrap();
        for k in 0..emb.len() {
            let (mut p, mut m) = (emb.clone(), emb.clone());
            p[k] += 1e-6;
            m[k] -= 1e-6;
            let fd = (energy(&p) - energy(&m)) / 2e-6;
            assert!((fd - grad[k]).abs() < 1e-8, "{k}: {fd} vs {}", grad[k]);
        }
    }
}
