"""``kind = "will-it-scale"``: the mm tests of antonblanchard/will-it-scale.

Each CPU loops exactly as tests/<test>.c does (MEMSIZE = ``region_mib``,
128 MiB in the original); ``ops`` counts what the test's ``*iterations``
counts:

* page_fault1: mmap anonymous private, write one byte per page (one
  iteration per page), munmap;
* page_fault2: the same on the task's own tmpfs file mapped MAP_PRIVATE
  (COW faults; the first pass fills the page cache);
* page_fault3: the same mapped MAP_SHARED;
* mmap1 / mmap2: mmap + munmap of anonymous / file memory, untouched (one
  iteration per pair);
* malloc1: malloc + free of 128 MiB: glibc mmaps 128 MiB + 4 KiB and unmaps
  it (one iteration per pair);
* brk1: brk up one page and down again (two iterations per pair).

``mode = "threads"``: one mm shared by every CPU of the workload (each
thread has its own file); ``"processes"``: one mm per CPU.  Simplification:
the harness's fork, start barrier and per-second sampling are not modelled;
every task starts at time 0.  ``iterations`` (not in will-it-scale, which
runs for a time) stops each CPU after that many loops of its test, so that a
run of fixed work ends on its own.
"""
from __future__ import annotations

import itertools

from ..schema import Field, between, one_of
from .base import Workload

TESTS = ("page_fault1", "page_fault2", "page_fault3", "mmap1", "mmap2", "malloc1", "brk1")


