/*
 * Bad input for a SevenNet model through the C ABI: an element the model does
 * not know, model files of another architecture, truncated or of a newer
 * format, an unknown modal, a failing halo exchange; and one valid edge case,
 * an atom farther than the cutoff from everything. Each must come back as a
 * status code and a message that names the problem. Reads the converted models from the directory
 * given as argv[1] (scripts/ci/46-sevenn-consumers.sh passes
 * $EQUIPOT_SEVENN_MODELS); writes its broken files into argv[2].
 */
#include "cases.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *models_dir, *scratch_dir;

/* The call failed with `status`, and the message contains `needle`. */
#define EXPECT_ERROR(call, status, needle) expect_error_at((call), (status), "", (needle), __LINE__)

static void path_in(char *out, size_t size, const char *dir, const char *name) {
    snprintf(out, size, "%s/%s", dir, name);
}

static eqp_model_t *load(const char *name, const char *modal) {
    char path[4096];
    path_in(path, sizeof path, models_dir, name);
    eqp_model_t *model = NULL;
    if (eqp_model_load_modal(path, modal, &model) != EQP_SUCCESS) {
        fprintf(stderr, "  cannot load %s: %s\n", path, eqp_last_error());
        case_failed = 1;
    }
    return model;
}

/* Writes SevenNet-0's file to `name` in the scratch directory, its first
 * `keep` bytes only, after replacing `from` by `to` (same length) once in its
 * header. */
static void write_variant(const char *name, size_t keep, const char *from, const char *to, char *out, size_t size) {
    char source[4096];
    path_in(source, sizeof source, models_dir, "SevenNet_0__11Jul2024.eqp.safetensors");
    size_t n = 0;
    unsigned char *data = slurp(source, &n);
    EXPECT(data != NULL);
    if (!data) return;
    if (from) replace_once(data, n, 200000, from, to);
    path_in(out, size, scratch_dir, name);
    FILE *f = fopen(out, "wb");
    EXPECT(f != NULL);
    if (f) {
        EXPECT(fwrite(data, 1, keep < n ? keep : n, f) == (keep < n ? keep : n));
        fclose(f);
    }
    free(data);
}

static eqp_status_t compute_energy(eqp_model_t *model, size_t n, const double (*positions)[3], const int32_t *numbers,
                                   double *energy, double (*forces)[3], double *atom_energies) {
    const bool pbc[3] = {false, false, false};
    double cutoff = 0;
    EXPECT_OK(eqp_model_cutoff(model, &cutoff));
    eqp_graph_t *graph = NULL;
    eqp_status_t status = eqp_graph_build(NULL, n, &positions[0][0], numbers, NULL, pbc, cutoff, &graph);
    if (status != EQP_SUCCESS) return status;
    eqp_outputs_t out = {n, 0.0, forces ? &forces[0][0] : NULL, NULL, atom_energies, NULL};
    status = eqp_compute(model, graph, NULL, EQP_FLOAT64, &out);
    *energy = out.energy;
    eqp_graph_free(graph);
    return status;
}

static void unknown_element(void) {
    eqp_model_t *model = load("SevenNet_0__11Jul2024.eqp.safetensors", NULL);
    const double positions[2][3] = {{0, 0, 0}, {2.5, 0, 0}};
    const int32_t numbers[2] = {14, 118}; /* Si, Og */
    double energy = 0;
    EXPECT_ERROR(compute_energy(model, 2, positions, numbers, &energy, NULL, NULL), EQP_ERROR_UNKNOWN_ELEMENT,
                 "atom 1 has atomic number 118, which the model does not know");
    eqp_model_free(model);
}

/* Valid input: an atom 1 mÅ beyond the cutoff of the others keeps its
 * lone-atom energy and feels no force. */
