//! MACE as mace-torch 0.3.16 builds `ScaleShiftMACE` (docs/mace-architecture.md):
//! one-hot embedding; per interaction block a uvu convolution of the
//! up-projected neighbor features with the spherical harmonics, weighted by a
//! radial MLP of the Bessel × polynomial-cutoff embedding (float32: read from
//! a table over r), summed and divided by avg_num_neighbors (density blocks:
//! by 1 + the receiver's density), a linear layer and an element-dependent skip tensor
//! product (on the message for "plain" blocks, on the block input for
//! "residual" ones); the symmetric contraction, a linear layer and the
//! residual; a readout per block; scale, shift and the isolated-atom
//! energies E0 (a multi-head model: those of the head chosen at load). Forces
//! and virial come from the hand-written backward.
//!
//! Edge direction: mace's message to receiver c from sender n uses
//! u = r_c − r_n = −vectors[e] of equipot's graph. The energy does not depend
//! on the choice (parity-respecting model), but the odd-l features do, so the
//! model uses mace's to stay comparable layer by layer.

use super::description::{
    boolean, check_divisor, enum_str, format_error, int_in, irreps, read_modals, select_modal, Description, Species,
    MAX_BASIS, MAX_BLOCKS, MAX_CORRELATION, MAX_POLYNOMIAL_P,
};
use super::edges::{Direction, DistanceTransform, EdgeStage, Envelope};
use super::radial_table::{tabulate_radial, Edges, Radial, TableSource};
use std::sync::Arc;
use super::halo::{exchange, HaloDirection, HaloExchange};
use super::profile::Stopwatch;
use super::safetensors::SafeTensors;
use super::learned::{Architecture, Executor, Learned};
use super::{RadialMode, Request};
use crate::backend::cpu::{collect, zeros, Buf};
use crate::graph::AtomGraph;
use crate::nn::symmetric_contraction::{ContractionTensors, SymmetricContraction, TensorView};
use crate::nn::tensor_product_conv::{EdgeWeights, WeightRows};
use crate::nn::{
    AgnesiTransform, BesselBasis, DensityNormalization, DensityTape, EdgeIndex, FullyConnectedTensorProduct,
    IrrepNormalization, Linear, LinearSpec, PathNormalization, PolynomialCutoff, ScaledActivation, SoftTransform,
    UvuTensorProduct, ZblRepulsion,
};
use crate::so3::{Irreps, Normalization, SphericalHarmonics};
use crate::{Error, Real, Result};
use rayon::prelude::*;
use serde_json::Value;

/// The MACE architecture: whether the model has ZBL pair repulsion (which
/// decides the closest pair it evaluates), and the head chosen at load.
pub struct Mace {
    zbl: bool,
    heads: Heads,
}

/// A multi-head model's heads (its modals), and the one evaluated.
#[derive(Clone, Copy)]
struct Heads {
    count: usize,
    chosen: usize,
}

/// The closest pair a model with ZBL pair repulsion evaluates, Å (the others
/// refuse pairs closer than `LEARNED_MIN_DISTANCE`).
const ZBL_MIN_DISTANCE: f64 = 0.1;

/// Where a block applies its element-dependent skip tensor product.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// `RealAgnosticInteractionBlock`: on the message, no residual.
    Plain,
    /// `RealAgnosticResidualInteractionBlock`: on the block input, added after the product.
    Residual,
}

impl Kind {
    /// A file's interaction kind: its skip's place, and whether the message
    /// is normalized by the receiver's density (mace's `RealAgnosticDensity*`
    /// blocks) instead of avg_num_neighbors.
    fn parse(t: usize, value: &Value) -> Result<(Kind, bool)> {
        Ok(match enum_str(&format!("interactions[{t}]"), Some(value), &["plain", "residual", "density", "density_residual"])? {
            "plain" => (Kind::Plain, false),
            "residual" => (Kind::Residual, false),
            "density" => (Kind::Plain, true),
            _ => (Kind::Residual, true),
        })
    }
}

struct Block<T> {
    kind: Kind,
    /// The product adds the skip (mace's `use_sc`).
    product_residual: bool,
    linear_up: Linear<T>,
    /// The radial MLP, tabulated over r in float32 (not with a distance
    /// transform: its r' depends on the species pair).
    radial: Radial<T>,
    /// Density blocks: the message is scaled by 1/(density + 1), and the
    /// convolution's own scale is 1.
    density: Option<DensityNormalization<T>>,
    conv: UvuTensorProduct,
    inv_avg_num_neighbors: T,
    linear: Linear<T>,
    skip: FullyConnectedTensorProduct<T>,
    contraction: SymmetricContraction<T>,
    product_linear: Linear<T>,
    readout: Readout<T>,
}

enum Readout<T> {
    Linear(Linear<T>),
    NonLinear { hidden: Linear<T>, act: ScaledActivation<T>, energy: Linear<T> },
}

/// The layers, in one precision.
pub(super) struct Network<T> {
    n_species: usize,
    embedding: Linear<T>,
    edge: EdgeStage<T>,
    blocks: Vec<Block<T>>,
    /// mace's `pair_repulsion_fn`: ZBL energy per edge, added to the receiver before scale and shift.
    zbl: Option<ZblRepulsion<T>>,
    e0: Vec<f64>,
    scale: T,
    shift: f64,
}

