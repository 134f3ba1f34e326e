"""The OOM killer and the oom_reaper (mm/oom_kill.c, Linux 6.12).

* ``__alloc_pages_may_oom`` (mm/page_alloc.c, the caller) takes ``oom_lock``
  with ``mutex_trylock``; a caller that loses sleeps one jiffy and counts as
  progress (someone else is killing).
* ``out_of_memory`` -> ``select_bad_process``: every live address space is a
  candidate (a process here is its mm; the threads of an mm are killed
  together, as ``__oom_kill_process`` kills every process sharing the mm);
  an existing victim not yet reaped (MMF_OOM_SKIP unset) aborts the
  selection (``oc->chosen = -1``: the caller retries and waits).
* ``oom_badness``: ``get_mm_rss`` (file + anon + shmem) + MM_SWAPENTS +
  ``mm_pgtables_bytes / PAGE_SIZE`` (the PTE tables), oom_score_adj 0; a
  higher score wins, an equal later one replaces the chosen one (the
  kernel's ``points < chosen_points`` test).
* ``oom_kill_process``: OOM_KILL counted, the victim marked
  (``mark_oom_victim``: ``mm.oom_victim``; its workload stops at its next
  step, like a fatal signal, and exits through ``exit_mmap``), and
  ``queue_oom_reaper`` arms the OOM_REAPER_DELAY = 2 * HZ timer.
* The ``oom_reaper`` kernel thread (started on the first kill): after the
  delay, unless the victim's exit_mmap already ran, ``oom_reap_task``:
  ``mmap_read_trylock`` up to MAX_OOM_REAP_RETRIES = 10 times, HZ/10 apart,
  then ``__oom_reap_task_mm`` zaps every private, non-VM_LOCKED VMA
  (anonymous memory) and frees it; MMF_OOM_SKIP is set either way.

Every kill is listed in the report (time, victim mm, badness, its RSS).
Simplifications: no memcg or cpuset constraints, no oom_score_adj, no
``sysctl_oom_kill_allocating_task`` / ``panic_on_oom``, no
``task_will_free_mem`` shortcut; the victim gets no access to memory
reserves (ALLOC_OOM).
"""
from __future__ import annotations

from ..sync import Mutex
from .mm_types import VM_SHARED
from .sched_mm import set_kthread

__all__ = ["OomKiller", "oom_badness", "MAX_OOM_REAP_RETRIES"]

MAX_OOM_REAP_RETRIES = 10
MM_FILEPAGES, MM_ANONPAGES, MM_SWAPENTS, MM_SHMEMPAGES = range(4)


def oom_badness(mm) -> int:
    """oom_badness: rss + swap entries + page-table pages (oom_score_adj 0)."""
    r = mm.rss
    return r[MM_FILEPAGES] + r[MM_ANONPAGES] + r[MM_SHMEMPAGES] + r[MM_SWAPENTS] + mm.nr_ptes


