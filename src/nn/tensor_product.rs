//! What e3nn's `o3.TensorProduct` computes, path by path: the instructions,
//! their normalization (e3nn 0.6's `irrep_normalization` × `path_normalization`)
//! and the sparse Clebsch–Gordan tables the kernels loop over.
//!
//! The kernels live next door: `tensor_product_conv` (the 'uvu' tensor product
//! fused with the scatter-sum of a graph convolution, NequIP/SevenNet) and
//! `tensor_product_fc` (`FullyConnectedTensorProduct`, 'uvw').

use crate::so3::{wigner_3j, Irreps};
use crate::{invalid, Result};

/// e3nn's `irrep_normalization`: the assumed norm of inputs and outputs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum IrrepNormalization {
    /// Each component has unit variance (e3nn's default).
    #[default]
    Component,
    /// Each irrep has unit norm.
    Norm,
    /// No factor.
    None,
}

/// e3nn's `path_normalization`: how the paths into one output share its variance.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PathNormalization {
    /// Divide by the number of elements summed into the output (e3nn's default).
    #[default]
    Element,
    /// Divide by the number of paths, then by the elements of each path.
    Path,
    /// No factor.
    None,
}

/// How the multiplicities of a path are connected (the two that equipot implements).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Connection {
    /// out[u] = Σ_v w[u,v] x1[u] ⊗ x2[v] (the convolution of NequIP/SevenNet).
    Uvu,
    /// out[w] = Σ_{u,v} w[u,v,w] x1[u] ⊗ x2[v] (the fully connected tensor product).
    Uvw,
}

/// One instruction `(i_in1, i_in2, i_out, mode, has_weight, path_weight)` as e3nn takes it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Instruction {
    /// Block of the first input.
    pub i_in1: usize,
    /// Block of the second input.
    pub i_in2: usize,
    /// Block of the output.
    pub i_out: usize,
    /// Connection mode.
    pub connection: Connection,
    /// Whether the path has weights (else they are all 1).
    pub has_weight: bool,
    /// User factor on the path (e3nn's default 1).
    pub path_weight: f64,
}

impl Instruction {
    /// A weighted instruction with path weight 1 (the usual case).
    pub fn new(i_in1: usize, i_in2: usize, i_out: usize, connection: Connection) -> Self {
        Instruction { i_in1, i_in2, i_out, connection, has_weight: true, path_weight: 1.0 }
    }
}

/// A pair (m1, m3) of the Clebsch–Gordan tensor that is nonzero for some m2,
/// with its terms (m2, coefficient): `terms[start..end]` of its path.
#[derive(Clone, Copy, Debug)]
pub(crate) struct CgPair {
    pub m1: usize,
    pub m3: usize,
    pub start: usize,
    pub end: usize,
}

/// One path, ready for a kernel: its blocks, multiplicities, offsets, and the
/// nonzero C[m1, m2, m3] × normalization grouped by (m1, m3).
#[derive(Clone, Debug)]
pub(crate) struct Path {
    pub ins: Instruction,
    /// Multiplicities u (in1), v (in2), w (out).
    pub mul1: usize,
    pub mul2: usize,
    pub mul3: usize,
    /// Dimensions 2l + 1.
    pub d1: usize,
    pub d2: usize,
    pub d3: usize,
    /// Start of the blocks in the feature vectors (e3nn layout = channel-last
    /// layout: both keep blocks in order and differ only inside a block).
    pub off1: usize,
    pub off2: usize,
    pub off3: usize,
    /// Start of the path's weights in the flat weight vector, and their count.
    pub off_w: usize,
    pub n_w: usize,
    /// e3nn's normalized path weight sqrt(alpha), folded into `terms`.
    pub norm: f64,
    /// Sorted by (m1, m3); `by_m1[m1]` is the range of m1's pairs.
    pub pairs: Vec<CgPair>,
    pub by_m1: Vec<(usize, usize)>,
    /// (pair index, m1) sorted by (m3, m1); `by_m3[m3]` is a range of `m3_order`.
    pub m3_order: Vec<(usize, usize)>,
    pub by_m3: Vec<(usize, usize)>,
    /// (m2, C[m1,m2,m3] · sqrt(alpha)).
    pub terms: Vec<(usize, f64)>,
}

/// The instructions of a tensor product with their normalized CG tables.
#[derive(Clone, Debug)]
pub(crate) struct Paths {
    pub irreps_in1: Irreps,
    pub irreps_in2: Irreps,
    pub irreps_out: Irreps,
    pub paths: Vec<Path>,
    pub weight_numel: usize,
}

