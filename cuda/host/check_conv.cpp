// The uvu convolution's reference kernels, built as host C++ with one case's
// defines, against the CPU backend (forward and the three gradients).
// Usage: check_conv CASE_DIR
#include "../tensor_product_conv.cu"
#include "reference_io.hpp"

int main(int argc, char **argv) {
    if (argc != 2) return std::fprintf(stderr, "usage: %s CASE_DIR\n", argv[0]), 2;
    ReferenceCase c(argv[1]);
    const long n = c.count("n_nodes"), ne = c.count("n_edges"), nt = c.count("n_terms");
    const real scale = (real)c.scalar("scale");
    const long table_len = EQP_CONV_TERMS_AT + 3 * nt;
    auto table = c.i32("table", table_len);
    auto coef = c.as<real>("coefficients", nt);
    auto senders = c.i32("senders", ne), receivers = c.i32("receivers", ne);
    auto recv_offsets = c.i32("recv_offsets", n + 1), recv_edges = c.i32("recv_edges", ne);
    auto send_offsets = c.i32("send_offsets", n + 1), send_edges = c.i32("send_edges", ne);
    auto x = c.as<real>("x", n * EQP_CONV_D1), sh = c.as<real>("sh", ne * EQP_CONV_D2), w = c.as<real>("w", ne * EQP_CONV_WEIGHTS);
    auto g = c.as<real>("grad_out", n * EQP_CONV_D3);

    std::vector<real> out(n * EQP_CONV_D3, NAN), gx(n * EQP_CONV_D1, NAN), gsh(ne * EQP_CONV_D2, NAN),
        gw(ne * EQP_CONV_WEIGHTS, NAN);
    launch_host(eqp_conv_forward, blocks_for(n * EQP_CONV_OUT_CHANNELS), dim3(128), (int)n, table.data(), coef.data(),
                recv_offsets.data(), recv_edges.data(), senders.data(), x.data(), sh.data(), w.data(), scale,
                out.data());
    launch_host(eqp_conv_backward_x, blocks_for(n * EQP_CONV_IN1_CHANNELS), dim3(128), (int)n, table.data(),
                coef.data(), send_offsets.data(), send_edges.data(), receivers.data(), sh.data(), w.data(), scale,
                g.data(), gx.data());
    launch_host(eqp_conv_backward_sh, blocks_for(ne * EQP_CONV_D2), dim3(128), (int)ne, table.data(), coef.data(),
                senders.data(), receivers.data(), x.data(), w.data(), scale, g.data(), gsh.data());
    launch_host(eqp_conv_backward_w, blocks_for(ne * EQP_CONV_WEIGHTS), dim3(128), (int)ne, table.data(), coef.data(),
                senders.data(), receivers.data(), x.data(), sh.data(), scale, g.data(), gw.data());
    const double tol = tolerance<real>();
    c.compare("out", out, c.f64("out", n * EQP_CONV_D3), tol);
    c.compare("grad_x", gx, c.f64("grad_x", n * EQP_CONV_D1), tol);
    c.compare("grad_sh", gsh, c.f64("grad_sh", ne * EQP_CONV_D2), tol);
    c.compare("grad_w", gw, c.f64("grad_w", ne * EQP_CONV_WEIGHTS), tol);
    return c.finish();
}
