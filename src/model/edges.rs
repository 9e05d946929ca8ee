//! The edge stage every learned model shares: edge vectors in the model's
//! direction, lengths, spherical harmonics Y(u) and the radial embedding
//! B(r)·f(r) (Bessel basis times envelope), and the backward that chains
//! ∂E/∂Y, ∂E/∂(B·f) and any direct ∂E/∂r back to the graph's edge vectors.
//!
//! Edges at or past the cutoff never reach this stage: `Model::evaluate`
//! drops them (`AtomGraph::within`) for every model, so each edge here
//! contributes and a graph built with any longer cutoff gives the same
//! numbers. The architectures keep only their blocks.

use crate::backend::cpu::{collect, zeros, Buf};
use crate::graph::AtomGraph;
use crate::nn::{AgnesiTransform, BesselBasis, PolynomialCutoff, SoftTransform, XplorCutoff};
use crate::so3::SphericalHarmonics;
use crate::{Real, Result};
use rayon::prelude::*;

/// The smooth envelope f(r) that takes the radial embedding to 0 at the cutoff.
pub enum Envelope<T> {
    /// sevenn's XPLOR switch (1 up to r_on, then a smooth step to 0).
    Xplor(XplorCutoff<T>),
    /// NequIP's and MACE's polynomial envelope of degree p.
    Polynomial(PolynomialCutoff<T>),
}

impl<T: Real> Envelope<T> {
    pub fn value(&self, r: T) -> T {
        match self {
            Envelope::Xplor(c) => c.value(r),
            Envelope::Polynomial(c) => c.value(r),
        }
    }
    pub fn derivative(&self, r: T) -> T {
        match self {
            Envelope::Xplor(c) => c.derivative(r),
            Envelope::Polynomial(c) => c.derivative(r),
        }
    }
    /// Where the envelope is only C¹ (XPLOR switches on): a table of a
    /// function of r must have a knot there.
    pub fn break_point(&self) -> Option<f64> {
        match self {
            Envelope::Xplor(c) => Some(c.r_on().f64()),
            Envelope::Polynomial(_) => None,
        }
    }
}

/// A transform r → r' of the length the radial basis sees, per pair of
/// species (mace's Agnesi and Soft transforms; the envelope still sees r).
pub enum DistanceTransform<T> {
    Agnesi(AgnesiTransform<T>),
    Soft(SoftTransform<T>),
}

impl<T: Real> DistanceTransform<T> {
    /// Number of types it is defined between.
    pub fn n_types(&self) -> usize {
        match self {
            DistanceTransform::Agnesi(t) => t.n_types(),
            DistanceTransform::Soft(t) => t.n_types(),
        }
    }

    /// r' and dr'/dr of an edge from `sender` to `receiver` (type indices).
    pub fn apply(&self, sender: usize, receiver: usize, r: T) -> (T, T) {
        match self {
            DistanceTransform::Agnesi(t) => t.apply(sender, receiver, r),
            DistanceTransform::Soft(t) => t.apply(sender, receiver, r),
        }
    }
}

/// Which way a model's edge vector points. The graph's vectors are
/// v = r_neighbor − r_center + shift (sevenn's convention); mace uses u = −v.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    AsGraph,
    Reversed,
}

/// The edge featurization of one model, in one precision.
pub struct EdgeStage<T> {
    pub basis: BesselBasis<T>,
    pub envelope: Envelope<T>,
    pub sh: SphericalHarmonics,
    pub direction: Direction,
    pub transform: Option<DistanceTransform<T>>,
}

/// What the blocks read of each edge.
pub struct EdgeFeatures<T> {
    /// Edge vectors in the model's direction, and their lengths.
    pub vectors: Buf<[T; 3]>,
    pub r: Buf<T>,
    /// Y(vectors), n_edges × sh.dim().
    pub sh: Buf<T>,
    /// B(r) and the embedding B(r)·f(r), n_edges × basis.len() (empty when
    /// not asked for: a model whose radial networks are all tabulated
    /// evaluates them from r alone).
    pub basis: Buf<T>,
    pub embedding: Buf<T>,
    /// With a distance transform: the basis' argument r' and dr'/dr (else
    /// empty: r' = r).
    pub r_basis: Buf<T>,
    pub dr_basis: Buf<T>,
}

impl<T: Real> EdgeFeatures<T> {
    pub fn len(&self) -> usize {
        self.r.len()
    }
}

