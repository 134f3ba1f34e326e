"""Read/write locks: the rw_semaphore (kernel/locking/rwsem.c) and rwlock_t
(kernel/locking/qrwlock.c).  One FIFO wait queue under both.

rw_semaphore (mmap_lock, i_mmap_rwsem, anon_vma->rwsem): readers share; once
anyone waits, new readers queue behind (a waiting writer blocks new readers);
on release ``rwsem_mark_wake`` wakes the first waiter if it is a writer, or
else every queued reader (up to MAX_READERS_WAKEUP = 256), leaving writers
queued.  Waiters sleep; a writer that contends with a running writer spins on
the owner (``rwsem_optimistic_spin``) and sees the hand-off after a line
transfer.  Readers stopped spinning in 5.19 (commit 617f3ef95177, "locking/
rwsem: Remove reader optimistic spinning") and always sleep.
Simplification: the lock is handed to the woken waiters directly, as when
RWSEM_FLAG_HANDOFF is set; new arrivals never steal it.

rwlock_t (qrwlock): readers and writers spin.  In process context a reader
queues behind a waiting writer; in interrupt context it only waits for a
writer that *holds* the lock (``queued_read_lock_slowpath``), which is what
makes recursive read_lock from interrupts safe.  Consecutive readers at the
head of the queue enter together.
"""
from __future__ import annotations

from .lock import LockBase, call_site, might_sleep, owner_running

__all__ = ["RWSemaphore", "RWLock"]

MAX_READERS_WAKEUP = 256


class _RWBase(LockBase):
    rw = True

    def __init__(self, engine, name: str, **kw):
        super().__init__(engine, name, **kw)
        self.writer = None
        self.readers: dict[int, int] = {}     # actor id -> read nesting depth

    def is_locked(self) -> bool:
        return self.writer is not None or bool(self.readers)

    # -- decisions the two kinds make differently --------------------------
    def _reader_may_enter(self, me) -> bool:
        return self.writer is None and not self.waiters._q

    def _reader_spins(self, me) -> bool:
        return True

    def _writer_spins(self, me) -> bool:
        return True

    # -- acquisition ---------------------------------------------------------
    async def _read(self, site, subclass=0):
        eng = self.engine
        me = eng.current
        if me.debt:                # decide at the true time: pay what came before
            await eng.sync()
        lat = self.line.write(me.cpu)       # atomic add of a reader bias
        if self._reader_may_enter(me):
            self.readers[me.id] = self.readers.get(me.id, 0) + 1
            self._acquired(me, "R", site, subclass=subclass)
            me.debt += lat             # paid at the next scheduling point
            return
        t0 = await self._wait(me, "R", site, eng.now + lat, self._reader_spins(me), subclass)
        self._acquired(me, "R", site, t0, subclass=subclass)

    async def _write(self, site, subclass=0):
        eng = self.engine
        me = eng.current
        if me.debt:                # decide at the true time: pay what came before
            await eng.sync()
        lat = self.line.write(me.cpu)       # cmpxchg 0 -> WRITER_LOCKED
        if self.writer is None and not self.readers and not self.waiters._q:
            self.writer = me
            self._acquired(me, "W", site, subclass=subclass)
            me.debt += lat             # paid at the next scheduling point
            return
        spin = self._writer_spins(me)
        t0 = await self._wait(me, "W", site, eng.now + lat, spin, subclass)
        self._acquired(me, "W", site, t0, subclass=subclass)

    async def _try(self, mode, site) -> bool:
        eng = self.engine
        me = eng.current
        if me.debt:                # decide at the true time: pay what came before
            await eng.sync()
        if mode == "R":
            ok = self.writer is None and not self.waiters._q
        else:
            ok = self.writer is None and not self.readers and not self.waiters._q
        if not ok:
            me.debt += self.line.read(me.cpu)
            return False
        lat = self.line.write(me.cpu)
        if mode == "R":
            self.readers[me.id] = self.readers.get(me.id, 0) + 1
        else:
            self.writer = me
        self._acquired(me, mode, site, trylock=True)
        me.debt += lat             # paid at the next scheduling point
        return True

    # -- release ------------------------------------------------------------
    def _unread(self, site):
        eng = self.engine
        me = eng.current
        if not self._released(me, "R", site):
            return
        n = self.readers[me.id] - 1
        if n:
            self.readers[me.id] = n
        else:
            del self.readers[me.id]
        me.debt += self.line.write(me.cpu)     # eng.charge: paid at the next scheduling point
        if not self.readers and self.waiters._q:
            self._wake()

    def _unwrite(self, site):
        eng = self.engine
        me = eng.current
        if self.writer is not me:
            if not self._released(me, "W", site):
                return
        else:
            self._released(me, "W", site)
        self.writer = None
        eng.charge(self.line.write(me.cpu))
        self._wake()

    def _wake(self):
        """Grant the lock to whoever the kernel would let in next."""
        first = self.waiters.peek()
        if first is None or self.writer is not None:
            return
        if first.mode == "W":
            if not self.readers:
                w = self.waiters.unpark_next()
                self.writer = w.actor
                self._grant(w)
            return
        self._wake_readers()

    def _wake_readers(self):
        raise NotImplementedError

    def _add_reader(self, w):
        a = w.actor
        self.readers[a.id] = self.readers.get(a.id, 0) + 1
        self._grant(w)


