//! The CG tensors of all paths of a 'uvu' tensor product contracted with one
//! edge's attributes at once: A[slot] = Σ_m2 M[m2, slot] · sh[m2], where a
//! slot is a (path, copy v, CG pair (m1, m3)) and M holds C[m1, m2, m3] × the
//! path's normalization. Slots are grouped by the block of attributes they
//! read, so M is dense inside a group (d2 rows) and the contraction is a few
//! vector multiply-adds per edge, not a chain of scalar sums per pair. The
//! backward is the transpose: grad_sh[m2] += Σ_slot M[m2, slot] · grad_A[slot].

use super::tensor_product::Path;
use crate::backend::cpu::Buf;
use crate::Real;

#[derive(Clone, Debug)]
pub(crate) struct AttributeContraction {
    groups: Vec<Group>,
    /// Per group, d2 rows × n slots (row-major), one after the other.
    matrix: Vec<f64>,
    /// First slot of each path's copy v: `first[p][v]`; its pairs follow.
    first: Vec<Vec<usize>>,
    n_slots: usize,
}

/// Slots that read the attributes sh[sh..sh + d2].
#[derive(Clone, Debug)]
struct Group {
    sh: usize,
    d2: usize,
    slot: usize,
    n: usize,
    at: usize,
}

impl AttributeContraction {
    pub fn new(paths: &[Path]) -> Self {
        let key = |p: &Path, v: usize| (p.off2 + v * p.d2, p.d2);
        let mut keys: Vec<(usize, usize)> = paths.iter().flat_map(|p| (0..p.mul2).map(move |v| key(p, v))).collect();
        keys.sort_unstable();
        keys.dedup();
        let mut first: Vec<Vec<usize>> = paths.iter().map(|p| vec![0; p.mul2]).collect();
        let (mut groups, mut matrix, mut n_slots) = (Vec::new(), Vec::new(), 0);
        for (sh, d2) in keys {
            let members: Vec<(usize, usize)> = (0..paths.len())
                .flat_map(|p| (0..paths[p].mul2).map(move |v| (p, v)))
                .filter(|&(p, v)| key(&paths[p], v) == (sh, d2))
                .collect();
            let slot = n_slots;
            for &(p, v) in &members {
                first[p][v] = n_slots;
                n_slots += paths[p].pairs.len();
            }
            let (n, at) = (n_slots - slot, matrix.len());
            matrix.resize(at + d2 * n, 0.0);
            for &(p, v) in &members {
                let path = &paths[p];
                for (q, pair) in path.pairs.iter().enumerate() {
                    for &(m2, c) in &path.terms[pair.start..pair.end] {
                        matrix[at + m2 * n + first[p][v] - slot + q] += c;
                    }
                }
            }
            groups.push(Group { sh, d2, slot, n, at });
        }
        AttributeContraction { groups, matrix, first, n_slots }
    }

    /// Number of slots (length of A).
    pub fn n_slots(&self) -> usize {
        self.n_slots
    }

    /// First slot of path p's copy v.
    #[inline(always)]
    pub fn first(&self, p: usize, v: usize) -> usize {
        self.first[p][v]
    }

    /// The matrix in precision T (the kernels' copy).
    pub fn matrix<T: Real>(&self) -> Buf<T> {
        let mut m = Buf::scratch(self.matrix.len(), T::zero());
        m.iter_mut().zip(&self.matrix).for_each(|(m, &c)| *m = T::of(c));
        m
    }

    /// A = M sh for one edge; `m` is `self.matrix()`, `a` n_slots long.
    #[inline(always)]
    pub fn forward<T: Real>(&self, m: &[T], sh: &[T], a: &mut [T]) {
        for g in &self.groups {
            let a = &mut a[g.slot..g.slot + g.n];
            a.fill(T::zero());
            for (m2, &s) in sh[g.sh..g.sh + g.d2].iter().enumerate() {
                for (a, &c) in a.iter_mut().zip(&m[g.at + m2 * g.n..g.at + (m2 + 1) * g.n]) {
                    *a += c * s;
                }
            }
        }
    }

    /// grad_sh += Mᵀ grad_a for one edge.
    #[inline(always)]
    pub fn backward<T: Real>(&self, m: &[T], grad_a: &[T], grad_sh: &mut [T]) {
        for g in &self.groups {
            let ga = &grad_a[g.slot..g.slot + g.n];
            for (m2, gsh) in grad_sh[g.sh..g.sh + g.d2].iter_mut().enumerate() {
                *gsh += dot(&m[g.at + m2 * g.n..g.at + (m2 + 1) * g.n], ga);
            }
        }
    }
}

/// Σ a·b in eight lanes (vectorizes).
#[inline(always)]
pub(crate) fn dot<T: Real>(a: &[T], b: &[T]) -> T {
    let mut lanes = [T::zero(); 8];
    let (ac, bc) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: T = ac.remainder().iter().zip(bc.remainder()).map(|(&x, &y)| x * y).sum();
    for (x, y) in ac.zip(bc) {
        for k in 0..8 {
            lanes[k] += x[k] * y[k];
        }
    }
    lanes.iter().copied().sum::<T>() + tail
}
