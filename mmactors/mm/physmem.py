"""Physical memory as a machine subsystem: zones, the page allocator, SLUB, vmstat.

:data:`SUBSYSTEM` says, as data, which knobs it models (the ``[machine]`` keys
``memory_mib``/``movablecore_mib``, the ``vm.*`` sysctls, the Kconfig
symbols and SLUB's boot parameters) and how a machine builds it.

A machine models physical memory when ``[machine] memory_mib`` is set or a
workload needs it (its kind lists ``"physmem"`` in ``needs``); otherwise
:func:`build` returns None and nothing here costs anything.

Per CPU, the subsystem runs what the kernel runs per CPU: ``vmstat_update``
(``refresh_cpu_vm_stats(true)``: folding the vmstat diffs and
``decay_pcp_high``) is queued every ``vm.stat_interval`` by a
``vmstat_shepherd`` kernel thread on the CPU's kworker, for CPUs whose diffs
need folding or whose last update still had work (the kernel requeues it).
The shepherd exists only when the interval is shorter than the run.
"""
from __future__ import annotations

from ..costs import CacheLine
from ..schema import Field, Subsystem
from ._internal import CacheStats
from .mm_init import LayoutError, mm_core_init, plan_layout
from .slub import STAT_ITEMS, Slub, cache_json, cache_sort_key
from .vmstat import VmStat, zoneinfo_json

__all__ = ["PhysMem", "physmem_of", "check_memory", "DEFAULT_MEMORY_MIB", "SUBSYSTEM",
           "MACHINE_FIELDS", "SYSCTL", "KCONFIG", "CONSTANTS"]

DEFAULT_MEMORY_MIB = 4096
# 1 TiB: the per-frame arrays (mem_map 12 bytes a frame, mapcount 4, folio->mapping and
# ->index 12, folio->lru 10) take 9.5 GiB of address space there; the rmap and LRU ones
# become resident only as frames are used.
MAX_MEMORY_MIB = 1 << 20


# ------------------------------------------------------------------ knobs
def _mem_check(v):
    if v < 0 or v > MAX_MEMORY_MIB:
        return f"must be between 0 and {MAX_MEMORY_MIB} (MiB), got {v}"
    return None


MACHINE_FIELDS = (
    Field("memory_mib", int, 0, check=_mem_check,
          doc="physical memory in MiB, split evenly over the nodes (0: none unless a workload "
              f"needs memory, then {DEFAULT_MEMORY_MIB})"),
    Field("cpu_data_slice_kib", int, 2048,
          check=lambda v: None if v >= 0 else f"must be >= 0, got {v}",
          doc="each CPU's share of the data caches (cacheinfo per_cpu_data_slice_size): above "
              "3 * pcp->batch pages it sets PCPF_FREE_HIGH_BATCH"),
    Field("movablecore_mib", int, 0, check=lambda v: None if v >= 0 else f"must be >= 0, got {v}",
          doc="movablecore= in MiB: the top of each node becomes ZONE_MOVABLE (0: none)"),
)


def _fraction(v):
    return None if v == 0 or v >= 8 else f"must be 0 (auto-tuning) or >= 8, got {v}"


def _ratio_list(v):
    if len(v) != 4 or not all(isinstance(x, int) and not isinstance(x, bool) and x >= 0
                              for x in v):
        return "must be 4 integers >= 0 (DMA, DMA32, Normal, Movable), e.g. [256, 256, 32, 0]"
    return None


# The sysctls of mm/page_alloc.c and mm/vmstat.c, with the kernel's defaults.
SYSCTL = (
    Field("vm.percpu_pagelist_high_fraction", int, 0, check=_fraction,
          doc="pcp->high = managed / fraction / CPUs of the node; 0 = auto-tuning "
              "between high_min (low watermark share) and high_max (fraction 8)"),
    Field("vm.min_free_kbytes", int, -1,
          check=lambda v: None if v >= -1 else f"must be >= 0 (or -1), got {v}",
          doc="reserve for the min watermark in KiB; -1 = computed at boot "
              "(int_sqrt(lowmem_kbytes * 16), 128..262144)"),
    Field("vm.watermark_scale_factor", int, 10,
          check=lambda v: None if 1 <= v <= 3000 else f"must be 1..3000, got {v}",
          doc="distance between watermarks in 1/10000 of the zone (default 10 = 0.1%)"),
    Field("vm.watermark_boost_factor", int, 15000,
          check=lambda v: None if v >= 0 else f"must be >= 0, got {v}",
          doc="boost on fragmenting fallbacks, in 1/10000 of the high mark (0: off)"),
    Field("vm.lowmem_reserve_ratio", list, [256, 256, 32, 0], check=_ratio_list,
          doc="lowmem_reserve ratio per zone (DMA, DMA32, Normal, Movable)"),
    Field("vm.stat_interval", (int, float), 1,
          check=lambda v: None if v > 0 else f"must be > 0 (seconds), got {v}",
          doc="seconds between vmstat_update runs per CPU (fractions allowed here; "
              "the kernel takes whole seconds)"),
)