static void isolated_atom_is_valid(void) {
    eqp_model_t *model = load("SevenNet_0__11Jul2024.eqp.safetensors", NULL);
    double cutoff = 0;
    EXPECT_OK(eqp_model_cutoff(model, &cutoff));
    const double lone_position[1][3] = {{0, 0, 0}};
    const int32_t fe = 26;
    double lone = 0;
    EXPECT_OK(compute_energy(model, 1, lone_position, &fe, &lone, NULL, NULL));
    const double positions[3][3] = {{0, 0, 0}, {2.3, 0, 0}, {2.3 + cutoff + 1e-3, 0, 0}};
    const int32_t numbers[3] = {14, 8, 26};
    double energy = 0, forces[3][3], atom_energies[3];
    EXPECT_OK(compute_energy(model, 3, positions, numbers, &energy, forces, atom_energies));
    EXPECT(fabs(atom_energies[2] - lone) <= 1e-12);
    EXPECT(forces[2][0] == 0 && forces[2][1] == 0 && forces[2][2] == 0);
    EXPECT(fabs(forces[0][0]) > 1e-3); /* the Si–O pair does interact */
    eqp_model_free(model);
}

static void other_architecture(void) {
    char path[4096];
    write_variant("painn.eqp.safetensors", SIZE_MAX, "\\\"nequip\\\"", "\\\"painn\\\" ", path, sizeof path);
    eqp_model_t *model = (eqp_model_t *)&case_failed;
    EXPECT_ERROR(eqp_model_load(path, &model), EQP_ERROR_MODEL_FORMAT,
                 "architecture \"painn\" cannot be loaded by this version of equipot");
    EXPECT(model == NULL);
}

static void truncated_file(void) {
    char source[4096], path[4096];
    path_in(source, sizeof source, models_dir, "SevenNet_0__11Jul2024.eqp.safetensors");
    size_t n = 0;
    free(slurp(source, &n));
    write_variant("half.eqp.safetensors", n / 2, NULL, NULL, path, sizeof path);
    eqp_model_t *model = NULL;
    EXPECT_ERROR(eqp_model_load(path, &model), EQP_ERROR_MODEL_FORMAT, "truncated");
    EXPECT(model == NULL);
    write_variant("header-only.eqp.safetensors", 100, NULL, NULL, path, sizeof path);
    EXPECT_ERROR(eqp_model_load(path, &model), EQP_ERROR_MODEL_FORMAT, "truncated");
}

static void newer_format(void) {
    char path[4096];
    write_variant("v9.eqp.safetensors", SIZE_MAX, "\\\"format_version\\\": \\\"1.0\\\"",
                  "\\\"format_version\\\": \\\"9.0\\\"", path, sizeof path);
    eqp_model_t *model = NULL;
    EXPECT_ERROR(eqp_model_load(path, &model), EQP_ERROR_MODEL_FORMAT, "format version 9.0 is newer");
}

static void modals(void) {
    char mf[4096], single[4096];
    path_in(mf, sizeof mf, models_dir, "SevenNet_MF_0.eqp.safetensors");
    path_in(single, sizeof single, models_dir, "SevenNet_0__11Jul2024.eqp.safetensors");
    eqp_model_t *model = NULL;
    EXPECT_ERROR(eqp_model_load_modal(mf, "HSE06", &model), EQP_ERROR_INVALID_ARGUMENT,
                 "unknown modal \"HSE06\": this model has [\"R2SCAN\", \"PBE\"]");
    EXPECT(model == NULL);
    EXPECT_ERROR(eqp_model_load_modal(single, "PBE", &model), EQP_ERROR_INVALID_ARGUMENT,
                 "but this model has none");
    /* NULL is the default modal (PBE), and the heads differ. */
    const double positions[2][3] = {{0, 0, 0}, {1.6, 0, 0}};
    const int32_t numbers[2] = {14, 8};
    double e_default = 0, e_pbe = 0, e_r2scan = 0;
    eqp_model_t *m = load("SevenNet_MF_0.eqp.safetensors", NULL);
    EXPECT_OK(compute_energy(m, 2, positions, numbers, &e_default, NULL, NULL));
    eqp_model_free(m);
    m = load("SevenNet_MF_0.eqp.safetensors", "PBE");
    EXPECT_OK(compute_energy(m, 2, positions, numbers, &e_pbe, NULL, NULL));
    eqp_model_free(m);
    m = load("SevenNet_MF_0.eqp.safetensors", "R2SCAN");
    EXPECT_OK(compute_energy(m, 2, positions, numbers, &e_r2scan, NULL, NULL));
    eqp_model_free(m);
    EXPECT(e_default == e_pbe);
    EXPECT(fabs(e_pbe - e_r2scan) > 1e-3);
}

