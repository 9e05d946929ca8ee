/*
 * The evolvable parts of the C ABI: the ABI version, the sized option and
 * result structs (defaults, NULL, too small / too large / newer / older
 * callers) and the CUDA device this build refuses. The last line is
 * "N passed, M failed".
 */
#include "cases.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#define EXPECT_ERROR(call, status, function, needle) expect_error_at((call), (status), (function), (needle), __LINE__)

static const double positions[4][3] = {{0, 0, 0}, {2.5, 2.5, 0}, {2.5, 0, 2.5}, {0, 2.5, 2.5}};
static const int32_t numbers[4] = {18, 18, 18, 18};
static const double cell[3][3] = {{5, 0, 0}, {0, 5, 0}, {0, 0, 5}};
static const bool pbc[3] = {true, true, true};
static const int32_t ar = 18;
static const double epsilon = 0.0104, sigma = 3.4, cutoff = 4.0;

static eqp_model_t *model;
static eqp_graph_t *graph;
static double reference_energy, reference_forces[4][3];

static void setup(void) {
    EXPECT_OK(eqp_model_new_lennard_jones(1, &ar, &epsilon, &sigma, cutoff, &model));
    EXPECT_OK(eqp_graph_build(NULL, 4, &positions[0][0], numbers, &cell[0][0], pbc, cutoff, &graph));
    eqp_outputs_t out = {.n_atoms = 4, .forces = &reference_forces[0][0]};
    EXPECT_OK(eqp_compute(model, graph, NULL, EQP_FLOAT64, &out));
    reference_energy = out.energy;
}

static eqp_results_t results_with(double (*forces)[3]) {
    eqp_results_t r;
    memset(&r, 0, sizeof r);
    r.struct_size = sizeof r;
    r.n_atoms = 4;
    r.forces = &forces[0][0];
    return r;
}

/* The results equal eqp_compute's, bit for bit. */
static void expect_reference(const eqp_results_t *r, double (*forces)[3]) {
    EXPECT(r->energy == reference_energy);
    EXPECT(memcmp(forces, reference_forces, sizeof reference_forces) == 0);
}

/* ------------------------------------------------------------------ cases */

static void abi_version_matches_header(void) {
    EXPECT(eqp_abi_version() == EQP_ABI_VERSION);
    EXPECT(EQP_ABI_VERSION >= 1);
}

static void defaults_set_struct_size(void) {
    eqp_workspace_options_t w;
    memset(&w, 0xab, sizeof w);
    EXPECT_OK(eqp_workspace_options_default(&w, sizeof w));
    EXPECT(w.struct_size == sizeof w && w.n_threads == 0 && w.device.kind == EQP_DEVICE_CPU);
    EXPECT(w.device.ordinal == 0 && w.memory_limit == 0);
    eqp_evaluation_options_t e;
    memset(&e, 0xab, sizeof e);
    EXPECT_OK(eqp_evaluation_options_default(&e, sizeof e));
    EXPECT(e.struct_size == sizeof e && e.precision == EQP_FLOAT64 && e.radial_tables == -1);
    EXPECT(e.simd == -1 && e.profile == 0);
    EXPECT_ERROR(eqp_evaluation_options_default(NULL, sizeof e), EQP_ERROR_NULL_POINTER,
                 "eqp_evaluation_options_default", "NULL");
    EXPECT_ERROR(eqp_evaluation_options_default(&e, 3), EQP_ERROR_INVALID_ARGUMENT,
                 "eqp_evaluation_options_default", "struct_size 3");
}

/* A caller built against an older header: defaults writes only its bytes. */
static void defaults_write_only_struct_size_bytes(void) {
    struct {
        eqp_evaluation_options_t options;
        char guard[8];
    } s;
    memset(&s, 0x5a, sizeof s);
    EXPECT_OK(eqp_evaluation_options_default(&s.options, 16));
    EXPECT(s.options.struct_size == 16 && s.options.precision == EQP_FLOAT64 && s.options.radial_tables == -1);
    EXPECT(((unsigned char *)&s.options)[16] == 0x5a && s.guard[0] == 0x5a);
}

static void workspace_with_options(void) {
    eqp_workspace_options_t w;
    EXPECT_OK(eqp_workspace_options_default(&w, sizeof w));
    w.n_threads = 2;
    w.memory_limit = 123456789;
    eqp_workspace_t *ws = NULL;
    EXPECT_OK(eqp_workspace_new_with_options(&w, &ws));
    size_t limit = 0;
    EXPECT_OK(eqp_workspace_memory_limit(ws, &limit));
    EXPECT(limit == 123456789);
    double forces[4][3];
    eqp_results_t r = results_with(forces);
    EXPECT_OK(eqp_compute_with_options(model, graph, ws, NULL, &r));
    expect_reference(&r, forces);
    eqp_workspace_free(ws);
    /* NULL options: the defaults (one thread per core, the default limit). */
    EXPECT_OK(eqp_workspace_new_with_options(NULL, &ws));
    EXPECT_OK(eqp_workspace_memory_limit(ws, &limit));
    EXPECT(limit > 0 && limit != 123456789);
    eqp_workspace_free(ws);
}

