//! Models: what turns an atom graph into energy, forces and virial.
//!
//! Sign conventions (the C ABI documents the same):
//! - forces F_a = -∂E/∂r_a (eV/Å), on local and ghost atoms alike;
//! - virial W = -Σ_edges v_e ⊗ ∂E/∂v_e (eV), row-major 3×3, LAMMPS's sign
//!   (positive under compression); ASE's stress is σ = -W / V (eV/Å³).
//! - energy sums per-atom energies of local atoms only.

mod description;
mod edges;
mod radial_table;
mod learned;
pub mod file;
pub mod halo;
pub mod mace;
pub mod nequip;
pub mod profile;
pub mod safetensors;
mod lennard_jones;

pub use file::{load, load_modal};
pub use halo::{HaloDirection, HaloExchange};
pub use lennard_jones::LennardJones;
pub use profile::{Profile, Stage};
pub use crate::nn::SimdLevel;

use crate::backend::Workspace;
use crate::graph::AtomGraph;
use crate::{Error, Result};
use rayon::prelude::*;

/// Shortest edge (Å) a learned model without a short-range repulsion accepts:
/// the shortest bond there is (H₂) is 0.74 Å, and 2-atom cells given in nm
/// instead of Å put atoms 0.2–0.5 Å apart.
pub const LEARNED_MIN_DISTANCE: f64 = 0.5;

/// Floating-point precision of a model evaluation. Results are always
/// returned in f64; energies are always accumulated in f64.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Precision {
    /// Double precision (the reference).
    #[default]
    F64,
    /// Single precision (fast).
    F32,
}

/// How a model evaluates its radial networks (the weights of each edge as a
/// function of its length).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum RadialMode {
    /// As the model was loaded: SevenNet/NequIP models read float32 weights
    /// from their load-time tables and compute float64 ones exactly; MACE
    /// computes them exactly (the default).
    #[default]
    Auto,
    /// The exact networks, in every precision (for checks and timings).
    Exact,
    /// The tables; `Error::Unsupported` where the model has none in the
    /// precision asked for (float64, MACE, Lennard-Jones).
    Tables,
}

impl RadialMode {
    /// The name the CLI and the Python binding use ("auto", "exact", "tables").
    pub fn name(self) -> &'static str {
        match self {
            RadialMode::Auto => "auto",
            RadialMode::Exact => "exact",
            RadialMode::Tables => "tables",
        }
    }

    /// The mode called `name` (see `name`).
    pub fn from_name(name: &str) -> Result<RadialMode> {
        [RadialMode::Auto, RadialMode::Exact, RadialMode::Tables]
            .into_iter()
            .find(|m| m.name() == name)
            .ok_or_else(|| Error::InvalidArgument(format!("unknown radial mode {name:?} (auto, exact or tables)")))
    }
}

/// What a caller wants from a model evaluation (energy always comes), and how
/// it runs. The defaults are the fast, reference-checked path.
#[derive(Clone, Copy, Debug, Default)]
pub struct Request {
    /// Forces on every atom.
    pub forces: bool,
    /// Global virial.
    pub virial: bool,
    /// Per-atom energies (local atoms; ghosts get 0).
    pub atom_energies: bool,
    /// Per-atom virials (every atom).
    pub atom_virials: bool,
    /// Arithmetic precision.
    pub precision: Precision,
    /// Radial networks exact or tabulated.
    pub radial: RadialMode,
    /// Instruction set of the CPU kernels (a level the CPU lacks is
    /// `Error::Unsupported`).
    pub simd: SimdLevel,
    /// Per-stage wall times in `Outputs::profile`.
    pub profile: bool,
}

impl Request {
    /// Energy, forces and virial in f64.
    pub fn all() -> Request {
        Request { forces: true, virial: true, atom_energies: true, atom_virials: true, ..Default::default() }
    }

    /// Forces or virials are asked for: the model must produce ∂E/∂v_e.
    pub fn needs_edge_gradients(&self) -> bool {
        self.forces || self.virial || self.atom_virials
    }
}

