// The radial-table reference kernels as host C++ against HermiteTable (CPU).
// Usage: check_radial_table CASE_DIR
#include "../radial_table.cu"
#include "reference_io.hpp"

int main(int argc, char **argv) {
    if (argc != 2) return std::fprintf(stderr, "usage: %s CASE_DIR\n", argv[0]), 2;
    ReferenceCase c(argv[1]);
    const long n = c.count("n_edges"), n_intervals = c.count("n_intervals");
    auto r = c.as<real>("r", n);
    auto pieces = c.f64("pieces", 3 * EQP_TABLE_PIECES);
    auto first = c.i32("first", EQP_TABLE_PIECES + 1);
    auto cubics = c.as<real>("cubics", n_intervals * 4 * EQP_TABLE_WIDTH);
    auto grad_w = c.as<real>("grad_w", n * EQP_TABLE_WIDTH);
    std::vector<real> w(n * EQP_TABLE_WIDTH, NAN), dw(n * EQP_TABLE_WIDTH, NAN), grad_r(n, NAN);
    std::vector<int> outside(n, -1);
    launch_host(eqp_table_forward, blocks_for(n * EQP_TABLE_WIDTH), dim3(128), (int64_t)n, r.data(), pieces.data(),
                first.data(), cubics.data(), w.data(), dw.data(), outside.data());
    launch_host(eqp_table_grad_r, blocks_for(n), dim3(128), (int64_t)n, r.data(), pieces.data(), first.data(),
                cubics.data(), grad_w.data(), grad_r.data());
    c.compare_exact("outside", outside, c.i32("outside", n));
    c.compare("w", w, c.f64("w", n * EQP_TABLE_WIDTH), tolerance<real>());
    c.compare("dw", dw, c.f64("dw", n * EQP_TABLE_WIDTH), tolerance<real>());
    c.compare("grad_r", grad_r, c.f64("grad_r", n), tolerance<real>());
    return c.finish();
}
