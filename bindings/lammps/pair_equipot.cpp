/* ----------------------------------------------------------------------
   pair_style equipot: see pair_equipot.h and bindings/lammps/README.md.

   Where the graph comes from (keyword graph; bindings/lammps/README.md):
   - exchange (the default, except below): LAMMPS's usual full neighbor
     list of the local atoms, ghosts within one cutoff (+ skin). The library
     computes node features of local atoms only; before each message-passing
     layer it asks for the ghosts' features, which LAMMPS's forward
     communication copies from their owners, and in the backward pass it
     sends the gradients that reached ghosts back to their owners (reverse
     communication). Any number of layers, no deeper ghost shell;
   - periodic (the default for a message-passing model on one MPI rank):
     the library builds the periodic graph of the local atoms in LAMMPS's
     box itself (eqp_graph_build), exactly as for the structure on its own;
   - shell: no exchange; LAMMPS's full list over local and ghost atoms
     (REQ_GHOST) with a ghost shell of layers × cutoff (+ skin), so that each
     rank computes every feature its local atoms depend on itself. Checked
     in init_style; kept for comparison and for hosts without exchange.
   In every mode the energy is that of the local atoms, forces come back on
   local and ghost atoms, and LAMMPS adds the ghost forces to their owners.

   Types mapped to NULL in pair_coeff (pair_style hybrid, hybrid/overlay) are
   no part of the graph: their atoms are neither centers nor neighbors nor
   exchanged, and get nothing from this style. The graph's atoms are those of
   the other types, in LAMMPS's order (locals first), numbered from 0.
------------------------------------------------------------------------- */

#include "pair_equipot.h"

#include "atom.h"
#include "comm.h"
#include "domain.h"
#include "error.h"
#include "force.h"
#include "memory.h"
#include "neigh_list.h"
#include "neighbor.h"
#include "update.h"
#include "utils.h"

#include <algorithm>
#include <cstring>

using namespace LAMMPS_NS;

namespace {

const char *const ELEMENTS[] = {
    "H",  "He", "Li", "Be", "B",  "C",  "N",  "O",  "F",  "Ne", "Na", "Mg", "Al", "Si", "P",
    "S",  "Cl", "Ar", "K",  "Ca", "Sc", "Ti", "V",  "Cr", "Mn", "Fe", "Co", "Ni", "Cu", "Zn",
    "Ga", "Ge", "As", "Se", "Br", "Kr", "Rb", "Sr", "Y",  "Zr", "Nb", "Mo", "Tc", "Ru", "Rh",
    "Pd", "Ag", "Cd", "In", "Sn", "Sb", "Te", "I",  "Xe", "Cs", "Ba", "La", "Ce", "Pr", "Nd",
    "Pm", "Sm", "Eu", "Gd", "Tb", "Dy", "Ho", "Er", "Tm", "Yb", "Lu", "Hf", "Ta", "W",  "Re",
    "Os", "Ir", "Pt", "Au", "Hg", "Tl", "Pb", "Bi", "Po", "At", "Rn", "Fr", "Ra", "Ac", "Th",
    "Pa", "U",  "Np", "Pu", "Am", "Cm", "Bk", "Cf", "Es", "Fm", "Md", "No", "Lr", "Rf", "Db",
    "Sg", "Bh", "Hs", "Mt", "Ds", "Rg", "Cn", "Nh", "Fl", "Mc", "Lv", "Ts", "Og"};
const int N_ELEMENTS = sizeof(ELEMENTS) / sizeof(ELEMENTS[0]);

// Atomic number of an element symbol ("Si" → 14), 0 if it is none.
int atomic_number(const char *symbol)
{
  for (int z = 1; z <= N_ELEMENTS; z++)
    if (strcmp(symbol, ELEMENTS[z - 1]) == 0) return z;
  return 0;
}

std::string symbol_of(int z)
{
  return (z >= 1 && z <= N_ELEMENTS) ? ELEMENTS[z - 1] : "Z=" + std::to_string(z);
}

}    // namespace

