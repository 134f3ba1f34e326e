"""A blk-mq block device: tags, the device's service, and completion in
interrupt context (block/blk-mq.c, block/blk-mq-tag.c, block/blk-core.c,
block/blk-mq.h, Linux 6.12).

How a request flows, in the kernel's order
------------------------------------------
1. ``submit_bio`` (block/blk-core.c) in the submitter's context, which pays
   ``blk_submit_ns`` of CPU time for the block layer and the driver.
2. ``blk_mq_get_tag`` (blk-mq-tag.c): one of the device's ``nr_requests``
   tags.  When all are in flight the submitter sleeps (``io_schedule`` on the
   sbitmap_queue's wait queue) until a completion frees one: counted in
   ``tag_waits`` and ``tag_wait_ns``.
3. ``blk_account_io_start``: the request is in flight from here
   (/sys/block/<dev>/stat ``in_flight``).
4. ``queue_rq``: the driver hands it to the device, still in the
   submitter's context (blk_mq_run_hw_queue runs the dispatch there).
5. The device serves it (the service model below) and raises its
   interrupt when done.
6. The interrupt (hardirq, ``blk_irq_ns``: ``blk_mq_complete_request``)
   raises BLOCK_SOFTIRQ; ``blk_done_softirq`` ends each request on the list
   (``blk_complete_rq_ns`` each): ``bio_endio`` calls the bio's
   ``bi_end_io`` in softirq context, ``blk_account_io_done`` counts it, and
   the tag is freed, waking a submitter waiting for one.

The device actor
----------------
One actor per device is the hardware: it sleeps until the next request
finishes, then passes the finished requests to the submitting CPU's
interrupt handler.  The service model is chosen so that requests finish in
the order the driver dispatched them, which is what lets one actor serve a
whole device with only ``spend``/``park``/``wake`` (a later dispatch never
needs an earlier wake-up than the one the actor already sleeps towards):

* ``queue_depth`` requests are served at once (the device's internal queue:
  NCQ's 32 on SATA, the parallelism of an NVMe drive's flash channels, 1 on a
  disk); request *i* starts when request *i - queue_depth* has finished;
* each pays the access latency (``latency_ns``), overlapped with the others;
* the data then crosses one shared channel at the device's bandwidth
  (``page_ns`` per 4 KiB), one request after another.

So a request ends at ``max(start + latency, previous end) + pages * page_ns``:
at depth 1 completions are the cumulative service times; at depth N, N
latencies overlap; for large requests the bandwidth bounds throughput.  A
rotational device (hdd) pays its latency (seek + rotation) only when the
request does not start where the previous one ended.
Simplifications (each said where it happens): no I/O scheduler and no bio
merging (requests reach the device in submission order; ``merges`` stay 0);
a tag is handed straight to the first waiter rather than freed for all to race
for; reads and writes have the same latency.

Interrupts
----------
The completion interrupt and BLOCK_SOFTIRQ run on the submitting CPU
(``rq->mq_ctx->cpu``): as with NVMe's per-CPU queues, or with
QUEUE_FLAG_SAME_COMP's IPI (blk_mq_complete_need_ipi); the IPI's cost is
not modelled.  As :mod:`mmactors.sync.irq` models interrupt handlers, each
CPU's handler is its own actor (``irq/N-blk``, spawned on the CPU's first
completion), switching to hardirq then softirq context with the functions of
that module, so lockdep sees the contexts.  Simplification (irq.py's): the
handler runs beside the CPU's workload actor instead of stealing its time.
"""
from __future__ import annotations

import heapq
from collections import deque

from .._core import ActorState
from ..sync.irq import hardirq_enter, hardirq_exit, serve_softirq_enter, serve_softirq_exit
from ..sync.lock import call_site, might_sleep, site_name
from ..sync.lockstat import lock_registry
from .blk_types import Bio, bio_endio, op_is_write
from .genhd import DiskStats

__all__ = ["BlockDevice", "BlkMqTags", "Request", "BlkSoftirq", "blk_softirq"]

_PARKED = ActorState.PARKED


class Request:
    """struct request: one bio on the device, with its tag and times."""

    __slots__ = ("bio", "tag", "cpu", "sgrp", "start_time_ns", "io_start_time_ns", "end_ns",
                 "q")

    def __init__(self, q, bio: Bio, tag: int, cpu: int, now: int):
        self.q = q
        self.bio = bio
        self.tag = tag
        self.cpu = cpu                     # rq->mq_ctx->cpu: where it completes
        self.sgrp = 1 if op_is_write(bio.bi_opf) else 0
        self.start_time_ns = now           # allocated: in flight from here
        self.io_start_time_ns = -1         # the device started serving it
        self.end_ns = -1                   # the device finished it


