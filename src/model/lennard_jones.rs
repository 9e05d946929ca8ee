//! The reference analytic potential: Lennard-Jones with per-species-pair
//! parameters, its energy shifted to zero at the cutoff. It exercises the
//! whole path (graph, forces on local and ghost atoms, virial, C ABI, LAMMPS)
//! with a function anyone can check by hand.
//!
//! φ(r) = 4ε[(σ/r)¹² − (σ/r)⁶] − φ₀(r_c) for r < r_c, else 0; each atom gets
//! half of each of its pairs' φ.

use super::{accumulate_edge_gradients, Outputs, Potential, Request};
use crate::backend::Workspace;
use crate::graph::AtomGraph;
use crate::model::Precision;
use crate::{invalid, Real, Result};
use rayon::prelude::*;

/// Shifted Lennard-Jones.
#[derive(Clone, Debug)]
pub struct LennardJones {
    species: Vec<i32>,
    /// ε (eV), row-major n_species × n_species, symmetric.
    epsilon: Vec<f64>,
    /// σ (Å), row-major n_species × n_species, symmetric.
    sigma: Vec<f64>,
    cutoff: f64,
    /// species index of each atomic number (-1: unknown).
    index_of: Vec<i32>,
}

impl LennardJones {
    /// A potential for `species` (atomic numbers) with pair parameters given
    /// as symmetric row-major n×n matrices.
    pub fn new(species: &[i32], epsilon: &[f64], sigma: &[f64], cutoff: f64) -> Result<Self> {
        let n = species.len();
        if n == 0 {
            return invalid!("Lennard-Jones needs at least one species");
        }
        if epsilon.len() != n * n || sigma.len() != n * n {
            return Err(crate::Error::LengthMismatch(format!(
                "{n} species need {} ε and σ values, got {} and {}",
                n * n,
                epsilon.len(),
                sigma.len()
            )));
        }
        crate::graph::check_cutoff(cutoff)?;
        let mut index_of = vec![-1; crate::graph::MAX_ATOMIC_NUMBER as usize + 1];
        for (k, &z) in species.iter().enumerate() {
            if !(1..=crate::graph::MAX_ATOMIC_NUMBER).contains(&z) {
                return Err(crate::Error::UnknownElement(format!("atomic number {z}")));
            }
            if index_of[z as usize] >= 0 {
                return invalid!("species {z} is listed twice");
            }
            index_of[z as usize] = k as i32;
        }
        for a in 0..n {
            for b in 0..n {
                let (e, s) = (epsilon[a * n + b], sigma[a * n + b]);
                if !(e.is_finite() && s.is_finite() && s > 0.0) {
                    return invalid!("ε = {e}, σ = {s} for pair ({a}, {b}): need finite ε and σ > 0");
                }
                if e != epsilon[b * n + a] || s != sigma[b * n + a] {
                    return invalid!("ε and σ must be symmetric; pair ({a}, {b}) differs from ({b}, {a})");
                }
            }
        }
        Ok(LennardJones { species: species.to_vec(), epsilon: epsilon.to_vec(), sigma: sigma.to_vec(), cutoff, index_of })
    }

    fn pair(&self, zi: i32, zj: i32) -> (f64, f64) {
        let n = self.species.len();
        let (a, b) = (self.index_of[zi as usize] as usize, self.index_of[zj as usize] as usize);
        (self.epsilon[a * n + b], self.sigma[a * n + b])
    }

    fn compute_in<T: Real>(&self, graph: &AtomGraph, request: &Request) -> Outputs {
        let rc = T::of(self.cutoff);
        // Per edge: half the pair energy, and ∂(half energy)/∂v.
        let terms: Vec<(f64, [f64; 3])> = (0..graph.n_edges())
            .into_par_iter()
            .map(|e| {
                let (i, j) = (graph.centers[e] as usize, graph.neighbors[e] as usize);
                if i >= graph.n_local {
                    return (0.0, [0.0; 3]);
                }
                let (eps, sig) = self.pair(graph.numbers[i], graph.numbers[j]);
                let (eps, sig) = (T::of(eps), T::of(sig));
                let v = graph.vectors[e].map(T::of);
                let r2 = v[0] * v[0] + v[1] * v[1] + v[2] * v[2];
                if r2 >= rc * rc {
                    return (0.0, [0.0; 3]);
                }
                let four = T::of(4.0);
                let s6 = (sig * sig / r2).powi(3);
                let sc6 = (sig / rc).powi(6);
                let energy = four * eps * (s6 * s6 - s6 - (sc6 * sc6 - sc6));
                // dφ/dr · 1/r = -24ε(2 s¹² − s⁶)/r²
                let de_over_r = -T::of(24.0) * eps * (T::of(2.0) * s6 * s6 - s6) / r2;
                let half = T::of(0.5);
                ((half * energy).f64(), v.map(|x| (half * de_over_r * x).f64()))
            })
            .collect();
        let mut out = Outputs::default();
        let mut atom_energies = vec![0.0; graph.n_atoms()];
        for (e, (energy, _)) in terms.iter().enumerate() {
            atom_energies[graph.centers[e] as usize] += energy;
        }
        out.energy = atom_energies[..graph.n_local].iter().sum();
        if request.atom_energies {
            out.atom_energies = atom_energies;
        }
        if request.needs_edge_gradients() {
            let grads: Vec<[f64; 3]> = terms.into_iter().map(|(_, g)| g).collect();
            accumulate_edge_gradients(graph, &grads, request, &mut out);
        }
        out
    }
}

impl Potential for LennardJones {
    fn architecture(&self) -> &str {
        "lennard-jones"
    }
    fn cutoff(&self) -> f64 {
        self.cutoff
    }
    fn species(&self) -> &[i32] {
        &self.species
    }
    fn compute(&self, graph: &AtomGraph, request: &Request, ws: &Workspace) -> Result<Outputs> {
        Ok(ws.run(|| match request.precision {
            Precision::F64 => self.compute_in::<f64>(graph, request),
            Precision::F32 => self.compute_in::<f32>(graph, request),
        }))
    }
}
