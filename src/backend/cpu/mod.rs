//! CPU execution: a caller-owned thread pool and the arena of buffers its
//! evaluations reuse.

mod arena;

pub use arena::{collect, zeros, Arena, Buf};
use crate::{Error, Result};
use std::sync::Arc;

/// Most threads a workspace may ask for.
pub const MAX_THREADS: usize = 4096;

/// The execution context of one caller thread: the pool that graph builds and
/// model evaluations run on, and the memory a structure may ask for. Models
/// and graphs are immutable and may be shared between threads; a workspace is
/// used by one caller thread at a time.
pub struct Workspace {
    pool: rayon::ThreadPool,
    arena: Arc<Arena>,
    memory_limit: usize,
}

impl Workspace {
    /// A workspace running on `n_threads` threads; `0` means one per core.
    pub fn new(n_threads: usize) -> Result<Self> {
        let n = if n_threads == 0 {
            std::thread::available_parallelism().map_or(1, |n| n.get())
        } else {
            n_threads
        };
        if n > MAX_THREADS {
            return Err(Error::InvalidArgument(format!("{n} threads is more than the {MAX_THREADS} allowed")));
        }
        let arena = Arc::new(Arena::default());
        let home = arena.clone();
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .thread_name(|i| format!("equipot-{i}"))
            .start_handler(move |_| arena::set_current(Some(home.clone())))
            .exit_handler(|_| arena::set_current(None))
            .build()
            .map_err(|e| Error::Internal(format!("cannot start {n} threads: {e}")))?;
        Ok(Workspace { pool, arena, memory_limit: default_memory_limit() })
    }

    /// Most bytes one graph build or one evaluation may plan to use; a
    /// structure whose estimate is larger is refused with
    /// `Error::OutOfMemory` before anything large is allocated.
    pub fn memory_limit(&self) -> usize {
        self.memory_limit
    }

    /// Sets the memory limit (bytes; see `memory_limit`).
    pub fn set_memory_limit(&mut self, bytes: usize) {
        self.memory_limit = bytes;
    }

    /// Refuses a plan of `bytes` (an estimate, so a float: it may be huge)
    /// when it exceeds the memory limit; `what` says what needs it.
    pub fn check_memory(&self, what: &str, bytes: f64) -> Result<()> {
        if bytes.is_nan() || bytes > self.memory_limit as f64 {
            return Err(Error::OutOfMemory(format!(
                "{what} would need about {:.3} GB, more than this workspace's memory limit of {:.3} GB \
                 (a cell given in nm instead of Å, or atoms far too dense, do this; if the structure is \
                 right, raise the limit: eqp_workspace_set_memory_limit, Workspace::set_memory_limit)",
                bytes / 1e9,
                self.memory_limit as f64 / 1e9
            )));
        }
        Ok(())
    }

    /// Number of threads work is spread over.
    pub fn n_threads(&self) -> usize {
        self.pool.current_num_threads()
    }

    /// Runs `f` inside this workspace's pool, so that rayon's parallel
    /// iterators in `f` use exactly this workspace's threads.
    pub fn run<R: Send>(&self, f: impl FnOnce() -> R + Send) -> R {
        self.pool.install(f)
    }

    /// Runs `f` on the calling thread with a scope whose spawned jobs run on
    /// this workspace's threads (the halo exchange serves the host from the
    /// calling thread while the model runs on the pool).
    pub(crate) fn in_place_scope<'s, R>(&self, f: impl FnOnce(&rayon::Scope<'s>) -> R) -> R {
        self.pool.in_place_scope(f)
    }

    /// The calling thread is one of this workspace's threads.
    pub(crate) fn is_own_thread(&self) -> bool {
        self.pool.current_thread_index().is_some()
    }

    /// The buffers this workspace's evaluations reuse.
    pub fn arena(&self) -> &Arena {
        &self.arena
    }

    /// Runs `f` once on each of this workspace's threads (for per-thread
    /// settings such as the SIMD level of nn::simd).
    pub(crate) fn on_every_thread(&self, f: impl Fn() + Sync) {
        self.pool.broadcast(|_| f());
    }
}

/// Runs `f` on the calling thread alone: rayon's parallel iterators inside it
/// (e.g. while a model builds its tables) then neither start rayon's global
/// pool, one thread per core in every MPI rank, nor use it.
pub fn on_current_thread<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    match rayon::ThreadPoolBuilder::new().num_threads(1).use_current_thread().build() {
        Ok(pool) => pool.install(f),
        // Already a worker of some pool: stay in it.
        Err(_) => f(),
    }
}

/// Default memory limit: 80 % of the machine's physical memory (16 GB when
/// it cannot be read). Several processes on one node (MPI ranks) each get it.
pub fn default_memory_limit() -> usize {
    // SAFETY: sysconf only reads system configuration.
    let (pages, page) = unsafe { (libc::sysconf(libc::_SC_PHYS_PAGES), libc::sysconf(libc::_SC_PAGESIZE)) };
    if pages > 0 && page > 0 {
        (pages as usize).saturating_mul(page as usize) / 5 * 4
    } else {
        16 << 30
    }
}
