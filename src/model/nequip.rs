//! NequIP as SevenNet builds it (docs/sevennet-architecture.md): one-hot
//! embedding, interaction blocks (self-connection — linear, or sevenn's
//! "nequip" tensor product with the species one-hot —, linear, uvu
//! convolution with radial-MLP weights, linear, gate; even or both parities),
//! readout, species- or modal-wise scale and shift, a modal one-hot on the
//! inputs sevenn's config names; forces and virial from the hand-written
//! backward.

use super::halo::{exchange, HaloDirection, HaloExchange};
use super::edges::{Direction, EdgeStage, Envelope};
use super::radial_table::{tabulate_radial, Edges, Radial, TableSource};
use std::sync::Arc;
use super::description::{
    boolean, enum_str, read_modals, select_modal, format_error, int_in, number_in, Description, Species, MAX_BASIS, MAX_BLOCKS,
    MAX_POLYNOMIAL_P,
};
use super::safetensors::SafeTensors;
use super::learned::{Architecture, Executor, Learned};
use super::profile::Stopwatch;
use super::{RadialMode, Request};
use crate::backend::cpu::{collect, zeros, Buf};
use crate::graph::AtomGraph;
use crate::nn::tensor_product_conv::{EdgeIndex, UvuTensorProduct};
use crate::nn::{Activation, BesselBasis, Gate, Linear};
use crate::nn::{FullyConnectedTensorProduct, IrrepNormalization, PathNormalization};
use crate::nn::{PolynomialCutoff, XplorCutoff};
use crate::so3::{Irreps, MulIr, Normalization, SphericalHarmonics};
use crate::{Real, Result};
use rayon::prelude::*;
use serde_json::Value;

/// The SevenNet/NequIP architecture of one model file: its modal structure
/// and the modal chosen at load (multi-fidelity models).
pub struct Nequip {
    modality: Modality,
    modal_index: Option<usize>,
}

/// The layers, in one precision.
pub(super) struct Network<T> {
    n_species: usize,
    /// Modal one-hot appended to the inputs of some linear layers (MF models).
    modal: Option<Vec<T>>,
    modal_in: ModalInputs,
    embedding: Linear<T>,
    edge: EdgeStage<T>,
    blocks: Vec<Block<T>>,
    readout_hidden: Linear<T>,
    readout_energy: Linear<T>,
    shift: Vec<T>,
    scale: Vec<T>,
}

#[derive(Clone, Copy, Default)]
struct ModalInputs {
    node_embedding: bool,
    self_interaction_1: bool,
    self_interaction_2: bool,
    output_block: bool,
}

/// sevenn's self-connection: "linear" (an e3nn Linear of the block input) or
/// "nequip" (a FullyConnectedTensorProduct of the block input with the
/// species one-hot: a linear map whose weights depend on the species).
enum SelfConnection<T> {
    Linear(Linear<T>),
    Species(FullyConnectedTensorProduct<T>),
}

impl<T: Real> SelfConnection<T> {
    fn irreps_in(&self) -> &Irreps {
        match self {
            SelfConnection::Linear(l) => &l.spec().irreps_in,
            SelfConnection::Species(tp) => tp.irreps_in1(),
        }
    }
    /// Whether the backward reads the block input (kept on the tape then).
    fn needs_input(&self) -> bool {
        matches!(self, SelfConnection::Species(_))
    }
    fn forward(&self, rows: usize, x: &[T], onehot: &[T], out: &mut [T]) -> Result<()> {
        match self {
            SelfConnection::Linear(l) => l.forward(rows, x, out),
            SelfConnection::Species(tp) => tp.forward(x, &onehot[..rows * tp.irreps_in2().dim()], out),
        }
    }
    /// `x` is the block input when `needs_input`, else unused.
    fn backward(&self, rows: usize, x: &[T], onehot: &[T], grad_out: &[T], grad_x: &mut [T]) -> Result<()> {
        match self {
            SelfConnection::Linear(l) => l.backward(rows, grad_out, grad_x),
            SelfConnection::Species(tp) => {
                tp.backward(x, &onehot[..rows * tp.irreps_in2().dim()], grad_out, grad_x, None)
            }
        }
    }
}

