// Cell-list neighbor search, reference kernels (one thread per atom, or one
// thread for a whole small step; they also run as host C++). The same pairs,
// shifts and order as src/graph/cell_list.rs: periodic along any axes,
// triclinic, cells smaller than the cutoff (a center scans as many periodic
// images of the bins as its cutoff sphere reaches), rows sorted by
// (neighbor, shift). Coordinates are double whatever the model's precision:
// the graph is the CPU's, in float64.
//
// The host passes the completed cell (graph::Cell: `matrix` rows are the
// lattice vectors, unit vectors along non-periodic axes; `inverse` its
// inverse) and runs, in order:
//   eqp_nl_wrap        per atom: wrapped position, how far it moved, fractional coordinates
//   eqp_nl_plan        one thread: the grid (extent along open axes, bins, reach)
//   eqp_nl_bin_count   per atom: its bin, counted           (atomics: a counting sort)
//   eqp_exclusive_scan one thread: bin starts
//   eqp_nl_bin_fill    per atom: its slot in its bin       (order inside a bin is free)
//   eqp_nl_count       per center: neighbors within the cutoff
//   eqp_exclusive_scan one thread: row offsets, and the number of edges
//   eqp_nl_fill        per center: its row, sorted, as neighbors, shifts and vectors
#include "host_compat.cuh"

// Two atoms closer than this (Å) are an error (graph::MIN_DISTANCE).
#define EQP_MIN_DISTANCE 1e-6
// Bins per atom at most (plus 8): sparse systems stay O(N) (cell_list.rs).
#define EQP_MAX_BINS_PER_ATOM 2
// Relative slack on the bins' reach, for rounding (cell_list.rs SLACK).
#define EQP_BIN_SLACK 1e-9
// Image components are packed in 11 bits each (cell_list.rs IMAGE_BITS).
#define EQP_IMAGE_BITS 11
#define EQP_IMAGE_BIAS (1 << (EQP_IMAGE_BITS - 1))

struct GridPlan {
    int shape[3];      // bins along each axis
    int n_bins;        // their product
    double low[3];     // fractional origin of the grid (0 along periodic axes)
    double density[3]; // bins per unit of fractional coordinate
    double reach[3];   // bins a cutoff spans, with slack
};

__device__ __forceinline__ void to_fractional(const double *inv, const double r[3], double f[3]) {
    for (int k = 0; k < 3; ++k) f[k] = r[0] * inv[0 * 3 + k] + r[1] * inv[1 * 3 + k] + r[2] * inv[2 * 3 + k];
}
__device__ __forceinline__ void to_cartesian(const double *m, const double s[3], double t[3]) {
    for (int k = 0; k < 3; ++k) t[k] = s[0] * m[0 * 3 + k] + s[1] * m[1 * 3 + k] + s[2] * m[2 * 3 + k];
}
__device__ __forceinline__ int64_t floor_div(int64_t a, int64_t b) {
    int64_t q = a / b;
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q;
}

extern "C" __global__ void eqp_nl_wrap(int n_atoms, const double *__restrict__ positions,
                                       const double *__restrict__ matrix, const double *__restrict__ inverse,
                                       const int *__restrict__ pbc, double *__restrict__ wrapped,
                                       int *__restrict__ moved, double *__restrict__ fractional) {
    const int64_t i = global_thread_index();
    if (i >= n_atoms) return;
    const double r[3] = {positions[3 * i], positions[3 * i + 1], positions[3 * i + 2]};
    double f[3], m[3], back[3];
    to_fractional(inverse, r, f);
    for (int k = 0; k < 3; ++k) m[k] = pbc[k] ? floor(f[k]) : 0.0;
    to_cartesian(matrix, m, back);
    double w[3];
    for (int k = 0; k < 3; ++k) {
        w[k] = r[k] - back[k];
        wrapped[3 * i + k] = w[k];
        moved[3 * i + k] = (int)m[k];
    }
    to_fractional(inverse, w, fractional + 3 * i);
}

