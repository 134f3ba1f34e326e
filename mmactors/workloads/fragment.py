"""Fragmenting memory and asking for high-order pages: the workloads of the
proactive-compaction tests (Nitin Gupta, "mm: Proactive compaction", Linux 5.9,
commit facdaa917c4d: fragment memory by filling it with order-0 pages and
freeing three quarters of every 2 MiB block, then measure hugepage
allocation latency)::

    [[workload]]
    kind = "fragment"
    cpus = [0]
    size = "80%"          # of the machine's managed memory, or a size ("200M")
    # keep = 4            # keep one page in 4 of every 2 MiB block (pfn % keep == 0)

    [[workload]]
    kind = "highorder"
    cpus = [1]
    # order = 9
    # count = 64
    # gfp = "GFP_TRANSHUGE"
    # delay_ns = 0        # after every fragment workload is done
    # interval_ns = 10_000_000
    # hold = true         # keep the blocks (false: free each at once)

``fragment`` is one task (the first CPU of ``cpus``): it mmaps ``size`` of
private anonymous memory (its VMA marked VM_NOHUGEPAGE, as
``madvise(MADV_NOHUGEPAGE)`` would: the fill is order-0 pages), touches every
page (each an order-0 anonymous fault), then, looking at the frame each page
got, frees with MADV_DONTNEED all but ``512 / keep`` frames of every 2 MiB
block (offsets drawn per block from the task's seeded RNG: a regular pattern
such as every fourth pfn would hide every free page from the async free
scanner's stride of 32): three quarters of every block with the default, the
rest staying mapped (movable, on the LRU) for the rest of the run.

``highorder`` waits until every ``fragment`` workload is done, then
``delay_ns``, then makes ``count`` allocations of ``order`` with ``gfp``,
``interval_ns`` apart, each timed in virtual time from the call to its
return (the direct compaction and reclaim it does included): the latency
percentiles per order are in its report, as the test driver printed them.

Simplification: the kernel test's driver allocated from a kernel module; here
the filler is a user process, so the pages it keeps are movable LRU pages that
compaction can migrate, which is what the test's fragmentation produced.
"""
from __future__ import annotations

from ..schema import Field, at_least, between
from .base import Workload, fatal_signal_pending
from .mm_ops import TOUCH_SYNC_NS, parse_size

__all__ = ["Fragment", "HighOrder", "percentiles"]

PAGE_SIZE = 4096
VM_NOHUGEPAGE = 0x40000000          # include/linux/mm.h (madvise MADV_NOHUGEPAGE)
POLL_NS = 1_000_000                 # highorder looks for the fragmenters' end every jiffy


def _check_size(v):
    if isinstance(v, str) and v.endswith("%"):
        try:
            p = int(v[:-1])
        except ValueError:
            return f'must be a percentage like "80%" or a size like "200M", got {v!r}'
        return None if 1 <= p <= 100 else f"percentage must be 1..100, got {v!r}"
    n = parse_size(v) if isinstance(v, str) else None
    if n is None or n < PAGE_SIZE:
        return f'must be a percentage like "80%" or a size like "200M", got {v!r}'
    return None


