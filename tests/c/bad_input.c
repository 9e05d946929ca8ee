/*
 * Bad input through the C ABI: every case must come back as a status code
 * with a message from eqp_last_error() that names the problem, never as an
 * abort, a crash or a silently wrong number. One test per case; the last
 * line is "N passed, M failed".
 */
#include "cases.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* The call failed with `status`, and the message names the function and
 * contains `needle`. */
#define EXPECT_ERROR(call, status, function, needle) expect_error_at((call), (status), (function), (needle), __LINE__)

/* A small valid periodic system: 4 Ar atoms in a 5 Å cubic cell. */
static double positions[4][3] = {{0, 0, 0}, {2.5, 2.5, 0}, {2.5, 0, 2.5}, {0, 2.5, 2.5}};
static int32_t numbers[4] = {18, 18, 18, 18};
static double cell[3][3] = {{5, 0, 0}, {0, 5, 0}, {0, 0, 5}};
static const bool pbc[3] = {true, true, true};
static const int32_t ar = 18;
static const double epsilon = 0.0104, sigma = 3.4, cutoff = 4.0;

/* A non-NULL pointer that must be overwritten with NULL on failure. */
static eqp_graph_t *const GRAPH_SENTINEL = (eqp_graph_t *)&positions;

static eqp_status_t build(const double (*pos)[3], const int32_t *nums, size_t n, const double (*c)[3],
                          double cut, eqp_graph_t **graph) {
    *graph = GRAPH_SENTINEL;
    return eqp_graph_build(NULL, n, pos ? &pos[0][0] : NULL, nums, c ? &c[0][0] : NULL, pbc, cut, graph);
}

static eqp_model_t *lj_model(void) {
    eqp_model_t *model = NULL;
    EXPECT_OK(eqp_model_new_lennard_jones(1, &ar, &epsilon, &sigma, cutoff, &model));
    return model;
}

static eqp_graph_t *valid_graph(void) {
    eqp_graph_t *graph = NULL;
    EXPECT_OK(build((const double(*)[3])positions, numbers, 4, (const double(*)[3])cell, cutoff, &graph));
    return graph;
}

/* ------------------------------------------------------------------ cases */

static void nan_position(void) {
    double p[4][3];
    memcpy(p, positions, sizeof p);
    p[1][2] = NAN;
    eqp_graph_t *g;
    EXPECT_ERROR(build((const double(*)[3])p, numbers, 4, (const double(*)[3])cell, cutoff, &g),
                 EQP_ERROR_INVALID_ARGUMENT, "eqp_graph_build", "position of atom 1 is not finite");
    EXPECT(g == NULL);
}

static void inf_position(void) {
    double p[4][3];
    memcpy(p, positions, sizeof p);
    p[3][0] = -INFINITY;
    eqp_graph_t *g;
    EXPECT_ERROR(build((const double(*)[3])p, numbers, 4, (const double(*)[3])cell, cutoff, &g),
                 EQP_ERROR_INVALID_ARGUMENT, "eqp_graph_build", "position of atom 3 is not finite");
    EXPECT(g == NULL);
}

static void singular_cell(void) {
    const double c[3][3] = {{5, 0, 0}, {0, 5, 0}, {5, 5, 0}}; /* third row = first + second */
    eqp_graph_t *g;
    EXPECT_ERROR(build((const double(*)[3])positions, numbers, 4, c, cutoff, &g), EQP_ERROR_INVALID_ARGUMENT,
                 "eqp_graph_build", "singular");
    EXPECT(g == NULL);
}

static void nan_cell(void) {
    const double c[3][3] = {{5, 0, 0}, {0, NAN, 0}, {0, 0, 5}};
    eqp_graph_t *g;
    EXPECT_ERROR(build((const double(*)[3])positions, numbers, 4, c, cutoff, &g), EQP_ERROR_INVALID_ARGUMENT,
                 "eqp_graph_build", "cell is not finite");
    EXPECT(g == NULL);
}

static void zero_length_periodic_axis(void) {
    const double c[3][3] = {{5, 0, 0}, {0, 5, 0}, {0, 0, 0}};
    eqp_graph_t *g;
    EXPECT_ERROR(build((const double(*)[3])positions, numbers, 4, c, cutoff, &g), EQP_ERROR_INVALID_ARGUMENT,
                 "eqp_graph_build", "periodic axis 2 has a zero-length cell vector");
    EXPECT(g == NULL);
}

/* The same zero-length vector is fine along a non-periodic axis (a slab). */
static void zero_length_free_axis_is_valid(void) {
    const double c[3][3] = {{5, 0, 0}, {0, 5, 0}, {0, 0, 0}};
    const bool slab[3] = {true, true, false};
    eqp_graph_t *g = NULL;
    EXPECT_OK(eqp_graph_build(NULL, 4, &positions[0][0], numbers, &c[0][0], slab, cutoff, &g));
    EXPECT(g != NULL);
    eqp_graph_free(g);
}

