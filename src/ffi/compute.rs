use super::graph::eqp_graph_t;
use super::model::eqp_model_t;
use super::status::*;
use super::workspace::{eqp_workspace_t, with_workspace};
use crate::model::{HaloDirection, HaloExchange, Precision, Request};
use crate::Error;
use std::os::raw::c_void;

/// Arithmetic precision of an evaluation (results are always double).
pub type eqp_precision_t = i32;
/// Double precision: the reference.
pub const EQP_FLOAT64: eqp_precision_t = 0;
/// Single precision: faster; energies are still accumulated in double.
pub const EQP_FLOAT32: eqp_precision_t = 1;

/// Where eqp_compute writes its results. Set `n_atoms` to the graph's number
/// of atoms (local + ghost) and point each wanted output at a buffer; NULL
/// pointers are skipped. Buffers are overwritten, not accumulated into.
///
/// Units and signs: energy in eV; forces F = −∂E/∂r in eV/Å, on every atom
/// (ghost forces must be added to their owners by the host); the virial
/// W = −Σ_edges r_ij ⊗ ∂E/∂r_ij in eV, row-major 3×3 (LAMMPS's sign: positive
/// under compression; the stress in ASE's convention is −W/V in eV/Å³).
#[repr(C)]
pub struct eqp_outputs_t {
    /// In: number of atoms the per-atom buffers hold.
    pub n_atoms: usize,
    /// Out: total energy of the local atoms, eV.
    pub energy: f64,
    /// Out (optional): 3·n_atoms forces, eV/Å.
    pub forces: *mut f64,
    /// Out (optional): 9 virial components, eV, row-major.
    pub virial: *mut f64,
    /// Out (optional): n_atoms per-atom energies, eV (0 for ghosts).
    pub atom_energies: *mut f64,
    /// Out (optional): 9·n_atoms per-atom virials, eV, row-major per atom.
    pub atom_virials: *mut f64,
}

/// Evaluates `model` on `graph` (built with at least the model's cutoff) in
/// the given precision, writing into `outputs`. `workspace` may be NULL.
///
/// A graph from eqp_graph_from_neighbor_list may hold ghost atoms: the model
/// then computes every atom it is given and counts the energy of local atoms
/// only, so a model with L message-passing layers (eqp_model_n_layers) needs
/// ghosts out to L × cutoff, with neighbor rows for those within (L − 1) ×
/// cutoff. eqp_compute_with_halo needs ghosts within one cutoff only.
#[no_mangle]
pub unsafe extern "C" fn eqp_compute(
    model: *const eqp_model_t,
    graph: *const eqp_graph_t,
    workspace: *mut eqp_workspace_t,
    precision: eqp_precision_t,
    outputs: *mut eqp_outputs_t,
) -> eqp_status_t {
    guard("eqp_compute", || compute(model, graph, workspace, precision, None, outputs))
}

/// Direction of a halo exchange (see eqp_halo_exchange_t).
pub type eqp_halo_direction_t = i32;
/// Forward: make every ghost atom's row a copy of its owner's row.
pub const EQP_HALO_FORWARD: eqp_halo_direction_t = 0;
/// Reverse: add every ghost atom's row into its owner's row (ghost rows may
/// be left as they are).
pub const EQP_HALO_REVERSE: eqp_halo_direction_t = 1;

/// A host's halo exchange, called by eqp_compute_with_halo on the thread that
/// called it. `values` holds n_atoms × width doubles, row-major, one row per
/// atom of the graph (local atoms, then ghosts); `width` is at most
/// eqp_model_halo_width. Return 0 on success, anything else to stop the
/// evaluation (it then fails with EQP_ERROR_CALLBACK). The callback must
/// return normally: no C++ exception and no longjmp may cross the library.
pub type eqp_halo_exchange_t = Option<
    unsafe extern "C" fn(
        user_data: *mut c_void,
        direction: eqp_halo_direction_t,
        values: *mut f64,
        n_atoms: usize,
        width: usize,
    ) -> i32,
>;

