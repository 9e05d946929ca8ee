// SevenNet models through equipot.hpp: Model::load with and without a modal,
// an evaluation whose forces sum to zero, and errors as equipot::Error with
// the C status. Usage: sevenn_model MODELS_DIR (the converted SevenNet models).
#include <equipot.hpp>

#include <cmath>
#include <cstdio>
#include <string>

static int failed = 0;

static void check(bool ok, const std::string& what) {
    std::printf("%s %s\n", ok ? "ok  " : "FAIL", what.c_str());
    failed += ok ? 0 : 1;
}

template <class F>
static void expect_error(F&& f, eqp_status_t status, const std::string& needle, const std::string& what) {
    try {
        f();
        check(false, what + " (no error)");
    } catch (const equipot::Error& e) {
        check(e.status() == status && std::string(e.what()).find(needle) != std::string::npos,
              what + ": " + e.what());
    }
}

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s MODELS_DIR\n", argv[0]);
        return 2;
    }
    const std::string dir = argv[1];
    auto model = equipot::Model::load(dir + "/SevenNet_0__11Jul2024.eqp.safetensors");
    check(model.architecture() == "nequip", "SevenNet-0 is a nequip model");
    check(model.cutoff() == 5.0 && model.n_layers() == 5, "cutoff 5 Å, 5 layers");
    check(model.species().size() == 89, "89 species");

    // Rattled SiO in a 4 Å periodic cell.
    std::vector<equipot::Vec3> positions = {{0.0, 0.1, 0.0}, {1.6, 0.0, 0.2}};
    std::vector<int32_t> numbers = {14, 8};
    equipot::Mat3 cell = {{{4.0, 0.0, 0.0}, {0.0, 4.0, 0.0}, {0.0, 0.0, 4.0}}};
    equipot::Workspace ws(2);
    auto graph = equipot::Graph::build(positions, numbers, cell, {true, true, true}, model.cutoff(), &ws);
    auto r = model.compute(graph, &ws);
    check(std::isfinite(r.energy) && r.energy < 0, "finite negative energy: " + std::to_string(r.energy));
    double net = 0;
    for (int k = 0; k < 3; k++) net = std::fmax(net, std::fabs(r.forces[0][k] + r.forces[1][k]));
    check(net < 1e-10, "forces sum to zero");

    auto pbe = equipot::Model::load(dir + "/SevenNet_MF_0.eqp.safetensors", "PBE");
    auto r2scan = equipot::Model::load(dir + "/SevenNet_MF_0.eqp.safetensors", "R2SCAN");
    check(std::fabs(pbe.compute(graph, &ws).energy - r2scan.compute(graph, &ws).energy) > 1e-3,
          "the PBE and R2SCAN heads differ");
    expect_error([&] { equipot::Model::load(dir + "/SevenNet_MF_0.eqp.safetensors", "HSE06"); },
                 EQP_ERROR_INVALID_ARGUMENT, "unknown modal", "unknown modal");
    expect_error([&] {
        auto g = equipot::Graph::build(positions, {14, 118}, cell, {true, true, true}, model.cutoff(), &ws);
        model.compute(g, &ws);
    }, EQP_ERROR_UNKNOWN_ELEMENT, "does not know", "oganesson");
    std::printf("%d failed\n", failed);
    return failed ? 1 : 0;
}
