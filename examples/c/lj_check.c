/*
 * equipot from C: builds a periodic two-species Lennard-Jones system (a
 * rattled, sheared 3x3x3 fcc supercell of Ar with some Kr), evaluates the
 * library's shifted Lennard-Jones model, and checks energy, per-atom energies,
 * forces and virial against this file's own O(N^2)-over-images loop, plus
 * momentum conservation and the header/library version match.
 *
 * Exit status 0 when every check passes.
 */
#include <equipot.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_CELLS 3
#define N_ATOMS (4 * N_CELLS * N_CELLS * N_CELLS)
#define CUTOFF 8.5

/* Species Ar (18) and Kr (36); Lorentz-Berthelot-like pair parameters. */
static const int32_t SPECIES[2] = {18, 36};
static const double EPSILON[4] = {0.0104, 0.0125, 0.0125, 0.0150}; /* eV */
static const double SIGMA[4] = {3.40, 3.52, 3.52, 3.65};           /* Å */

static int failures = 0;

static void check(int ok, const char *what, double got, double want) {
    if (!ok) {
        fprintf(stderr, "FAIL %s: library %.17g, reference %.17g\n", what, got, want);
        failures++;
    }
}

/* Stops at the first failing library call, printing eqp_last_error(). */
static void require(eqp_status_t status, const char *call) {
    if (status != EQP_SUCCESS) {
        fprintf(stderr, "%s failed (status %d): %s\n", call, (int)status, eqp_last_error());
        exit(1);
    }
}

static int species_index(int32_t z) { return z == SPECIES[0] ? 0 : 1; }

/* A small deterministic pseudo-random generator (no libc rand()). */
static double uniform(unsigned long long *state) {
    *state = *state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(*state >> 11) / 9007199254740992.0; /* [0, 1) */
}

static void build_system(double positions[][3], int32_t numbers[], double cell[3][3]) {
    const double a = 5.26; /* fcc Ar lattice constant, Å */
    const double basis[4][3] = {{0, 0, 0}, {0.5, 0.5, 0}, {0.5, 0, 0.5}, {0, 0.5, 0.5}};
    const double shape[3][3] = {{1.0, 0.0, 0.0}, {0.06, 1.0, 0.0}, {0.04, -0.08, 1.0}};
    unsigned long long state = 42;
    for (int r = 0; r < 3; r++)
        for (int c = 0; c < 3; c++) cell[r][c] = N_CELLS * a * shape[r][c];
    int n = 0;
    for (int i = 0; i < N_CELLS; i++)
        for (int j = 0; j < N_CELLS; j++)
            for (int k = 0; k < N_CELLS; k++)
                for (int b = 0; b < 4; b++, n++) {
                    double f[3] = {(i + basis[b][0]) / N_CELLS, (j + basis[b][1]) / N_CELLS,
                                   (k + basis[b][2]) / N_CELLS};
                    for (int c = 0; c < 3; c++) {
                        positions[n][c] = f[0] * cell[0][c] + f[1] * cell[1][c] + f[2] * cell[2][c];
                        positions[n][c] += 0.2 * (uniform(&state) - 0.5);
                    }
                    numbers[n] = (n % 5 == 0) ? SPECIES[1] : SPECIES[0];
                }
}

static void cross(const double a[3], const double b[3], double out[3]) {
    out[0] = a[1] * b[2] - a[2] * b[1];
    out[1] = a[2] * b[0] - a[0] * b[2];
    out[2] = a[0] * b[1] - a[1] * b[0];
}

static double dot(const double a[3], const double b[3]) { return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]; }

/* Pair energy and (1/r) dphi/dr of the shifted Lennard-Jones potential. */
static void lj(double eps, double sig, double r2, double *phi, double *dphi_over_r) {
    double s6 = pow(sig * sig / r2, 3), c6 = pow(sig / CUTOFF, 6);
    *phi = 4 * eps * (s6 * s6 - s6) - 4 * eps * (c6 * c6 - c6);
    *dphi_over_r = -24 * eps * (2 * s6 * s6 - s6) / r2;
}

/* The reference: every ordered pair (i, j) and every image T with
 * |r_j + T - r_i| < cutoff, each atom taking half of each pair's energy. */
static void reference(const double pos[][3], const int32_t numbers[], const double cell[3][3], double *energy,
                      double atom_energies[], double forces[][3], double virial[3][3]) {
    int reach[3];
    double volume, normal[3];
    cross(cell[1], cell[2], normal);
    volume = fabs(dot(cell[0], normal));
    for (int k = 0; k < 3; k++) { /* images needed: cutoff / distance between faces */
        cross(cell[(k + 1) % 3], cell[(k + 2) % 3], normal);
        reach[k] = (int)ceil(CUTOFF / (volume / sqrt(dot(normal, normal))));
    }
    *energy = 0;
    memset(atom_energies, 0, N_ATOMS * sizeof(double));
    memset(forces, 0, N_ATOMS * sizeof(double[3]));
    memset(virial, 0, sizeof(double[3][3]));
    for (int i = 0; i < N_ATOMS; i++)
        for (int j = 0; j < N_ATOMS; j++)
            for (int a = -reach[0]; a <= reach[0]; a++)
                for (int b = -reach[1]; b <= reach[1]; b++)
                    for (int c = -reach[2]; c <= reach[2]; c++) {
                        if (i == j && a == 0 && b == 0 && c == 0) continue;
                        double d[3];
                        for (int x = 0; x < 3; x++)
                            d[x] = pos[j][x] - pos[i][x] + a * cell[0][x] + b * cell[1][x] + c * cell[2][x];
                        double r2 = dot(d, d);
                        if (r2 >= CUTOFF * CUTOFF) continue;
                        int p = 2 * species_index(numbers[i]) + species_index(numbers[j]);
                        double phi, dphi_over_r;
                        lj(EPSILON[p], SIGMA[p], r2, &phi, &dphi_over_r);
                        atom_energies[i] += 0.5 * phi;
                        *energy += 0.5 * phi;
                        for (int x = 0; x < 3; x++) {
                            forces[i][x] += dphi_over_r * d[x];
                            for (int y = 0; y < 3; y++) virial[x][y] -= 0.5 * dphi_over_r * d[x] * d[y];
                        }
                    }
}

