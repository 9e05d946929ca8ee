"""What pair_style equipot costs on top of the library: one MD step of LAMMPS
with the pair style against the library called directly (C ABI, ctypes) on
the same system, and the parts in between.

Measured per step, in CPU time of the process (the machine may be shared;
CPU time is what the work costs), best of --repeat:

  lammps        `run N` with the pair style (atoms do not move, so every step
                is one force evaluation plus LAMMPS's own bookkeeping)
  lammps_zero   the same with `pair_style zero` on a full list: LAMMPS's own
                bookkeeping (ghost exchange, neighbor checks)
  lammps_lj_cut the same with LAMMPS's own lj/cut (half list), for reference
  from_list     eqp_graph_from_neighbor_list on LAMMPS's own neighbor list
  compute       eqp_compute (energy, forces) on that graph
  build         eqp_graph_build (the library's cell lists) on the structure
  direct        build + compute: the library on its own

overhead = lammps - lammps_zero - compute is what the pair style adds: copying
positions and types in, converting the list (from_list), copying forces out.

A message-passing model (several layers) runs in LAMMPS on the library's
periodic graph (graph periodic, the default on one rank) or on LAMMPS's list
with the halo exchange (graph exchange, the default on several ranks); both
are timed, and the overhead is lammps - lammps_zero - direct (for exchange
it includes the exchanges, here between periodic images on one rank).

usage: python tests/lammps/bench_overhead.py [--cells 8] [--steps 10] [--repeat 5] [--wall]
           [--model M --element El --mass m --lattice STYLE A]   (default: LJ argon)
           [--precision float64|float32]
"""

import argparse
import ctypes
import time

import numpy as np

from common import ARGON, PLUGIN, Equipot, Outputs, _ptr, add_crystal_arguments, box, crystal, new_lammps


CLOCK = time.process_time


