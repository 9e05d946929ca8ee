//! sevenn's `SpeciesWiseRescale` (and `Rescale`, one species): per-atom
//! y = x·scale[species] + shift[species].

use crate::{Error, Real, Result};

/// Scale and shift per species.
#[derive(Clone, Debug)]
pub struct SpeciesRescale<T> {
    shift: Vec<T>,
    scale: Vec<T>,
}

impl<T: Real> SpeciesRescale<T> {
    /// One shift and one scale per species index.
    pub fn new(shift: &[f64], scale: &[f64]) -> Result<Self> {
        if shift.len() != scale.len() {
            return Err(Error::LengthMismatch(format!(
                "rescale: {} shifts but {} scales",
                shift.len(),
                scale.len()
            )));
        }
        let conv = |v: &[f64]| v.iter().map(|&x| T::of(x)).collect();
        Ok(SpeciesRescale { shift: conv(shift), scale: conv(scale) })
    }

    /// Number of species.
    pub fn n_species(&self) -> usize {
        self.shift.len()
    }

    /// y[i] = x[i]·scale[species[i]] + shift[species[i]], one value per atom.
    pub fn forward(&self, species: &[usize], x: &[T], y: &mut [T]) -> Result<()> {
        self.check(species, x.len(), y.len())?;
        for ((y, &x), &s) in y.iter_mut().zip(x).zip(species) {
            *y = x * self.scale[s] + self.shift[s];
        }
        Ok(())
    }

    /// grad_x[i] = grad_y[i]·scale[species[i]].
    pub fn backward(&self, species: &[usize], grad_y: &[T], grad_x: &mut [T]) -> Result<()> {
        self.check(species, grad_y.len(), grad_x.len())?;
        for ((gx, &gy), &s) in grad_x.iter_mut().zip(grad_y).zip(species) {
            *gx = gy * self.scale[s];
        }
        Ok(())
    }

    fn check(&self, species: &[usize], n_in: usize, n_out: usize) -> Result<()> {
        if n_in != species.len() || n_out != species.len() {
            return Err(Error::LengthMismatch(format!(
                "rescale: {} species, {n_in} inputs, {n_out} outputs",
                species.len()
            )));
        }
        if let Some(&s) = species.iter().find(|&&s| s >= self.n_species()) {
            return Err(Error::UnknownElement(format!("species index {s} (the model has {})", self.n_species())));
        }
        Ok(())
    }
}
