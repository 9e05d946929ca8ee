//! Model files for the load-time tests (tests/model_file_errors.rs,
//! tests/fuzz_model.rs): a safetensors reader/writer that keeps a file as
//! editable pieces (header JSON, the "equipot" metadata, tensors), a tiny
//! random NequIP (SevenNet-flavor) model written from scratch — no small
//! NequIP file is committed —, the committed MACE and Lennard-Jones fixtures,
//! and a tiny structure to evaluate a loaded model on.
#![allow(dead_code)]

use equipot::graph::Structure;
use equipot::model::{Precision, Request};
use equipot::nn::{Activation, Gate, LinearSpec, PathNormalization, UvuTensorProduct};
use equipot::so3::Irreps;
use equipot::{AtomGraph, Model, Outputs, Workspace};
use serde_json::{json, Map, Value};
use std::path::Path;

/// One tensor: dtype, shape, raw little-endian bytes.
#[derive(Clone, Debug)]
pub struct Tensor {
    pub dtype: String,
    pub shape: Vec<usize>,
    pub bytes: Vec<u8>,
}

impl Tensor {
    pub fn f32(shape: &[usize], values: &[f64]) -> Tensor {
        assert_eq!(shape.iter().product::<usize>(), values.len());
        Tensor { dtype: "F32".into(), shape: shape.to_vec(), bytes: values.iter().flat_map(|&v| (v as f32).to_le_bytes()).collect() }
    }
}

/// A safetensors model file as pieces: `meta` is the parsed "equipot"
/// metadata; `tensors` in name order (the writer's order).
#[derive(Clone, Debug)]
pub struct File {
    pub meta: Value,
    pub tensors: Vec<(String, Tensor)>,
}

impl File {
    /// Parses a well-formed file (panics otherwise: for fixtures only).
    pub fn parse(bytes: &[u8]) -> File {
        let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        let header: Map<String, Value> = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
        let data = &bytes[8 + n..];
        let meta = serde_json::from_str(header["__metadata__"]["equipot"].as_str().unwrap()).unwrap();
        let mut tensors: Vec<(String, Tensor)> = header
            .iter()
            .filter(|(k, _)| *k != "__metadata__")
            .map(|(k, v)| {
                let shape = v["shape"].as_array().unwrap().iter().map(|x| x.as_u64().unwrap() as usize).collect();
                let (b, e) = (v["data_offsets"][0].as_u64().unwrap() as usize, v["data_offsets"][1].as_u64().unwrap() as usize);
                (k.clone(), Tensor { dtype: v["dtype"].as_str().unwrap().into(), shape, bytes: data[b..e].to_vec() })
            })
            .collect();
        tensors.sort_by(|a, b| a.0.cmp(&b.0));
        File { meta, tensors }
    }

    /// The header JSON object a writer makes of these pieces (offsets in order).
    pub fn header(&self) -> Map<String, Value> {
        let mut header = Map::new();
        header.insert("__metadata__".into(), json!({"equipot": self.meta.to_string()}));
        let mut at = 0;
        for (name, t) in &self.tensors {
            let end = at + t.bytes.len();
            header.insert(name.clone(), json!({"dtype": t.dtype, "shape": t.shape, "data_offsets": [at, end]}));
            at = end;
        }
        header
    }

    pub fn data(&self) -> Vec<u8> {
        self.tensors.iter().flat_map(|(_, t)| t.bytes.iter().copied()).collect()
    }

    /// The file's bytes.
    pub fn bytes(&self) -> Vec<u8> {
        assemble(&Value::Object(self.header()).to_string(), &self.data())
    }

    pub fn tensor_mut(&mut self, name: &str) -> &mut Tensor {
        &mut self.tensors.iter_mut().find(|(n, _)| n == name).unwrap_or_else(|| panic!("no tensor {name}")).1
    }

    /// Sets the f32/f64 value at flat index k of a float tensor.
    pub fn set_value(&mut self, name: &str, k: usize, value: f64) {
        let t = self.tensor_mut(name);
        match t.dtype.as_str() {
            "F32" => t.bytes[4 * k..4 * k + 4].copy_from_slice(&(value as f32).to_le_bytes()),
            "F64" => t.bytes[8 * k..8 * k + 8].copy_from_slice(&value.to_le_bytes()),
            other => panic!("{name} is {other}"),
        }
    }

    /// The metadata value at a JSON pointer ("/hyperparameters/readout").
    pub fn set(&mut self, pointer: &str, value: Value) {
        *self.meta.pointer_mut(pointer).unwrap_or_else(|| panic!("no {pointer}")) = value;
    }
}

