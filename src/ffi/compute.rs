use super::graph::eqp_graph_t;
use super::model::eqp_model_t;
use super::options::*;
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

/// Where eqp_compute_with_options writes its results: eqp_outputs_t with a
/// leading `struct_size`, so that outputs can be appended (a sized struct:
/// see eqp_workspace_options_t; its struct_size must cover at least the
/// fields below). Set `struct_size` to sizeof(eqp_results_t), `n_atoms` and
/// the wanted buffers; NULL pointers are skipped. Units and signs as in
/// eqp_outputs_t. (eqp_outputs_t keeps its layout for eqp_compute and
/// eqp_compute_with_halo, which are thin wrappers over the _with_options
/// entry points.)
#[repr(C)]
#[derive(Clone, Copy)]
pub struct eqp_results_t {
    /// In: sizeof(eqp_results_t) as the caller was compiled with.
    pub struct_size: usize,
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

impl Default for eqp_results_t {
    fn default() -> Self {
        let null = std::ptr::null_mut();
        eqp_results_t {
            struct_size: std::mem::size_of::<Self>(),
            n_atoms: 0,
            energy: 0.0,
            forces: null,
            virial: null,
            atom_energies: null,
            atom_virials: null,
        }
    }
}

impl eqp_results_t {
    /// The results of an eqp_outputs_t (the entry points without options).
    fn of(outputs: &eqp_outputs_t) -> Self {
        eqp_results_t {
            n_atoms: outputs.n_atoms,
            forces: outputs.forces,
            virial: outputs.virial,
            atom_energies: outputs.atom_energies,
            atom_virials: outputs.atom_virials,
            ..Default::default()
        }
    }
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
    guard("eqp_compute", || with_outputs(outputs, precision, |o, r| compute(model, graph, workspace, o, None, r)))
}

/// Evaluates `model` like eqp_compute, with `options` (NULL: the defaults,
/// float64; see eqp_evaluation_options_t), writing into `results`.
#[no_mangle]
pub unsafe extern "C" fn eqp_compute_with_options(
    model: *const eqp_model_t,
    graph: *const eqp_graph_t,
    workspace: *mut eqp_workspace_t,
    options: *const eqp_evaluation_options_t,
    results: *mut eqp_results_t,
) -> eqp_status_t {
    guard("eqp_compute_with_options", || compute(model, graph, workspace, options, None, results))
}

/// Runs `f` (options, results) for an entry point taking a precision and an
/// eqp_outputs_t, then copies the energy back.
unsafe fn with_outputs(
    outputs: *mut eqp_outputs_t,
    precision: eqp_precision_t,
    f: impl FnOnce(*const eqp_evaluation_options_t, *mut eqp_results_t) -> crate::Result<()>,
) -> crate::Result<()> {
    let out = outputs.as_mut().ok_or_else(|| Error::NullPointer("`outputs` is NULL".into()))?;
    let options = eqp_evaluation_options_t { precision, ..Default::default() };
    let mut results = eqp_results_t::of(out);
    f(&options, &mut results)?;
    out.energy = results.energy;
    Ok(())
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
        with_outputs(outputs, precision, |o, r| halo_compute(model, graph, workspace, o, exchange, user_data, r))
    })
}

/// Evaluates `model` like eqp_compute_with_halo, with `options` (NULL: the
/// defaults; see eqp_evaluation_options_t), writing into `results`.
#[no_mangle]
pub unsafe extern "C" fn eqp_compute_with_halo_and_options(
    model: *const eqp_model_t,
    graph: *const eqp_graph_t,
    workspace: *mut eqp_workspace_t,
    options: *const eqp_evaluation_options_t,
    exchange: eqp_halo_exchange_t,
    user_data: *mut c_void,
    results: *mut eqp_results_t,
) -> eqp_status_t {
    guard("eqp_compute_with_halo_and_options", || {
        halo_compute(model, graph, workspace, options, exchange, user_data, results)
    })
}

unsafe fn halo_compute(
    model: *const eqp_model_t,
    graph: *const eqp_graph_t,
    workspace: *mut eqp_workspace_t,
    options: *const eqp_evaluation_options_t,
    exchange: eqp_halo_exchange_t,
    user_data: *mut c_void,
    results: *mut eqp_results_t,
) -> crate::Result<()> {
    let exchange = exchange.ok_or_else(|| Error::NullPointer("`exchange` is NULL".into()))?;
    let mut halo = HostHalo { exchange, user_data };
    compute(model, graph, workspace, options, Some(&mut halo), results)
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
    options: *const eqp_evaluation_options_t,
    halo: Option<&mut dyn HaloExchange>,
    results: *mut eqp_results_t,
) -> crate::Result<()> {
    let model = &handle(model, "model")?.inner;
    let graph = &handle(graph, "graph")?.inner;
    if results.is_null() {
        return Err(Error::NullPointer("`outputs` is NULL".into()));
    }
    // Every field of the first eqp_results_t is needed.
    let out = read_sized(results, std::mem::size_of::<eqp_results_t>(), "eqp_results_t")?;
    let options = read_sized(options, std::mem::size_of::<usize>(), "eqp_evaluation_options_t")?;
    let precision = evaluation_precision(&options)?;
    let n = graph.n_atoms();
    if out.n_atoms != n {
        return Err(Error::LengthMismatch(format!("outputs.n_atoms is {} but the graph has {n} atoms", out.n_atoms)));
    }
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
    (*results).energy = result.energy;
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

/// The precision of `options`, refusing the options this build cannot honour
/// yet (reserved in the ABI so that they can come without breaking it).
fn evaluation_precision(options: &eqp_evaluation_options_t) -> crate::Result<Precision> {
    let precision = match options.precision {
        EQP_FLOAT64 => Precision::F64,
        EQP_FLOAT32 => Precision::F32,
        p => return Err(Error::InvalidArgument(format!("unknown precision {p}"))),
    };
    match options.radial_tables {
        -1 => {}
        0 | 1 => return Err(reserved("radial_tables", options.radial_tables)),
        v => return Err(Error::InvalidArgument(format!("options.radial_tables = {v} (-1, 0 or 1)"))),
    }
    match options.simd {
        -1 => {}
        v if v >= 0 => return Err(reserved("simd", v)),
        v => return Err(Error::InvalidArgument(format!("options.simd = {v} (-1 or a level)"))),
    }
    match options.profile {
        0 => Ok(precision),
        1 => Err(reserved("profile", 1)),
        v => Err(Error::InvalidArgument(format!("options.profile = {v} (0 or 1)"))),
    }
}

fn reserved(field: &str, value: i32) -> Error {
    Error::Unsupported(format!(
        "options.{field} = {value} is reserved: this build takes only the default (-1, profile 0)"
    ))
}
