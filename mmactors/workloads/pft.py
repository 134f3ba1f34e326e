"""``kind = "pft"``: the page fault test (gormanm/pft, pft.c), which mmtests
runs as pft-threads and pft-processes and with which the per-VMA lock series
was measured.

As pft.c does: the launch task mmaps one anonymous private region of
``mapping_mib`` (pft ``-m``) before the workers exist ("one large test area
=> single anon_vma") and carves it into one piece per worker.  Each worker,
once given the go-ahead, writes one cache line of every page of its piece
(pft's default ``-c 1``) or zeroes the whole piece (``touch = "bzero"``, pft
``-z``), once, and stops.  ``mode = "threads"`` (pft ``-t``): the workers
share the mm, so every fault is in the same VMA; ``"processes"`` (pft
``-n``): each worker is a child forked after the mmap, with its own copy of
the untouched VMA.  ``ops`` counts faults.

Reported as pft prints them: faults per CPU-second (``flt/cpu/s``, over the
workers' measured loops) and per wall-second (``fault/wsec``, first start to
last end), in virtual time.
Simplification: the launch task is the first CPU's worker (test 0, as in
pft.c); thread and fork start-up costs are not charged; the start barrier is
a completion; time a worker spends blocked counts as CPU time.
"""
from __future__ import annotations

from ..schema import Field, between, one_of
from .base import Workload

CACHELINE = 64


class PFT(Workload):
    kind = "pft"
    needs = ("physmem", "addrspace")
    fields = [
        Field("mode", str, "threads", check=one_of("threads", "processes"),
              doc="threads (pft -t): one shared mm and VMA; processes (pft -n): forked children"),
        Field("mapping_mib", int, 256, check=between(1, 1 << 22),
              doc="size of the test region in MiB (pft -m), one piece per CPU"),
        Field("touch", str, "cacheline", check=one_of("cacheline", "bzero"),
              doc="cacheline: write one cache line per page (pft's default); "
                  "bzero: zero the whole piece (pft -z)"),
    ]

    @classmethod
    def validate(cls, ctx, tpath, spec, machine, sections):
        from ..mm.physmem import DEFAULT_MEMORY_MIB
        mem = machine.get("memory_mib") or DEFAULT_MEMORY_MIB
        if spec["mapping_mib"] > mem * 0.9:
            raise ctx.error(tpath, "mapping_mib",
                            f"{spec['mapping_mib']} MiB does not fit in memory_mib = {mem} "
                            "(no reclaim yet): lower mapping_mib or raise memory_mib")
        if (spec["mapping_mib"] << 20) // len(spec["_cpus"]) < 4096:
            raise ctx.error(tpath, "mapping_mib",
                            f"{spec['mapping_mib']} MiB over {len(spec['_cpus'])} CPUs is less "
                            "than a page per worker")
        return spec

    def __init__(self, machine, spec, index):
        super().__init__(machine, spec, index)
        self.threads = spec["mode"] == "threads"
        nr = len(self.cpus)
        # pft: bytes_per_test = bytes / nr_tests, page aligned
        self.bytes_per_test = ((spec["mapping_mib"] << 20) // nr) & ~4095
        self.go = None
        self.region = None
        self.mms: dict = {}
        self.loops: dict = {}          # worker index -> (start ns, end ns)

    def actors(self):
        for cpu in self.cpus:
            yield cpu, f"cpu{cpu}", self.body

    @property
    def _actor_ids(self):
        return [a.id for a in self.machine.engine.actors if a.cpu in self.cpus
                and a.name == f"cpu{a.cpu}"]

    async def body(self, cpu):
        from ..mm.addrspace import addrspace_of
        from ..mm.fork import dup_mmap
        from ..mm.mmap import MAP_ANONYMOUS, MAP_PRIVATE, PROT_READ, PROT_WRITE, do_mmap
        from ..sync.completion import Completion
        sub = addrspace_of(self.machine)
        eng = cpu.engine
        if self.go is None:
            self.go = Completion(eng, "pft comm->go")
        j = self.cpus.index(cpu.cpu)
        if j == 0:                                   # launch(): alloc_test_memory, start_workers
            mm = sub.new_mm()
            sub.attach(cpu, mm)
            addr = await do_mmap(sub, mm, len(self.cpus) * self.bytes_per_test,
                                 PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, cpu)
            if addr < 0:
                raise RuntimeError(f"pft: mmap of the test region failed: errno {-addr}")
            self.region = addr
            for k in range(1, len(self.cpus)):
                self.mms[k] = mm if self.threads else await dup_mmap(sub, mm, cpu)
            self.go.complete_all()                   # comm->go = 1
        else:
            await self.go.wait()
            mm = self.mms[j]
            sub.attach(cpu, mm)
        await self.pft_loop(sub, mm, cpu, self.region + j * self.bytes_per_test, j)

    async def pft_loop(self, sub, mm, cpu, p, j):
        from ..mm.memory import VM_FAULT_ERROR, pte_hw_access
        from ..mm.mmap import PAGE_SIZE
        eng = cpu.engine
        costs = eng.costs
        # user-space work per page: one store hit, or bzero of the page
        user_ns = costs.page_zero_ns if self.spec["touch"] == "bzero" else costs.l1_hit_ns
        fault = sub.memory.do_user_addr_fault
        start = eng.now
        for addr in range(p, p + self.bytes_per_test, PAGE_SIZE):
            if mm.pmd_huge and pte_hw_access(mm, addr, True):   # mapped by a THP: no fault
                eng.charge(user_ns)
                cpu.ops += 1
                continue
            ret = await fault(mm, addr, True, cpu)
            if ret & VM_FAULT_ERROR:
                raise RuntimeError(f"pft: fault at {addr:#x} failed: {ret:#x}")
            eng.charge(user_ns)
            cpu.ops += 1
        await eng.spend(0)                           # the loop ends when its costs are paid
        self.loops[j] = (start, eng.now)

    def progress(self) -> float:
        pages = len(self.cpus) * (self.bytes_per_test // 4096)
        done = sum(self.machine.engine.actors[a].ops for a in self._actor_ids)
        return min(1.0, done / pages) if pages else 1.0

    def _rates(self):
        done = self.loops
        if not done:
            return 0, None, None
        faults = len(done) * (self.bytes_per_test // 4096)
        cpu_ns = sum(e - s for s, e in done.values())
        wall_ns = max(e for _, e in done.values()) - min(s for s, _ in done.values())
        return (faults, faults * 1e9 / cpu_ns if cpu_ns else None,
                faults * 1e9 / wall_ns if wall_ns else None)

    def report(self) -> dict:
        faults, per_cpu, per_wall = self._rates()
        return {"kind": self.kind, "mode": self.spec["mode"], "touch": self.spec["touch"],
                "mapping_mib": self.spec["mapping_mib"], "workers": len(self.cpus),
                "workers_done": len(self.loops), "faults": faults,
                "faults_per_cpu_s": per_cpu, "faults_per_wall_s": per_wall}