/// Results of one evaluation; vectors are empty unless requested.
#[derive(Clone, Debug, Default)]
pub struct Outputs {
    /// Total energy of the local atoms, eV.
    pub energy: f64,
    /// Per-atom energies, eV (length n_atoms, ghosts 0).
    pub atom_energies: Vec<f64>,
    /// Forces, eV/Å (length n_atoms).
    pub forces: Vec<[f64; 3]>,
    /// Virial, eV, row-major.
    pub virial: [[f64; 3]; 3],
    /// Per-atom virials, eV (length n_atoms).
    pub atom_virials: Vec<[[f64; 3]; 3]>,
    /// Per-stage wall times (empty unless `Request::profile`).
    pub profile: Profile,
}

/// An interatomic potential. Implementations are immutable after loading and
/// may be shared between threads.
pub trait Potential: Send + Sync {
    /// Architecture name, as in the model file ("lennard-jones", "nequip", ...).
    fn architecture(&self) -> &str;
    /// Cutoff radius of one interaction, Å.
    fn cutoff(&self) -> f64;
    /// Number of message-passing layers (1 for strictly local models): atoms
    /// up to `n_layers × cutoff` away influence an atom's energy.
    fn n_layers(&self) -> usize {
        1
    }
    /// Atomic numbers the model knows, in its own order.
    fn species(&self) -> &[i32];
    /// Shortest edge the model is defined for, Å (0: any). Learned models
    /// never saw closer pairs in training, and evaluating them there gives
    /// meaningless, huge numbers (float32 and float64 then differ by orders
    /// of magnitude): such a structure is refused instead.
    fn min_distance(&self) -> f64 {
        0.0
    }
    /// Makes ready what an evaluation in `precision` needs (a learned
    /// model builds that precision's network when first asked).
    fn prepare(&self, precision: Precision) -> Result<()> {
        let _ = precision;
        Ok(())
    }
    /// Whether the model has radial tables in `precision` (what
    /// `RadialMode::Tables` needs).
    fn has_radial_tables(&self, precision: Precision) -> bool {
        let _ = precision;
        false
    }
    /// Roughly how many bytes one evaluation on `atoms` atoms and `edges`
    /// edges allocates at its peak (checked against the workspace's memory
    /// limit before it starts).
    fn memory_estimate(&self, atoms: usize, edges: usize, request: &Request) -> f64 {
        let _ = request;
        // Outputs and per-edge gradients.
        atoms as f64 * 100.0 + edges as f64 * 48.0
    }
    /// Evaluates the model on a graph built with at least `cutoff()`.
    fn compute(&self, graph: &AtomGraph, request: &Request, ws: &Workspace) -> Result<Outputs>;
    /// Width of the widest node feature a halo exchange carries (0: the
    /// model never exchanges; see `halo`).
    fn halo_width(&self) -> usize {
        0
    }
    /// Evaluates the model on a graph whose ghost atoms lie within one cutoff
    /// of the local atoms, getting the ghosts' node features from their owners
    /// through `halo` (see the `halo` module). A strictly local model needs no
    /// exchange.
    fn compute_with_halo(
        &self,
        graph: &AtomGraph,
        request: &Request,
        ws: &Workspace,
        halo: &mut dyn HaloExchange,
    ) -> Result<Outputs> {
        let _ = halo;
        if self.n_layers() > 1 {
            return Err(Error::Unsupported(format!(
                "halo exchange for {} models is not implemented yet: evaluate them on one process \
                 with the periodic graph (LAMMPS: one MPI rank, pair_style equipot graph periodic)",
                self.architecture()
            )));
        }
        self.compute(graph, request, ws)
    }
}

/// A loaded model, of any architecture.
pub struct Model {
    inner: Box<dyn Potential>,
}

impl Model {
    /// Wraps a potential.
    pub fn new(potential: impl Potential + 'static) -> Model {
        Model { inner: Box::new(potential) }
    }

    /// The potential.
    pub fn potential(&self) -> &dyn Potential {
        self.inner.as_ref()
    }

