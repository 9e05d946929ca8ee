// The uvu convolution's path table, shared by its kernels: the same function
// as src/nn/tensor_product_conv.rs (e3nn's TensorProduct, 'uvu', one copy of
// each edge irrep, per-edge weights, scatter-summed onto receivers).
//
//   out[i][o-block, u, m3] = scale sum_{e: receiver(e) = i} sum_{paths p into o}
//        w[e][w_p + u] sum_{(m1, m2, m3) in p} c_p(m1, m2, m3) x[sender(e)][in1-block, u, m1] sh[e][in2-block, m2]
//
// Features are in e3nn's layout ([u][m] inside a block). c_p is the Wigner-3j
// symbol times the path normalization, its nonzeros listed per path.
//
// The table (int32), for compile-time counts EQP_CONV_*:
//   paths       EQP_CONV_PATHS x 6:      in1 block, in2 block, out block, weight offset (-1: none), first term, end term
//   in1 blocks  EQP_CONV_IN1_BLOCKS x 3: offset, mul, dim
//   out blocks  EQP_CONV_OUT_BLOCKS x 3: offset, mul, dim
//   in2 blocks  EQP_CONV_IN2_BLOCKS x 2: offset, dim
//   terms       n_terms x 3:             m1, m2, m3
// and the coefficients c (real), one per term.
#pragma once
#include "host_compat.cuh"

#if !defined(EQP_CONV_PATHS) || !defined(EQP_CONV_IN1_BLOCKS) || !defined(EQP_CONV_IN2_BLOCKS) || \
    !defined(EQP_CONV_OUT_BLOCKS) || !defined(EQP_CONV_D1) || !defined(EQP_CONV_D2) || !defined(EQP_CONV_D3) || \
    !defined(EQP_CONV_WEIGHTS) || !defined(EQP_CONV_IN1_CHANNELS) || !defined(EQP_CONV_OUT_CHANNELS) ||        \
    !defined(EQP_CONV_MAX_L)
#error "the convolution's sizes (EQP_CONV_*) must be defined"
#endif
#define EQP_CONV_MAX_DIM (2 * EQP_CONV_MAX_L + 1)

struct ConvPath {
    int in1, in2, out, w_offset, first, end;
};
struct ConvBlock {
    int offset, mul, dim;
};

#define EQP_CONV_IN1_AT (6 * EQP_CONV_PATHS)
#define EQP_CONV_OUT_AT (EQP_CONV_IN1_AT + 3 * EQP_CONV_IN1_BLOCKS)
#define EQP_CONV_IN2_AT (EQP_CONV_OUT_AT + 3 * EQP_CONV_OUT_BLOCKS)
#define EQP_CONV_TERMS_AT (EQP_CONV_IN2_AT + 2 * EQP_CONV_IN2_BLOCKS)

__device__ __forceinline__ ConvPath conv_path(const int *t, int p) {
    const int *q = t + 6 * p;
    return ConvPath{q[0], q[1], q[2], q[3], q[4], q[5]};
}
__device__ __forceinline__ ConvBlock conv_in1(const int *t, int b) {
    const int *q = t + EQP_CONV_IN1_AT + 3 * b;
    return ConvBlock{q[0], q[1], q[2]};
}
__device__ __forceinline__ ConvBlock conv_out(const int *t, int b) {
    const int *q = t + EQP_CONV_OUT_AT + 3 * b;
    return ConvBlock{q[0], q[1], q[2]};
}
__device__ __forceinline__ ConvBlock conv_in2(const int *t, int b) {
    const int *q = t + EQP_CONV_IN2_AT + 2 * b;
    return ConvBlock{q[0], 1, q[1]};
}
__device__ __forceinline__ const int *conv_term(const int *t, int k) { return t + EQP_CONV_TERMS_AT + 3 * k; }

// The block holding channel c of a feature whose blocks are listed by `block`
// (c counts channels, not components), and c's index u inside it.
template <typename BlockOf>
__device__ __forceinline__ int block_of_channel(int c, int n_blocks, BlockOf block, int *u) {
    for (int b = 0; b < n_blocks; ++b) {
        int mul = block(b).mul;
        if (c < mul) {
            *u = c;
            return b;
        }
        c -= mul;
    }
    *u = 0;
    return -1;
}
