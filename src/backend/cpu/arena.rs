//! Buffers reused from one evaluation to the next.
//!
//! An MD step evaluates the same model on the same number of atoms with
//! slightly moved positions, so it asks for the same buffers as the step
//! before. Fresh buffers cost a page fault per 4 KiB touched (about 10 % of
//! a MACE step); the arena keeps the buffers an evaluation gave back and
//! hands them out again. A block that a whole evaluation did not use is
//! released when it ends (`Arena::end_evaluation`), so in an MD loop the
//! arena holds one evaluation's peak (after a much larger structure, its
//! blocks serve the smaller one's requests and stay: `Arena::release`).
//!
//! Every worker thread of a workspace's pool knows its arena (`current`), so
//! `zeros` and `collect` anywhere inside an evaluation draw from it; outside
//! (model load, tests) they allocate plainly. Small buffers go to the system
//! allocator, whose own caches serve them well.

use crate::{Error, Result};
use rayon::prelude::*;
use std::cell::RefCell;
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;
use std::sync::{Arc, Mutex};

/// Buffers smaller than this are not kept.
const MIN_KEPT_BYTES: usize = 4096;

/// A new block gets this fraction more room than asked for (1/16), so that
/// the next step, with a few more edges, still fits.
const HEADROOM_SHIFT: u32 = 4;

/// One free buffer: the allocation of a `Vec<T>` of `cap` elements of size
/// `size` and alignment `align`, now empty.
struct Block {
    ptr: NonNull<u8>,
    cap: usize,
    size: usize,
    align: usize,
    /// Evaluation in which it was last handed out.
    used: u64,
}

impl Block {
    fn bytes(&self) -> usize {
        self.cap * self.size
    }
}

// SAFETY: a Block is an owned, unused allocation; no one else points into it.
unsafe impl Send for Block {}

impl Drop for Block {
    fn drop(&mut self) {
        // SAFETY: the block is a Vec's allocation of `cap` elements of this
        // size and alignment: Layout::array's layout, which this rebuilds.
        unsafe {
            let layout = std::alloc::Layout::from_size_align_unchecked(self.bytes(), self.align);
            std::alloc::dealloc(self.ptr.as_ptr(), layout);
        }
    }
}

#[derive(Default)]
struct Shelf {
    free: Vec<Block>,
    evaluation: u64,
}

/// The free buffers of one workspace.
#[derive(Default)]
pub struct Arena {
    shelf: Mutex<Shelf>,
}

impl Arena {
    /// An empty vector with room for `len` elements: the smallest free block
    /// that fits, else a new allocation (an error, not an abort, when memory
    /// runs out).
    fn take<T>(&self, len: usize) -> Result<Vec<T>> {
        let (size, align) = (std::mem::size_of::<T>(), std::mem::align_of::<T>());
        {
            let mut shelf = self.shelf.lock().unwrap_or_else(|p| p.into_inner());
            let best = (shelf.free.iter().enumerate())
                .filter(|(_, b)| b.size == size && b.align == align && b.cap >= len)
                .min_by_key(|(_, b)| b.cap)
                .map(|(i, _)| i);
            if let Some(i) = best {
                let block = shelf.free.swap_remove(i);
                let (ptr, cap) = (block.ptr, block.cap);
                std::mem::forget(block);
                // SAFETY: `ptr` is a Vec allocation of `cap` elements with T's
                // size and alignment, so Layout::array::<T>(cap) is its layout;
                // the vector is empty, so no element of another type is read.
                return Ok(unsafe { Vec::from_raw_parts(ptr.as_ptr().cast::<T>(), 0, cap) });
            }
        }
        let cap = len.saturating_add(len >> HEADROOM_SHIFT);
        let mut v = Vec::new();
        v.try_reserve_exact(cap).or_else(|_| v.try_reserve_exact(len)).map_err(|_| out_of_memory::<T>(len))?;
        Ok(v)
    }

    /// Keeps `v`'s allocation for a later `take`.
    fn give<T>(&self, mut v: Vec<T>) {
        let size = std::mem::size_of::<T>();
        if size == 0 || v.capacity() * size < MIN_KEPT_BYTES {
            return;
        }
        v.clear();
        let mut v = std::mem::ManuallyDrop::new(v);
        let mut shelf = self.shelf.lock().unwrap_or_else(|p| p.into_inner());
        let used = shelf.evaluation;
        shelf.free.push(Block {
            // SAFETY: a Vec's pointer is never null.
            ptr: unsafe { NonNull::new_unchecked(v.as_mut_ptr().cast::<u8>()) },
            cap: v.capacity(),
            size,
            align: std::mem::align_of::<T>(),
            used,
        });
    }