PairEquipot::PairEquipot(LAMMPS *lmp) : Pair(lmp)
{
  single_enable = 0;
  restartinfo = 0;
  manybody_flag = 1;
  one_coeff = 1;                    // pair_coeff * * only; in hybrid, a new one replaces the old map
  ghostneigh = 1;                   // set per model in init_style
  no_virial_fdotr_compute = 1;      // the library returns the virial itself
  centroidstressflag = CENTROID_NOTAVAIL;
}

PairEquipot::~PairEquipot()
{
  free_model();
  eqp_workspace_free(workspace);
  if (allocated) {
    memory->destroy(setflag);
    memory->destroy(cutsq);
    memory->destroy(cutghost);
  }
}

void PairEquipot::free_model()
{
  eqp_model_free(model);
  model = nullptr;
}

std::string PairEquipot::library_error() const
{
  return eqp_last_error();
}

void PairEquipot::allocate()
{
  allocated = 1;
  int n = atom->ntypes;
  memory->create(setflag, n + 1, n + 1, "pair:setflag");
  memory->create(cutsq, n + 1, n + 1, "pair:cutsq");
  memory->create(cutghost, n + 1, n + 1, "pair:cutghost");
  for (int i = 0; i <= n; i++)
    for (int j = 0; j <= n; j++) setflag[i][j] = 0;
}

/* ----------------------------------------------------------------------
   pair_style equipot [precision float64|float32] [threads N]
                      [graph auto|exchange|periodic|shell] [modal NAME]
                      [device cpu|cuda] [radial auto|exact|tables]
------------------------------------------------------------------------- */

void PairEquipot::settings(int narg, char **arg)
{
  // The plugin was compiled against one equipot.h: refuse a libequipot of
  // another C ABI rather than call it with the wrong layouts.
  if (eqp_abi_version() != EQP_ABI_VERSION)
    error->all(FLERR, "pair_style equipot: libequipot has C ABI version {} but this plugin was built for "
               "ABI version {}: rebuild the plugin against the installed equipot.h", eqp_abi_version(),
               EQP_ABI_VERSION);
  eqp_precision_t new_precision = EQP_FLOAT64;
  int new_radial = EQP_RADIAL_DEFAULT;
  int new_threads = 1;
  int new_device = EQP_DEVICE_CPU;
  graph_mode = GRAPH_AUTO;
  modal.clear();
  for (int iarg = 0; iarg < narg; iarg += 2) {
    if (iarg + 1 >= narg)
      error->all(FLERR, "pair_style equipot: keyword '{}' needs a value", arg[iarg]);
    std::string key = arg[iarg], value = arg[iarg + 1];
    if (key == "precision") {
      if (value == "float64") new_precision = EQP_FLOAT64;
      else if (value == "float32") new_precision = EQP_FLOAT32;
      else error->all(FLERR, "pair_style equipot: precision must be float64 or float32, not '{}'", value);
    } else if (key == "threads") {
      new_threads = utils::inumeric(FLERR, value, false, lmp);
      if (new_threads < 0)
        error->all(FLERR, "pair_style equipot: threads must be >= 0 (0: one per core), not {}", value);
    } else if (key == "graph") {
      if (value == "auto") graph_mode = GRAPH_AUTO;
      else if (value == "exchange") graph_mode = GRAPH_EXCHANGE;
      else if (value == "periodic") graph_mode = GRAPH_PERIODIC;
      else if (value == "shell") graph_mode = GRAPH_SHELL;
      else error->all(FLERR, "pair_style equipot: graph must be auto, exchange, periodic or shell, not '{}'", value);
    } else if (key == "modal") {
      modal = value;
    } else if (key == "radial") {
      // float32 radial tables (the default) or the exact networks: the tables
      // are faster, the exact networks hold no table memory on each rank
      if (value == "auto") new_radial = EQP_RADIAL_DEFAULT;
      else if (value == "exact") new_radial = EQP_RADIAL_EXACT;
      else if (value == "tables") new_radial = EQP_RADIAL_TABLES;
      else error->all(FLERR, "pair_style equipot: radial must be auto, exact or tables, not '{}'", value);
    } else if (key == "device") {
      if (value == "cpu") new_device = EQP_DEVICE_CPU;
      else if (value == "cuda") new_device = EQP_DEVICE_CUDA;
      else error->all(FLERR, "pair_style equipot: device must be cpu or cuda, not '{}'", value);
    } else {
      error->all(FLERR, "pair_style equipot: unknown keyword '{}' (known: precision, threads, graph, modal, device, radial)",
                 key);
    }
  }
  precision = new_precision;
  radial = new_radial;
  if (!workspace || new_threads != n_threads || new_device != device) {
    eqp_workspace_free(workspace);
    workspace = nullptr;
    eqp_workspace_options_t options;
    if (eqp_workspace_options_default(&options, sizeof options) != EQP_SUCCESS)
      error->all(FLERR, "pair_style equipot: {}", library_error());
    options.n_threads = new_threads;
    options.device.kind = new_device;
    if (eqp_workspace_new_with_options(&options, &workspace) != EQP_SUCCESS)
      error->all(FLERR, "pair_style equipot: {}", library_error());
    n_threads = new_threads;
    device = new_device;
  }
}

