"""A data-race detector for simulated CPUs: happens-before with vector clocks,
FastTrack epochs, KCSAN-style reports.

Why happens-before and not KCSAN's watchpoints
----------------------------------------------
KCSAN finds a race when two accesses *overlap in time* on real hardware: it
sets a watchpoint, stalls, and sees whether anyone touched the word.  In a
simulation we see every access and every synchronisation, so we can do
better than sampling: two accesses race when neither *happens before* the
other (Lamport), which is what KCSAN approximates.  Happens-before is tracked
with one vector clock per CPU (DJIT+) and, per location, FastTrack's
adaptive epochs (Flanagan and Freund, PLDI 2009): the last write is one epoch
``clock@cpu`` until two *marked* writes are concurrent (legal, so both are
kept); the reads are one epoch until two reads are concurrent, then a small
per-CPU map (read-shared).  A write that happens after everything collapses
the location back to epochs.

What races (the LKMM's and KCSAN's definition): two accesses to the same
location from different CPUs, not ordered by happens-before, at least one a
write and at least one *plain* (not READ_ONCE/WRITE_ONCE/atomic/...).
``data_race(...)`` accesses are not instrumented at all (as in the kernel);
accesses inside a seqcount read or write section are treated as marked
(KCSAN's ``kcsan_atomic_next``/``kcsan_nestable_atomic_begin``).
``ASSERT_EXCLUSIVE_WRITER(x)`` is an access that races with any concurrent
write, marked or not; ``ASSERT_EXCLUSIVE_ACCESS(x)`` with any concurrent
access.

Where happens-before comes from
-------------------------------
* program order (each CPU's own clock);
* locks: a release (unlock) happens before the next acquisition of the same
  lock; ``mmactors.sync`` locks report through the lock validator hooks
  (:class:`HBValidator`), memory-model spinlocks through their lock word;
* release/acquire on memory, C11 style: a release store (smp_store_release,
  rcu_assign_pointer, atomic_set_release, a _release or fully ordered RMW,
  spin_unlock) carries its CPU's clock; an acquire load (smp_load_acquire,
  rcu_dereference, an _acquire or fully ordered RMW, spin_lock) that reads it
  takes it.  RMWs continue a release sequence.  Fences: smp_wmb()/smp_mb()
  make later marked stores carry the clock of the fence; smp_rmb()/smp_mb()
  give earlier marked loads acquire semantics.  rcu_dereference() is
  promoted to acquire (as C11 compilers promote consume); READ_ONCE() orders
  through *address dependencies*: when it returns a pointer (a location or a
  struct of locations), accesses through that pointer take the clock;
* RCU: a read-side critical section that ended before a grace period ended
  happens before the code after ``synchronize_rcu()``.
Simplification: control dependencies give no happens-before (neither does
KCSAN); completions and wait queues of ``mmactors.sync`` give none either.
"""
from __future__ import annotations

import os

from .._core.errors import SimulationError
from ..sync.lockstat import Validator

__all__ = ["RaceDetector", "DataRace", "HBValidator", "ThreadClock", "Access",
           "R", "W", "MR", "MW", "RMW", "AW", "AA"]

# Access kinds.
R, W, MR, MW, RMW, AW, AA = range(7)
_KIND_TEXT = {
    R: "read", W: "write", MR: "read (marked)", MW: "write (marked)",
    RMW: "read-write (marked)", AW: "assert no writes", AA: "assert no accesses",
}
_WRITES = (W, MW, RMW)
_PLAIN = (R, W)


def _conflict(a: int, b: int) -> bool:
    """Do two *concurrent* accesses of kinds a and b race?"""
    if a == AA or b == AA:
        return True
    if a == AW:
        return b in _WRITES
    if b == AW:
        return a in _WRITES
    return (a in _WRITES or b in _WRITES) and (a in _PLAIN or b in _PLAIN)


def vc_join(a: list, b) -> None:
    """a := a ⊔ b (in place).  ``b`` may be None or shorter or longer."""
    if b is None:
        return
    if len(b) > len(a):
        a.extend([0] * (len(b) - len(a)))
    for i, x in enumerate(b):
        if x > a[i]:
            a[i] = x


def vc_merge(a, b):
    """A new clock a ⊔ b (either may be None)."""
    if a is None:
        return None if b is None else list(b)
    out = list(a)
    vc_join(out, b)
    return out


class ThreadClock:
    """Happens-before state of one CPU (one actor)."""

    __slots__ = ("tid", "vc", "fence_rel", "pending", "deps", "rcu_unlock_vc", "name", "cpu")

    def __init__(self, tid: int, n: int, name: str, cpu: int):
        self.tid = tid
        self.name = name
        self.cpu = cpu
        self.vc = [0] * max(n, tid + 1)
        self.vc[tid] = 1
        self.fence_rel = None        # clock at the last release fence (wmb/mb)
        self.pending = None          # clocks of relaxed marked reads, for the next rmb/mb
        self.deps: dict = {}         # id(pointer) -> (pointer, clock): address dependencies
        self.rcu_unlock_vc = None    # clock at the last rcu_read_unlock()

    def epoch(self) -> int:
        return self.vc[self.tid]

    def release(self) -> list:
        """A snapshot for others to acquire; our later events are after it."""
        snap = list(self.vc)
        self.vc[self.tid] += 1
        return snap

    def acquire(self, clock) -> None:
        vc_join(self.vc, clock)


