// equipot.hpp: a header-only C++17 wrapper over the C ABI of equipot.
//
// RAII handles (move-only), std::vector in and out, and an equipot::Error
// exception carrying the status code and eqp_last_error()'s message:
//
//   equipot::Workspace ws(2);
//   auto model = equipot::Model::lennard_jones({18}, {0.0104}, {3.4}, 8.5);
//   auto graph = equipot::Graph::build(positions, numbers, cell, {true, true, true},
//                                      model.cutoff(), &ws);
//   equipot::Results r = model.compute(graph, &ws);   // r.energy, r.forces, r.virial
//
// Hosts that split the atoms over ranks pass ghosts within one cutoff and a
// halo exchange (any callable), see Model::compute_with_halo.
//
// Units and signs are those of equipot.h: Å, eV, eV/Å; virial in eV with
// LAMMPS's sign (ASE's stress is -virial / volume).
#ifndef EQUIPOT_HPP
#define EQUIPOT_HPP

#include <equipot.h>

#include <array>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

// The wrapper is written against one minor version of the C ABI (before 1.0,
// minor versions may change it): update both together.
static_assert(EQP_VERSION_MAJOR == 0 && EQP_VERSION_MINOR == 1, "equipot.hpp is for the 0.1 C ABI of equipot.h");

namespace equipot {

using Vec3 = std::array<double, 3>;
using Mat3 = std::array<Vec3, 3>;  // row-major; a cell's rows are its lattice vectors
static_assert(sizeof(Vec3) == 3 * sizeof(double) && sizeof(Mat3) == 9 * sizeof(double),
              "std::array<double, 3> must be laid out as three doubles");

// A failed call: the C status code and the library's message.
class Error : public std::runtime_error {
public:
    Error(eqp_status_t status, const std::string& message) : std::runtime_error(message), status_(status) {}
    eqp_status_t status() const noexcept { return status_; }

private:
    eqp_status_t status_;
};

namespace detail {

inline void check(eqp_status_t status) {
    if (status != EQP_SUCCESS) {
        throw Error(status, eqp_last_error());
    }
}

// A move-only owner of a C handle, freed by `Free`.
template <class T, void (*Free)(T*)>
class Handle {
public:
    Handle() = default;
    explicit Handle(T* raw) noexcept : raw_(raw) {}
    Handle(Handle&& other) noexcept : raw_(std::exchange(other.raw_, nullptr)) {}
    Handle& operator=(Handle&& other) noexcept {
        if (this != &other) {
            Free(raw_);
            raw_ = std::exchange(other.raw_, nullptr);
        }
        return *this;
    }
    Handle(const Handle&) = delete;
    Handle& operator=(const Handle&) = delete;
    ~Handle() { Free(raw_); }

    T* get() const noexcept { return raw_; }

private:
    T* raw_ = nullptr;
};

}  // namespace detail

// The ABI version this wrapper expects: the header's, unless a test builds
// with -DEQUIPOT_EXPECTED_ABI_VERSION=N to simulate a mismatch.
#ifndef EQUIPOT_EXPECTED_ABI_VERSION
#define EQUIPOT_EXPECTED_ABI_VERSION EQP_ABI_VERSION
#endif

// Throws unless the library loaded at run time has the ABI version and the
// MAJOR.MINOR of the header this program was compiled against. Workspace,
// Graph and Model constructors call it once.
inline void check_version() {
    static const bool checked = [] {
        if (eqp_abi_version() != EQUIPOT_EXPECTED_ABI_VERSION) {
            throw Error(EQP_ERROR_UNSUPPORTED, "libequipot has C ABI version " + std::to_string(eqp_abi_version()) +
                                                   " but equipot.hpp was compiled for ABI version " +
                                                   std::to_string(EQUIPOT_EXPECTED_ABI_VERSION) +
                                                   ": rebuild against the installed equipot.h");
        }
        int major = -1, minor = -1;
        if (std::sscanf(eqp_version(), "%d.%d", &major, &minor) != 2 || major != EQP_VERSION_MAJOR ||
            minor != EQP_VERSION_MINOR) {
            throw Error(EQP_ERROR_UNSUPPORTED, std::string("libequipot ") + eqp_version() +
                                                   " does not match equipot.h " +
                                                   std::to_string(EQP_VERSION_MAJOR) + "." +
                                                   std::to_string(EQP_VERSION_MINOR));
        }
        return true;
    }();
    (void)checked;
}

// How a workspace is made (see eqp_workspace_options_t).
struct WorkspaceOptions {
    int n_threads = 0;                          // 0: one thread per core
    size_t memory_limit = 0;                    // bytes; 0: the library's default
    eqp_device_t device{EQP_DEVICE_CPU, 0};     // EQP_DEVICE_CUDA: unsupported in this build
};

// A thread pool; use one per caller thread.
class Workspace {
public:
    // n_threads = 0: one thread per core.
    explicit Workspace(int n_threads = 0) : Workspace(threads(n_threads)) {}
    explicit Workspace(const WorkspaceOptions& options) {
        check_version();
        eqp_workspace_options_t c;
        detail::check(eqp_workspace_options_default(&c, sizeof c));
        c.n_threads = options.n_threads;
        c.memory_limit = options.memory_limit;
        c.device = options.device;
        eqp_workspace_t* raw = nullptr;
        detail::check(eqp_workspace_new_with_options(&c, &raw));
        handle_ = Handle(raw);
    }
    eqp_workspace_t* get() const noexcept { return handle_.get(); }

