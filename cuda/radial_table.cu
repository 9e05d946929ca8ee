// Radial weights from a cubic Hermite table (src/nn/spline.rs HermiteTable):
// SevenNet's radial network r -> w(r) in R^EQP_TABLE_WIDTH tabulated at load
// time. Reference kernels, one thread per item:
//   eqp_table_forward   per (edge, column): w and, optionally, dw/dr
//   eqp_table_grad_r    per edge: dE/dr = sum_k dE/dw_k w_k'(r), which feeds eqp_edge_backward
// The domain is cut into EQP_TABLE_PIECES pieces with their own uniform knots;
// interval k of a piece holds (a, b, c, d), EQP_TABLE_WIDTH values each, and
// w = a + s(b + s(c + s d)), s = (r - r_k)/h. An edge outside the domain
// (shorter than the table's start, or past the cutoff) gets outside[e] = 1 and
// zeros: the caller evaluates the exact network for it, as the CPU does.
// Positions along r are double whatever the precision, as on the CPU.
#include "host_compat.cuh"
#include "radial_table.cuh"

// w: n_edges x EQP_TABLE_WIDTH; dw may be null.
extern "C" __global__ void eqp_table_forward(int64_t n_edges, const real *__restrict__ r, const double *__restrict__ pieces,
                                             const int *__restrict__ first, const real *__restrict__ cubics,
                                             real *__restrict__ w, real *__restrict__ dw, int *__restrict__ outside) {
    const int64_t t = global_thread_index();
    if (t >= n_edges * EQP_TABLE_WIDTH) return;
    const int64_t e = t / EQP_TABLE_WIDTH;
    const int k = (int)(t % EQP_TABLE_WIDTH);
    TableInterval iv;
    if (!table_interval(pieces, first, (double)r[e], &iv)) {
        w[t] = 0;
        if (dw) dw[t] = 0;
        if (k == 0) outside[e] = 1;
        return;
    }
    if (k == 0) outside[e] = 0;
    w[t] = table_value(cubics, iv, k);
    if (dw) dw[t] = table_derivative(cubics, iv, k);
}

// grad_r[e] = sum_k grad_w[e, k] w_k'(r_e); 0 outside the domain (the exact
// network's share is the caller's).
extern "C" __global__ void eqp_table_grad_r(int64_t n_edges, const real *__restrict__ r, const double *__restrict__ pieces,
                                            const int *__restrict__ first, const real *__restrict__ cubics,
                                            const real *__restrict__ grad_w, real *__restrict__ grad_r) {
    const int64_t e = global_thread_index();
    if (e >= n_edges) return;
    TableInterval iv;
    if (!table_interval(pieces, first, (double)r[e], &iv)) {
        grad_r[e] = 0;
        return;
    }
    const real s = (real)iv.s, s2 = s + s, s3 = (real)3 * s * s;
    const real *c = cubics + iv.at;
    const real *g = grad_w + e * EQP_TABLE_WIDTH;
    real sum = 0;
    for (int k = 0; k < EQP_TABLE_WIDTH; ++k)
        sum += g[k] * (c[EQP_TABLE_WIDTH + k] + s2 * c[2 * EQP_TABLE_WIDTH + k] + s3 * c[3 * EQP_TABLE_WIDTH + k]);
    grad_r[e] = sum * (real)iv.inv_h;
}