/* ----------------------------------------------------------------------
   pair_coeff * * MODEL El1 El2 ... (one element symbol per LAMMPS type, or
   NULL for a type left to other styles of pair_style hybrid)
------------------------------------------------------------------------- */

void PairEquipot::coeff(int narg, char **arg)
{
  const int ntypes = atom->ntypes;
  const std::string usage = "expected: pair_coeff * * MODEL-FILE El1 ... El" + std::to_string(ntypes) +
      " (one element symbol for each of the " + std::to_string(ntypes) + " atom types, or NULL)";
  if (narg < 2 || strcmp(arg[0], "*") != 0 || strcmp(arg[1], "*") != 0)
    error->all(FLERR, "pair_coeff equipot: the first two arguments must be * *; {}", usage);
  if (narg != 3 + ntypes)
    error->all(FLERR, "pair_coeff equipot: got {} arguments, {}", narg, usage);
  if (!allocated) allocate();

  free_model();
  if (eqp_model_load_modal(arg[2], modal.empty() ? nullptr : modal.c_str(), &model) != EQP_SUCCESS)
    error->all(FLERR, "pair_coeff equipot: cannot load model '{}': {}", arg[2], library_error());
  size_t n_species = 0;
  if (eqp_model_cutoff(model, &cutoff) != EQP_SUCCESS ||
      eqp_model_n_layers(model, &n_layers) != EQP_SUCCESS ||
      eqp_model_halo_width(model, &halo_width) != EQP_SUCCESS ||
      eqp_model_n_species(model, &n_species) != EQP_SUCCESS)
    error->all(FLERR, "pair_coeff equipot: {}", library_error());
  std::vector<int32_t> species(n_species);
  if (eqp_model_species(model, n_species, species.data()) != EQP_SUCCESS)
    error->all(FLERR, "pair_coeff equipot: {}", library_error());
  std::string known;
  for (int32_t z : species) known += " " + symbol_of(z);

  type_number.assign(ntypes + 1, 0);
  int n_null = 0;
  for (int t = 1; t <= ntypes; t++) {
    const char *symbol = arg[2 + t];
    if (strcmp(symbol, "NULL") == 0) {
      n_null++;
      continue;
    }
    int z = atomic_number(symbol);
    if (z == 0)
      error->all(FLERR, "pair_coeff equipot: '{}' (atom type {}) is not an element symbol (nor NULL)", symbol, t);
    bool in_model = false;
    for (int32_t s : species) in_model = in_model || s == z;
    if (!in_model)
      error->all(FLERR, "pair_coeff equipot: element {} (atom type {}) is not in model '{}', which knows:{}",
                 symbol, t, arg[2], known);
    type_number[t] = z;
  }
  if (n_null == ntypes)
    error->all(FLERR, "pair_coeff equipot: every atom type is NULL, so the model would see no atoms; "
                      "map at least one type to an element of the model");
  if (n_null > 0 && force->pair == this)
    error->all(FLERR, "pair_coeff equipot: NULL leaves atom types to other pair styles, so it needs "
                      "pair_style hybrid or hybrid/overlay (e.g. pair_style hybrid/overlay equipot lj/cut 5.0)");
  // The type pairs this style computes (pair_style hybrid maps these to it).
  for (int i = 1; i <= ntypes; i++)
    for (int j = i; j <= ntypes; j++) setflag[i][j] = type_number[i] != 0 && type_number[j] != 0;

  if (comm->me == 0) {
    std::string mapping;
    for (int t = 1; t <= ntypes; t++)
      mapping += fmt::format(" {}->{}", t, type_number[t] ? symbol_of(type_number[t]) : "NULL");
    utils::logmesg(lmp, "pair equipot: model '{}' ({}{}, elements:{}), cutoff {} A, {} layer(s); types:{}\n",
                   arg[2], eqp_model_architecture(model), modal.empty() ? "" : ", modal " + modal, known, cutoff,
                   n_layers, mapping);
  }
}

