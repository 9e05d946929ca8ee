//! What every learned (message-passing) model shares, written once: the model
//! as loaded from its file (the description: hyper-parameters, species,
//! cutoff and the weights as stored) apart from how it runs, the network of
//! one precision on the CPU — its executor, which owns the weights in the
//! kernels' layout. An executor is built when its precision is first used
//! (a float64 run never builds SevenNet's float32 radial tables) and kept
//! with the model: CPU executors are immutable, so every workspace shares
//! them. An architecture adds only its blocks: `Architecture::build` and
//! the `Executor` it returns.

use super::description::{from_file_error, Description, Species};
use super::halo::{self, HaloExchange};
use super::profile::Stopwatch;
use super::safetensors::SafeTensors;
use super::{local_outputs, Outputs, Potential, Precision, Request, LEARNED_MIN_DISTANCE};
use crate::backend::cpu::Buf;
use crate::backend::Workspace;
use crate::graph::AtomGraph;
use crate::{Error, Real, Result};
use serde_json::Value;
use std::sync::OnceLock;

/// One architecture: how its file is read into a network of one precision.
pub(super) trait Architecture: Send + Sync + 'static {
    /// The network in precision T, on the CPU.
    type Network<T: Real>: Executor<T>;
    /// Architecture name, as in the model file.
    const NAME: &'static str;
    /// The file's `flavor` and `tensor_names` (see `Description::new`).
    const FILE_KIND: (&'static str, &'static str);
    /// Builds the network from the file; every tensor it needs is read
    /// through `d` (a tensor left unread is a format error at load).
    fn build<T: Real>(&self, d: &Description, species: &Species) -> Result<Self::Network<T>>;
    /// Shortest edge the model is defined for, Å.
    fn min_distance(&self) -> f64 {
        LEARNED_MIN_DISTANCE
    }
}

/// A network of one precision: the forward and backward of a whole model.
pub(super) trait Executor<T: Real>: Send + Sync {
    /// Energies of the atoms whose features it computes and, when asked,
    /// ∂E/∂v per edge (see `halo` for what a halo changes).
    /// `profile` gets the stages' times when the request asks for them.
    fn run(
        &self,
        graph: &AtomGraph,
        types: &[usize],
        request: &Request,
        profile: &mut Stopwatch,
        halo: Option<&mut dyn HaloExchange>,
    ) -> Result<(Buf<f64>, Buf<[f64; 3]>)>;
    /// Roughly the peak bytes of `run`.
    fn memory_estimate(&self, atoms: usize, edges: usize, request: &Request) -> f64;
    /// Message-passing layers.
    fn n_layers(&self) -> usize;
    /// Width of the widest node feature a halo exchange carries.
    fn halo_width(&self) -> usize;
    /// Every block has radial tables (what `RadialMode::Tables` needs).
    fn has_radial_tables(&self) -> bool {
        false
    }
}

/// The model file as loaded, and the executors built from it so far.
pub(super) struct Learned<A: Architecture> {
    arch: A,
    species: Species,
    meta: Value,
    tensors: SafeTensors,
    n_layers: usize,
    halo_width: usize,
    f64: OnceLock<A::Network<f64>>,
    f32: OnceLock<A::Network<f32>>,
}

impl<A: Architecture> Learned<A> {
    /// Reads a model file. The float64 network is built once here, so that
    /// every error of the file shows at load; it is then dropped (rebuilding
    /// it costs little next to holding a precision nobody uses).
    pub fn load(arch: A, meta: Value, tensors: SafeTensors) -> Result<Self> {
        let species = Species::from_meta(&meta)?;
        let (n_layers, halo_width) = {
            let d = Description::new(&meta, &tensors, A::FILE_KIND.0, A::FILE_KIND.1)?;
            let check = || -> Result<(usize, usize)> {
                let net = arch.build::<f64>(&d, &species)?;
                d.check_all_used()?;
                Ok((net.n_layers(), net.halo_width()))
            };
            check().map_err(from_file_error)?
        };
        Ok(Learned { arch, species, meta, tensors, n_layers, halo_width, f64: OnceLock::new(), f32: OnceLock::new() })
    }