def best(repeat, f):
    times = []
    for _ in range(repeat):
        start = CLOCK()
        f()
        times.append(CLOCK() - start)
    return min(times)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--cells", type=int, default=8, help="lattice cells per side")
    add_crystal_arguments(parser)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--wall", action="store_true", help="wall-clock time instead of CPU time")
    parser.add_argument("--precision", choices=["float64", "float32"], default="float64")
    args = parser.parse_args()
    global CLOCK
    CLOCK = time.perf_counter if args.wall else time.process_time
    n = args.cells
    eqp = Equipot()
    cutoff, layers = eqp.receptive_field(args.model)
    system = crystal(args, (n, n, n)) + """
        displace_atoms all random 0.1 0.1 0.1 7 units box
        neighbor 1.0 bin
    """
    steps = args.steps
    precision = 0 if args.precision == "float64" else 1

    def with_equipot(style_args=""):
        lmp = new_lammps()
        lmp.commands_string(system + f"""
            plugin load {PLUGIN}
            pair_style equipot precision {args.precision} {style_args}
            pair_coeff * * {args.model} {args.element}
            thermo 0
            run 0 post no
        """)
        return lmp

    lmp = with_equipot()
    lammps_step = best(args.repeat, lambda: lmp.command(f"run {steps} pre no post no")) / steps
    def native(pair):
        other = new_lammps()
        other.commands_string(system + f"""
        {pair}
        thermo 0
        run 0 post no
        """)
        step = best(args.repeat, lambda: other.command(f"run {steps} pre no post no")) / steps
        other.close()
        return step

    zero_step = native(f"pair_style zero {cutoff} full\npair_coeff * *")
    # LAMMPS's own pair style for the same function (only for the LJ argon model).
    lj_cut_step = None
    if args.model == str(ARGON):
        lj_cut_step = native("pair_style lj/cut 8.5\npair_modify shift yes\npair_coeff * * 0.0104 3.4")

    # LAMMPS's neighbor list and atoms (local + ghost), as the pair style sees them.
    nlocal, nghost = lmp.extract_global("nlocal"), lmp.extract_global("nghost")
    nall = nlocal + nghost
    x_all = np.array(lmp.numpy.extract_atom("x", nelem=nall, dim=3), dtype=np.float64)
    from ase.data import atomic_numbers
    numbers_all = np.full(nall, atomic_numbers[args.element], dtype=np.int32)
    if layers > 1:
        cell, pbc = box(lmp)
        lmp.close()
        exchange = with_equipot("graph exchange")
        exchange_step = best(args.repeat, lambda: exchange.command(f"run {steps} pre no post no")) / steps
        exchange.close()
        return message_passing(args, eqp, x_all[:nlocal].copy(), numbers_all[:nlocal], cell, pbc, cutoff, layers,
                               precision, dict(lammps_periodic=lammps_step, lammps_exchange=exchange_step,
                                               lammps_zero=zero_step), nghost)
    nlist = lmp.numpy.get_neighlist(lmp.find_pair_neighlist("equipot"))
    rows = {}
    for k in range(len(nlist)):
        i, neighbors = nlist.get(k)
        rows[i] = neighbors
    offsets = np.zeros(nall + 1, dtype=np.uintp)
    for i, neighbors in rows.items():
        offsets[i + 1] = len(neighbors)
    offsets = np.cumsum(offsets).astype(np.uintp)
    neighbors = np.concatenate([rows[i] for i in sorted(rows)]).astype(np.int32)
    cell, pbc = box(lmp)
    x_local = x_all[:nlocal].copy()
    lmp.close()

    lib = eqp.lib
    lib.eqp_graph_from_neighbor_list.argtypes = [
        ctypes.c_size_t, ctypes.c_size_t, ctypes.POINTER(ctypes.c_double), ctypes.POINTER(ctypes.c_int32),
        ctypes.c_size_t, ctypes.POINTER(ctypes.c_size_t), ctypes.c_size_t, ctypes.POINTER(ctypes.c_int32),
        ctypes.c_double, ctypes.POINTER(ctypes.c_void_p)]
    model, workspace = eqp.load(args.model), ctypes.c_void_p()
    eqp.check(lib.eqp_workspace_new(1, ctypes.byref(workspace)))

    def from_list():
        graph = ctypes.c_void_p()
        eqp.check(lib.eqp_graph_from_neighbor_list(
            nall, nlocal, _ptr(x_all), _ptr(numbers_all, ctypes.c_int32), nall, _ptr(offsets, ctypes.c_size_t),
            len(neighbors), _ptr(neighbors, ctypes.c_int32), cutoff, ctypes.byref(graph)))
        return graph

    def build():
        graph = ctypes.c_void_p()
        numbers = numbers_all[:nlocal]
        eqp.check(lib.eqp_graph_build(workspace, nlocal, _ptr(x_local), _ptr(numbers, ctypes.c_int32), _ptr(cell),
                                      _ptr(pbc, ctypes.c_bool), cutoff, ctypes.byref(graph)))
        return graph

    def compute(graph, count):
        forces = np.zeros((count, 3))
        out = Outputs(count, 0.0, _ptr(forces), None, None, None)
        eqp.check(lib.eqp_compute(model, graph, workspace, precision, ctypes.byref(out)))
        return out.energy

    def timed_graph(make):
        def run():
            for _ in range(steps):
                lib.eqp_graph_free(make())
        return best(args.repeat, run) / steps

    list_graph, built_graph = from_list(), build()
    energy_list, energy_built = compute(list_graph, nall), compute(built_graph, nlocal)
    assert abs(energy_list - energy_built) <= 1e-10 * abs(energy_built), (energy_list, energy_built)
    t = dict(lammps=lammps_step, lammps_zero=zero_step, from_list=timed_graph(from_list), build=timed_graph(build))
    t["compute"] = best(args.repeat, lambda: [compute(list_graph, nall) for _ in range(steps)]) / steps
    t["compute (own graph)"] = best(args.repeat, lambda: [compute(built_graph, nlocal) for _ in range(steps)]) / steps
    t["direct"] = t["build"] + t["compute (own graph)"]
    if lj_cut_step is not None:
        t["lammps lj/cut"] = lj_cut_step

    def list_then_compute():
        for _ in range(steps):
            graph = from_list()
            compute(graph, nall)
            lib.eqp_graph_free(graph)
    t["from_list + compute"] = best(args.repeat, list_then_compute) / steps
    lib.eqp_graph_free(list_graph)
    lib.eqp_graph_free(built_graph)
    lib.eqp_workspace_free(workspace)
    lib.eqp_model_free(model)

    overhead = t["lammps"] - t["lammps_zero"] - t["compute"]
    copies = overhead - t["from_list"]
    print(f"{nlocal} atoms ({nghost} ghosts), {len(neighbors)} neighbor entries, model {args.model} "
          f"(rc {cutoff} A, {layers} layer(s)), float64, 1 thread, {'wall' if args.wall else 'CPU'} time")
    for key, value in t.items():
        print(f"  {key:20s} {value * 1e3:9.3f} ms/step  {value / nlocal * 1e6:8.3f} us/atom-step")
    print(f"  pair style overhead (lammps - lammps_zero - compute) {overhead * 1e3:.3f} ms/step = "
          f"{overhead / nlocal * 1e6:.3f} us/atom-step = {overhead / t['lammps'] * 100:.1f}% of the LAMMPS step")
    print(f"    of which list conversion {t['from_list'] / nlocal * 1e6:.3f} us/atom-step, "
          f"copies in and out {copies / nlocal * 1e6:.3f} us/atom-step")
    print(f"  LAMMPS step / direct library step: {t['lammps'] / t['direct']:.3f}")