KCONFIG = (
    Field("CONFIG_PCP_BATCH_SCALE_MAX", int, 5,
          check=lambda v: None if 0 <= v <= 6 else f"must be 0..6, got {v}",
          doc="pcp alloc/free batches scale up to batch << this (mm/Kconfig)"),
    Field("CONFIG_TRANSPARENT_HUGEPAGE", bool, True,
          doc="two extra pcp lists for order-9 (THP) pages, and THP-aligned placement "
              "of PMD-multiple anonymous mmaps (huge-page faults are not modelled)"),
    Field("CONFIG_ZONE_DMA", bool, True, doc="a 16 MiB ZONE_DMA below ZONE_DMA32"),
    Field("CONFIG_SLUB_CPU_PARTIAL", bool, True, doc="SLUB per-CPU partial slab lists"),
    Field("CONFIG_SLAB_FREELIST_RANDOM", bool, False, doc="shuffle each new slab's freelist"),
    Field("CONFIG_INIT_ON_ALLOC_DEFAULT_ON", bool, False,
          doc="init_on_alloc=1: zero every page and object on allocation"),
)

# SLUB's boot parameters (slab_min_order= ...), spelled as mm/slub.c's variables.
CONSTANTS = (
    Field("slub_min_order", int, 0, check=lambda v: None if 0 <= v <= 10 else "must be 0..10",
          doc="boot parameter slab_min_order="),
    Field("slub_max_order", int, 3, check=lambda v: None if 0 <= v <= 10 else "must be 0..10",
          doc="boot parameter slab_max_order= (default PAGE_ALLOC_COSTLY_ORDER)"),
    Field("slub_min_objects", int, 0, check=lambda v: None if v >= 0 else "must be >= 0",
          doc="boot parameter slab_min_objects= (0: 4 * (fls(nr_cpus) + 1))"),
)