extern "C" __global__ void eqp_nl_plan(int n_atoms, const double *__restrict__ matrix, const int *__restrict__ pbc,
                                       const double *__restrict__ fractional, double cutoff,
                                       GridPlan *__restrict__ plan) {
    if (global_thread_index() != 0) return;
    const double *m = matrix;
    double c01[3], c12[3], c20[3];
    const double *a = m, *b = m + 3, *c = m + 6;
    c12[0] = b[1] * c[2] - b[2] * c[1], c12[1] = b[2] * c[0] - b[0] * c[2], c12[2] = b[0] * c[1] - b[1] * c[0];
    c20[0] = c[1] * a[2] - c[2] * a[1], c20[1] = c[2] * a[0] - c[0] * a[2], c20[2] = c[0] * a[1] - c[1] * a[0];
    c01[0] = a[1] * b[2] - a[2] * b[1], c01[1] = a[2] * b[0] - a[0] * b[2], c01[2] = a[0] * b[1] - a[1] * b[0];
    const double volume = fabs(a[0] * c12[0] + a[1] * c12[1] + a[2] * c12[2]);
    const double *cross[3] = {c12, c20, c01};
    double faces[3], span[3], length[3];
    for (int k = 0; k < 3; ++k) {
        const double *x = cross[k];
        faces[k] = volume / sqrt(x[0] * x[0] + x[1] * x[1] + x[2] * x[2]);
        plan->low[k] = 0, span[k] = 1;
        if (!pbc[k]) {  // open axis: the atoms' own extent
            double lo = n_atoms > 0 ? fractional[k] : 0.0, hi = lo;
            for (int i = 1; i < n_atoms; ++i) lo = fmin(lo, fractional[3 * i + k]), hi = fmax(hi, fractional[3 * i + k]);
            plan->low[k] = lo;
            span[k] = hi > lo ? hi - lo : 0.0;
        }
        length[k] = span[k] * faces[k];
        plan->shape[k] = (int)fmax(1.0, floor(fmin(length[k] / cutoff, 1e6)));
    }
    const double max_bins = (double)EQP_MAX_BINS_PER_ATOM * n_atoms + 8;
    while ((double)plan->shape[0] * plan->shape[1] * plan->shape[2] > max_bins) {
        const double factor = cbrt(max_bins / ((double)plan->shape[0] * plan->shape[1] * plan->shape[2]));
        for (int k = 0; k < 3; ++k) plan->shape[k] = (int)fmax(1.0, floor(plan->shape[k] * factor));
    }
    plan->n_bins = plan->shape[0] * plan->shape[1] * plan->shape[2];
    for (int k = 0; k < 3; ++k) {
        plan->density[k] = span[k] > 0 ? plan->shape[k] / span[k] : 0.0;
        plan->reach[k] = span[k] > 0
                             ? cutoff / (length[k] / plan->shape[k]) * (1 + EQP_BIN_SLACK) + EQP_BIN_SLACK
                             : 0.0;
    }
}

__device__ __forceinline__ void bin_coords(const GridPlan &g, const double *f, double x[3]) {
    for (int k = 0; k < 3; ++k) x[k] = (f[k] - g.low[k]) * g.density[k];
}
__device__ __forceinline__ int bin_index(const GridPlan &g, const double x[3]) {
    int c[3];
    for (int k = 0; k < 3; ++k) {
        int b = (int)fmax(floor(x[k]), 0.0);
        c[k] = b < g.shape[k] - 1 ? b : g.shape[k] - 1;
    }
    return (c[0] * g.shape[1] + c[1]) * g.shape[2] + c[2];
}

// bin_counts: n_bins + 1 zeros; the count of bin b goes to bin_counts[b].
extern "C" __global__ void eqp_nl_bin_count(int n_atoms, const GridPlan *__restrict__ plan,
                                            const double *__restrict__ fractional, int *__restrict__ atom_bin,
                                            int *__restrict__ bin_counts) {
    const int64_t i = global_thread_index();
    if (i >= n_atoms) return;
    double x[3];
    bin_coords(*plan, fractional + 3 * i, x);
    const int b = bin_index(*plan, x);
    atom_bin[i] = b;
    atomicAdd(&bin_counts[b], 1);
}

