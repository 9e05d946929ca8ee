// The gate's reference kernels as host C++ against nn::Gate (CPU).
// Usage: check_gate CASE_DIR
#include "../gate.cu"
#include "reference_io.hpp"

int main(int argc, char **argv) {
    if (argc != 2) return std::fprintf(stderr, "usage: %s CASE_DIR\n", argv[0]), 2;
    ReferenceCase c(argv[1]);
    const long rows = c.count("rows");
    const real scale = (real)c.scalar("act_scale");
    auto out_map = c.i32("out_map", 3 * EQP_GATE_DOUT), in_map = c.i32("in_map", 5 * EQP_GATE_DIN);
    auto x = c.as<real>("x", rows * EQP_GATE_DIN), g = c.as<real>("grad_y", rows * EQP_GATE_DOUT);
    std::vector<real> y(rows * EQP_GATE_DOUT, NAN), gx(rows * EQP_GATE_DIN, NAN);
    launch_host(eqp_gate_forward, blocks_for(rows * EQP_GATE_DOUT), dim3(128), (int64_t)rows, out_map.data(), scale,
                x.data(), y.data());
    launch_host(eqp_gate_backward, blocks_for(rows * EQP_GATE_DIN), dim3(128), (int64_t)rows, in_map.data(), scale,
                x.data(), g.data(), gx.data());
    c.compare("y", y, c.f64("y", rows * EQP_GATE_DOUT), tolerance<real>());
    c.compare("grad_x", gx, c.f64("grad_x", rows * EQP_GATE_DIN), tolerance<real>());
    return c.finish();
}
