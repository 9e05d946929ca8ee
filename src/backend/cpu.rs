//! CPU execution: a caller-owned thread pool.

use crate::{Error, Result};

/// Most threads a workspace may ask for.
pub const MAX_THREADS: usize = 4096;

/// The execution context of one caller thread: the pool that graph builds and
/// model evaluations run on. Models and graphs are immutable and may be shared
/// between threads; a workspace is used by one caller thread at a time.
pub struct Workspace {
    pool: rayon::ThreadPool,
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
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .thread_name(|i| format!("equipot-{i}"))
            .build()
            .map_err(|e| Error::Internal(format!("cannot start {n} threads: {e}")))?;
        Ok(Workspace { pool })
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
}

/// A vector of `len` zeros, written by the current pool's threads: large
/// buffers (n_atoms × features) then cost no serial memset or page faults.
pub fn zeros<T: Copy + Send + Sync + Default>(len: usize) -> Vec<T> {
    use rayon::prelude::*;
    let mut v = Vec::with_capacity(len);
    v.par_extend(rayon::iter::repeat_n(T::default(), len));
    v
}