static void cuda_device_is_unsupported(void) {
    eqp_workspace_options_t w;
    EXPECT_OK(eqp_workspace_options_default(&w, sizeof w));
    w.device.kind = EQP_DEVICE_CUDA;
    eqp_workspace_t *ws = (eqp_workspace_t *)&w;
    EXPECT_ERROR(eqp_workspace_new_with_options(&w, &ws), EQP_ERROR_UNSUPPORTED, "eqp_workspace_new_with_options",
                 "this build has no CUDA backend");
    EXPECT(ws == NULL);
    w.device.kind = 7;
    EXPECT_ERROR(eqp_workspace_new_with_options(&w, &ws), EQP_ERROR_INVALID_ARGUMENT,
                 "eqp_workspace_new_with_options", "unknown device kind 7");
    w.device.kind = EQP_DEVICE_CPU;
    w.device.ordinal = 1;
    EXPECT_ERROR(eqp_workspace_new_with_options(&w, &ws), EQP_ERROR_INVALID_ARGUMENT,
                 "eqp_workspace_new_with_options", "ordinal 1");
    w.device.ordinal = 0;
    w.n_threads = -3;
    EXPECT_ERROR(eqp_workspace_new_with_options(&w, &ws), EQP_ERROR_INVALID_ARGUMENT,
                 "eqp_workspace_new_with_options", "got -3");
}

static void evaluation_defaults_and_null_options(void) {
    double forces[4][3];
    eqp_results_t r = results_with(forces);
    EXPECT_OK(eqp_compute_with_options(model, graph, NULL, NULL, &r));
    expect_reference(&r, forces);
    eqp_evaluation_options_t e;
    EXPECT_OK(eqp_evaluation_options_default(&e, sizeof e));
    memset(forces, 0, sizeof forces);
    r.energy = 0;
    EXPECT_OK(eqp_compute_with_options(model, graph, NULL, &e, &r));
    expect_reference(&r, forces);
    e.precision = EQP_FLOAT32;
    EXPECT_OK(eqp_compute_with_options(model, graph, NULL, &e, &r));
    EXPECT(fabs(r.energy - reference_energy) < 1e-5 * fabs(reference_energy));
    e.precision = 5;
    EXPECT_ERROR(eqp_compute_with_options(model, graph, NULL, &e, &r), EQP_ERROR_INVALID_ARGUMENT,
                 "eqp_compute_with_options", "unknown precision 5");
}

static void reserved_options_are_refused(void) {
    double forces[4][3];
    eqp_results_t r = results_with(forces);
    eqp_evaluation_options_t e;
    EXPECT_OK(eqp_evaluation_options_default(&e, sizeof e));
    e.radial_tables = 0;
    EXPECT_ERROR(eqp_compute_with_options(model, graph, NULL, &e, &r), EQP_ERROR_UNSUPPORTED,
                 "eqp_compute_with_options", "options.radial_tables = 0");
    e.radial_tables = 2;
    EXPECT_ERROR(eqp_compute_with_options(model, graph, NULL, &e, &r), EQP_ERROR_INVALID_ARGUMENT,
                 "eqp_compute_with_options", "radial_tables = 2");
    e.radial_tables = -1;
    e.simd = 1;
    EXPECT_ERROR(eqp_compute_with_options(model, graph, NULL, &e, &r), EQP_ERROR_UNSUPPORTED,
                 "eqp_compute_with_options", "options.simd = 1");
    e.simd = -1;
    e.profile = 1;
    EXPECT_ERROR(eqp_compute_with_options(model, graph, NULL, &e, &r), EQP_ERROR_UNSUPPORTED,
                 "eqp_compute_with_options", "options.profile = 1");
}

static void struct_size_too_small_or_absurd(void) {
    double forces[4][3];
    eqp_results_t r = results_with(forces);
    eqp_evaluation_options_t e;
    EXPECT_OK(eqp_evaluation_options_default(&e, sizeof e));
    size_t bad[] = {0, 4, 12, (size_t)1 << 20, SIZE_MAX};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        e.struct_size = bad[k];
        EXPECT_ERROR(eqp_compute_with_options(model, graph, NULL, &e, &r), EQP_ERROR_INVALID_ARGUMENT,
                     "eqp_compute_with_options", "struct_size");
    }
    eqp_workspace_options_t w = {0};
    eqp_workspace_t *ws = NULL;
    EXPECT_ERROR(eqp_workspace_new_with_options(&w, &ws), EQP_ERROR_INVALID_ARGUMENT,
                 "eqp_workspace_new_with_options", "struct_size is 0");
    /* Results need every field of the first eqp_results_t. */
    r.struct_size = 16;
    EXPECT_ERROR(eqp_compute_with_options(model, graph, NULL, NULL, &r), EQP_ERROR_INVALID_ARGUMENT,
                 "eqp_compute_with_options", "eqp_results_t->struct_size is 16");
    EXPECT_ERROR(eqp_compute_with_options(model, graph, NULL, NULL, NULL), EQP_ERROR_NULL_POINTER,
                 "eqp_compute_with_options", "NULL");
}

