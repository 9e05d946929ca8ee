//! The one matrix kernel behind Linear and FullyConnectedNet: for a batch
//! row n and a component i of an irrep block (d components, multiplicity-major
//! storage),
//!
//! `c[n·c_stride + c_col0 + w·d + i] = bias[w] + Σ_panels Σ_u a[n·a_stride + a_col0 + u·d + i] · B[u, w]`.
//!
//! The pairs (n, i) are the rows of a small GEMM against B (K × N, row-major,
//! N padded to a multiple of [`PAD`] with zeros), computed by MR × NR
//! register tiles whose inner loop runs over contiguous columns of B. A fully
//! connected layer is the case d = 1. On x86-64 the kernel is also compiled
//! for AVX2 + FMA and for AVX-512, and the best one is picked at run time.

use super::simd::{simd, Simd};
use crate::Real;

/// Columns of every B are padded to a multiple of this.
pub(crate) const PAD: usize = 32;
/// Rows of a register tile.
const MR: usize = 4;

/// Rounds n up to a multiple of [`PAD`].
pub(crate) fn padded(n: usize) -> usize {
    n.div_ceil(PAD) * PAD
}

/// One source of a destination block: input columns a_col0 + u·d (u < k)
/// times B.
#[derive(Clone, Debug)]
pub(crate) struct Panel<T> {
    pub a_col0: usize,
    pub k: usize,
    /// k × padded(n) row-major, zero beyond column n.
    pub b: Vec<T>,
}

impl<T: Real> Panel<T> {
    /// B from a k × n row-major matrix times `scale`, padded.
    pub fn new(a_col0: usize, k: usize, n: usize, scale: f64, matrix: impl Fn(usize, usize) -> f64) -> Self {
        let np = padded(n);
        let mut b = vec![T::zero(); k * np];
        for u in 0..k {
            for w in 0..n {
                b[u * np + w] = T::of(scale * matrix(u, w));
            }
        }
        Panel { a_col0, k, b }
    }
}

/// A destination block and everything that adds into it.
#[derive(Clone, Debug)]
pub(crate) struct Block<T> {
    /// Components per irrep (2l + 1); 1 for plain matrices.
    pub d: usize,
    /// Multiplicity of the destination (columns of every B).
    pub n: usize,
    pub c_col0: usize,
    pub panels: Vec<Panel<T>>,
    /// Added to each of the n outputs (scalars only: d = 1).
    pub bias: Option<Vec<T>>,
}

impl<T: Real> Block<T> {
    /// Writes this block of `c` for `rows` rows. Every element of the block is
    /// written (not accumulated).
    pub fn run(&self, rows: usize, a: &[T], a_stride: usize, c: &mut [T], c_stride: usize) {
        if rows == 0 || self.n == 0 {
            return;
        }
        assert!(a.len() >= rows * a_stride && c.len() >= rows * c_stride, "gemm: buffers too short");
        assert!(self.bias.as_ref().is_none_or(|b| self.d == 1 && b.len() == self.n), "gemm: bias on scalars only");
        if self.panels.is_empty() {
            for row in c.chunks_exact_mut(c_stride).take(rows) {
                let block = &mut row[self.c_col0..self.c_col0 + self.n * self.d];
                match &self.bias {
                    Some(b) => block.copy_from_slice(b),
                    None => block.fill(T::zero()),
                }
            }
            return;
        }
        match simd() {
            // SAFETY: `simd()` only reports features the CPU has (nn::simd).
            #[cfg(target_arch = "x86_64")]
            Simd::Avx512 => unsafe { self.run_avx512(rows, a, a_stride, c, c_stride) },
            #[cfg(target_arch = "x86_64")]
            Simd::Avx2 => unsafe { self.run_avx2(rows, a, a_stride, c, c_stride) },
            _ => self.run_any::<false>(rows, a, a_stride, c, c_stride),
        }
    }

