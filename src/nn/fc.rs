//! e3nn's `nn.FullyConnectedNet`: layers x ↦ φ(x·W/√(h_in·var_in))·√var_out
//! without biases, φ normalized to unit second moment; the last layer has no
//! activation unless `out_act`, and then reads W/√(h_in·var_in/var_out).
//! In SevenNet and NequIP it maps the radial basis of each edge to the
//! weights of its tensor product.

use super::activation::{Activation, ScaledActivation};
use super::gemm::{Block, Panel};
use crate::{invalid, Error, Real, Result};
use crate::backend::cpu::Buf;
use rayon::prelude::*;

#[derive(Clone, Debug)]
struct Layer<T> {
    h_in: usize,
    h_out: usize,
    /// x ↦ x·W (scaled), one block of width h_out.
    forward: Block<T>,
    /// g ↦ g·Wᵀ.
    backward: Block<T>,
    act: Option<ScaledActivation<T>>,
}

/// A fully connected network with e3nn's normalizations.
#[derive(Clone, Debug)]
pub struct FullyConnectedNet<T> {
    hs: Vec<usize>,
    layers: Vec<Layer<T>>,
}

/// Rows per parallel task.
const ROWS_PER_TASK: usize = 32;

impl<T: Real> FullyConnectedNet<T> {
    /// As `FullyConnectedNet(hs, act, variance_in, variance_out, out_act)`;
    /// `weights[k]` is `layer{k}.weight`, hs[k] × hs[k+1] row-major.
    pub fn new(
        hs: &[usize],
        act: Option<Activation>,
        weights: &[&[f64]],
        variance_in: f64,
        variance_out: f64,
        out_act: bool,
    ) -> Result<FullyConnectedNet<T>> {
        if hs.len() < 2 || hs.contains(&0) {
            return invalid!("fully connected net: sizes must be two or more positive numbers, got {hs:?}");
        }
        if weights.len() != hs.len() - 1 {
            return Err(Error::LengthMismatch(format!(
                "fully connected net {hs:?}: {} weight matrices for {} layers",
                weights.len(),
                hs.len() - 1
            )));
        }
        let mut layers = Vec::with_capacity(weights.len());
        let mut var_in = variance_in;
        for (k, w) in weights.iter().enumerate() {
            let (h_in, h_out) = (hs[k], hs[k + 1]);
            if w.len() != h_in * h_out {
                return Err(Error::LengthMismatch(format!(
                    "fully connected net {hs:?}: layer {k} takes {h_in}x{h_out} weights, got {}",
                    w.len()
                )));
            }
            let last = k + 1 == weights.len();
            let var_out = if last { variance_out } else { 1.0 };
            let layer_act = if last && !out_act { None } else { act };
            let (scale, act) = match layer_act {
                Some(a) => ((h_in as f64 * var_in).sqrt().recip(), Some(ScaledActivation::normalized(a, var_out.sqrt()))),
                None => ((h_in as f64 * var_in / var_out).sqrt().recip(), None),
            };
            layers.push(Layer {
                h_in,
                h_out,
                forward: Block {
                    d: 1,
                    n: h_out,
                    c_col0: 0,
                    panels: vec![Panel::new(0, h_in, h_out, scale, |u, v| w[u * h_out + v])],
                    bias: None,
                },
                backward: Block {
                    d: 1,
                    n: h_in,
                    c_col0: 0,
                    panels: vec![Panel::new(0, h_out, h_in, scale, |v, u| w[u * h_out + v])],
                    bias: None,
                },
                act,
            });
            var_in = var_out;
        }
        Ok(FullyConnectedNet { hs: hs.to_vec(), layers })
    }

    /// Layer sizes, input first.
    pub fn hs(&self) -> &[usize] {
        &self.hs
    }

    /// Elements per row of the tape that `forward` fills for `backward`: the
    /// pre-activations of every activated layer.
    pub fn tape_len(&self) -> usize {
        self.layers.iter().filter(|l| l.act.is_some()).map(|l| l.h_out).sum()
    }

    /// y = net(x) for `rows` rows. With a tape (rows × `tape_len()`), also
    /// records what `backward` needs.
    pub fn forward(&self, rows: usize, x: &[T], y: &mut [T], tape: Option<&mut [T]>) -> Result<()> {
        let (h0, hn, tl) = (self.hs[0], self.hs[self.layers.len()], self.tape_len());
        check(rows, &[(x.len(), h0, "x"), (y.len(), hn, "y")])?;
        let tasks = y.par_chunks_mut(ROWS_PER_TASK * hn).zip(x.par_chunks(ROWS_PER_TASK * h0));
        match tape {
            Some(tape) if tl > 0 => {
                check(rows, &[(tape.len(), tl, "tape")])?;
                let tapes = tape.par_chunks_mut(ROWS_PER_TASK * tl);
                tasks.zip(tapes).try_for_each(|((y, x), tape)| self.forward_rows(x, y, Some(tape)))
            }
            _ => tasks.try_for_each(|(y, x)| self.forward_rows(x, y, None)),
        }
    }

