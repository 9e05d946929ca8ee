//! A corrupted or absurd model file never loads (docs/model-format.md,
//! "Reader rules" and "Limits"): each case edits a valid file (the tiny
//! NequIP model of tests/model_files, the MACE fixtures, the Lennard-Jones
//! model) in one way and checks the error's kind and message. Malformed
//! files are `Error::ModelFormat` (C: EQP_ERROR_MODEL_FORMAT); a valid file
//! using what equipot does not implement is `Error::Unsupported`; a modal
//! the model lacks is the caller's `Error::InvalidArgument`.

use equipot::model::file::load_bytes;
use equipot::model::Precision;
use equipot::{Error, Model, Workspace};
use serde_json::{json, Value};

mod model_files;
use model_files::{assemble, evaluate, finite, lj_bytes, mace_bytes, tiny_nequip, File, Tensor};

const SOURCE: &str = "edited.eqp.safetensors";

fn load(bytes: Vec<u8>) -> equipot::Result<Model> {
    load_bytes(bytes, SOURCE, None)
}

/// The error of loading `bytes`, which must be of `kind` and hold every needle.
#[track_caller]
fn expect_error(bytes: Vec<u8>, kind: fn(&Error) -> bool, needles: &[&str]) -> String {
    let error = match load(bytes) {
        Ok(_) => panic!("the file loaded; expected an error with {needles:?}"),
        Err(e) => e,
    };
    let message = error.to_string();
    assert!(kind(&error), "wrong kind of error: {message}");
    for needle in needles {
        assert!(message.contains(needle), "{message:?} lacks {needle:?}");
    }
    assert!(message.contains(SOURCE), "{message:?} does not name the file");
    assert!(!message.contains("Some("), "{message:?} prints an Option");
    message
}

fn format(e: &Error) -> bool {
    matches!(e, Error::ModelFormat(_))
}
fn unsupported(e: &Error) -> bool {
    matches!(e, Error::Unsupported(_))
}

#[track_caller]
fn bad_format(bytes: Vec<u8>, needles: &[&str]) -> String {
    expect_error(bytes, format, needles)
}

/// The tiny NequIP model with one metadata value replaced.
fn nequip_with(pointer: &str, value: Value) -> Vec<u8> {
    let mut f = tiny_nequip(false);
    f.set(pointer, value);
    f.bytes()
}

fn mace_file() -> File {
    File::parse(&mace_bytes("mp0_l1"))
}

fn mace_with(pointer: &str, value: Value) -> Vec<u8> {
    let mut f = mace_file();
    f.set(pointer, value);
    f.bytes()
}

