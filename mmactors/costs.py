"""The cost model: what each touch of shared state costs, in virtual nanoseconds.

One table (:class:`CostModel`) of integer costs; a scenario's ``[costs]``
table overrides any field.  Every default says where it comes from.  Shared
hot data (lock words, counters, list heads) lives in :class:`CacheLine`
objects that know their owner and sharers, so that the cost of an access is
an outcome of who touched the line last, not an input.
"""
from __future__ import annotations

from dataclasses import dataclass, field, fields

__all__ = ["CostModel", "CacheLine", "COST_DOCS"]


@dataclass(frozen=True)
class CostModel:
    l1_hit_ns: int = field(default=1, metadata={"doc": (
        'Private-cache hit: ~4 cycles at ~3 GHz (Intel optimisation manual, L1D load-to-use).')})
    llc_hit_ns: int = field(default=15, metadata={"doc": (
        'Shared LLC hit: ~40-50 cycles on Skylake-SP (Intel optimisation manual, mesh LLC).')})
    dram_ns: int = field(default=90, metadata={"doc": (
        'DRAM access: ~90 ns idle load-to-use on a 2-socket server (Intel MLC, local node).')})
    line_transfer_ns: int = field(default=100, metadata={"doc": (
        'One cache-line transfer between cores of one node (core-to-core latency on a '
        '2-socket Xeon, Intel MLC "c2c" ~70-100 ns; Boyd-Wickizer et al. use c = 100 ns).')})
    line_transfer_remote_ns: int = field(default=150, metadata={"doc": (
        'Cache-line transfer across nodes (QPI/UPI hop, Intel MLC remote c2c ~130-180 ns).')})
    atomic_rmw_ns: int = field(default=6, metadata={"doc": (
        'An uncontended locked RMW on a line already owned (lock cmpxchg ~18-20 cycles).')})
    wakeup_ns: int = field(default=3000, metadata={"doc": (
        'Waking a sleeping task until it runs: try_to_wake_up + IPI + context switch '
        '(schbench/perf bench sched pipe wake-up latencies of a few microseconds).')})
    context_switch_ns: int = field(default=1500, metadata={"doc": (
        'A context switch on the same CPU (perf bench sched pipe, ~1.5-2 us a round trip).')})
    syscall_ns: int = field(default=100, metadata={"doc": (
        "A system call's entry and exit (getpid-style null syscall ~100 ns with mitigations "
        'off).')})
    page_zero_ns: int = field(default=350, metadata={"doc": (
        'Clearing one 4 KiB page (clear_page_erms at ~10-12 GB/s).')})
    page_copy_ns: int = field(default=600, metadata={"doc": (
        'Copying one 4 KiB page (copy_page at ~6-8 GB/s).')})
    exception_ns: int = field(default=200, metadata={"doc": (
        "A page fault's exception entry and return (~500-700 cycles with swapgs/IRET and "
        'mitigations; will-it-scale page_fault1 at 1 CPU takes ~1.5-2 us a fault including '
        'zeroing).')})
    ipi_handle_ns: int = field(default=700, metadata={"doc": (
        'What a TLB-flush IPI costs its target CPU: interrupt entry, flush_tlb_func, exit.')})
    slab_alloc_ns: int = field(default=40, metadata={"doc": (
        "A kmem_cache_alloc fast path (vm_area_struct, anon_vma, maple nodes; SLUB's lockless "
        'cmpxchg path, ~100 cycles).')})
    maple_store_ns: int = field(default=150, metadata={"doc": (
        'A maple-tree store or erase in mm->mm_mt with node preallocation (mas_preallocate + '
        'mas_store_prealloc, a few hundred cycles; will-it-scale mmap1 runs ~1 us a '
        'mmap+munmap pair on one CPU).')})
    tlb_ipi_ns: int = field(default=1500, metadata={"doc": (
        'A TLB shootdown IPI round trip to one CPU (flush_tlb_mm_range, ~1-2 us).')})
    tlb_flush_page_ns: int = field(default=50, metadata={"doc": (
        'A local TLB flush of one page (invlpg ~100-200 cycles).')})
    swap_io_ns: int = field(default=90_000, metadata={"doc": (
        'A 4 KiB swap-in or swap-out on NVMe (~80-100 us read latency at QD1).')})
    disk_io_ns: int = field(default=90_000, metadata={"doc": (
        'A 4 KiB filesystem read from disk (same device class as swap).')})
    # Block devices (mmactors/block/): each kind's access latency and the time
    # one 4 KiB page takes at its bandwidth (ns per page = 4096 B / bandwidth).
    blk_nvme_latency_ns: int = field(default=80_000, metadata={"doc": (
        'NVMe SSD: a 4 KiB random read at queue depth 1 (~80-100 us on PCIe 3/4 TLC drives, '
        'e.g. Intel P4510 data sheet 77 us, Samsung 970 EVO Plus reviews ~80 us).')})
    blk_nvme_page_ns: int = field(default=1_400, metadata={"doc": (
        'NVMe SSD: one 4 KiB page at ~3 GB/s sequential bandwidth (PCIe 3.0 x4 drives '
        '2.8-3.5 GB/s).')})
    blk_ssd_latency_ns: int = field(default=100_000, metadata={"doc": (
        'SATA SSD: a 4 KiB random read at queue depth 1 (~90-110 us, e.g. Samsung 860 EVO '
        'reviews; AHCI adds ~10 us over NVMe).')})
    blk_ssd_page_ns: int = field(default=8_000, metadata={"doc": (
        'SATA SSD: one 4 KiB page at ~520 MB/s (the SATA 6 Gb/s link tops out near 550 MB/s).')})
    blk_hdd_latency_ns: int = field(default=8_000_000, metadata={"doc": (
        'HDD (7200 rpm): positioning for a random access, ~4 ms average seek plus half a '
        'rotation (4.17 ms); a request that starts where the last one ended pays none.')})
    blk_hdd_page_ns: int = field(default=27_000, metadata={"doc": (
        'HDD: one 4 KiB page at ~150 MB/s sustained transfer (outer tracks of a 7200 rpm disk).')})
    blk_zram_compress_ns: int = field(default=4_000, metadata={"doc": (
        "zram: compressing one 4 KiB page on the submitting CPU (lzo-rle/lz4 ~0.7-1 GB/s per "
        "core: lz4's README benchmark 780 MB/s; 4096 B / 1 GB/s = 4 us).")})
    blk_zram_decompress_ns: int = field(default=1_000, metadata={"doc": (
        "zram: decompressing one 4 KiB page (lz4 ~4-5 GB/s per core: lz4's README 4970 MB/s).")})
    blk_submit_ns: int = field(default=1_000, metadata={"doc": (
        'CPU time of submit_bio for one request on a blk-mq device: bio checks, tag allocation, '
        'blk_mq_submit_bio and the driver queue_rq doorbell (~1 us per I/O in fio/io_uring '
        'profiles of the block layer + nvme driver).')})
    blk_irq_ns: int = field(default=1_500, metadata={"doc": (
        "A block device's completion interrupt: irq entry, the driver's handler "
        "(nvme_irq reading the completion queue), raising BLOCK_SOFTIRQ, exit (~1-2 us).")})
    blk_complete_rq_ns: int = field(default=500, metadata={"doc": (
        'BLOCK_SOFTIRQ work per request: blk_mq_end_request, bio_endio, freeing the tag '
        '(~1,500 cycles).')})