/* ---------------------------------------------------------------------- */

void PairEquipot::init_style()
{
  if (!model) error->all(FLERR, "pair equipot: no model loaded (pair_coeff * * MODEL El1 ...)");
  if (force->newton_pair == 0)
    error->all(FLERR, "pair equipot requires newton pair on (ghost forces are reverse-communicated)");
  if (atom->tag_enable == 0) error->all(FLERR, "pair equipot requires atom IDs");
  if (strcmp(update->unit_style, "metal") != 0)
    error->all(FLERR, "pair equipot requires units metal (the model works in Angstrom and eV), not units {}",
               update->unit_style);
  if (domain->dimension != 3)
    error->all(FLERR, "pair equipot requires a 3d simulation");

  // Where the graph comes from (see the comment at the top).
  if (graph_mode == GRAPH_PERIODIC && comm->nprocs > 1)
    error->all(FLERR, "pair equipot: graph periodic works on one MPI rank only (this run has {}): use graph exchange",
               comm->nprocs);
  graph = graph_mode;
  if (graph == GRAPH_AUTO) graph = n_layers > 1 && comm->nprocs == 1 ? GRAPH_PERIODIC : GRAPH_EXCHANGE;
  ghostneigh = 0;
  comm_forward = comm_reverse = 0;
  if (graph == GRAPH_PERIODIC) return;    // no LAMMPS neighbor list, no ghost atoms in the graph

  if (graph == GRAPH_EXCHANGE) {
    // Communication buffers are sized by these (Comm::init runs after this),
    // read from force->pair: under pair_style hybrid that is the hybrid
    // style, which took its sub-styles' sizes before a model was loaded.
    comm_forward = comm_reverse = static_cast<int>(halo_width);
    if (force->pair != this) {
      force->pair->comm_forward = std::max(force->pair->comm_forward, comm_forward);
      force->pair->comm_reverse = std::max(force->pair->comm_reverse, comm_reverse);
    }
    // Under pair_style hybrid this becomes a skip list of the mapped types.
    neighbor->add_request(this, NeighConst::REQ_FULL);
    return;
  }

  // graph shell: the ghost shell must hold every atom within n_layers ×
  // cutoff of a local atom.
  if (n_layers > 1) {
    if (comm->mode != Comm::SINGLE)
      error->all(FLERR, "pair equipot: graph shell with a model of {} message-passing layers needs "
                        "comm_modify mode single (one ghost cutoff for all atoms)", n_layers);
    double needed = n_layers * cutoff + neighbor->skin;
    double shell = std::max(comm->cutghostuser, cutoff + neighbor->skin);
    if (shell < needed)
      error->all(FLERR,
                 "pair equipot: the model has {} message-passing layers of cutoff {} A, so an atom's energy "
                 "depends on atoms up to {} A away; with graph shell the ghost shell is {} A but must be at "
                 "least {} A (layers x cutoff + skin): add 'comm_modify cutoff {}' before the run, or use "
                 "graph exchange, which needs no deeper shell",
                 n_layers, cutoff, n_layers * cutoff, shell, needed, needed);
  }
  // With one layer an atom's energy depends on its own neighbors only, so
  // the rows of ghost atoms are not needed (and are the larger part).
  ghostneigh = n_layers > 1 ? 1 : 0;
  neighbor->add_request(this, NeighConst::REQ_FULL | (ghostneigh ? NeighConst::REQ_GHOST : 0));
}