struct Block<T> {
    self_connection: SelfConnection<T>,
    linear_1: Linear<T>,
    /// The radial network, tabulated over r in float32.
    radial: Radial<T>,
    conv: UvuTensorProduct,
    inv_denominator: T,
    linear_2: Linear<T>,
    gate: Gate<T>,
}

/// The radial envelope of `hyperparameters.cutoff_function`.
fn read_envelope<T: Real>(d: &Description, cutoff: f64) -> Result<Envelope<T>> {
    let spec = d.hyper("cutoff_function")?;
    Ok(match enum_str("cutoff_function.name", spec.get("name"), &["XPLOR", "poly_cut"])? {
        "XPLOR" => {
            let on = number_in("cutoff_function.cutoff_on", spec.get("cutoff_on"), 0.0, cutoff)?;
            if on >= cutoff {
                return Err(format_error(format!("\"cutoff_function.cutoff_on\" is {on}: it must be below the cutoff {cutoff}")));
            }
            Envelope::Xplor(XplorCutoff::new(cutoff, on)?)
        }
        _ => {
            let p = int_in("cutoff_function.poly_cut_p_value", spec.get("poly_cut_p_value"), 1, MAX_POLYNOMIAL_P)?;
            Envelope::Polynomial(PolynomialCutoff::new(cutoff, p as u32)?)
        }
    })
}

/// Irreps plus a modal one-hot appended as its own scalar block (sevenn
/// appends it for two or more modals).
fn with_modal(irreps: &Irreps, n_modals: usize, on: bool) -> Irreps {
    let mut out = irreps.clone();
    if on && n_modals > 1 {
        out.0.push(MulIr { mul: n_modals, ir: "0e".parse().unwrap() });
    }
    out
}

/// The modal structure of a multi-fidelity model (`modals`,
/// `default_modal`, `hyperparameters.modality`).
struct Modality {
    modals: Vec<String>,
    default_modal: Option<String>,
    /// Number of modal one-hot columns (0: single fidelity).
    n_modals: usize,
    inputs: ModalInputs,
    modal_wise_shift: bool,
    modal_wise_scale: bool,
}

impl Modality {
    fn read(d: &Description) -> Result<Modality> {
        let (modals, default_modal) = read_modals(d.meta)?;
        let spec = d.hyper_opt("modality");
        if spec.is_some_and(|s| !s.is_object()) {
            return Err(format_error("\"modality\" must be an object of booleans".into()));
        }
        let flag = |k: &str| -> Result<bool> {
            match spec.and_then(|s| s.get(k)) {
                None => Ok(false),
                v => boolean(&format!("modality.{k}"), v),
            }
        };
        let use_modality = flag("use_modality")?;
        let inputs = ModalInputs {
            node_embedding: flag("node_embedding")?,
            self_interaction_1: flag("self_interaction_1")?,
            self_interaction_2: flag("self_interaction_2")?,
            output_block: flag("output_block")?,
        };
        let (modal_wise_shift, modal_wise_scale) = (flag("modal_wise_shift")?, flag("modal_wise_scale")?);
        let any = inputs.node_embedding || inputs.self_interaction_1 || inputs.self_interaction_2 || inputs.output_block;
        if !use_modality && (any || modal_wise_shift || modal_wise_scale || !modals.is_empty()) {
            return Err(format_error(
                "modality.use_modality is false, but modals or modality flags are set".into(),
            ));
        }
        if use_modality && modals.len() < 2 {
            return Err(format_error(format!("modality.use_modality needs at least two modals, the file has {modals:?}")));
        }
        let n_modals = if use_modality { modals.len() } else { 0 };
        Ok(Modality { modals, default_modal, n_modals, inputs, modal_wise_shift, modal_wise_scale })
    }

    /// The modal index the caller's `modal` (None: the file's default)
    /// selects; an unknown modal is the caller's error.
    fn select(&self, modal: Option<&str>) -> Result<Option<usize>> {
        // single fidelity (use_modality false) takes no modal, whatever the file lists
        let modals = if self.n_modals == 0 { &[][..] } else { &self.modals[..] };
        select_modal(modals, self.default_modal.as_deref(), modal)
    }
}

