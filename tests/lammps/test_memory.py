"""Re-issuing pair_style and pair_coeff 100 times (with a run each time, and
every other time after switching to another pair style, so that the pair
style is destroyed and created again) leaks nothing.

The model is a Lennard-Jones model of all 118 elements (two 118x118 tables,
about 220 kB each time it is loaded), so that a leaked model, workspace
(thread pool) or buffer set would show. With --model, another model file
(CI: SevenNet-0, ~40 MB of weights and tables per load of one precision,
both atom types mapped to --elements).

Three measures, each as tight as its noise allows:
  - live heap (glibc mallinfo2: bytes in use in every malloc arena plus
    mmap'd blocks). It counts what is allocated and not freed, whatever the
    fragmentation or the arena a thread got, so its bound is tight: a leak
    of 10 kB per round fails.
  - threads of the process (/proc/self/status): a leaked thread pool (a
    workspace not dropped) shows as more threads, exactly.
  - resident set size after malloc_trim, for what the heap does not see
    (thread stacks, mmap'd files). It moves by a few MB from round to round
    with allocator state (SevenNet-0: medians +5 MB over 100 rounds with no
    leak, single samples 98-154 MB), so it only bounds gross leaks: half of
    one loaded model over all rounds.
"""

import argparse
import ctypes
import json
import statistics
import tempfile
import time
from pathlib import Path

from common import PLUGIN, Checks, fcc, new_lammps

ROUNDS, WARMUP = 100, 10
HEAP_BOUND_MB = 1.0  # over all rounds: 10 kB per round
RSS_BOUND_MB = 8.0  # at least; half a loaded model when that is larger

LIBC = ctypes.CDLL("libc.so.6")


class Mallinfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks", "fordblks",
        "keepcost")]


LIBC.mallinfo2.restype = Mallinfo2


def heap_mb():
    """Bytes in use from malloc (all arenas, and blocks mmap'd on their own)."""
    info = LIBC.mallinfo2()
    return (info.uordblks + info.hblkhd) / 2**20


def status_field(name):
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {name} in /proc/self/status")


def settled_threads():
    """Threads of the process once those of a dropped pool have exited
    (a thread pool's drop does not wait for its threads)."""
    count = status_field("Threads")
    for _ in range(40):
        time.sleep(0.05)
        count, previous = status_field("Threads"), count
        if count == previous:
            break
    return count


def rss_mb():
    """Resident set size after glibc has given its free heap memory back to
    the system (malloc_trim), so that freed memory kept in malloc's arenas
    does not show as growth."""
    LIBC.malloc_trim(0)
    return status_field("VmRSS") / 1024


def growth(samples):
    """Median of the last fifth of the rounds minus that of the first: a
    single round's allocator state moves one sample; a leak moves them all."""
    fifth = len(samples) // 5
    return statistics.median(samples[:fifth]), statistics.median(samples[-fifth:])


def big_model(path):
    n = 118
    eps = [[0.01 + 1e-5 * (i + j) for j in range(n)] for i in range(n)]
    sigma = [[3.0 + 1e-3 * (i + j) for j in range(n)] for i in range(n)]
    spec = dict(format_version="1.0", architecture="lennard-jones", species=list(range(1, n + 1)),
                cutoff=8.5, epsilon=eps, sigma=sigma)
    path.write_text(json.dumps({"equipot": spec}))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", help="model file (default: an LJ model of all 118 elements)")
    parser.add_argument("--elements", default="Ar Kr", help="elements of the two atom types")
    args = parser.parse_args()
    checks = Checks("memory")
    with tempfile.TemporaryDirectory() as folder:
        model = args.model
        if model is None:
            model = Path(folder) / "lj-118.json"
            big_model(model)
        lmp = new_lammps()
        fcc(lmp, cells=(4, 4, 4))
        lmp.command(f"plugin load {PLUGIN}")
        heap, threads, rss = [], [], []
        heap_before, rss_before = heap_mb(), rss_mb()
        for round in range(WARMUP + ROUNDS):
            if round % 2:
                lmp.command("pair_style zero 8.5")
                lmp.command("pair_coeff * *")
            lmp.command("pair_style equipot threads 2")
            lmp.command(f"pair_coeff * * {model} {args.elements}")
            lmp.command("run 0 post no")
            if round == 0:  # one model loaded and run
                heap_footprint, rss_footprint = heap_mb() - heap_before, rss_mb() - rss_before
            if round >= WARMUP:
                heap.append(heap_mb())
                if round in (WARMUP, WARMUP + ROUNDS - 1):
                    threads.append(settled_threads())
                rss.append(rss_mb())
        energy = lmp.get_thermo("pe")
        lmp.close()
    checks.check("the model evaluates", energy < 0, f"pe = {energy:.6f} eV")
    first, last = growth(heap)
    checks.check(f"live heap growth over {ROUNDS} rounds < {HEAP_BOUND_MB:.1f} MB "
                 f"(one model loaded and run: {heap_footprint:.1f} MB)",
                 last - first < HEAP_BOUND_MB,
                 f"median {first:.3f} MB -> {last:.3f} MB ({last - first:+.3f} MB; "
                 f"samples {min(heap):.3f}-{max(heap):.3f} MB)")
    checks.check("no thread left behind", threads[-1] <= threads[0], f"threads {threads[0]} -> {threads[-1]}")
    bound = max(RSS_BOUND_MB, rss_footprint / 2)
    first, last = growth(rss)
    checks.check(f"RSS growth over {ROUNDS} rounds < {bound:.1f} MB (one model loaded and run: {rss_footprint:.1f} MB)",
                 last - first < bound,
                 f"median {first:.1f} MB -> {last:.1f} MB ({last - first:+.2f} MB; samples {min(rss):.1f}-"
                 f"{max(rss):.1f} MB)")
    checks.finish()


if __name__ == "__main__":
    main()