#[test]
fn valid_models_load_and_give_finite_numbers() {
    let ws = Workspace::new(1).unwrap();
    let mut files: Vec<(String, Vec<u8>)> = vec![
        ("tiny nequip".into(), tiny_nequip(false).bytes()),
        ("tiny nequip, two modals".into(), tiny_nequip(true).bytes()),
        ("lennard-jones".into(), lj_bytes()),
    ];
    files.extend(model_files::MACE_MODELS.iter().map(|m| (m.to_string(), mace_bytes(m))));
    for (name, bytes) in files {
        let model = load(bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        for precision in [Precision::F64, Precision::F32] {
            let out = evaluate(&model, precision, &ws).unwrap();
            assert!(finite(&out) && out.energy != 0.0, "{name}: {out:?}");
        }
    }
}

#[test]
fn the_tiny_nequip_model_is_a_real_model() {
    // Forces are -dE/dr of its own energy (so the file describes a consistent
    // network), and the two modals differ only where the file says.
    let ws = Workspace::new(1).unwrap();
    let model = load(tiny_nequip(false).bytes()).unwrap();
    assert_eq!((model.architecture(), model.species(), model.cutoff(), model.n_layers()), ("nequip", &[1, 8][..], 4.0, 2));
    let a = load_bytes(tiny_nequip(true).bytes(), SOURCE, Some("A")).unwrap();
    let b = load_bytes(tiny_nequip(true).bytes(), SOURCE, None).unwrap();
    let (ea, eb) = (evaluate(&a, Precision::F64, &ws).unwrap().energy, evaluate(&b, Precision::F64, &ws).unwrap().energy);
    assert!((ea - eb).abs() > 1e-6, "modals A and B give {ea} and {eb}");
    let b_named = load_bytes(tiny_nequip(true).bytes(), SOURCE, Some("B")).unwrap();
    assert_eq!(evaluate(&b_named, Precision::F64, &ws).unwrap().energy, eb, "the default modal is B");
}

// --- The safetensors container ---------------------------------------------

#[test]
fn header_length_must_be_sane() {
    let good = tiny_nequip(false).bytes();
    let mut huge = good.clone();
    huge[..8].copy_from_slice(&(1u64 << 40).to_le_bytes());
    bad_format(huge, &["header length 1099511627776 is implausible", "not a safetensors file?"]);
    let mut past = good.clone();
    past[..8].copy_from_slice(&((good.len() as u64) * 2).to_le_bytes());
    bad_format(past, &["truncated file: header length", "runs past the end"]);
    bad_format(good[..5].to_vec(), &["truncated file", "no header length"]);
    bad_format(good[..good.len() / 2].to_vec(), &["truncated"]);
    let mut zero = good.clone();
    zero[..8].copy_from_slice(&0u64.to_le_bytes());
    bad_format(zero, &["not valid UTF-8 JSON"]);
}

#[test]
fn tensors_must_tile_the_data_section() {
    let f = tiny_nequip(false);
    let names: Vec<String> = f.tensors.iter().map(|t| t.0.clone()).collect();
    // Overlap: the second tensor moved onto the first (same size, same data length).
    let mut header = f.header();
    let (first, second) = (&names[0], &names[1]);
    let n0 = f.tensors[0].1.bytes.len();
    let n1 = f.tensors[1].1.bytes.len();
    header[second]["data_offsets"] = json!([n0 - 4, n0 - 4 + n1]);
    let message = bad_format(assemble(&Value::Object(header).to_string(), &f.data()), &["overlaps", "contiguously"]);
    assert!(message.contains(first.as_str()), "{message}");
    // A gap before a tensor.
    let mut header = f.header();
    header[first]["data_offsets"] = json!([4, n0 + 4]);
    let mut data = vec![0; 4];
    data.extend(f.data());
    bad_format(assemble(&Value::Object(header.clone()).to_string(), &data[..data.len() - 4]), &["leaves a gap"]);
    // Trailing bytes after the last tensor.
    let mut data = f.data();
    data.extend([0; 8]);
    bad_format(assemble(&Value::Object(f.header()).to_string(), &data), &["8 trailing bytes"]);
    // Offsets that disagree with shape and dtype, and unknown dtypes.
    let mut header = f.header();
    header[first]["shape"] = json!([1000]);
    bad_format(assemble(&Value::Object(header).to_string(), &f.data()), &["do not fit shape [1000]"]);
    let mut header = f.header();
    header[first]["dtype"] = json!("F128");
    bad_format(assemble(&Value::Object(header).to_string(), &f.data()), &["unknown dtype \"F128\""]);
}

#[test]
fn weights_must_be_floats() {
    // F32 relabelled I32 (same bytes, same size): read as integers before.
    let mut f = tiny_nequip(false);
    f.tensor_mut("0_self_interaction_1.linear.weight").dtype = "I32".into();
    bad_format(f.bytes(), &["\"0_self_interaction_1.linear.weight\" has dtype I32, expected F32 or F64"]);
    // ... and MACE's index tensors must be I64, not floats.
    let mut f = mace_file();
    let name = "products.0.symmetric_contractions.contractions.0.U_matrix_2.indices";
    let t = f.tensor_mut(name);
    t.dtype = "F64".into();
    bad_format(f.bytes(), &[name, "has dtype F64, expected I64"]);
}

#[test]
fn shapes_must_be_exact_not_just_element_counts() {
    // A transposed radial layer (same values, same count).
    let mut f = tiny_nequip(false);
    f.tensor_mut("1_convolution.weight_nn.layer0.weight").shape = vec![6, 4];
    bad_format(f.bytes(), &["\"1_convolution.weight_nn.layer0.weight\" has shape [6, 4], expected [4, 6]"]);
    // A linear weight reshaped to a matrix.
    let mut f = tiny_nequip(false);
    let t = f.tensor_mut("reduce_hidden_to_energy.linear.weight");
    assert_eq!(t.shape, [2]);
    t.shape = vec![1, 2];
    bad_format(f.bytes(), &["has shape [1, 2], expected [2]"]);
    // A per-modal shift in a single-fidelity model.
    let mut f = tiny_nequip(false);
    let t = f.tensor_mut("rescale_atomic_energy.shift");
    t.shape = vec![1, 2];
    bad_format(f.bytes(), &["\"rescale_atomic_energy.shift\" has shape [1, 2], expected [2]"]);
    // MACE: a contraction weight of another species count.
    let mut f = mace_file();
    let t = f.tensor_mut("products.0.symmetric_contractions.contractions.0.weights.1");
    assert_eq!(t.shape, [4, 1, 8]);
    t.shape = vec![1, 4, 8];
    bad_format(f.bytes(), &["weights.1\" has shape [1, 4, 8], expected [4, *, 8]"]);
}

#[test]
fn missing_and_unexpected_tensors() {
    let mut f = tiny_nequip(false);
    f.tensors.retain(|(n, _)| n != "1_convolution.denominator");
    bad_format(f.bytes(), &["missing tensor \"1_convolution.denominator\""]);
    let mut f = tiny_nequip(false);
    f.tensors.push(("2_convolution.denominator".into(), Tensor::f32(&[1], &[3.0])));
    f.tensors.sort_by(|a, b| a.0.cmp(&b.0));
    bad_format(f.bytes(), &["unexpected tensor \"2_convolution.denominator\" for this architecture"]);
    // A contraction order the metadata does not have.
    let mut f = mace_file();
    let extra = f.tensors.iter().find(|(n, _)| n.ends_with("contractions.0.weights.1")).unwrap().1.clone();
    f.tensors.push(("products.0.symmetric_contractions.contractions.0.weights.2".into(), extra));
    f.tensors.sort_by(|a, b| a.0.cmp(&b.0));
    bad_format(f.bytes(), &["unexpected tensor \"products.0.symmetric_contractions.contractions.0.weights.2\""]);
}

#[test]
fn every_float_must_be_finite_and_bounded() {
    for (name, k, value, needle) in [
        ("1_convolution.weight_nn.layer1.weight", 7, f64::NAN, "holds NaN at flat index 7"),
        ("onehot_to_feature_x.linear.weight", 0, f64::INFINITY, "holds inf at flat index 0"),
        ("rescale_atomic_energy.scale", 1, f64::NAN, "holds NaN at flat index 1"),
        ("rescale_atomic_energy.shift", 0, f64::NEG_INFINITY, "holds -inf at flat index 0"),
        ("edge_embedding.basis_function.coeffs", 2, f64::NAN, "holds NaN at flat index 2"),
        ("0_self_interaction_2.linear.weight", 3, 1e30, "beyond the bound |x| ≤ 1e6"),
    ] {
        let mut f = tiny_nequip(false);
        f.set_value(name, k, value);
        bad_format(f.bytes(), &[name, needle]);
    }
    let mut f = mace_file();
    f.set_value("scale_shift.scale", 0, f64::NAN);
    bad_format(f.bytes(), &["\"scale_shift.scale\"", "holds NaN at flat index 0"]);
    let mut f = mace_file();
    let u = "products.1.symmetric_contractions.contractions.0.U_matrix_3.values";
    f.set_value(u, 5, f64::INFINITY);
    bad_format(f.bytes(), &[u, "holds inf at flat index 5"]);
}

#[test]
fn message_divisors_must_be_positive_and_sane() {
    for value in [0.0, -3.0, 1e-300] {
        let mut f = tiny_nequip(false);
        f.set_value("0_convolution.denominator", 0, value);
        bad_format(f.bytes(), &["0_convolution.denominator", "a message divisor must lie in [1e-3, 1e6]"]);
    }
    for value in [json!(0.0), json!(-9.0), json!(1e300)] {
        bad_format(mace_with("/hyperparameters/avg_num_neighbors/1", value), &["avg_num_neighbors[1] is"]);
    }
    bad_format(mace_with("/hyperparameters/avg_num_neighbors/0", json!("9")), &["avg_num_neighbors[0] must be a number"]);
}

// --- The metadata -----------------------------------------------------------

#[test]
fn species_are_unique_atomic_numbers() {
    bad_format(nequip_with("/species", json!([1, 1])), &["\"species\" lists atomic number 1 twice"]);
    bad_format(nequip_with("/species", json!([0, 8])), &["\"species\"[0] is 0, not an atomic number in 1..=118"]);
    bad_format(nequip_with("/species", json!([1, 119])), &["\"species\"[1] is 119"]);
    bad_format(nequip_with("/species", json!([1])), &["num_species differs"]);
    bad_format(mace_with("/species", json!([1, 6, 8, 6])), &["twice"]);
    bad_format(mace_with("/species", json!("H C O Si")), &["\"species\" must be a non-empty list"]);
}

#[test]
fn absurd_cutoffs_are_refused_before_anything_is_built() {
    for cutoff in [json!(1e6), json!(1e308), json!(0.0), json!(-5.0), json!(0.5), json!("5"), json!(null)] {
        let message = bad_format(nequip_with("/cutoff", cutoff.clone()), &["\"cutoff\" must be a number in [1, 20]"]);
        assert!(message.contains(&format!("found {cutoff}")), "{message}");
        bad_format(mace_with("/cutoff", cutoff.clone()), &["\"cutoff\" must be a number in [1, 20]"]);
    }
    let mut lj: Value = serde_json::from_slice(&lj_bytes()).unwrap();
    lj["equipot"]["cutoff"] = json!(1e6);
    bad_format(lj.to_string().into_bytes(), &["\"cutoff\" must be a number in [1, 20]"]);
    // XPLOR's switch-on radius lies below the cutoff.
    bad_format(nequip_with("/hyperparameters/cutoff_function/cutoff_on", json!(4.0)), &["must be below the cutoff"]);
    bad_format(nequip_with("/hyperparameters/cutoff_function/cutoff_on", json!(-1)), &["cutoff_on"]);
}

#[test]
fn sizes_are_bounded() {
    let cases: Vec<(&str, Value, &str)> = vec![
        ("/hyperparameters/num_interaction_blocks", json!(1000), "\"num_interaction_blocks\" must be an integer in 1..=16, found 1000"),
        ("/hyperparameters/num_interaction_blocks", json!(0), "in 1..=16, found 0"),
        ("/hyperparameters/num_interaction_blocks", json!(2.5), "found 2.5"),
        ("/hyperparameters/num_interaction_blocks", json!(u64::MAX), "found 18446744073709551615"),
        ("/hyperparameters/radial_basis/num_basis", json!(1_000_000), "\"radial_basis.num_basis\" must be an integer in 1..=64"),
        ("/hyperparameters/radial_mlp_hidden", json!([100000]), "\"radial_mlp_hidden[0]\" must be an integer in 1..=1024"),
        ("/hyperparameters/radial_mlp_hidden", json!([8, 8, 8, 8, 8, 8, 8, 8, 8]), "at most 8 widths"),
        ("/hyperparameters/irreps_node/1", json!("100000x0e+2x1e"), "100000x0e is out of bounds"),
        ("/hyperparameters/irreps_node/1", json!("4x0e+2x9e"), "2x9e is out of bounds (l ≤ 8"),
        ("/hyperparameters/irreps_node/1", json!("4x0e+0x1e"), "0x1e is out of bounds"),
        ("/hyperparameters/irreps_node/1", json!(""), "\"irreps_node[1]\" has 0 terms; it must have 1..=64"),
        ("/hyperparameters/irreps_node/1", json!(vec!["1x0e"; 65].join("+")), "has 65 terms"),
        ("/hyperparameters/irreps_spherical_harmonics", json!("1x0e+1x1e+1x2e+1x3e+1x4e+1x5e+1x6e+1x7e+1x8e+1x9e"), "1x9e is out of bounds"),
        ("/hyperparameters/irreps_spherical_harmonics", json!("1x1e+1x0e"), "1x of each l = 0, 1, ..., lmax in order"),
        ("/hyperparameters/irreps_spherical_harmonics", json!("1x0e+2x1e"), "in order"),
        ("/hyperparameters/cutoff_function", json!({"name": "poly_cut", "poly_cut_p_value": 4294967302u64}), "poly_cut_p_value\" must be an integer in 1..=32"),
    ];
    for (pointer, value, needle) in cases {
        bad_format(nequip_with(pointer, value), &[needle]);
    }
    let mace: Vec<(&str, Value, &str)> = vec![
        ("/hyperparameters/correlation/0", json!(10), "\"correlation[0]\" must be an integer in 1..=4, found 10"),
        ("/hyperparameters/correlation/0", json!(0), "correlation[0]"),
        ("/hyperparameters/num_interactions", json!(17), "\"num_interactions\" must be an integer in 1..=16"),
        ("/hyperparameters/radial_mlp_hidden", json!([16, 16, 4096]), "radial_mlp_hidden[2]"),
        ("/hyperparameters/irreps_target/0", json!("8x0e+8x1o+8x2e+8x3o+8x9e"), "8x9e is out of bounds"),
        ("/hyperparameters/cutoff_function/p", json!(0), "\"cutoff_function.p\" must be an integer in 1..=32"),
    ];
    for (pointer, value, needle) in mace {
        bad_format(mace_with(pointer, value), &[needle]);
    }
}

#[test]
fn unknown_values_of_known_keys_name_the_key_and_the_allowed_values() {
    let cases: Vec<(&str, Value, &str)> = vec![
        ("/hyperparameters/readout", json!("mlp"), "\"readout\" is \"mlp\"; allowed: \"linear\""),
        ("/units/length", json!("nm"), "\"units.length\" is \"nm\"; allowed: \"angstrom\""),
        ("/units/energy", json!("kcal/mol"), "\"units.energy\" is \"kcal/mol\"; allowed: \"eV\""),
        ("/flavor", json!("nequip"), "\"flavor\" is \"nequip\"; allowed: \"sevennet\""),
        ("/tensor_names", json!("allegro"), "\"tensor_names\" is \"allegro\""),
        ("/hyperparameters/activation_radial", json!("gelu"), "\"activation_radial\" is \"gelu\"; allowed: \"silu\", \"tanh\""),
        ("/hyperparameters/activation_scalars/o", json!("swish"), "\"activation_scalars.o\" is \"swish\""),
        ("/hyperparameters/radial_basis/name", json!("gaussian"), "\"radial_basis.name\" is \"gaussian\"; allowed: \"bessel\""),
        ("/hyperparameters/cutoff_function/name", json!("cosine"), "\"cutoff_function.name\" is \"cosine\"; allowed: \"XPLOR\", \"poly_cut\""),
        ("/hyperparameters/self_connection/1", json!("dense"), "\"self_connection[1]\" is \"dense\"; allowed: \"linear\", \"nequip\""),
        ("/hyperparameters/spherical_harmonics_normalize", json!("yes"), "\"spherical_harmonics_normalize\" must be true or false"),
        ("/hyperparameters/radial_basis/trainable", json!(1), "\"radial_basis.trainable\" must be true or false"),
        ("/hyperparameters/modality/output_block", json!("no"), "\"modality.output_block\" must be true or false"),
        ("/hyperparameters/modality/output_block", json!(true), "use_modality is false, but modals or modality flags are set"),
        ("/modals", json!(["PBE"]), "use_modality is false"),
        ("/constants/normalize2mom/silu", json!(1.7), "normalize2mom[silu] is 1.7 in the file"),
        ("/constants/normalize2mom", json!({"tanh": 1.5937334472592695}), "has no constants.normalize2mom.silu"),
        ("/format_version", json!("1.x"), "format_version \"1.x\" is not \"MAJOR.MINOR\""),
        ("/format_version", json!("1"), "is not \"MAJOR.MINOR\""),
        ("/format_version", json!("0.9"), "unsupported format version \"0.9\""),
        ("/format_version", json!("2.0"), "format version 2.0 is newer"),
        ("/architecture", json!("painn"), "architecture \"painn\" cannot be loaded"),
    ];
    for (pointer, value, needle) in cases {
        bad_format(nequip_with(pointer, value), &[needle]);
    }
    // `use_bias_in_linear: true` was read as false before.
    bad_format(nequip_with("/hyperparameters/use_bias_in_linear", json!(true)), &["\"use_bias_in_linear\" is true; format 1.0 allows only false"]);
    bad_format(mace_with("/hyperparameters/use_bias_in_linear", json!(true)), &["\"use_bias_in_linear\" is true"]);
    let mace: Vec<(&str, Value, &str)> = vec![
        ("/hyperparameters/interactions/0", json!("fancy"), "\"interactions[0]\" is \"fancy\"; allowed: \"plain\", \"residual\""),
        ("/hyperparameters/readouts/1/kind", json!("mlp"), "\"readouts[1].kind\" is \"mlp\"; allowed: \"linear\", \"nonlinear\""),
        ("/hyperparameters/readouts/1/activation", json!("elu"), "\"readouts[1].activation\" is \"elu\""),
        ("/hyperparameters/radial_basis/prefactor", json!("1"), "\"radial_basis.prefactor\" is \"1\"; allowed: \"stored\", \"sqrt(2/r_max)\""),
        ("/hyperparameters/product_residual/0", json!(1), "\"product_residual[0]\" must be true or false"),
        ("/hyperparameters/distance_transform", json!(3), "\"distance_transform\" must be null or an object, found 3"),
        ("/hyperparameters/distance_transform", json!({"name": "gaussian"}), "\"distance_transform.name\" is \"gaussian\"; allowed: \"agnesi\", \"soft\""),
        ("/hyperparameters/pair_repulsion", json!({"name": "zbl"}), "\"pair_repulsion.p\" must be an integer in 1..=32"),
        ("/flavor", json!("sevennet"), "\"flavor\" is \"sevennet\"; allowed: \"mace-torch\""),
        ("/default_modal", json!("PBE"), "\"default_modal\" is \"PBE\": it must be null or one of []"),
    ];
    for (pointer, value, needle) in mace {
        bad_format(mace_with(pointer, value), &[needle]);
    }
}

#[test]
fn unsupported_is_only_for_valid_files_using_unimplemented_features() {
    expect_error(mace_with("/hyperparameters/pair_repulsion", json!("zbl")), unsupported, &["MACE pair_repulsion \"zbl\""]);
    expect_error(mace_with("/hyperparameters/distance_transform", json!("soft")), unsupported, &["MACE distance_transform \"soft\""]);
    // Implemented since: an Agnesi transform or ZBL needs its buffers.
    bad_format(mace_with("/hyperparameters/distance_transform", json!({"name": "agnesi"})), &["radial_embedding.distance_transform.covalent_radii"]);
    bad_format(mace_with("/hyperparameters/pair_repulsion", json!({"name": "zbl", "p": 5})), &["pair_repulsion_fn.c"]);
    expect_error(mace_with("/hyperparameters/apply_cutoff", json!(false)), unsupported, &["apply_cutoff"]);
    // Implemented since (format 1.3): heads need per-head tensors, density blocks their density_fn.
    let mut f = mace_file();
    f.set("/modals", json!(["a", "b"]));
    f.set("/default_modal", json!("a"));
    bad_format(f.bytes(), &["tensor \"readouts.0.linear.weight\" has shape [8], expected [16]"]);
    bad_format(mace_with("/hyperparameters/interactions/1", json!("density_residual")), &["interactions.1.density_fn.layer0.weight"]);
    let mut f = mace_file();
    f.set("/modals", json!(["a"]));
    bad_format(f.bytes(), &["a single-head MACE model lists none"]);
    // Implemented since (7net-mf-ompa, 7net-omni): their tensors are then required.
    bad_format(nequip_with("/hyperparameters/self_connection/0", json!("nequip")), &["missing tensor \"0_self_connection_intro.fc_tensor_product.weight\""]);
    let mut f = tiny_nequip(true);
    f.set("/hyperparameters/modality/modal_wise_scale", json!(true));
    bad_format(f.bytes(), &["tensor \"rescale_atomic_energy.scale\" has shape"]);
}

#[test]
fn modals_are_the_callers_choice() {
    let mf = tiny_nequip(true).bytes();
    let e = load_bytes(mf.clone(), SOURCE, Some("HSE06")).err().unwrap();
    assert!(matches!(e, Error::InvalidArgument(_)) && e.to_string().contains("unknown modal \"HSE06\": this model has [\"A\", \"B\"]"), "{e}");
    let e = load_bytes(tiny_nequip(false).bytes(), SOURCE, Some("A")).err().unwrap();
    assert!(matches!(e, Error::InvalidArgument(_)) && e.to_string().contains("modal \"A\" given, but this model has none"), "{e}");
    let e = load_bytes(mace_bytes("mp0_l1"), SOURCE, Some("A")).err().unwrap();
    assert!(matches!(e, Error::InvalidArgument(_)), "{e}");
    // The file's own modal lists are checked.
    let mut f = tiny_nequip(true);
    f.set("/modals", json!(["A", "A"]));
    bad_format(f.bytes(), &["\"modals\" lists \"A\" twice"]);
    let mut f = tiny_nequip(true);
    f.set("/default_modal", json!("C"));
    bad_format(f.bytes(), &["\"default_modal\" is \"C\": it must be null or one of [\"A\", \"B\"]"]);
    let mut f = tiny_nequip(true);
    f.set("/modals", json!(["B"]));
    bad_format(f.bytes(), &["use_modality needs at least two modals"]);
}

#[test]
fn mace_u_matrices_are_checked() {
    let prefix = "products.0.symmetric_contractions.contractions.1.U_matrix_2";
    // Indices out of order.
    let mut f = mace_file();
    let t = f.tensor_mut(&format!("{prefix}.indices"));
    t.bytes.swap(0, 8);
    bad_format(f.bytes(), &[&format!("{prefix}.indices are not increasing flat indices")]);
    // A dense shape that disagrees with the contraction.
    let mut f = mace_file();
    let t = f.tensor_mut(&format!("{prefix}.shape"));
    t.bytes[..8].copy_from_slice(&(1i64 << 40).to_le_bytes());
    bad_format(f.bytes(), &[&format!("{prefix} has shape [1099511627776, 16, 16, 6], expected [3, 16, 16, 6]")]);
}

#[test]
fn non_trainable_bessel_frequencies_are_computed() {
    // The tiny model's stored frequencies are kπ/r_c: without the tensor
    // (trainable false) the model is the same up to the file's f32 rounding.
    let ws = Workspace::new(1).unwrap();
    let stored = load(tiny_nequip(false).bytes()).unwrap();
    let mut f = tiny_nequip(false);
    f.set("/hyperparameters/radial_basis/trainable", json!(false));
    f.tensors.retain(|(n, _)| n != "edge_embedding.basis_function.coeffs");
    let computed = load(f.bytes()).unwrap();
    let (a, b) = (evaluate(&stored, Precision::F64, &ws).unwrap(), evaluate(&computed, Precision::F64, &ws).unwrap());
    assert!((a.energy - b.energy).abs() < 1e-5, "{} vs {}", a.energy, b.energy);
    // With trainable false a stored tensor is unexpected.
    let mut f = tiny_nequip(false);
    f.set("/hyperparameters/radial_basis/trainable", json!(false));
    bad_format(f.bytes(), &["unexpected tensor \"edge_embedding.basis_function.coeffs\""]);
}

#[test]
fn lennard_jones_files_follow_the_same_rules() {
    let with = |key: &str, value: Value| {
        let mut lj: Value = serde_json::from_slice(&lj_bytes()).unwrap();
        lj["equipot"][key] = value;
        lj.to_string().into_bytes()
    };
    bad_format(with("species", json!([18, 18])), &["\"species\" lists atomic number 18 twice"]);
    bad_format(with("species", json!([0, 36])), &["not an atomic number"]);
    bad_format(with("epsilon", json!([[1e300, 0.01], [0.01, 0.01]])), &["\"epsilon\" holds 1e300 eV"]);
    bad_format(with("sigma", json!([[0.0, 3.5], [3.5, 3.6]])), &["\"sigma\" holds 0.0 Å"]);
    bad_format(with("sigma", json!([[3.4, 3.5], [3.6, 3.6]])), &["symmetric"]);
    bad_format(with("units", json!({"length": "bohr", "energy": "eV"})), &["\"units.length\" is \"bohr\""]);
    let e = load_bytes(lj_bytes(), SOURCE, Some("PBE")).err().unwrap();
    assert!(matches!(e, Error::InvalidArgument(_)), "{e}");
}