double PairEquipot::init_one(int i, int j)
{
  cutghost[i][j] = cutghost[j][i] = cutoff;
  return cutoff;
}

/* ---------------------------------------------------------------------- */

void PairEquipot::compute(int eflag, int vflag)
{
  ev_init(eflag, vflag);

  // Atoms of the graph: local + ghost (LAMMPS's list) or local (periodic),
  // those of NULL types left out.
  const bool periodic = graph == GRAPH_PERIODIC;
  const size_t n_graph_local =
      select_graph_atoms(periodic ? atom->nlocal : atom->nlocal + atom->nghost, atom->nlocal);
  const size_t n = graph_atoms.size();
  eqp_graph_t *g = periodic ? periodic_graph() : graph_from_list(n_graph_local);

  double virial9[9];
  // Non-NULL pointers also on a rank without graph atoms (reserve), so that
  // every rank asks for the same outputs and makes the same halo exchanges.
  forces.reserve(3);
  forces.resize(3 * n);
  if (eflag_atom) {
    atom_energies.reserve(1);
    atom_energies.resize(n);
  }
  if (vflag_atom) {
    atom_virials.reserve(9);
    atom_virials.resize(9 * n);
  }
  eqp_results_t out = {};
  out.struct_size = sizeof out;
  out.n_atoms = n;
  out.forces = forces.data();
  out.virial = vflag_global ? virial9 : nullptr;
  out.atom_energies = eflag_atom ? atom_energies.data() : nullptr;
  out.atom_virials = vflag_atom ? atom_virials.data() : nullptr;
  eqp_evaluation_options_t options;
  eqp_status_t status = eqp_evaluation_options_default(&options, sizeof options);
  options.precision = precision;
  options.radial_tables = radial;
  if (status == EQP_SUCCESS)
    status = graph == GRAPH_EXCHANGE
        ? eqp_compute_with_halo_and_options(model, g, workspace, &options, &PairEquipot::halo_exchange, this, &out)
        : eqp_compute_with_options(model, g, workspace, &options, &out);
  eqp_graph_free(g);
  if (status != EQP_SUCCESS)
    error->one(FLERR, "pair equipot, step {}: {}", update->ntimestep, library_error());

  double **f = atom->f;
  for (size_t a = 0; a < n; a++)
    for (int k = 0; k < 3; k++) f[graph_atoms[a]][k] += forces[3 * a + k];

  // LAMMPS's order of the 6 symmetric components: xx, yy, zz, xy, xz, yz
  // (row-major indices 0, 4, 8, 1, 2, 5 of the library's 3×3 virial).
  static const int VOIGT[6] = {0, 4, 8, 1, 2, 5};
  if (eflag_global) eng_vdwl += out.energy;
  if (vflag_global)
    for (int k = 0; k < 6; k++) virial[k] += virial9[VOIGT[k]];
  if (eflag_atom)
    for (size_t a = 0; a < n; a++) eatom[graph_atoms[a]] += atom_energies[a];
  if (vflag_atom)
    for (size_t a = 0; a < n; a++)
      for (int k = 0; k < 6; k++) vatom[graph_atoms[a]][k] += atom_virials[9 * a + VOIGT[k]];
}

