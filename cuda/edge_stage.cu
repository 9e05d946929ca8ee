// The edge stage every learned model shares, one thread per edge (reference
// kernels: they also run as host C++ through host_compat.cuh):
//   forward:  r = |v|, Y(v) (EQP_LMAX, e3nn 'component'), embedding B(r) f(r);
//   backward: dE/dv from dE/dY, dE/d(embedding) and an extra dE/dr (a radial
//             table's), chained through r = |v| and the SH normalization.
// Edges with r >= r_c are masked: Y = 0 and embedding = 0, so no message,
// whatever the radial network makes of them, and dE/dv = 0.
#include "host_compat.cuh"
#include "radial.cuh"
#include "spherical_harmonics.cuh"

#ifndef EQP_SH_NORMALIZE
#define EQP_SH_NORMALIZE 1  // every model but SevenNet-0 22May2024
#endif

extern "C" __global__ void eqp_edge_forward(int64_t n_edges, const real *__restrict__ vectors, RadialParams rp,
                                            const real *__restrict__ coeffs, real *__restrict__ r_out,
                                            real *__restrict__ sh_out, real *__restrict__ embedding_out) {
    const int64_t e = global_thread_index();
    if (e >= n_edges) return;
    const real v[3] = {vectors[3 * e], vectors[3 * e + 1], vectors[3 * e + 2]};
    const real r = sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
    r_out[e] = r;
    real *sh = sh_out + e * EQP_SH_DIM;
    real *embedding = embedding_out + e * EQP_NUM_BASIS;
    if (!(r < rp.cutoff)) {
        for (int i = 0; i < EQP_SH_DIM; ++i) sh[i] = 0;
        for (int k = 0; k < EQP_NUM_BASIS; ++k) embedding[k] = 0;
        return;
    }
    const ShPoint pt = sh_point<EQP_SH_NORMALIZE>(v);
    real y[EQP_SH_DIM];
    sh_forward(pt.p, y);
    for (int i = 0; i < EQP_SH_DIM; ++i) sh[i] = y[i];
    real f, df, basis[EQP_NUM_BASIS];
    envelope(rp, r, &f, &df);
    bessel(rp, coeffs, r, basis);
    for (int k = 0; k < EQP_NUM_BASIS; ++k) embedding[k] = basis[k] * f;
}

// grad_embedding and grad_r may be null (absent terms).
extern "C" __global__ void eqp_edge_backward(int64_t n_edges, const real *__restrict__ vectors, RadialParams rp,
                                             const real *__restrict__ coeffs, const real *__restrict__ grad_sh,
                                             const real *__restrict__ grad_embedding, const real *__restrict__ grad_r,
                                             real *__restrict__ grad_vectors) {
    const int64_t e = global_thread_index();
    if (e >= n_edges) return;
    real *out = grad_vectors + 3 * e;
    const real v[3] = {vectors[3 * e], vectors[3 * e + 1], vectors[3 * e + 2]};
    const real r = sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
    if (!(r < rp.cutoff)) {
        out[0] = 0, out[1] = 0, out[2] = 0;
        return;
    }
    const ShPoint pt = sh_point<EQP_SH_NORMALIZE>(v);
    real gp[3], g[3];
    sh_backward_point(pt.p, grad_sh + e * EQP_SH_DIM, gp);
    sh_chain<EQP_SH_NORMALIZE>(pt, gp, g);
    // dE/dr: through the embedding B_k f, plus any direct term.
    real dr = grad_r ? grad_r[e] : (real)0;
    if (grad_embedding) {
        const real *ge = grad_embedding + e * EQP_NUM_BASIS;
        real f, df, basis[EQP_NUM_BASIS], g_f[EQP_NUM_BASIS];
        envelope(rp, r, &f, &df);
        bessel(rp, coeffs, r, basis);
        real through_f = 0;
        for (int k = 0; k < EQP_NUM_BASIS; ++k) {
            g_f[k] = ge[k] * f;
            through_f += ge[k] * basis[k];
        }
        dr += bessel_vjp(rp, coeffs, r, g_f) + through_f * df;
    }
    const real inv_r = (real)1 / r;
    for (int k = 0; k < 3; ++k) out[k] = g[k] + dr * v[k] * inv_r;
}
