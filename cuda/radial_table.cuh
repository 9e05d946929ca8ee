// A cubic Hermite table's lookup (src/nn/spline.rs HermiteTable layout), shared
// by radial_table.cu and the convolution that reads its weights from a table.
#pragma once
#include "host_compat.cuh"

#if !defined(EQP_TABLE_PIECES) || !defined(EQP_TABLE_WIDTH)
#error "EQP_TABLE_PIECES and EQP_TABLE_WIDTH must be defined"
#endif

// pieces: EQP_TABLE_PIECES x (start, end, 1/h); first: the first interval of
// each piece, then the total (EQP_TABLE_PIECES + 1 values).
struct TableInterval {
    int64_t at;  // offset of its (a, b, c, d) block in the coefficients
    double s, inv_h;
};

__device__ __forceinline__ bool table_interval(const double *pieces, const int *first, double r, TableInterval *out) {
    for (int p = 0; p < EQP_TABLE_PIECES; ++p) {
        const double start = pieces[3 * p], end = pieces[3 * p + 1], inv_h = pieces[3 * p + 2];
        if (!(r <= end)) continue;
        if (!(r >= start)) return false;
        const double t = (r - start) * inv_h;
        const int n = first[p + 1] - first[p];
        int k = (int)t;
        k = k < n - 1 ? k : n - 1;
        out->at = (int64_t)(first[p] + k) * 4 * EQP_TABLE_WIDTH;
        out->s = t - (double)k;
        out->inv_h = inv_h;
        return true;
    }
    return false;  // past the end, or NaN
}

// Column k of the table at the interval found: value, and derivative in r.
__device__ __forceinline__ real table_value(const real *cubics, const TableInterval &iv, int k) {
    const real *c = cubics + iv.at + k;
    const real s = (real)iv.s;
    return s * (s * (s * c[3 * EQP_TABLE_WIDTH] + c[2 * EQP_TABLE_WIDTH]) + c[EQP_TABLE_WIDTH]) + c[0];
}
__device__ __forceinline__ real table_derivative(const real *cubics, const TableInterval &iv, int k) {
    const real *c = cubics + iv.at + k;
    const real s = (real)iv.s, cc = c[2 * EQP_TABLE_WIDTH];
    return (s * ((real)3 * s * c[3 * EQP_TABLE_WIDTH] + (cc + cc)) + c[EQP_TABLE_WIDTH]) * (real)iv.inv_h;
}
