// e3nn's o3.Linear on rows of features (src/nn/linear.rs): per path (input
// block i -> output block o of the same irrep),
//   y[row][o, w, m] += alpha_p sum_u W_p[u, w] x[row][i, u, m],   + bias[o, w] on biased 0e blocks,
// W_p row-major mul_in x mul_out, the paths' blocks concatenated in e3nn's
// order. Reference kernels, one thread per output item:
//   eqp_linear_forward   per (row, output component)
//   eqp_linear_backward  per (row, input component): grad_x = grad_y . dy/dx
// Table (int32): paths EQP_LIN_PATHS x 3 (in block, out block, weight
// offset), in blocks EQP_LIN_IN_BLOCKS x 3 (offset, mul, dim), out blocks
// EQP_LIN_OUT_BLOCKS x 4 (offset, mul, dim, bias offset or -1); alpha per path (real).
#include "host_compat.cuh"

#if !defined(EQP_LIN_PATHS) || !defined(EQP_LIN_IN_BLOCKS) || !defined(EQP_LIN_OUT_BLOCKS) || \
    !defined(EQP_LIN_DIN) || !defined(EQP_LIN_DOUT)
#error "the linear layer's sizes (EQP_LIN_*) must be defined"
#endif
#define EQP_LIN_IN_AT (3 * EQP_LIN_PATHS)
#define EQP_LIN_OUT_AT (EQP_LIN_IN_AT + 3 * EQP_LIN_IN_BLOCKS)

// The block of a component c, and c's channel u and component m inside it.
__device__ __forceinline__ int linear_block(const int *blocks, int stride, int n_blocks, int c, int *u, int *m) {
    for (int b = 0; b < n_blocks; ++b) {
        const int *q = blocks + stride * b;
        if (c >= q[0] && c < q[0] + q[1] * q[2]) {
            *u = (c - q[0]) / q[2], *m = (c - q[0]) % q[2];
            return b;
        }
    }
    *u = 0, *m = 0;
    return -1;
}

extern "C" __global__ void eqp_linear_forward(int64_t rows, const int *__restrict__ table, const real *__restrict__ alpha,
                                              const real *__restrict__ weight, const real *__restrict__ bias,
                                              const real *__restrict__ x, real *__restrict__ y) {
    const int64_t t = global_thread_index();
    if (t >= rows * EQP_LIN_DOUT) return;
    const int64_t row = t / EQP_LIN_DOUT;
    int w, m;
    const int o = linear_block(table + EQP_LIN_OUT_AT, 4, EQP_LIN_OUT_BLOCKS, (int)(t % EQP_LIN_DOUT), &w, &m);
    if (o < 0) return;  // (no output block holds it: cannot happen for a valid table)
    const int *ob = table + EQP_LIN_OUT_AT + 4 * o;
    const real *xr = x + row * EQP_LIN_DIN;
    real sum = 0;
    for (int p = 0; p < EQP_LIN_PATHS; ++p) {
        const int *path = table + 3 * p;
        if (path[1] != o) continue;
        const int *ib = table + EQP_LIN_IN_AT + 3 * path[0];
        real acc = 0;
        for (int u = 0; u < ib[1]; ++u) acc += weight[path[2] + u * ob[1] + w] * xr[ib[0] + u * ib[2] + m];
        sum += alpha[p] * acc;
    }
    if (ob[3] >= 0) sum += bias[ob[3] + w];
    y[t] = sum;
}

extern "C" __global__ void eqp_linear_backward(int64_t rows, const int *__restrict__ table,
                                               const real *__restrict__ alpha, const real *__restrict__ weight,
                                               const real *__restrict__ grad_y, real *__restrict__ grad_x) {
    const int64_t t = global_thread_index();
    if (t >= rows * EQP_LIN_DIN) return;
    const int64_t row = t / EQP_LIN_DIN;
    int u, m;
    const int i = linear_block(table + EQP_LIN_IN_AT, 3, EQP_LIN_IN_BLOCKS, (int)(t % EQP_LIN_DIN), &u, &m);
    if (i < 0) return;
    const real *gr = grad_y + row * EQP_LIN_DOUT;
    real sum = 0;
    for (int p = 0; p < EQP_LIN_PATHS; ++p) {
        const int *path = table + 3 * p;
        if (path[0] != i) continue;
        const int *ob = table + EQP_LIN_OUT_AT + 4 * path[1];
        real acc = 0;
        for (int w = 0; w < ob[1]; ++w) acc += weight[path[2] + u * ob[1] + w] * gr[ob[0] + w * ob[2] + m];
        sum += alpha[p] * acc;
    }
    grad_x[t] = sum;
}