    /// Ends an evaluation: releases the free blocks it did not use.
    pub fn end_evaluation(&self) {
        let mut shelf = self.shelf.lock().unwrap_or_else(|p| p.into_inner());
        let evaluation = shelf.evaluation;
        shelf.free.retain(|b| b.used == evaluation);
        shelf.evaluation += 1;
    }

    /// Releases every free block. A request takes any free block large
    /// enough, so after one much larger structure, the evaluations of a
    /// smaller one keep (and reuse) its blocks; a caller that moves on for
    /// good calls this.
    pub fn release(&self) {
        self.shelf.lock().unwrap_or_else(|p| p.into_inner()).free.clear();
    }

    /// Bytes held in free blocks.
    pub fn bytes_held(&self) -> usize {
        self.shelf.lock().unwrap_or_else(|p| p.into_inner()).free.iter().map(Block::bytes).sum()
    }
}

fn out_of_memory<T>(len: usize) -> Error {
    Error::OutOfMemory(format!("cannot allocate {:.3} GB", len as f64 * std::mem::size_of::<T>() as f64 / 1e9))
}

thread_local! {
    /// The arena of the workspace whose pool this thread belongs to.
    static CURRENT: RefCell<Option<Arc<Arena>>> = const { RefCell::new(None) };
}

/// Makes `arena` this thread's (a workspace's pool calls it on each of its
/// threads as they start).
pub(super) fn set_current(arena: Option<Arc<Arena>>) {
    CURRENT.with(|c| *c.borrow_mut() = arena);
}

fn current() -> Option<Arc<Arena>> {
    CURRENT.with(|c| c.borrow().clone())
}

/// A vector that goes back to its arena when dropped. It derefs to `Vec<T>`,
/// so it reads, writes and resizes as one.
pub struct Buf<T> {
    vec: Vec<T>,
    home: Option<Arc<Arena>>,
}

impl<T> Buf<T> {
    /// An empty buffer with room for `len` (from this thread's arena, if any).
    pub fn with_capacity(len: usize) -> Result<Self> {
        match current() {
            Some(arena) => Ok(Buf { vec: arena.take(len)?, home: Some(arena) }),
            None => {
                let mut vec = Vec::new();
                vec.try_reserve_exact(len).map_err(|_| out_of_memory::<T>(len))?;
                Ok(Buf { vec, home: None })
            }
        }
    }

    /// The vector, no longer returned to the arena.
    pub fn into_vec(mut self) -> Vec<T> {
        self.home = None;
        std::mem::take(&mut self.vec)
    }
}

impl<T> Default for Buf<T> {
    fn default() -> Self {
        Buf { vec: Vec::new(), home: None }
    }
}

impl<T> Drop for Buf<T> {
    fn drop(&mut self) {
        if let Some(arena) = self.home.take() {
            arena.give(std::mem::take(&mut self.vec));
        }
    }
}

impl<T> Deref for Buf<T> {
    type Target = Vec<T>;
    fn deref(&self) -> &Vec<T> {
        &self.vec
    }
}

impl<T> DerefMut for Buf<T> {
    fn deref_mut(&mut self) -> &mut Vec<T> {
        &mut self.vec
    }
}

impl<T: Copy + Send + Sync> Buf<T> {
    /// Makes it `len` zeros, in its own block when that is large enough,
    /// else in one from the arena.
    pub fn reset(&mut self, len: usize) -> Result<()>
    where
        T: Default,
    {
        if self.capacity() < len {
            *self = Buf::default();
            *self = Buf::with_capacity(len)?;
        }
        self.clear();
        self.par_extend(rayon::iter::repeat_n(T::default(), len));
        Ok(())
    }

    /// A copy of `x`, written by this thread alone (scratch of one task).
    pub fn from_slice(x: &[T]) -> Result<Self> {
        let mut b = Buf::with_capacity(x.len())?;
        b.extend_from_slice(x);
        Ok(b)
    }

    /// `len` copies of `value`, written by this thread alone (scratch of one
    /// task; `zeros` spreads large buffers over the pool).
    pub fn filled(len: usize, value: T) -> Result<Self> {
        let mut b = Buf::with_capacity(len)?;
        b.resize(len, value);
        Ok(b)
    }

