// The fast convolution's forward pass, shared by its kernels (GPU only):
// tensor_product_conv_fast.cu (weights from a buffer) and
// tensor_product_conv_table.cu (weights from a radial table).
#pragma once
#include "host_compat.cuh"
#include "tensor_product_conv.cuh"

#if defined(EQP_DEVICE_ONLY)

#ifndef EQP_CONV_BLOCK
#define EQP_CONV_BLOCK 128
#endif
#define EQP_WARP 32
#define EQP_CONV_WARPS (EQP_CONV_BLOCK / EQP_WARP)
#define EQP_CONV_OUT_PER_THREAD ((EQP_CONV_OUT_CHANNELS + EQP_CONV_BLOCK - 1) / EQP_CONV_BLOCK)
#define EQP_CONV_IN_PER_THREAD ((EQP_CONV_IN1_CHANNELS + EQP_CONV_BLOCK - 1) / EQP_CONV_BLOCK)

// A channel a thread owns: its block, index u, and the range of paths to scan
// (paths are sorted by output block in sevenn's order; the filter inside the
// loops keeps any order correct).
struct OwnedChannel {
    int block, u, first_path, end_path;
};

// The channel c of a feature whose blocks `block` lists, with the paths to scan.
template <typename BlockOf, typename PathBlock>
__device__ __forceinline__ OwnedChannel own_channel(const int *table, int c, int n_channels, int n_blocks,
                                                    BlockOf block, PathBlock path_block) {
    OwnedChannel oc;
    oc.block = c < n_channels ? block_of_channel(c, n_blocks, block, &oc.u) : -1;
    oc.first_path = EQP_CONV_PATHS, oc.end_path = 0;
    for (int p = 0; p < EQP_CONV_PATHS; ++p)
        if (path_block(conv_path(table, p)) == oc.block) {
            oc.first_path = oc.first_path < p ? oc.first_path : p;
            oc.end_path = p + 1;
        }
    return oc;
}

// The forward pass of the block for receiver blockIdx.x. Threads take their
// channels one round at a time (few registers: one channel's components),
// each round over all of the node's edges. `weights.prepare(e)` runs on
// thread 0 once per edge into shared memory; `weights.get(state, k)` is weight k.
template <typename Weights>
__device__ __forceinline__ void conv_forward_fast_body(int n_nodes, const int *__restrict__ table,
                                                       const real *__restrict__ coef,
                                                       const int *__restrict__ recv_offsets,
                                                       const int *__restrict__ recv_edges,
                                                       const int *__restrict__ senders, const real *__restrict__ x,
                                                       const real *__restrict__ sh, const Weights &weights, real scale,
                                                       real *__restrict__ out) {
    __shared__ typename Weights::Shared edge_state;
    __shared__ real sh_edge[EQP_CONV_D2];
    __shared__ int sender;
    const int i = blockIdx.x;
    if (i >= n_nodes) return;
    for (int round = 0; round < EQP_CONV_OUT_PER_THREAD; ++round) {
        const OwnedChannel oc = own_channel(
            table, threadIdx.x + round * EQP_CONV_BLOCK, EQP_CONV_OUT_CHANNELS, EQP_CONV_OUT_BLOCKS,
            [&](int b) { return conv_out(table, b); }, [](const ConvPath &p) { return p.out; });
        real acc[EQP_CONV_MAX_DIM];
#pragma unroll
        for (int d = 0; d < EQP_CONV_MAX_DIM; ++d) acc[d] = 0;
        for (int k = recv_offsets[i]; k < recv_offsets[i + 1]; ++k) {
            const int e = recv_edges[k];
            __syncthreads();  // everyone is done with the previous edge's sh_edge
            if (threadIdx.x < EQP_CONV_D2) sh_edge[threadIdx.x] = sh[(int64_t)e * EQP_CONV_D2 + threadIdx.x];
            if (threadIdx.x == 0) {
                sender = senders[e];
                edge_state = weights.prepare(e);
            }
            __syncthreads();
            const real *xj = x + (int64_t)sender * EQP_CONV_D1;
            for (int p = oc.first_path; p < oc.end_path; ++p) {
                const ConvPath path = conv_path(table, p);
                if (path.out != oc.block) continue;
                const ConvBlock b1 = conv_in1(table, path.in1), b2 = conv_in2(table, path.in2);
                const real wu = path.w_offset >= 0 ? weights.get(edge_state, path.w_offset + oc.u) : (real)1;
                const real *xu = xj + b1.offset + oc.u * b1.dim;
                for (int q = path.first; q < path.end; ++q) {
                    const int *m = conv_term(table, q);
                    const real v = coef[q] * wu * xu[m[0]] * sh_edge[b2.offset + m[1]];
#pragma unroll
                    for (int d = 0; d < EQP_CONV_MAX_DIM; ++d)  // keeps acc in registers: no dynamic index
                        if (d == m[2]) acc[d] += v;
                }
            }
        }
        if (oc.block >= 0) {
            const ConvBlock ob = conv_out(table, oc.block);
            real *oi = out + (int64_t)i * EQP_CONV_D3 + ob.offset + oc.u * ob.dim;
#pragma unroll
            for (int d = 0; d < EQP_CONV_MAX_DIM; ++d)
                if (d < ob.dim) oi[d] = scale * acc[d];
        }
    }
}

// Weights as rows of a buffer (n_edges x EQP_CONV_WEIGHTS).
struct RowWeights {
    struct Shared {
        int64_t at;
    };
    const real *w;
    __device__ __forceinline__ Shared prepare(int e) const { return Shared{(int64_t)e * EQP_CONV_WEIGHTS}; }
    __device__ __forceinline__ real get(const Shared &s, int k) const { return w[s.at + k]; }
};

#endif  // EQP_DEVICE_ONLY
