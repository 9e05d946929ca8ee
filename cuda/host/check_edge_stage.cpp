// The edge-stage reference kernels, built as host C++ with one case's
// defines, against the CPU backend's outputs. Usage: check_edge_stage CASE_DIR
#include "../edge_stage.cu"
#include "reference_io.hpp"

int main(int argc, char **argv) {
    if (argc != 2) return std::fprintf(stderr, "usage: %s CASE_DIR\n", argv[0]), 2;
    ReferenceCase c(argv[1]);
    const long n = c.count("n_edges");
    RadialParams rp{(real)c.scalar("cutoff"), (real)c.scalar("cutoff_on"), (real)c.scalar("prefactor")};
    auto vectors = c.as<real>("vectors", 3 * n);
    auto coeffs = c.as<real>("coeffs", EQP_NUM_BASIS);
    auto grad_sh = c.as<real>("grad_sh", n * EQP_SH_DIM);
    auto grad_embedding = c.as<real>("grad_embedding", n * EQP_NUM_BASIS);
    auto grad_r = c.as<real>("grad_r", n);

    std::vector<real> r(n, NAN), sh(n * EQP_SH_DIM, NAN), embedding(n * EQP_NUM_BASIS, NAN), grad_v(3 * n, NAN);
    launch_host(eqp_edge_forward, blocks_for(n), dim3(128), (int64_t)n, vectors.data(), rp, coeffs.data(), r.data(),
                sh.data(), embedding.data());
    launch_host(eqp_edge_backward, blocks_for(n), dim3(128), (int64_t)n, vectors.data(), rp, coeffs.data(),
                grad_sh.data(), grad_embedding.data(), grad_r.data(), grad_v.data());
    const double tol = tolerance<real>();
    c.compare("r", r, c.f64("r", n), tol);
    c.compare("sh", sh, c.f64("sh", n * EQP_SH_DIM), tol);
    c.compare("embedding", embedding, c.f64("embedding", n * EQP_NUM_BASIS), tol);
    c.compare("grad_vectors", grad_v, c.f64("grad_vectors", 3 * n), tol);
    return c.finish();
}