static void missing_file(void) {
    eqp_model_t *model = NULL;
    EXPECT_ERROR(eqp_model_load("/nonexistent/model.eqp.safetensors", &model), EQP_ERROR_IO, "cannot read");
    EXPECT_ERROR(eqp_model_load_modal(NULL, NULL, &model), EQP_ERROR_NULL_POINTER, "`path` is NULL");
}

/* A halo exchange that records its calls and returns `fail_status` at call
 * number `fail_at` (0: never). The graphs below have no ghosts: there is
 * nothing to copy. */
struct halo_log {
    int count, forward, reverse, fail_at;
    int32_t fail_status;
    bool out_of_order, null_values;
    size_t n_atoms, max_width;
};

static int32_t logging_exchange(void *user_data, eqp_halo_direction_t direction, double *values, size_t n_atoms,
                                size_t width) {
    struct halo_log *log = user_data;
    log->count++;
    direction == EQP_HALO_FORWARD ? log->forward++ : log->reverse++;
    /* Reverse calls come only after every forward call. */
    log->out_of_order |= direction == EQP_HALO_FORWARD && log->reverse > 0;
    log->null_values |= n_atoms * width > 0 && values == NULL;
    log->n_atoms = n_atoms;
    if (width > log->max_width) log->max_width = width;
    return log->count == log->fail_at ? log->fail_status : 0;
}

/* SevenNet-0 asks for one forward exchange per layer and, with forces, one
 * reverse per layer, also on a graph with no atoms (a rank with nothing to
 * do still takes part); a failing exchange stops it with
 * EQP_ERROR_CALLBACK and the callback's status in the message. */
static void halo_exchange_calls_and_failure(void) {
    eqp_model_t *model = load("SevenNet_0__11Jul2024.eqp.safetensors", NULL);
    size_t layers = 0, width = 0;
    EXPECT_OK(eqp_model_n_layers(model, &layers));
    EXPECT_OK(eqp_model_halo_width(model, &width));
    EXPECT(layers == 5 && width > 0);
    const double positions[2][3] = {{0, 0, 0}, {1.6, 0, 0}};
    const int32_t numbers[2] = {14, 8};
    eqp_graph_t *graphs[2] = {NULL, NULL};
    EXPECT_OK(eqp_graph_build(NULL, 2, &positions[0][0], numbers, NULL, NULL, 5.0, &graphs[0]));
    EXPECT_OK(eqp_graph_build(NULL, 0, NULL, NULL, NULL, NULL, 5.0, &graphs[1]));
    for (int k = 0; k < 2; k++) {
        const size_t n = k == 0 ? 2 : 0;
        double forces[2][3], plain_forces[2][3];
        eqp_outputs_t plain = {n, 0.0, &plain_forces[0][0], NULL, NULL, NULL};
        eqp_outputs_t out = {n, 0.0, &forces[0][0], NULL, NULL, NULL};
        struct halo_log log = {0};
        EXPECT_OK(eqp_compute(model, graphs[k], NULL, EQP_FLOAT64, &plain));
        EXPECT_OK(eqp_compute_with_halo(model, graphs[k], NULL, EQP_FLOAT64, logging_exchange, &log, &out));
        EXPECT(!log.out_of_order && !log.null_values);
        EXPECT(log.count == 2 * (int)layers && log.forward == (int)layers);
        EXPECT(log.n_atoms == n && log.max_width > 0 && log.max_width <= width);
        EXPECT(fabs(out.energy - plain.energy) <= 1e-12 * fabs(plain.energy));
        /* Energy only: forward exchanges alone. */
        out.forces = NULL;
        log = (struct halo_log){0};
        EXPECT_OK(eqp_compute_with_halo(model, graphs[k], NULL, EQP_FLOAT64, logging_exchange, &log, &out));
        EXPECT(log.count == (int)layers && log.reverse == 0);
        /* A failure, forward or reverse. */
        out.forces = &forces[0][0];
        for (int at = 1; at <= 2 * (int)layers; at += (int)layers) {
            log = (struct halo_log){.fail_at = at, .fail_status = -3};
            EXPECT_ERROR(eqp_compute_with_halo(model, graphs[k], NULL, EQP_FLOAT64, logging_exchange, &log, &out),
                         EQP_ERROR_CALLBACK, "the halo exchange callback returned -3");
            EXPECT(log.count == at);
        }
    }
    eqp_graph_free(graphs[0]);
    eqp_graph_free(graphs[1]);
    eqp_model_free(model);
}

