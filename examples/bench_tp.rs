//! Times the SevenNet-0 convolution (uvu tensor product + scatter, forward and
//! backward) on a random graph; scripts/bench_e3nn_tp.py runs it next to e3nn.
//!
//! cargo run --release --example bench_tp -- [atoms] [edges_per_atom] [threads] [repeats] [local]
//! (local = 1: neighbors within ±2·edges_per_atom in index, as in a spatially sorted structure;
//! default 0: uniformly random neighbors, no cache reuse between atoms)
//! Prints one line per precision: `equipot <f32|f64> forward <ms> backward <ms>` (medians).

use std::time::Instant;

use equipot::nn::{EdgeIndex, UvuTensorProduct};
use equipot::so3::Irreps;
use equipot::{Real, Workspace};

#[path = "../benches/support/cpu_time.rs"]
mod cpu_time;
use cpu_time::process_cpu_time;

fn main() {
    let args: Vec<usize> = std::env::args().skip(1).map(|a| a.parse().expect("integer arguments")).collect();
    let arg = |k: usize, default: usize| args.get(k).copied().unwrap_or(default);
    let (atoms, per_atom, threads, repeats, local) = (arg(0, 1000), arg(1, 30), arg(2, 2), arg(3, 10), arg(4, 0) == 1);
    let ws = Workspace::new(threads).unwrap();
    let x = Irreps::parse("128x0e+64x1e+32x2e").unwrap();
    let tp = UvuTensorProduct::sevenn(&x, &Irreps::parse("1x0e+1x1e+1x2e").unwrap(), &x).unwrap();
    // Centers sorted (equipot's graphs), neighbors pseudo-random.
    let mut state = 0x9E3779B97F4A7C15u64;
    let mut rand = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let centers: Vec<u32> = (0..atoms * per_atom).map(|e| (e / per_atom) as u32).collect();
    let neighbors: Vec<u32> = (0..atoms * per_atom)
        .map(|e| {
            if local {
                let window = 4 * per_atom as u64 + 1;
                ((e / per_atom + atoms + (rand() % window) as usize - 2 * per_atom) % atoms) as u32
            } else {
                (rand() % atoms as u64) as u32
            }
        })
        .collect();
    let index = EdgeIndex::new(atoms, &centers, &neighbors).unwrap();
    run::<f32>(&ws, &tp, &index, repeats, &mut rand);
    run::<f64>(&ws, &tp, &index, repeats, &mut rand);
}

fn run<T: Real>(ws: &Workspace, tp: &UvuTensorProduct, index: &EdgeIndex, repeats: usize, rand: &mut impl FnMut() -> u64) {
    let mut values = |n: usize| -> Vec<T> { (0..n).map(|_| T::of((rand() >> 11) as f64 * 2f64.powi(-52) - 1.0)).collect() };
    let (n, e) = (index.n_nodes(), index.n_edges());
    let x = values(n * tp.irreps_in1().dim());
    let sh = values(e * tp.irreps_in2().dim());
    let w = values(e * tp.weight_numel());
    let g = values(n * tp.irreps_out().dim());
    let mut out = vec![T::zero(); g.len()];
    let (mut gx, mut gsh, mut gw) = (vec![T::zero(); x.len()], vec![T::zero(); sh.len()], vec![T::zero(); w.len()]);
    let scale = T::of(1.0 / 30.0);
    let (mut fwd, mut bwd, mut cpu_fwd, mut cpu_bwd) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..repeats + 1 {
        let (t0, c0) = (Instant::now(), cpu_ms());
        ws.run(|| tp.conv_forward(index, &x, &sh, &w, scale, &mut out)).unwrap();
        let (t1, c1) = (Instant::now(), cpu_ms());
        ws.run(|| tp.conv_backward(index, &x, &sh, &w, scale, &g, &mut gx, &mut gsh, &mut gw)).unwrap();
        fwd.push((t1 - t0).as_secs_f64() * 1e3);
        bwd.push(t1.elapsed().as_secs_f64() * 1e3);
        cpu_fwd.push(c1 - c0);
        cpu_bwd.push(cpu_ms() - c1);
    }
    let median = |v: &mut Vec<f64>| {
        v.remove(0); // warm-up
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        v[v.len() / 2]
    };
    let name = std::any::type_name::<T>();
    let name = if name == "f32" { "f32" } else { "f64" };
    println!("equipot {name} forward {:.3} backward {:.3}", median(&mut fwd), median(&mut bwd));
    // CPU time of all threads: less disturbed than wall time on a busy machine.
    eprintln!("cpu-ms {name} forward {:.3} backward {:.3}", median(&mut cpu_fwd), median(&mut cpu_bwd));
}

/// CPU time of the process (all threads), ms.
fn cpu_ms() -> f64 {
    process_cpu_time().as_secs_f64() * 1e3
}
