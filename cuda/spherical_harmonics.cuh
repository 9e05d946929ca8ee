// e3nn 0.6's real spherical harmonics ('component' normalization, optional
// input normalization) and their vector-Jacobian product, per edge: the same
// recurrences, constants and order of operations as src/so3/sh_kernel.rs.
//
// e3nn's (x, y, z) are the textbook (Y, Z, X), y being the polar axis. With
// C_m + i S_m = (X + iY)^m and Q_l^m the homogenized d^m P_l/dz^m:
//   Y_{l,+m} = N_lm Q_l^m C_m,  Y_{l,-m} = N_lm Q_l^m S_m,  at index l^2 + l +- m.
// Degrees are compile-time (EQP_LMAX), so every loop below unrolls.
#pragma once
#include "host_compat.cuh"

#ifndef EQP_LMAX
#error "EQP_LMAX (highest spherical-harmonic degree) must be defined"
#endif
#define EQP_SH_DIM ((EQP_LMAX + 1) * (EQP_LMAX + 1))

// e3nn clamps |v| below by torch.nn.functional.normalize's epsilon.
#define EQP_NORMALIZE_EPS 1e-12

// N_lm = sqrt((2 - d_m0)(2l + 1)(l - m)!/(l + m)!), the ratio as a product in
// the CPU's order (so float64 values agree to the last bit).
__device__ __forceinline__ double sh_factor(int l, int m) {
    double ratio = 1.0;
    for (int k = l - m + 1; k <= l + m; ++k) ratio *= 1.0 / (double)k;
    double two = m == 0 ? 1.0 : 2.0;
    return sqrt(two * (double)(2 * l + 1) * ratio);
}

__device__ __forceinline__ double sh_diagonal(int m) {  // Q_m^m = (2m - 1)!!
    double d = 1.0;
    for (int k = 1; k <= m; ++k) d *= (double)(2 * k - 1);
    return d;
}

// The point the polynomials are evaluated at, and what the backward needs.
struct ShPoint {
    real p[3];
    real inverse;  // 1 / max(|v|, eps)
    bool clamped;  // |v| <= eps
};

template <bool NORMALIZE>
__device__ __forceinline__ ShPoint sh_point(const real v[3]) {
    ShPoint pt;
    if (!NORMALIZE) {
        pt.p[0] = v[0], pt.p[1] = v[1], pt.p[2] = v[2];
        pt.inverse = 0, pt.clamped = false;
        return pt;
    }
    const real eps = (real)EQP_NORMALIZE_EPS;
    real r = sqrt(v[0] * v[0] + v[1] * v[1] + v[2] * v[2]);
    pt.inverse = (real)1 / (r > eps ? r : eps);
    pt.clamped = !(r > eps);
    for (int c = 0; c < 3; ++c) pt.p[c] = v[c] * pt.inverse;
    return pt;
}

// Y(p) into y[0..EQP_SH_DIM).
__device__ __forceinline__ void sh_forward(const real p[3], real *y) {
    const real x = p[2], yy = p[0], z = p[1];  // textbook X, Y, Z
    const real r2 = x * x + yy * yy + z * z;
    real c = 1, s = 0;
#pragma unroll
    for (int m = 0; m <= EQP_LMAX; ++m) {
        if (m > 0) {
            real c_next = x * c - yy * s, s_next = x * s + yy * c;
            c = c_next, s = s_next;
        }
        real q = (real)sh_diagonal(m), before = 0;
#pragma unroll
        for (int l = m; l <= EQP_LMAX; ++l) {
            if (l > m) {
                real a = (real)((double)(2 * l - 1) / (double)(l - m));
                real b = (real)((double)(l + m - 1) / (double)(l - m));
                real q_next = z * q * a - r2 * before * b;
                before = q, q = q_next;
            }
            real nq = q * (real)sh_factor(l, m);
            y[l * l + l + m] = nq * c;
            if (m > 0) y[l * l + l - m] = nq * s;
        }
    }
}

// sum_i g_i dY_i/dp, for the cotangent g[0..EQP_SH_DIM).
__device__ __forceinline__ void sh_backward_point(const real p[3], const real *g, real out[3]) {
    const real x = p[2], yy = p[0], z = p[1];
    const real r2 = x * x + yy * yy + z * z;
    real radial = 0, gx = 0, gy = 0, gz = 0;
    real c = 1, s = 0, c_prev = 0, s_prev = 0;
#pragma unroll
    for (int m = 0; m <= EQP_LMAX; ++m) {
        if (m > 0) {
            c_prev = c, s_prev = s;
            real c_next = x * c - yy * s, s_next = x * s + yy * c;
            c = c_next, s = s_next;
        }
        real q = (real)sh_diagonal(m), before = 0;
#pragma unroll
        for (int l = m; l <= EQP_LMAX; ++l) {
            if (l > m) {
                real a = (real)((double)(2 * l - 1) / (double)(l - m));
                real b = (real)((double)(l + m - 1) / (double)(l - m));
                real q_next = z * q * a - r2 * before * b;
                before = q, q = q_next;
            }
            if (l > 0) {
                // dQ_l^m/dZ = (l + m) Q_{l-1}^m; C_m, S_m carry the X, Y dependence.
                real n = (real)sh_factor(l, m);
                real gc = g[l * l + l + m] * n;
                real gs = m > 0 ? g[l * l + l - m] * n : (real)0;
                real w = m > 0 ? gc * c + gs * s : gc * c;
                gz += w * before * (real)(l + m);
                if (m > 0) {
                    real qm = q * (real)m;
                    gx += qm * (gc * c_prev + gs * s_prev);
                    gy += qm * (gs * c_prev - gc * s_prev);
                }
            }
            if (m > 0 && l < EQP_LMAX) {
                // Q_l^m is the X, Y derivative factor of Q_{l+1}^{m-1}.
                int l1 = l + 1, m1 = m - 1;
                real n = (real)sh_factor(l1, m1);
                real gc = g[l1 * l1 + l1 + m1] * n;
                real w = m1 > 0 ? gc * c_prev + g[l1 * l1 + l1 - m1] * n * s_prev : gc * c_prev;
                radial += w * q;
            }
        }
    }
    gx -= x * radial;
    gy -= yy * radial;
    out[0] = gy, out[1] = gz, out[2] = gx;  // back to e3nn's axes
}

// dL/dv through p = v / max(|v|, eps): the radial part projected out.
template <bool NORMALIZE>
__device__ __forceinline__ void sh_chain(const ShPoint &pt, const real gp[3], real out[3]) {
    if (!NORMALIZE) {
        out[0] = gp[0], out[1] = gp[1], out[2] = gp[2];
        return;
    }
    real d = gp[0] * pt.p[0] + gp[1] * pt.p[1] + gp[2] * pt.p[2];
    real radial = pt.clamped ? (real)0 : d;
    for (int k = 0; k < 3; ++k) out[k] = (gp[k] - pt.p[k] * radial) * pt.inverse;
}