    /// Evaluates the model, after checking that the graph fits it. Edges of
    /// length ≥ the model's cutoff are left out (a graph built with any
    /// longer cutoff gives the same numbers), and a non-finite result is an
    /// error, never a success.
    pub fn compute(&self, graph: &AtomGraph, request: &Request, ws: &Workspace) -> Result<Outputs> {
        self.evaluate(graph, request, ws, |graph| self.inner.compute(graph, request, ws))
    }

    /// Evaluates the model with a halo exchange (see `Potential::compute_with_halo`),
    /// with the checks of `compute`.
    pub fn compute_with_halo(
        &self,
        graph: &AtomGraph,
        request: &Request,
        ws: &Workspace,
        halo: &mut dyn HaloExchange,
    ) -> Result<Outputs> {
        self.evaluate(graph, request, ws, |graph| self.inner.compute_with_halo(graph, request, ws, halo))
    }

    fn evaluate(
        &self,
        graph: &AtomGraph,
        request: &Request,
        ws: &Workspace,
        run: impl FnOnce(&AtomGraph) -> Result<Outputs>,
    ) -> Result<Outputs> {
        let mut clock = profile::Stopwatch::new(request.profile);
        // A precision's network is built when first used (its radial tables included).
        ws.run(|| self.inner.prepare(request.precision))?;
        if request.radial == RadialMode::Tables && !self.inner.has_radial_tables(request.precision) {
            return Err(Error::Unsupported(format!(
                "radial tables in {:?}: this {} model has none in that precision (RadialMode::Auto or Exact)",
                request.precision,
                self.architecture()
            )));
        }
        self.check(graph)?;
        let trimmed = ws.run(|| graph.within(self.inner.cutoff()));
        let graph = trimmed.as_ref().unwrap_or(graph);
        ws.run(|| self.check_distances(graph))?;
        let bytes = self.inner.memory_estimate(graph.n_atoms(), graph.n_edges(), request);
        ws.check_memory(
            &format!("evaluating {} atoms and {} edges with this {} model", graph.n_atoms(), graph.n_edges(), self.architecture()),
            bytes,
        )?;
        let scope = ws.simd_scope(request.simd)?;
        clock.lap("checks: graph, distances, memory");
        let mut out = run(graph)?;
        let mut checks = clock.finish();
        let mut clock = profile::Stopwatch::new(request.profile);
        drop(scope);
        check_finite(graph, &out)?;
        clock.lap("checks: finite results");
        // The model's own stages (timed inside `run`) between the checks.
        checks.stages.append(&mut out.profile.stages);
        checks.stages.append(&mut clock.finish().stages);
        if request.profile {
            out.profile = checks;
        }
        Ok(out)
    }

    fn check_distances(&self, graph: &AtomGraph) -> Result<()> {
        let shortest = self.inner.min_distance();
        let r2 = |e: &usize| crate::graph::norm2(&graph.vectors[*e]);
        let closest = (0..graph.n_edges()).into_par_iter().min_by(|a, b| r2(a).total_cmp(&r2(b)));
        if let Some(e) = closest.filter(|e| r2(e) < shortest * shortest) {
            let r = r2(&e).sqrt();
            return Err(Error::InvalidArgument(format!(
                "atoms {} and {} (image {:?}) are {r:.3} Å apart, the closest pair; this {} model is not defined closer than \
                 {shortest} Å (is the cell in Å, not nm? did the dynamics blow up?)",
                graph.centers[e], graph.neighbors[e], graph.shifts.get(e).copied().unwrap_or_default(), self.architecture()
            )));
        }
        Ok(())
    }

    fn check(&self, graph: &AtomGraph) -> Result<()> {
        let cutoff = self.inner.cutoff();
        if graph.cutoff < cutoff * (1.0 - 1e-12) {
            return Err(Error::InvalidArgument(format!(
                "the graph was built with cutoff {} Å, the model needs {cutoff} Å",
                graph.cutoff
            )));
        }
        let species = self.inner.species();
        for (i, z) in graph.numbers.iter().enumerate() {
            if !species.contains(z) {
                return Err(Error::UnknownElement(format!(
                    "atom {i} has atomic number {z}, which the model does not know (it knows {species:?})"
                )));
            }
        }
        Ok(())
    }
}

