//! Halo exchange: message passing across a host's domain decomposition.
//!
//! A host that splits the atoms over ranks (LAMMPS) gives each rank its local
//! atoms plus ghost atoms within one cutoff, and neighbor rows for the local
//! atoms only. A model with several message-passing layers then needs, before
//! each layer's convolution, the node features of the ghosts, which their
//! owners computed; and, in the backward pass, the gradients that arrived at
//! ghosts sent back to their owners. The host does both through this trait:
//! the library computes node features for local atoms only and asks for an
//! exchange once per layer each way. Ghosts need no deeper shell than one
//! cutoff, however many layers the model has.
//!
//! Every rank makes the same exchanges in the same order (once per layer
//! forward, then once per layer in reverse order when gradients are wanted),
//! also with no atoms at all, so hosts may implement them with collective
//! communication.

use crate::backend::cpu::collect;
use crate::backend::Workspace;
use rayon::prelude::*;
use crate::{Error, Real, Result};
use std::sync::mpsc;

/// Which way values flow between owners and ghosts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HaloDirection {
    /// Every ghost row becomes a copy of its owner's row.
    Forward,
    /// Every ghost row is added into its owner's row (ghost rows may be left
    /// as they are: the library no longer reads them).
    Reverse,
}

/// The host's side of the exchange. `values` is n_atoms × width, row-major,
/// rows in the graph's atom order (local atoms first, then ghosts).
pub trait HaloExchange {
    /// Performs one exchange in place.
    fn exchange(&mut self, direction: HaloDirection, values: &mut [f64], width: usize) -> Result<()>;
}

/// One exchange the model asks for, sent to the caller's thread.
struct Call {
    direction: HaloDirection,
    values: *mut f64,
    len: usize,
    width: usize,
}
// SAFETY: the model thread blocks until the caller's thread has answered, so
// the buffer is used by one thread at a time.
unsafe impl Send for Call {}

/// The model's handle on the exchange: forwards each call to the thread that
/// called the model and waits for it to be done.
pub struct HaloProxy {
    calls: mpsc::Sender<Call>,
    done: mpsc::Receiver<Result<()>>,
}

impl HaloExchange for HaloProxy {
    fn exchange(&mut self, direction: HaloDirection, values: &mut [f64], width: usize) -> Result<()> {
        let call = Call { direction, values: values.as_mut_ptr(), len: values.len(), width };
        let lost = || Error::Internal("the halo exchange's caller thread went away".into());
        self.calls.send(call).map_err(|_| lost())?;
        self.done.recv().map_err(|_| lost())?
    }
}

/// Runs `f` on the workspace's threads while every exchange it asks for runs
/// on the calling thread: MPI codes may only communicate from the thread that
/// initialized MPI. `f` runs as a job of the workspace's pool (no thread is
/// started per call); the calling thread serves its exchanges meanwhile.
pub fn on_caller_thread<R: Send>(
    ws: &Workspace,
    halo: &mut dyn HaloExchange,
    f: impl FnOnce(&mut HaloProxy) -> Result<R> + Send,
) -> Result<R> {
    if ws.is_own_thread() {
        return Err(Error::InvalidArgument(
            "an evaluation with a halo exchange was started from one of its workspace's own threads, \
             which must serve the model instead"
                .into(),
        ));
    }
    let (call_tx, call_rx) = mpsc::channel::<Call>();
    let (done_tx, done_rx) = mpsc::channel();
    let mut result = None;
    ws.in_place_scope(|s| {
        let result = &mut result;
        s.spawn(move |_| {
            let mut proxy = HaloProxy { calls: call_tx, done: done_rx };
            *result = Some(f(&mut proxy));
        });
        // Serve exchanges until the model drops its proxy (it has finished,
        // or panicked: the scope then resumes the panic here).
        for call in call_rx {
            // SAFETY: `values` is a live &mut [f64] of the model's job, which
            // waits on `done` and touches nothing until we answer.
            let values = unsafe { std::slice::from_raw_parts_mut(call.values, call.len) };
            let result = halo.exchange(call.direction, values, call.width);
            if done_tx.send(result).is_err() {
                break;
            }
        }
    });
    result.unwrap_or_else(|| Err(Error::Internal("the model's job ended without a result".into())))
}

