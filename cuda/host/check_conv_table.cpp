// The convolution with radial-table weights (reference kernels) as host C++
// against the CPU: the table's values as weights (exact rows for the edges
// outside it) through UvuTensorProduct, dE/dr by HermiteTable::derivative_dot.
// Usage: check_conv_table CASE_DIR
#include "../tensor_product_conv_table.cu"
#include "reference_io.hpp"

int main(int argc, char **argv) {
    if (argc != 2) return std::fprintf(stderr, "usage: %s CASE_DIR\n", argv[0]), 2;
    ReferenceCase c(argv[1]);
    const long n = c.count("n_nodes"), ne = c.count("n_edges"), nt = c.count("n_terms");
    const long ni = c.count("n_intervals"), n_exact = c.count("n_exact");
    const real scale = (real)c.scalar("scale");
    auto table = c.i32("table", EQP_CONV_TERMS_AT + 3 * nt);
    auto coef = c.as<real>("coefficients", nt);
    auto senders = c.i32("senders", ne), receivers = c.i32("receivers", ne);
    auto recv_offsets = c.i32("recv_offsets", n + 1), recv_edges = c.i32("recv_edges", ne);
    auto x = c.as<real>("x", n * EQP_CONV_D1), sh = c.as<real>("sh", ne * EQP_CONV_D2);
    auto g = c.as<real>("grad_out", n * EQP_CONV_D3);
    auto r = c.as<real>("r", ne);
    auto pieces = c.f64("pieces", 3 * EQP_TABLE_PIECES);
    auto first = c.i32("first", EQP_TABLE_PIECES + 1);
    auto cubics = c.as<real>("cubics", ni * 4 * EQP_TABLE_WIDTH);
    auto exact_slot = c.i32("exact_slot", ne);
    auto exact_w = c.as<real>("exact_w", n_exact * EQP_CONV_WEIGHTS);
    const TableWeights tw{r.data(), pieces.data(), first.data(), cubics.data(), exact_slot.data(), exact_w.data()};

    std::vector<real> out(n * EQP_CONV_D3, NAN), grad_r(ne, NAN), grad_w_exact(n_exact * EQP_CONV_WEIGHTS, NAN);
    launch_host(eqp_conv_forward_table, blocks_for(n * EQP_CONV_OUT_CHANNELS), dim3(128), (int)n, table.data(),
                coef.data(), recv_offsets.data(), recv_edges.data(), senders.data(), x.data(), sh.data(), tw, scale,
                out.data());
    launch_host(eqp_conv_grad_r_table, blocks_for(ne), dim3(128), (int)ne, table.data(), coef.data(), senders.data(),
                receivers.data(), x.data(), sh.data(), tw, scale, g.data(), grad_r.data(), grad_w_exact.data());
    c.compare("out", out, c.f64("out", n * EQP_CONV_D3), tolerance<real>());
    c.compare("grad_r", grad_r, c.f64("grad_r", ne), tolerance<real>());
    c.compare("grad_w_exact", grad_w_exact, c.f64("grad_w_exact", n_exact * EQP_CONV_WEIGHTS), tolerance<real>());
    return c.finish();
}