/* ----------------------------------------------------------------------
   The graph's atoms among LAMMPS's first n_atoms (local, then ghost): those
   of mapped types, in order. Fills graph_atoms, graph_index, positions and
   numbers; returns how many of them are local.
------------------------------------------------------------------------- */

size_t PairEquipot::select_graph_atoms(int n_atoms, int n_local)
{
  double **x = atom->x;
  const int *type = atom->type;
  graph_atoms.clear();
  graph_index.assign(n_atoms, -1);
  positions.clear();
  numbers.clear();
  size_t n_graph_local = 0;
  for (int i = 0; i < n_atoms; i++) {
    const int z = type_number[type[i]];
    if (z == 0) continue;
    if (i < n_local) n_graph_local++;
    graph_index[i] = static_cast<int>(graph_atoms.size());
    graph_atoms.push_back(i);
    positions.insert(positions.end(), x[i], x[i] + 3);
    numbers.push_back(z);
  }
  return n_graph_local;
}

/* ----------------------------------------------------------------------
   graph exchange and shell: LAMMPS's full list (local rows, then ghost rows if
   requested) → CSR rows over the graph's atoms, in their order; rows and
   neighbors of NULL types dropped (under pair_style hybrid, LAMMPS's skip
   list has none already).
------------------------------------------------------------------------- */

eqp_graph_t *PairEquipot::graph_from_list(size_t n_graph_local)
{
  const size_t n = graph_atoms.size();
  const int nrows = list->inum + (ghostneigh ? list->gnum : 0);
  offsets.assign(n + 1, 0);
  for (int ii = 0; ii < nrows; ii++) {
    const int i = list->ilist[ii];
    if (graph_index[i] < 0) continue;
    const int *jlist = list->firstneigh[i];
    size_t count = 0;
    for (int jj = 0; jj < list->numneigh[i]; jj++) count += graph_index[jlist[jj] & NEIGHMASK] >= 0;
    offsets[graph_index[i] + 1] = count;
  }
  for (size_t a = 0; a < n; a++) offsets[a + 1] += offsets[a];
  neighbors.resize(offsets[n]);
  for (int ii = 0; ii < nrows; ii++) {
    const int i = list->ilist[ii];
    if (graph_index[i] < 0) continue;
    const int *jlist = list->firstneigh[i];
    int32_t *row = neighbors.data() + offsets[graph_index[i]];
    for (int jj = 0; jj < list->numneigh[i]; jj++) {
      const int b = graph_index[jlist[jj] & NEIGHMASK];
      if (b >= 0) *row++ = b;
    }
  }
  eqp_graph_t *graph = nullptr;
  if (eqp_graph_from_neighbor_list(n, n_graph_local, positions.data(), numbers.data(), n, offsets.data(),
                                   neighbors.size(), neighbors.data(), cutoff, &graph) != EQP_SUCCESS)
    error->one(FLERR,
               "pair equipot, step {}: {} (atoms are numbered from 0 over this rank's local, then ghost atoms, "
               "those of NULL types left out)",
               update->ntimestep, library_error());
  return graph;
}

/* ----------------------------------------------------------------------
   graph periodic (one rank): the library's own graph of the local atoms in
   LAMMPS's box, periodic images included, as the library would build it
   for the same structure on its own.
------------------------------------------------------------------------- */