    static WorkspaceOptions threads(int n_threads) {
        WorkspaceOptions options;
        options.n_threads = n_threads;
        return options;
    }

    // Most bytes one graph build or evaluation may plan to use.
    size_t memory_limit() const {
        size_t bytes = 0;
        detail::check(eqp_workspace_memory_limit(get(), &bytes));
        return bytes;
    }
    void set_memory_limit(size_t bytes) { detail::check(eqp_workspace_set_memory_limit(get(), bytes)); }

private:
    using Handle = detail::Handle<eqp_workspace_t, eqp_workspace_free>;
    Handle handle_;
};

namespace detail {
inline eqp_workspace_t* raw(Workspace* ws) { return ws ? ws->get() : nullptr; }
}  // namespace detail

// The edges of a graph, copied out (see eqp_graph_edges).
struct Edges {
    std::vector<int32_t> centers;
    std::vector<int32_t> neighbors;
    std::vector<std::array<int32_t, 3>> shifts;
    std::vector<Vec3> vectors;
};

// An atom graph (immutable).
class Graph {
public:
    // The full neighbor graph of a structure; `cell` may be std::nullopt when
    // no axis is periodic. `ws` may be null (single thread).
    static Graph build(const std::vector<Vec3>& positions, const std::vector<int32_t>& numbers,
                       const std::optional<Mat3>& cell, std::array<bool, 3> pbc, double cutoff,
                       Workspace* ws = nullptr) {
        check_version();
        if (positions.size() != numbers.size()) {
            throw Error(EQP_ERROR_LENGTH_MISMATCH, "equipot::Graph::build: " + std::to_string(positions.size()) +
                                                       " positions but " + std::to_string(numbers.size()) +
                                                       " atomic numbers");
        }
        const bool flags[3] = {pbc[0], pbc[1], pbc[2]};
        eqp_graph_t* raw = nullptr;
        detail::check(eqp_graph_build(detail::raw(ws), positions.size(), data(positions), numbers.data(),
                                      cell ? cell->front().data() : nullptr, flags, cutoff, &raw));
        return Graph(raw);
    }

    // A graph from a host's own neighbor list (see eqp_graph_from_neighbor_list):
    // neighbors of atom i < offsets.size() - 1 are neighbors[offsets[i]..offsets[i+1]).
    static Graph from_neighbor_list(const std::vector<Vec3>& positions, const std::vector<int32_t>& numbers,
                                    size_t n_local, const std::vector<size_t>& offsets,
                                    const std::vector<int32_t>& neighbors, double cutoff) {
        check_version();
        if (positions.size() != numbers.size() || offsets.empty()) {
            throw Error(EQP_ERROR_LENGTH_MISMATCH,
                        "equipot::Graph::from_neighbor_list: positions and numbers differ in length, or no offsets");
        }
        eqp_graph_t* raw = nullptr;
        detail::check(eqp_graph_from_neighbor_list(positions.size(), n_local, data(positions), numbers.data(),
                                                   offsets.size() - 1, offsets.data(), neighbors.size(),
                                                   neighbors.data(), cutoff, &raw));
        return Graph(raw);
    }

