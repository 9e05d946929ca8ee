//! e3nn's `normalize2mom` constant, computed exactly as e3nn 0.6 does: the
//! second moment of f(z) over the one million float64 normals that torch draws
//! from `torch.Generator().manual_seed(0)`. Reproducing torch's sampler (its
//! MT19937 and the Box–Muller transform of `normal_fill`) gives e3nn's
//! Monte-Carlo estimate to rounding, not merely the exact integral (they
//! differ by ~1e-4, far above parity tolerances).

/// Sample size of e3nn's `moment`.
const SAMPLES: usize = 1_000_000;

/// The 32-bit Mersenne Twister, seeded as torch seeds it (`init_genrand`).
struct Mt19937 {
    state: [u32; 624],
    next: usize,
}

impl Mt19937 {
    fn new(seed: u32) -> Self {
        let mut state = [0u32; 624];
        state[0] = seed;
        for i in 1..624 {
            let prev = state[i - 1];
            state[i] = 1_812_433_253u32.wrapping_mul(prev ^ (prev >> 30)).wrapping_add(i as u32);
        }
        Mt19937 { state, next: 624 }
    }

    fn twist(&mut self) {
        for i in 0..624 {
            let y = (self.state[i] & 0x8000_0000) | (self.state[(i + 1) % 624] & 0x7fff_ffff);
            let mag = if y & 1 == 1 { 0x9908_b0df } else { 0 };
            self.state[i] = self.state[(i + 397) % 624] ^ (y >> 1) ^ mag;
        }
        self.next = 0;
    }

    fn next_u32(&mut self) -> u32 {
        if self.next == 624 {
            self.twist();
        }
        let mut y = self.state[self.next];
        self.next += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^ (y >> 18)
    }

    /// torch's `uniform_real_distribution<double>(0, 1)`: 53 bits of
    /// `random64()`, whose high word is drawn first.
    fn uniform(&mut self) -> f64 {
        let hi = self.next_u32() as u64;
        let lo = self.next_u32() as u64;
        (((hi << 32) | lo) & ((1 << 53) - 1)) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}

/// Calls `f` on torch's `randn(1_000_000, dtype=float64)` after
/// `manual_seed(0)`, in order. torch fills 16 uniforms at a time and turns
/// them into 16 normals by Box–Muller (pairs j and j + 8).
fn for_each_torch_normal(mut f: impl FnMut(f64)) {
    debug_assert_eq!(SAMPLES % 16, 0, "torch redraws a partial last block");
    let mut rng = Mt19937::new(0);
    let mut block = [0f64; 16];
    for _ in 0..SAMPLES / 16 {
        block.iter_mut().for_each(|u| *u = rng.uniform());
        let mut normals = [0f64; 16];
        for j in 0..8 {
            let radius = (-2.0 * (1.0 - block[j]).ln()).sqrt();
            let theta = 2.0 * std::f64::consts::PI * block[j + 8];
            normals[j] = radius * theta.cos();
            normals[j + 8] = radius * theta.sin();
        }
        normals.iter().for_each(|&z| f(z));
    }
}

/// e3nn's `moment(f, 2)`: the mean of f(z)² over the seeded sample, summed
/// with compensation so that the order of summation does not matter.
pub(crate) fn second_moment(fs: &[&dyn Fn(f64) -> f64]) -> Vec<f64> {
    let mut sums = vec![(0f64, 0f64); fs.len()];
    for_each_torch_normal(|z| {
        for (f, (sum, carry)) in fs.iter().zip(sums.iter_mut()) {
            let v = f(z);
            // Kahan–Babuška (Neumaier) summation.
            let term = v * v;
            let t = *sum + term;
            *carry += if sum.abs() >= term.abs() { (*sum - t) + term } else { (term - t) + *sum };
            *sum = t;
        }
    });
    sums.into_iter().map(|(s, c)| (s + c) / SAMPLES as f64).collect()
}
