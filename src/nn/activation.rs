//! Scalar activations of SevenNet, NequIP and MACE, with e3nn's second-moment
//! normalization (`normalize2mom`) and parity rule.

use super::moment::second_moment;
use crate::{invalid, Real, Result};
use std::sync::OnceLock;

/// A pointwise activation function.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Activation {
    /// x·sigmoid(x) ("silu", torch.nn.functional.silu).
    Silu,
    /// tanh(x).
    Tanh,
    /// |x|.
    Abs,
    /// 1 / (1 + e^-x).
    Sigmoid,
    /// softplus(x) − ln 2 (sevenn's "ssp"; softplus as torch computes it,
    /// linear above x = 20).
    ShiftedSoftplus,
    /// max(x, 0).
    Relu,
}

const ALL: [Activation; 6] = [
    Activation::Silu,
    Activation::Tanh,
    Activation::Abs,
    Activation::Sigmoid,
    Activation::ShiftedSoftplus,
    Activation::Relu,
];

/// torch's softplus threshold (beta = 1).
const SOFTPLUS_THRESHOLD: f64 = 20.0;

impl Activation {
    /// Reads sevenn's names: "silu", "tanh", "abs", "sigmoid", "ssp", "relu".
    pub fn from_name(name: &str) -> Result<Activation> {
        Ok(match name {
            "silu" => Activation::Silu,
            "tanh" => Activation::Tanh,
            "abs" => Activation::Abs,
            "sigmoid" => Activation::Sigmoid,
            "ssp" => Activation::ShiftedSoftplus,
            "relu" => Activation::Relu,
            _ => return invalid!("unknown activation \"{name}\" (expected silu, tanh, abs, sigmoid, ssp or relu)"),
        })
    }

    /// Parity of the function: +1 even, −1 odd, 0 neither. An odd scalar
    /// stays odd through an odd function, becomes even through an even one,
    /// and may not go through any other (e3nn's rule).
    pub fn parity(self) -> i32 {
        match self {
            Activation::Tanh => -1,
            Activation::Abs => 1,
            _ => 0,
        }
    }

    /// f(x).
    #[inline]
    pub fn value<T: Real>(self, x: T) -> T {
        let one = T::one();
        match self {
            Activation::Silu => x / (one + (-x).exp()),
            Activation::Tanh => x.tanh(),
            Activation::Abs => x.abs(),
            Activation::Sigmoid => one / (one + (-x).exp()),
            Activation::ShiftedSoftplus => {
                let softplus = if x > T::of(SOFTPLUS_THRESHOLD) { x } else { x.exp().ln_1p() };
                softplus - T::LN_2()
            }
            Activation::Relu => x.max(T::zero()),
        }
    }

    /// f'(x), with torch's conventions at the kinks (0 for abs and relu at 0).
    #[inline]
    pub fn derivative<T: Real>(self, x: T) -> T {
        let one = T::one();
        let sigmoid = |x: T| one / (one + (-x).exp());
        match self {
            Activation::Silu => {
                let s = sigmoid(x);
                s * (one + x * (one - s))
            }
            Activation::Tanh => {
                let t = x.tanh();
                one - t * t
            }
            Activation::Abs => {
                if x > T::zero() {
                    one
                } else if x < T::zero() {
                    -one
                } else {
                    T::zero()
                }
            }
            Activation::Sigmoid => {
                let s = sigmoid(x);
                s * (one - s)
            }
            Activation::ShiftedSoftplus => {
                if x > T::of(SOFTPLUS_THRESHOLD) {
                    one
                } else {
                    sigmoid(x)
                }
            }
            Activation::Relu => {
                if x > T::zero() {
                    one
                } else {
                    T::zero()
                }
            }
        }
    }

    /// e3nn's `normalize2mom(f).cst` = E[f(z)²]^(-1/2) over e3nn's seeded
    /// Monte-Carlo sample of z ~ N(0, 1). Computed once per process.
    pub fn second_moment_constant(self) -> f64 {
        static CONSTANTS: OnceLock<Vec<f64>> = OnceLock::new();
        let constants = CONSTANTS.get_or_init(|| {
            let fs: Vec<Box<dyn Fn(f64) -> f64>> =
                ALL.iter().map(|&a| Box::new(move |z| a.value(z)) as Box<dyn Fn(f64) -> f64>).collect();
            let refs: Vec<&dyn Fn(f64) -> f64> = fs.iter().map(|f| f.as_ref()).collect();
            second_moment(&refs).into_iter().map(|m| m.powf(-0.5)).collect()
        });
        constants[ALL.iter().position(|&a| a == self).expect("ALL lists every activation")]
    }

    /// The factor e3nn multiplies f by: the constant above, or exactly 1 when
    /// it is within 1e-4 of 1 (e3nn then skips the multiplication).
    pub fn normalization(self) -> f64 {
        let cst = self.second_moment_constant();
        if (cst - 1.0).abs() < 1e-4 {
            1.0
        } else {
            cst
        }
    }
}

/// An activation times a constant factor, as e3nn's normalized activations
/// and their output scalings are applied: y = c·f(x).
#[derive(Clone, Copy, Debug)]
pub struct ScaledActivation<T> {
    /// The function.
    pub act: Activation,
    /// The factor c.
    pub scale: T,
}

impl<T: Real> ScaledActivation<T> {
    /// f normalized as e3nn's `normalize2mom`, times `extra`.
    pub fn normalized(act: Activation, extra: f64) -> Self {
        ScaledActivation { act, scale: T::of(act.normalization() * extra) }
    }

    /// c·f(x).
    #[inline]
    pub fn value(&self, x: T) -> T {
        self.scale * self.act.value(x)
    }

    /// c·f'(x).
    #[inline]
    pub fn derivative(&self, x: T) -> T {
        self.scale * self.act.derivative(x)
    }
}
