//! Which instruction set the CPU kernels (GEMM, symmetric contraction, radial
//! tables) run with.
//!
//! The kernels ask `simd()` every time they start a batch. It answers the
//! best level this CPU has, unless the calling thread carries an override.
//! An override is set for the duration of one evaluation on every thread of
//! the evaluating workspace's pool (`Workspace::simd_scope`), and only there:
//! a workspace's threads belong to it alone, so two workspaces evaluating at
//! once with different levels never see each other's choice, and no
//! process-wide setting exists. (Passing the level down as an argument would
//! thread it through every layer's signature for a choice that only tests and
//! timings make.)

use crate::backend::Workspace;
use crate::{Error, Result};
use std::cell::Cell;

/// Instruction sets the kernels are compiled for, in increasing order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
pub(crate) enum Simd {
    Baseline,
    Avx2,
    Avx512,
}

/// The instruction-set level of an evaluation's CPU kernels.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum SimdLevel {
    /// The best this CPU has (the default).
    #[default]
    Auto,
    /// Portable code only (no AVX).
    None,
    /// AVX2 and FMA (x86-64).
    Avx2,
    /// AVX-512F (x86-64).
    Avx512,
}

impl SimdLevel {
    /// Every level, `Auto` first.
    pub const ALL: [SimdLevel; 4] = [SimdLevel::Auto, SimdLevel::None, SimdLevel::Avx2, SimdLevel::Avx512];

    /// The name the CLI and the Python binding use ("auto", "none", "avx2", "avx512").
    pub fn name(self) -> &'static str {
        match self {
            SimdLevel::Auto => "auto",
            SimdLevel::None => "none",
            SimdLevel::Avx2 => "avx2",
            SimdLevel::Avx512 => "avx512",
        }
    }

    /// The level called `name` (see `name`).
    pub fn from_name(name: &str) -> Result<SimdLevel> {
        SimdLevel::ALL.into_iter().find(|l| l.name() == name).ok_or_else(|| {
            Error::InvalidArgument(format!("unknown SIMD level {name:?} (auto, none, avx2 or avx512)"))
        })
    }

    /// The explicit levels this CPU can run (`None` always), lowest first.
    pub fn available() -> Vec<SimdLevel> {
        [SimdLevel::None, SimdLevel::Avx2, SimdLevel::Avx512].into_iter().filter(|l| l.kernels().is_some_and(|k| k <= best())).collect()
    }

    /// The kernels' level this explicit level asks for (None: `Auto`).
    fn kernels(self) -> Option<Simd> {
        match self {
            SimdLevel::Auto => None,
            SimdLevel::None => Some(Simd::Baseline),
            SimdLevel::Avx2 => Some(Simd::Avx2),
            SimdLevel::Avx512 => Some(Simd::Avx512),
        }
    }

    /// The kernels' level (None: the best), or an error when the CPU lacks it.
    fn resolve(self) -> Result<Option<Simd>> {
        let Some(wanted) = self.kernels() else { return Ok(None) };
        if wanted > best() {
            return Err(Error::Unsupported(format!(
                "SIMD level {} is not available on this CPU (it has: {})",
                self.name(),
                SimdLevel::available().iter().map(|l| l.name()).collect::<Vec<_>>().join(", ")
            )));
        }
        Ok(Some(wanted))
    }
}

thread_local! {
    /// This thread's override of the best level (None: no override).
    static OVERRIDE: Cell<Option<Simd>> = const { Cell::new(None) };
}

/// The level the kernels run with on this thread.
pub(crate) fn simd() -> Simd {
    OVERRIDE.with(Cell::get).unwrap_or_else(best)
}

/// The best instruction set of this CPU (a fact of the hardware, detected once).
fn best() -> Simd {
    static BEST: std::sync::OnceLock<Simd> = std::sync::OnceLock::new();
    *BEST.get_or_init(|| {
        #[allow(unused_mut)]
        let mut best = Simd::Baseline;
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::is_x86_feature_detected as has;
            if has!("avx2") && has!("fma") {
                best = Simd::Avx2;
                if has!("avx512f") {
                    best = Simd::Avx512;
                }
            }
        }
        best
    })
}

/// While alive, the kernels on a workspace's threads (and on the thread that
/// made it) run with one level; dropping it restores the best.
pub struct SimdScope<'a> {
    ws: Option<&'a Workspace>,
    previous: Option<Simd>,
}

impl Workspace {
    /// Makes this workspace's kernels run at `level` until the returned scope
    /// is dropped. `Auto` changes nothing (no thread is touched); a level
    /// this CPU lacks is `Error::Unsupported`. `Model::compute` does this for
    /// `Request::simd`; the nn tests use it to run every path.
    pub fn simd_scope(&self, level: SimdLevel) -> Result<SimdScope<'_>> {
        let previous = OVERRIDE.with(Cell::get);
        let Some(simd) = level.resolve()? else {
            return Ok(SimdScope { ws: None, previous });
        };
        set_override(self, Some(simd));
        Ok(SimdScope { ws: Some(self), previous })
    }
}

fn set_override(ws: &Workspace, value: Option<Simd>) {
    OVERRIDE.with(|o| o.set(value));
    ws.on_every_thread(|| OVERRIDE.with(|o| o.set(value)));
}

impl Drop for SimdScope<'_> {
    fn drop(&mut self) {
        if let Some(ws) = self.ws {
            set_override(ws, self.previous);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_scope_reaches_every_pool_thread_and_ends() {
        let ws = Workspace::new(3).unwrap();
        let levels = |ws: &Workspace| {
            use rayon::prelude::*;
            ws.run(|| (0..64).into_par_iter().map(|_| simd()).collect::<Vec<_>>())
        };
        assert!(levels(&ws).iter().all(|&s| s == best()));
        {
            let _scope = ws.simd_scope(SimdLevel::None).unwrap();
            assert!(levels(&ws).iter().all(|&s| s == Simd::Baseline));
            // Another workspace is not affected.
            let other = Workspace::new(2).unwrap();
            assert!(levels(&other).iter().all(|&s| s == best()));
        }
        assert!(levels(&ws).iter().all(|&s| s == best()));
    }

    #[test]
    fn names_round_trip_and_unknown_levels_are_errors() {
        for level in SimdLevel::ALL {
            assert_eq!(SimdLevel::from_name(level.name()).unwrap(), level);
        }
        let err = SimdLevel::from_name("sse9").unwrap_err().to_string();
        assert!(err.contains("sse9") && err.contains("avx512"), "{err}");
        assert!(SimdLevel::available().contains(&SimdLevel::None));
        for level in [SimdLevel::Avx2, SimdLevel::Avx512] {
            if !SimdLevel::available().contains(&level) {
                let ws = Workspace::new(1).unwrap();
                let err = ws.simd_scope(level).err().unwrap().to_string();
                assert!(err.contains("not available on this CPU"), "{err}");
            }
        }
    }
}
