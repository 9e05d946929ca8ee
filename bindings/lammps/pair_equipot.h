/* -*- c++ -*- ----------------------------------------------------------
   pair_style equipot: equivariant machine-learned potentials evaluated by
   the equipot library through its C ABI (include/equipot.h).

   Builds as a plugin (equipot_plugin.cpp, CMakeLists.txt) or in a LAMMPS
   source tree (the PAIR_CLASS block below registers the style there).
------------------------------------------------------------------------- */

#ifdef PAIR_CLASS
// clang-format off
PairStyle(equipot,PairEquipot);
// clang-format on
#else

#ifndef LMP_PAIR_EQUIPOT_H
#define LMP_PAIR_EQUIPOT_H

#include "pair.h"

#include "equipot.h"

#include <string>
#include <vector>

namespace LAMMPS_NS {

class PairEquipot : public Pair {
 public:
  PairEquipot(class LAMMPS *);
  ~PairEquipot() override;

  void compute(int, int) override;
  void settings(int, char **) override;
  void coeff(int, char **) override;
  void init_style() override;
  double init_one(int, int) override;
  double memory_usage() override;

  // Halo exchange of node features (graph exchange).
  int pack_forward_comm(int, int *, double *, int, int *) override;
  void unpack_forward_comm(int, int, double *) override;
  int pack_reverse_comm(int, int, double *) override;
  void unpack_reverse_comm(int, int *, double *) override;

 protected:
  eqp_model_t *model = nullptr;
  eqp_workspace_t *workspace = nullptr;
  eqp_precision_t precision = EQP_FLOAT64;
  int radial = EQP_RADIAL_DEFAULT;    // EQP_RADIAL_*: radial tables or exact networks
  int n_threads = 1;
  int device = EQP_DEVICE_CPU;    // EQP_DEVICE_* of the workspace
  enum GraphMode { GRAPH_AUTO, GRAPH_EXCHANGE, GRAPH_SHELL, GRAPH_PERIODIC };
  GraphMode graph_mode = GRAPH_AUTO;    // as asked in pair_style
  GraphMode graph = GRAPH_EXCHANGE;     // as resolved for this run (init_style)
  std::string modal;                    // fidelity head of a multi-fidelity model ("": its default)
  double cutoff = 0.0;     // of one interaction, from the model (Å)
  size_t n_layers = 1;     // message-passing layers, from the model
  size_t halo_width = 0;   // widest node feature the model exchanges
  std::vector<int> type_number;    // atomic number of each LAMMPS type (1-based), 0 for NULL

  // Atoms of the graph: those of types mapped to an element (NULL types are
  // left to other pair styles), in LAMMPS's order, numbered from 0.
  std::vector<int> graph_atoms;    // graph atom → LAMMPS atom index
  std::vector<int> graph_index;    // LAMMPS atom index → graph atom, -1 if of a NULL type

  // Buffers kept between steps so that a step allocates nothing.
  std::vector<double> positions, forces, atom_energies, atom_virials;
  std::vector<int32_t> numbers, neighbors;
  std::vector<size_t> offsets;

  void allocate();
  size_t select_graph_atoms(int n_atoms, int n_local);
  eqp_graph_t *graph_from_list(size_t n_graph_local);
  eqp_graph_t *periodic_graph();
  void free_model();
  std::string library_error() const;

  // The rows being exchanged (n_atoms × halo_row, set by halo_exchange).
  double *halo_values = nullptr;
  int halo_row = 0;
  double *halo_row_of(int i) const
  {
    return graph_index[i] < 0 ? nullptr : halo_values + (size_t) graph_index[i] * halo_row;
  }
  static int32_t halo_exchange(void *self, eqp_halo_direction_t direction, double *values, size_t n_atoms,
                               size_t width);
};

}    // namespace LAMMPS_NS

#endif
#endif