impl Nequip {
    /// Reads a model file; `modal` picks the fidelity head of a
    /// multi-fidelity model (default: the file's default). A malformed file
    /// is `Error::ModelFormat`, a valid one using what equipot does not
    /// implement `Error::Unsupported`, an unknown `modal`
    /// `Error::InvalidArgument`.
    pub(super) fn load(meta: Value, tensors: SafeTensors, modal: Option<&str>) -> Result<Learned<Nequip>> {
        let modality = Modality::read(&Description::new(&meta, &tensors, "sevennet", "sevenn")?)?;
        let modal_index = modality.select(modal)?;
        Learned::load(Nequip { modality, modal_index }, meta, tensors)
    }
}

impl Architecture for Nequip {
    type Network<T: Real> = Network<T>;
    const NAME: &'static str = "nequip";
    const FILE_KIND: (&'static str, &'static str) = ("sevennet", "sevenn");
    fn build<T: Real>(&self, d: &Description, species: &Species) -> Result<Network<T>> {
        Network::build(d, species.species.len(), species.cutoff, &self.modality, self.modal_index)
    }
}

impl<T: Real> Network<T> {
    fn build(d: &Description, n_species: usize, cutoff: f64, modality: &Modality, modal_index: Option<usize>) -> Result<Self> {
        if d.int("num_species", 1, crate::graph::MAX_ATOMIC_NUMBER as u64)? != n_species {
            return Err(format_error("num_species differs from the length of species".into()));
        }
        let n_blocks = d.int("num_interaction_blocks", 1, MAX_BLOCKS as u64)?;
        let irreps_node = d.irreps_list("irreps_node", n_blocks + 1)?;
        let irreps_conv = d.irreps_list("irreps_convolution_out", n_blocks)?;
        d.enum_str("readout", &["linear"])?;
        if d.boolean("use_bias_in_linear")? {
            return Err(format_error("\"use_bias_in_linear\" is true; format 1.0 allows only false".into()));
        }
        let (n_modals, modal_in) = (modality.n_modals, modality.inputs);
        let one_hot = |k: usize| -> Vec<T> { (0..n_modals).map(|i| if i == k { T::one() } else { T::zero() }).collect() };

        // Edge embedding.
        let basis_spec = d.hyper("radial_basis")?;
        enum_str("radial_basis.name", basis_spec.get("name"), &["bessel"])?;
        let n_basis = int_in("radial_basis.num_basis", basis_spec.get("num_basis"), 1, MAX_BASIS as u64)?;
        let coeffs = if boolean("radial_basis.trainable", basis_spec.get("trainable"))? {
            d.tensor("edge_embedding.basis_function.coeffs", &[n_basis])?
        } else {
            (1..=n_basis).map(|k| k as f64 * std::f64::consts::PI / cutoff).collect()
        };
        let basis = BesselBasis::with_coeffs(cutoff, &coeffs)?;
        let envelope = read_envelope::<T>(d, cutoff)?;
        // The exact edge embedding in float64, to tabulate the radial networks.
        let tables = match tabulate_radial::<T>() {
            true => Some(Arc::new(TableSource {
                basis: BesselBasis::<f64>::with_coeffs(cutoff, &coeffs)?,
                envelope: read_envelope::<f64>(d, cutoff)?,
                cutoff,
                transform: None,
                values: Default::default(),
            })),
            false => None,
        };
        let irreps_sh = d.irreps("irreps_spherical_harmonics")?;
        if irreps_sh.iter().enumerate().any(|(l, m)| m.mul != 1 || m.ir.l as usize != l) {
            return Err(format_error(format!(
                "\"irreps_spherical_harmonics\" is {irreps_sh}: it must hold 1x of each l = 0, 1, ..., lmax in order"
            )));
        }
        let normalize = d.boolean("spherical_harmonics_normalize")?;
        let sh = SphericalHarmonics::new(irreps_sh.lmax(), normalize, Normalization::Component)?;

        let act = |key: &str, parity: &str| -> Result<Activation> {
            d.activation(&format!("{key}.{parity}"), d.hyper(key)?.get(parity))
        };
        // Both parities' activations are checked, used or not.
        for key in ["activation_scalars", "activation_gates"] {
            act(key, "e")?;
            act(key, "o")?;
        }
        let radial_act = d.activation("activation_radial", Some(d.hyper("activation_radial")?))?;
        let hidden = d.hidden_widths("radial_mlp_hidden")?;
        const CONNECTIONS: [&str; 2] = ["linear", "nequip"];
        let self_connection: Vec<&str> = match d.hyper("self_connection")? {
            Value::String(_) => vec![d.enum_str("self_connection", &CONNECTIONS)?; n_blocks],
            _ => d
                .list("self_connection", n_blocks)?
                .iter()
                .enumerate()
                .map(|(t, s)| enum_str(&format!("self_connection[{t}]"), Some(s), &CONNECTIONS))
                .collect::<Result<_>>()?,
        };

        let species_irreps = Irreps::parse(&format!("{n_species}x0e"))?;
        let embedding =
            d.linear("onehot_to_feature_x", &with_modal(&species_irreps, n_modals, modal_in.node_embedding), &irreps_node[0])?;
        let mut blocks = Vec::with_capacity(n_blocks);
        for t in 0..n_blocks {
            let (x_in, x_out, conv_out) = (&irreps_node[t], &irreps_node[t + 1], &irreps_conv[t]);
            // Gate: scalars (l = 0) pass through an activation; each gated
            // irrep copy (l > 0) gets one scalar gate, even if the scalars
            // hold a 0e, else odd (sevenn's EquivariantGate).
            let scalars = Irreps(x_out.iter().filter(|m| m.ir.l == 0).copied().collect());
            let gated = Irreps(x_out.iter().filter(|m| m.ir.l > 0).copied().collect());
            let gates = if gated.num_irreps() > 0 {
                let parity = if scalars.iter().any(|m| m.ir.p == 1) { "e" } else { "o" };
                Irreps::parse(&format!("{}x0{parity}", gated.num_irreps()))?
            } else {
                Irreps::default()
            };
            let act_of = |irreps: &Irreps, key: &str| -> Result<Vec<Option<Activation>>> {
                irreps.iter().map(|m| act(key, if m.ir.p == 1 { "e" } else { "o" }).map(Some)).collect()
            };
            let gate = Gate::new(&scalars, &act_of(&scalars, "activation_scalars")?, &gates, &act_of(&gates, "activation_gates")?, &gated)?;
            let gate_in = gate.irreps_in().clone();
            let conv = UvuTensorProduct::sevenn(x_in, &irreps_sh, conv_out)?;
            if conv.irreps_out().simplify() != conv_out.simplify() {
                return Err(format_error(format!(
                    "block {t}: convolution gives {}, the file says {conv_out}",
                    conv.irreps_out().simplify()
                )));
            }
            let mut hs = vec![n_basis];
            hs.extend(&hidden);
            hs.push(conv.weight_numel());
            let radial_weights: Vec<Vec<f64>> = (0..hs.len() - 1)
                .map(|k| d.tensor(&format!("{t}_convolution.weight_nn.layer{k}.weight"), &[hs[k], hs[k + 1]]))
                .collect::<Result<_>>()?;
            let refs: Vec<&[f64]> = radial_weights.iter().map(Vec::as_slice).collect();
            let radial = Radial::new(&hs, radial_act, &refs, tables.as_ref())?;
            let denominator = d.divisor(&format!("{t}_convolution.denominator"))?;
            let name = format!("{t}_self_connection_intro");
            let self_connection = match self_connection[t] {
                "linear" => SelfConnection::Linear(d.linear(&name, x_in, &gate_in)?),
                "nequip" => {
                    let numel = FullyConnectedTensorProduct::<T>::count_weights(x_in, &species_irreps, &gate_in);
                    let weights = d.tensor(&format!("{name}.fc_tensor_product.weight"), &[numel])?;
                    SelfConnection::Species(FullyConnectedTensorProduct::new(
                        x_in,
                        &species_irreps,
                        &gate_in,
                        IrrepNormalization::Component,
                        PathNormalization::Element,
                        weights.into_iter().map(T::of).collect(),
                    )?)
                }
                other => return Err(format_error(format!("self connection {other:?} in block {t} (linear or nequip)"))),
            };
            blocks.push(Block {
                self_connection,
                linear_1: d.linear(&format!("{t}_self_interaction_1"), &with_modal(x_in, n_modals, modal_in.self_interaction_1), x_in)?,
                radial,
                inv_denominator: T::of(1.0 / denominator),
                linear_2: d.linear(
                    &format!("{t}_self_interaction_2"),
                    &with_modal(&conv.irreps_out().simplify(), n_modals, modal_in.self_interaction_2),
                    &gate_in,
                )?,
                conv,
                gate,
            });
        }
        let last = &irreps_node[n_blocks];
        if last.dim() < 2 {
            return Err(format_error(format!("irreps_node[{n_blocks}] is {last}: the readout needs a dimension of 2 or more")));
        }
        let hidden_irreps = Irreps::parse(&format!("{}x0e", last.dim() / 2))?;
        let readout_hidden = d.linear("reduce_input_to_hidden", &with_modal(last, n_modals, modal_in.output_block), &hidden_irreps)?;
        let readout_energy = d.linear("reduce_hidden_to_energy", &hidden_irreps, &Irreps::parse("1x0e")?)?;
        // Species-wise, or modal- and species-wise (then the modal's row).
        let modal_row = |all: Vec<f64>, m: usize| all[m * n_species..(m + 1) * n_species].to_vec();
        let scale = match (modality.modal_wise_scale, modal_index) {
            (true, Some(m)) => modal_row(d.tensor("rescale_atomic_energy.scale", &[n_modals, n_species])?, m),
            _ => d.tensor("rescale_atomic_energy.scale", &[n_species])?,
        };
        let shift = match (modality.modal_wise_shift, modal_index) {
            (true, Some(m)) => modal_row(d.energy_tensor("rescale_atomic_energy.shift", &[n_modals, n_species])?, m),
            _ => d.energy_tensor("rescale_atomic_energy.shift", &[n_species])?,
        };
        Ok(Network {
            n_species,
            modal: modal_index.map(one_hot),
            modal_in,
            embedding,
            edge: EdgeStage { basis, envelope, sh, direction: Direction::AsGraph, transform: None },
            blocks,
            readout_hidden,
            readout_energy,
            shift: shift.into_iter().map(T::of).collect(),
            scale: scale.into_iter().map(T::of).collect(),
        })
    }