impl std::ops::Deref for Model {
    type Target = dyn Potential;
    fn deref(&self) -> &Self::Target {
        self.inner.as_ref()
    }
}

/// A non-finite energy, force or virial is an error naming the first bad atom.
fn check_finite(graph: &AtomGraph, out: &Outputs) -> Result<()> {
    let atom = |i: usize| format!("atom {i} (Z = {})", graph.numbers[i]);
    let bad_force = out.forces.iter().position(|f| !f.iter().all(|x| x.is_finite()));
    let bad_energy = out.atom_energies.iter().position(|e| !e.is_finite());
    let bad_atom_virial = out.atom_virials.iter().position(|w| !w.iter().flatten().all(|x| x.is_finite()));
    let first = [bad_force, bad_energy, bad_atom_virial].into_iter().flatten().min();
    let mut problems = Vec::new();
    if !out.energy.is_finite() {
        problems.push(format!("the energy is {}", out.energy));
    }
    if !out.virial.iter().flatten().all(|x| x.is_finite()) {
        problems.push(format!("the virial is {:?}", out.virial));
    }
    if let Some(i) = first {
        let force = out.forces.get(i).map_or(String::new(), |f| format!(", force {f:?}"));
        let energy = out.atom_energies.get(i).map_or(String::new(), |e| format!(", energy {e}"));
        problems.push(format!("{} is the first bad atom{force}{energy}", atom(i)));
    }
    if problems.is_empty() {
        return Ok(());
    }
    Err(Error::NonFinite(format!(
        "{} (atoms too close together, a broken structure, or a model file with bad weights)",
        problems.join("; ")
    )))
}

/// The outputs of a message-passing model from the local atoms' energies (the
/// first `graph.n_local` entries of `energies`; ghost atoms get 0) and, when
/// the request needs them, ∂E/∂v_e per edge.
pub fn local_outputs(graph: &AtomGraph, energies: &[f64], grads: &[[f64; 3]], request: &Request) -> Outputs {
    let local = &energies[..graph.n_local];
    let mut out = Outputs { energy: local.iter().sum(), ..Default::default() };
    if request.atom_energies {
        out.atom_energies = local.iter().copied().chain(std::iter::repeat(0.0)).take(graph.n_atoms()).collect();
    }
    if request.needs_edge_gradients() {
        accumulate_edge_gradients(graph, grads, request, &mut out);
    }
    out
}

/// Turns ∂E/∂v_e (one gradient per edge of `graph`) into the requested forces,
/// virial and per-atom virials. Every per-edge model ends here. Per-atom
/// virials split each edge's term evenly between its two atoms.
pub fn accumulate_edge_gradients(graph: &AtomGraph, grads: &[[f64; 3]], request: &Request, out: &mut Outputs) {
    debug_assert_eq!(grads.len(), graph.n_edges());
    let n = graph.n_atoms();
    if request.forces {
        out.forces = vec![[0.0; 3]; n];
    }
    if request.atom_virials {
        out.atom_virials = vec![[[0.0; 3]; 3]; n];
    }
    out.virial = [[0.0; 3]; 3];
    for (e, g) in grads.iter().enumerate() {
        let (i, j) = (graph.centers[e] as usize, graph.neighbors[e] as usize);
        if request.forces {
            for k in 0..3 {
                out.forces[i][k] += g[k];
                out.forces[j][k] -= g[k];
            }
        }
        if request.virial || request.atom_virials {
            let v = &graph.vectors[e];
            for a in 0..3 {
                for b in 0..3 {
                    let w = -v[a] * g[b];
                    out.virial[a][b] += w;
                    if request.atom_virials {
                        out.atom_virials[i][a][b] += 0.5 * w;
                        out.atom_virials[j][a][b] += 0.5 * w;
                    }
                }
            }
        }
    }
}
