//! The kernel sources of `cuda/`, embedded at build time, and the
//! compile-time constants that specialize them for one model (docs/cuda.md,
//! "How specialization works").

use crate::nn::{LinearSpec, UvuTensorProduct};
use crate::so3::Irreps;
use crate::{Error, Precision};
use std::collections::BTreeMap;

/// One source file of `cuda/` and the kernels it defines.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kernel {
    /// r, Y, Bessel × envelope, the cutoff mask, and their backward.
    EdgeStage,
    /// The cell-list neighbor search (coordinates in float64 always).
    Neighbors,
    /// The reference convolution (receiver-owned forward, sender-owned backward).
    Conv,
    /// The fast convolution (a block per receiver / sender).
    ConvFast,
    /// The convolution whose weights come from a radial table.
    ConvTable,
    /// Radial tables: w and dw/dr per edge, and dE/dr.
    RadialTable,
    /// Per-irrep linear layers.
    Linear,
    /// The gate nonlinearity.
    Gate,
    /// MACE's symmetric contraction.
    SymmetricContraction,
}

impl Kernel {
    /// Every source, in a fixed order.
    pub const ALL: [Kernel; 9] = [
        Kernel::EdgeStage,
        Kernel::Neighbors,
        Kernel::Conv,
        Kernel::ConvFast,
        Kernel::ConvTable,
        Kernel::RadialTable,
        Kernel::Linear,
        Kernel::Gate,
        Kernel::SymmetricContraction,
    ];

    /// Its file name in `cuda/`.
    pub fn file(self) -> &'static str {
        self.source_and_name().0
    }

    /// Its text, as built into the library.
    pub(super) fn source(self) -> &'static str {
        self.source_and_name().1
    }

    fn source_and_name(self) -> (&'static str, &'static str) {
        match self {
            Kernel::EdgeStage => ("edge_stage.cu", include_str!("../../../cuda/edge_stage.cu")),
            Kernel::Neighbors => ("neighbors.cu", include_str!("../../../cuda/neighbors.cu")),
            Kernel::Conv => ("tensor_product_conv.cu", include_str!("../../../cuda/tensor_product_conv.cu")),
            Kernel::ConvFast => ("tensor_product_conv_fast.cu", include_str!("../../../cuda/tensor_product_conv_fast.cu")),
            Kernel::ConvTable => ("tensor_product_conv_table.cu", include_str!("../../../cuda/tensor_product_conv_table.cu")),
            Kernel::RadialTable => ("radial_table.cu", include_str!("../../../cuda/radial_table.cu")),
            Kernel::Linear => ("linear.cu", include_str!("../../../cuda/linear.cu")),
            Kernel::Gate => ("gate.cu", include_str!("../../../cuda/gate.cu")),
            Kernel::SymmetricContraction => {
                ("symmetric_contraction.cu", include_str!("../../../cuda/symmetric_contraction.cu"))
            }
        }
    }

    /// The `extern "C"` kernels (entry points) the source defines.
    pub fn entry_points(self) -> &'static [&'static str] {
        match self {
            Kernel::EdgeStage => &["eqp_edge_forward", "eqp_edge_backward"],
            Kernel::Neighbors => &[
                "eqp_nl_wrap",
                "eqp_nl_plan",
                "eqp_nl_bin_count",
                "eqp_exclusive_scan",
                "eqp_nl_bin_fill",
                "eqp_nl_count",
                "eqp_nl_fill",
            ],
            Kernel::Conv => &["eqp_conv_forward", "eqp_conv_backward_x", "eqp_conv_backward_sh", "eqp_conv_backward_w"],
            Kernel::ConvFast => &["eqp_conv_forward_fast", "eqp_conv_backward_fast"],
            Kernel::ConvTable => &["eqp_conv_forward_table", "eqp_conv_grad_r_table", "eqp_conv_forward_table_fast"],
            Kernel::RadialTable => &["eqp_table_forward", "eqp_table_grad_r"],
            Kernel::Linear => &["eqp_linear_forward", "eqp_linear_backward"],
            Kernel::Gate => &["eqp_gate_forward", "eqp_gate_backward"],
            Kernel::SymmetricContraction => &["eqp_sc_forward", "eqp_sc_backward"],
        }
    }
}

