// The radial part of the edge stage: Bessel basis B_k(r) = prefactor sin(c_k r)/r
// and the envelopes f(r), as src/nn/radial.rs computes them, with the cutoff
// mask: an edge with r >= r_c gets f = 0 and f' = 0, so it contributes
// exactly nothing (the XPLOR switch grows past r_c and the polynomial one
// turns negative; sevenn and mace-torch drop such edges).
#pragma once
#include "host_compat.cuh"

#ifndef EQP_NUM_BASIS
#error "EQP_NUM_BASIS (Bessel functions per edge) must be defined"
#endif

#define EQP_ENVELOPE_XPLOR 1
#define EQP_ENVELOPE_POLYNOMIAL 2
#ifndef EQP_ENVELOPE
#error "EQP_ENVELOPE must be EQP_ENVELOPE_XPLOR or EQP_ENVELOPE_POLYNOMIAL"
#endif
#if EQP_ENVELOPE == EQP_ENVELOPE_POLYNOMIAL && !defined(EQP_POLY_P)
#error "the polynomial envelope needs its exponent EQP_POLY_P"
#endif

// What the radial functions need besides r; trained values come from the
// model file at run time (sevenn trains the Bessel frequencies).
struct RadialParams {
    real cutoff;     // r_c
    real cutoff_on;  // XPLOR's r_on (unused by the polynomial envelope)
    real prefactor;  // 2/r_c (sevenn) or sqrt(2/r_c) (MACE)
};

__device__ __forceinline__ real int_power(real x, int n) {
    real y = 1;
    for (int k = 0; k < n; ++k) y *= x;
    return y;
}

// f(r) and f'(r), zero from r_c on.
__device__ __forceinline__ void envelope(const RadialParams &rp, real r, real *f, real *df) {
    if (!(r < rp.cutoff)) {
        *f = 0, *df = 0;
        return;
    }
#if EQP_ENVELOPE == EQP_ENVELOPE_XPLOR
    if (r < rp.cutoff_on) {
        *f = 1, *df = 0;
        return;
    }
    const real rc2 = rp.cutoff * rp.cutoff, ron2 = rp.cutoff_on * rp.cutoff_on;
    const real d = rc2 - ron2;
    const real inv_denominator = (real)1 / (d * d * d);
    const real r2 = r * r, a = rc2 - r2;
    *f = a * a * (rc2 + (real)2 * r2 - (real)3 * ron2) * inv_denominator;
    *df = (real)12 * r * (rc2 - r2) * (ron2 - r2) * inv_denominator;
#else
    const real p = (real)EQP_POLY_P, one = 1;
    const real c0 = (p + one) * (p + (real)2) / (real)2, c1 = p * (p + (real)2), c2 = p * (p + one) / (real)2;
    const real inv_cutoff = one / rp.cutoff;
    const real x = r * inv_cutoff;
    const real xp1 = int_power(x, EQP_POLY_P - 1), xp = xp1 * x;
    *f = one - c0 * xp + c1 * xp * x - c2 * xp * x * x;
    *df = (-c0 * p + c1 * (p + one) * x - c2 * (p + one + one) * x * x) * xp1 * inv_cutoff;
#endif
}

// B_k(r) into basis[0..EQP_NUM_BASIS).
__device__ __forceinline__ void bessel(const RadialParams &rp, const real *__restrict__ coeffs, real r, real *basis) {
    const real p = rp.prefactor / r;
#pragma unroll
    for (int k = 0; k < EQP_NUM_BASIS; ++k) basis[k] = p * sin(coeffs[k] * r);
}

// sum_k g_k B_k'(r), B_k' = prefactor (c_k r cos(c_k r) - sin(c_k r)) / r^2.
__device__ __forceinline__ real bessel_vjp(const RadialParams &rp, const real *__restrict__ coeffs, real r, const real *g) {
    const real p = rp.prefactor / (r * r);
    real sum = 0;
#pragma unroll
    for (int k = 0; k < EQP_NUM_BASIS; ++k) {
        const real cr = coeffs[k] * r;
        sum += g[k] * p * (cr * cos(cr) - sin(cr));
    }
    return sum;
}