    /// `filled` for a small per-task buffer whose size the caller's memory
    /// check already covered: running out of memory there ends the process,
    /// as for any small allocation.
    pub fn scratch(len: usize, value: T) -> Self {
        Buf::filled(len, value).unwrap_or_else(|_| {
            std::alloc::handle_alloc_error(std::alloc::Layout::array::<T>(len).unwrap_or(std::alloc::Layout::new::<T>()))
        })
    }

    /// A copy of `x`, in a buffer of this thread's arena.
    pub fn copy_of(x: &[T]) -> Result<Self> {
        collect(x.par_iter().copied())
    }
}

// Iterating over `&buf` as over `&vec`, sequentially and in parallel.
impl<'a, T> IntoIterator for &'a Buf<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.vec.iter()
    }
}

impl<'a, T> IntoIterator for &'a mut Buf<T> {
    type Item = &'a mut T;
    type IntoIter = std::slice::IterMut<'a, T>;
    fn into_iter(self) -> Self::IntoIter {
        self.vec.iter_mut()
    }
}

impl<'a, T: Sync + 'a> IntoParallelIterator for &'a Buf<T> {
    type Item = &'a T;
    type Iter = rayon::slice::Iter<'a, T>;
    fn into_par_iter(self) -> Self::Iter {
        self.vec.par_iter()
    }
}

impl<'a, T: Send + 'a> IntoParallelIterator for &'a mut Buf<T> {
    type Item = &'a mut T;
    type Iter = rayon::slice::IterMut<'a, T>;
    fn into_par_iter(self) -> Self::Iter {
        self.vec.par_iter_mut()
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for Buf<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.vec.fmt(f)
    }
}

/// `len` zeros (T's default), written by the current pool's threads: large
/// buffers then cost no serial memset. Running out of memory is an error,
/// not an abort.
pub fn zeros<T: Copy + Send + Sync + Default>(len: usize) -> Result<Buf<T>> {
    let mut b = Buf::with_capacity(len)?;
    b.par_extend(rayon::iter::repeat_n(T::default(), len));
    Ok(b)
}

/// The items of a parallel iterator of known length, in order.
pub fn collect<T: Send, I: IndexedParallelIterator<Item = T>>(items: I) -> Result<Buf<T>> {
    let mut b = Buf::with_capacity(items.len())?;
    items.collect_into_vec(&mut b);
    Ok(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn on_arena<R>(arena: &Arc<Arena>, f: impl FnOnce() -> R) -> R {
        set_current(Some(arena.clone()));
        let r = f();
        set_current(None);
        r
    }

    #[test]
    fn a_returned_block_is_reused_and_an_unused_one_released() {
        let arena = Arc::new(Arena::default());
        let first = on_arena(&arena, || {
            let a = zeros::<f64>(10_000).unwrap();
            a.as_ptr() as usize
        });
        assert!(arena.bytes_held() >= 80_000);
        arena.end_evaluation();
        on_arena(&arena, || {
            // Same size, other element type of the same layout: same block, zeroed.
            let mut b = zeros::<u64>(9_000).unwrap();
            assert_eq!(b.as_ptr() as usize, first);
            assert!(b.iter().all(|&x| x == 0));
            b[0] = 7;
        });
        on_arena(&arena, || assert!(zeros::<u64>(9_000).unwrap().iter().all(|&x| x == 0)));
        arena.end_evaluation();
        assert!(arena.bytes_held() >= 80_000, "used in the evaluation that ended: kept");
        arena.end_evaluation();
        assert_eq!(arena.bytes_held(), 0, "unused for a whole evaluation: released");
        on_arena(&arena, || drop(zeros::<f64>(10_000)));
        assert!(arena.bytes_held() > 0);
        arena.release();
        assert_eq!(arena.bytes_held(), 0);
    }

    #[test]
    fn small_and_other_layout_buffers_are_not_mixed_up() {
        let arena = Arc::new(Arena::default());
        on_arena(&arena, || {
            drop(zeros::<f32>(100));
            assert_eq!(arena.bytes_held(), 0, "small buffers go to the system allocator");
            drop(zeros::<f64>(2000));
            let held = arena.bytes_held();
            assert!(held >= 16_000);
            let c = zeros::<f32>(4000).unwrap();
            assert_eq!(c.len(), 4000);
            assert_eq!(arena.bytes_held(), held, "f32 does not take an f64 block");
            let v = collect((0..5000usize).into_par_iter().map(|i| i as f32)).unwrap();
            assert!(v.iter().enumerate().all(|(i, &x)| x == i as f32));
            assert_eq!(v.into_vec().len(), 5000);
        });
    }
}
