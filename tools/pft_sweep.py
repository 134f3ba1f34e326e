#!/usr/bin/env python3
"""pft sweep: mmtests' pft-threads / pft-processes against CPU count, with and
without per-VMA locks, as the per-VMA lock series was measured.

    python tools/pft_sweep.py [--cpus 1,4,16,32,48] [--mode threads] [--mapping-mib 128]
        [--touch cacheline|bzero] [--set KEY=VALUE ...] [--jobs 2]

Prints pft's two figures, faults per CPU-second (flt/cpu/s) and per
wall-second (fault/wsec), in virtual time, for CONFIG_PER_VMA_LOCK=true and
false, and their ratio.  As in mmtests the region's total size stays fixed
while the number of workers grows.
"""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mmactors.sweep import sweep_json  # noqa: E402

TEMPLATE = """
[machine]
cpus = 1
memory_mib = {memory_mib}
[[workload]]
kind = "pft"
mode = "{mode}"
mapping_mib = {mapping_mib}
touch = "{touch}"
[run]
duration_ns = 10_000_000_000
"""


def pft_curve(cpus, mode="threads", *, mapping_mib=128, touch="cacheline", overrides=(),
              jobs=1, lockdep=None):
    """{(per_vma_lock, cpus): pft's workload report} for both lock settings."""
    text = TEMPLATE.format(mode=mode, mapping_mib=mapping_mib, touch=touch,
                           memory_mib=max(4096, 4 * mapping_mib))
    grid = {"kconfig.CONFIG_PER_VMA_LOCK": [True, False], "machine.cpus": list(cpus)}
    for k, v in overrides:
        grid[k] = [v]
    out = {}
    for p, r in sweep_json(text, grid, jobs=jobs, lockdep=lockdep):
        (d,) = r["workload_details"]
        out[(p["kconfig.CONFIG_PER_VMA_LOCK"], p["machine.cpus"])] = d
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cpus", default="1,4,16,32,48")
    ap.add_argument("--mode", default="threads", choices=["threads", "processes"])
    ap.add_argument("--mapping-mib", type=int, default=128)
    ap.add_argument("--touch", default="cacheline", choices=["cacheline", "bzero"])
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--jobs", type=int, default=2)
    a = ap.parse_args()
    cpus = [int(x) for x in a.cpus.split(",")]
    res = pft_curve(cpus, a.mode, mapping_mib=a.mapping_mib, touch=a.touch,
                    overrides=[tuple(kv.split("=", 1)) for kv in a.set], jobs=a.jobs)
    print(f"pft-{a.mode} ({a.mapping_mib} MiB, touch {a.touch}"
          f"{', ' + ', '.join(a.set) if a.set else ''}): per-VMA locks on / off")
    print(f"{'cpus':>5} {'flt/cpu/s on':>14} {'off':>12} {'ratio':>7} "
          f"{'fault/wsec on':>15} {'off':>13}")
    for n in cpus:
        on, off = res[(True, n)], res[(False, n)]
        if on["faults_per_cpu_s"] is None or off["faults_per_cpu_s"] is None:
            print(f"{n:>5}  (workers did not finish)")
            continue
        print(f"{n:>5} {on['faults_per_cpu_s']:>14,.0f} {off['faults_per_cpu_s']:>12,.0f} "
              f"{on['faults_per_cpu_s'] / off['faults_per_cpu_s']:>7.3f} "
              f"{on['faults_per_wall_s']:>15,.0f} {off['faults_per_wall_s']:>13,.0f}")


if __name__ == "__main__":
    main()