/* An older caller: the first fields only; the others take their defaults. */
static void older_caller_structs_work(void) {
    struct old_evaluation_options {
        size_t struct_size;
        int32_t precision;
        int32_t radial_tables;
    } e = {sizeof e, EQP_FLOAT32, -1};
    /* Ends where a field ends: padding is never where a newer field lies. */
    struct old_workspace_options {
        size_t struct_size;
        int32_t n_threads;
        eqp_device_t device;
    } w = {sizeof w, 1, {EQP_DEVICE_CPU, 0}};
    eqp_workspace_t *ws = NULL;
    EXPECT_OK(eqp_workspace_new_with_options((const eqp_workspace_options_t *)&w, &ws));
    double forces[4][3];
    eqp_results_t r = results_with(forces);
    EXPECT_OK(eqp_compute_with_options(model, graph, ws, (const eqp_evaluation_options_t *)&e, &r));
    EXPECT(fabs(r.energy - reference_energy) < 1e-5 * fabs(reference_energy));
    EXPECT(r.energy != reference_energy); /* float32 was read */
    /* Only struct_size: every option takes its default (float64). */
    size_t only_size = sizeof only_size;
    EXPECT_OK(eqp_compute_with_options(model, graph, ws, (const eqp_evaluation_options_t *)&only_size, &r));
    expect_reference(&r, forces);
    eqp_workspace_free(ws);
}

/* A newer caller: trailing fields this library does not know must be zero. */
static void newer_caller_structs(void) {
    struct newer_options {
        eqp_evaluation_options_t known;
        int64_t future_field;
    } e;
    EXPECT_OK(eqp_evaluation_options_default(&e.known, sizeof e));
    EXPECT(e.known.struct_size == sizeof e && e.future_field == 0);
    double forces[4][3];
    eqp_results_t r = results_with(forces);
    EXPECT_OK(eqp_compute_with_options(model, graph, NULL, &e.known, &r));
    expect_reference(&r, forces);
    e.future_field = 1;
    EXPECT_ERROR(eqp_compute_with_options(model, graph, NULL, &e.known, &r), EQP_ERROR_UNSUPPORTED,
                 "eqp_compute_with_options", "upgrade the library");
}

static int32_t no_exchange(void *user_data, eqp_halo_direction_t direction, double *values, size_t n, size_t w) {
    (void)user_data, (void)direction, (void)values, (void)n, (void)w;
    return 0;
}

static void halo_with_options(void) {
    double forces[4][3];
    eqp_results_t r = results_with(forces);
    EXPECT_OK(eqp_compute_with_halo_and_options(model, graph, NULL, NULL, no_exchange, NULL, &r));
    expect_reference(&r, forces);
    EXPECT_ERROR(eqp_compute_with_halo_and_options(model, graph, NULL, NULL, NULL, NULL, &r), EQP_ERROR_NULL_POINTER,
                 "eqp_compute_with_halo_and_options", "`exchange` is NULL");
}

/* The entry points without options are unchanged wrappers. */
static void old_entry_points_unchanged(void) {
    double forces[4][3];
    eqp_outputs_t out = {.n_atoms = 4, .forces = &forces[0][0]};
    EXPECT_OK(eqp_compute_with_halo(model, graph, NULL, EQP_FLOAT64, no_exchange, NULL, &out));
    EXPECT(out.energy == reference_energy && memcmp(forces, reference_forces, sizeof forces) == 0);
    EXPECT_ERROR(eqp_compute(model, graph, NULL, 9, &out), EQP_ERROR_INVALID_ARGUMENT, "eqp_compute",
                 "unknown precision 9");
    EXPECT_ERROR(eqp_compute(model, graph, NULL, EQP_FLOAT64, NULL), EQP_ERROR_NULL_POINTER, "eqp_compute",
                 "`outputs` is NULL");
    out.n_atoms = 3;
    EXPECT_ERROR(eqp_compute(model, graph, NULL, EQP_FLOAT64, &out), EQP_ERROR_LENGTH_MISMATCH, "eqp_compute",
                 "outputs.n_atoms is 3");
}

/* ------------------------------------------------------------------ main */

static const struct test_case CASES[] = {
    CASE(abi_version_matches_header),
    CASE(defaults_set_struct_size),
    CASE(defaults_write_only_struct_size_bytes),
    CASE(workspace_with_options),
    CASE(cuda_device_is_unsupported),
    CASE(evaluation_defaults_and_null_options),
    CASE(reserved_options_are_refused),
    CASE(struct_size_too_small_or_absurd),
    CASE(older_caller_structs_work),
    CASE(newer_caller_structs),
    CASE(halo_with_options),
    CASE(old_entry_points_unchanged),
};

int main(void) {
    setup();
    int status = run_cases(CASES, sizeof CASES / sizeof CASES[0]);
    eqp_graph_free(graph);
    eqp_model_free(model);
    return status;
}
