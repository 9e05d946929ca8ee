// equipot from C++ (bindings/cpp/equipot.hpp): a periodic Lennard-Jones
// system (rattled fcc Ar, 2x2x2 triclinic supercell, a cutoff longer than half
// the cell) through the RAII wrapper, checked against this file's own
// O(N^2)-over-images loop; then a bad input, caught as an equipot::Error.
#include <equipot.hpp>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>

namespace {

constexpr double kEpsilon = 0.0104, kSigma = 3.40, kCutoff = 9.0;
int failures = 0;

void expect_close(const char* what, double got, double want, double scale) {
    if (!(std::fabs(got - want) <= 1e-10 * scale)) {
        std::fprintf(stderr, "FAIL %s: library %.17g, reference %.17g\n", what, got, want);
        failures++;
    }
}

struct Reference {
    double energy = 0.0;
    std::vector<equipot::Vec3> forces;
    equipot::Mat3 virial{};
};

// Every ordered pair and every image within the cutoff; each atom takes half
// of each pair's shifted LJ energy.
Reference reference(const std::vector<equipot::Vec3>& pos, const equipot::Mat3& cell) {
    const int reach = 3;  // enough for a 2x2x2 fcc Ar cell (faces ~10 Å apart) and a 9 Å cutoff
    const double sc6 = std::pow(kSigma / kCutoff, 6), shift = 4 * kEpsilon * (sc6 * sc6 - sc6);
    Reference ref;
    ref.forces.assign(pos.size(), {0, 0, 0});
    for (size_t i = 0; i < pos.size(); i++)
        for (size_t j = 0; j < pos.size(); j++)
            for (int a = -reach; a <= reach; a++)
                for (int b = -reach; b <= reach; b++)
                    for (int c = -reach; c <= reach; c++) {
                        if (i == j && a == 0 && b == 0 && c == 0) continue;
                        equipot::Vec3 d;
                        for (int x = 0; x < 3; x++)
                            d[x] = pos[j][x] - pos[i][x] + a * cell[0][x] + b * cell[1][x] + c * cell[2][x];
                        const double r2 = d[0] * d[0] + d[1] * d[1] + d[2] * d[2];
                        if (r2 >= kCutoff * kCutoff) continue;
                        const double s6 = std::pow(kSigma * kSigma / r2, 3);
                        const double dphi_over_r = -24 * kEpsilon * (2 * s6 * s6 - s6) / r2;
                        ref.energy += 0.5 * (4 * kEpsilon * (s6 * s6 - s6) - shift);
                        for (int x = 0; x < 3; x++) {
                            ref.forces[i][x] += dphi_over_r * d[x];
                            for (int y = 0; y < 3; y++) ref.virial[x][y] -= 0.5 * dphi_over_r * d[x] * d[y];
                        }
                    }
    return ref;
}

}  // namespace

int main() {
    // 2x2x2 fcc Ar (a = 5.26 Å) in a sheared cell, rattled by up to ±0.1 Å.
    const double a = 2 * 5.26;
    const equipot::Mat3 cell = {{{a, 0, 0}, {0.5, a, 0}, {-0.3, 0.4, a}}};
    const double basis[4][3] = {{0, 0, 0}, {0.5, 0.5, 0}, {0.5, 0, 0.5}, {0, 0.5, 0.5}};
    std::mt19937 rng(7);
    std::uniform_real_distribution<double> rattle(-0.1, 0.1);
    std::vector<equipot::Vec3> positions;
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 2; j++)
            for (int k = 0; k < 2; k++)
                for (const auto& b : basis) {
                    const double f[3] = {(i + b[0]) / 2, (j + b[1]) / 2, (k + b[2]) / 2};
                    equipot::Vec3 r;
                    for (int x = 0; x < 3; x++)
                        r[x] = f[0] * cell[0][x] + f[1] * cell[1][x] + f[2] * cell[2][x] + rattle(rng);
                    positions.push_back(r);
                }
    const std::vector<int32_t> numbers(positions.size(), 18);

    try {
        equipot::Workspace ws(2);
        const auto model = equipot::Model::lennard_jones({18}, {kEpsilon}, {kSigma}, kCutoff);
        auto graph = equipot::Graph::build(positions, numbers, cell, {true, true, true}, model.cutoff(), &ws);
        const equipot::Graph moved = std::move(graph);  // handles move; `graph` is now empty
        const equipot::Results r = model.compute(moved, &ws);
        const Reference ref = reference(positions, cell);

        double max_force = 0, max_virial = 0;
        for (const auto& f : ref.forces)
            for (double x : f) max_force = std::fmax(max_force, std::fabs(x));
        for (const auto& row : ref.virial)
            for (double x : row) max_virial = std::fmax(max_virial, std::fabs(x));
        expect_close("energy", r.energy, ref.energy, std::fabs(ref.energy));
        equipot::Vec3 total{0, 0, 0};
        for (size_t i = 0; i < positions.size(); i++)
            for (int x = 0; x < 3; x++) {
                expect_close("force", r.forces[i][x], ref.forces[i][x], max_force);
                total[x] += r.forces[i][x];
            }
        for (int x = 0; x < 3; x++) {
            expect_close("sum of forces", total[x], 0.0, max_force);
            for (int y = 0; y < 3; y++) expect_close("virial", r.virial[x][y], ref.virial[x][y], max_virial);
        }
        std::printf("%s: %zu atoms, %zu edges, energy %.12f eV (reference %.12f), virial_xx %.8f eV\n",
                    model.architecture().c_str(), moved.n_atoms(), moved.n_edges(), r.energy, ref.energy,
                    r.virial[0][0]);
    } catch (const equipot::Error& e) {
        std::fprintf(stderr, "unexpected equipot error %d: %s\n", e.status(), e.what());
        return 1;
    }

    // Bad input becomes an exception carrying the status and the message.
    positions[3][1] = std::nan("");
    try {
        equipot::Graph::build(positions, numbers, cell, {true, true, true}, kCutoff);
        std::fprintf(stderr, "FAIL: a NaN position was accepted\n");
        failures++;
    } catch (const equipot::Error& e) {
        std::printf("bad input rejected as expected (status %d): %s\n", e.status(), e.what());
        if (e.status() != EQP_ERROR_INVALID_ARGUMENT || !std::strstr(e.what(), "position of atom 3 is not finite")) {
            failures++;
        }
    }

    if (failures) {
        std::printf("%d checks FAILED\n", failures);
        return 1;
    }
    std::printf("all checks passed\n");
    return 0;
}