    /// Roughly the peak bytes of `run`: per edge its vectors, lengths,
    /// spherical harmonics and their gradients, and (exact networks) the
    /// radial weights, their gradients and tape; per atom the blocks' tapes
    /// and a few feature-sized temporaries.
    fn memory_estimate(&self, atoms: usize, edges: usize, tables: bool) -> f64 {
        let t = std::mem::size_of::<T>() as f64;
        let sh = self.edge.sh.dim() as f64;
        let exact = self.blocks.iter().filter(|b| !tables || !b.radial.has_tables()).map(|b| (2 * b.conv.weight_numel() + b.radial.tape_len()) as f64);
        let per_edge = t * (12.0 + 3.0 * sh + 3.0 * self.edge.basis.len() as f64 + exact.fold(0.0, f64::max)) + 64.0;
        let widest = self.blocks.iter().map(|b| b.gate.irreps_in().dim().max(b.conv.irreps_out().dim())).max().unwrap_or(0) as f64;
        let tapes: f64 = self.blocks.iter().map(|b| (b.linear_1.spec().irreps_out.dim() + b.gate.irreps_in().dim()) as f64).sum();
        let per_atom = t * (tapes + 6.0 * widest) + 200.0;
        edges as f64 * per_edge + atoms as f64 * per_atom
    }

