// The uvu convolution with its per-edge weights read from a radial table
// (SevenNet: the radial network tabulated at load time) instead of an
// n_edges x EQP_CONV_WEIGHTS buffer, as the CPU's EdgeWeights does. Edges
// outside the table's domain carry exact weights: exact_slot[e] >= 0 is their
// row in exact_w (the radial network's output for those few edges), -1 a
// tabulated edge; exact_slot may be null (every edge tabulated).
//   eqp_conv_forward_table  reference: as eqp_conv_forward
//   eqp_conv_grad_r_table   reference, per edge: dE/dr = sum_k dE/dw_k w_k'(r) for
//                           tabulated edges; the dE/dw row of the exact ones
//                           (for the network's own backward) in grad_w_exact
//   eqp_conv_forward_table_fast  GPU only: eqp_conv_forward_fast with the table
// The table needs EQP_TABLE_WIDTH = EQP_CONV_WEIGHTS and EQP_TABLE_PIECES.
#include "host_compat.cuh"
#include "radial_table.cuh"
#include "tensor_product_conv.cuh"

#if EQP_TABLE_WIDTH != EQP_CONV_WEIGHTS
#error "the radial table must give one column per convolution weight"
#endif

// Where an edge's weights come from.
struct TableWeights {
    const real *r;          // edge lengths
    const double *pieces;   // the table (radial_table.cuh)
    const int *first;
    const real *cubics;
    const int *exact_slot;  // may be null
    const real *exact_w;
};

struct EdgeWeightSource {
    TableInterval iv;
    const real *row;  // exact weights, or null: read the table
};

__device__ __forceinline__ EdgeWeightSource edge_weights(const TableWeights &tw, int e) {
    EdgeWeightSource s;
    s.row = nullptr;
    const int slot = tw.exact_slot ? tw.exact_slot[e] : -1;
    if (slot >= 0) {
        s.row = tw.exact_w + (int64_t)slot * EQP_CONV_WEIGHTS;
    } else if (!table_interval(tw.pieces, tw.first, (double)tw.r[e], &s.iv)) {
        s.iv.at = -1;  // outside and not given: weight 0 (the caller must give it exactly)
    }
    return s;
}

__device__ __forceinline__ real edge_weight(const TableWeights &tw, const EdgeWeightSource &s, int k) {
    if (s.row) return s.row[k];
    if (s.iv.at < 0) return 0;
    return table_value(tw.cubics, s.iv, k);
}

extern "C" __global__ void eqp_conv_forward_table(int n_nodes, const int *__restrict__ table,
                                                  const real *__restrict__ coef, const int *__restrict__ recv_offsets,
                                                  const int *__restrict__ recv_edges, const int *__restrict__ senders,
                                                  const real *__restrict__ x, const real *__restrict__ sh,
                                                  TableWeights tw, real scale, real *__restrict__ out) {
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
        const EdgeWeightSource ws = edge_weights(tw, e);
        const real *xj = x + (int64_t)senders[e] * EQP_CONV_D1;
        const real *she = sh + (int64_t)e * EQP_CONV_D2;
        for (int p = 0; p < EQP_CONV_PATHS; ++p) {
            const ConvPath path = conv_path(table, p);
            if (path.out != o) continue;
            const ConvBlock b1 = conv_in1(table, path.in1), b2 = conv_in2(table, path.in2);
            const real wu = path.w_offset >= 0 ? edge_weight(tw, ws, path.w_offset + u) : (real)1;
            for (int q = path.first; q < path.end; ++q) {
                const int *m = conv_term(table, q);
                acc[m[2]] += coef[q] * wu * xj[b1.offset + u * b1.dim + m[0]] * she[b2.offset + m[1]];
            }
        }
    }
    real *oi = out + (int64_t)i * EQP_CONV_D3 + ob.offset + u * ob.dim;
    for (int m = 0; m < ob.dim; ++m) oi[m] = scale * acc[m];
}

// grad_w_exact: n_exact x EQP_CONV_WEIGHTS (rows of the exact edges, overwritten).
extern "C" __global__ void eqp_conv_grad_r_table(int n_edges, const int *__restrict__ table,
                                                 const real *__restrict__ coef, const int *__restrict__ senders,
                                                 const int *__restrict__ receivers, const real *__restrict__ x,
                                                 const real *__restrict__ sh, TableWeights tw, real scale,
                                                 const real *__restrict__ grad_out, real *__restrict__ grad_r,
                                                 real *__restrict__ grad_w_exact) {
    const int64_t e = global_thread_index();
    if (e >= n_edges) return;
    const EdgeWeightSource ws = edge_weights(tw, (int)e);
    const int slot = tw.exact_slot ? tw.exact_slot[e] : -1;
    const real *xj = x + (int64_t)senders[e] * EQP_CONV_D1;
    const real *gi = grad_out + (int64_t)receivers[e] * EQP_CONV_D3;
    const real *she = sh + e * EQP_CONV_D2;
    real dr = 0;
    for (int p = 0; p < EQP_CONV_PATHS; ++p) {
        const ConvPath path = conv_path(table, p);
        if (path.w_offset < 0) continue;
        const ConvBlock b1 = conv_in1(table, path.in1), b2 = conv_in2(table, path.in2), ob = conv_out(table, path.out);
        for (int u = 0; u < b1.mul; ++u) {
            real gw = 0;
            for (int q = path.first; q < path.end; ++q) {
                const int *m = conv_term(table, q);
                gw += coef[q] * xj[b1.offset + u * b1.dim + m[0]] * she[b2.offset + m[1]] * gi[ob.offset + u * ob.dim + m[2]];
            }
            gw *= scale;
            const int k = path.w_offset + u;
            if (slot >= 0)
                grad_w_exact[(int64_t)slot * EQP_CONV_WEIGHTS + k] = gw;
            else if (ws.iv.at >= 0)
                dr += gw * table_derivative(tw.cubics, ws.iv, k);
        }
    }
    grad_r[e] = dr;
}

#if defined(EQP_DEVICE_ONLY)
#include "tensor_product_conv_fast.cuh"

// Per edge, thread 0 finds the table interval (or the exact row) once; every
// thread then evaluates its own columns.
struct TableWeightsFast {
    typedef EdgeWeightSource Shared;
    TableWeights tw;
    __device__ __forceinline__ Shared prepare(int e) const { return edge_weights(tw, e); }
    __device__ __forceinline__ real get(const Shared &s, int k) const { return edge_weight(tw, s, k); }
};

extern "C" __global__ void eqp_conv_forward_table_fast(int n_nodes, const int *__restrict__ table,
                                                       const real *__restrict__ coef,
                                                       const int *__restrict__ recv_offsets,
                                                       const int *__restrict__ recv_edges,
                                                       const int *__restrict__ senders, const real *__restrict__ x,
                                                       const real *__restrict__ sh, TableWeights tw, real scale,
                                                       real *__restrict__ out) {
    conv_forward_fast_body(n_nodes, table, coef, recv_offsets, recv_edges, senders, x, sh, TableWeightsFast{tw}, scale,
                           out);
}
#endif  // EQP_DEVICE_ONLY