/// Header text + data → safetensors bytes (the header padded with spaces to
/// a multiple of 8, as writers do).
pub fn assemble(header: &str, data: &[u8]) -> Vec<u8> {
    let mut header = header.as_bytes().to_vec();
    while header.len() % 8 != 0 {
        header.push(b' ');
    }
    let mut out = (header.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(&header);
    out.extend_from_slice(data);
    out
}

/// The repository's root.
pub fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

pub const MACE_MODELS: [&str; 3] = ["mp0_l1", "off_l1", "mp0_l0_3int"];

pub fn mace_bytes(name: &str) -> Vec<u8> {
    std::fs::read(root().join(format!("tests/fixtures/mace/models/{name}.eqp.safetensors"))).unwrap()
}

/// The Lennard-Jones model of the LAMMPS tests (Ar, Kr).
pub fn lj_bytes() -> Vec<u8> {
    std::fs::read(root().join("tests/lammps/lj-ar-kr.json")).unwrap()
}

/// Seeded xorshift64* random numbers.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    /// Uniform in [0, n).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
    /// Uniform in [-1, 1).
    pub fn symmetric(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 52) as f64 - 1.0
    }
    pub fn chance(&mut self, p: f64) -> bool {
        ((self.next() >> 11) as f64 / (1u64 << 53) as f64) < p
    }
}

fn irreps(s: &str) -> Irreps {
    Irreps::parse(s).unwrap()
}

fn linear_numel(a: &str, b: &str) -> usize {
    LinearSpec::new(&irreps(a), &irreps(b), None, false, PathNormalization::Element).unwrap().weight_numel()
}

