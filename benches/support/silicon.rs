//! The Si diamond supercells of the neighbor-list timings (benches/neighbors.rs,
//! examples/neighbors_timing.rs).

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
