//! In an MD loop (same model, same atoms, moving positions) an evaluation
//! after the first allocates nothing large: the workspace's arena hands out
//! the buffers the step before gave back. A counting global allocator sees
//! every allocation of the evaluations (graph builds, which the host does
//! between steps, are not counted). One test: the counters are global.

use equipot::graph::Structure;
use equipot::model::{Precision, Request};
use equipot::{AtomGraph, Model, Workspace};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::Relaxed};

mod sevenn_support;

/// An allocation at least this large counts as large: every buffer of the
/// edges or of the atoms' features is (the outputs of 216 atoms are 5 KB).
/// A kernel's per-task scratch (at most a few tens of KB) is not: when rayon
/// happens to run more tasks at once than the step before, one more is made.
const LARGE: usize = 64 << 10;

struct Counting;
static ON: AtomicBool = AtomicBool::new(false);
static N_LARGE: AtomicUsize = AtomicUsize::new(0);
static LARGEST: AtomicUsize = AtomicUsize::new(0);
static BYTES: AtomicUsize = AtomicUsize::new(0);

fn count(size: usize) {
    if ON.load(Relaxed) {
        BYTES.fetch_add(size, Relaxed);
        LARGEST.fetch_max(size, Relaxed);
        if size >= LARGE {
            N_LARGE.fetch_add(1, Relaxed);
            thread_local!(static IN: std::cell::Cell<bool> = const { std::cell::Cell::new(false) });
            if std::env::var_os("TRACE").is_some() && !IN.get() {
                IN.set(true);
                let bt = std::backtrace::Backtrace::force_capture().to_string();
                let lines: Vec<&str> = bt.lines().filter(|l| l.contains("equipot::") && !l.contains("backend::cpu::arena")).take(3).collect();
                eprintln!("LARGE {size}: {}", lines.join(" | "));
                IN.set(false);
            }
        }
    }
}

// SAFETY: forwards to the system allocator, counting on the way.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count(layout.size());
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Allocations during `f`: (how many large ones, the largest, all bytes).
fn counted<R>(f: impl FnOnce() -> R) -> (R, usize, usize, usize) {
    N_LARGE.store(0, Relaxed);
    LARGEST.store(0, Relaxed);
    BYTES.store(0, Relaxed);
    ON.store(true, Relaxed);
    let r = f();
    ON.store(false, Relaxed);
    (r, N_LARGE.load(Relaxed), LARGEST.load(Relaxed), BYTES.load(Relaxed))
}

/// 216 atoms of silicon on diamond sites (3×3×3 cubic cells of 6 Å, so
/// that a shell of neighbors lies at 4.98 Å, next to SevenNet-0's 5 Å and
/// MACE's 6 Å cutoffs), each displaced at random by up to 0.05 Å per axis
/// anew each step, as thermal motion does: the edge count changes from step
/// to step.
fn md_steps(model: &Model, precision: Precision, steps: usize, ws: &Workspace) {
    let a = 6.0;
    let basis = [[0.0, 0.0, 0.0], [0.0, 0.5, 0.5], [0.5, 0.0, 0.5], [0.5, 0.5, 0.0]];
    let mut sites = Vec::new();
    for (i, j, k) in (0..27).map(|c| (c / 9, c / 3 % 3, c % 3)) {
        for b in basis {
            for d in [0.0, 0.25] {
                sites.push([(i as f64 + b[0] + d) * a, (j as f64 + b[1] + d) * a, (k as f64 + b[2] + d) * a]);
            }
        }
    }
    let numbers = vec![14; sites.len()];
    let cell = [[3.0 * a, 0.0, 0.0], [0.0, 3.0 * a, 0.0], [0.0, 0.0, 3.0 * a]];
    let mut seed = 0x9e3779b97f4a7c15u64;
    let mut noise = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        ((seed >> 11) as f64 / (1u64 << 53) as f64 - 0.5) * 0.1
    };
    let request = Request { forces: true, virial: true, precision, ..Default::default() };
    let mut edges = Vec::new();
    for step in 0..steps {
        let positions: Vec<[f64; 3]> = sites.iter().map(|p| p.map(|x| x + noise())).collect();
        let structure = Structure { positions: &positions, numbers: &numbers, cell: Some(cell), pbc: [true; 3] };
        let graph = AtomGraph::build(&structure, model.cutoff(), ws).unwrap();
        edges.push(graph.n_edges());
        let (out, n_large, largest, bytes) = counted(|| model.compute(&graph, &request, ws).unwrap());
        assert!(out.energy.is_finite());
        eprintln!(
            "{} {precision:?} step {step}: {} edges, {n_large} allocations ≥ {LARGE} B, largest {largest} B, {bytes} B in all; arena holds {} B",
            model.architecture(),
            graph.n_edges(),
            ws.arena().bytes_held()
        );
        if step >= 2 {
            assert_eq!(n_large, 0, "step {step} of {} {precision:?} allocated {n_large} large buffers (largest {largest} B)", model.architecture());
            assert!(bytes < 1 << 20, "step {step} allocated {bytes} B in small pieces");
        }
    }
    assert!(edges.windows(2).any(|w| w[0] != w[1]), "the moves changed no edge count ({edges:?}): the test shows less than it should");
}

#[test]
fn an_md_step_after_the_first_allocates_nothing_large() {
    let ws = Workspace::new(2).unwrap();
    let sevennet = equipot::model::load(sevenn_support::model_path("SevenNet_0__11Jul2024")).unwrap();
    let mace = equipot::model::load(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mace/models/mp0_l1.eqp.safetensors"),
    )
    .unwrap();
    for model in [&sevennet, &mace] {
        for precision in [Precision::F64, Precision::F32] {
            md_steps(model, precision, 6, &ws);
        }
    }
}
