// MACE's symmetric contraction (src/nn/symmetric_contraction.rs), reference
// kernels: per node (element z), channel c and output component (L, m),
//   out[c, m] = sum_{nu} sum_k W_nu[z, k, c] sum_{i_1..i_nu} U_nu[m, i_1, .., i_nu, k] x[c, i_1] ... x[c, i_nu].
// U is given as its nonzeros ("terms"), sorted by output component, each with
// where its weights lie; channels never mix.
//   eqp_sc_forward   per (node, channel, output component)
//   eqp_sc_backward  per (node, channel, input index i): d/dx_i of the above, contracted with grad_out
// Layouts: x nodes x EQP_SC_CHANNELS x EQP_SC_D (mace's reshape_irreps);
// out nodes x (channels x components) in e3nn layout: per output irrep a
// block channels x (2L+1). Terms (int32, 8 each): output block offset, 2L+1,
// m, nu, i_1, i_2, i_3 (unused: -1), weight offset of (L, nu) + k * channels;
// the weights of (L, nu) are [n_elements][K][channels], all concatenated,
// the element stride passed per term as well (9th int: K * channels).
#include "host_compat.cuh"

#if !defined(EQP_SC_D) || !defined(EQP_SC_CHANNELS) || !defined(EQP_SC_COMPONENTS)
#error "EQP_SC_D, EQP_SC_CHANNELS and EQP_SC_COMPONENTS must be defined"
#endif
#define EQP_SC_TERM 9
#define EQP_SC_DOUT (EQP_SC_CHANNELS * EQP_SC_COMPONENTS)

__device__ __forceinline__ real sc_weight(const int *t, const real *weights, int z, int c) {
    return weights[(int64_t)t[7] + (int64_t)z * t[8] + c];
}

// components: per output component (numbered block by block, m inside) its
// block offset, 2L+1 and m; component_terms: EQP_SC_COMPONENTS + 1 offsets
// into the terms (a component without terms is zero).
extern "C" __global__ void eqp_sc_forward(int n_nodes, const int *__restrict__ elements,
                                          const int *__restrict__ components, const int *__restrict__ terms,
                                          const int *__restrict__ component_terms,
                                          const real *__restrict__ values, const real *__restrict__ weights,
                                          const real *__restrict__ x, real *__restrict__ out) {
    const int64_t t = global_thread_index();
    if (t >= (int64_t)n_nodes * EQP_SC_CHANNELS * EQP_SC_COMPONENTS) return;
    const int node = (int)(t / (EQP_SC_CHANNELS * EQP_SC_COMPONENTS));
    const int c = (int)(t / EQP_SC_COMPONENTS % EQP_SC_CHANNELS), j = (int)(t % EQP_SC_COMPONENTS);
    const int z = elements[node];
    const real *xc = x + ((int64_t)node * EQP_SC_CHANNELS + c) * EQP_SC_D;
    real acc = 0;
    const int first = component_terms[j], end = component_terms[j + 1];
    for (int q = first; q < end; ++q) {
        const int *term = terms + EQP_SC_TERM * q;
        real monomial = 1;
        for (int a = 0; a < term[3]; ++a) monomial *= xc[term[4 + a]];
        acc += values[q] * sc_weight(term, weights, z, c) * monomial;
    }
    const int *oc = components + 3 * j;
    out[(int64_t)node * EQP_SC_DOUT + oc[0] + c * oc[1] + oc[2]] = acc;
}

extern "C" __global__ void eqp_sc_backward(int n_nodes, int n_terms, const int *__restrict__ elements,
                                           const int *__restrict__ terms, const real *__restrict__ values,
                                           const real *__restrict__ weights, const real *__restrict__ x,
                                           const real *__restrict__ grad_out, real *__restrict__ grad_x) {
    const int64_t t = global_thread_index();
    if (t >= (int64_t)n_nodes * EQP_SC_CHANNELS * EQP_SC_D) return;
    const int node = (int)(t / (EQP_SC_CHANNELS * EQP_SC_D));
    const int c = (int)(t / EQP_SC_D % EQP_SC_CHANNELS), i = (int)(t % EQP_SC_D);
    const int z = elements[node];
    const real *xc = x + ((int64_t)node * EQP_SC_CHANNELS + c) * EQP_SC_D;
    const real *g = grad_out + (int64_t)node * EQP_SC_DOUT;
    real acc = 0;
    for (int q = 0; q < n_terms; ++q) {
        const int *term = terms + EQP_SC_TERM * q;
        // d/dx_i of x_{i_1} ... x_{i_nu}: one product of the others per factor equal to x_i.
        real d = 0;
        for (int a = 0; a < term[3]; ++a) {
            if (term[4 + a] != i) continue;
            real others = 1;
            for (int b = 0; b < term[3]; ++b)
                if (b != a) others *= xc[term[4 + b]];
            d += others;
        }
        if (d != 0) acc += g[term[0] + c * term[1] + term[2]] * values[q] * sc_weight(term, weights, z, c) * d;
    }
    grad_x[t] = acc;
}