COST_DOCS = {f.name: f.metadata["doc"] for f in fields(CostModel)}


class CacheLine:
    """One 64-byte line of shared data, with MESI-like ownership.

    ``owner`` is the CPU holding the line modified/exclusive (-1: none);
    ``sharers`` is a bitmask of CPUs holding a valid copy.  Reads by a sharer
    hit; a read miss fetches the line from the owner (or memory) and joins the
    sharers; a write or atomic RMW needs the line exclusive, invalidating the
    other copies.  A line transfer costs ``line_transfer_ns`` within a node
    and ``line_transfer_remote_ns`` across nodes.

    With a ``clock`` (the engine), transfers of one line are serialised: the
    line's home directory serves one request at a time, so a request issued
    while the line is still moving waits for the transfers ahead of it
    (``busy_until``).  That is what makes a hot line -- a lock word every CPU
    hammers, mmap_lock's count -- a bottleneck as it is on hardware.
    """

    __slots__ = ("name", "owner", "sharers", "costs", "node_of", "transfers", "last",
                 "clock", "busy_until", "queued_ns", "pf_ready", "pf_pending")

    def __init__(self, costs: CostModel, node_of, name: str = "", clock=None):
        self.name = name
        self.owner = -1
        self.sharers = 0
        self.costs = costs
        self.node_of = node_of     # list: cpu -> node
        self.transfers = 0         # how often the line moved between CPUs
        self.last = -1             # the CPU that last wrote it
        self.clock = clock         # an object with .now (the engine), or None
        self.busy_until = 0
        self.queued_ns = 0         # total time requests waited for the directory
        self.pf_ready = 0          # when the owner's prefetchw completes (0: none pending)
        self.pf_pending = None     # cpu -> when its prefetchw completes (made on first use)

    def transfer_cost(self, cpu: int, src: int) -> int:
        if src < 0:
            return self.costs.dram_ns
        nof = self.node_of
        if nof[cpu] == nof[src]:
            return self.costs.line_transfer_ns
        return self.costs.line_transfer_remote_ns

    def _serialise(self, cost: int) -> int:
        clock = self.clock
        if clock is None:
            return cost
        now = clock.now
        start = self.busy_until if self.busy_until > now else now
        self.busy_until = start + cost
        self.queued_ns += start - now
        return start + cost - now

    def read(self, cpu: int) -> int:
        bit = 1 << cpu
        if self.sharers & bit:
            if self.pf_ready and self.owner == cpu:
                return self._pf_wait() + self.costs.l1_hit_ns
            return self.costs.l1_hit_ns
        src = self.owner if self.owner >= 0 else self.last
        self.sharers |= bit
        self.owner = -1
        self.transfers += 1
        self.pf_ready = 0
        # transfer_cost and _serialise, inlined (the hot path of every shared line)
        costs = self.costs
        if src < 0:
            cost = costs.dram_ns
        else:
            nof = self.node_of
            cost = (costs.line_transfer_ns if nof[cpu] == nof[src]
                    else costs.line_transfer_remote_ns)
        clock = self.clock
        if clock is None:
            return cost
        now = clock.now
        start = self.busy_until
        if start < now:
            start = now
        self.busy_until = start + cost
        self.queued_ns += start - now
        return start + cost - now

    def prefetchw(self, cpu: int) -> None:
        """PREFETCHW: ask for the line exclusive without waiting for it.  The
        request queues at the directory as a write's does and the line becomes
        ``cpu``'s, but the CPU goes on; its own next access waits only for
        what is left of the transfer (another CPU's access takes the line back
        as usual, behind the prefetch at the directory).  A CPU has at most one
        request for the line in flight: a prefetch issued while its last one is
        still queued merges with it (a fill buffer already waits for the line)."""
        if self.owner == cpu:
            return
        bit = 1 << cpu
        if self.sharers != bit:
            pend = self.pf_pending
            if pend is None:
                pend = self.pf_pending = {}
            now = self.clock.now if self.clock is not None else 0
            if pend.get(cpu, 0) > now:
                return                 # its request is still in flight: one per CPU
            src = self.owner if self.owner >= 0 else self.last
            cost = self._serialise(self.transfer_cost(cpu, src))
            self.transfers += 1
            pend[cpu] = now + cost
            if self.clock is not None:
                self.pf_ready = now + cost
        self.owner = cpu
        self.sharers = bit
        self.last = cpu

    def _pf_wait(self) -> int:
        """What is left of the owner's prefetch when it touches the line."""
        left = self.pf_ready - self.clock.now
        self.pf_ready = 0
        return left if left > 0 else 0

    def write(self, cpu: int) -> int:
        """Latency of a store/RMW by ``cpu`` (line left exclusive to it)."""
        costs = self.costs
        if self.owner == cpu:
            if self.pf_ready:
                return self._pf_wait() + costs.atomic_rmw_ns
            return costs.atomic_rmw_ns
        bit = 1 << cpu
        if self.sharers == bit:           # shared only by us: upgrade in place
            cost = costs.atomic_rmw_ns
        else:
            src = self.owner if self.owner >= 0 else self.last
            # transfer_cost and _serialise, inlined (the hot path of every lock word)
            if src < 0:
                cost = costs.dram_ns
            else:
                nof = self.node_of
                cost = (costs.line_transfer_ns if nof[cpu] == nof[src]
                        else costs.line_transfer_remote_ns)
            clock = self.clock
            if clock is not None:
                now = clock.now
                start = self.busy_until
                if start < now:
                    start = now
                self.busy_until = start + cost
                self.queued_ns += start - now
                cost = start + cost - now
            cost += costs.atomic_rmw_ns
            self.transfers += 1
        self.pf_ready = 0
        self.owner = cpu
        self.sharers = bit
        self.last = cpu
        return cost