def percentiles(values: list[int]) -> dict:
    """Nearest-rank percentiles (and mean, max) of a list of latencies in ns."""
    if not values:
        return {"n": 0}
    s = sorted(values)
    n = len(s)

    def pct(p):
        return s[max(0, -(-p * n // 100) - 1)]
    return {"n": n, "mean_ns": sum(s) // n, "p50_ns": pct(50), "p90_ns": pct(90),
            "p99_ns": pct(99), "max_ns": s[-1], "min_ns": s[0]}


class Fragment(Workload):
    kind = "fragment"
    needs = ("physmem", "addrspace")
    fields = [
        Field("size", str, "80%", check=_check_size,
              doc='memory to fill: a percentage of managed memory ("80%") or a size ("200M")'),
        Field("keep", int, 4, check=between(2, 512),
              doc="keep 512 / keep frames of every 2 MiB block, at offsets drawn from the "
                  "task's seeded RNG (4: free three quarters of every block)"),
        Field("pin", bool, False,
              doc="pin the kept pages (an extra reference each, as pin_user_pages takes "
                  "for RDMA or vfio): compaction cannot migrate them"),
    ]

    def __init__(self, machine, spec, index):
        super().__init__(machine, spec, index)
        self.done = False
        self.result = {"filled_pages": 0, "freed_pages": 0, "kept_pages": 0,
                       "fill_ns": 0, "free_ns": 0, "oom": False}

    def _bytes(self, pa) -> int:
        v = self.spec["size"]
        if v.endswith("%"):
            managed = sum(z.managed_pages for z in pa.populated)
            return managed * int(v[:-1]) // 100 * PAGE_SIZE
        return parse_size(v) & ~(PAGE_SIZE - 1)

    def actors(self):
        cpu = self.cpus[0]
        yield cpu, f"cpu{cpu}", self.body

    async def body(self, cpu):
        from ..mm import madvise
        from ..mm import mmap as M
        from ..mm.addrspace import addrspace_of
        from ..mm.memory import VM_FAULT_OOM, VM_FAULT_SIGBUS, pte_hw_access
        from ..mm.mm_types import PMD_SHIFT, PTRS_PER_PTE
        sub = addrspace_of(self.machine)
        eng = cpu.engine
        res = self.result
        try:
            mm = sub.new_mm()
            sub.attach(cpu, mm)
            nbytes = self._bytes(sub.pa)
            addr = await M.do_mmap(sub, mm, nbytes, M.PROT_READ | M.PROT_WRITE,
                                   M.MAP_PRIVATE | M.MAP_ANONYMOUS, cpu)
            if addr < 0:
                res["oom"] = True
                return
            vma = mm.find_vma(addr)
            vma.vm_flags |= VM_NOHUGEPAGE
            t0 = eng.now
            fault = sub.memory.do_user_addr_fault
            end = addr
            for a in range(addr, addr + nbytes, PAGE_SIZE):
                if not pte_hw_access(mm, a, True):
                    ret = await fault(mm, a, True, cpu)
                    if ret & (VM_FAULT_OOM | VM_FAULT_SIGBUS) or fatal_signal_pending(mm):
                        res["oom"] = True
                        break
                end = a + PAGE_SIZE
                cpu.ops += 1
                eng.charge(eng.costs.l1_hit_ns)
                if cpu.debt >= TOUCH_SYNC_NS:
                    await eng.sync()
            res["filled_pages"] = (end - addr) // PAGE_SIZE
            res["fill_ns"] = eng.now - t0
            # free every page whose frame is not a multiple of keep, in runs
            t1 = eng.now
            keep = self.spec["keep"]
            run_start = None
            runs = []
            kept = 0
            kept_in: dict[int, set] = {}             # pageblock -> offsets kept
            rng = cpu.rng
            for a in range(addr, end, PAGE_SIZE):
                pt = mm.pgtables.get(a >> PMD_SHIFT)
                v = pt.ptes[(a >> 12) & (PTRS_PER_PTE - 1)] if pt is not None else 0
                pfn = v >> 12
                ks = kept_in.get(pfn >> 9)
                if ks is None:
                    ks = kept_in[pfn >> 9] = set(rng.sample(range(512), 512 // keep))
                free = bool(v & 1) and (pfn & 511) not in ks
                if free and run_start is None:
                    run_start = a
                elif not free:
                    kept += bool(v & 1)
                    if run_start is not None:
                        runs.append((run_start, a - run_start))
                        run_start = None
            if run_start is not None:
                runs.append((run_start, end - run_start))
            for s, ln in runs:
                await madvise.sys_madvise_dontneed(sub, mm, s, ln, cpu)
                res["freed_pages"] += ln // PAGE_SIZE
            res["kept_pages"] = kept
            if self.spec["pin"]:                   # pin_user_pages: FOLL_PIN references
                ref = sub.mem_map.ref
                for a in range(addr, end, PAGE_SIZE):
                    pt = mm.pgtables.get(a >> PMD_SHIFT)
                    v = pt.ptes[(a >> 12) & (PTRS_PER_PTE - 1)] if pt is not None else 0
                    if v & 1:
                        ref[v >> 12] += 1
            res["free_ns"] = eng.now - t1
        finally:
            self.done = True

    def report(self) -> dict:
        return {"kind": self.kind, "size": self.spec["size"], "keep": self.spec["keep"],
                "pin": self.spec["pin"], **self.result}


class HighOrder(Workload):
    kind = "highorder"
    needs = ("physmem", "addrspace")
    fields = [
        Field("order", int, 9, check=between(1, 10), doc="allocation order"),
        Field("count", int, 64, check=at_least(1), doc="allocations per CPU"),
        Field("gfp", str, "GFP_TRANSHUGE",
              doc="gfp flags as the kernel names them (GFP_TRANSHUGE: movable, direct "
                  "reclaim and compaction, no warning)"),
        Field("delay_ns", int, 0, check=at_least(0),
              doc="wait this long after every fragment workload is done"),
        Field("interval_ns", int, 10_000_000, check=at_least(0),
              doc="time between two allocations"),
        Field("hold", bool, True, doc="keep the allocated blocks (false: free each at once)"),
    ]

    @classmethod
    def validate(cls, ctx, tpath, spec, machine, sections):
        from ..mm.gfp import parse_gfp
        try:
            spec["_gfp"] = parse_gfp(spec["gfp"])
        except (ValueError, KeyError) as e:
            raise ctx.error(tpath, "gfp", f"{e}") from None
        return spec

    def __init__(self, machine, spec, index):
        super().__init__(machine, spec, index)
        self.latencies: list[int] = []
        self.failed = 0
        self.ok = 0

    def actors(self):
        for cpu in self.cpus:
            yield cpu, f"cpu{cpu}", self.body

    async def body(self, cpu):
        from ..mm.addrspace import addrspace_of
        sub = addrspace_of(self.machine)
        eng = cpu.engine
        pa = sub.pa
        frags = [w for w in self.machine.workloads if isinstance(w, Fragment)]
        while not all(w.done for w in frags):
            await eng.spend(POLL_NS)
        if self.spec["delay_ns"]:
            await eng.spend(self.spec["delay_ns"])
        order, gfp = self.spec["order"], self.spec["_gfp"]
        for _ in range(self.spec["count"]):
            if cpu.debt:
                await eng.sync()
            t0 = eng.now
            pfn = await pa.alloc_pages(gfp, order)
            await eng.sync()
            self.latencies.append(eng.now - t0)
            if pfn < 0:
                self.failed += 1
            else:
                self.ok += 1
                cpu.ops += 1
                if not self.spec["hold"]:
                    await pa.free_pages(pfn, order)
            if self.spec["interval_ns"]:
                await eng.spend(self.spec["interval_ns"])

    def report(self) -> dict:
        return {"kind": self.kind, "order": self.spec["order"], "gfp": self.spec["gfp"],
                "allocations": len(self.latencies), "ok": self.ok, "failed": self.failed,
                "latency": percentiles(self.latencies)}
