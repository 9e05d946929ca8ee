// e3nn's nn.Gate (src/nn/gate.rs): activated scalars, and each gated irrep
// copy times its activated gate scalar. The input layout (blocks of scalars,
// gates and gated stably sorted by irrep) is resolved at load time into two
// flat maps, so the kernels need no irreps logic:
//   out map, per output component: input index, gate index (-1: a scalar), activation
//   in map, per input component:   kind, activation, a, b, c (below)
// Activations: 0 identity, 1 silu scaled by act_scale (e3nn's normalize2mom
// constant, from the model file). Reference kernels, one thread per item.
#include "host_compat.cuh"

#if !defined(EQP_GATE_DIN) || !defined(EQP_GATE_DOUT)
#error "EQP_GATE_DIN and EQP_GATE_DOUT must be defined"
#endif

#define EQP_GATE_SCALAR 0  // a = output index
#define EQP_GATE_GATE 1    // a = its copy's first output, b = its copy's first input, c = the copy's dim
#define EQP_GATE_GATED 2   // a = output index, b = its gate's input index
#define EQP_GATE_UNUSED 3

__device__ __forceinline__ real act_value(int act, real x, real scale) {
    if (act == 0) return x;
    return scale * (x / ((real)1 + exp(-x)));
}
__device__ __forceinline__ real act_derivative(int act, real x, real scale) {
    if (act == 0) return 1;
    const real s = (real)1 / ((real)1 + exp(-x));
    return scale * (s * ((real)1 + x * ((real)1 - s)));
}

extern "C" __global__ void eqp_gate_forward(int64_t rows, const int *__restrict__ out_map, real act_scale,
                                            const real *__restrict__ x, real *__restrict__ y) {
    const int64_t t = global_thread_index();
    if (t >= rows * EQP_GATE_DOUT) return;
    const int c = (int)(t % EQP_GATE_DOUT);
    const real *xr = x + t / EQP_GATE_DOUT * EQP_GATE_DIN;
    const int src = out_map[3 * c], gate = out_map[3 * c + 1], act = out_map[3 * c + 2];
    y[t] = gate < 0 ? act_value(act, xr[src], act_scale) : act_value(act, xr[gate], act_scale) * xr[src];
}

extern "C" __global__ void eqp_gate_backward(int64_t rows, const int *__restrict__ in_map, real act_scale,
                                             const real *__restrict__ x, const real *__restrict__ grad_y,
                                             real *__restrict__ grad_x) {
    const int64_t t = global_thread_index();
    if (t >= rows * EQP_GATE_DIN) return;
    const int k = (int)(t % EQP_GATE_DIN);
    const int64_t row = t / EQP_GATE_DIN;
    const real *xr = x + row * EQP_GATE_DIN, *gy = grad_y + row * EQP_GATE_DOUT;
    const int *q = in_map + 5 * k;
    const int kind = q[0], act = q[1];
    real g = 0;
    if (kind == EQP_GATE_SCALAR) {
        g = gy[q[2]] * act_derivative(act, xr[k], act_scale);
    } else if (kind == EQP_GATE_GATE) {
        real dot = 0;
        for (int m = 0; m < q[4]; ++m) dot += xr[q[3] + m] * gy[q[2] + m];
        g = act_derivative(act, xr[k], act_scale) * dot;
    } else if (kind == EQP_GATE_GATED) {
        g = act_value(act, xr[q[3]], act_scale) * gy[q[2]];
    }
    grad_x[t] = g;
}
