//! The Si diamond supercells of the timings: ideal for the neighbor lists
//! (benches/neighbors.rs, examples/neighbors_timing.rs), rattled for the
//! SevenNet ones (benches/sevennet.rs, examples/sevennet_timing.rs).

#![allow(dead_code)] // each bench or example uses one of the two

/// Si diamond, conventional cubic cell replicated n × n × n.
pub fn silicon(n: usize) -> (Vec<[f64; 3]>, [[f64; 3]; 3]) {
    let a = 5.43;
    let basis = [[0.0, 0.0, 0.0], [0.0, 0.5, 0.5], [0.5, 0.0, 0.5], [0.5, 0.5, 0.0]];
    let mut positions = Vec::with_capacity(8 * n * n * n);
    for x in 0..n {
        for y in 0..n {
            for z in 0..n {
                for b in basis {
                    for q in [0.0, 0.25] {
                        let f = [x as f64 + b[0] + q, y as f64 + b[1] + q, z as f64 + b[2] + q];
                        positions.push(f.map(|c| c * a));
                    }
                }
            }
        }
    }
    let l = a * n as f64;
    (positions, [[l, 0.0, 0.0], [0.0, l, 0.0], [0.0, 0.0, l]])
}

/// [`silicon`] with every coordinate moved by up to ±`amplitude` Å, the same
/// deterministic pseudo-random moves on every run.
pub fn rattled_silicon(n: usize, amplitude: f64) -> (Vec<[f64; 3]>, [[f64; 3]; 3]) {
    let (mut positions, cell) = silicon(n);
    let mut seed = 12345u64;
    let mut jitter = || {
        seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        ((seed >> 11) as f64 / (1u64 << 53) as f64 - 0.5) * 2.0 * amplitude
    };
    for p in &mut positions {
        *p = p.map(|c| c + jitter());
    }
    (positions, cell)
}
