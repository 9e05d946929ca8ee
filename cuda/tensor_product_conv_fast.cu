// The uvu convolution, fast kernels (GPU only: shared memory, barriers and
// warp shuffles, so they cannot run in the host loop of host_compat.cuh).
// Same table, same function as tensor_product_conv.cu, whose reference
// kernels they are checked against on a GPU (docs/cuda.md).
//
//   eqp_conv_forward_fast   one block per receiver i; each thread owns output
//                           channels threadIdx.x + k*EQP_CONV_BLOCK and keeps their
//                           components in registers over all of i's edges. No atomics.
//   eqp_conv_backward_fast  one block per sender j; each thread owns input channels
//                           of x[j] (grad_x in registers), writes the weights'
//                           gradient of the paths of its channel (one owner per
//                           (edge, path, u)), and the block reduces grad_sh per edge in
//                           a fixed order (deterministic, no atomics). One pass, all
//                           three gradients, as on the CPU.
#include "host_compat.cuh"
#include "tensor_product_conv.cuh"
#include "tensor_product_conv_fast.cuh"

#if defined(EQP_DEVICE_ONLY)

// (No __launch_bounds__: with it ptxas capped these at 40 registers and spilled.)
extern "C" __global__ void eqp_conv_forward_fast(int n_nodes, const int *__restrict__ table,
                                                 const real *__restrict__ coef, const int *__restrict__ recv_offsets,
                                                 const int *__restrict__ recv_edges, const int *__restrict__ senders,
                                                 const real *__restrict__ x, const real *__restrict__ sh,
                                                 const real *__restrict__ w, real scale, real *__restrict__ out) {
    conv_forward_fast_body(n_nodes, table, coef, recv_offsets, recv_edges, senders, x, sh, RowWeights{w}, scale, out);
}

// (No __launch_bounds__: with it ptxas capped these at 40 registers and spilled.)
extern "C" __global__ void
    eqp_conv_backward_fast(int n_nodes, const int *__restrict__ table, const real *__restrict__ coef,
                           const int *__restrict__ send_offsets, const int *__restrict__ send_edges,
                           const int *__restrict__ receivers, const real *__restrict__ x, const real *__restrict__ sh,
                           const real *__restrict__ w, real scale, const real *__restrict__ grad_out,
                           real *__restrict__ grad_x, real *__restrict__ grad_sh, real *__restrict__ grad_w) {
    __shared__ real sh_edge[EQP_CONV_D2];
    __shared__ real partial[EQP_CONV_WARPS][EQP_CONV_D2];
    __shared__ int receiver;
    const int j = blockIdx.x;
    if (j >= n_nodes) return;
    const int lane = threadIdx.x % EQP_WARP, warp = threadIdx.x / EQP_WARP;
    const real *xj = x + (int64_t)j * EQP_CONV_D1;
    for (int round = 0; round < EQP_CONV_IN_PER_THREAD; ++round) {
        const OwnedChannel oc = own_channel(
            table, threadIdx.x + round * EQP_CONV_BLOCK, EQP_CONV_IN1_CHANNELS, EQP_CONV_IN1_BLOCKS,
            [&](int b) { return conv_in1(table, b); }, [](const ConvPath &p) { return p.in1; });
        const ConvBlock b1 = conv_in1(table, oc.block >= 0 ? oc.block : 0);
        const real *xu = xj + b1.offset + oc.u * b1.dim;
        real gx[EQP_CONV_MAX_DIM];
#pragma unroll
        for (int d = 0; d < EQP_CONV_MAX_DIM; ++d) gx[d] = 0;
        for (int k = send_offsets[j]; k < send_offsets[j + 1]; ++k) {
            const int e = send_edges[k];
            __syncthreads();  // the previous edge's reduction has read `partial`
            if (threadIdx.x < EQP_CONV_D2) sh_edge[threadIdx.x] = sh[(int64_t)e * EQP_CONV_D2 + threadIdx.x];
            if (threadIdx.x == 0) receiver = receivers[e];
            __syncthreads();
            const real *gi = grad_out + (int64_t)receiver * EQP_CONV_D3;
            const real *we = w + (int64_t)e * EQP_CONV_WEIGHTS;
            real gsh[EQP_CONV_D2];
#pragma unroll
            for (int d = 0; d < EQP_CONV_D2; ++d) gsh[d] = 0;
            for (int p = oc.first_path; p < oc.end_path; ++p) {
                const ConvPath path = conv_path(table, p);
                if (path.in1 != oc.block) continue;
                const ConvBlock b2 = conv_in2(table, path.in2), ob = conv_out(table, path.out);
                const real wu = path.w_offset >= 0 ? we[path.w_offset + oc.u] : (real)1;
                const real *gu = gi + ob.offset + oc.u * ob.dim;
                real gw = 0;
                for (int q = path.first; q < path.end; ++q) {
                    const int *m = conv_term(table, q);
                    const real cg = coef[q] * scale * gu[m[2]];
                    const real s = sh_edge[b2.offset + m[1]], xm = xu[m[0]];
                    gw += cg * xm * s;
#pragma unroll
                    for (int d = 0; d < EQP_CONV_MAX_DIM; ++d)
                        if (d == m[0]) gx[d] += cg * wu * s;
#pragma unroll
                    for (int d = 0; d < EQP_CONV_D2; ++d)
                        if (d == b2.offset + m[1]) gsh[d] += cg * wu * xm;
                }
                if (path.w_offset >= 0) grad_w[(int64_t)e * EQP_CONV_WEIGHTS + path.w_offset + oc.u] = gw;
            }
            // grad_sh[e]: warp sums, then the warps in order, then the rounds in
            // order: a fixed order, so the result is deterministic.
#pragma unroll
            for (int d = 0; d < EQP_CONV_D2; ++d) {
                real v = gsh[d];
                for (int off = EQP_WARP / 2; off > 0; off /= 2) v += __shfl_down_sync(0xffffffffu, v, off);
                if (lane == 0) partial[warp][d] = v;
            }
            __syncthreads();
            if (threadIdx.x < EQP_CONV_D2) {
                real v = 0;
                for (int k2 = 0; k2 < EQP_CONV_WARPS; ++k2) v += partial[k2][threadIdx.x];
                real *g = grad_sh + (int64_t)e * EQP_CONV_D2 + threadIdx.x;
                *g = round == 0 ? v : *g + v;
            }
        }
        if (oc.block >= 0) {
            real *g = grad_x + (int64_t)j * EQP_CONV_D1 + b1.offset + oc.u * b1.dim;
#pragma unroll
            for (int d = 0; d < EQP_CONV_MAX_DIM; ++d)
                if (d < b1.dim) g[d] = gx[d];
        }
    }
}

#endif  // EQP_DEVICE_ONLY