/// The headers the sources `#include "…"`, by the name they are included
/// under (NVRTC resolves the includes from this list; there is no file system).
pub(super) const HEADERS: [(&str, &str); 6] = [
    ("host_compat.cuh", include_str!("../../../cuda/host_compat.cuh")),
    ("radial.cuh", include_str!("../../../cuda/radial.cuh")),
    ("radial_table.cuh", include_str!("../../../cuda/radial_table.cuh")),
    ("spherical_harmonics.cuh", include_str!("../../../cuda/spherical_harmonics.cuh")),
    ("tensor_product_conv.cuh", include_str!("../../../cuda/tensor_product_conv.cuh")),
    ("tensor_product_conv_fast.cuh", include_str!("../../../cuda/tensor_product_conv_fast.cuh")),
];

/// The envelope of the edge stage's radial basis.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum EdgeEnvelope {
    /// SevenNet-0's XPLOR switch.
    Xplor,
    /// The polynomial envelope of order p (NequIP, MACE).
    Polynomial {
        /// Its exponent.
        p: u32,
    },
}

/// One kernel source with the compile-time constants of one model and a
/// precision: what NVRTC compiles, and the key of the compiled-kernel cache.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Specialization {
    kernel: Kernel,
    real: &'static str,
    defines: BTreeMap<String, String>,
}

impl Specialization {
    /// `kernel` in `precision` with no constants yet (`EQP_REAL` comes from
    /// the precision). Neighbor search is float64 whatever the precision.
    pub fn new(kernel: Kernel, precision: Precision) -> Specialization {
        let real = match (kernel, precision) {
            (Kernel::Neighbors, _) | (_, Precision::F64) => "double",
            (_, Precision::F32) => "float",
        };
        Specialization { kernel, real, defines: BTreeMap::new() }
    }

    /// Adds the constant `-D{name}={value}`. A name is EQP_ and then capitals,
    /// digits and `_`; a value is one C token of letters, digits, `_` and `.`:
    /// nothing else can reach NVRTC's command line.
    pub fn define(mut self, name: &str, value: impl ToString) -> crate::Result<Specialization> {
        let value = value.to_string();
        let name_ok = name.len() > 4
            && name.starts_with("EQP_")
            && name.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
        if !name_ok || name == "EQP_REAL" {
            return Err(Error::InvalidArgument(format!("kernel constant name {name:?} (EQP_[A-Z0-9_]+, not EQP_REAL)")));
        }
        let value_ok = !value.is_empty() && value.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.');
        if !value_ok {
            return Err(Error::InvalidArgument(format!("kernel constant {name}={value:?}: not one C token")));
        }
        self.defines.insert(name.to_string(), value);
        Ok(self)
    }