class RWSemaphore(_RWBase):
    """struct rw_semaphore (mmap_lock, i_mmap_rwsem, anon_vma->rwsem)."""

    kind = "rwsem"
    sleeping = True

    def _reader_spins(self, me):
        return False

    def _writer_spins(self, me):
        # rwsem_optimistic_spin: only while a writer owner is running.
        return owner_running(self.writer)

    def _wake_readers(self):
        # rwsem_mark_wake: every queued reader (up to MAX_READERS_WAKEUP), in order
        for w in self.waiters.unpark_where(lambda w: w.mode == "R", MAX_READERS_WAKEUP):
            self._add_reader(w)

    async def down_read(self, site=None, subclass: int = 0):
        if site is None:
            site = call_site()
        if self.reg.on_might_sleep:                  # might_sleep() in down_read()
            might_sleep(self.engine.current, site)
        await self._read(site, subclass)

    async def down_write(self, site=None, subclass: int = 0):
        if site is None:
            site = call_site()
        if self.reg.on_might_sleep:                  # might_sleep() in down_write()
            might_sleep(self.engine.current, site)
        await self._write(site, subclass)

    async def down_read_nested(self, subclass: int, site=None):
        if site is None:
            site = call_site()
        await self.down_read(site, subclass)

    async def down_write_nested(self, subclass: int, site=None):
        if site is None:
            site = call_site()
        await self.down_write(site, subclass)

    async def down_read_trylock(self, site=None) -> bool:
        if site is None:
            site = call_site()
        return await self._try("R", site)

    async def down_write_trylock(self, site=None) -> bool:
        if site is None:
            site = call_site()
        return await self._try("W", site)

    def up_read(self, site=None):
        self._unread(site)

    def up_write(self, site=None):
        self._unwrite(site)

    def downgrade_write(self, site=None):
        """downgrade_write: the writer becomes a reader and queued readers enter."""
        eng = self.engine
        me = eng.current
        if self.writer is not me:
            raise RuntimeError(f"{me.name}: downgrade_write of {self.name} not held for write")
        # Validators see lock_downgrade() (the held lock turns into a read in
        # place), not a release and a new acquisition on top of the stack.
        self._released(me, "W", site, notify=False)
        self.writer = None
        self.readers[me.id] = self.readers.get(me.id, 0) + 1
        self._acquired(me, "R", site, notify=False)
        for hook in self.reg.on_downgrade:
            hook(me, self, site)
        eng.charge(self.line.write(me.cpu))
        first = self.waiters.peek()
        if first is not None and first.mode == "R":
            self._wake_readers()


class RWLock(_RWBase):
    """rwlock_t, a queued rwlock: spinning readers and writers."""

    kind = "rwlock"

    def _reader_may_enter(self, me) -> bool:
        if self.writer is not None:
            return False
        # Interrupt-context readers ignore waiting writers (qrwlock).
        return not self.waiters._q or me.context != "process"

    def _wake_readers(self):
        wq = self.waiters
        while wq and wq.peek().mode == "R":
            self._add_reader(wq.unpark_next())

    async def read_lock(self, site=None, subclass: int = 0):
        if site is None:
            site = call_site()
        await self._read(site, subclass)

    async def write_lock(self, site=None, subclass: int = 0):
        if site is None:
            site = call_site()
        await self._write(site, subclass)

    async def write_lock_nested(self, subclass: int, site=None):
        if site is None:
            site = call_site()
        await self._write(site, subclass)

    async def read_trylock(self, site=None) -> bool:
        if site is None:
            site = call_site()
        return await self._try("R", site)

    async def write_trylock(self, site=None) -> bool:
        if site is None:
            site = call_site()
        return await self._try("W", site)

    def read_unlock(self, site=None):
        self._unread(site)

    def write_unlock(self, site=None):
        self._unwrite(site)