    /// # Safety
    /// The CPU must support AVX2 and FMA.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn run_avx2(&self, rows: usize, a: &[T], a_stride: usize, c: &mut [T], c_stride: usize) {
        self.run_any::<true>(rows, a, a_stride, c, c_stride);
    }

    /// Two 512-bit registers per tile row (MR = 4 rows: 8 accumulators;
    /// larger tiles made LLVM spill them to memory).
    ///
    /// # Safety
    /// The CPU must support AVX-512F, AVX2 and FMA.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f,avx2,fma")]
    unsafe fn run_avx512(&self, rows: usize, a: &[T], a_stride: usize, c: &mut [T], c_stride: usize) {
        if std::mem::size_of::<T>() == 4 {
            self.tiles::<true, 32>(rows, a, a_stride, c, c_stride);
        } else {
            self.tiles::<true, 16>(rows, a, a_stride, c, c_stride);
        }
    }

    #[inline(always)]
    fn run_any<const FMA: bool>(&self, rows: usize, a: &[T], a_stride: usize, c: &mut [T], c_stride: usize) {
        // Two 256-bit registers per tile row: one is too few accumulators to
        // hide FMA latency.
        if std::mem::size_of::<T>() == 4 {
            self.tiles::<FMA, 16>(rows, a, a_stride, c, c_stride);
        } else {
            self.tiles::<FMA, 8>(rows, a, a_stride, c, c_stride);
        }
    }

    #[inline(always)]
    fn tiles<const FMA: bool, const NR: usize>(
        &self,
        rows: usize,
        a: &[T],
        a_stride: usize,
        c: &mut [T],
        c_stride: usize,
    ) {
        let d = self.d;
        let np = padded(self.n);
        let total = rows * d;
        // Largest A offset read, checked once so the tile loop can skip checks.
        for p in &self.panels {
            assert!(p.b.len() == p.k * np);
            if p.k > 0 {
                assert!((rows - 1) * a_stride + p.a_col0 + (p.k - 1) * d + (d - 1) < a.len());
            }
        }
        let mut q0 = 0;
        while q0 < total {
            // Offsets of the MR rows (n, i) of this tile; past the end, repeat
            // the last row (computed, never stored).
            let valid = MR.min(total - q0);
            let mut a_base = [0usize; MR];
            let mut c_base = [0usize; MR];
            for j in 0..MR {
                let q = q0 + j.min(valid - 1);
                let (n, i) = (q / d, q % d);
                a_base[j] = n * a_stride + i;
                c_base[j] = n * c_stride + self.c_col0 + i;
            }
            let mut w0 = 0;
            while w0 < self.n {
                let acc = self.tile::<FMA, NR>(a, &a_base, np, w0);
                let width = NR.min(self.n - w0);
                for j in 0..valid {
                    for k in 0..width {
                        let bias = self.bias.as_ref().map_or(T::zero(), |b| b[w0 + k]);
                        c[c_base[j] + (w0 + k) * d] = acc[j][k] + bias;
                    }
                }
                w0 += NR;
            }
            q0 += MR;
        }
    }

    /// acc[j][k] = Σ_panels Σ_u A[row j, u] · B[u, w0 + k].
    #[inline(always)]
    fn tile<const FMA: bool, const NR: usize>(
        &self,
        a: &[T],
        a_base: &[usize; MR],
        np: usize,
        w0: usize,
    ) -> [[T; NR]; MR] {
        let mut acc = [[T::zero(); NR]; MR];
        for p in &self.panels {
            assert!(w0 + NR <= np && p.b.len() >= p.k * np);
            // SAFETY: B reads stay below k·np (asserted); A reads are
            // bounded by the check in `tiles`.
            acc = unsafe { panel::<T, FMA, NR>(acc, a.as_ptr(), a_base, p.a_col0, self.d, p.b.as_ptr().add(w0), np, p.k) };
        }
        acc
    }
}

/// Adds Σ_u A[row j, col0 + u·step] · B[u, 0..NR] (B rows `np` apart) to acc.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
unsafe fn panel<T: Real, const FMA: bool, const NR: usize>(
    mut acc: [[T; NR]; MR],
    a: *const T,
    a_base: &[usize; MR],
    col0: usize,
    step: usize,
    mut b: *const T,
    np: usize,
    k: usize,
) -> [[T; NR]; MR] {
    let rows: [*const T; MR] = std::array::from_fn(|j| a.add(a_base[j] + col0));
    let mut col = 0;
    for _ in 0..k {
        let bv: [T; NR] = std::ptr::read_unaligned(b as *const [T; NR]);
        let xs: [T; MR] = std::array::from_fn(|j| *rows[j].add(col));
        for j in 0..MR {
            for q in 0..NR {
                acc[j][q] = if FMA { xs[j].mul_add(bv[q], acc[j][q]) } else { acc[j][q] + xs[j] * bv[q] };
            }
        }
        b = b.add(np);
        col += step;
    }
    acc
}
