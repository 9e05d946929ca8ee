// The linear layer's reference kernels as host C++ against nn::Linear (CPU).
// Usage: check_linear CASE_DIR
#include "../linear.cu"
#include "reference_io.hpp"

int main(int argc, char **argv) {
    if (argc != 2) return std::fprintf(stderr, "usage: %s CASE_DIR\n", argv[0]), 2;
    ReferenceCase c(argv[1]);
    const long rows = c.count("rows"), nw = c.count("n_weights"), nb = c.count("n_biases");
    auto table = c.i32("table", EQP_LIN_OUT_AT + 4 * EQP_LIN_OUT_BLOCKS);
    auto alpha = c.as<real>("alpha", EQP_LIN_PATHS), weight = c.as<real>("weight", nw), bias = c.as<real>("bias", nb);
    auto x = c.as<real>("x", rows * EQP_LIN_DIN), g = c.as<real>("grad_y", rows * EQP_LIN_DOUT);
    std::vector<real> y(rows * EQP_LIN_DOUT, NAN), gx(rows * EQP_LIN_DIN, NAN);
    launch_host(eqp_linear_forward, blocks_for(rows * EQP_LIN_DOUT), dim3(128), (int64_t)rows, table.data(),
                alpha.data(), weight.data(), bias.data(), x.data(), y.data());
    launch_host(eqp_linear_backward, blocks_for(rows * EQP_LIN_DIN), dim3(128), (int64_t)rows, table.data(),
                alpha.data(), weight.data(), g.data(), gx.data());
    c.compare("y", y, c.f64("y", rows * EQP_LIN_DOUT), tolerance<real>());
    c.compare("grad_x", gx, c.f64("grad_x", rows * EQP_LIN_DIN), tolerance<real>());
    return c.finish();
}