class WillItScale(Workload):
    kind = "will-it-scale"
    needs = ("physmem", "addrspace")
    fields = [
        Field("test", str, "page_fault1", check=one_of(*TESTS), doc="the will-it-scale test"),
        Field("mode", str, "processes", check=one_of("threads", "processes"),
              doc="threads: one shared mm; processes: one mm per CPU"),
        Field("region_mib", int, 128, check=between(1, 1 << 20),
              doc="MEMSIZE of the test in MiB (the original uses 128)"),
        Field("iterations", int, 0, check=between(0, 1 << 40),
              doc="loops of the test per CPU, then the CPU stops (0: until the run ends)"),
    ]

    @classmethod
    def validate(cls, ctx, tpath, spec, machine, sections):
        from ..mm.physmem import DEFAULT_MEMORY_MIB
        mem = machine.get("memory_mib") or DEFAULT_MEMORY_MIB
        if spec["test"].startswith("page_fault"):
            files = 2 if spec["test"] != "page_fault1" else 1   # page cache + COW copies
            need = len(spec["_cpus"]) * spec["region_mib"] * files
            if need > mem * 0.9:
                raise ctx.error(tpath, "region_mib",
                                f"{len(spec['_cpus'])} CPUs x {spec['region_mib']} MiB"
                                f"{' x 2' if files == 2 else ''} does not fit in memory_mib = "
                                f"{mem} (no reclaim yet): lower region_mib or raise memory_mib")
        return spec

    def __init__(self, machine, spec, index):
        super().__init__(machine, spec, index)
        self.test = spec["test"]
        self.threads = spec["mode"] == "threads"
        self.memsize = spec["region_mib"] << 20
        self.shared_mm = None

    def _sub(self):
        from ..mm.addrspace import addrspace_of
        return addrspace_of(self.machine)

    def actors(self):
        for cpu in self.cpus:
            yield cpu, f"cpu{cpu}", self.body

    def report(self) -> dict:
        return {"kind": self.kind, "test": self.test, "mode": self.spec["mode"],
                "region_mib": self.spec["region_mib"]}

    async def body(self, cpu):
        sub = self._sub()
        if self.threads:
            if self.shared_mm is None:
                self.shared_mm = sub.new_mm()
            mm = self.shared_mm
        else:
            mm = sub.new_mm()
        sub.attach(cpu, mm)
        await getattr(self, self.test)(sub, mm, cpu)

    def _loops(self):
        """The test's outer loop: ``iterations`` times, or until the run ends."""
        n = self.spec["iterations"]
        return range(n) if n else itertools.count()

    # -- the tests --------------------------------------------------------------
    async def _fault_loop(self, sub, mm, cpu, flags, file):
        from ..mm.memory import VM_FAULT_ERROR, VM_FAULT_OOM, pte_hw_access
        from ..mm.mmap import PAGE_SIZE, PROT_READ, PROT_WRITE, do_mmap, vm_munmap
        memsize = self.memsize
        fault = sub.memory.do_user_addr_fault
        store = cpu.engine.costs.l1_hit_ns
        for _ in self._loops():
            c = await do_mmap(sub, mm, memsize, PROT_READ | PROT_WRITE, flags, cpu, file=file)
            if c < 0:
                raise RuntimeError(f"mmap failed: errno {-c}")
            for addr in range(c, c + memsize, PAGE_SIZE):
                if mm.pmd_huge and pte_hw_access(mm, addr, True):
                    cpu.debt += store                         # mapped by a THP: no fault
                    cpu.ops += 1
                    continue
                ret = await fault(mm, addr, True, cpu)        # c[i] = 0 faults ...
                if ret & VM_FAULT_ERROR:
                    if ret & VM_FAULT_OOM:
                        sub.count(cpu.cpu, "fault_oom")
                        break
                    raise RuntimeError(f"fault at {addr:#x} failed: {ret:#x}")
                cpu.debt += store                             # ... then the store retires
                cpu.ops += 1
            await vm_munmap(sub, mm, c, memsize, cpu)

    async def page_fault1(self, sub, mm, cpu):
        from ..mm.mmap import MAP_ANONYMOUS, MAP_PRIVATE
        await self._fault_loop(sub, mm, cpu, MAP_PRIVATE | MAP_ANONYMOUS, None)

    async def page_fault2(self, sub, mm, cpu):
        from ..mm.mmap import MAP_PRIVATE
        f = sub.new_shmem_file(self.memsize >> 12)           # mkstemp + ftruncate + unlink
        await self._fault_loop(sub, mm, cpu, MAP_PRIVATE, f)

    async def page_fault3(self, sub, mm, cpu):
        from ..mm.mmap import MAP_SHARED
        f = sub.new_shmem_file(self.memsize >> 12)
        await self._fault_loop(sub, mm, cpu, MAP_SHARED, f)

    async def _mmap_loop(self, sub, mm, cpu, length, flags, file):
        from ..mm.mmap import PROT_READ, PROT_WRITE, do_mmap, vm_munmap
        for _ in self._loops():
            c = await do_mmap(sub, mm, length, PROT_READ | PROT_WRITE, flags, cpu, file=file)
            if c < 0:
                raise RuntimeError(f"mmap failed: errno {-c}")
            await vm_munmap(sub, mm, c, length, cpu)
            cpu.ops += 1

    async def mmap1(self, sub, mm, cpu):
        from ..mm.mmap import MAP_ANONYMOUS, MAP_PRIVATE
        await self._mmap_loop(sub, mm, cpu, self.memsize, MAP_PRIVATE | MAP_ANONYMOUS, None)

    async def mmap2(self, sub, mm, cpu):
        from ..mm.mmap import MAP_PRIVATE
        f = sub.new_shmem_file(self.memsize >> 12)
        await self._mmap_loop(sub, mm, cpu, self.memsize, MAP_PRIVATE, f)

    async def malloc1(self, sub, mm, cpu):
        from ..mm.mmap import MAP_ANONYMOUS, MAP_PRIVATE
        # glibc: chunk of 128 MiB + SIZE_SZ rounded to pages -> 128 MiB + 4 KiB, mmapped
        await self._mmap_loop(sub, mm, cpu, self.memsize + 4096, MAP_PRIVATE | MAP_ANONYMOUS,
                              None)

    async def brk1(self, sub, mm, cpu):
        from ..mm.mmap import sys_brk
        addr = mm.brk                                        # sbrk(0)
        for _ in self._loops():
            addr += 4096
            await sys_brk(sub, mm, addr, cpu)
            addr -= 4096
            await sys_brk(sub, mm, addr, cpu)
            cpu.ops += 2
