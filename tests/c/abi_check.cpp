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
    options.device = {EQP_DEVICE_CUDA, 0};
    try {
        equipot::Workspace gpu(options);
        EXPECT(!"a CUDA workspace was made");
    } catch (const equipot::Error& e) {
        EXPECT(e.status() == EQP_ERROR_UNSUPPORTED);
        EXPECT(std::strstr(e.what(), "this build has no CUDA backend") != nullptr);
    }
#endif
    std::printf("abi_check: %s\n", failures ? "FAILED" : "all checks passed");
    return failures ? 1 : 0;
}