    /// Appends the modal one-hot to each row when `on`.
    fn modal_rows(&self, on: bool, rows: usize, x: Buf<T>) -> Result<Buf<T>> {
        Ok(match (&self.modal, on) {
            (Some(o), true) => {
                let dim = x.len() / rows.max(1);
                let mut out = Buf::with_capacity(rows * (dim + o.len()))?;
                for row in x.chunks(dim.max(1)).take(rows) {
                    out.extend_from_slice(row);
                    out.extend_from_slice(o);
                }
                out
            }
            _ => x,
        })
    }

    /// Energies of the atoms whose features it computes and, when asked,
    /// ∂E/∂v per edge, reading the radial tables when `tables` (and the model
    /// has them). Without a halo it computes every atom's features; with
    /// one, those of the local atoms, and the ghosts' come from their owners
    /// before each convolution (see the `halo` module).
    #[allow(clippy::too_many_arguments)]
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
        let edges = Edges::new(&self.edge, self.blocks.iter().map(|b| &b.radial), graph, types, tables, false)?;
        let n_e = edges.r.len();
        profile.lap("edges: index, r, Y(r), embedding");

        // Node embedding from the one-hot types.
        let mut onehot = zeros(m * self.n_species)?;
        for (i, &t) in types[..m].iter().enumerate() {
            onehot[i * self.n_species + t] = T::one();
        }
        let mut x = zeros(m * self.embedding.spec().irreps_out.dim())?;
        if self.modal_in.node_embedding {
            self.embedding.forward(m, &self.modal_rows(true, m, Buf::copy_of(&onehot)?)?, &mut x)?;
        } else {
            self.embedding.forward(m, &onehot, &mut x)?;
        }