// values[0..n] -> exclusive prefix sums in place, the total in values[n].
extern "C" __global__ void eqp_exclusive_scan(int n, int *__restrict__ values) {
    if (global_thread_index() != 0) return;
    int sum = 0;
    for (int k = 0; k < n; ++k) {
        int v = values[k];
        values[k] = sum;
        sum += v;
    }
    values[n] = sum;
}

// bin_fill: n_bins zeros (slots taken so far).
extern "C" __global__ void eqp_nl_bin_fill(int n_atoms, const int *__restrict__ atom_bin,
                                           const int *__restrict__ bin_starts, int *__restrict__ bin_fill,
                                           int *__restrict__ bin_atoms) {
    const int64_t i = global_thread_index();
    if (i >= n_atoms) return;
    const int b = atom_bin[i];
    bin_atoms[bin_starts[b] + atomicAdd(&bin_fill[b], 1)] = (int)i;
}

// Visits every (neighbor j, image) of center i closer than the cutoff, in
// the CPU's arithmetic: distances from wrapped positions, the center moved
// back by the image translation t = (a, b, c) . cell summed in its order.
template <typename Visit>
__device__ __forceinline__ void for_each_neighbor(int i, const GridPlan &g, const double *m, const int *pbc,
                                                  const double *wrapped, const double *fractional,
                                                  const int *bin_starts, const int *bin_atoms, double cutoff,
                                                  Visit visit) {
    const double cut2 = cutoff * cutoff;
    double x[3];
    bin_coords(g, fractional + 3 * i, x);
    int64_t first[3], last[3];
    for (int k = 0; k < 3; ++k) {
        first[k] = (int64_t)floor(x[k] - g.reach[k]);
        last[k] = (int64_t)floor(x[k] + g.reach[k]);
        if (!pbc[k]) {
            first[k] = first[k] > 0 ? first[k] : 0;
            last[k] = last[k] < g.shape[k] - 1 ? last[k] : g.shape[k] - 1;
        }
    }
    const double wi[3] = {wrapped[3 * i], wrapped[3 * i + 1], wrapped[3 * i + 2]};
    for (int64_t bx = first[0]; bx <= last[0]; ++bx) {
        const int a = (int)floor_div(bx, g.shape[0]);
        const int nx = (int)(bx - (int64_t)a * g.shape[0]);
        double ta[3];
        for (int k = 0; k < 3; ++k) ta[k] = a * m[0 * 3 + k];
        for (int64_t by = first[1]; by <= last[1]; ++by) {
            const int b = (int)floor_div(by, g.shape[1]);
            const int ny = (int)(by - (int64_t)b * g.shape[1]);
            double tab[3];
            for (int k = 0; k < 3; ++k) tab[k] = ta[k] + b * m[1 * 3 + k];
            for (int64_t bz = first[2]; bz <= last[2]; ++bz) {
                const int c = (int)floor_div(bz, g.shape[2]);
                const int nz = (int)(bz - (int64_t)c * g.shape[2]);
                double origin[3];
                for (int k = 0; k < 3; ++k) origin[k] = wi[k] - (tab[k] + c * m[2 * 3 + k]);
                const bool home = a == 0 && b == 0 && c == 0;
                const int bin = (nx * g.shape[1] + ny) * g.shape[2] + nz;
                for (int s = bin_starts[bin]; s < bin_starts[bin + 1]; ++s) {
                    const int j = bin_atoms[s];
                    const double v0 = wrapped[3 * j] - origin[0], v1 = wrapped[3 * j + 1] - origin[1],
                                 v2 = wrapped[3 * j + 2] - origin[2];
                    if (v0 * v0 + v1 * v1 + v2 * v2 < cut2 && !(home && j == i)) visit(j, a, b, c);
                }
            }
        }
    }
}