impl Paths {
    /// Checks the instructions and computes e3nn's normalization of each path.
    pub fn new(
        irreps_in1: &Irreps,
        irreps_in2: &Irreps,
        irreps_out: &Irreps,
        instructions: &[Instruction],
        irrep_norm: IrrepNormalization,
        path_norm: PathNormalization,
    ) -> Result<Paths> {
        let (s1, s2, s3) = (irreps_in1.slices(), irreps_in2.slices(), irreps_out.slices());
        for ins in instructions {
            if ins.i_in1 >= irreps_in1.len() || ins.i_in2 >= irreps_in2.len() || ins.i_out >= irreps_out.len() {
                return invalid!("tensor product instruction {ins:?} refers to a block that does not exist");
            }
            let (a, b, c) = (irreps_in1.0[ins.i_in1], irreps_in2.0[ins.i_in2], irreps_out.0[ins.i_out]);
            if !a.ir.product(&b.ir).any(|ir| ir == c.ir) {
                return invalid!("tensor product instruction {ins:?}: {} is not in {} x {}", c.ir, a.ir, b.ir);
            }
            if ins.connection == Connection::Uvu && a.mul != c.mul {
                return invalid!("'uvu' instruction {ins:?} needs equal multiplicities in in1 and out");
            }
            if ins.connection == Connection::Uvw && !ins.has_weight {
                return invalid!("'uvw' instruction {ins:?} must have weights");
            }
            if !(ins.path_weight.is_finite() && ins.path_weight >= 0.0) {
                return invalid!("tensor product instruction {ins:?}: path weight must be finite and >= 0");
            }
        }
        // e3nn: the number of elements a path sums into one output component.
        let num_elements = |ins: &Instruction| -> f64 {
            let (u, v) = (irreps_in1.0[ins.i_in1].mul, irreps_in2.0[ins.i_in2].mul);
            match ins.connection {
                Connection::Uvu => v as f64,
                Connection::Uvw => (u * v) as f64,
            }
        };
        let mut paths = Vec::with_capacity(instructions.len());
        let mut off_w = 0;
        for ins in instructions {
            let (a, b, c) = (irreps_in1.0[ins.i_in1], irreps_in2.0[ins.i_in2], irreps_out.0[ins.i_out]);
            let mut alpha = match irrep_norm {
                IrrepNormalization::Component => c.ir.dim() as f64,
                IrrepNormalization::Norm => (a.ir.dim() * b.ir.dim()) as f64,
                IrrepNormalization::None => 1.0,
            };
            let same_out = instructions.iter().filter(|i| i.i_out == ins.i_out);
            let x = match path_norm {
                PathNormalization::Element => same_out.map(num_elements).sum(),
                PathNormalization::Path => num_elements(ins) * same_out.count() as f64,
                PathNormalization::None => 1.0,
            };
            if x > 0.0 {
                alpha /= x;
            }
            alpha *= ins.path_weight;
            let scale = alpha.sqrt();
            let n_w = match (ins.has_weight, ins.connection) {
                (false, _) => 0,
                (true, Connection::Uvu) => a.mul * b.mul,
                (true, Connection::Uvw) => a.mul * b.mul * c.mul,
            };
            let (pairs, terms) = cg_table(a.ir.l, b.ir.l, c.ir.l, scale)?;
            let group = |d: usize, key: &dyn Fn(&CgPair) -> usize| -> (Vec<usize>, Vec<(usize, usize)>) {
                let mut order: Vec<usize> = (0..pairs.len()).collect();
                order.sort_by_key(|&q| (key(&pairs[q]), q));
                let ranges = (0..d)
                    .map(|m| {
                        let start = order.iter().position(|&q| key(&pairs[q]) >= m).unwrap_or(order.len());
                        let end = order.iter().position(|&q| key(&pairs[q]) > m).unwrap_or(order.len());
                        (start, end)
                    })
                    .collect();
                (order, ranges)
            };
            let (_, by_m1) = group(a.ir.dim(), &|q| q.m1);
            let (m3_order, by_m3) = group(c.ir.dim(), &|q| q.m3);
            let m3_order = m3_order.into_iter().map(|q| (q, pairs[q].m1)).collect();
            paths.push(Path {
                ins: *ins,
                mul1: a.mul,
                mul2: b.mul,
                mul3: c.mul,
                d1: a.ir.dim(),
                d2: b.ir.dim(),
                d3: c.ir.dim(),
                off1: s1[ins.i_in1].start,
                off2: s2[ins.i_in2].start,
                off3: s3[ins.i_out].start,
                off_w,
                n_w,
                norm: scale,
                pairs,
                by_m1,
                m3_order,
                by_m3,
                terms,
            });
            off_w += n_w;
        }
        Ok(Paths {
            irreps_in1: irreps_in1.clone(),
            irreps_in2: irreps_in2.clone(),
            irreps_out: irreps_out.clone(),
            paths,
            weight_numel: off_w,
        })
    }
}