/// A tiny random NequIP model, SevenNet flavor (H and O, cutoff 4 Å, two
/// blocks of 4x0e+2x1e features, l ≤ 1 harmonics). `multi_fidelity`: two
/// modals ("A", "B", default "B") entering every place sevenn allows, a
/// per-modal shift, and the polynomial envelope instead of XPLOR.
pub fn tiny_nequip(multi_fidelity: bool) -> File {
    let mut rng = Rng(if multi_fidelity { 0x5eed_0002 } else { 0x5eed_0001 });
    let (n_species, n_basis, hidden, cutoff) = (2usize, 4usize, 6usize, 4.0);
    let nodes = ["4x0e", "4x0e+2x1e", "4x0e"];
    let conv_out = ["4x0e+4x1e", "6x0e"];
    let sh = "1x0e+1x1e";
    let modals: Vec<&str> = if multi_fidelity { vec!["A", "B"] } else { vec![] };
    let extra = |on: bool, irreps: &str| if on && multi_fidelity { format!("{irreps}+2x0e") } else { irreps.to_string() };
    let mut tensors: Vec<(String, Tensor)> = Vec::new();
    let mut random = |name: String, shape: &[usize], scale: f64, tensors: &mut Vec<(String, Tensor)>| {
        let values: Vec<f64> = (0..shape.iter().product()).map(|_| scale * rng.symmetric()).collect();
        tensors.push((name, Tensor::f32(shape, &values)));
    };
    let coeffs: Vec<f64> = (1..=n_basis).map(|k| k as f64 * std::f64::consts::PI / cutoff).collect();
    tensors.push(("edge_embedding.basis_function.coeffs".into(), Tensor::f32(&[n_basis], &coeffs)));
    random("onehot_to_feature_x.linear.weight".into(), &[linear_numel(&format!("{n_species}x0e"), nodes[0])], 1.0, &mut tensors);
    for t in 0..2 {
        let (x, x_next) = (nodes[t], nodes[t + 1]);
        let next = irreps(x_next);
        let scalars = Irreps(next.iter().filter(|m| m.ir.l == 0).copied().collect());
        let gated = Irreps(next.iter().filter(|m| m.ir.l > 0).copied().collect());
        let gates = if gated.num_irreps() > 0 { irreps(&format!("{}x0e", gated.num_irreps())) } else { Irreps::default() };
        let acts = |i: &Irreps| vec![Some(Activation::Silu); i.len()];
        let gate = Gate::<f64>::new(&scalars, &acts(&scalars), &gates, &acts(&gates), &gated).unwrap();
        let gate_in = gate.irreps_in().to_string();
        let conv = UvuTensorProduct::sevenn(&irreps(x), &irreps(sh), &irreps(conv_out[t])).unwrap();
        assert_eq!(conv.irreps_out().simplify(), irreps(conv_out[t]).simplify());
        random(format!("{t}_self_connection_intro.linear.weight"), &[linear_numel(x, &gate_in)], 1.0, &mut tensors);
        random(format!("{t}_self_interaction_1.linear.weight"), &[linear_numel(&extra(true, x), x)], 1.0, &mut tensors);
        tensors.push((format!("{t}_convolution.denominator"), Tensor::f32(&[1], &[3.0])));
        let hs = [n_basis, hidden, conv.weight_numel()];
        for k in 0..2 {
            random(format!("{t}_convolution.weight_nn.layer{k}.weight"), &[hs[k], hs[k + 1]], 1.0, &mut tensors);
        }
        let si2_in = extra(true, &conv.irreps_out().simplify().to_string());
        random(format!("{t}_self_interaction_2.linear.weight"), &[linear_numel(&si2_in, &gate_in)], 1.0, &mut tensors);
    }
    random("reduce_input_to_hidden.linear.weight".into(), &[linear_numel(&extra(true, nodes[2]), "2x0e")], 1.0, &mut tensors);
    random("reduce_hidden_to_energy.linear.weight".into(), &[linear_numel("2x0e", "1x0e")], 1.0, &mut tensors);
    tensors.push(("rescale_atomic_energy.scale".into(), Tensor::f32(&[n_species], &[1.0, 1.25])));
    if multi_fidelity {
        tensors.push(("rescale_atomic_energy.shift".into(), Tensor::f32(&[2, n_species], &[-1.0, -2.0, -1.5, -2.5])));
    } else {
        tensors.push(("rescale_atomic_energy.shift".into(), Tensor::f32(&[n_species], &[-1.0, -2.0])));
    }
    tensors.sort_by(|a, b| a.0.cmp(&b.0));
    let cutoff_function = if multi_fidelity {
        json!({"name": "poly_cut", "poly_cut_p_value": 6})
    } else {
        json!({"name": "XPLOR", "cutoff_on": 3.5})
    };
    let meta = json!({
        "format_version": "1.0",
        "architecture": "nequip",
        "flavor": "sevennet",
        "species": [1, 8],
        "cutoff": cutoff,
        "units": {"length": "angstrom", "energy": "eV"},
        "modals": modals,
        "default_modal": if multi_fidelity { json!("B") } else { Value::Null },
        "hyperparameters": {
            "num_species": n_species,
            "num_interaction_blocks": 2,
            "irreps_spherical_harmonics": sh,
            "spherical_harmonics_normalize": true,
            "irreps_node": nodes,
            "irreps_convolution_out": conv_out,
            "radial_basis": {"name": "bessel", "num_basis": n_basis, "trainable": true},
            "cutoff_function": cutoff_function,
            "radial_mlp_hidden": [hidden],
            "activation_radial": "silu",
            "activation_scalars": {"e": "silu", "o": "tanh"},
            "activation_gates": {"e": "silu", "o": "tanh"},
            "self_connection": ["linear", "linear"],
            "use_bias_in_linear": false,
            "readout": "linear",
            "modality": {
                "use_modality": multi_fidelity, "node_embedding": false, "self_interaction_1": multi_fidelity,
                "self_interaction_2": multi_fidelity, "output_block": multi_fidelity,
                "modal_wise_shift": multi_fidelity, "modal_wise_scale": false
            }
        },
        "constants": {"normalize2mom": {"silu": 1.6791767923989418, "tanh": 1.5937334472592695}},
        "tensor_names": "sevenn",
        "provenance": {"converter": "tests/model_files/mod.rs (random weights)"}
    });
    File { meta, tensors }
}

/// A tiny molecule of the model's first species (three atoms, a few Å
/// apart for Lennard-Jones, ~1.2 Å for learned models).
pub fn evaluate(model: &Model, precision: Precision, ws: &Workspace) -> equipot::Result<Outputs> {
    let species = model.species();
    let numbers = [species[0], species[1 % species.len()], species[0]];
    let scale = if model.architecture() == "lennard-jones" { 3.6 } else { 1.2 };
    let positions: Vec<[f64; 3]> =
        [[0.0, 0.0, 0.0], [1.0, 0.1, 0.05], [0.15, 0.95, -0.2]].iter().map(|p| p.map(|x| x * scale)).collect();
    let structure = Structure { positions: &positions, numbers: &numbers, cell: None, pbc: [false; 3] };
    let graph = AtomGraph::build(&structure, model.cutoff(), ws)?;
    let request = Request { forces: true, virial: true, atom_energies: true, precision, ..Default::default() };
    model.compute(&graph, &request, ws)
}

/// Every number of the outputs is finite.
pub fn finite(out: &Outputs) -> bool {
    out.energy.is_finite()
        && out.forces.iter().flatten().all(|x| x.is_finite())
        && out.virial.iter().flatten().all(|x| x.is_finite())
        && out.atom_energies.iter().all(|x| x.is_finite())
}