/// e3nn's layout of `irreps` (per irrep a block channels × (2l+1)) to mace's
/// `reshape_irreps` layout channels × D, D = Σ (2l+1); every irrep has the
/// same multiplicity. `backward` goes the other way (a permutation).
fn reshape_irreps<T: Real>(irreps: &Irreps, rows: usize, x: &[T], out: &mut [T], backward: bool) {
    let dim = irreps.dim();
    let channels = irreps.0.first().map_or(0, |m| m.mul);
    let d_total = dim.checked_div(channels).unwrap_or(0);
    out.par_chunks_mut(dim).zip(x.par_chunks(dim)).take(rows).for_each(|(o, x)| {
        let (mut start, mut offset) = (0, 0);
        for m in irreps.iter() {
            let d = m.ir.dim();
            for c in 0..channels {
                for k in 0..d {
                    let (e3nn, mace) = (start + c * d + k, c * d_total + offset + k);
                    if backward {
                        o[e3nn] = x[mace];
                    } else {
                        o[mace] = x[e3nn];
                    }
                }
            }
            start += m.dim();
            offset += d;
        }
    });
}

/// The dense U matrices of a model may hold at most this many values
/// together (2²⁵, 256 MiB in f64; the test models hold ~10⁵).
const MAX_DENSE_U: usize = 1 << 25;

/// A `distance_transform` / `pair_repulsion` spec: null, or an object whose
/// "name" is one of `names` (a string names a mace feature equipot lacks).
fn optional_spec<'a>(d: &Description<'a>, key: &str, names: &[&str]) -> Result<Option<&'a Value>> {
    match d.hyper(key)? {
        Value::Null => Ok(None),
        Value::String(s) => Err(Error::Unsupported(format!("MACE {key} {s:?}"))),
        spec @ Value::Object(_) => {
            enum_str(&format!("{key}.name"), spec.get("name"), names)?;
            Ok(Some(spec))
        }
        other => Err(format_error(format!("\"{key}\" must be null or an object, found {other}"))),
    }
}

/// A per-element table (indexed by atomic number) with an entry for every species.
fn element_table(d: &Description, name: &str, species: &Species) -> Result<Vec<f64>> {
    let (table, _) = d.tensor_like(name, &[None])?;
    let needed = species.species.iter().map(|&z| z as usize + 1).max().unwrap_or(0);
    if table.len() < needed {
        return Err(format_error(format!("tensor {name:?} has {} entries; species need {needed}", table.len())));
    }
    Ok(table)
}

/// mace's `radial_embedding.distance_transform` (`{"name": "agnesi"}` or `{"name": "soft"}`), or None.
fn distance_transform<T: Real>(d: &Description, species: &Species) -> Result<Option<DistanceTransform<T>>> {
    let Some(spec) = optional_spec(d, "distance_transform", &["agnesi", "soft"])? else {
        return Ok(None);
    };
    let name = |k: &str| format!("radial_embedding.distance_transform.{k}");
    let scalar = |k: &str| d.tensor(&name(k), &[1]).map(|t| t[0]);
    let radii = element_table(d, &name("covalent_radii"), species)?;
    Ok(Some(match spec.get("name").and_then(Value::as_str) {
        Some("soft") => DistanceTransform::Soft(SoftTransform::new(&species.species, scalar("alpha")?, &radii)?),
        _ => DistanceTransform::Agnesi(AgnesiTransform::new(&species.species, scalar("q")?, scalar("p")?, scalar("a")?, &radii)?),
    }))
}

/// mace's `pair_repulsion_fn` (`{"name": "zbl", "p": p}`), or None.
fn pair_repulsion<T: Real>(d: &Description, species: &Species) -> Result<Option<ZblRepulsion<T>>> {
    let Some(spec) = optional_spec(d, "pair_repulsion", &["zbl"])? else {
        return Ok(None);
    };
    let p = int_in("pair_repulsion.p", spec.get("p"), 1, MAX_POLYNOMIAL_P)? as u32;
    let name = |k: &str| format!("pair_repulsion_fn.{k}");
    let scalar = |k: &str| d.tensor(&name(k), &[1]).map(|t| t[0]);
    let c = d.tensor(&name("c"), &[4])?;
    let radii = element_table(d, &name("covalent_radii"), species)?;
    let zbl = ZblRepulsion::new(&species.species, &c, scalar("a_exp")?, scalar("a_prefactor")?, &radii, p)?;
    Ok(Some(zbl))
}

impl Mace {
    /// Builds the model from a model file's description and tensors. A
    /// malformed file is `Error::ModelFormat`, a valid one using what
    /// equipot does not implement `Error::Unsupported`.
    /// A multi-head model's heads are its `modals`; `modal` picks one (None:
    /// the file's default, the head mace names "default"), an unknown or
    /// missing one is `Error::InvalidArgument` listing the heads.
    pub(super) fn load(meta: Value, tensors: SafeTensors, modal: Option<&str>) -> Result<Learned<Mace>> {
        let (modals, default_modal) = read_modals(&meta)?;
        if modals.len() == 1 {
            return Err(format_error(format!("\"modals\" is {modals:?}: a single-head MACE model lists none")));
        }
        let chosen = select_modal(&modals, default_modal.as_deref(), modal)?.unwrap_or(0);
        let heads = Heads { count: modals.len().max(1), chosen };
        let zbl = meta.get("hyperparameters").and_then(|h| h.get("pair_repulsion")).is_some_and(Value::is_object);
        Learned::load(Mace { zbl, heads }, meta, tensors)
    }
}

impl Architecture for Mace {
    type Network<T: Real> = Network<T>;
    const NAME: &'static str = "mace";
    const FILE_KIND: (&'static str, &'static str) = ("mace-torch", "mace");
    fn build<T: Real>(&self, d: &Description, species: &Species) -> Result<Network<T>> {
        let net = Network::build(d, species, self.heads)?;
        debug_assert_eq!(net.zbl.is_some(), self.zbl);
        Ok(net)
    }
    /// ZBL models are meant for close pairs: they refuse only pairs closer
    /// than `ZBL_MIN_DISTANCE`.
    fn min_distance(&self) -> f64 {
        if self.zbl {
            ZBL_MIN_DISTANCE
        } else {
            super::LEARNED_MIN_DISTANCE
        }
    }
}