def message_passing(args, eqp, positions, numbers, cell, pbc, cutoff, layers, precision, t, nghost):
    """The library alone (its graph + compute) against LAMMPS steps with each graph."""
    lib, steps, nlocal = eqp.lib, args.steps, len(numbers)
    model, workspace = eqp.load(args.model), ctypes.c_void_p()
    eqp.check(lib.eqp_workspace_new(1, ctypes.byref(workspace)))

    def direct():
        for _ in range(steps):
            graph = ctypes.c_void_p()
            eqp.check(lib.eqp_graph_build(workspace, nlocal, _ptr(positions), _ptr(numbers, ctypes.c_int32),
                                          _ptr(cell), _ptr(pbc, ctypes.c_bool), cutoff, ctypes.byref(graph)))
            forces = np.zeros((nlocal, 3))
            out = Outputs(nlocal, 0.0, _ptr(forces), None, None, None)
            eqp.check(lib.eqp_compute(model, graph, workspace, precision, ctypes.byref(out)))
            lib.eqp_graph_free(graph)

    t["direct"] = best(args.repeat, direct) / steps
    lib.eqp_workspace_free(workspace)
    lib.eqp_model_free(model)
    print(f"{nlocal} atoms ({nghost} ghosts), model {args.model} (rc {cutoff} A, {layers} layers), "
          f"{args.precision}, 1 thread, {'wall' if args.wall else 'CPU'} time")
    for key, value in t.items():
        print(f"  {key:20s} {value * 1e3:9.3f} ms/step  {value / nlocal * 1e6:8.3f} us/atom-step")
    for graph in ("periodic", "exchange"):
        step = t[f"lammps_{graph}"]
        overhead = step - t["lammps_zero"] - t["direct"]
        print(f"  graph {graph}: pair style overhead (lammps - lammps_zero - direct) {overhead * 1e3:.3f} ms/step "
              f"= {overhead / step * 100:.1f}% of the LAMMPS step; LAMMPS step / direct: {step / t['direct']:.3f}")


if __name__ == "__main__":
    main()
