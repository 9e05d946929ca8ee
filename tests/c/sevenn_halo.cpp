// The halo exchange through equipot.hpp with SevenNet-0 (5 layers): a small
// periodic cell whose images within one cutoff become ghosts, each with an
// owner (the local atom it is an image of), evaluated with
// Model::compute_with_halo and an exchange that copies owners to ghosts
// (forward) and adds ghosts into owners (reverse). With ghost forces added to
// their owners, energy, forces and virial must be those of the periodic
// evaluation. A throwing exchange must come back as its own exception.
// Usage: sevenn_halo MODELS_DIR (the converted SevenNet models).
#include <equipot.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <map>
#include <stdexcept>
#include <string>
#include <tuple>

static int failed = 0;

static void check(bool ok, const std::string& what) {
    std::printf("%s %s\n", ok ? "ok  " : "FAIL", what.c_str());
    failed += ok ? 0 : 1;
}

// A rattled SiO2C cell, triclinic, smaller than twice the cutoff: atoms have
// several images of themselves and of each other within one cutoff.
struct Cell {
    std::vector<equipot::Vec3> positions = {{0.05, -0.08, 0.11}, {3.12, 2.21, 0.07},  {1.36, 1.42, 1.41},
                                            {3.57, 1.87, 2.93},  {2.27, 3.74, 3.17},  {0.17, 2.83, 2.52},
                                            {2.31, 0.77, 4.12}};
    std::vector<int32_t> numbers = {14, 14, 8, 8, 8, 6, 14};
    equipot::Mat3 cell = {{{4.9, 0.0, 0.0}, {1.3, 4.6, 0.0}, {-0.8, 0.9, 5.2}}};
};

// Local atoms, then one ghost per (atom, image shift) within one cutoff of a
// local atom, as a host's full neighbor list with rows for local atoms only.
struct Halo {
    equipot::Graph graph;
    size_t n_local;
    std::vector<size_t> owner;  // owner[g]: the local atom ghost n_local + g is an image of
};

static Halo images_as_ghosts(const Cell& c, double cutoff) {
    auto periodic = equipot::Graph::build(c.positions, c.numbers, c.cell, {true, true, true}, cutoff);
    const auto edges = periodic.edges();
    const size_t n = c.positions.size();
    auto positions = c.positions;
    auto numbers = c.numbers;
    std::vector<size_t> owner, offsets(n + 1, 0);
    std::vector<int32_t> neighbors;
    std::map<std::tuple<int32_t, int32_t, int32_t, int32_t>, int32_t> ghost_of;
    for (size_t e = 0; e < edges.centers.size(); e++) {
        const int32_t j = edges.neighbors[e];
        const auto& s = edges.shifts[e];
        int32_t index = j;
        if (s != std::array<int32_t, 3>{0, 0, 0}) {
            auto [it, fresh] = ghost_of.try_emplace({j, s[0], s[1], s[2]}, static_cast<int32_t>(positions.size()));
            if (fresh) {
                equipot::Vec3 r = c.positions[j];
                for (int k = 0; k < 3; k++) r[k] += s[0] * c.cell[0][k] + s[1] * c.cell[1][k] + s[2] * c.cell[2][k];
                positions.push_back(r);
                numbers.push_back(c.numbers[j]);
                owner.push_back(static_cast<size_t>(j));
            }
            index = it->second;
        }
        neighbors.push_back(index);
        offsets[edges.centers[e] + 1]++;
    }
    for (size_t i = 0; i < n; i++) offsets[i + 1] += offsets[i];
    return {equipot::Graph::from_neighbor_list(positions, numbers, n, offsets, neighbors, cutoff), n, owner};
}