impl<T: Real> Network<T> {
    fn build(d: &Description, species: &Species, heads: Heads) -> Result<Self> {
        let n_species = species.species.len();
        let cutoff = species.cutoff;
        if d.int("num_species", 1, crate::graph::MAX_ATOMIC_NUMBER as u64)? != n_species {
            return Err(format_error("num_species differs from the length of species".into()));
        }
        if !d.boolean("apply_cutoff")? {
            return Err(Error::Unsupported("MACE apply_cutoff = false".into()));
        }
        let transform = distance_transform(d, species)?;
        if d.boolean("use_bias_in_linear")? {
            return Err(format_error("\"use_bias_in_linear\" is true; format 1.2 allows only false".into()));
        }
        let n_blocks = d.int("num_interactions", 1, MAX_BLOCKS as u64)?;
        let nodes = d.irreps_list("irreps_node", n_blocks + 1)?;
        let edge = d.irreps_list("irreps_edge", n_blocks)?;
        let target = d.irreps_list("irreps_target", n_blocks)?;
        let attrs = Irreps::parse(&format!("{n_species}x0e"))?;

        // Edge embedding: Bessel basis (mace's prefactor √(2/r_max)) and polynomial cutoff, with the
        // values the model stores (format 1.2: "stored" tensors, rounded as the model's dtype
        // rounded them; format 1.1 files of float64 models: computed from r_max).
        let basis_spec = d.hyper("radial_basis")?;
        enum_str("radial_basis.name", basis_spec.get("name"), &["bessel"])?;
        let n_basis = int_in("radial_basis.num_basis", basis_spec.get("num_basis"), 1, MAX_BASIS as u64)?;
        let freqs = d.tensor("radial_embedding.bessel_fn.bessel_weights", &[n_basis])?;
        let prefactor = match enum_str("radial_basis.prefactor", basis_spec.get("prefactor"), &["stored", "sqrt(2/r_max)"])? {
            "stored" => d.tensor("radial_embedding.bessel_fn.prefactor", &[1])?[0],
            _ => (2.0 / cutoff).sqrt(),
        };
        let basis = BesselBasis::with_prefactor(prefactor, &freqs)?;
        let cut = d.hyper("cutoff_function")?;
        enum_str("cutoff_function.name", cut.get("name"), &["polynomial"])?;
        let p = int_in("cutoff_function.p", cut.get("p"), 1, MAX_POLYNOMIAL_P)?;
        let envelope_r_max = match cut.get("r_max") {
            None => cutoff,
            Some(v) => {
                enum_str("cutoff_function.r_max", Some(v), &["stored"])?;
                d.tensor("radial_embedding.cutoff_fn.r_max", &[1])?[0]
            }
        };
        // mace zeroes the envelope from its r_max on; equipot's graph ends at the cutoff instead
        if (envelope_r_max - cutoff).abs() > 1e-12 * cutoff {
            return Err(format_error(format!("the cutoff function's r_max {envelope_r_max} differs from the cutoff {cutoff}")));
        }
        let cutoff_fn = PolynomialCutoff::new(envelope_r_max, p as u32)?;
        let tables = match tabulate_radial::<T>() {
            true => Some(Arc::new(TableSource {
                basis: BesselBasis::with_prefactor(prefactor, &freqs)?,
                envelope: Envelope::Polynomial(PolynomialCutoff::new(envelope_r_max, p as u32)?),
                cutoff,
                transform: distance_transform::<f64>(d, species)?,
                values: Default::default(),
            })),
            false => None,
        };
        let irreps_sh = d.irreps("irreps_spherical_harmonics")?;
        if irreps_sh.iter().enumerate().any(|(l, m)| m.mul != 1 || m.ir.l as usize != l || m.ir.p != if l % 2 == 0 { 1 } else { -1 }) {
            return Err(format_error(format!("\"irreps_spherical_harmonics\" is {irreps_sh}: it must be 1x0e+1x1o+1x2e+... up to lmax")));
        }
        let sh = SphericalHarmonics::new(irreps_sh.lmax(), true, Normalization::Component)?;

        let radial_act = d.activation("activation_radial", Some(d.hyper("activation_radial")?))?;
        let hidden = d.hidden_widths("radial_mlp_hidden")?;
        let kinds = d.list("interactions", n_blocks)?;
        let avg = d.list("avg_num_neighbors", n_blocks)?;
        let correlation = d.list("correlation", n_blocks)?;
        let residual = d.list("product_residual", n_blocks)?;
        let readouts = d.list("readouts", n_blocks)?;

        let embedding = d.linear_weight("node_embedding.linear.weight", &attrs, &nodes[0])?;
        let mut blocks = Vec::with_capacity(n_blocks);
        let mut dense_budget = MAX_DENSE_U;
        for t in 0..n_blocks {
            let (h_in, h_out) = (&nodes[t], &nodes[t + 1]);
            let b = format!("interactions.{t}");
            let (kind, density) = Kind::parse(t, &kinds[t])?;
            let density = match density {
                true => Some(DensityNormalization::new(&d.tensor(&format!("{b}.density_fn.layer0.weight"), &[n_basis, 1])?)?),
                false => None,
            };
            let product_residual = boolean(&format!("product_residual[{t}]"), Some(&residual[t]))?;
            if product_residual && kind != Kind::Residual {
                return Err(format_error(format!("block {t}: product_residual needs a residual interaction")));
            }
            let conv = UvuTensorProduct::sevenn(&edge[t], &irreps_sh, &target[t])?;
            let mut hs = vec![n_basis];
            hs.extend(&hidden);
            hs.push(conv.weight_numel());
            let radial_weights: Vec<Vec<f64>> = (0..hs.len() - 1)
                .map(|k| d.tensor(&format!("{b}.conv_tp_weights.layer{k}.weight"), &[hs[k], hs[k + 1]]))
                .collect::<Result<_>>()?;
            let refs: Vec<&[f64]> = radial_weights.iter().map(Vec::as_slice).collect();
            let radial = Radial::new(&hs, radial_act, &refs, tables.as_ref())?;
            let avg_num_neighbors = avg[t].as_f64().ok_or_else(|| format_error(format!("avg_num_neighbors[{t}] must be a number")))?;
            let avg_num_neighbors = check_divisor(&format!("avg_num_neighbors[{t}]"), avg_num_neighbors)?;
            let (skip_in, skip_out) = match kind {
                Kind::Plain => (&target[t], &target[t]),
                Kind::Residual => (h_in, h_out),
            };
            let skip_numel = FullyConnectedTensorProduct::<T>::count_weights(skip_in, &attrs, skip_out);
            let skip_weights = d.tensor(&format!("{b}.skip_tp.weight"), &[skip_numel])?;
            let skip = FullyConnectedTensorProduct::new(
                skip_in,
                &attrs,
                skip_out,
                IrrepNormalization::Component,
                PathNormalization::Element,
                skip_weights.into_iter().map(T::of).collect(),
            )?;
            let nu_max = int_in(&format!("correlation[{t}]"), Some(&correlation[t]), 1, MAX_CORRELATION)?;
            let contraction = contraction(d, t, n_species, &target[t], h_out, nu_max, &mut dense_budget)?;
            let readout_key = format!("readouts[{t}]");
            let (h, n_heads) = (heads.chosen, heads.count);
            let readout = match enum_str(&format!("{readout_key}.kind"), readouts[t].get("kind"), &["linear", "nonlinear"])? {
                "linear" => Readout::Linear(head_linear(d, &format!("readouts.{t}.linear.weight"), h_out, None, n_heads, (h, h + 1))?),
                _ => {
                    // mace masks the hidden layer per head: head h keeps channels h·k .. h·k + k
                    let hidden_irreps = irreps(&format!("{readout_key}.irreps_hidden"), readouts[t].get("irreps_hidden"))?;
                    let width = match hidden_irreps.0.as_slice() {
                        [m] if m.ir.l == 0 && m.ir.p == 1 && m.mul % n_heads == 0 => m.mul,
                        _ => {
                            return Err(format_error(format!(
                                "{readout_key}.irreps_hidden {hidden_irreps}: not one block of scalars for {n_heads} head(s)"
                            )))
                        }
                    };
                    let k = width / n_heads;
                    let act = d.activation(&format!("{readout_key}.activation"), readouts[t].get("activation"))?;
                    Readout::NonLinear {
                        hidden: head_linear(d, &format!("readouts.{t}.linear_1.weight"), h_out, None, width, (h * k, h * k + k))?,
                        act: ScaledActivation::normalized(act, 1.0),
                        energy: head_linear(d, &format!("readouts.{t}.linear_2.weight"), &hidden_irreps, Some((h * k, h * k + k)), n_heads, (h, h + 1))?,
                    }
                }
            };
            blocks.push(Block {
                kind,
                product_residual,
                linear_up: d.linear_weight(&format!("{b}.linear_up.weight"), h_in, &edge[t])?,
                radial,
                inv_avg_num_neighbors: T::of(if density.is_some() { 1.0 } else { 1.0 / avg_num_neighbors }),
                density,
                linear: d.linear_weight(&format!("{b}.linear.weight"), &conv.irreps_out().simplify(), &target[t])?,
                conv,
                skip,
                contraction,
                product_linear: d.linear_weight(&format!("products.{t}.linear.weight"), h_out, h_out)?,
                readout,
            });
        }
        let zbl = pair_repulsion(d, species)?;
        // per head: a row of E0, a scale and a shift
        let (h, n_heads) = (heads.chosen, heads.count);
        let e0 = match n_heads {
            1 => d.energy_tensor("atomic_energies_fn.atomic_energies", &[n_species])?,
            _ => d.energy_tensor("atomic_energies_fn.atomic_energies", &[n_heads, n_species])?[h * n_species..(h + 1) * n_species].to_vec(),
        };
        let scale = d.tensor("scale_shift.scale", &[n_heads])?[h];
        let shift = d.energy_tensor("scale_shift.shift", &[n_heads])?[h];
        let edge = EdgeStage { basis, envelope: Envelope::Polynomial(cutoff_fn), sh, direction: Direction::Reversed, transform };
        Ok(Network { n_species, embedding, edge, blocks, zbl, e0, scale: T::of(scale), shift })
    }
}