    size_t n_atoms() const {
        size_t n = 0;
        detail::check(eqp_graph_n_atoms(get(), &n));
        return n;
    }

    size_t n_edges() const {
        size_t n = 0;
        detail::check(eqp_graph_n_edges(get(), &n));
        return n;
    }

    Edges edges() const {
        const size_t n = n_edges();
        Edges e{std::vector<int32_t>(n), std::vector<int32_t>(n), std::vector<std::array<int32_t, 3>>(n),
                std::vector<Vec3>(n)};
        detail::check(eqp_graph_edges(get(), n, e.centers.data(), e.neighbors.data(),
                                      e.shifts.empty() ? nullptr : e.shifts.front().data(),
                                      e.vectors.empty() ? nullptr : e.vectors.front().data()));
        return e;
    }

    const eqp_graph_t* get() const noexcept { return handle_.get(); }

private:
    explicit Graph(eqp_graph_t* raw) : handle_(raw) {}
    static const double* data(const std::vector<Vec3>& v) { return v.empty() ? nullptr : v.front().data(); }
    detail::Handle<eqp_graph_t, eqp_graph_free> handle_;
};

enum class Precision : eqp_precision_t { Float64 = EQP_FLOAT64, Float32 = EQP_FLOAT32 };

// What to compute besides the energy.
struct Request {
    bool forces = true;
    bool virial = true;
    bool atom_energies = false;
    bool atom_virials = false;
    Precision precision = Precision::Float64;
};

// Results of Model::compute; vectors are empty unless requested.
struct Results {
    double energy = 0.0;              // eV, local atoms
    std::vector<Vec3> forces;         // eV/Å, every atom
    Mat3 virial{};                    // eV, zero unless requested
    std::vector<double> atom_energies;  // eV
    std::vector<Mat3> atom_virials;   // eV
};

// Which way a halo exchange moves rows (see eqp_halo_exchange_t).
enum class HaloDirection : eqp_halo_direction_t {
    Forward = EQP_HALO_FORWARD,  // copy every ghost's row from its owner's row
    Reverse = EQP_HALO_REVERSE,  // add every ghost's row into its owner's row
};

// A loaded model (immutable; may be shared between threads).
class Model {
public:
    // Shifted Lennard-Jones (see eqp_model_new_lennard_jones): epsilon (eV) and
    // sigma (Å) are symmetric species × species matrices, row-major.
    static Model lennard_jones(const std::vector<int32_t>& species, const std::vector<double>& epsilon,
                               const std::vector<double>& sigma, double cutoff) {
        check_version();
        const size_t n2 = species.size() * species.size();
        if (epsilon.size() != n2 || sigma.size() != n2) {
            throw Error(EQP_ERROR_LENGTH_MISMATCH, "equipot::Model::lennard_jones: " +
                                                       std::to_string(species.size()) + " species need " +
                                                       std::to_string(n2) + " epsilon and sigma values");
        }
        eqp_model_t* raw = nullptr;
        detail::check(
            eqp_model_new_lennard_jones(species.size(), species.data(), epsilon.data(), sigma.data(), cutoff, &raw));
        return Model(raw);
    }

    // A model file (see eqp_model_load); `modal` picks the fidelity head of a
    // multi-fidelity model (e.g. "PBE"), empty for the file's default.
    static Model load(const std::string& path, const std::string& modal = "") {
        check_version();
        eqp_model_t* raw = nullptr;
        detail::check(eqp_model_load_modal(path.c_str(), modal.empty() ? nullptr : modal.c_str(), &raw));
        return Model(raw);
    }

    double cutoff() const {
        double c = 0.0;
        detail::check(eqp_model_cutoff(get(), &c));
        return c;
    }

    size_t n_layers() const {
        size_t n = 0;
        detail::check(eqp_model_n_layers(get(), &n));
        return n;
    }

    std::vector<int32_t> species() const {
        size_t n = 0;
        detail::check(eqp_model_n_species(get(), &n));
        std::vector<int32_t> z(n);
        detail::check(eqp_model_species(get(), n, z.data()));
        return z;
    }

    std::string architecture() const { return eqp_model_architecture(get()); }

    // The most values per atom a halo exchange of this model carries; 0 for a
    // model that never exchanges (one message-passing layer).
    size_t halo_width() const {
        size_t w = 0;
        detail::check(eqp_model_halo_width(get(), &w));
        return w;
    }

