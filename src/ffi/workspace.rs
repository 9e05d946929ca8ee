use super::options::*;
use super::status::*;
use crate::backend::Workspace;

/// Where computations run: a thread pool owned by the caller. Use one
/// workspace per caller thread; it must not be used by two threads at once.
/// Functions taking a workspace accept NULL, meaning a fresh single-threaded
/// one (slower: it is created on every call).
pub struct eqp_workspace_t {
    pub(crate) inner: Workspace,
}

/// Creates a workspace running on `n_threads` threads (0: one per core), on
/// the CPU, with the default memory limit: eqp_workspace_new_with_options
/// with the defaults but `n_threads`.
#[no_mangle]
pub unsafe extern "C" fn eqp_workspace_new(n_threads: i32, workspace: *mut *mut eqp_workspace_t) -> eqp_status_t {
    let options = eqp_workspace_options_t { n_threads, ..Default::default() };
    guard("eqp_workspace_new", || new_workspace(&options, workspace))
}

/// Creates a workspace with `options` (NULL: the defaults; see
/// eqp_workspace_options_t). A CUDA device fails with EQP_ERROR_UNSUPPORTED
/// in this build.
#[no_mangle]
pub unsafe extern "C" fn eqp_workspace_new_with_options(
    options: *const eqp_workspace_options_t,
    workspace: *mut *mut eqp_workspace_t,
) -> eqp_status_t {
    guard("eqp_workspace_new_with_options", || new_workspace(options, workspace))
}

unsafe fn new_workspace(
    options: *const eqp_workspace_options_t,
    workspace: *mut *mut eqp_workspace_t,
) -> crate::Result<()> {
    slot(workspace, "workspace")?;
    let options = read_sized(options, std::mem::size_of::<usize>(), "eqp_workspace_options_t")?;
    check_device(options.device)?;
    let n_threads = options.n_threads;
    let n = usize::try_from(n_threads)
        .map_err(|_| crate::Error::InvalidArgument(format!("n_threads must be >= 0, got {n_threads}")))?;
    let mut inner = Workspace::new(n)?;
    if options.memory_limit != 0 {
        inner.set_memory_limit(options.memory_limit);
    }
    give(workspace, eqp_workspace_t { inner });
    Ok(())
}

/// Sets the most memory (bytes) one graph build or one evaluation with this
/// workspace may plan to use (default: 80 % of the machine's physical memory).
/// A structure whose estimate is larger is refused with
/// EQP_ERROR_OUT_OF_MEMORY before anything large is allocated: a cell given in
/// nm instead of Å, or a 0.01 Å cell, would otherwise ask for tens of GB.
#[no_mangle]
pub unsafe extern "C" fn eqp_workspace_set_memory_limit(workspace: *mut eqp_workspace_t, bytes: usize) -> eqp_status_t {
    guard("eqp_workspace_set_memory_limit", || {
        let ws = workspace.as_mut().ok_or_else(|| crate::Error::NullPointer("`workspace` is NULL".into()))?;
        ws.inner.set_memory_limit(bytes);
        Ok(())
    })
}

/// The workspace's memory limit in bytes (see eqp_workspace_set_memory_limit).
#[no_mangle]
pub unsafe extern "C" fn eqp_workspace_memory_limit(
    workspace: *const eqp_workspace_t,
    bytes: *mut usize,
) -> eqp_status_t {
    guard("eqp_workspace_memory_limit", || {
        let ws = handle(workspace, "workspace")?;
        *output(bytes, 1, "bytes")?.first_mut().unwrap() = ws.inner.memory_limit();
        Ok(())
    })
}

/// Frees a workspace; NULL does nothing.
#[no_mangle]
pub unsafe extern "C" fn eqp_workspace_free(workspace: *mut eqp_workspace_t) {
    let _ = guard("eqp_workspace_free", || {
        free(workspace);
        Ok(())
    });
}

/// Runs `f` with the caller's workspace, or a serial one when it passed NULL.
pub(crate) unsafe fn with_workspace<R>(
    workspace: *mut eqp_workspace_t,
    f: impl FnOnce(&Workspace) -> crate::Result<R>,
) -> crate::Result<R> {
    match workspace.as_ref() {
        Some(ws) => f(&ws.inner),
        None => f(&Workspace::new(1)?),
    }
}