/// One head's part of a readout layer (e3nn `Linear(irreps_in -> n_out x 0e)`
/// without biases, weight tensor `name`): its output channels `outputs` and,
/// for a scalar input, its input channels `inputs` (None: all). The path
/// weights stay the full layer's (e3nn normalizes by the full fan-in).
fn head_linear<T: Real>(
    d: &Description,
    name: &str,
    irreps_in: &Irreps,
    inputs: Option<(usize, usize)>,
    n_out: usize,
    outputs: (usize, usize),
) -> Result<Linear<T>> {
    let scalars = |mul: usize| Irreps::parse(&format!("{mul}x0e"));
    let full = LinearSpec::new(irreps_in, &scalars(n_out)?, None, false, PathNormalization::Element)?;
    let weight = d.tensor(name, &[full.weight_numel()])?;
    let head_in = match inputs {
        Some((lo, hi)) => scalars(hi - lo)?,
        None => irreps_in.clone(),
    };
    let mut spec = LinearSpec::new(&head_in, &scalars(outputs.1 - outputs.0)?, None, false, PathNormalization::Element)?;
    if spec.instructions.len() != full.instructions.len() || (inputs.is_some() && irreps_in.len() != 1) {
        return Err(format_error(format!("{name}: cannot take a head of {irreps_in} -> {n_out}x0e")));
    }
    let mut w = Vec::with_capacity(spec.weight_numel());
    let mut offset = 0;
    for (head, &(i, _, alpha)) in spec.instructions.iter_mut().zip(&full.instructions) {
        head.2 = alpha;
        let mul_in = irreps_in.0[i].mul;
        let (lo, hi) = inputs.unwrap_or((0, mul_in));
        for u in lo..hi {
            w.extend_from_slice(&weight[offset + u * n_out + outputs.0..offset + u * n_out + outputs.1]);
        }
        offset += mul_in * n_out;
    }
    Linear::new(&spec, &w, &[])
}