class OomKiller:
    def __init__(self, sub, hz: int):
        self.sub = sub
        self.engine = sub.engine
        self.oom_lock = Mutex(sub.engine, "oom_lock")
        self.kills: list[dict] = []
        self.reaper = None
        self.reap_queue: list = []
        self.hz = hz
        self.jiffy_ns = 1_000_000_000 // hz
        self.reaped = 0
        self.reap_failed = 0

    @property
    def oom_reaper_delay_ns(self) -> int:
        return 2 * self.hz * self.jiffy_ns            # OOM_REAPER_DELAY (2*HZ)

    def _candidates(self):
        return [mm for mm in self.sub.mms if not mm.exited and mm.mm_users > 0]

    def select_bad_process(self):
        """The mm to kill, -1 to abort (a victim is still being torn down),
        or None (nothing killable)."""
        chosen, points = None, None
        for mm in self._candidates():
            if getattr(mm, "oom_victim", False):
                if not getattr(mm, "oom_skip", False):
                    return -1                         # oom_evaluate_task: abort
                continue
            p = oom_badness(mm)
            if points is None or p >= points:
                chosen, points = mm, p
        return chosen

    async def out_of_memory(self, gfp: int, order: int, me) -> bool:
        """out_of_memory (the caller holds oom_lock): True if a victim was
        chosen now or one is still on its way out."""
        victim = self.select_bad_process()
        if victim is None:
            return False                              # "no killable processes"
        if victim == -1:
            return True
        self.oom_kill_process(victim, gfp, order, me)
        return True

    def oom_kill_process(self, mm, gfp: int, order: int, me):
        vs = self.sub.vmstat
        vs.events[me.cpu][vs.ev["oom_kill"]] += 1
        r = mm.rss
        self.kills.append({
            "ns": self.engine.now, "mm": mm.id, "by": me.name, "order": order,
            "gfp": f"{gfp:#x}", "badness": oom_badness(mm),
            "anon_rss_kb": r[MM_ANONPAGES] * 4, "file_rss_kb": r[MM_FILEPAGES] * 4,
            "shmem_rss_kb": r[MM_SHMEMPAGES] * 4, "swapents": r[MM_SWAPENTS],
            "pgtables_kb": mm.nr_ptes * 4,
            "candidates": sorted(((oom_badness(m), m.id) for m in self._candidates()),
                                 reverse=True)[:8],
        })
        mm.oom_victim = True                          # mark_oom_victim + SIGKILL
        self.sub.vmscan.wake_killed(mm)               # the SIGKILL ends killable sleeps
        self.queue_oom_reaper(mm)

    def queue_oom_reaper(self, mm):
        self.reap_queue.append((self.engine.now + self.oom_reaper_delay_ns, mm))
        if self.reaper is None:
            async def body(a):
                await self.oom_reaper(a)
            self.reaper = self.engine.spawn("oom_reaper", body, cpu=0)
            set_kthread(self.reaper)
        elif self.reaper.state.value == "parked":
            self.engine.wake(self.reaper)

    async def oom_reaper(self, me):
        """The oom_reaper thread: reap each queued victim once its timer expires."""
        eng = self.engine
        while self.reap_queue:
            due, mm = self.reap_queue[0]
            if eng.now < due:
                await eng.spend(due - eng.now)
            self.reap_queue.pop(0)
            await self.oom_reap_task(mm, me)
            if not self.reap_queue and not self._work_left():
                break
            if not self.reap_queue:
                await eng.park(self)                  # until the next kill queues one

    def _work_left(self) -> bool:
        m = self.sub.machine
        if m is None:
            return True
        from .._core import ActorState
        return not all(a.state is ActorState.DONE for a in m._cpu_actors)

    def holders(self):
        return []

    async def oom_reap_task(self, mm, me):
        attempts = 0
        while True:
            attempts += 1
            if mm.exited or getattr(mm, "oom_skip", False):
                break                                  # exit_mmap got there first
            if await self.oom_reap_task_mm(mm, me):
                self.reaped += 1
                break
            if attempts >= MAX_OOM_REAP_RETRIES:
                self.reap_failed += 1
                break
            await self.engine.spend((self.hz // 10) * self.jiffy_ns)   # schedule_timeout_idle
        mm.oom_skip = True                             # MMF_OOM_SKIP

    async def oom_reap_task_mm(self, mm, me) -> bool:
        """mmap_read_trylock, then __oom_reap_task_mm: zap the private VMAs
        (anonymous, or not VM_SHARED) and free what they mapped."""
        if not await mm.mmap_read_trylock("oom_reap_task_mm"):
            return False
        sub = self.sub
        gather: list[int] = []
        for vma in list(mm.vmas.values()):
            if vma.vm_flags & VM_SHARED:
                continue
            await sub.memory.zap_range(mm, vma, vma.vm_start, vma.vm_end, gather, me)
        if gather:
            await sub.memory.tlb_flush_mmu(mm, 0, 1 << 47, gather, False, me)
        mm.mmap_read_unlock("oom_reap_task_mm")
        return True

    def to_json(self) -> dict:
        return {"kills": list(self.kills), "reaped": self.reaped,
                "reap_failed": self.reap_failed}
