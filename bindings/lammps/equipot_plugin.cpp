/* ----------------------------------------------------------------------
   Plugin entry point: `plugin load libequipot_lammps.so` registers
   pair_style equipot. LAMMPS does not install its plugin header
   (lammpsplugin.h), so the part of its documented plugin interface used
   here is declared below; the layout must match LAMMPS's lammpsplugin_t.
------------------------------------------------------------------------- */

#include "lammps.h"
#include "pair_equipot.h"

#if __has_include("version.h")
#include "version.h"    // in a LAMMPS source tree: LAMMPS_VERSION
#endif

using namespace LAMMPS_NS;

extern "C" {
typedef void *(lammpsplugin_factory1)(void *);
typedef void *(lammpsplugin_factory2)(void *, int, char **);

typedef struct {
  const char *version;    // LAMMPS version the plugin was built for
  const char *style;      // "pair", "fix", ...
  const char *name;       // the style's name
  const char *info;
  const char *author;
  union {
    lammpsplugin_factory1 *v1;    // creator of pair styles: (LAMMPS *) → Pair *
    lammpsplugin_factory2 *v2;
  } creator;
  void *handle;           // of the shared object, given to lammpsplugin_init
} lammpsplugin_t;

typedef void (*lammpsplugin_regfunc)(lammpsplugin_t *, void *);

void lammpsplugin_init(void *lmp, void *handle, void *regfunc);
}

static Pair *equipot_creator(LAMMPS *lmp)
{
  return new PairEquipot(lmp);
}

extern "C" void lammpsplugin_init(void *lmp, void *handle, void *regfunc)
{
  lammpsplugin_t plugin;
#ifdef LAMMPS_VERSION
  plugin.version = LAMMPS_VERSION;
#else
  // Installed LAMMPS packages ship no version.h: claim the running version
  // (CMakeLists.txt checks the headers' version at configure time instead).
  plugin.version = static_cast<LAMMPS *>(lmp)->version;
#endif
  plugin.style = "pair";
  plugin.name = "equipot";
  plugin.info = "equipot pair style: equivariant ML potentials through the equipot C ABI";
  plugin.author = "equipot developers";
  plugin.creator.v1 = (lammpsplugin_factory1 *) &equipot_creator;
  plugin.handle = handle;
  (*(lammpsplugin_regfunc) regfunc)(&plugin, lmp);
}
