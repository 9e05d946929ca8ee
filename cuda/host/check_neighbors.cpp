// The neighbor-search reference kernels, run as host C++ in the order a GPU
// would run them, against the CPU graph builder: offsets, neighbors and
// shifts identical, vectors to 1e-12. Usage: check_neighbors CASE_DIR
#include <climits>

#include "../neighbors.cu"
#include "reference_io.hpp"

int main(int argc, char **argv) {
    if (argc != 2) return std::fprintf(stderr, "usage: %s CASE_DIR\n", argv[0]), 2;
    ReferenceCase c(argv[1]);
    const int n = (int)c.count("n_atoms");
    const double cutoff = c.scalar("cutoff");
    auto positions = c.f64("positions", 3 * n), matrix = c.f64("matrix", 9), inverse = c.f64("inverse", 9);
    auto pbc = c.i32("pbc", 3);

    std::vector<double> wrapped(3 * n), fractional(3 * n);
    std::vector<int> moved(3 * n), atom_bin(n);
    GridPlan plan;
    const dim3 atoms = blocks_for(n), one(1), threads(128);
    launch_host(eqp_nl_wrap, atoms, threads, n, positions.data(), matrix.data(), inverse.data(), pbc.data(),
                wrapped.data(), moved.data(), fractional.data());
    launch_host(eqp_nl_plan, one, one, n, matrix.data(), pbc.data(), fractional.data(), cutoff, &plan);
    std::vector<int> bin_starts(plan.n_bins + 1, 0), bin_fill(plan.n_bins, 0), bin_atoms(n, -1);
    launch_host(eqp_nl_bin_count, atoms, threads, n, (const GridPlan *)&plan, fractional.data(), atom_bin.data(),
                bin_starts.data());
    launch_host(eqp_exclusive_scan, one, one, plan.n_bins, bin_starts.data());
    launch_host(eqp_nl_bin_fill, atoms, threads, n, atom_bin.data(), bin_starts.data(), bin_fill.data(),
                bin_atoms.data());
    std::vector<int> offsets(n + 1, 0);
    launch_host(eqp_nl_count, atoms, threads, n, (const GridPlan *)&plan, matrix.data(), pbc.data(), wrapped.data(),
                fractional.data(), bin_starts.data(), bin_atoms.data(), cutoff, offsets.data());
    launch_host(eqp_exclusive_scan, one, one, n, offsets.data());
    const int n_edges = offsets[n];
    std::vector<uint64_t> keys(n_edges);
    std::vector<int> centers(n_edges, -1), neighbors(n_edges, -1), shifts(3 * n_edges, INT_MIN);
    std::vector<double> vectors(3 * n_edges, NAN);
    int coincident = INT_MAX;
    launch_host(eqp_nl_fill, atoms, threads, n, (const GridPlan *)&plan, matrix.data(), pbc.data(), positions.data(),
                wrapped.data(), moved.data(), fractional.data(), bin_starts.data(), bin_atoms.data(), cutoff,
                offsets.data(), keys.data(), centers.data(), neighbors.data(), shifts.data(), vectors.data(),
                &coincident);

    const long want_edges = c.count("n_edges");
    std::printf("     %-40s grid %dx%dx%d, %d edges (CPU: %ld)\n", argv[1], plan.shape[0], plan.shape[1],
                plan.shape[2], n_edges, want_edges);
    if (coincident != INT_MAX) std::printf("FAIL %s: coincident atoms reported at center %d\n", argv[1], coincident), ++c.failures;
    c.compare_exact("offsets", offsets, c.i32("offsets", n + 1));
    c.compare_exact("neighbors", neighbors, c.i32("neighbors", want_edges));
    c.compare_exact("shifts", shifts, c.i32("shifts", 3 * want_edges));
    // A structure with no pairs within the cutoff has no edges: empty is the answer.
    c.compare("vectors", vectors, c.f64("vectors", 3 * want_edges), 1e-12, /*allow_empty=*/true);
    return c.finish();
}