/* Edges past the cutoff change nothing: a graph built with r_c + 2 Å gives
 * SevenNet-0's numbers; a 2-atom cell given in nm (atoms 0.235 Å apart) is
 * refused, not evaluated into 1e12 eV. */
static void edges_past_cutoff_and_nm_cells(void) {
    eqp_model_t *model = load("SevenNet_0__11Jul2024.eqp.safetensors", NULL);
    double cutoff = 0;
    EXPECT_OK(eqp_model_cutoff(model, &cutoff));
    const double a = 5.43, cell[3][3] = {{0, a / 2, a / 2}, {a / 2, 0, a / 2}, {a / 2, a / 2, 0}};
    const double positions[2][3] = {{0, 0, 0}, {a / 4 + 0.05, a / 4, a / 4 - 0.03}};
    const int32_t numbers[2] = {14, 14};
    const bool pbc[3] = {true, true, true};
    double energy[2], forces[2][2][3];
    for (int k = 0; k < 2; k++) {
        eqp_graph_t *graph = NULL;
        EXPECT_OK(eqp_graph_build(NULL, 2, &positions[0][0], numbers, &cell[0][0], pbc, cutoff + 2.0 * k, &graph));
        eqp_outputs_t out = {2, 0.0, &forces[k][0][0], NULL, NULL, NULL};
        EXPECT_OK(eqp_compute(model, graph, NULL, EQP_FLOAT64, &out));
        energy[k] = out.energy;
        eqp_graph_free(graph);
    }
    EXPECT(fabs(energy[1] - energy[0]) <= 1e-12 * fabs(energy[0]));
    for (int i = 0; i < 6; i++) EXPECT(fabs((&forces[1][0][0])[i] - (&forces[0][0][0])[i]) <= 1e-12);
    double nm[3][3], nm_positions[2][3];
    for (int i = 0; i < 9; i++) (&nm[0][0])[i] = (&cell[0][0])[i] / 10;
    for (int i = 0; i < 6; i++) (&nm_positions[0][0])[i] = (&positions[0][0])[i] / 10;
    eqp_graph_t *graph = NULL;
    EXPECT_OK(eqp_graph_build(NULL, 2, &nm_positions[0][0], numbers, &nm[0][0], pbc, cutoff, &graph));
    eqp_outputs_t out = {.n_atoms = 2};
    EXPECT_ERROR(eqp_compute(model, graph, NULL, EQP_FLOAT32, &out), EQP_ERROR_INVALID_ARGUMENT, "Å apart");
    eqp_graph_free(graph);
    eqp_model_free(model);
}

static const struct test_case CASES[] = {
    CASE(unknown_element), CASE(isolated_atom_is_valid), CASE(other_architecture), CASE(truncated_file),
    CASE(newer_format),    CASE(modals),                 CASE(missing_file),
    CASE(halo_exchange_calls_and_failure), CASE(edges_past_cutoff_and_nm_cells),
};

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: %s MODELS_DIR SCRATCH_DIR (MODELS_DIR: the converted SevenNet models)\n", argv[0]);
        return 2;
    }
    models_dir = argv[1];
    scratch_dir = argv[2];
    return run_cases(CASES, sizeof CASES / sizeof CASES[0]);
}