    /// The executor of precision T, built on first use (on the calling
    /// workspace's threads). Two threads asking at once may both build it;
    /// one result is kept.
    fn network<'a, T: Real>(&'a self, cell: &'a OnceLock<A::Network<T>>) -> Result<&'a A::Network<T>> {
        if let Some(net) = cell.get() {
            return Ok(net);
        }
        let d = Description::new(&self.meta, &self.tensors, A::FILE_KIND.0, A::FILE_KIND.1)?;
        let net = self.arch.build::<T>(&d, &self.species).map_err(from_file_error)?;
        Ok(cell.get_or_init(|| net))
    }

    /// Both executors (for tests that compare them).
    #[cfg(test)]
    pub fn networks(&self) -> (&A::Network<f64>, &A::Network<f32>) {
        (self.network(&self.f64).unwrap(), self.network(&self.f32).unwrap())
    }

    fn types(&self, graph: &AtomGraph) -> Result<Vec<usize>> {
        let s = &self.species;
        graph
            .numbers
            .iter()
            .map(|&z| {
                let t = usize::try_from(z).ok().and_then(|z| s.type_of.get(z)).copied().unwrap_or(-1);
                usize::try_from(t).map_err(|_| {
                    Error::UnknownElement(format!("element Z = {z} is not in this {} model's species {:?}", A::NAME, s.species))
                })
            })
            .collect()
    }

    fn evaluate(&self, graph: &AtomGraph, request: &Request, ws: &Workspace, halo: Option<&mut dyn HaloExchange>) -> Result<Outputs> {
        let types = self.types(graph)?;
        let mut profile = Stopwatch::new(request.profile);
        let (energies, grads) = halo::evaluate(ws, halo, |halo| match request.precision {
            Precision::F64 => self.network(&self.f64)?.run(graph, &types, request, &mut profile, halo),
            Precision::F32 => self.network(&self.f32)?.run(graph, &types, request, &mut profile, halo),
        })?;
        let mut out = local_outputs(graph, &energies, &grads, request);
        profile.lap("outputs: forces, virial");
        out.profile = profile.finish();
        drop((energies, grads));
        ws.arena().end_evaluation();
        Ok(out)
    }
}

impl<A: Architecture> Potential for Learned<A> {
    fn architecture(&self) -> &str {
        A::NAME
    }
    fn cutoff(&self) -> f64 {
        self.species.cutoff
    }
    fn n_layers(&self) -> usize {
        self.n_layers
    }
    fn species(&self) -> &[i32] {
        &self.species.species
    }
    fn min_distance(&self) -> f64 {
        self.arch.min_distance()
    }
    fn prepare(&self, precision: Precision) -> Result<()> {
        match precision {
            Precision::F64 => self.network(&self.f64).map(|_| ()),
            Precision::F32 => self.network(&self.f32).map(|_| ()),
        }
    }
    fn memory_estimate(&self, atoms: usize, edges: usize, request: &Request) -> f64 {
        // `prepare` built the network; without it, assume the worst.
        let estimate = match request.precision {
            Precision::F64 => self.f64.get().map(|n| n.memory_estimate(atoms, edges, request)),
            Precision::F32 => self.f32.get().map(|n| n.memory_estimate(atoms, edges, request)),
        };
        estimate.unwrap_or(f64::INFINITY)
    }
    fn has_radial_tables(&self, precision: Precision) -> bool {
        // `prepare` built the network.
        match precision {
            Precision::F64 => self.f64.get().is_some_and(|n| n.has_radial_tables()),
            Precision::F32 => self.f32.get().is_some_and(|n| n.has_radial_tables()),
        }
    }
    fn compute(&self, graph: &AtomGraph, request: &Request, ws: &Workspace) -> Result<Outputs> {
        self.evaluate(graph, request, ws, None)
    }
    fn halo_width(&self) -> usize {
        self.halo_width
    }
    fn compute_with_halo(&self, graph: &AtomGraph, request: &Request, ws: &Workspace, halo: &mut dyn HaloExchange) -> Result<Outputs> {
        self.evaluate(graph, request, ws, Some(halo))
    }
}