/// Block t's symmetric contraction, its U matrices rebuilt dense from the
/// file's sparse triples (`.shape`: I64, the dense shape; `.indices`: I64,
/// increasing flat indices into it; `.values`: the nonzeros).
fn contraction<T: Real>(
    d: &Description,
    t: usize,
    n_species: usize,
    irreps_in: &Irreps,
    irreps_out: &Irreps,
    nu_max: usize,
    dense_budget: &mut usize,
) -> Result<SymmetricContraction<T>> {
    struct Dense {
        shape: Vec<usize>,
        values: Vec<f64>,
    }
    let channels = irreps_in.0.first().map_or(1, |m| m.mul);
    let dim = irreps_in.dim() / channels;
    let mut per_output: Vec<(Vec<Dense>, Vec<Dense>)> = Vec::new();
    for k in 0..irreps_out.len() {
        let prefix = format!("products.{t}.symmetric_contractions.contractions.{k}");
        let (mut us, mut ws) = (Vec::new(), Vec::new());
        let l = irreps_out.0[k].ir.l as usize;
        for nu in 1..=nu_max {
            let w = if nu == nu_max { format!("{prefix}.weights_max") } else { format!("{prefix}.weights.{}", nu_max - 1 - nu) };
            let (w_values, w_shape) = d.tensor_like(&w, &[Some(n_species), None, Some(channels)])?;
            // The dense shape: [2L+1 (L > 0)] + [D] * nu + [K], K from the weights.
            let u = format!("{prefix}.U_matrix_{nu}");
            let mut expected: Vec<usize> = if l > 0 { vec![2 * l + 1] } else { vec![] };
            expected.extend(std::iter::repeat(dim).take(nu));
            expected.push(w_shape[1]);
            let shape = d.index_tensor(&format!("{u}.shape"), Some(&[expected.len()]))?;
            if shape.iter().zip(&expected).any(|(&s, &e)| s != e as i64) {
                return Err(format_error(format!("{u} has shape {shape:?}, expected {expected:?}")));
            }
            let numel = expected.iter().try_fold(1usize, |a, &b| a.checked_mul(b)).filter(|&n| n <= *dense_budget);
            let numel = numel.ok_or_else(|| {
                format_error(format!("{u} of shape {expected:?} would take the dense U matrices beyond {MAX_DENSE_U} values"))
            })?;
            *dense_budget -= numel;
            let indices = d.index_tensor(&format!("{u}.indices"), None)?;
            let (values, _) = d.tensor_like(&format!("{u}.values"), &[Some(indices.len())])?;
            let increasing = indices.windows(2).all(|w| w[0] < w[1]);
            if !increasing || indices.first().is_some_and(|&i| i < 0) || indices.last().is_some_and(|&i| i as u64 >= numel as u64) {
                return Err(format_error(format!("{u}.indices are not increasing flat indices into the shape {expected:?}")));
            }
            let mut dense = vec![0.0; numel];
            for (&i, &v) in indices.iter().zip(&values) {
                dense[i as usize] = v;
            }
            us.push(Dense { shape: expected, values: dense });
            ws.push(Dense { shape: w_shape, values: w_values });
        }
        per_output.push((us, ws));
    }
    fn view(x: &[Dense]) -> Vec<TensorView<'_>> {
        x.iter().map(|t| TensorView { shape: &t.shape, values: &t.values }).collect()
    }
    let tensors: Vec<ContractionTensors> =
        per_output.iter().map(|(us, ws)| ContractionTensors { u: view(us), weights: view(ws) }).collect();
    SymmetricContraction::new(irreps_in, irreps_out, &tensors)
}

/// What a block's backward needs from its forward.
struct Tape<T> {
    /// Block input h_t, and its up-projection (every node).
    h: Buf<T>,
    h_up: Buf<T>,
    /// Radial weights per edge and the radial MLP's tape.
    w: Buf<T>,
    radial_tape: Buf<T>,
    /// `linear(message)` before a plain block's skip.
    pre_skip: Buf<T>,
    /// A density block's x per edge and 1/(density + 1) per atom.
    density: Option<DensityTape<T>>,
    /// The contraction's input, in mace's channels × D layout.
    x: Buf<T>,
    /// The product's output h_{t+1}, and the readout's hidden pre-activation.
    h_next: Buf<T>,
    readout_pre: Buf<T>,
}

fn add<T: Real>(a: &mut [T], b: &[T]) {
    a.par_iter_mut().zip(b).for_each(|(a, b)| *a += *b);
}

/// Row i of `x` (rows of `width`) times `scale[i]`.
fn scale_rows<T: Real>(x: &mut [T], width: usize, scale: &[T]) {
    x.par_chunks_mut(width).zip(scale).for_each(|(row, &s)| row.iter_mut().for_each(|v| *v *= s));
}

/// ⟨a_i, b_i⟩ for every row i (rows of `width`).
fn row_dots<T: Real>(a: &[T], b: &[T], width: usize) -> Result<Buf<T>> {
    collect(a.par_chunks(width).zip(b.par_chunks(width)).map(|(a, b)| a.iter().zip(b).map(|(&a, &b)| a * b).sum()))
}