        // Interaction blocks, keeping what the backward needs.
        struct Tape<T> {
            x_in: Buf<T>,
            x1: Buf<T>,
            gate_in: Buf<T>,
        }
        let mut tapes = Vec::with_capacity(self.blocks.len());
        // One buffer for every block's radial weights when the networks are
        // exact (and one for their gradients below): fresh ones per block
        // cost a page fault per 4 KiB.
        let mut w = Buf::default();
        for b in &self.blocks {
            let d_gate = b.gate.irreps_in().dim();
            let mut sc = zeros(m * d_gate)?;
            b.self_connection.forward(m, &x, &onehot, &mut sc)?;
            let block_in = if b.self_connection.needs_input() { Buf::copy_of(&x)? } else { Buf::default() };
            let x_in = self.modal_rows(self.modal_in.self_interaction_1, m, x)?;
            let d1 = b.linear_1.spec().irreps_out.dim();
            let mut x1 = zeros(n * d1)?;
            b.linear_1.forward(m, &x_in, &mut x1[..m * d1])?;
            profile.lap("forward: linears");
            if let Some(h) = halo.as_deref_mut() {
                exchange(h, HaloDirection::Forward, &mut x1, d1)?;
                profile.lap("forward: halo exchange");
            }
            let weights = b.radial.weights(&self.edge, &edges, &mut w, None)?;
            profile.lap("forward: radial");
            let d_conv = b.conv.irreps_out().dim();
            let mut conv = zeros(n * d_conv)?;
            b.conv.conv_forward_with(&index, &x1, &edges.sh, weights.as_ref(), b.inv_denominator, &mut conv)?;
            drop(weights);
            profile.lap("forward: convolution");
            conv.truncate(m * d_conv);
            let conv = self.modal_rows(self.modal_in.self_interaction_2, m, conv)?;
            let mut gate_in = zeros(m * d_gate)?;
            b.linear_2.forward(m, &conv, &mut gate_in)?;
            gate_in.par_iter_mut().zip(&sc).for_each(|(g, s)| *g += *s);
            x = zeros(m * b.gate.irreps_out().dim())?;
            b.gate.forward(m, &gate_in, &mut x)?;
            tapes.push(Tape { x_in: block_in, x1, gate_in });
            profile.lap("forward: linears");
        }