class BlkMqTags:
    """struct blk_mq_tags: ``nr_tags`` tags and the sbitmap_queue's waiters.

    ``blk_mq_get_tag`` takes the lowest free tag (as sbitmap's search from
    the hint tends to); with none free the caller sleeps until one is freed.
    Simplification: a freed tag is handed to the first waiter (FIFO) instead
    of being freed for every woken waiter to race for (sbitmap wakes waiters
    in batches of wake_batch)."""

    def __init__(self, engine, name: str, nr_tags: int, stats: DiskStats):
        self.engine = engine
        self.name = f"{name}: blk_mq_get_tag"
        self.nr_tags = nr_tags
        self._free = list(range(nr_tags))   # a heap: the lowest free tag first
        self._waiters: deque = deque()      # [actor, tag] records
        self.stats = stats

    def holders(self):
        return []                           # a wait, not a lock: nobody holds it

    def nr_free(self) -> int:
        return len(self._free)

    async def get(self) -> int:
        eng = self.engine
        if self._free:
            return heapq.heappop(self._free)
        me = eng.current
        if lock_registry(eng).on_might_sleep:
            might_sleep(me, f"blk_mq_get_tag({self.name}) in {site_name(call_site())}")
        w = [me, -1]
        self._waiters.append(w)
        self.stats.tag_waits += 1
        t0 = eng.now
        await eng.park(self)                # io_schedule()
        self.stats.tag_wait_ns += eng.now - t0
        return w[1]

    def put(self, tag: int) -> None:
        """blk_mq_put_tag: from the completion's softirq."""
        if self._waiters:
            w = self._waiters.popleft()
            w[1] = tag
            eng = self.engine
            eng.wake(w[0], eng.now + eng.costs.wakeup_ns)
        else:
            heapq.heappush(self._free, tag)

    def _check(self, in_flight: int) -> None:
        assert len(self._free) + in_flight == self.nr_tags, "a tag leaked"
        assert not (self._free and self._waiters), "a waiter sleeps beside a free tag"


class BlkSoftirq:
    """The per-CPU ``blk_cpu_done`` lists and each CPU's completion handler
    (one per engine, shared by every device, as the kernel's per-CPU list is)."""

    name = "blk_cpu_done"

    def __init__(self, engine):
        self.engine = engine
        self.done: dict[int, deque] = {}
        self.actors: dict = {}
        self.interrupts = 0

    def holders(self):
        return []

    def raise_irq(self, rq: Request) -> None:
        """The device signals ``rq`` done: its interrupt fires on ``rq.cpu``."""
        eng = self.engine
        cpu = rq.cpu
        q = self.done.get(cpu)
        if q is None:
            q = self.done[cpu] = deque()
        q.append(rq)
        a = self.actors.get(cpu)
        if a is None:
            self.actors[cpu] = eng.spawn(f"irq/{cpu}-blk", self._handler, cpu=cpu,
                                         node=eng.node_of[cpu])
        elif a.state is _PARKED:
            eng.wake(a, eng.now)

    async def _handler(self, me):
        eng = self.engine
        costs = eng.costs
        q = self.done[me.cpu]
        while True:
            if not q:
                await eng.park(self)
                continue
            # the hardirq: the driver's handler, blk_mq_complete_request ->
            # blk_mq_raise_softirq (the request goes on blk_cpu_done)
            hardirq_enter(me)
            self.interrupts += 1
            await eng.spend(costs.blk_irq_ns)
            hardirq_exit(me)
            # BLOCK_SOFTIRQ: blk_done_softirq -> blk_complete_reqs.
            # Simplification: completions that arrive while it drains the list
            # join it without an interrupt of their own (coalesced).
            serve_softirq_enter(me)
            while q:
                rq = q.popleft()
                await eng.spend(costs.blk_complete_rq_ns)
                rq.q.end_request(rq, me)
            serve_softirq_exit(me)


def blk_softirq(engine) -> BlkSoftirq:
    """The engine's BlkSoftirq, made on first use (kept in ``engine.runvars``)."""
    s = engine.runvars.get(BlkSoftirq)
    if s is None:
        s = engine.runvars[BlkSoftirq] = BlkSoftirq(engine)
    return s