class Access:
    """One recorded access: its epoch and what a report needs."""

    __slots__ = ("tid", "clock", "kind", "cpu", "task", "now", "stack", "value", "loc")

    def __init__(self, tid, clock, kind, cpu, task, now, stack, value, loc):
        self.tid, self.clock, self.kind = tid, clock, kind
        self.cpu, self.task, self.now = cpu, task, now
        self.stack, self.value, self.loc = stack, value, loc

    @property
    def function(self) -> str:
        return self.stack[0][0] if self.stack else "?"

    def describe(self) -> str:
        return _KIND_TEXT[self.kind]

    def to_json(self) -> dict:
        return {"access": _KIND_TEXT[self.kind], "cpu": self.cpu, "task": self.task,
                "virtual_ns": self.now, "location": self.loc.name,
                "stack": [f"{fn} ({f}:{ln})" for fn, f, ln in self.stack]}


class Shadow:
    """Per-location FastTrack state."""

    __slots__ = ("w", "ws", "r", "rs", "asserts")

    def __init__(self):
        self.w = None      # last write (an Access), when writes are totally ordered
        self.ws = None     # concurrent marked writes (list), else None
        self.r = None      # last read epoch
        self.rs = None     # read-shared: tid -> Access
        self.asserts = None  # tid -> Access (ASSERT_EXCLUSIVE_*)


def _fmt_value(v) -> str:
    if isinstance(v, bool):
        return str(int(v))
    if isinstance(v, int):
        return f"0x{v & 0xffffffffffffffff:08x}"
    n = getattr(v, "_name", None) or getattr(v, "name", None)
    return n if isinstance(n, str) else repr(v)


class DataRace(SimulationError):
    """Two conflicting accesses, not ordered by happens-before (a KCSAN report)."""

    exit_status = 5
    kind = "data-race"

    def __init__(self, earlier: Access, later: Access, *, size: int, context: str = "",
                 **kw):
        self.earlier, self.later, self.size, self.context = earlier, later, size, context
        fa, fb = sorted((later.function, earlier.function))
        assertion = later.kind in (AW, AA) or earlier.kind in (AW, AA)
        self.title = (f"KCSAN: {'assert: race' if assertion else 'data-race'} in {fa} / {fb}")
        msg = (f"{self.title}: {later.describe()} of {later.loc.name} by {later.task} "
               f"races with {earlier.describe()} by {earlier.task}")
        super().__init__(msg, actor=later.task, **kw)

    def report(self) -> str:
        bar = "=" * 66
        out = [bar, f"BUG: {self.title}", ""]
        for a in (self.later, self.earlier):
            out.append(f"{a.describe()} to {a.loc.name} of {self.size} bytes by task "
                       f"{a.task} on cpu {a.cpu} at {a.now} ns:")
            for fn, f, ln in a.stack:
                out.append(f" {fn} ({f}:{ln})")
            out.append("")
        e, l_ = self.earlier, self.later
        if e.kind in _WRITES and l_.kind in (R, MR) and e.value is not None:
            out.append(f"value read: {_fmt_value(l_.value)} (last write {_fmt_value(e.value)})")
            out.append("")
        out.append("Reported by mmactors race detector (happens-before, FastTrack) on:")
        out.append(f"CPU: {l_.cpu} task {l_.task}" + (f"; {self.context}" if self.context else ""))
        out.append(bar)
        if self.token:
            out.append(f"replay: --strategy replay:{self.token}")
        return "\n".join(out)

    def to_json(self) -> dict:
        d = super().to_json()
        d["title"] = self.title
        d["accesses"] = [self.later.to_json(), self.earlier.to_json()]
        d["size"] = self.size
        d["context"] = self.context
        return d


# Frames from these files are the machinery, not the code under test.
_HERE = os.path.dirname(os.path.abspath(__file__))
_SKIP = (os.path.join(_HERE, "access.py"), os.path.join(_HERE, "race.py"),
         os.path.join(_HERE, "operational.py"))
_STOP = ("/trio/", os.sep + "_core" + os.sep, os.sep + "workloads" + os.sep + "racy.py",
         os.sep + "memmodel" + os.sep + "runner.py")


def capture_stack(frame, depth: int = 4) -> tuple:
    """(function, file, line) of the simulated code's frames, innermost first."""
    out = []
    f = frame
    while f is not None and len(out) < depth:
        fn = f.f_code.co_filename
        if fn in _SKIP:
            f = f.f_back
            continue
        if any(s in fn for s in _STOP):
            break
        out.append((f.f_code.co_name, os.path.basename(fn), f.f_lineno))
        f = f.f_back
    return tuple(out)