/// Runs a model's evaluation `f` on the workspace's threads, with the halo
/// (if any) served on the calling thread (`on_caller_thread`).
pub(crate) fn evaluate<R: Send>(
    ws: &Workspace,
    halo: Option<&mut dyn HaloExchange>,
    f: impl FnOnce(Option<&mut dyn HaloExchange>) -> Result<R> + Send,
) -> Result<R> {
    match halo {
        None => ws.run(|| f(None)),
        Some(h) => on_caller_thread(ws, h, |proxy| f(Some(proxy))),
    }
}

/// One halo exchange of rows of T (the host always exchanges doubles: rows
/// of f64 go as they are, others through a buffer of the arena).
pub(crate) fn exchange<T: Real>(halo: &mut dyn HaloExchange, direction: HaloDirection, rows: &mut [T], width: usize) -> Result<()> {
    if let Some(values) = T::as_f64_mut(rows) {
        return halo.exchange(direction, values, width);
    }
    let mut values = collect(rows.par_iter().map(|x| x.f64()))?;
    halo.exchange(direction, &mut values, width)?;
    rows.par_iter_mut().zip(&*values).for_each(|(r, &v)| *r = T::of(v));
    Ok(())
}

/// A halo of periodic images on one "rank": ghost g is a copy of local atom
/// `owner[g - n_local]`. For tests and for hosts that build images themselves.
pub struct ImageHalo {
    /// Number of local atoms.
    pub n_local: usize,
    /// Owner (a local atom) of each ghost, in ghost order.
    pub owner: Vec<usize>,
}

impl HaloExchange for ImageHalo {
    fn exchange(&mut self, direction: HaloDirection, values: &mut [f64], width: usize) -> Result<()> {
        let n = self.n_local + self.owner.len();
        if values.len() != n * width {
            return Err(Error::LengthMismatch(format!("{} values for {n} atoms × {width}", values.len())));
        }
        for (g, &o) in self.owner.iter().enumerate() {
            let (ghost, owner) = ((self.n_local + g) * width, o * width);
            for k in 0..width {
                match direction {
                    HaloDirection::Forward => values[ghost + k] = values[owner + k],
                    HaloDirection::Reverse => values[owner + k] += values[ghost + k],
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exchanges_run_on_the_calling_thread_and_the_model_on_the_pool() {
        let ws = Workspace::new(2).unwrap();
        let caller = std::thread::current().id();
        struct Check(std::thread::ThreadId, usize);
        impl HaloExchange for Check {
            fn exchange(&mut self, _: HaloDirection, values: &mut [f64], _: usize) -> Result<()> {
                assert_eq!(std::thread::current().id(), self.0, "an exchange left the calling thread");
                values.iter_mut().for_each(|v| *v += 1.0);
                self.1 += 1;
                Ok(())
            }
        }
        let mut halo = Check(caller, 0);
        let on_pool = on_caller_thread(&ws, &mut halo, |proxy| {
            let mut rows = vec![1.0f32; 6];
            exchange(proxy, HaloDirection::Forward, &mut rows, 3)?;
            exchange(proxy, HaloDirection::Reverse, &mut rows, 3)?;
            assert_eq!(rows, vec![3.0; 6]);
            Ok(std::thread::current().id())
        })
        .unwrap();
        assert_ne!(on_pool, caller, "the model ran on the calling thread");
        assert_eq!(halo.1, 2);
        // Started from the pool itself, no thread would be left to serve it.
        let nested = ws.run(|| on_caller_thread(&ws, &mut Check(caller, 0), |_| Ok(())));
        assert!(matches!(nested, Err(Error::InvalidArgument(_))));
    }
}