class BlockDevice:
    """A blk-mq device (ssd, nvme, hdd): its tags, service model, device actor
    and statistics.  Build with :func:`mmactors.block.make_device`, or directly
    for tests; call :meth:`start` before the run (or during it) so that the
    device actor exists."""

    synchronous = False                 # BLK_FEAT_SYNCHRONOUS (zram) is the other kind

    def __init__(self, engine, name: str, kind: str, *, latency_ns: int, page_ns: int,
                 nr_requests: int, queue_depth: int, rotational: bool = False):
        if nr_requests < 1 or queue_depth < 1:
            raise ValueError(f"{name}: nr_requests and queue_depth must be >= 1")
        self.engine = engine
        self.name = name
        self.kind = kind
        self.latency_ns = latency_ns
        self.page_ns = page_ns
        self.nr_requests = nr_requests
        self.queue_depth = queue_depth
        self.rotational = rotational
        self.stats = DiskStats()
        self.tags = BlkMqTags(engine, name, nr_requests, self.stats)
        self.inflight: deque[Request] = deque()     # dispatched, in end order
        self._slot_ends: deque[int] = deque()       # ends of the last queue_depth dispatches
        self._channel_free = 0                      # when the data channel is next free
        self._head_sector = -1                      # where the disk head is (rotational)
        self.actor = None
        self.completed = 0
        self.busy_ns = 0                            # device time with requests being served

    def __repr__(self):
        return f"<BlockDevice {self.name} ({self.kind})>"

    def holders(self):
        return []

    # ------------------------------------------------------------ the actor
    def start(self, add_actor=None) -> None:
        """Create the device actor (with ``add_actor(name, body)`` if given,
        e.g. ``machine.add_kthread``; else ``engine.spawn``)."""
        if self.actor is not None:
            return
        if add_actor is not None:
            self.actor = add_actor(self.name, self._device)
        else:
            self.actor = self.engine.spawn(self.name, self._device, cpu=0)

    async def _device(self, me):
        """The hardware: sleep until the next request finishes, signal it."""
        eng = self.engine
        q = self.inflight
        softirq = blk_softirq(eng)
        while True:
            if not q:
                await eng.park(self)        # idle: a dispatch wakes it at its end
                continue
            t = q[0].end_ns
            if t > eng.now:
                await eng.spend(t - eng.now)
            now = eng.now
            while q and q[0].end_ns <= now:
                softirq.raise_irq(q.popleft())

    # ------------------------------------------------------- submission
    async def submit_bio(self, bio: Bio) -> None:
        """blk_mq_submit_bio: CPU cost, a tag (may sleep), accounting, queue_rq."""
        eng = self.engine
        if bio.cpu < 0:                     # called directly, not through submit_bio()
            bio.cpu = eng.current.cpu
        await eng.spend(eng.costs.blk_submit_ns)
        tag = await self.tags.get()
        rq = Request(self, bio, tag, bio.cpu, eng.now)
        self.stats.account_io_start(rq.sgrp, eng.now)
        self.queue_rq(rq)

    def queue_rq(self, rq: Request) -> None:
        """The driver hands ``rq`` to the device: when it will start and end
        follows from the service model in the module docstring."""
        eng = self.engine
        now = eng.now
        slots = self._slot_ends
        start = now
        if len(slots) >= self.queue_depth:
            # the device is full: rq takes the slot of the request queue_depth
            # dispatches ago, which ends first (requests end in dispatch order)
            first = slots.popleft()
            if first > start:
                start = first
        bio = rq.bio
        access = self.latency_ns
        if self.rotational and bio.bi_sector == self._head_sector:
            access = 0                     # sequential: the head is already there
        self._head_sector = bio.bi_sector + bio.nr_sectors
        ready = start + access
        channel = self._channel_free
        end = (ready if ready > channel else channel) + bio.nr_pages * self.page_ns
        # device busy time: the union of the service intervals, which start
        # and end in dispatch order (the previous one ended at ``channel``)
        self.busy_ns += end - (start if start > channel else channel)
        self._channel_free = end
        slots.append(end)
        rq.io_start_time_ns = start
        rq.end_ns = end
        self.inflight.append(rq)
        a = self.actor
        if a is None:
            raise RuntimeError(f"{self.name}: the device was not started (BlockDevice.start)")
        if a.state is _PARKED:
            eng.wake(a, end)

    def end_request(self, rq: Request, actor) -> None:
        """blk_mq_end_request, in BLOCK_SOFTIRQ on ``actor`` (the CPU's handler):
        bio_endio (the bio's bi_end_io), blk_account_io_done, then the tag."""
        bio_endio(rq.bio, actor)
        now = self.engine.now
        self.stats.account_io_done(rq.sgrp, rq.bio.nr_sectors, rq.start_time_ns, now)
        self.completed += 1
        self.tags.put(rq.tag)

    # ------------------------------------------------------------ checks
    def _check(self) -> None:
        st = self.stats
        st._check()
        self.tags._check(st.inflight())
        assert len(self.inflight) <= st.inflight()
        ends = [rq.end_ns for rq in self.inflight]
        assert ends == sorted(ends), "requests must end in dispatch order"

    def info(self) -> dict:
        """The device's parameters, for the report."""
        return {"kind": self.kind, "latency_ns": self.latency_ns, "page_ns": self.page_ns,
                "bandwidth_mbps": bandwidth_mbps(self.page_ns),
                "nr_requests": self.nr_requests, "queue_depth": self.queue_depth,
                "rotational": self.rotational}


def bandwidth_mbps(page_ns: int) -> int:
    """MB/s of a device that moves one 4 KiB page in ``page_ns``."""
    return round(4096 * 1000 / page_ns) if page_ns else 0


def page_ns_of(mbps: int) -> int:
    """ns per 4 KiB page at ``mbps`` MB/s (10**6 bytes a second)."""
    return max(1, round(4096 * 1000 / mbps))
