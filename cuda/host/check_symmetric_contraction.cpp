// The symmetric contraction's reference kernels as host C++ against
// nn::SymmetricContraction (CPU). Usage: check_symmetric_contraction CASE_DIR
#include "../symmetric_contraction.cu"
#include "reference_io.hpp"

int main(int argc, char **argv) {
    if (argc != 2) return std::fprintf(stderr, "usage: %s CASE_DIR\n", argv[0]), 2;
    ReferenceCase c(argv[1]);
    const long n = c.count("n_nodes"), nt = c.count("n_terms"), nw = c.count("n_weights");
    auto elements = c.i32("elements", n), terms = c.i32("terms", EQP_SC_TERM * nt);
    auto components = c.i32("components", 3 * EQP_SC_COMPONENTS);
    auto component_terms = c.i32("component_terms", EQP_SC_COMPONENTS + 1);
    auto values = c.as<real>("values", nt), weights = c.as<real>("weights", nw);
    auto x = c.as<real>("x", n * EQP_SC_CHANNELS * EQP_SC_D), g = c.as<real>("grad_out", n * EQP_SC_DOUT);
    std::vector<real> out(n * EQP_SC_DOUT, NAN), gx(n * EQP_SC_CHANNELS * EQP_SC_D, NAN);
    launch_host(eqp_sc_forward, blocks_for(n * EQP_SC_DOUT), dim3(128), (int)n, elements.data(), components.data(),
                terms.data(), component_terms.data(), values.data(), weights.data(), x.data(), out.data());
    launch_host(eqp_sc_backward, blocks_for(n * EQP_SC_CHANNELS * EQP_SC_D), dim3(128), (int)n, (int)nt,
                elements.data(), terms.data(), values.data(), weights.data(), x.data(), g.data(), gx.data());
    c.compare("out", out, c.f64("out", n * EQP_SC_DOUT), tolerance<real>());
    c.compare("grad_x", gx, c.f64("grad_x", n * EQP_SC_CHANNELS * EQP_SC_D), tolerance<real>());
    return c.finish();
}
