// The uvu convolution, reference kernels: one thread per output item, no
// atomics, no shared memory (they also run as host C++). Table layout and the
// function computed: tensor_product_conv.cuh.
//   forward      thread per (receiver i, output channel): sums i's edges (receiver CSR);
//   backward_x   thread per (sender j, input channel): sums j's edges (sender CSR), owns grad_x[j];
//   backward_sh  thread per (edge, edge-attribute component);
//   backward_w   thread per (edge, weight).
// Every gradient is overwritten, none accumulated, so no pass needs zeroing.
#include "host_compat.cuh"
#include "tensor_product_conv.cuh"

extern "C" __global__ void eqp_conv_forward(int n_nodes, const int *__restrict__ table, const real *__restrict__ coef,
                                            const int *__restrict__ recv_offsets, const int *__restrict__ recv_edges,
                                            const int *__restrict__ senders, const real *__restrict__ x,
                                            const real *__restrict__ sh, const real *__restrict__ w, real scale,
                                            real *__restrict__ out) {
    const int64_t t = global_thread_index();
    if (t >= (int64_t)n_nodes * EQP_CONV_OUT_CHANNELS) return;
    const int i = (int)(t / EQP_CONV_OUT_CHANNELS);
    int u;
    const int o = block_of_channel((int)(t % EQP_CONV_OUT_CHANNELS), EQP_CONV_OUT_BLOCKS,
                                   [&](int b) { return conv_out(table, b); }, &u);
    const ConvBlock ob = conv_out(table, o);
    real acc[EQP_CONV_MAX_DIM];
    for (int m = 0; m < ob.dim; ++m) acc[m] = 0;
    for (int k = recv_offsets[i]; k < recv_offsets[i + 1]; ++k) {
        const int e = recv_edges[k];
        const real *xj = x + (int64_t)senders[e] * EQP_CONV_D1;
        const real *she = sh + (int64_t)e * EQP_CONV_D2;
        for (int p = 0; p < EQP_CONV_PATHS; ++p) {
            const ConvPath path = conv_path(table, p);
            if (path.out != o) continue;
            const ConvBlock b1 = conv_in1(table, path.in1), b2 = conv_in2(table, path.in2);
            const real wu = path.w_offset >= 0 ? w[(int64_t)e * EQP_CONV_WEIGHTS + path.w_offset + u] : (real)1;
            for (int q = path.first; q < path.end; ++q) {
                const int *m = conv_term(table, q);
                acc[m[2]] += coef[q] * wu * xj[b1.offset + u * b1.dim + m[0]] * she[b2.offset + m[1]];
            }
        }
    }
    real *oi = out + (int64_t)i * EQP_CONV_D3 + ob.offset + u * ob.dim;
    for (int m = 0; m < ob.dim; ++m) oi[m] = scale * acc[m];
}

extern "C" __global__ void eqp_conv_backward_x(int n_nodes, const int *__restrict__ table, const real *__restrict__ coef,
                                               const int *__restrict__ send_offsets,
                                               const int *__restrict__ send_edges, const int *__restrict__ receivers,
                                               const real *__restrict__ sh, const real *__restrict__ w, real scale,
                                               const real *__restrict__ grad_out, real *__restrict__ grad_x) {
    const int64_t t = global_thread_index();
    if (t >= (int64_t)n_nodes * EQP_CONV_IN1_CHANNELS) return;
    const int j = (int)(t / EQP_CONV_IN1_CHANNELS);
    int u;
    const int b = block_of_channel((int)(t % EQP_CONV_IN1_CHANNELS), EQP_CONV_IN1_BLOCKS,
                                   [&](int k) { return conv_in1(table, k); }, &u);
    const ConvBlock b1 = conv_in1(table, b);
    real acc[EQP_CONV_MAX_DIM];
    for (int m = 0; m < b1.dim; ++m) acc[m] = 0;
    for (int k = send_offsets[j]; k < send_offsets[j + 1]; ++k) {
        const int e = send_edges[k];
        const real *gi = grad_out + (int64_t)receivers[e] * EQP_CONV_D3;
        const real *she = sh + (int64_t)e * EQP_CONV_D2;
        for (int p = 0; p < EQP_CONV_PATHS; ++p) {
            const ConvPath path = conv_path(table, p);
            if (path.in1 != b) continue;
            const ConvBlock ob = conv_out(table, path.out), b2 = conv_in2(table, path.in2);
            const real wu = path.w_offset >= 0 ? w[(int64_t)e * EQP_CONV_WEIGHTS + path.w_offset + u] : (real)1;
            for (int q = path.first; q < path.end; ++q) {
                const int *m = conv_term(table, q);
                acc[m[0]] += coef[q] * wu * she[b2.offset + m[1]] * gi[ob.offset + u * ob.dim + m[2]];
            }
        }
    }
    real *gx = grad_x + (int64_t)j * EQP_CONV_D1 + b1.offset + u * b1.dim;
    for (int m = 0; m < b1.dim; ++m) gx[m] = scale * acc[m];
}

