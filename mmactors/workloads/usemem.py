"""``kind = "usemem"``: vm-scalability's usemem (usemem.c), the memory
pressure generator of its case-* scripts (case-anon-w-seq, case-swap-w-rand,
case-lru-file-mmap-read, ...)::

    [[workload]]
    kind = "usemem"
    cpus = "all"
    size = "256M"        # per task (usemem's size argument)
    # mode = "processes" # usemem -n N; "threads": usemem -t N (one shared mm)
    # step = "4K"        # -j: bytes between two touches
    # repeat = 0         # -r: further passes over the memory after the first
    # random = false     # -R: touch the steps in a random order
    # readonly = false   # -o: read instead of write (anonymous: the zero page)
    # prefault = false   # -F: mmap with MAP_POPULATE
    # sleep_ns = 0       # -s: hold the memory this long when done (-1: to the
    #                    #     end of the run), then unmap it and exit
    # rate_mib_s = 0     # not a usemem option: cap the touch rate (0: as fast
    #                    #     as it goes), to keep demand below kswapd's rate

Each CPU is one usemem task: it mmaps ``size`` of anonymous private memory
(usemem's default ``/dev/zero``-like anonymous mapping), touches it once,
then ``repeat`` more times (each pass in the same order: sequential, or one
random permutation of the steps drawn from the task's seeded RNG, as
usemem's ``-R`` draws ``random()`` offsets), and holds or frees it.  An
access to a present PTE is a TLB miss the MMU serves (accessed and dirty bits
set, no fault); anything else is a page fault, major when it swaps in.
``ops`` counts pages touched.

Reported per task as usemem prints it (bytes touched and the rate in
KB/s, in virtual time) and the pass count; a task that hits VM_FAULT_OOM or
SIGBUS stops there and is reported ``oom``; one the OOM killer chose
(``fatal_signal_pending``, checked after each fault and at each scheduling
point of a pass) exits and is reported ``killed``.
Simplifications: no file mappings (``-f``), malloc (``-a``), mlock (``-M``),
hugetlb (``-g``), msync, the sync-rw barrier (``-T``) or detaching.
"""
from __future__ import annotations

from array import array

from ..schema import Field, at_least, one_of
from .base import Workload, fatal_signal_pending
from .mm_ops import TOUCH_SYNC_NS, parse_size

__all__ = ["UseMem"]

PAGE_SIZE = 4096
RATE_BURST = 128 << 10       # rate_mib_s: touch 128 KiB at full speed, then wait for the rate


def _size_field(name: str, default: str, doc: str, minimum: int = PAGE_SIZE):
    def check(v):
        n = parse_size(v) if isinstance(v, str) else None
        if n is None:
            return f"must be a size like 4K, 64M or 1G, got {v!r}"
        if n < minimum:
            return f"must be at least {minimum} bytes, got {v!r}"
        return None
    return Field(name, str, default, check=check, doc=doc)