    /// Adds `(name, value)` constants in turn.
    pub fn defines<V: ToString>(self, constants: impl IntoIterator<Item = (&'static str, V)>) -> crate::Result<Specialization> {
        constants.into_iter().try_fold(self, |spec, (name, value)| spec.define(name, value))
    }

    /// The source it specializes.
    pub fn kernel(&self) -> Kernel {
        self.kernel
    }

    /// NVRTC's options for it: the constants, then `EQP_REAL`.
    pub(super) fn options(&self) -> Vec<String> {
        let mut options: Vec<String> = self.defines.iter().map(|(n, v)| format!("-D{n}={v}")).collect();
        options.push(format!("-DEQP_REAL={}", self.real));
        options
    }

    /// The edge stage of a model: SH up to `lmax` (normalized vectors or
    /// not), `n_basis` Bessel functions times `envelope`.
    pub fn edge_stage(precision: Precision, lmax: u32, n_basis: usize, envelope: EdgeEnvelope, normalize_sh: bool) -> crate::Result<Self> {
        let spec = Self::new(Kernel::EdgeStage, precision)
            .define("EQP_LMAX", lmax)?
            .define("EQP_NUM_BASIS", n_basis)?
            .define("EQP_SH_NORMALIZE", normalize_sh as i32)?;
        match envelope {
            EdgeEnvelope::Xplor => spec.define("EQP_ENVELOPE", "EQP_ENVELOPE_XPLOR"),
            EdgeEnvelope::Polynomial { p } => spec.define("EQP_ENVELOPE", "EQP_ENVELOPE_POLYNOMIAL")?.define("EQP_POLY_P", p),
        }
    }

    /// The neighbor search (no model constants: float64, sizes at run time).
    pub fn neighbors() -> Self {
        Self::new(Kernel::Neighbors, Precision::F64)
    }

    /// A convolution (`kernel` Conv, ConvFast or ConvTable) of node features
    /// with edge SH through `tp`; ConvTable also takes its table's pieces.
    /// The sizes of cuda/tensor_product_conv.cuh's path table.
    pub fn conv(kernel: Kernel, precision: Precision, tp: &UvuTensorProduct, table_pieces: Option<usize>) -> crate::Result<Self> {
        match (kernel, table_pieces) {
            (Kernel::Conv | Kernel::ConvFast, None) | (Kernel::ConvTable, Some(_)) => {}
            _ => {
                return Err(Error::InvalidArgument(format!(
                    "{kernel:?} is not a convolution, or table pieces were {} for it",
                    if table_pieces.is_some() { "given" } else { "missing" }
                )))
            }
        }
        let (x, sh, out) = (tp.irreps_in1(), tp.irreps_in2(), tp.irreps_out());
        if sh.iter().any(|b| b.mul != 1) {
            return Err(Error::Unsupported(format!("edge irreps {sh}: the kernels take one copy of each")));
        }
        let channels = |irreps: &Irreps| irreps.iter().map(|b| b.mul).sum::<usize>();
        let spec = Self::new(kernel, precision).defines([
            ("EQP_CONV_PATHS", tp.instructions().len()),
            ("EQP_CONV_IN1_BLOCKS", x.len()),
            ("EQP_CONV_IN2_BLOCKS", sh.len()),
            ("EQP_CONV_OUT_BLOCKS", out.len()),
            ("EQP_CONV_D1", x.dim()),
            ("EQP_CONV_D2", sh.dim()),
            ("EQP_CONV_D3", out.dim()),
            ("EQP_CONV_WEIGHTS", tp.weight_numel()),
            ("EQP_CONV_IN1_CHANNELS", channels(x)),
            ("EQP_CONV_OUT_CHANNELS", channels(out)),
            ("EQP_CONV_MAX_L", x.lmax().max(sh.lmax()).max(out.lmax()) as usize),
        ])?;
        match table_pieces {
            Some(pieces) => spec.define("EQP_TABLE_PIECES", pieces)?.define("EQP_TABLE_WIDTH", tp.weight_numel()),
            None => Ok(spec),
        }
    }

    /// A radial table of `pieces` Hermite pieces and `width` columns.
    pub fn radial_table(precision: Precision, pieces: usize, width: usize) -> crate::Result<Self> {
        Self::new(Kernel::RadialTable, precision).defines([("EQP_TABLE_PIECES", pieces), ("EQP_TABLE_WIDTH", width)])
    }

    /// A linear layer.
    pub fn linear(precision: Precision, spec: &LinearSpec) -> crate::Result<Self> {
        Self::new(Kernel::Linear, precision).defines([
            ("EQP_LIN_PATHS", spec.instructions.len()),
            ("EQP_LIN_IN_BLOCKS", spec.irreps_in.len()),
            ("EQP_LIN_OUT_BLOCKS", spec.irreps_out.len()),
            ("EQP_LIN_DIN", spec.irreps_in.dim()),
            ("EQP_LIN_DOUT", spec.irreps_out.dim()),
        ])
    }

    /// A gate from `d_in` to `d_out` components per row.
    pub fn gate(precision: Precision, d_in: usize, d_out: usize) -> crate::Result<Self> {
        Self::new(Kernel::Gate, precision).defines([("EQP_GATE_DIN", d_in), ("EQP_GATE_DOUT", d_out)])
    }

    /// A symmetric contraction: `d` components per channel in, `channels`
    /// channels, `components` output components per channel.
    pub fn symmetric_contraction(precision: Precision, d: usize, channels: usize, components: usize) -> crate::Result<Self> {
        Self::new(Kernel::SymmetricContraction, precision).defines([
            ("EQP_SC_D", d),
            ("EQP_SC_CHANNELS", channels),
            ("EQP_SC_COMPONENTS", components),
        ])
    }
}