static double max_abs(const double *x, size_t n) {
    double m = 0;
    for (size_t k = 0; k < n; k++) m = fmax(m, fabs(x[k]));
    return m;
}

/* |got - want| <= 1e-10 * scale, element by element. */
static void compare(const char *what, const double *got, const double *want, size_t n, double scale) {
    for (size_t k = 0; k < n; k++) {
        char label[64];
        snprintf(label, sizeof label, "%s[%zu]", what, k);
        check(fabs(got[k] - want[k]) <= 1e-10 * scale, label, got[k], want[k]);
    }
}

static int check_version(void) {
    int major = -1, minor = -1, patch = -1;
    char expected[32];
    snprintf(expected, sizeof expected, "%d.%d.%d", EQP_VERSION_MAJOR, EQP_VERSION_MINOR, EQP_VERSION_PATCH);
    if (sscanf(eqp_version(), "%d.%d.%d", &major, &minor, &patch) != 3 || strcmp(eqp_version(), expected) != 0) {
        fprintf(stderr, "FAIL version: library %s, header %s\n", eqp_version(), expected);
        return 0;
    }
    return 1;
}

int main(void) {
    static double positions[N_ATOMS][3], forces[N_ATOMS][3], atom_energies[N_ATOMS];
    static double ref_forces[N_ATOMS][3], ref_atom_energies[N_ATOMS];
    static int32_t numbers[N_ATOMS];
    double cell[3][3], virial[3][3], ref_virial[3][3], ref_energy;
    const bool pbc[3] = {true, true, true};

    if (!check_version()) failures++;
    build_system(positions, numbers, cell);

    eqp_workspace_t *workspace = NULL;
    eqp_model_t *model = NULL;
    eqp_graph_t *graph = NULL;
    require(eqp_workspace_new(2, &workspace), "eqp_workspace_new");
    require(eqp_model_new_lennard_jones(2, SPECIES, EPSILON, SIGMA, CUTOFF, &model), "eqp_model_new_lennard_jones");
    require(eqp_graph_build(workspace, N_ATOMS, &positions[0][0], numbers, &cell[0][0], pbc, CUTOFF, &graph),
            "eqp_graph_build");
    size_t n_edges = 0;
    require(eqp_graph_n_edges(graph, &n_edges), "eqp_graph_n_edges");

    eqp_outputs_t out = {.n_atoms = N_ATOMS,
                         .forces = &forces[0][0],
                         .virial = &virial[0][0],
                         .atom_energies = atom_energies};
    require(eqp_compute(model, graph, workspace, EQP_FLOAT64, &out), "eqp_compute");

    reference((const double(*)[3])positions, numbers, (const double(*)[3])cell, &ref_energy, ref_atom_energies,
              ref_forces, ref_virial);
    check(fabs(out.energy - ref_energy) <= 1e-10 * fabs(ref_energy), "energy", out.energy, ref_energy);
    compare("atom_energies", atom_energies, ref_atom_energies, N_ATOMS, max_abs(ref_atom_energies, N_ATOMS));
    compare("forces", &forces[0][0], &ref_forces[0][0], 3 * N_ATOMS, max_abs(&ref_forces[0][0], 3 * N_ATOMS));
    compare("virial", &virial[0][0], &ref_virial[0][0], 9, max_abs(&ref_virial[0][0], 9));

    /* Newton's third law: the forces of a periodic system sum to zero. */
    double total[3] = {0, 0, 0}, max_force = max_abs(&forces[0][0], 3 * N_ATOMS);
    for (int i = 0; i < N_ATOMS; i++)
        for (int x = 0; x < 3; x++) total[x] += forces[i][x];
    for (int x = 0; x < 3; x++) check(fabs(total[x]) <= 1e-12 * N_ATOMS * max_force, "sum of forces", total[x], 0);

    /* Single precision: same physics, float rounding (energy to ~1e-6). */
    eqp_outputs_t out32 = {.n_atoms = N_ATOMS};
    require(eqp_compute(model, graph, workspace, EQP_FLOAT32, &out32), "eqp_compute (float32)");
    check(fabs(out32.energy - ref_energy) <= 1e-5 * fabs(ref_energy), "energy (float32)", out32.energy, ref_energy);

    printf("equipot %s (header %d.%d.%d), model %s\n", eqp_version(), EQP_VERSION_MAJOR, EQP_VERSION_MINOR,
           EQP_VERSION_PATCH, eqp_model_architecture(model));
    printf("%d atoms (Ar/Kr, sheared fcc 3x3x3), %zu edges within %.2f A\n", N_ATOMS, n_edges, CUTOFF);
    printf("energy %.12f eV (reference %.12f), |F|max %.6f eV/A, |sum F| %.2e eV/A\n", out.energy, ref_energy,
           max_force, sqrt(dot(total, total)));
    printf("virial diagonal %.8f %.8f %.8f eV; float32 energy %.8f eV\n", virial[0][0], virial[1][1], virial[2][2],
           out32.energy);

    eqp_graph_free(graph);
    eqp_model_free(model);
    eqp_workspace_free(workspace);
    if (failures) {
        printf("%d checks FAILED\n", failures);
        return 1;
    }
    printf("all checks passed\n");
    return 0;
}