    fn forward_rows(&self, x: &[T], y: &mut [T], mut tape: Option<&mut [T]>) -> Result<()> {
        let (n, tl) = (x.len() / self.hs[0], self.tape_len());
        // The previous layer's output (None: the input x).
        let mut cur: Option<Buf<T>> = None;
        let mut tape_at = 0;
        for (k, layer) in self.layers.iter().enumerate() {
            let last = k + 1 == self.layers.len();
            let mut next = if last { Buf::default() } else { Buf::filled(n * layer.h_out, T::zero())? };
            let out: &mut [T] = if last { &mut *y } else { &mut next };
            layer.forward.run(n, cur.as_ref().map_or(x, |c| c.as_slice()), layer.h_in, out, layer.h_out);
            if let Some(f) = &layer.act {
                if let Some(t) = tape.as_deref_mut() {
                    for (r, pre) in out.chunks_exact(layer.h_out).enumerate() {
                        t[r * tl + tape_at..][..layer.h_out].copy_from_slice(pre);
                    }
                }
                out.iter_mut().for_each(|v| *v = f.value(*v));
                tape_at += layer.h_out;
            }
            cur = Some(next);
        }
        Ok(())
    }

    /// y = net(x) and its forward-mode derivative dy = (∂y/∂x)·dx, row by
    /// row (dx and dy have the shapes of x and y). Tabulating a network of
    /// one variable needs this: the derivative of every output at once.
    pub fn forward_tangent(&self, rows: usize, x: &[T], dx: &[T], y: &mut [T], dy: &mut [T]) -> Result<()> {
        let (h0, hn) = (self.hs[0], self.hs[self.layers.len()]);
        check(rows, &[(x.len(), h0, "x"), (dx.len(), h0, "dx"), (y.len(), hn, "y"), (dy.len(), hn, "dy")])?;
        let (mut cur, mut tan) = (x.to_vec(), dx.to_vec());
        for layer in &self.layers {
            let mut next = vec![T::zero(); rows * layer.h_out];
            let mut next_tan = vec![T::zero(); rows * layer.h_out];
            layer.forward.run(rows, &cur, layer.h_in, &mut next, layer.h_out);
            layer.forward.run(rows, &tan, layer.h_in, &mut next_tan, layer.h_out);
            if let Some(f) = &layer.act {
                next.iter_mut().zip(&mut next_tan).for_each(|(v, t)| {
                    *t *= f.derivative(*v);
                    *v = f.value(*v);
                });
            }
            (cur, tan) = (next, next_tan);
        }
        y.copy_from_slice(&cur);
        dy.copy_from_slice(&tan);
        Ok(())
    }

    /// grad_x = grad_y · ∂y/∂x, from the tape of the forward at x.
    pub fn backward(&self, rows: usize, tape: &[T], grad_y: &[T], grad_x: &mut [T]) -> Result<()> {
        let (h0, hn, tl) = (self.hs[0], self.hs[self.layers.len()], self.tape_len());
        check(rows, &[(tape.len(), tl, "tape"), (grad_y.len(), hn, "grad_y"), (grad_x.len(), h0, "grad_x")])?;
        let tasks = grad_x.par_chunks_mut(ROWS_PER_TASK * h0).zip(grad_y.par_chunks(ROWS_PER_TASK * hn));
        if tl > 0 {
            let tapes = tape.par_chunks(ROWS_PER_TASK * tl);
            tasks.zip(tapes).try_for_each(|((gx, gy), tape)| self.backward_rows(tape, gy, gx))
        } else {
            tasks.try_for_each(|(gx, gy)| self.backward_rows(&[], gy, gx))
        }
    }

    fn backward_rows(&self, tape: &[T], grad_y: &[T], grad_x: &mut [T]) -> Result<()> {
        let (n, tl) = (grad_x.len() / self.hs[0], self.tape_len());
        let mut g = Buf::from_slice(grad_y)?;
        let mut tape_at = tl;
        for (k, layer) in self.layers.iter().enumerate().rev() {
            if let Some(f) = &layer.act {
                tape_at -= layer.h_out;
                for (r, g) in g.chunks_exact_mut(layer.h_out).enumerate() {
                    let pre = &tape[r * tl + tape_at..][..layer.h_out];
                    g.iter_mut().zip(pre).for_each(|(g, &p)| *g *= f.derivative(p));
                }
            }
            if k == 0 {
                layer.backward.run(n, &g, layer.h_out, grad_x, layer.h_in);
            } else {
                let mut prev = Buf::filled(n * layer.h_in, T::zero())?;
                layer.backward.run(n, &g, layer.h_out, &mut prev, layer.h_in);
                g = prev;
            }
        }
        Ok(())
    }
}

/// Each (length, width, name) must be rows × width.
fn check(rows: usize, arrays: &[(usize, usize, &str)]) -> Result<()> {
    for &(len, width, name) in arrays {
        if len != rows * width {
            return Err(Error::LengthMismatch(format!(
                "fully connected net: {name} has {len} elements, {rows} rows of {width} need {}",
                rows * width
            )));
        }
    }
    Ok(())
}