impl<T: Real> Network<T> {
    /// Roughly the peak bytes of `run`: per edge the geometry, spherical
    /// harmonics and their gradients, the embedding, and every block's
    /// radial weights and MLP tape (kept for the backward); per atom every
    /// block's tape and a few feature-sized temporaries.
    fn memory_estimate(&self, atoms: usize, edges: usize, tables: bool) -> f64 {
        let t = std::mem::size_of::<T>() as f64;
        let sh = self.edge.sh.dim() as f64;
        let exact = self.blocks.iter().filter(|b| !tables || !b.radial.has_tables());
        let radial: f64 = exact.map(|b| (2 * b.conv.weight_numel() + b.radial.tape_len()) as f64).sum();
        let per_edge = t * (12.0 + 3.0 * sh + 4.0 * self.edge.basis.len() as f64 + radial) + 64.0;
        let widest = self.blocks.iter().map(|b| b.conv.irreps_out().dim().max(b.contraction.irreps_out().dim())).max().unwrap_or(0) as f64;
        let per_atom = t * self.blocks.len() as f64 * 8.0 * widest + 200.0;
        edges as f64 * per_edge + atoms as f64 * per_atom
    }

    /// Energies (E0 included) of the atoms whose features it computes and,
    /// when asked, ∂E/∂v per edge. Without a halo it computes every atom's
    /// features; with one, those of the local atoms, and the ghosts'
    /// up-projected features come from their owners before each convolution
    /// (see the `halo` module).
    ///
    /// The exchange carries linear_up's output rather than the block input:
    /// both have the node irreps' width, and exchanging the output spares
    /// linear_up on the ghosts (and its backward on their gradients).
    fn run(
        &self,
        graph: &AtomGraph,
        types: &[usize],
        want_grad: bool,
        tables: bool,
        profile: &mut Stopwatch,
        mut halo: Option<&mut dyn HaloExchange>,
    ) -> Result<(Buf<f64>, Buf<[f64; 3]>)> {
        let n = graph.n_atoms();
        // Rows of node-wise layers; the convolution reads and writes all n.
        let m = if halo.is_some() { graph.n_local } else { n };
        let index = EdgeIndex::from_graph(graph)?;
        let radials = self.blocks.iter().map(|b| &b.radial);
        let density = self.blocks.iter().any(|b| b.density.is_some());
        let edges = Edges::new(&self.edge, radials, graph, types, tables, density)?;
        let n_e = edges.r.len();
        // ZBL: (V, dV/dr) per edge, V counted on the receiver (the center)
        let pair = match &self.zbl {
            Some(zbl) => collect((0..n_e).into_par_iter().map(|e| {
                zbl.energy_and_derivative(types[graph.neighbors[e] as usize], types[graph.centers[e] as usize], edges.r[e])
            }))?,
            None => Buf::default(),
        };
        let types = &types[..m];
        profile.lap("edges: index, r, Y(r), embedding");
        let mut onehot = zeros(m * self.n_species)?;
        for (i, &t) in types.iter().enumerate() {
            onehot[i * self.n_species + t] = T::one();
        }
        let mut h = zeros(m * self.embedding.spec().irreps_out.dim())?;
        self.embedding.forward(m, &onehot, &mut h)?;

        let mut node_energy = zeros(m)?;
        for (&(v, _), &c) in pair.iter().zip(&graph.centers) {
            if let Some(e) = node_energy.get_mut(c as usize) {
                *e += v;
            }
        }
        let mut tapes = Vec::with_capacity(self.blocks.len());
        for b in &self.blocks {
            let d_up = b.linear_up.spec().irreps_out.dim();
            let mut h_up = zeros(n * d_up)?;
            b.linear_up.forward(m, &h, &mut h_up[..m * d_up])?;
            profile.lap("forward: linears");
            if let Some(halo) = halo.as_deref_mut() {
                exchange(halo, HaloDirection::Forward, &mut h_up, d_up)?;
                profile.lap("forward: halo exchange");
            }
            let (mut w, mut radial_tape) = (Buf::default(), Buf::default());
            let weights = b.radial.weights(&self.edge, &edges, &mut w, want_grad.then_some(&mut radial_tape))?;
            let density = b.density.as_ref().map(|dn| dn.forward(&index, m, &edges.embedding)).transpose()?;
            profile.lap("forward: radial");
            let d_message = b.conv.irreps_out().dim();
            let mut message = zeros(n * d_message)?;
            b.conv.conv_forward_with(&index, &h_up, &edges.sh, weights.as_ref(), b.inv_avg_num_neighbors, &mut message)?;
            drop(weights);
            profile.lap("forward: convolution");
            message.truncate(m * d_message);
            if let Some(density) = &density {
                scale_rows(&mut message, d_message, density.scale());
            }
            let d_target = b.linear.spec().irreps_out.dim();
            let mut out = zeros(m * d_target)?;
            b.linear.forward(m, &message, &mut out)?;
            let mut sc = Buf::default();
            let mut pre_skip = Buf::default();
            match b.kind {
                Kind::Plain => {
                    let mut skipped = zeros(m * d_target)?;
                    b.skip.forward(&out, &onehot, &mut skipped)?;
                    pre_skip = std::mem::replace(&mut out, skipped);
                }
                Kind::Residual => {
                    sc = zeros(m * b.skip.irreps_out().dim())?;
                    b.skip.forward(&h, &onehot, &mut sc)?;
                }
            }
            let mut x = zeros(m * d_target)?;
            reshape_irreps(&b.linear.spec().irreps_out, m, &out, &mut x, false);
            profile.lap("forward: linears");
            let d_out = b.contraction.irreps_out().dim();
            let mut basis_out = zeros(m * d_out)?;
            b.contraction.forward(types, &x, &mut basis_out)?;
            profile.lap("forward: symmetric contraction");
            let mut h_next = zeros(m * d_out)?;
            b.product_linear.forward(m, &basis_out, &mut h_next)?;
            if b.product_residual {
                add(&mut h_next, &sc);
            }
            let mut e = zeros(m)?;
            let mut readout_pre = Buf::default();
            match &b.readout {
                Readout::Linear(lin) => lin.forward(m, &h_next, &mut e)?,
                Readout::NonLinear { hidden, act, energy } => {
                    let dh = hidden.spec().irreps_out.dim();
                    readout_pre = zeros(m * dh)?;
                    hidden.forward(m, &h_next, &mut readout_pre)?;
                    let y = collect(readout_pre.par_iter().map(|&z| act.value(z)))?;
                    energy.forward(m, &y, &mut e)?;
                }
            }
            add(&mut node_energy, &e);
            let h_prev = std::mem::replace(&mut h, Buf::copy_of(&h_next)?);
            if want_grad {
                tapes.push(Tape { h: h_prev, h_up, w, radial_tape, pre_skip, density, x, h_next, readout_pre });
            }
            profile.lap("forward: linears, readout");
        }
        let energies = collect(node_energy.par_iter().zip(types).map(|(&e, &t)| self.e0[t] + (self.scale * e).f64() + self.shift))?;
        if !want_grad {
            return Ok((energies, Buf::default()));
        }

        // Backward: E = Σ_local scale·e_i + ..., so ∂E/∂e_i = scale (local atoms).
        let grad_e = collect((0..m).into_par_iter().map(|i| if i < graph.n_local { self.scale } else { T::zero() }))?;
        let mut grad_sh = zeros(edges.sh.len())?;
        let mut grad_embedding = zeros(edges.embedding.len())?;
        // ∂E/∂r of the edges (tables, ZBL), and per block ∂E/∂w (exact MLP) or ∂E/∂r (table)
        let mut grad_r = zeros(n_e)?;
        let (mut grad_weights, mut table_w) = (Buf::default(), Buf::default());
        // ∂E/∂h_{t+1} flowing back from later blocks.
        let mut grad_h = zeros(self.blocks.last().map_or(0, |b| m * b.contraction.irreps_out().dim()))?;
        for (b, tape) in self.blocks.iter().zip(&tapes).rev() {
            // Readout.
            let mut g = zeros(tape.h_next.len())?;
            match &b.readout {
                Readout::Linear(lin) => lin.backward(m, &grad_e, &mut g)?,
                Readout::NonLinear { hidden, act, energy } => {
                    let mut grad_y = zeros(tape.readout_pre.len())?;
                    energy.backward(m, &grad_e, &mut grad_y)?;
                    grad_y.par_iter_mut().zip(&tape.readout_pre).for_each(|(g, &z)| *g *= act.derivative(z));
                    hidden.backward(m, &grad_y, &mut g)?;
                }
            }
            add(&mut grad_h, &g);
            // Product.
            let mut grad_basis = zeros(grad_h.len())?;
            b.product_linear.backward(m, &grad_h, &mut grad_basis)?;
            profile.lap("backward: linears, readout");
            let mut grad_x = zeros(tape.x.len())?;
            b.contraction.backward(types, &tape.x, &grad_basis, &mut grad_x)?;
            profile.lap("backward: symmetric contraction");
            let target = b.linear.spec().irreps_out.clone();
            let mut grad_out = zeros(tape.x.len())?;
            reshape_irreps(&target, m, &grad_x, &mut grad_out, true);
            let mut grad_h_in = zeros(tape.h.len())?;
            // ⟨∂E/∂y_i, y_i⟩ per atom for y = linear(message) (a density block's scaled rows)
            let mut row_products = Buf::default();
            match b.kind {
                Kind::Plain => {
                    let mut g = zeros(grad_out.len())?;
                    b.skip.backward(&tape.pre_skip, &onehot, &grad_out, &mut g, None)?;
                    grad_out = g;
                    if tape.density.is_some() {
                        row_products = row_dots(&grad_out, &tape.pre_skip, target.dim())?;
                    }
                }
                Kind::Residual => {
                    if b.product_residual {
                        b.skip.backward(&tape.h, &onehot, &grad_h, &mut grad_h_in, None)?;
                    }
                    if tape.density.is_some() {
                        // x is y permuted within each row: the same products
                        row_products = row_dots(&grad_x, &tape.x, target.dim())?;
                    }
                }
            }
            // Interaction.
            let d_message = b.conv.irreps_out().dim();
            let mut grad_message = zeros(n * d_message)?;
            b.linear.backward(m, &grad_out, &mut grad_message[..m * d_message])?;
            if let (Some(density), Some(dn)) = (&tape.density, &b.density) {
                scale_rows(&mut grad_message[..m * d_message], d_message, density.scale());
                dn.backward(&index, density, &row_products, &mut grad_embedding)?;
            }
            profile.lap("backward: linears, readout");
            // the exact MLP's weights are on the tape; a table is read again
            let weights: Box<dyn EdgeWeights<T> + '_> = match edges.table(&b.radial) {
                Some(_) => b.radial.weights(&self.edge, &edges, &mut table_w, None)?,
                None => Box::new(WeightRows { rows: &tape.w, width: b.conv.weight_numel() }),
            };
            let (mut grad_h_up, mut grad_sh_b) = (zeros(tape.h_up.len())?, zeros(edges.sh.len())?);
            grad_weights.reset(n_e * weights.gradient_width())?;
            b.conv.conv_backward_with(
                &index,
                &tape.h_up,
                &edges.sh,
                weights.as_ref(),
                b.inv_avg_num_neighbors,
                &grad_message,
                &mut grad_h_up,
                &mut grad_sh_b,
                &mut grad_weights,
            )?;
            drop(weights);
            add(&mut grad_sh, &grad_sh_b);
            profile.lap("backward: convolution");
            b.radial.backward(&edges, &tape.radial_tape, &grad_weights, &mut grad_r, &mut grad_embedding)?;
            profile.lap("backward: radial");
            let d_up = b.linear_up.spec().irreps_out.dim();
            if let Some(halo) = halo.as_deref_mut() {
                exchange(halo, HaloDirection::Reverse, &mut grad_h_up, d_up)?;
                profile.lap("backward: halo exchange");
            }
            let mut g_up = zeros(tape.h.len())?;
            b.linear_up.backward(m, &grad_h_up[..m * d_up], &mut g_up)?;
            add(&mut grad_h_in, &g_up);
            grad_h = grad_h_in;
            profile.lap("backward: linears, readout");
        }