def effective_memory_mib(machine: dict) -> int:
    """``memory_mib``, or the default (4 GiB, rounded down so that each node
    gets a multiple of 4 MiB) when it is 0."""
    mib = machine.get("memory_mib", 0)
    if mib:
        return mib
    nodes = machine.get("nodes", 1)
    return max(32, DEFAULT_MEMORY_MIB // nodes // 4 * 4) * nodes


def check_memory(machine: dict) -> str | None:
    """Cross-key checks of ``[machine]``: None, or the error message."""
    mib = effective_memory_mib(machine)
    nodes = machine.get("nodes", 1)
    try:
        plan_layout(mib, nodes, machine.get("movablecore_mib", 0))
    except LayoutError as e:
        return str(e)
    if machine.get("movablecore_mib", 0) >= mib:
        return f"movablecore_mib ({machine['movablecore_mib']}) must be below memory_mib ({mib})"
    return None


def physmem_of(machine) -> "PhysMem | None":
    """The machine's PhysMem subsystem, if it models memory."""
    return machine.subsystems.get("physmem")


# --------------------------------------------------------------- subsystem
class PhysMem:
    """Zones + buddy + pcp (``.pa``), SLUB (``.slub``), vmstat (``.vmstat``)."""

    name = "physmem"

    def __init__(self, engine, *, ncpus: int, node_of: list, memory_mib: int,
                 movablecore_mib: int = 0, sysctl: dict | None = None,
                 kconfig: dict | None = None, constants: dict | None = None,
                 queue_work_on=None, machine=None, cpu_data_slice_kib: int = 2048):
        sysctl = dict(sysctl or {})
        kconfig = dict(kconfig or {})
        constants = dict(constants or {})
        self.engine = engine
        self.machine = machine
        self.ncpus = ncpus
        self.node_of = node_of
        self.sysctl, self.kconfig, self.constants = sysctl, kconfig, constants
        nnodes = max(node_of) + 1 if node_of else 1
        self.memory_mib = memory_mib
        zone_dma = bool(kconfig.get("CONFIG_ZONE_DMA", True))
        self.layout = plan_layout(memory_mib, nnodes, movablecore_mib, zone_dma)
        costs = engine.costs

        def line(name):
            # with the engine as clock: transfers of one line are serialised
            return CacheLine(costs, node_of, name, clock=engine)
        zones_present = [0, 1, 2, 3] if zone_dma else [1, 2, 3]
        self.vmstat = VmStat(ncpus, zones_present, costs, node_of, line,
                             thp=bool(kconfig.get("CONFIG_TRANSPARENT_HUGEPAGE", True)))
        self.pa = mm_core_init(engine, ncpus, node_of, self.layout, sysctl=sysctl,
                               kconfig=kconfig, vmstat=self.vmstat, line_factory=line,
                               queue_work_on=queue_work_on,
                               cpu_data_slice_kib=cpu_data_slice_kib)
        self.slub = Slub(self.pa, self.vmstat, constants=constants, kconfig=kconfig,
                         queue_work_on=queue_work_on)
        self.queue_work_on = queue_work_on
        self.boot_vmstat = self.vmstat.snapshot()
        self.stat_interval_ns = int(float(sysctl.get("vm.stat_interval", 1)) * 1_000_000_000)
        self._vmstat_pending = [False] * ncpus
        self._vmstat_requeue = [False] * ncpus
        self.vmstat_updates = 0
        self.driver = None

    # ---------------------------------------------------------------- setup
    @classmethod
    def standalone(cls, *, cpus: int = 4, nodes: int = 1, memory_mib: int = 256,
                   movablecore_mib: int = 0, sysctl=None, kconfig=None, constants=None,
                   seed: int = 1, costs=None, cpu_data_slice_kib: int = 2048) -> "PhysMem":
        """A PhysMem on its own engine, with a :class:`~._sync.SyncDriver` as
        ``.driver`` for calling its async operations one at a time (tests)."""
        from .._core import Engine
        from ._sync import SyncDriver
        node_of = [c * nodes // cpus for c in range(cpus)]
        eng = Engine(seed=seed, trace=False, costs=costs, node_of=node_of)
        # the kernel defaults, overridden by what is given
        sc = dict({f.name: f.default for f in SYSCTL}, **(sysctl or {}))
        kc = dict({f.name: f.default for f in KCONFIG}, **(kconfig or {}))
        co = dict({f.name: f.default for f in CONSTANTS}, **(constants or {}))
        pm = cls(eng, ncpus=cpus, node_of=node_of, memory_mib=memory_mib,
                 movablecore_mib=movablecore_mib, sysctl=sc, kconfig=kc, constants=co,
                 cpu_data_slice_kib=cpu_data_slice_kib)
        pm.driver = SyncDriver(eng, cpus, node_of)
        return pm

    def call(self, cpu: int, coro):
        """Run an async operation as ``cpu`` (standalone instances only)."""
        return self.driver.call(cpu, coro)

    def start_shepherd(self, machine):
        dur = machine.engine.duration_ns
        if dur is None or self.stat_interval_ns >= dur:
            return
        machine.add_kthread("vmstat_shepherd", self._shepherd, cpu=0)

    async def _shepherd(self, actor):
        eng = self.engine
        while True:
            await eng.spend(self.stat_interval_ns)
            for cpu in range(self.ncpus):
                if self._vmstat_pending[cpu]:
                    continue
                if self._vmstat_requeue[cpu] or self.vmstat.need_update(cpu):
                    self._vmstat_pending[cpu] = True
                    self.queue_work_on(cpu, self._vmstat_update, "vmstat_update")

    async def _vmstat_update(self, kworker):
        cpu = kworker.cpu
        changes = await self.pa.refresh_cpu_vm_stats(True)
        self.vmstat_updates += 1
        self._vmstat_requeue[cpu] = bool(changes)
        self._vmstat_pending[cpu] = False

    # ----------------------------------------------------------- operations
    async def alloc_pages(self, gfp: int, order: int = 0, nid: int = -1) -> int:
        return await self.pa.alloc_pages(gfp, order, nid)

    async def free_pages(self, pfn: int, order: int = 0):
        await self.pa.free_pages(pfn, order)

    async def kmalloc(self, size: int, gfp: int, node: int = -1) -> int:
        return await self.slub.kmalloc(size, gfp, node)

    async def kfree(self, addr: int):
        await self.slub.kfree(addr)

    # --------------------------------------------------------------- checks
    def _check(self):
        """Every invariant of the page allocator, SLUB and vmstat."""
        self.pa._check()
        self.slub._check()
        self.vmstat._check()
        for z in self.pa.zones:
            for pcp in z.per_cpu_pageset:
                assert pcp.count >= 0
        # slab pages are allocated pages of their order
        mm = self.pa.mem_map
        for s in self.slub.caches.values():
            for pfn, sl in s.slabs.items():
                assert mm.ref[pfn] >= 1 and mm.ord[pfn] == sl.order, f"{sl}: pages not allocated"

    # --------------------------------------------------------------- report
    def caches(self) -> list[CacheStats]:
        out = [self.pa.stats]
        for name in sorted(self.slub.caches, key=cache_sort_key):
            out.append(self.slub.caches[name].stats)
        out.append(self.vmstat.stats)
        return out

    def caches_json(self) -> dict:
        """Every per-CPU cache's hits and misses, in total and per CPU."""
        out = {"pcp": self.pa.stats.to_json()}
        for name, s in sorted(self.slub.caches.items(), key=lambda kv: cache_sort_key(kv[0])):
            if s.stats.used():
                out[f"slub:{name}"] = cache_json(s)
        out["vmstat"] = self.vmstat.stats.to_json()
        return out

    def report(self, extra: dict):
        snap = self.vmstat.snapshot()
        extra["vmstat"] = snap
        extra["vmstat_delta"] = {k: v - self.boot_vmstat.get(k, 0) for k, v in snap.items()
                                 if v != self.boot_vmstat.get(k, 0)}
        extra["zones"] = zoneinfo_json(self.pa, self.vmstat)
        extra["caches"] = self.caches_json()
        pa = self.pa
        extra["memory"] = {
            "memory_mib": self.memory_mib, "nodes": len(pa.nodes), "max_pfn": pa.max_pfn,
            "memmap_bytes": pa.mem_map.nbytes,
            "memmap_bytes_per_frame": round(pa.mem_map.bytes_per_frame(), 3),
            "min_free_kbytes": pa.min_free_kbytes, "totalreserve_pages": pa.totalreserve_pages,
            "mobility_grouping": not pa.page_group_by_mobility_disabled,
        }
        extra["page_alloc"] = {
            "failures": sum(pa.failures.values()),
            "failures_by": [{"order": o, "gfp": f"{g:#x}", "count": n}
                            for (o, g), n in sorted(pa.failures.items())],
            "failure_lines": list(pa.failure_lines),
            "slowpath": pa.slowpath, "buddy_allocs": pa.buddy_allocs,
            "fallbacks": pa.fallbacks, "kswapd_wakeups": pa.kswapd_wakeups,
            "pcp_trylock_failures": sum(pa.pcp_trylock_fail),
            "vmstat_updates": self.vmstat_updates,
        }
        extra["slub"] = {name: dict(s.info(), stats={k: s.stat(i) for i, k in
                                                      enumerate(STAT_ITEMS)})
                         for name, s in sorted(self.slub.caches.items(),
                                               key=lambda kv: cache_sort_key(kv[0]))
                         if s.slabs or any(s.stat(i) for i in range(4))}
        extra["slub_failures"] = self.slub.failures
        fails = sum(pa.failures.values()) + self.slub.failures
        if fails:
            extra.setdefault("warnings", []).append(
                f"{fails} allocation failure(s)")


# ------------------------------------------------------------ the subsystem
def _wanted(machine_table: dict, needs) -> bool:
    return bool(machine_table.get("memory_mib")) or "physmem" in needs


def _check(ctx, parts) -> None:
    """The memory layout must work for the machine (checked at validation)."""
    m = parts["machine"]
    if _wanted(m, parts["needs"]):
        err = check_memory(m)
        if err:
            raise ctx.error(("machine",), "memory_mib", err)


def build(machine) -> "PhysMem | None":
    """mm_core_init()'s physical-memory half: memblock, zones, the page
    allocator, SLUB and vmstat, and the vmstat_shepherd kernel thread."""
    scn = machine.scenario
    m = scn.machine
    if not _wanted(m, scn.needs):
        return None
    pm = PhysMem(machine.engine, ncpus=machine.ncpus, node_of=machine.node_of,
                 memory_mib=effective_memory_mib(m),
                 movablecore_mib=m.get("movablecore_mib", 0), sysctl=machine.sysctl,
                 kconfig=machine.kconfig, constants=machine.constants,
                 queue_work_on=machine.queue_work_on, machine=machine,
                 cpu_data_slice_kib=m.get("cpu_data_slice_kib", 2048))
    pm.start_shepherd(machine)
    return pm


SUBSYSTEM = Subsystem("physmem", machine=MACHINE_FIELDS, sysctl=SYSCTL, kconfig=KCONFIG,
                      constants=CONSTANTS, check=_check, build=build,
                      doc="zones, the buddy allocator, pcp lists, SLUB, vmstat")
