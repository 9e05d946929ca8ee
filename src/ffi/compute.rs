use super::graph::eqp_graph_t;
use super::model::eqp_model_t;
use super::status::*;
use super::workspace::{eqp_workspace_t, with_workspace};
use crate::model::{Precision, Request};
use crate::Error;

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
#[no_mangle]
pub unsafe extern "C" fn eqp_compute(
    model: *const eqp_model_t,
    graph: *const eqp_graph_t,
    workspace: *mut eqp_workspace_t,
    precision: eqp_precision_t,
    outputs: *mut eqp_outputs_t,
) -> eqp_status_t {
    guard("eqp_compute", || {
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
        let result = with_workspace(workspace, |ws| model.compute(graph, &request, ws))?;
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
    })
}