        // ZBL's dV/dr is a direct ∂E/∂r of the edge.
        for ((gr, &(_, dv)), &c) in grad_r.iter_mut().zip(&pair).zip(&graph.centers) {
            if (c as usize) < graph.n_local {
                *gr += self.scale * dv;
            }
        }
        let grads = self.edge.backward(&edges, &grad_sh, &grad_embedding, grad_r)?;
        profile.lap("backward: Y(r), chain to vectors");
        Ok((energies, grads))
    }
}

impl<T: Real> Executor<T> for Network<T> {
    fn run(
        &self,
        graph: &AtomGraph,
        types: &[usize],
        request: &Request,
        profile: &mut Stopwatch,
        halo: Option<&mut dyn HaloExchange>,
    ) -> Result<(Buf<f64>, Buf<[f64; 3]>)> {
        let tables = request.radial != RadialMode::Exact;
        Network::run(self, graph, types, request.needs_edge_gradients(), tables, profile, halo)
    }
    fn memory_estimate(&self, atoms: usize, edges: usize, request: &Request) -> f64 {
        Network::memory_estimate(self, atoms, edges, request.radial != RadialMode::Exact)
    }
    fn has_radial_tables(&self) -> bool {
        self.blocks.iter().all(|b| b.radial.has_tables())
    }
    fn n_layers(&self) -> usize {
        self.blocks.len()
    }
    fn halo_width(&self) -> usize {
        self.blocks.iter().map(|b| b.linear_up.spec().irreps_out.dim()).max().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reshape_irreps_is_mace_layout_and_inverts() {
        let irreps = Irreps::parse("2x0e+2x1o").unwrap();
        // e3nn: [a0 a1 | b0x b0y b0z b1x b1y b1z]; mace: channel 0 [a0 b0x b0y b0z], channel 1 [a1 b1x b1y b1z]
        let x: Vec<f64> = (0..8).map(f64::from).collect();
        let mut y = vec![0.0; 8];
        reshape_irreps(&irreps, 1, &x, &mut y, false);
        assert_eq!(y, vec![0.0, 2.0, 3.0, 4.0, 1.0, 5.0, 6.0, 7.0]);
        let mut back = vec![0.0; 8];
        reshape_irreps(&irreps, 1, &y, &mut back, true);
        assert_eq!(back, x);
    }

    /// The float32 radial tables of every fixture model against its exact
    /// float64 MLPs, with the bounds of `radial_table::check_table` (the
    /// interpolation error h⁴/384·max|w⁗| and float32 rounding, relative to
    /// max|w|, max|w'|); with a distance transform, the tables of the pairs
    /// (first type, first type), (first, last) and (last, last), each
    /// against the network on its transformed r', and the same table either
    /// way round (the transforms depend on the pair only through R_u + R_v).
    #[test]
    fn radial_tables_match_the_network() {
        use crate::model::radial_table::{check_table, radial_exact, Tables};
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mace/models");
        let (mut checked, mut pairs) = (0, 0);
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if !path.to_string_lossy().ends_with(".eqp.safetensors") {
                continue;
            }
            let tensors = SafeTensors::parse(std::fs::read(&path).unwrap()).unwrap();
            let meta: Value = serde_json::from_str(&tensors.metadata["equipot"]).unwrap();
            let head = meta["modals"].as_array().and_then(|m| m.first()).and_then(Value::as_str).map(String::from);
            let model = Mace::load(meta, tensors, head.as_deref()).unwrap();
            let (f64net, f32net) = model.networks();
            let cutoff = crate::model::Potential::cutoff(&model);
            let edge = &f64net.edge;
            for (t, (b32, b64)) in f32net.blocks.iter().zip(&f64net.blocks).enumerate() {
                let net = &b64.radial.net;
                let name = path.file_name().unwrap().to_string_lossy();
                match (&b32.radial.tables, &edge.transform) {
                    (Tables::One(table32), None) => {
                        let exact = |r: &[f64]| radial_exact(&edge.basis, &edge.envelope, net, r, None);
                        eprintln!("{name} block {t}: {}", check_table(&edge.envelope, cutoff, &exact, table32));
                    }
                    (Tables::PerPair(tables), Some(transform)) => {
                        let last = transform.n_types() - 1;
                        for (u, v) in [(0, 0), (0, last), (last, last)] {
                            let exact = |r: &[f64]| {
                                let (rb, drb): (Vec<f64>, Vec<f64>) = r.iter().map(|&r| transform.apply(u, v, r)).unzip();
                                for &r in &r[..r.len().min(50)] {
                                    assert_eq!(transform.apply(u, v, r), transform.apply(v, u, r), "{name}: asymmetric transform");
                                }
                                radial_exact(&edge.basis, &edge.envelope, net, r, Some((&rb, &drb)))
                            };
                            let table32 = tables.table(u, v).expect("the fixtures' tables fit the budget");
                            assert!(std::ptr::eq(table32, tables.table(v, u).unwrap()));
                            eprintln!("{name} block {t} types ({u}, {v}): {}", check_table(&edge.envelope, cutoff, &exact, table32));
                            pairs += 1;
                        }
                    }
                    _ => panic!("{name} block {t}: float32 has one table per block, or per pair with a distance transform"),
                }
                checked += 1;
            }
        }
        assert!(pairs >= 6, "only {pairs} per-pair tables checked");
        assert!(checked >= 10, "only {checked} tables checked");
    }
}