impl<T: Real> EdgeStage<T> {
    /// The features of every edge of `graph` (`types`: the type index of
    /// each atom); the radial embedding only when `embedding`.
    pub fn forward(&self, graph: &AtomGraph, types: &[usize], embedding: bool) -> Result<EdgeFeatures<T>> {
        let sign = if self.direction == Direction::AsGraph { 1.0 } else { -1.0 };
        let vectors = collect(graph.vectors.par_iter().map(|v| v.map(|x| T::of(sign * x))))?;
        let r = collect(vectors.par_iter().map(|v| (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt()))?;
        let mut sh = zeros(vectors.len() * self.sh.dim())?;
        self.sh.compute(&vectors, &mut sh)?;
        let (mut r_basis, mut dr_basis) = (Buf::default(), Buf::default());
        if let Some(t) = &self.transform {
            (r_basis, dr_basis) = (zeros(r.len())?, zeros(r.len())?);
            (r_basis.par_iter_mut(), dr_basis.par_iter_mut()).into_par_iter().enumerate().for_each(|(e, (rb, drb))| {
                (*rb, *drb) = t.apply(types[graph.neighbors[e] as usize], types[graph.centers[e] as usize], r[e]);
            });
        }
        let (mut basis, mut embedding_rows) = (Buf::default(), Buf::default());
        if embedding {
            let nb = self.basis.len();
            basis = zeros(r.len() * nb)?;
            self.basis.forward(if r_basis.is_empty() { &r } else { &r_basis }, &mut basis)?;
            embedding_rows = Buf::copy_of(&basis)?;
            embedding_rows.par_chunks_mut(nb).zip(&r).for_each(|(row, &r)| {
                let f = self.envelope.value(r);
                row.iter_mut().for_each(|b| *b *= f);
            });
        }
        Ok(EdgeFeatures { vectors, r, sh, basis, embedding: embedding_rows, r_basis, dr_basis })
    }

    /// ∂E/∂v per graph edge from ∂E/∂Y (`grad_sh`), ∂E/∂(B·f)
    /// (`grad_embedding`, empty when the embedding was not used) and the
    /// direct ∂E/∂r the blocks found (`grad_r`, e.g. from radial tables;
    /// zeros when none), for the features `forward` gave.
    pub fn backward(&self, edges: &EdgeFeatures<T>, grad_sh: &[T], grad_embedding: &[T], mut grad_r: Buf<T>) -> Result<Buf<[f64; 3]>> {
        if !grad_embedding.is_empty() {
            let nb = self.basis.len();
            let mut grad_basis = Buf::copy_of(grad_embedding)?;
            grad_basis
                .par_chunks_mut(nb)
                .zip(grad_embedding.par_chunks(nb))
                .zip(edges.basis.par_chunks(nb))
                .zip(&mut grad_r)
                .zip(&edges.r)
                .for_each(|((((gb, ge), b), gr), &r)| {
                    let d_envelope: T = ge.iter().zip(b).map(|(&g, &b)| g * b).sum();
                    *gr += d_envelope * self.envelope.derivative(r);
                    let f = self.envelope.value(r);
                    gb.iter_mut().for_each(|g| *g *= f);
                });
            let mut grad_r_basis = zeros(edges.len())?;
            if edges.r_basis.is_empty() {
                self.basis.backward(&edges.r, &grad_basis, &mut grad_r_basis)?;
                grad_r.par_iter_mut().zip(&grad_r_basis).for_each(|(a, b)| *a += *b);
            } else {
                self.basis.backward(&edges.r_basis, &grad_basis, &mut grad_r_basis)?;
                grad_r.par_iter_mut().zip(&grad_r_basis).zip(&edges.dr_basis).for_each(|((a, &b), &d)| *a += b * d);
            }
        }
        let mut grad_v = zeros::<[T; 3]>(edges.len())?;
        self.sh.backward(&edges.vectors, grad_sh, &mut grad_v)?;
        // ∂E/∂u = ∂E/∂Y·∂Y/∂u + ∂E/∂r · u/r, and ∂E/∂v = ±∂E/∂u.
        let sign = |x: T| match self.direction {
            Direction::AsGraph => x.f64(),
            Direction::Reversed => -x.f64(),
        };
        collect(grad_v.par_iter().zip(&edges.vectors).zip(&edges.r).zip(&grad_r).map(|(((g, u), &r), &gr)| {
            let dr = gr / r;
            [sign(g[0] + dr * u[0]), sign(g[1] + dr * u[1]), sign(g[2] + dr * u[2])]
        }))
    }
}