/// The accessors of a tensor product that keeps its instructions in a
/// `paths: Paths` field (the convolution and the fully connected product).
macro_rules! paths_accessors {
    () => {
        /// First input.
        pub fn irreps_in1(&self) -> &$crate::so3::Irreps {
            &self.paths.irreps_in1
        }

        /// Second input.
        pub fn irreps_in2(&self) -> &$crate::so3::Irreps {
            &self.paths.irreps_in2
        }

        /// Output.
        pub fn irreps_out(&self) -> &$crate::so3::Irreps {
            &self.paths.irreps_out
        }

        /// Number of weights (e3nn's `weight_numel`), path after path.
        pub fn weight_numel(&self) -> usize {
            self.paths.weight_numel
        }

        /// The instructions, in order.
        pub fn instructions(&self) -> Vec<$crate::nn::Instruction> {
            self.paths.paths.iter().map(|p| p.ins).collect()
        }

        /// Each path's normalization sqrt(alpha), e3nn's `instructions[k].path_weight`
        /// after construction.
        pub fn path_normalizations(&self) -> Vec<f64> {
            self.paths.paths.iter().map(|p| p.norm).collect()
        }
    };
}
pub(crate) use paths_accessors;

/// A path's (m1, m3) pairs and their (m2, coefficient) terms.
type CgTable = (Vec<CgPair>, Vec<(usize, f64)>);

/// The nonzero entries of C = wigner_3j(l1, l2, l3) · scale grouped by (m1, m3).
/// When one degree is 0, C is the identity / sqrt(2l+1), written exactly (as
/// e3nn's specialized code paths use it).
fn cg_table(l1: u32, l2: u32, l3: u32, scale: f64) -> Result<CgTable> {
    let (d1, d2, d3) = (2 * l1 as usize + 1, 2 * l2 as usize + 1, 2 * l3 as usize + 1);
    let c = if l1 == 0 || l2 == 0 || l3 == 0 {
        let d = d1.max(d2).max(d3);
        let v = 1.0 / (d as f64).sqrt();
        let mut c = vec![0.0; d1 * d2 * d3];
        for m in 0..d {
            let (i, j, k) = (if l1 == 0 { 0 } else { m }, if l2 == 0 { 0 } else { m }, if l3 == 0 { 0 } else { m });
            c[(i * d2 + j) * d3 + k] = v;
        }
        c
    } else {
        wigner_3j(l1, l2, l3)?
    };
    let mut pairs = Vec::new();
    let mut terms = Vec::new();
    for m1 in 0..d1 {
        for m3 in 0..d3 {
            let start = terms.len();
            for m2 in 0..d2 {
                let v = c[(m1 * d2 + m2) * d3 + m3];
                // Entries that are zero but for rounding in the basis change.
                if v.abs() > 1e-14 {
                    terms.push((m2, v * scale));
                }
            }
            if terms.len() > start {
                pairs.push(CgPair { m1, m3, start, end: terms.len() });
            }
        }
    }
    Ok((pairs, terms))
}

/// Converts one feature vector from e3nn's layout (inside a block of `mul`
/// copies of an irrep of dimension d: [u][m]) to channel-last ([m][u]), the
/// layout that lets kernels run their inner loops over u.
#[inline]
pub(crate) fn to_channel_last<T: Copy>(irreps: &Irreps, src: &[T], dst: &mut [T]) {
    let mut off = 0;
    for b in irreps.iter() {
        let (mul, d) = (b.mul, b.ir.dim());
        for u in 0..mul {
            for m in 0..d {
                dst[off + m * mul + u] = src[off + u * d + m];
            }
        }
        off += mul * d;
    }
}

/// The inverse of [`to_channel_last`], scaled: dst = scale · src in e3nn's layout.
#[inline]
pub(crate) fn from_channel_last<T: crate::Real>(irreps: &Irreps, src: &[T], scale: T, dst: &mut [T]) {
    let mut off = 0;
    for b in irreps.iter() {
        let (mul, d) = (b.mul, b.ir.dim());
        for u in 0..mul {
            for m in 0..d {
                dst[off + u * d + m] = scale * src[off + m * mul + u];
            }
        }
        off += mul * d;
    }
}

/// y += a·x over equal-length slices (the inner loop of every kernel).
#[inline(always)]
pub(crate) fn axpy<T: crate::Real>(y: &mut [T], a: T, x: &[T]) {
    for (y, &x) in y.iter_mut().zip(x) {
        *y += a * x;
    }
}

/// Σ x·y over equal-length slices, in 8 independent partial sums so that it
/// vectorizes without reassociating a single chain.
#[inline(always)]
pub(crate) fn dot<T: crate::Real>(x: &[T], y: &[T]) -> T {
    let n = x.len().min(y.len());
    let (x, y) = (&x[..n], &y[..n]);
    let mut acc = [T::zero(); 8];
    let mut xc = x.chunks_exact(8);
    let mut yc = y.chunks_exact(8);
    for (a, b) in (&mut xc).zip(&mut yc) {
        for k in 0..8 {
            acc[k] += a[k] * b[k];
        }
    }
    let mut s = T::zero();
    for (a, b) in xc.remainder().iter().zip(yc.remainder()) {
        s += *a * *b;
    }
    ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + s
}