extern "C" __global__ void eqp_conv_backward_sh(int n_edges, const int *__restrict__ table,
                                                const real *__restrict__ coef, const int *__restrict__ senders,
                                                const int *__restrict__ receivers, const real *__restrict__ x,
                                                const real *__restrict__ w, real scale,
                                                const real *__restrict__ grad_out, real *__restrict__ grad_sh) {
    const int64_t t = global_thread_index();
    if (t >= (int64_t)n_edges * EQP_CONV_D2) return;
    const int e = (int)(t / EQP_CONV_D2), k = (int)(t % EQP_CONV_D2);
    const real *xj = x + (int64_t)senders[e] * EQP_CONV_D1;
    const real *gi = grad_out + (int64_t)receivers[e] * EQP_CONV_D3;
    real acc = 0;
    for (int p = 0; p < EQP_CONV_PATHS; ++p) {
        const ConvPath path = conv_path(table, p);
        const ConvBlock b1 = conv_in1(table, path.in1), b2 = conv_in2(table, path.in2), ob = conv_out(table, path.out);
        if (k < b2.offset || k >= b2.offset + b2.dim) continue;
        for (int q = path.first; q < path.end; ++q) {
            const int *m = conv_term(table, q);
            if (b2.offset + m[1] != k) continue;
            for (int u = 0; u < b1.mul; ++u) {
                const real wu = path.w_offset >= 0 ? w[(int64_t)e * EQP_CONV_WEIGHTS + path.w_offset + u] : (real)1;
                acc += coef[q] * wu * xj[b1.offset + u * b1.dim + m[0]] * gi[ob.offset + u * ob.dim + m[2]];
            }
        }
    }
    grad_sh[t] = scale * acc;
}

extern "C" __global__ void eqp_conv_backward_w(int n_edges, const int *__restrict__ table, const real *__restrict__ coef,
                                               const int *__restrict__ senders, const int *__restrict__ receivers,
                                               const real *__restrict__ x, const real *__restrict__ sh, real scale,
                                               const real *__restrict__ grad_out, real *__restrict__ grad_w) {
    const int64_t t = global_thread_index();
    if (t >= (int64_t)n_edges * EQP_CONV_WEIGHTS) return;
    const int e = (int)(t / EQP_CONV_WEIGHTS), k = (int)(t % EQP_CONV_WEIGHTS);
    const real *xj = x + (int64_t)senders[e] * EQP_CONV_D1;
    const real *gi = grad_out + (int64_t)receivers[e] * EQP_CONV_D3;
    const real *she = sh + (int64_t)e * EQP_CONV_D2;
    real acc = 0;
    for (int p = 0; p < EQP_CONV_PATHS; ++p) {
        const ConvPath path = conv_path(table, p);
        const ConvBlock b1 = conv_in1(table, path.in1), b2 = conv_in2(table, path.in2), ob = conv_out(table, path.out);
        if (path.w_offset < 0 || k < path.w_offset || k >= path.w_offset + b1.mul) continue;
        const int u = k - path.w_offset;
        for (int q = path.first; q < path.end; ++q) {
            const int *m = conv_term(table, q);
            acc += coef[q] * xj[b1.offset + u * b1.dim + m[0]] * she[b2.offset + m[1]] * gi[ob.offset + u * ob.dim + m[2]];
        }
    }
    grad_w[t] = scale * acc;
}