extern "C" __global__ void eqp_nl_count(int n_atoms, const GridPlan *__restrict__ plan,
                                        const double *__restrict__ matrix, const int *__restrict__ pbc,
                                        const double *__restrict__ wrapped, const double *__restrict__ fractional,
                                        const int *__restrict__ bin_starts, const int *__restrict__ bin_atoms,
                                        double cutoff, int *__restrict__ counts) {
    const int64_t i = global_thread_index();
    if (i >= n_atoms) return;
    int n = 0;
    for_each_neighbor((int)i, *plan, matrix, pbc, wrapped, fractional, bin_starts, bin_atoms, cutoff,
                      [&](int, int, int, int) { ++n; });
    counts[i] = n;
}

// (neighbor, image) packed so that integer order is (j, a, b, c) order.
__device__ __forceinline__ uint64_t pack_edge(int j, int a, int b, int c) {
    return (uint64_t)j << (3 * EQP_IMAGE_BITS) | (uint64_t)(a + EQP_IMAGE_BIAS) << (2 * EQP_IMAGE_BITS) |
           (uint64_t)(b + EQP_IMAGE_BIAS) << EQP_IMAGE_BITS | (uint64_t)(c + EQP_IMAGE_BIAS);
}

// keys: n_edges scratch. coincident: INT_MAX on entry; the lowest center with
// an atom at zero distance on exit.
extern "C" __global__ void eqp_nl_fill(int n_atoms, const GridPlan *__restrict__ plan,
                                       const double *__restrict__ matrix, const int *__restrict__ pbc,
                                       const double *__restrict__ positions, const double *__restrict__ wrapped,
                                       const int *__restrict__ moved, const double *__restrict__ fractional,
                                       const int *__restrict__ bin_starts, const int *__restrict__ bin_atoms,
                                       double cutoff, const int *__restrict__ offsets, uint64_t *__restrict__ keys,
                                       int *__restrict__ centers, int *__restrict__ neighbors,
                                       int *__restrict__ shifts, double *__restrict__ vectors,
                                       int *__restrict__ coincident) {
    const int64_t i = global_thread_index();
    if (i >= n_atoms) return;
    const int begin = offsets[i], end = offsets[i + 1];
    int at = begin;
    for_each_neighbor((int)i, *plan, matrix, pbc, wrapped, fractional, bin_starts, bin_atoms, cutoff,
                      [&](int j, int a, int b, int c) {
                          if (at < end) keys[at++] = pack_edge(j, a, b, c);
                      });
    for (int k = begin + 1; k < end; ++k) {  // rows are short: insertion sort
        const uint64_t key = keys[k];
        int p = k;
        while (p > begin && keys[p - 1] > key) keys[p] = keys[p - 1], --p;
        keys[p] = key;
    }
    const double *pi = positions + 3 * i;
    const int *mi = moved + 3 * i;
    const uint64_t mask = (1u << EQP_IMAGE_BITS) - 1;
    for (int e = begin; e < end; ++e) {
        const int j = (int)(keys[e] >> (3 * EQP_IMAGE_BITS));
        const int image[3] = {(int)((keys[e] >> (2 * EQP_IMAGE_BITS)) & mask) - EQP_IMAGE_BIAS,
                              (int)((keys[e] >> EQP_IMAGE_BITS) & mask) - EQP_IMAGE_BIAS,
                              (int)(keys[e] & mask) - EQP_IMAGE_BIAS};
        // The shift from the original positions: the image plus how far each atom was wrapped.
        double s[3], t[3];
        for (int k = 0; k < 3; ++k) {
            shifts[3 * e + k] = image[k] + mi[k] - moved[3 * j + k];
            s[k] = (double)shifts[3 * e + k];
        }
        to_cartesian(matrix, s, t);
        const double *pj = positions + 3 * j;
        double d2 = 0;
        for (int k = 0; k < 3; ++k) {
            vectors[3 * e + k] = pj[k] - pi[k] + t[k];
            d2 += vectors[3 * e + k] * vectors[3 * e + k];
        }
        centers[e] = (int)i;
        neighbors[e] = j;
        if (d2 < EQP_MIN_DISTANCE * EQP_MIN_DISTANCE) atomicMin(coincident, (int)i);
    }
}