eqp_graph_t *PairEquipot::periodic_graph()
{
  // Lattice vectors as rows: a = (lx, 0, 0), b = (xy, ly, 0), c = (xz, yz, lz).
  const double cell[9] = {domain->xprd, 0.0, 0.0, domain->xy, domain->yprd, 0.0, domain->xz, domain->yz, domain->zprd};
  const bool pbc[3] = {domain->xperiodic != 0, domain->yperiodic != 0, domain->zperiodic != 0};
  eqp_graph_t *graph = nullptr;
  if (eqp_graph_build(workspace, graph_atoms.size(), positions.data(), numbers.data(), cell, pbc, cutoff, &graph) !=
      EQP_SUCCESS)
    error->one(FLERR, "pair equipot, step {}: {} (atoms are numbered from 0 in this rank's order, NULL types left out)",
               update->ntimestep, library_error());
  return graph;
}

/* ----------------------------------------------------------------------
   graph exchange: the library hands over rows of node features (forward:
   copy owners to ghosts) or of their gradients (reverse: add ghosts into
   owners); LAMMPS's communication pattern of atom positions does the rest.
   LAMMPS sends rows of all its atoms: those of NULL types (never graph
   atoms, on any rank, as a ghost has its owner's type) carry zeros.
   Called on this thread, the same number of times on every rank. Nothing
   may be thrown through the library: a LAMMPS error becomes a failure code
   and the library's error, reported by compute().
------------------------------------------------------------------------- */

int32_t PairEquipot::halo_exchange(void *self, eqp_halo_direction_t direction, double *values, size_t n_atoms,
                                   size_t width)
{
  auto *pair = static_cast<PairEquipot *>(self);
  if (n_atoms != pair->graph_atoms.size() || width > pair->halo_width) return 1;
  pair->halo_values = values;
  pair->halo_row = static_cast<int>(width);
  try {
    if (direction == EQP_HALO_FORWARD) pair->comm->forward_comm(pair, pair->halo_row);
    else pair->comm->reverse_comm(pair, pair->halo_row);
  } catch (...) {
    return 2;
  }
  return 0;
}

int PairEquipot::pack_forward_comm(int n, int *list, double *buf, int /*pbc_flag*/, int * /*pbc*/)
{
  for (int i = 0; i < n; i++) {
    const double *row = halo_row_of(list[i]);
    double *out = buf + (size_t) i * halo_row;
    if (row) std::memcpy(out, row, halo_row * sizeof(double));
    else std::fill(out, out + halo_row, 0.0);
  }
  return n * halo_row;
}

void PairEquipot::unpack_forward_comm(int n, int first, double *buf)
{
  for (int i = 0; i < n; i++)
    if (double *row = halo_row_of(first + i)) std::memcpy(row, buf + (size_t) i * halo_row, halo_row * sizeof(double));
}

int PairEquipot::pack_reverse_comm(int n, int first, double *buf)
{
  for (int i = 0; i < n; i++) {
    const double *row = halo_row_of(first + i);
    double *out = buf + (size_t) i * halo_row;
    if (row) std::memcpy(out, row, halo_row * sizeof(double));
    else std::fill(out, out + halo_row, 0.0);
  }
  return n * halo_row;
}

void PairEquipot::unpack_reverse_comm(int n, int *list, double *buf)
{
  for (int i = 0; i < n; i++)
    if (double *row = halo_row_of(list[i]))
      for (int k = 0; k < halo_row; k++) row[k] += buf[(size_t) i * halo_row + k];
}

double PairEquipot::memory_usage()
{
  double bytes = Pair::memory_usage();
  bytes += sizeof(double) * (positions.capacity() + forces.capacity() + atom_energies.capacity() +
                             atom_virials.capacity());
  bytes += sizeof(int32_t) * (numbers.capacity() + neighbors.capacity());
  bytes += sizeof(int) * (graph_atoms.capacity() + graph_index.capacity());
  bytes += sizeof(size_t) * offsets.capacity();
  return bytes;
}