    // Evaluates the model on `graph`; `ws` may be null (single thread).
    Results compute(const Graph& graph, Workspace* ws = nullptr, const Request& request = Request()) const {
        Results r;
        eqp_results_t out = outputs_for(graph, request, r);
        const eqp_evaluation_options_t options = options_for(request);
        detail::check(eqp_compute_with_options(get(), graph.get(), detail::raw(ws), &options, &out));
        r.energy = out.energy;
        return r;
    }

    // Evaluates the model on a graph of local atoms plus ghosts within one
    // cutoff (Graph::from_neighbor_list), getting the ghosts' node features
    // from their owners through `exchange` (see eqp_compute_with_halo).
    // `exchange` is any callable
    //   void(HaloDirection direction, double* values, size_t n_atoms, size_t width)
    // where `values` is n_atoms rows of `width` doubles (local atoms, then
    // ghosts): Forward copies each ghost's row from its owner's row, Reverse
    // adds each ghost's row into its owner's row. It runs on the calling
    // thread, once per layer forward and (for forces or virials) once per
    // layer in reverse. An exception it throws stops the evaluation and is
    // rethrown here, after the library has returned (it never crosses the
    // library); ghost forces are left for the host to add to their owners.
    template <class Exchange>
    Results compute_with_halo(const Graph& graph, Exchange&& exchange, Workspace* ws = nullptr,
                              const Request& request = Request()) const {
        using Callable = std::remove_reference_t<Exchange>;
        struct Context {
            Callable* exchange;
            std::exception_ptr error;
        } context{&exchange, nullptr};
        // Catches everything: C++ exceptions must not unwind through the library.
        eqp_halo_exchange_t trampoline = [](void* user_data, eqp_halo_direction_t direction, double* values,
                                            size_t n_atoms, size_t width) noexcept -> int32_t {
            auto* c = static_cast<Context*>(user_data);
            try {
                (*c->exchange)(static_cast<HaloDirection>(direction), values, n_atoms, width);
                return 0;
            } catch (...) {
                c->error = std::current_exception();
                return 1;
            }
        };
        Results r;
        eqp_results_t out = outputs_for(graph, request, r);
        const eqp_evaluation_options_t options = options_for(request);
        const eqp_status_t status = eqp_compute_with_halo_and_options(get(), graph.get(), detail::raw(ws), &options,
                                                                      trampoline, &context, &out);
        if (context.error) std::rethrow_exception(context.error);
        detail::check(status);
        r.energy = out.energy;
        return r;
    }

    const eqp_model_t* get() const noexcept { return handle_.get(); }

private:
    explicit Model(eqp_model_t* raw) : handle_(raw) {}

    static eqp_evaluation_options_t options_for(const Request& request) {
        eqp_evaluation_options_t options;
        detail::check(eqp_evaluation_options_default(&options, sizeof options));
        options.precision = static_cast<eqp_precision_t>(request.precision);
        return options;
    }

    // Sizes r's vectors for `request` and points the C outputs at them.
    static eqp_results_t outputs_for(const Graph& graph, const Request& request, Results& r) {
        const size_t n = graph.n_atoms();
        eqp_results_t out{};
        out.struct_size = sizeof out;
        out.n_atoms = n;
        if (request.forces) {
            r.forces.resize(n);
            out.forces = n ? r.forces.front().data() : nullptr;
        }
        // The virial is 9 doubles whatever n is, so it is never NULL when asked for.
        out.virial = request.virial ? r.virial.front().data() : nullptr;
        if (request.atom_energies) {
            r.atom_energies.resize(n);
            out.atom_energies = r.atom_energies.data();
        }
        if (request.atom_virials) {
            r.atom_virials.resize(n);
            out.atom_virials = n ? r.atom_virials.front().front().data() : nullptr;
        }
        // An empty vector's data() may be NULL, which the C ABI reads as "not
        // wanted"; with no atoms there is nothing to write either way.
        return out;
    }

    detail::Handle<eqp_model_t, eqp_model_free> handle_;
};

// Free-function form of Model::compute.
inline Results compute(const Model& model, const Graph& graph, Workspace* ws = nullptr,
                       const Request& request = Request()) {
    return model.compute(graph, ws, request);
}

}  // namespace equipot

#endif  // EQUIPOT_HPP
