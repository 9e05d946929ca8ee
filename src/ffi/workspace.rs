use super::status::*;
use crate::backend::Workspace;

/// Where computations run: a thread pool owned by the caller. Use one
/// workspace per caller thread; it must not be used by two threads at once.
/// Functions taking a workspace accept NULL, meaning a fresh single-threaded
/// one (slower: it is created on every call).
pub struct eqp_workspace_t {
    pub(crate) inner: Workspace,
}

/// Creates a workspace running on `n_threads` threads (0: one per core).
#[no_mangle]
pub unsafe extern "C" fn eqp_workspace_new(n_threads: i32, workspace: *mut *mut eqp_workspace_t) -> eqp_status_t {
    guard("eqp_workspace_new", || {
        slot(workspace, "workspace")?;
        let n = usize::try_from(n_threads)
            .map_err(|_| crate::Error::InvalidArgument(format!("n_threads must be >= 0, got {n_threads}")))?;
        give(workspace, eqp_workspace_t { inner: Workspace::new(n)? });
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
