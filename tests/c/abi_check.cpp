// equipot.hpp's ABI check and options. Built twice by scripts/ci/30-consumers.sh:
// as is (the check passes, the options work) and with
// -DEQUIPOT_EXPECTED_ABI_VERSION=999 -DEXPECT_MISMATCH (the first constructor
// must throw, naming both versions).
#include <equipot.hpp>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>

static int failures = 0;
#define EXPECT(cond)                                                          \
    do {                                                                      \
        if (!(cond)) {                                                        \
            std::fprintf(stderr, "%s:%d: expected %s\n", __FILE__, __LINE__, #cond); \
            failures++;                                                       \
        }                                                                     \
    } while (0)

int main() {
#ifdef EXPECT_MISMATCH
    try {
        equipot::Workspace ws(1);
        EXPECT(!"a mismatched ABI version was accepted");
    } catch (const equipot::Error& e) {
        const std::string message = e.what();
        std::printf("refused as expected: %s\n", e.what());
        EXPECT(e.status() == EQP_ERROR_UNSUPPORTED);
        EXPECT(message.find("ABI version " + std::to_string(EQP_ABI_VERSION)) != std::string::npos);
        EXPECT(message.find("ABI version 999") != std::string::npos);
    }
#else
    EXPECT(eqp_abi_version() == EQP_ABI_VERSION);
    equipot::WorkspaceOptions options;
    options.n_threads = 1;
    options.memory_limit = 1 << 30;
    equipot::Workspace ws(options);
    EXPECT(ws.memory_limit() == size_t(1) << 30);
    auto model = equipot::Model::lennard_jones({18}, {0.0104}, {3.4}, 4.0);
    const std::vector<equipot::Vec3> positions = {{0, 0, 0}, {2.5, 2.5, 0}, {2.5, 0, 2.5}, {0, 2.5, 2.5}};
    const equipot::Mat3 cell = {{{5, 0, 0}, {0, 5, 0}, {0, 0, 5}}};
    auto graph = equipot::Graph::build(positions, {18, 18, 18, 18}, cell, {true, true, true}, 4.0, &ws);
    equipot::Request request;
    request.precision = equipot::Precision::Float32;
    const double e32 = model.compute(graph, &ws, request).energy;
    const double e64 = model.compute(graph, &ws).energy;
    EXPECT(e64 != 0.0 && std::abs(e32 - e64) < 1e-5 * std::abs(e64));
    // The evaluation options reach the library: a profile comes back as
    // named stages, Lennard-Jones has one radial path, tables are refused.
    equipot::Request profiled;
    profiled.profile = true;
    profiled.simd = equipot::Simd::None;
    profiled.radial = equipot::Radial::Exact;
    const equipot::Results p = model.compute(graph, &ws, profiled);
    EXPECT(p.energy == e64 && p.profile.size() >= 2 && p.profile.front().first.rfind("checks", 0) == 0);
    EXPECT(model.compute(graph, &ws).profile.empty());
    profiled.radial = equipot::Radial::Tables;
    try {
        model.compute(graph, &ws, profiled);
        EXPECT(!"radial tables of a Lennard-Jones model");
    } catch (const equipot::Error& e) {
        EXPECT(e.status() == EQP_ERROR_UNSUPPORTED);
    }
    options.device = {EQP_DEVICE_CUDA, 0};
    try {
        equipot::Workspace gpu(options);
        EXPECT(!"a CUDA workspace was made");
    } catch (const equipot::Error& e) {
        EXPECT(e.status() == EQP_ERROR_UNSUPPORTED);
        // Discovery's reason (no driver, no device) or, with a GPU, evaluation not implemented yet.
        bool known = false;
        for (const char* reason : {"no CUDA driver (libcuda.so.1 not found", "no CUDA device", "but only",
                                   "CUDA evaluation is not implemented yet", "this build has no CUDA backend"})
            known = known || std::strstr(e.what(), reason) != nullptr;
        EXPECT(known);
    }
#endif
    std::printf("abi_check: %s\n", failures ? "FAILED" : "all checks passed");
    return failures ? 1 : 0;
}
