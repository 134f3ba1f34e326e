"""seqcount_t and seqlock_t (include/linux/seqlock.h).

Writers make the sequence odd, write, make it even again (``smp_wmb`` on both
sides); readers sample the sequence, read, and retry if it changed or was
odd.  A reader that samples an odd sequence spins until the writer ends
(``raw_read_seqcount_begin``): it is parked and woken one line transfer after
``write_seqcount_end``.  Writers of a bare seqcount_t must be serialised by
the caller; seqlock_t pairs the count with a spinlock that does it.
"""
from __future__ import annotations

from .lock import LockBase
from .spinlock import SpinLock

__all__ = ["SeqCount", "SeqLock"]


class SeqCount(LockBase):
    kind = "seqcount"

    def __init__(self, engine, name: str, **kw):
        super().__init__(engine, name, **kw)
        self.sequence = 0
        self.writer = None
        self.retries = 0
        self.reads = 0

    def holders(self):
        return [self.writer] if self.writer is not None else []

    def write_begin(self, site=None):
        eng = self.engine
        me = eng.current
        if self.sequence & 1:
            raise RuntimeError(f"{me.name}: write_seqcount_begin of {self.name} while "
                               f"another write section is open (writers not serialised)")
        self.sequence += 1
        self.writer = me
        self._acquired(me, "W", site)
        eng.charge(self.line.write(me.cpu))

    def write_end(self, site=None):
        eng = self.engine
        me = eng.current
        if not self._released(me, "W", site):
            return
        self.sequence += 1
        self.writer = None
        eng.charge(self.line.write(me.cpu))
        wq = self.waiters
        while wq:
            self._grant(wq.unpark_next())

    async def read_begin(self) -> int:
        """read_seqcount_begin: returns an even sequence (spins while odd)."""
        eng = self.engine
        me = eng.current
        lat = self.line.read(me.cpu)
        self.reads += 1
        if self.sequence & 1:
            t0 = await self._wait(me, "R", "read_seqcount_begin", eng.now + lat)
            self._stat("R").wait(eng.now - t0)
        else:
            await eng.spend(lat)
        return self.sequence

    async def read_retry(self, start: int) -> bool:
        """read_seqcount_retry: True if the read section must be repeated."""
        eng = self.engine
        await eng.spend(self.line.read(eng.current.cpu))
        if self.sequence != start:
            self.retries += 1
            return True
        return False


class SeqLock:
    """seqlock_t: a seqcount whose writers are serialised by a spinlock."""

    def __init__(self, engine, name: str):
        self.name = name
        self.lock = SpinLock(engine, name)
        self.seqcount = SeqCount(engine, name + ".seqcount")

    async def write_seqlock(self, site=None):
        await self.lock.lock(site)
        self.seqcount.write_begin(site)

    def write_sequnlock(self, site=None):
        self.seqcount.write_end(site)
        self.lock.unlock(site)

    async def read_seqbegin(self) -> int:
        return await self.seqcount.read_begin()

    async def read_seqretry(self, start: int) -> bool:
        return await self.seqcount.read_retry(start)