static void periodic_without_cell(void) {
    eqp_graph_t *g;
    EXPECT_ERROR(build((const double(*)[3])positions, numbers, 4, NULL, cutoff, &g), EQP_ERROR_INVALID_ARGUMENT,
                 "eqp_graph_build", "a cell is required");
    EXPECT(g == NULL);
}

static void bad_cutoffs(void) {
    const double cutoffs[] = {-1.0, 0.0, NAN, INFINITY, -0.0};
    for (size_t k = 0; k < sizeof cutoffs / sizeof cutoffs[0]; k++) {
        eqp_graph_t *g;
        EXPECT_ERROR(build((const double(*)[3])positions, numbers, 4, (const double(*)[3])cell, cutoffs[k], &g),
                     EQP_ERROR_INVALID_ARGUMENT, "eqp_graph_build", "cutoff must be a positive finite number");
        EXPECT(g == NULL);
        eqp_model_t *m = (eqp_model_t *)&positions;
        EXPECT_ERROR(eqp_model_new_lennard_jones(1, &ar, &epsilon, &sigma, cutoffs[k], &m),
                     EQP_ERROR_INVALID_ARGUMENT, "eqp_model_new_lennard_jones", "cutoff must be a positive");
        EXPECT(m == NULL);
    }
}

/* Zero atoms is valid: an empty graph, and zero energy. */
static void zero_atoms(void) {
    eqp_model_t *model = lj_model();
    eqp_graph_t *graphs[2] = {NULL, NULL};
    EXPECT_OK(eqp_graph_build(NULL, 0, NULL, NULL, &cell[0][0], pbc, cutoff, &graphs[0]));
    EXPECT_OK(eqp_graph_build(NULL, 0, NULL, NULL, NULL, NULL, cutoff, &graphs[1]));
    for (int k = 0; k < 2; k++) {
        size_t n_atoms = 99, n_edges = 99;
        EXPECT_OK(eqp_graph_n_atoms(graphs[k], &n_atoms));
        EXPECT_OK(eqp_graph_n_edges(graphs[k], &n_edges));
        EXPECT(n_atoms == 0 && n_edges == 0);
        EXPECT_OK(eqp_graph_edges(graphs[k], 0, NULL, NULL, NULL, NULL));
        double virial[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
        eqp_outputs_t out = {.n_atoms = 0, .energy = 1.0, .virial = virial};
        EXPECT_OK(eqp_compute(model, graphs[k], NULL, EQP_FLOAT64, &out));
        EXPECT(out.energy == 0.0);
        for (int x = 0; x < 9; x++) EXPECT(virial[x] == 0.0);
        eqp_graph_free(graphs[k]);
    }
    eqp_model_free(model);
}

static void outputs_n_atoms_mismatch(void) {
    eqp_model_t *model = lj_model();
    eqp_graph_t *graph = valid_graph();
    double forces[5][3];
    eqp_outputs_t out = {.n_atoms = 5, .forces = &forces[0][0]};
    EXPECT_ERROR(eqp_compute(model, graph, NULL, EQP_FLOAT64, &out), EQP_ERROR_LENGTH_MISMATCH, "eqp_compute",
                 "outputs.n_atoms is 5 but the graph has 4 atoms");
    eqp_graph_free(graph);
    eqp_model_free(model);
}

static void graph_edges_mismatch(void) {
    eqp_graph_t *graph = valid_graph();
    size_t n_edges = 0;
    EXPECT_OK(eqp_graph_n_edges(graph, &n_edges));
    EXPECT(n_edges == 48); /* 4 atoms x 12 fcc nearest neighbors at 3.54 Å */
    int32_t centers[49];
    EXPECT_ERROR(eqp_graph_edges(graph, n_edges + 1, centers, NULL, NULL, NULL), EQP_ERROR_LENGTH_MISMATCH,
                 "eqp_graph_edges", "n_edges is 49 but the graph has 48 edges");
    EXPECT_ERROR(eqp_graph_edges(graph, 0, NULL, NULL, NULL, NULL), EQP_ERROR_LENGTH_MISMATCH, "eqp_graph_edges",
                 "n_edges is 0 but the graph has 48 edges");
    eqp_graph_free(graph);
}

static void model_species_mismatch(void) {
    eqp_model_t *model = lj_model();
    int32_t species[2];
    EXPECT_ERROR(eqp_model_species(model, 2, species), EQP_ERROR_LENGTH_MISMATCH, "eqp_model_species",
                 "n_species is 2 but the model has 1 species");
    eqp_model_free(model);
}

/* Two atoms (a dimer 3 Å apart) described by a host's neighbor list. */
static const double dimer[2][3] = {{0, 0, 0}, {3, 0, 0}};
static const int32_t dimer_numbers[2] = {18, 18};

static eqp_status_t from_list(size_t n_local, size_t n_rows, const size_t *offsets, size_t n_neighbors,
                              const int32_t *neighbors, eqp_graph_t **graph) {
    *graph = GRAPH_SENTINEL;
    return eqp_graph_from_neighbor_list(2, n_local, &dimer[0][0], dimer_numbers, n_rows, offsets, n_neighbors,
                                        neighbors, cutoff, graph);
}

static void neighbor_list_offsets_mismatch(void) {
    const int32_t neighbors[2] = {1, 0};
    eqp_graph_t *g;
    const size_t short_end[3] = {0, 1, 1}; /* ends at 1, but 2 neighbors */
    EXPECT_ERROR(from_list(2, 2, short_end, 2, neighbors, &g), EQP_ERROR_LENGTH_MISMATCH,
                 "eqp_graph_from_neighbor_list", "end at the number of neighbors (2)");
    EXPECT(g == NULL);
    const size_t late_start[3] = {1, 1, 2};
    EXPECT_ERROR(from_list(2, 2, late_start, 2, neighbors, &g), EQP_ERROR_LENGTH_MISMATCH,
                 "eqp_graph_from_neighbor_list", "offsets must start at 0");
    const size_t decreasing[3] = {0, 3, 2};
    EXPECT_ERROR(from_list(2, 2, decreasing, 2, neighbors, &g), EQP_ERROR_INVALID_ARGUMENT,
                 "eqp_graph_from_neighbor_list", "offsets decrease at row 1");
    const size_t good[3] = {0, 1, 2};
    EXPECT_ERROR(from_list(3, 2, good, 2, neighbors, &g), EQP_ERROR_LENGTH_MISMATCH, "eqp_graph_from_neighbor_list",
                 "3 local atoms but only 2 atoms");
    const size_t too_many_rows[4] = {0, 1, 2, 2};
    EXPECT_ERROR(from_list(2, 3, too_many_rows, 2, neighbors, &g), EQP_ERROR_LENGTH_MISMATCH,
                 "eqp_graph_from_neighbor_list", "neighbor rows for 3 atoms but only 2 atoms");
    EXPECT_ERROR(from_list(2, SIZE_MAX, good, 2, neighbors, &g), EQP_ERROR_INVALID_ARGUMENT,
                 "eqp_graph_from_neighbor_list", "too large");
    EXPECT(g == NULL);
}

static void neighbor_index_out_of_range(void) {
    const size_t offsets[3] = {0, 1, 2};
    const int32_t past_end[2] = {1, 5};
    eqp_graph_t *g;
    EXPECT_ERROR(from_list(2, 2, offsets, 2, past_end, &g), EQP_ERROR_INVALID_ARGUMENT,
                 "eqp_graph_from_neighbor_list", "atom 1 has neighbor 5, but there are only 2 atoms");
    EXPECT(g == NULL);
    const int32_t negative[2] = {1, -1};
    EXPECT_ERROR(from_list(2, 2, offsets, 2, negative, &g), EQP_ERROR_INVALID_ARGUMENT,
                 "eqp_graph_from_neighbor_list", "neighbors[1] is -1, a negative index");
    EXPECT(g == NULL);
}

static void unknown_atomic_numbers(void) {
    const int32_t bad[3] = {0, 119, -1};
    for (int k = 0; k < 3; k++) {
        int32_t nums[4] = {18, 18, 18, 18};
        nums[2] = bad[k];
        char needle[64];
        snprintf(needle, sizeof needle, "atom 2 has atomic number %d, outside 1..=118", (int)bad[k]);
        eqp_graph_t *g;
        EXPECT_ERROR(build((const double(*)[3])positions, nums, 4, (const double(*)[3])cell, cutoff, &g),
                     EQP_ERROR_UNKNOWN_ELEMENT, "eqp_graph_build", needle);
        EXPECT(g == NULL);
        const size_t offsets[2] = {0, 0};
        EXPECT_ERROR(eqp_graph_from_neighbor_list(4, 4, &positions[0][0], nums, 1, offsets, 0, NULL, cutoff, &g),
                     EQP_ERROR_UNKNOWN_ELEMENT, "eqp_graph_from_neighbor_list", needle);
        eqp_model_t *m;
        snprintf(needle, sizeof needle, "atomic number %d", (int)bad[k]);
        EXPECT_ERROR(eqp_model_new_lennard_jones(1, &bad[k], &epsilon, &sigma, cutoff, &m),
                     EQP_ERROR_UNKNOWN_ELEMENT, "eqp_model_new_lennard_jones", needle);
    }
}

/* A real element that the model was not given parameters for. */
static void element_unknown_to_model(void) {
    eqp_model_t *model = lj_model();
    int32_t nums[4] = {18, 18, 10, 18}; /* neon */
    eqp_graph_t *graph = NULL;
    EXPECT_OK(build((const double(*)[3])positions, nums, 4, (const double(*)[3])cell, cutoff, &graph));
    eqp_outputs_t out = {.n_atoms = 4};
    EXPECT_ERROR(eqp_compute(model, graph, NULL, EQP_FLOAT64, &out), EQP_ERROR_UNKNOWN_ELEMENT, "eqp_compute",
                 "atom 2 has atomic number 10, which the model does not know");
    eqp_graph_free(graph);
    eqp_model_free(model);
}

static void atoms_at_same_position(void) {
    double p[4][3];
    memcpy(p, positions, sizeof p);
    memcpy(p[3], p[1], sizeof p[1]);
    eqp_graph_t *g;
    EXPECT_ERROR(build((const double(*)[3])p, numbers, 4, (const double(*)[3])cell, cutoff, &g),
                 EQP_ERROR_INVALID_ARGUMENT, "eqp_graph_build", "are at the same position");
    EXPECT(g == NULL);
    /* The same, through a periodic image: atom 3 sits one cell vector away from atom 1. */
    p[3][0] += cell[0][0];
    EXPECT_ERROR(build((const double(*)[3])p, numbers, 4, (const double(*)[3])cell, cutoff, &g),
                 EQP_ERROR_INVALID_ARGUMENT, "eqp_graph_build", "are at the same position");
    const double twins[2][3] = {{1, 1, 1}, {1, 1, 1}};
    const size_t offsets[3] = {0, 1, 2};
    const int32_t neighbors[2] = {1, 0};
    EXPECT_ERROR(eqp_graph_from_neighbor_list(2, 2, &twins[0][0], dimer_numbers, 2, offsets, 2, neighbors, cutoff, &g),
                 EQP_ERROR_INVALID_ARGUMENT, "eqp_graph_from_neighbor_list", "are at the same position");
}

static void invalid_precision(void) {
    eqp_model_t *model = lj_model();
    eqp_graph_t *graph = valid_graph();
    const eqp_precision_t bad[2] = {2, -1};
    for (int k = 0; k < 2; k++) {
        eqp_outputs_t out = {.n_atoms = 4};
        char needle[32];
        snprintf(needle, sizeof needle, "unknown precision %d", (int)bad[k]);
        EXPECT_ERROR(eqp_compute(model, graph, NULL, bad[k], &out), EQP_ERROR_INVALID_ARGUMENT, "eqp_compute", needle);
    }
    eqp_graph_free(graph);
    eqp_model_free(model);
}

static void graph_cutoff_below_model_cutoff(void) {
    eqp_model_t *model = lj_model();
    eqp_graph_t *graph = NULL;
    EXPECT_OK(build((const double(*)[3])positions, numbers, 4, (const double(*)[3])cell, 3.0, &graph));
    eqp_outputs_t out = {.n_atoms = 4};
    EXPECT_ERROR(eqp_compute(model, graph, NULL, EQP_FLOAT64, &out), EQP_ERROR_INVALID_ARGUMENT, "eqp_compute",
                 "the graph was built with cutoff 3 Å, the model needs 4 Å");
    eqp_graph_free(graph);
    eqp_model_free(model);
}

static void bad_lennard_jones_parameters(void) {
    const int32_t two[2] = {18, 36}, twice[2] = {18, 18};
    const double eps[4] = {0.01, 0.012, 0.013, 0.014}, sig[4] = {3.4, 3.5, 3.5, 3.6};
    const double nan_eps = NAN, zero_sigma = 0.0;
    eqp_model_t *m;
    EXPECT_ERROR(eqp_model_new_lennard_jones(2, two, eps, sig, cutoff, &m), EQP_ERROR_INVALID_ARGUMENT,
                 "eqp_model_new_lennard_jones", "must be symmetric");
    EXPECT_ERROR(eqp_model_new_lennard_jones(2, twice, sig, sig, cutoff, &m), EQP_ERROR_INVALID_ARGUMENT,
                 "eqp_model_new_lennard_jones", "species 18 is listed twice");
    EXPECT_ERROR(eqp_model_new_lennard_jones(1, &ar, &nan_eps, &sigma, cutoff, &m), EQP_ERROR_INVALID_ARGUMENT,
                 "eqp_model_new_lennard_jones", "need finite");
    EXPECT_ERROR(eqp_model_new_lennard_jones(1, &ar, &epsilon, &zero_sigma, cutoff, &m), EQP_ERROR_INVALID_ARGUMENT,
                 "eqp_model_new_lennard_jones", "σ > 0");
    EXPECT_ERROR(eqp_model_new_lennard_jones(0, NULL, NULL, NULL, cutoff, &m), EQP_ERROR_INVALID_ARGUMENT,
                 "eqp_model_new_lennard_jones", "at least one species");
    EXPECT_ERROR(eqp_model_new_lennard_jones(SIZE_MAX, two, eps, sig, cutoff, &m), EQP_ERROR_INVALID_ARGUMENT,
                 "eqp_model_new_lennard_jones", "too large");
    EXPECT(m == NULL);
}

static void negative_thread_count(void) {
    eqp_workspace_t *ws = (eqp_workspace_t *)&positions;
    EXPECT_ERROR(eqp_workspace_new(-2, &ws), EQP_ERROR_INVALID_ARGUMENT, "eqp_workspace_new",
                 "n_threads must be >= 0, got -2");
    EXPECT(ws == NULL);
}

static void misaligned_positions(void) {
    static double storage[13];
    const double *shifted = (const double *)((const char *)storage + 1);
    eqp_graph_t *g;
    EXPECT_ERROR(eqp_graph_build(NULL, 4, shifted, numbers, &cell[0][0], pbc, cutoff, &g), EQP_ERROR_INVALID_ARGUMENT,
                 "eqp_graph_build", "`positions` is not aligned");
    EXPECT(g == NULL);
}

/* --------------------------------------------------------- null pointers */

static void null_pointers_graph_build(void) {
    eqp_graph_t *g;
    const char *f = "eqp_graph_build";
    EXPECT_ERROR(eqp_graph_build(NULL, 4, NULL, numbers, &cell[0][0], pbc, cutoff, &g), EQP_ERROR_NULL_POINTER, f,
                 "`positions` is NULL");
    EXPECT_ERROR(eqp_graph_build(NULL, 4, &positions[0][0], NULL, &cell[0][0], pbc, cutoff, &g),
                 EQP_ERROR_NULL_POINTER, f, "`numbers` is NULL");
    EXPECT_ERROR(eqp_graph_build(NULL, 4, &positions[0][0], numbers, &cell[0][0], pbc, cutoff, NULL),
                 EQP_ERROR_NULL_POINTER, f, "`graph` is NULL");
    /* NULL workspace, NULL pbc (no axis periodic) and NULL cell (then) are valid. */
    g = NULL;
    EXPECT_OK(eqp_graph_build(NULL, 4, &positions[0][0], numbers, NULL, NULL, cutoff, &g));
    EXPECT(g != NULL);
    eqp_graph_free(g);
}

static void null_pointers_graph_from_neighbor_list(void) {
    const size_t offsets[3] = {0, 1, 2};
    const int32_t neighbors[2] = {1, 0};
    const char *f = "eqp_graph_from_neighbor_list";
    eqp_graph_t *g;
    EXPECT_ERROR(eqp_graph_from_neighbor_list(2, 2, NULL, dimer_numbers, 2, offsets, 2, neighbors, cutoff, &g),
                 EQP_ERROR_NULL_POINTER, f, "`positions` is NULL");
    EXPECT_ERROR(eqp_graph_from_neighbor_list(2, 2, &dimer[0][0], NULL, 2, offsets, 2, neighbors, cutoff, &g),
                 EQP_ERROR_NULL_POINTER, f, "`numbers` is NULL");
    EXPECT_ERROR(eqp_graph_from_neighbor_list(2, 2, &dimer[0][0], dimer_numbers, 2, NULL, 2, neighbors, cutoff, &g),
                 EQP_ERROR_NULL_POINTER, f, "`offsets` is NULL");
    EXPECT_ERROR(eqp_graph_from_neighbor_list(2, 2, &dimer[0][0], dimer_numbers, 0, NULL, 0, NULL, cutoff, &g),
                 EQP_ERROR_NULL_POINTER, f, "`offsets` is NULL");
    EXPECT_ERROR(eqp_graph_from_neighbor_list(2, 2, &dimer[0][0], dimer_numbers, 2, offsets, 2, NULL, cutoff, &g),
                 EQP_ERROR_NULL_POINTER, f, "`neighbors` is NULL");
    EXPECT_ERROR(eqp_graph_from_neighbor_list(2, 2, &dimer[0][0], dimer_numbers, 2, offsets, 2, neighbors, cutoff,
                                              NULL),
                 EQP_ERROR_NULL_POINTER, f, "`graph` is NULL");
}

static void null_pointers_graph_queries(void) {
    eqp_graph_t *graph = valid_graph();
    size_t n = 0;
    EXPECT_ERROR(eqp_graph_n_atoms(NULL, &n), EQP_ERROR_NULL_POINTER, "eqp_graph_n_atoms", "`graph` is NULL");
    EXPECT_ERROR(eqp_graph_n_atoms(graph, NULL), EQP_ERROR_NULL_POINTER, "eqp_graph_n_atoms", "`n_atoms` is NULL");
    EXPECT_ERROR(eqp_graph_n_edges(NULL, &n), EQP_ERROR_NULL_POINTER, "eqp_graph_n_edges", "`graph` is NULL");
    EXPECT_ERROR(eqp_graph_n_edges(graph, NULL), EQP_ERROR_NULL_POINTER, "eqp_graph_n_edges", "`n_edges` is NULL");
    int32_t centers[48];
    EXPECT_ERROR(eqp_graph_edges(NULL, 48, centers, NULL, NULL, NULL), EQP_ERROR_NULL_POINTER, "eqp_graph_edges",
                 "`graph` is NULL");
    /* Every edge output is optional. */
    EXPECT_OK(eqp_graph_edges(graph, 48, NULL, NULL, NULL, NULL));
    eqp_graph_free(graph);
}

static void null_pointers_model(void) {
    const char *f = "eqp_model_new_lennard_jones";
    eqp_model_t *m;
    EXPECT_ERROR(eqp_model_new_lennard_jones(1, NULL, &epsilon, &sigma, cutoff, &m), EQP_ERROR_NULL_POINTER, f,
                 "`species` is NULL");
    EXPECT_ERROR(eqp_model_new_lennard_jones(1, &ar, NULL, &sigma, cutoff, &m), EQP_ERROR_NULL_POINTER, f,
                 "`epsilon` is NULL");
    EXPECT_ERROR(eqp_model_new_lennard_jones(1, &ar, &epsilon, NULL, cutoff, &m), EQP_ERROR_NULL_POINTER, f,
                 "`sigma` is NULL");
    EXPECT_ERROR(eqp_model_new_lennard_jones(1, &ar, &epsilon, &sigma, cutoff, NULL), EQP_ERROR_NULL_POINTER, f,
                 "`model` is NULL");
    eqp_model_t *model = lj_model();
    double x;
    size_t n;
    int32_t z;
    EXPECT_ERROR(eqp_model_cutoff(NULL, &x), EQP_ERROR_NULL_POINTER, "eqp_model_cutoff", "`model` is NULL");
    EXPECT_ERROR(eqp_model_cutoff(model, NULL), EQP_ERROR_NULL_POINTER, "eqp_model_cutoff", "`cutoff` is NULL");
    EXPECT_ERROR(eqp_model_n_layers(NULL, &n), EQP_ERROR_NULL_POINTER, "eqp_model_n_layers", "`model` is NULL");
    EXPECT_ERROR(eqp_model_n_layers(model, NULL), EQP_ERROR_NULL_POINTER, "eqp_model_n_layers", "`n_layers` is NULL");
    EXPECT_ERROR(eqp_model_n_species(NULL, &n), EQP_ERROR_NULL_POINTER, "eqp_model_n_species", "`model` is NULL");
    EXPECT_ERROR(eqp_model_n_species(model, NULL), EQP_ERROR_NULL_POINTER, "eqp_model_n_species",
                 "`n_species` is NULL");
    EXPECT_ERROR(eqp_model_species(NULL, 1, &z), EQP_ERROR_NULL_POINTER, "eqp_model_species", "`model` is NULL");
    EXPECT_ERROR(eqp_model_species(model, 1, NULL), EQP_ERROR_NULL_POINTER, "eqp_model_species", "`species` is NULL");
    EXPECT(eqp_model_architecture(NULL) == NULL);
    EXPECT(strcmp(eqp_model_architecture(model), "lennard-jones") == 0);
    eqp_model_free(model);
}

static void null_pointers_compute(void) {
    eqp_model_t *model = lj_model();
    eqp_graph_t *graph = valid_graph();
    eqp_outputs_t out = {.n_atoms = 4, .energy = NAN};
    EXPECT_ERROR(eqp_compute(NULL, graph, NULL, EQP_FLOAT64, &out), EQP_ERROR_NULL_POINTER, "eqp_compute",
                 "`model` is NULL");
    EXPECT_ERROR(eqp_compute(model, NULL, NULL, EQP_FLOAT64, &out), EQP_ERROR_NULL_POINTER, "eqp_compute",
                 "`graph` is NULL");
    EXPECT_ERROR(eqp_compute(model, graph, NULL, EQP_FLOAT64, NULL), EQP_ERROR_NULL_POINTER, "eqp_compute",
                 "`outputs` is NULL");
    /* NULL workspace and NULL output buffers are valid: energy only. */
    EXPECT_OK(eqp_compute(model, graph, NULL, EQP_FLOAT64, &out));
    EXPECT(isfinite(out.energy) && out.energy != 0.0);
    eqp_graph_free(graph);
    eqp_model_free(model);
}

/* A halo exchange that counts its calls and returns `status`. */
struct halo_calls {
    int count;
    int32_t status;
};

static int32_t counting_exchange(void *user_data, eqp_halo_direction_t direction, double *values, size_t n_atoms,
                                 size_t width) {
    (void)direction, (void)values, (void)n_atoms, (void)width;
    struct halo_calls *calls = user_data;
    calls->count++;
    return calls->status;
}

/* Lennard-Jones has one layer: halo width 0, and eqp_compute_with_halo never
 * calls the exchange (this one would fail if called) and gives eqp_compute's
 * results, on a periodic graph, on a host list with a ghost, and with no atoms. */
static void halo_exchange_of_a_local_model(void) {
    eqp_model_t *model = lj_model();
    size_t width = 99;
    EXPECT_OK(eqp_model_halo_width(model, &width));
    EXPECT(width == 0);
    eqp_graph_t *graphs[3] = {valid_graph(), NULL, NULL};
    const size_t offsets[2] = {0, 1};
    const int32_t neighbors[1] = {1};
    EXPECT_OK(from_list(1, 1, offsets, 1, neighbors, &graphs[1])); /* atom 1 is a ghost of the dimer */
    EXPECT_OK(eqp_graph_build(NULL, 0, NULL, NULL, NULL, NULL, cutoff, &graphs[2]));
    for (int k = 0; k < 3; k++) {
        size_t n = 0;
        EXPECT_OK(eqp_graph_n_atoms(graphs[k], &n));
        double f1[4][3] = {{0}}, w1[9] = {0}, e1[4] = {0}, v1[4][9] = {{0}};
        double f2[4][3] = {{1}}, w2[9] = {1}, e2[4] = {1}, v2[4][9] = {{1}};
        eqp_outputs_t plain = {n, 0.0, &f1[0][0], w1, e1, &v1[0][0]};
        eqp_outputs_t halo = {n, 1.0, &f2[0][0], w2, e2, &v2[0][0]};
        struct halo_calls calls = {0, 7};
        EXPECT_OK(eqp_compute(model, graphs[k], NULL, EQP_FLOAT64, &plain));
        EXPECT_OK(eqp_compute_with_halo(model, graphs[k], NULL, EQP_FLOAT64, counting_exchange, &calls, &halo));
        EXPECT(calls.count == 0);
        EXPECT(halo.energy == plain.energy && (n == 0 || plain.energy != 0.0));
        EXPECT(memcmp(f1, f2, n * sizeof f1[0]) == 0 && memcmp(w1, w2, sizeof w1) == 0);
        EXPECT(memcmp(e1, e2, n * sizeof e1[0]) == 0 && memcmp(v1, v2, n * sizeof v1[0]) == 0);
        eqp_graph_free(graphs[k]);
    }
    eqp_model_free(model);
}

static void null_pointers_compute_with_halo(void) {
    const char *f = "eqp_compute_with_halo";
    eqp_model_t *model = lj_model();
    eqp_graph_t *graph = valid_graph();
    eqp_outputs_t out = {.n_atoms = 4, .energy = NAN};
    struct halo_calls calls = {0, 0};
    EXPECT_ERROR(eqp_compute_with_halo(model, graph, NULL, EQP_FLOAT64, NULL, &calls, &out), EQP_ERROR_NULL_POINTER,
                 f, "`exchange` is NULL");
    EXPECT_ERROR(eqp_compute_with_halo(NULL, graph, NULL, EQP_FLOAT64, counting_exchange, &calls, &out),
                 EQP_ERROR_NULL_POINTER, f, "`model` is NULL");
    EXPECT_ERROR(eqp_compute_with_halo(model, NULL, NULL, EQP_FLOAT64, counting_exchange, &calls, &out),
                 EQP_ERROR_NULL_POINTER, f, "`graph` is NULL");
    EXPECT_ERROR(eqp_compute_with_halo(model, graph, NULL, EQP_FLOAT64, counting_exchange, &calls, NULL),
                 EQP_ERROR_NULL_POINTER, f, "`outputs` is NULL");
    EXPECT(isnan(out.energy) && calls.count == 0);
    /* user_data is the host's business: NULL is passed through as it is. */
    EXPECT_OK(eqp_compute_with_halo(model, graph, NULL, EQP_FLOAT64, counting_exchange, NULL, &out));
    EXPECT(isfinite(out.energy));
    size_t width;
    EXPECT_ERROR(eqp_model_halo_width(NULL, &width), EQP_ERROR_NULL_POINTER, "eqp_model_halo_width",
                 "`model` is NULL");
    EXPECT_ERROR(eqp_model_halo_width(model, NULL), EQP_ERROR_NULL_POINTER, "eqp_model_halo_width",
                 "`width` is NULL");
    eqp_graph_free(graph);
    eqp_model_free(model);
}

static void null_pointers_workspace(void) {
    EXPECT_ERROR(eqp_workspace_new(1, NULL), EQP_ERROR_NULL_POINTER, "eqp_workspace_new", "`workspace` is NULL");
}

static void free_null_is_a_no_op(void) {
    eqp_graph_free(NULL);
    eqp_model_free(NULL);
    eqp_workspace_free(NULL);
}

/* The message stays until the next failure, even across successful calls. */
static void last_error_survives_success(void) {
    eqp_workspace_t *ws = NULL;
    EXPECT_ERROR(eqp_workspace_new(-1, &ws), EQP_ERROR_INVALID_ARGUMENT, "eqp_workspace_new", "got -1");
    EXPECT_OK(eqp_workspace_new(1, &ws));
    EXPECT(strstr(eqp_last_error(), "got -1") != NULL);
    eqp_workspace_free(ws);
}

/* A cell far smaller than the cutoff (or given in nm) is refused at once,
 * before its ~1e11 edges are allocated; the limit can be changed. */
static void memory_limit(void) {
    eqp_workspace_t *ws = NULL;
    EXPECT_OK(eqp_workspace_new(1, &ws));
    size_t limit = 0;
    EXPECT_OK(eqp_workspace_memory_limit(ws, &limit));
    EXPECT(limit > ((size_t)1 << 26));
    /* A limit independent of this machine's memory: 4 GB. */
    EXPECT_OK(eqp_workspace_set_memory_limit(ws, (size_t)4 << 30));
    const double one[1][3] = {{0, 0, 0}};
    const double tiny[3][3] = {{0.01, 0, 0}, {0, 0.01, 0}, {0, 0, 0.01}};
    eqp_graph_t *graph = GRAPH_SENTINEL;
    EXPECT_ERROR(eqp_graph_build(ws, 1, &one[0][0], &ar, &tiny[0][0], pbc, cutoff, &graph), EQP_ERROR_OUT_OF_MEMORY,
                 "eqp_graph_build", "memory limit");
    EXPECT(graph == NULL);
    /* The 4-atom cell within a 1 kB limit: refused too; then allowed again. */
    EXPECT_OK(eqp_workspace_set_memory_limit(ws, 1000));
    EXPECT_ERROR(eqp_graph_build(ws, 4, &positions[0][0], numbers, &cell[0][0], pbc, cutoff, &graph),
                 EQP_ERROR_OUT_OF_MEMORY, "eqp_graph_build", "GB");
    EXPECT_OK(eqp_workspace_set_memory_limit(ws, limit));
    EXPECT_OK(eqp_graph_build(ws, 4, &positions[0][0], numbers, &cell[0][0], pbc, cutoff, &graph));
    EXPECT_ERROR(eqp_workspace_set_memory_limit(NULL, 1), EQP_ERROR_NULL_POINTER, "eqp_workspace_set_memory_limit", "");
    EXPECT_ERROR(eqp_workspace_memory_limit(ws, NULL), EQP_ERROR_NULL_POINTER, "eqp_workspace_memory_limit", "bytes");
    eqp_graph_free(graph);
    eqp_workspace_free(ws);
}

/* Lennard-Jones in float32 overflows for atoms 0.001 Å apart: an error
 * naming the atom, never a success with inf or NaN. */
static void non_finite_result(void) {
    eqp_model_t *model = NULL;
    const double far_cutoff = 8.5;
    EXPECT_OK(eqp_model_new_lennard_jones(1, &ar, &epsilon, &sigma, far_cutoff, &model));
    const double close[3][3] = {{0, 0, 0}, {5, 0, 0}, {5.001, 0, 0}};
    const int32_t argon[3] = {18, 18, 18};
    const bool open[3] = {false, false, false};
    eqp_graph_t *graph = NULL;
    EXPECT_OK(eqp_graph_build(NULL, 3, &close[0][0], argon, NULL, open, far_cutoff, &graph));
    double forces[3][3];
    eqp_outputs_t out = {.n_atoms = 3, .forces = &forces[0][0]};
    EXPECT_OK(eqp_compute(model, graph, NULL, EQP_FLOAT64, &out));
    EXPECT(isfinite(out.energy));
    EXPECT_ERROR(eqp_compute(model, graph, NULL, EQP_FLOAT32, &out), EQP_ERROR_NON_FINITE, "eqp_compute",
                 "atom 1 (Z = 18)");
    eqp_graph_free(graph);
    eqp_model_free(model);
}

/* pbc flags are bytes: any nonzero byte means periodic. */
static void pbc_bytes(void) {
    eqp_model_t *model = lj_model();
    double energies[2];
    const unsigned char flags[2][3] = {{1, 1, 1}, {2, 255, 16}};
    for (int k = 0; k < 2; k++) {
        eqp_graph_t *graph = NULL;
        EXPECT_OK(eqp_graph_build(NULL, 4, &positions[0][0], numbers, &cell[0][0], (const bool *)flags[k], cutoff, &graph));
        eqp_outputs_t out = {.n_atoms = 4};
        EXPECT_OK(eqp_compute(model, graph, NULL, EQP_FLOAT64, &out));
        energies[k] = out.energy;
        eqp_graph_free(graph);
    }
    EXPECT(energies[0] == energies[1] && energies[0] != 0);
    eqp_model_free(model);
}

/* ------------------------------------------------------------------ main */

static const struct test_case CASES[] = {
    CASE(nan_position),
    CASE(inf_position),
    CASE(singular_cell),
    CASE(nan_cell),
    CASE(zero_length_periodic_axis),
    CASE(zero_length_free_axis_is_valid),
    CASE(periodic_without_cell),
    CASE(bad_cutoffs),
    CASE(zero_atoms),
    CASE(outputs_n_atoms_mismatch),
    CASE(graph_edges_mismatch),
    CASE(model_species_mismatch),
    CASE(neighbor_list_offsets_mismatch),
    CASE(neighbor_index_out_of_range),
    CASE(unknown_atomic_numbers),
    CASE(element_unknown_to_model),
    CASE(atoms_at_same_position),
    CASE(invalid_precision),
    CASE(graph_cutoff_below_model_cutoff),
    CASE(bad_lennard_jones_parameters),
    CASE(negative_thread_count),
    CASE(misaligned_positions),
    CASE(null_pointers_graph_build),
    CASE(null_pointers_graph_from_neighbor_list),
    CASE(null_pointers_graph_queries),
    CASE(null_pointers_model),
    CASE(null_pointers_compute),
    CASE(halo_exchange_of_a_local_model),
    CASE(null_pointers_compute_with_halo),
    CASE(null_pointers_workspace),
    CASE(free_null_is_a_no_op),
    CASE(last_error_survives_success),
    CASE(memory_limit),
    CASE(non_finite_result),
    CASE(pbc_bytes),
};

int main(void) {
    return run_cases(CASES, sizeof CASES / sizeof CASES[0]);
}