class UseMem(Workload):
    kind = "usemem"
    needs = ("physmem", "addrspace")
    fields = [
        _size_field("size", "64M", "memory per task (usemem's size argument): K, M, G suffixes"),
        Field("mode", str, "processes", check=one_of("processes", "threads"),
              doc="processes (usemem -n): a process per CPU; threads (usemem -t): one mm"),
        _size_field("step", "4K", "bytes between two touches (usemem -j)"),
        Field("repeat", int, 0, check=at_least(0),
              doc="passes over the memory after the first (usemem -r)"),
        Field("random", bool, False, doc="touch in a random order (usemem -R)"),
        Field("readonly", bool, False, doc="read instead of write (usemem -o)"),
        Field("prefault", bool, False, doc="mmap with MAP_POPULATE (usemem -F)"),
        Field("rate_mib_s", int, 0, check=at_least(0),
              doc="cap on the bytes touched per second, in MiB/s, in bursts of 128 KiB "
                  "(0: no cap; not a usemem option: demand below kswapd's reclaim rate)"),
        Field("sleep_ns", int, 0, check=lambda v: None if v >= -1 else
              f"must be -1 (hold to the end) or >= 0, got {v}",
              doc="hold the memory this long when done (usemem -s), -1 to the end of the "
                  "run; then munmap and exit"),
    ]

    @classmethod
    def validate(cls, ctx, tpath, spec, machine, sections):
        size = parse_size(spec["size"])
        step = parse_size(spec["step"])
        if step > size:
            raise ctx.error(tpath, "step", f"{spec['step']} is larger than size = {spec['size']}")
        spec["_bytes"] = size & ~(PAGE_SIZE - 1)
        spec["_step"] = step
        return spec

    def __init__(self, machine, spec, index):
        super().__init__(machine, spec, index)
        self.bytes = spec["_bytes"]
        self.step = spec["_step"]
        self.shared = None
        self.tasks: dict[int, dict] = {}

    def actors(self):
        for cpu in self.cpus:
            yield cpu, f"cpu{cpu}", self.body

    def _touches(self) -> int:
        return -(-self.bytes // self.step)

    async def body(self, cpu):
        from ..mm import mmap as M
        from ..mm.addrspace import addrspace_of
        from ..mm.memory import VM_FAULT_OOM, VM_FAULT_SIGBUS, access_error, pte_hw_access
        sub = addrspace_of(self.machine)
        eng = cpu.engine
        costs = eng.costs
        spec = self.spec
        if spec["mode"] == "threads":
            if self.shared is None:
                self.shared = sub.new_mm()
                self.shared.mm_users = 0
            mm = self.shared
            mm.mm_users += 1
        else:
            mm = sub.new_mm()
        sub.attach(cpu, mm)
        task = self.tasks[cpu.cpu] = {"cpu": cpu.cpu, "bytes": 0, "passes": 0, "start_ns": eng.now,
                                      "end_ns": None, "oom": False, "killed": False}
        flags = M.MAP_PRIVATE | M.MAP_ANONYMOUS | (M.MAP_POPULATE if spec["prefault"] else 0)
        addr = await M.do_mmap(sub, mm, self.bytes, M.PROT_READ | M.PROT_WRITE, flags, cpu)
        if addr < 0:
            task["oom"] = True
            task["error"] = f"mmap: errno {-addr}"
            return
        n = self._touches()
        # The touch order, without a Python int per step: a list of n ints is
        # 40 bytes per page for as long as the pass runs (at 64 GiB, more than
        # the simulator's whole per-page state).  Sequential: the range itself;
        # random: a 4-byte array, shuffled by the same RNG calls as a list
        # (random.shuffle swaps in place), so the permutation is unchanged.
        order = range(n)
        if spec["random"]:
            order = array("l" if n > 1 << 31 else "i", order)
            cpu.rng.shuffle(order)
        write = not spec["readonly"]
        fault = sub.memory.do_user_addr_fault
        user_ns = costs.l1_hit_ns
        vma = mm.find_vma(addr)
        denied = access_error(vma, write)
        rate = spec["rate_mib_s"]
        ns_per_step = (self.step * 1_000_000_000) // (rate << 20) if rate else 0
        burst_ns = (RATE_BURST * 1_000_000_000) // (rate << 20) if rate else 0
        t_next = eng.now
        for p in range(1 + spec["repeat"]):
            for i in order:
                a = addr + i * self.step
                if denied or not pte_hw_access(mm, a, write):
                    ret = await fault(mm, a, write, cpu)
                    if fatal_signal_pending(mm):    # SIGKILL (the OOM killer): exit
                        return await self._killed(sub, mm, task, cpu)
                    if ret & (VM_FAULT_OOM | VM_FAULT_SIGBUS):
                        task["oom"] = True
                        task["end_ns"] = eng.now
                        return
                eng.charge(user_ns)
                if ns_per_step:                     # the rate cap, in bursts of RATE_BURST
                    t_next += ns_per_step
                    if t_next - eng.now - cpu.debt > burst_ns:
                        await eng.spend(t_next - eng.now - cpu.debt)
                elif cpu.debt >= TOUCH_SYNC_NS:     # passes take time (see mm_ops)
                    await eng.sync()
                    if fatal_signal_pending(mm):    # delivered at the next interrupt
                        return await self._killed(sub, mm, task, cpu)
                cpu.ops += 1
                task["bytes"] += self.step
            task["passes"] = p + 1
        await eng.spend(0)
        task["end_ns"] = eng.now
        hold = spec["sleep_ns"]
        if hold == -1:
            return                                      # held until the run ends
        if hold:
            await eng.spend(hold)
        mm.mm_users -= 1
        if spec["mode"] == "processes":
            await M.exit_mmap(sub, mm, cpu)
        else:
            await M.vm_munmap(sub, mm, addr, self.bytes, cpu)

    async def _killed(self, sub, mm, task, cpu):
        """The task got SIGKILL: it exits (the last user of the mm tears it down)."""
        from ..mm import mmap as M
        task["killed"] = True
        task["end_ns"] = cpu.engine.now
        mm.mm_users -= 1
        if mm.mm_users <= 0 and not mm.exited:
            await M.exit_mmap(sub, mm, cpu)

    def progress(self) -> float:
        total = len(self.cpus) * self._touches() * (1 + self.spec["repeat"])
        eng = self.machine.engine
        done = sum(a.ops for a in eng.actors if a.cpu in self.cpus and a.name == f"cpu{a.cpu}")
        return min(1.0, done / total) if total else 1.0

    def report(self) -> dict:
        tasks = []
        for cpu in sorted(self.tasks):
            t = dict(self.tasks[cpu])
            end = t["end_ns"] if t["end_ns"] is not None else self.machine.engine.now
            usecs = max(1, (end - t["start_ns"]) // 1000)
            t["usecs"] = usecs
            t["kb_per_s"] = t["bytes"] * 1_000_000 // 1024 // usecs   # usemem: "%lu bytes / %lu usecs = %lu KB/s"
            tasks.append(t)
        return {"kind": self.kind, "size": self.spec["size"], "mode": self.spec["mode"],
                "repeat": self.spec["repeat"], "random": self.spec["random"],
                "readonly": self.spec["readonly"], "tasks": tasks,
                "oom": sum(1 for t in tasks if t["oom"]),
                "killed": sum(1 for t in tasks if t["killed"])}