/// Evaluates `model` like eqp_compute, on a graph whose ghost atoms need only
/// lie within one cutoff of the local atoms (with neighbor rows for the local
/// atoms only, as LAMMPS's usual full list gives), however many
/// message-passing layers the model has: the model computes node features of
/// local atoms only and gets those of the ghosts from their owners through
/// `exchange`, once per layer forward (EQP_HALO_FORWARD) and, when forces or
/// virials are wanted, once per layer in reverse order (EQP_HALO_REVERSE).
/// Every call of a model makes the same exchanges in the same order, also
/// with no atoms, so the callback may communicate collectively (MPI). A
/// message-passing model (eqp_model_halo_width > 0, even one with a single
/// interaction block) calls it once per interaction block each way; a model
/// with halo width 0 (Lennard-Jones) never calls `exchange`. `user_data` is
/// passed to `exchange` as it is. Energies, forces and virials are as in
/// eqp_compute; summed over ranks they are those of the whole system.
#[no_mangle]
pub unsafe extern "C" fn eqp_compute_with_halo(
    model: *const eqp_model_t,
    graph: *const eqp_graph_t,
    workspace: *mut eqp_workspace_t,
    precision: eqp_precision_t,
    exchange: eqp_halo_exchange_t,
    user_data: *mut c_void,
    outputs: *mut eqp_outputs_t,
) -> eqp_status_t {
    guard("eqp_compute_with_halo", || {
        let exchange = exchange.ok_or_else(|| Error::NullPointer("`exchange` is NULL".into()))?;
        let mut halo = HostHalo { exchange, user_data };
        compute(model, graph, workspace, precision, Some(&mut halo), outputs)
    })
}

/// The host's callback as a HaloExchange.
struct HostHalo {
    exchange: unsafe extern "C" fn(*mut c_void, eqp_halo_direction_t, *mut f64, usize, usize) -> i32,
    user_data: *mut c_void,
}

impl HaloExchange for HostHalo {
    fn exchange(&mut self, direction: HaloDirection, values: &mut [f64], width: usize) -> crate::Result<()> {
        let code = match direction {
            HaloDirection::Forward => EQP_HALO_FORWARD,
            HaloDirection::Reverse => EQP_HALO_REVERSE,
        };
        let n_atoms = if width == 0 { 0 } else { values.len() / width };
        // SAFETY: the host promised a valid callback; `values` is n_atoms × width.
        let status = unsafe { (self.exchange)(self.user_data, code, values.as_mut_ptr(), n_atoms, width) };
        if status != 0 {
            return Err(Error::Callback(format!("the halo exchange callback returned {status}")));
        }
        Ok(())
    }
}

unsafe fn compute(
    model: *const eqp_model_t,
    graph: *const eqp_graph_t,
    workspace: *mut eqp_workspace_t,
    precision: eqp_precision_t,
    halo: Option<&mut dyn HaloExchange>,
    outputs: *mut eqp_outputs_t,
) -> crate::Result<()> {
    let model = &handle(model, "model")?.inner;
    let graph = &handle(graph, "graph")?.inner;
    let out = outputs.as_mut().ok_or_else(|| Error::NullPointer("`outputs` is NULL".into()))?;
    let n = graph.n_atoms();
    if out.n_atoms != n {
        return Err(Error::LengthMismatch(format!(
            "outputs.n_atoms is {} but the graph has {n} atoms",
            out.n_atoms
        )));
    }
    let precision = match precision {
        EQP_FLOAT64 => Precision::F64,
        EQP_FLOAT32 => Precision::F32,
        p => return Err(Error::InvalidArgument(format!("unknown precision {p}"))),
    };
    let request = Request {
        forces: !out.forces.is_null(),
        virial: !out.virial.is_null(),
        atom_energies: !out.atom_energies.is_null(),
        atom_virials: !out.atom_virials.is_null(),
        precision,
    };
    let result = with_workspace(workspace, |ws| match halo {
        None => model.compute(graph, &request, ws),
        Some(h) => model.compute_with_halo(graph, &request, ws, h),
    })?;
    out.energy = result.energy;
    if request.forces {
        output(out.forces.cast::<[f64; 3]>(), n, "outputs.forces")?.copy_from_slice(&result.forces);
    }
    if request.virial {
        output(out.virial.cast::<[[f64; 3]; 3]>(), 1, "outputs.virial")?[0] = result.virial;
    }
    if request.atom_energies {
        output(out.atom_energies, n, "outputs.atom_energies")?.copy_from_slice(&result.atom_energies);
    }
    if request.atom_virials {
        output(out.atom_virials.cast::<[[f64; 3]; 3]>(), n, "outputs.atom_virials")?
            .copy_from_slice(&result.atom_virials);
    }
    Ok(())
}