class RaceDetector:
    """Happens-before race detection for one :class:`~.access.Memory`."""

    def __init__(self, engine, context=None):
        self.engine = engine
        self.threads: dict[int, ThreadClock] = {}
        self.context = context or (lambda: "")
        self.checks = 0
        self.races = 0
        self.lock_vc: dict = {}          # sync lock object -> (write clock, read clock)
        self.enabled = True

    # ------------------------------------------------------------ threads
    def thread(self, actor) -> ThreadClock:
        t = self.threads.get(actor.id)
        if t is None:
            t = self.threads[actor.id] = ThreadClock(actor.id, len(self.engine.actors),
                                                     actor.name, actor.cpu)
        return t

    def reset(self) -> None:
        """Forget every clock (a fresh start: a new iteration of a program)."""
        self.threads.clear()
        self.lock_vc.clear()

    # ------------------------------------------------------------ accesses
    def access(self, tc: ThreadClock, loc, kind: int, stack, value=None) -> None:
        """Check one access against the location's history, then record it."""
        self.checks += 1
        sh = loc.shadow
        if sh is None:
            sh = loc.shadow = Shadow()
        vc = tc.vc
        tid = tc.tid
        if tc.deps:
            for obj in (loc, loc.owner):
                dep = tc.deps.get(id(obj))
                if dep is not None and dep[0] is obj:
                    vc_join(vc, dep[1])
        acc = Access(tid, vc[tid], kind, tc.cpu, tc.name, self.engine.now, stack, value, loc)

        def concurrent(e):
            return e.tid != tid and (e.tid >= len(vc) or e.clock > vc[e.tid])

        if sh.ws is not None:
            writes = sh.ws
        else:
            writes = (sh.w,) if sh.w is not None else ()
        for e in writes:
            if concurrent(e) and _conflict(kind, e.kind):
                self._report(e, acc)
        if kind in _WRITES or kind == AA:
            reads = sh.rs.values() if sh.rs is not None else ((sh.r,) if sh.r is not None else ())
            for e in reads:
                if concurrent(e) and _conflict(kind, e.kind):
                    self._report(e, acc)
        if sh.asserts is not None:
            for e in sh.asserts.values():
                if concurrent(e) and _conflict(kind, e.kind):
                    self._report(e, acc)
        # record
        if kind in (R, MR):
            if sh.rs is not None:
                sh.rs[tid] = acc
            elif sh.r is None or not concurrent(sh.r):
                sh.r = acc
            else:
                sh.rs = {sh.r.tid: sh.r, tid: acc}
                sh.r = None
        elif kind in _WRITES:
            keep = [e for e in writes if concurrent(e)]
            if keep:
                keep.append(acc)
                sh.ws, sh.w = keep, None
            else:
                sh.w, sh.ws = acc, None
            if sh.rs is not None or sh.r is not None:
                rest = {e.tid: e for e in (sh.rs.values() if sh.rs is not None else (sh.r,))
                        if concurrent(e)}
                sh.r, sh.rs = None, (rest or None)
            if sh.asserts is not None and kind == W:
                # Only a plain write races with everything an assertion
                # races with, so only it may stand in for the assertion.
                rest = {t: e for t, e in sh.asserts.items() if concurrent(e)}
                sh.asserts = rest or None
        else:                                   # an assertion
            if sh.asserts is None:
                sh.asserts = {}
            sh.asserts[tid] = acc

    def _report(self, earlier: Access, later: Access):
        self.races += 1
        raise DataRace(earlier, later, size=later.loc.size, context=self.context(),
                       now=self.engine.now, token=self.engine.replay_token())

    # ------------------------------------------------------------ sync
    def lock_acquire(self, tc: ThreadClock, lock, mode: str) -> None:
        w, r = self.lock_vc.get(lock, (None, None))
        tc.acquire(w)
        if mode == "W":
            tc.acquire(r)

    def lock_release(self, tc: ThreadClock, lock, mode: str) -> None:
        w, r = self.lock_vc.get(lock, (None, None))
        snap = tc.release()
        if mode == "W":
            self.lock_vc[lock] = (snap, None)
        else:
            self.lock_vc[lock] = (w, vc_merge(r, snap))


class HBValidator(Validator):
    """Gives the race detector the happens-before edges of ``mmactors.sync``
    locks: it watches the run's locks beside lockdep (``add_validator``)."""

    def __init__(self, detector: RaceDetector):
        self.detector = detector

    def acquire(self, actor, lock, mode, site, trylock, subclass=0):
        d = self.detector
        d.lock_acquire(d.thread(actor), lock, mode)

    def release(self, actor, lock, mode, site):
        d = self.detector
        d.lock_release(d.thread(actor), lock, mode)