static double max_abs_diff(const equipot::Mat3& a, const equipot::Mat3& b) {
    double d = 0;
    for (int i = 0; i < 3; i++)
        for (int k = 0; k < 3; k++) d = std::max(d, std::fabs(a[i][k] - b[i][k]));
    return d;
}

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s MODELS_DIR\n", argv[0]);
        return 2;
    }
    auto model = equipot::Model::load(std::string(argv[1]) + "/SevenNet_0__11Jul2024.eqp.safetensors");
    const size_t layers = model.n_layers(), width = model.halo_width();
    check(layers == 5 && width > 0, "SevenNet-0: 5 layers, halo width " + std::to_string(width));

    equipot::Workspace ws(2);
    const Cell c;
    const auto expected =
        model.compute(equipot::Graph::build(c.positions, c.numbers, c.cell, {true, true, true}, model.cutoff(), &ws),
                      &ws);
    const Halo halo = images_as_ghosts(c, model.cutoff());
    const size_t n_atoms = halo.graph.n_atoms();
    check(halo.owner.size() > 3 * halo.n_local, std::to_string(halo.owner.size()) + " ghosts for " +
                                                    std::to_string(halo.n_local) + " local atoms");

    // The exchange a single rank makes when its ghosts are its own images.
    std::vector<equipot::HaloDirection> calls;
    bool shapes_ok = true;
    auto exchange = [&](equipot::HaloDirection direction, double* values, size_t n, size_t w) {
        calls.push_back(direction);
        shapes_ok = shapes_ok && n == n_atoms && w > 0 && w <= width;
        for (size_t g = 0; g < halo.owner.size(); g++) {
            double* ghost = values + (halo.n_local + g) * w;
            double* owner = values + halo.owner[g] * w;
            for (size_t k = 0; k < w; k++) {
                if (direction == equipot::HaloDirection::Forward) ghost[k] = owner[k];
                else owner[k] += ghost[k];
            }
        }
    };
    const auto got = model.compute_with_halo(halo.graph, exchange, &ws);

    std::vector<equipot::HaloDirection> order(layers, equipot::HaloDirection::Forward);
    order.insert(order.end(), layers, equipot::HaloDirection::Reverse);
    check(calls == order, std::to_string(calls.size()) + " exchanges: one forward per layer, then one reverse per layer");
    check(shapes_ok, "each exchange gets every atom's row, 0 < width <= halo_width");

    std::vector<equipot::Vec3> forces(got.forces.begin(), got.forces.begin() + halo.n_local);
    for (size_t g = 0; g < halo.owner.size(); g++)
        for (int k = 0; k < 3; k++) forces[halo.owner[g]][k] += got.forces[halo.n_local + g][k];
    double df = 0, f_max = 0;
    for (size_t i = 0; i < halo.n_local; i++)
        for (int k = 0; k < 3; k++) {
            df = std::max(df, std::fabs(forces[i][k] - expected.forces[i][k]));
            f_max = std::max(f_max, std::fabs(expected.forces[i][k]));
        }
    double w_max = 0;
    for (const auto& row : expected.virial)
        for (double x : row) w_max = std::max(w_max, std::fabs(x));
    const double de = std::fabs(got.energy - expected.energy), dw = max_abs_diff(got.virial, expected.virial);
    std::printf("     periodic %.12f eV, with halo %.12f eV; dE %.1e eV, dF %.1e eV/A, dW %.1e eV\n", expected.energy,
                got.energy, de, df, dw);
    check(de <= 1e-10 * std::fabs(expected.energy), "energy equals the periodic energy (f64, 1e-10 relative)");
    check(df <= 1e-10 * f_max, "forces, ghosts folded into owners, equal the periodic forces");
    check(dw <= 1e-10 * w_max, "virial equals the periodic virial");

    // Single precision goes through too (the library's f32 halo tolerance).
    equipot::Request f32;
    f32.precision = equipot::Precision::Float32;
    const double e32 = model.compute_with_halo(halo.graph, exchange, &ws, f32).energy;
    const double e32_periodic =
        model.compute(equipot::Graph::build(c.positions, c.numbers, c.cell, {true, true, true}, model.cutoff(), &ws),
                      &ws, f32).energy;
    check(std::fabs(e32 - e32_periodic) <= 2e-5 * std::fabs(e32_periodic),
          "float32: energy with halo " + std::to_string(e32) + " vs periodic " + std::to_string(e32_periodic));

    // Energy only: the forward exchanges alone (and a std::function works too).
    calls.clear();
    equipot::Request energy_only;
    energy_only.forces = energy_only.virial = false;
    const std::function<void(equipot::HaloDirection, double*, size_t, size_t)> as_function = exchange;
    const double e = model.compute_with_halo(halo.graph, as_function, &ws, energy_only).energy;
    check(calls == std::vector<equipot::HaloDirection>(layers, equipot::HaloDirection::Forward) &&
              std::fabs(e - expected.energy) <= 1e-10 * std::fabs(expected.energy),
          "energy only: " + std::to_string(calls.size()) + " forward exchanges, same energy");

    // A throwing exchange: its own exception comes back, after the library returned.
    size_t n_calls = 0;
    auto failing = [&](equipot::HaloDirection direction, double* values, size_t n, size_t w) {
        if (++n_calls == layers + 2) throw std::runtime_error("rank 3 lost its neighbor");
        exchange(direction, values, n, w);
    };
    try {
        model.compute_with_halo(halo.graph, failing, &ws);
        check(false, "a throwing exchange stops the evaluation (no exception)");
    } catch (const equipot::Error& error) {
        check(false, std::string("the exchange's own exception comes back, not equipot::Error: ") + error.what());
    } catch (const std::runtime_error& error) {
        check(std::string(error.what()) == "rank 3 lost its neighbor" && n_calls == layers + 2,
              std::string("the exchange's exception comes back: ") + error.what());
    }
    // The model and workspace are still usable.
    calls.clear();
    check(std::fabs(model.compute_with_halo(halo.graph, exchange, &ws).energy - got.energy) == 0.0,
          "after a failed exchange, the next evaluation gives the same energy");
    // Errors of the library itself are still equipot::Error.
    try {
        auto lj = equipot::Model::lennard_jones({14}, {0.01}, {2.0}, 5.0);
        lj.compute_with_halo(halo.graph, exchange, &ws);
        check(false, "carbon and oxygen are unknown to a silicon Lennard-Jones model (no error)");
    } catch (const equipot::Error& error) {
        check(error.status() == EQP_ERROR_UNKNOWN_ELEMENT,
              std::string("a library error is an equipot::Error: ") + error.what());
    }
    std::printf("%d failed\n", failed);
    return failed ? 1 : 0;
}