        // Readout, scale and shift.
        let x_last = self.modal_rows(self.modal_in.output_block, m, x)?;
        let d_hidden = self.readout_hidden.spec().irreps_out.dim();
        let mut hidden = zeros(m * d_hidden)?;
        self.readout_hidden.forward(m, &x_last, &mut hidden)?;
        let mut e = zeros(m)?;
        self.readout_energy.forward(m, &hidden, &mut e)?;
        let energies = collect(e.par_iter().zip(&types[..m]).map(|(&e, &t)| (e * self.scale[t] + self.shift[t]).f64()))?;
        profile.lap("forward: linears");
        if !want_grad {
            return Ok((energies, Buf::default()));
        }

        // Backward: E = Σ_local E_i.
        let grad_e =
            collect(types[..m].par_iter().enumerate().map(|(i, &t)| if i < graph.n_local { self.scale[t] } else { T::zero() }))?;
        let mut grad_hidden = zeros(m * d_hidden)?;
        self.readout_energy.backward(m, &grad_e, &mut grad_hidden)?;
        let mut grad_x = zeros(x_last.len())?;
        self.readout_hidden.backward(m, &grad_hidden, &mut grad_x)?;
        let mut grad_x = strip_modal(grad_x, m, self.blocks.last().map_or(0, |b| b.gate.irreps_out().dim()))?;
        let mut grad_sh = zeros(edges.sh.len())?;
        let mut grad_r = zeros(n_e)?;
        let mut grad_embedding = zeros(edges.embedding.len())?;
        // ∂E/∂w (exact networks) or ∂E/∂r (tables) per edge, and the exact networks' tape.
        let (mut grad_weights, mut radial_tape) = (Buf::default(), Buf::default());
        profile.lap("backward: linears");
        for (b, tape) in self.blocks.iter().zip(&tapes).rev() {
            let mut grad_gate_in = zeros(tape.gate_in.len())?;
            b.gate.backward(m, &tape.gate_in, &grad_x, &mut grad_gate_in)?;
            let d_x_in = b.self_connection.irreps_in().dim();
            let mut grad_x_in = zeros(m * d_x_in)?;
            b.self_connection.backward(m, &tape.x_in, &onehot, &grad_gate_in, &mut grad_x_in)?;
            let d_conv = b.conv.irreps_out().dim();
            let mut grad_conv = zeros(m * b.linear_2.spec().irreps_in.dim())?;
            b.linear_2.backward(m, &grad_gate_in, &mut grad_conv)?;
            let mut grad_conv = strip_modal(grad_conv, m, d_conv)?;
            grad_conv.resize(n * d_conv, T::zero());
            profile.lap("backward: linears");
            // Recompute the radial weights rather than keep them (memory).
            let weights = b.radial.weights(&self.edge, &edges, &mut w, Some(&mut radial_tape))?;
            profile.lap("backward: radial");
            let mut grad_x1 = zeros(tape.x1.len())?;
            let mut grad_sh_b = zeros(edges.sh.len())?;
            grad_weights.reset(n_e * weights.gradient_width())?;
            b.conv.conv_backward_with(
                &index,
                &tape.x1,
                &edges.sh,
                weights.as_ref(),
                b.inv_denominator,
                &grad_conv,
                &mut grad_x1,
                &mut grad_sh_b,
                &mut grad_weights,
            )?;
            drop(weights);
            grad_sh.par_iter_mut().zip(&grad_sh_b).for_each(|(a, b)| *a += *b);
            profile.lap("backward: convolution");
            b.radial.backward(&edges, &radial_tape, &grad_weights, &mut grad_r, &mut grad_embedding)?;
            profile.lap("backward: radial");
            let d1 = b.linear_1.spec().irreps_out.dim();
            if let Some(h) = halo.as_deref_mut() {
                exchange(h, HaloDirection::Reverse, &mut grad_x1, d1)?;
                profile.lap("backward: halo exchange");
            }
            let mut grad_x1_in = zeros(m * b.linear_1.spec().irreps_in.dim())?;
            b.linear_1.backward(m, &grad_x1[..m * d1], &mut grad_x1_in)?;
            let grad_x1_in = strip_modal(grad_x1_in, m, d_x_in)?;
            grad_x_in.par_iter_mut().zip(&grad_x1_in).for_each(|(a, b)| *a += *b);
            grad_x = grad_x_in;
            profile.lap("backward: linears");
        }

        let grads = self.edge.backward(&edges, &grad_sh, &grad_embedding, grad_r)?;
        profile.lap("backward: Y(r), chain to vectors");
        Ok((energies, grads))
    }
}

/// Drops the modal columns a linear layer's input gradient carries.
fn strip_modal<T: Real>(grad: Buf<T>, rows: usize, dim: usize) -> Result<Buf<T>> {
    if rows == 0 || grad.len() == rows * dim {
        return Ok(grad);
    }
    let mut out = zeros(rows * dim)?;
    out.par_chunks_mut(dim.max(1)).zip(grad.par_chunks(grad.len() / rows)).for_each(|(o, g)| o.copy_from_slice(&g[..dim]));
    Ok(out)
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
    fn n_layers(&self) -> usize {
        self.blocks.len()
    }
    fn halo_width(&self) -> usize {
        self.blocks.iter().map(|b| b.linear_1.spec().irreps_out.dim()).max().unwrap_or(0)
    }
    fn has_radial_tables(&self) -> bool {
        self.blocks.iter().all(|b| b.radial.has_tables())
    }
}

/// Where the tests find the converted SevenNet checkpoints (shared with tests/).
#[cfg(test)]
#[path = "../../tests/sevenn_support/mod.rs"]
mod sevenn_support;

#[cfg(test)]
mod tests {
    use super::*;
    use super::sevenn_support;
    use crate::model::radial_table::{check_table, radial_exact, Tables};

    /// The radial tables against the exact networks (float64, forward-mode
    /// derivative) on random edge lengths, for every block of every converted
    /// SevenNet checkpoint (tests/sevenn_support).
    ///
    /// Bound. Cubic Hermite interpolation with knot spacing h errs by at most
    /// h⁴/384·max|w⁗| in w and h³/(72√3)·max|w⁗| in dw/dr. With h = 0.005 Å
    /// and |w⁗| up to ~10⁵ on SevenNet's shortest edges (Bessel frequencies
    /// up to 8π/r_c, sharpened by the MLP), that is ≲ 1e-7 in w and ≲ 1e-4·h
    /// ≈ 1e-6 in dw/dr relative to the weights' scale (max|w| ~ 1–10), far
    /// below float32's resolution of a force (parity 1e-4 eV/Å). The test
    /// measures the worst error, midpoints included, in float64 tables (the
    /// interpolation error alone) and in the float32 tables the model uses
    /// (plus rounding), and asserts these bounds relative to max|w|, max|w'|.
    #[test]
    fn radial_tables_match_the_network() {
        let mut checked = 0;
        for entry in std::fs::read_dir(sevenn_support::models_dir()).unwrap() {
            let path = entry.unwrap().path();
            if !path.to_string_lossy().ends_with(".eqp.safetensors") {
                continue;
            }
            let tensors = SafeTensors::parse(std::fs::read(&path).unwrap()).unwrap();
            let meta: Value = serde_json::from_str(&tensors.metadata["equipot"]).unwrap();
            let model = Nequip::load(meta, tensors, None).unwrap();
            let (f64net, f32net) = model.networks();
            for (t, (b32, b64)) in f32net.blocks.iter().zip(&f64net.blocks).enumerate() {
                let Tables::One(table32) = &b32.radial.tables else { panic!("float32 evaluates one table per block") };
                let cutoff = crate::model::Potential::cutoff(&model);
                let (edge, net) = (&f64net.edge, &b64.radial.net);
                let exact = |r: &[f64]| radial_exact(&edge.basis, &edge.envelope, net, r, None);
                let line = check_table(&edge.envelope, cutoff, &exact, table32);
                eprintln!("{} block {t}: {line}", path.file_name().unwrap().to_string_lossy());
                checked += 1;
            }
        }
        assert!(checked > 0, "no *.eqp.safetensors model in EQUIPOT_SEVENN_MODELS");
    }
}
