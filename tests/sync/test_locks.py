"""Lock primitives: exclusion under explored schedules, kernel semantics, lock_stat."""
import pytest
from hypothesis import given, strategies as st

from mmactors import ChoiceStrategy, CostModel, Engine
from mmactors.sync import (Mutex, QSpinLock, RWLock, RWSemaphore, SeqCount, TicketSpinLock)
from mmactors.sync import lock_registry

KINDS = {
    "ticket": (TicketSpinLock, "lock", "unlock"),
    "qspinlock": (QSpinLock, "lock", "unlock"),
    "mutex": (Mutex, "lock", "unlock"),
    "rwsem-write": (RWSemaphore, "down_write", "up_write"),
    "rwlock-write": (RWLock, "write_lock", "write_unlock"),
}


@pytest.mark.parametrize("kind", sorted(KINDS))
@given(data=st.data(), nactors=st.integers(2, 4))
def test_mutual_exclusion_under_explored_schedules(kind, data, nactors):
    cls, take, drop = KINDS[kind]
    eng = Engine(seed=1, strategy=ChoiceStrategy(
        chooser=lambda n: data.draw(st.integers(0, n - 1))))
    lk = cls(eng, "&x->lock")
    inside = []
    done = []

    async def fn(a):
        for _ in range(4):
            await getattr(lk, take)()
            inside.append(a.name)
            assert len(inside) == 1, f"two holders: {inside}"
            await a.spend(a.rng.randrange(0, 200))
            inside.remove(a.name)
            getattr(lk, drop)()
            await a.spend(a.rng.randrange(0, 100))
        done.append(a.name)
    for i in range(nactors):
        eng.add_actor(f"cpu{i}", fn, cpu=i)
    eng.run()
    assert len(done) == nactors


@pytest.mark.parametrize("cls", [RWSemaphore, RWLock])
@given(data=st.data())
def test_readers_and_writers_exclude(cls, data):
    eng = Engine(seed=2, strategy=ChoiceStrategy(
        chooser=lambda n: data.draw(st.integers(0, n - 1))))
    sem = cls(eng, "&mm->mmap_lock" if cls is RWSemaphore else "&tasklist_lock")
    if cls is RWLock:
        sem.down_read, sem.up_read = sem.read_lock, sem.read_unlock
        sem.down_write, sem.up_write = sem.write_lock, sem.write_unlock
    state = {"readers": 0, "writers": 0, "max_readers": 0}

    def reader():
        async def fn(a):
            for _ in range(3):
                await sem.down_read()
                state["readers"] += 1
                state["max_readers"] = max(state["max_readers"], state["readers"])
                assert state["writers"] == 0
                await a.spend(a.rng.randrange(50, 300))
                state["readers"] -= 1
                sem.up_read()
                await a.spend(a.rng.randrange(0, 100))
        return fn

    async def writer(a):
        for _ in range(3):
            await sem.down_write()
            state["writers"] += 1
            assert state["writers"] == 1 and state["readers"] == 0
            await a.spend(a.rng.randrange(50, 300))
            state["writers"] -= 1
            sem.up_write()
            await a.spend(a.rng.randrange(0, 100))
    for i in range(3):
        eng.add_actor(f"r{i}", reader(), cpu=i)
    eng.add_actor("w", writer, cpu=3)
    eng.run()


def _script(eng, steps):
    """Actors from (name, start_ns, coroutine-fn) and a shared event log."""
    for i, (name, start, fn) in enumerate(steps):
        eng.add_actor(name, fn, cpu=i, start_ns=start)


def test_rwsem_readers_share():
    eng = Engine(seed=1)
    sem = RWSemaphore(eng, "&sem")
    log = []

    def rd(hold):
        async def fn(a):
            await sem.down_read()
            log.append((a.name, "in", eng.now))
            await a.spend(hold)
            sem.up_read()
        return fn
    _script(eng, [("r0", 0, rd(1000)), ("r1", 10, rd(1000)), ("r2", 20, rd(1000))])
    eng.run()
    ins = [t for _, ev, t in log if ev == "in"]
    assert max(ins) < 1000            # all three inside at once
    assert sem.statistics("R").contentions == 0


def test_waiting_writer_blocks_new_readers_then_readers_wake_together():
    eng = Engine(seed=1)
    sem = RWSemaphore(eng, "&mm->mmap_lock")
    order = []

    def rd(hold):
        async def fn(a):
            await sem.down_read()
            order.append((a.name, eng.now))
            await a.spend(hold)
            sem.up_read()
        return fn

    async def wr(a):
        await sem.down_write()
        order.append((a.name, eng.now))
        await a.spend(1000)
        sem.up_write()
    # r0 holds; w queues; r1 and r2 arrive after w and must wait behind it.
    _script(eng, [("r0", 0, rd(5000)), ("w", 100, wr), ("r1", 200, rd(100)),
                  ("r2", 300, rd(100))])
    eng.run()
    names = [n for n, _ in order]
    assert names[:2] == ["r0", "w"] and sorted(names[2:]) == ["r1", "r2"]
    t = dict(order)
    assert t["w"] >= 5000 and t["r1"] >= t["w"] + 1000
    assert t["r1"] == t["r2"]          # rwsem_mark_wake wakes the queued readers together


def test_rwsem_mark_wake_skips_queued_writer():
    eng = Engine(seed=1)
    sem = RWSemaphore(eng, "&sem")
    order = []

    def rd(a_hold):
        async def fn(a):
            await sem.down_read()
            order.append(a.name)
            await a.spend(a_hold)
            sem.up_read()
        return fn

    def wr(hold):
        async def fn(a):
            await sem.down_write()
            order.append(a.name)
            await a.spend(hold)
            sem.up_write()
        return fn
    # w0 holds; queue: r1, w2, r3 -> on release r1 and r3 enter, w2 after them.
    _script(eng, [("w0", 0, wr(1000)), ("r1", 10, rd(500)), ("w2", 20, wr(10)),
                  ("r3", 30, rd(500))])
    eng.run()
    assert order[0] == "w0" and sorted(order[1:3]) == ["r1", "r3"] and order[3] == "w2"


def test_rwlock_reader_in_interrupt_ignores_waiting_writer():
    eng = Engine(seed=1)
    rw = RWLock(eng, "&tasklist_lock")
    order = []

    def rd(ctx):
        async def fn(a):
            a.context = ctx
            await rw.read_lock()
            order.append(a.name)
            await a.spend(1000)
            rw.read_unlock()
        return fn

    async def wr(a):
        await rw.write_lock()
        order.append(a.name)
        rw.write_unlock()
    _script(eng, [("r0", 0, rd("process")), ("w", 10, wr), ("irq", 20, rd("hardirq")),
                  ("r1", 30, rd("process"))])
    eng.run()
    assert order == ["r0", "irq", "w", "r1"]


def test_downgrade_write_lets_readers_in():
    eng = Engine(seed=1)
    sem = RWSemaphore(eng, "&sem")
    order = []

    async def w(a):
        await sem.down_write()
        await a.spend(500)
        sem.downgrade_write()
        order.append(("downgraded", eng.now))
        await a.spend(5000)
        sem.up_read()

    async def r(a):
        await sem.down_read()
        order.append(("reader in", eng.now))
        sem.up_read()
    _script(eng, [("w", 0, w), ("r", 100, r)])
    eng.run()
    assert order[0][0] == "downgraded" and order[1][0] == "reader in"
    assert order[1][1] < 5000


def test_ticket_lock_is_fifo():
    eng = Engine(seed=9)
    lk = TicketSpinLock(eng, "&fifo")
    order = []

    def fn(hold):
        async def body(a):
            await lk.lock()
            order.append(a.name)
            await a.spend(hold)
            lk.unlock()
        return body
    steps = [("cpu0", 0, fn(5000))] + [(f"cpu{i}", 100 * i, fn(10)) for i in range(1, 8)]
    _script(eng, steps)
    eng.run()
    assert order == [f"cpu{i}" for i in range(8)]


def test_seqcount_reader_retries_across_a_write():
    eng = Engine(seed=1)
    sc = SeqCount(eng, "&seq")
    log = []

    async def writer(a):
        await a.spend(100)
        sc.write_begin()
        await a.spend(300)
        sc.write_end()

    async def reader(a):
        tries = 0
        while True:
            tries += 1
            s = await sc.read_begin()
            await a.spend(200)          # reading straddles the write section
            if not await sc.read_retry(s):
                break
        log.append(tries)
    _script(eng, [("w", 0, writer), ("r", 0, reader)])
    eng.run()
    assert log == [2] and sc.retries == 1


def test_lock_stat_two_cpus_by_hand():
    """Ticket lock, costs c=100, rmw=6, dram=90.

    cpu0 at t=0: fetch_add misses to DRAM (90+6): acquired at 0, holds until
    96+1000 = 1096.  cpu1 at t=10: fetch_add takes the line from cpu0
    (100+6), contends at 10.  Release at 1096: one waiter re-fetches the line
    (p=1, 100 ns): cpu1 acquires at 1196 (wait 1186), holds 500 -> 1696.
    """
    eng = Engine(seed=1, costs=CostModel(line_transfer_ns=100, atomic_rmw_ns=6, dram_ns=90))
    lk = TicketSpinLock(eng, "&two->lock")

    async def cpu0(a):
        await lk.lock(site="cpu0_path")
        await a.spend(1000)
        lk.unlock()

    async def cpu1(a):
        await lk.lock(site="cpu1_path")
        await a.spend(500)
        lk.unlock()
    eng.add_actor("cpu0", cpu0, cpu=0)
    eng.add_actor("cpu1", cpu1, cpu=1, start_ns=10)
    eng.run()
    s = lk.statistics()
    assert (s.contentions, s.con_bounces) == (1, 1)
    assert (s.waittime_min_ns, s.waittime_max_ns, s.waittime_total_ns) == (1186, 1186, 1186)
    assert (s.acquisitions, s.acq_bounces) == (2, 2)
    assert (s.holdtime_min_ns, s.holdtime_max_ns, s.holdtime_total_ns) == (500, 1096, 1596)
    assert s.contention_points == (("cpu1_path", 1),)
    assert s.contending_points == (("cpu0_path", 1),)
    row = lock_registry(eng).to_json()["&two->lock"]
    assert row["waittime_total_ns"] == 1186 and row["holdtime_max_ns"] == 1096


def test_lock_stat_format_has_kernel_columns():
    from mmactors import format_lock_stat
    eng = Engine(seed=1)
    sem = RWSemaphore(eng, "&mm->mmap_lock")

    async def fn(a):
        await sem.down_read()
        sem.up_read()
        await sem.down_write()
        sem.up_write()
    eng.add_actor("cpu0", fn)
    eng.run()
    text = format_lock_stat(lock_registry(eng))
    assert text.startswith("lock_stat version 0.4")
    for col in ("con-bounces", "contentions", "waittime-min", "waittime-max", "waittime-total",
                "waittime-avg", "acq-bounces", "acquisitions", "holdtime-min", "holdtime-max",
                "holdtime-total", "holdtime-avg"):
        assert col in text
    assert "&mm->mmap_lock-W:" in text and "&mm->mmap_lock-R:" in text


def test_unlock_of_unheld_lock_is_an_error_without_lockdep():
    """A kernel BUG (exit status 6) naming the CPU, the time and a replay
    token, not a simulator exception (regression: it was exit status 1)."""
    from mmactors.sync import LockError
    eng = Engine(seed=1)
    lk = QSpinLock(eng, "&z")

    async def fn(a):
        await a.spend(5)
        lk.unlock()
    eng.add_actor("cpu0", fn)
    with pytest.raises(LockError, match="does not hold") as ei:
        eng.run()
    e = ei.value
    assert (e.exit_status, e.kind, e.actor, e.now) == (6, "bug", "cpu0", 5) and e.token


def test_mutex_sleeper_pays_wakeup_spinner_pays_transfer():
    costs = CostModel()
    eng = Engine(seed=1, costs=costs)
    m = Mutex(eng, "&m")
    got = {}

    async def owner(a):
        await m.lock()
        await a.spend(1000)
        m.unlock()

    async def spinner(a):
        await m.lock()
        got["spinner"] = eng.now
        m.unlock()
    eng.add_actor("owner", owner, cpu=0)
    eng.add_actor("spinner", spinner, cpu=1, start_ns=10)
    eng.run()
    # owner running: optimistic spinning, hand-off after one line transfer (+rmw)
    assert got["spinner"] - 1000 - 96 < 2 * costs.line_transfer_ns


class _Watcher:
    """A second validator (as the race detector is) that sees only acquisitions."""

    def __init__(self):
        self.seen = []

    def acquire(self, actor, lock, mode, site, trylock, subclass=0):
        self.seen.append((lock.name, mode))


@pytest.mark.parametrize("second", [False, True])
def test_downgrade_reaches_lockdep_beside_another_validator(second):
    """Regression: with a second validator attached, downgrade_write used to
    reach nobody (ValidatorMux.downgrade was empty), so lockdep kept a write
    hold.  Per-hook dispatch delivers it to every validator that has the hook."""
    from mmactors.lockdep import Lockdep
    from mmactors.sync import Validator, add_validator

    class Watcher(_Watcher, Validator):
        pass

    eng = Engine(seed=1, trace=False)
    ld = Lockdep(eng, hierarchy=False).attach()
    w = Watcher()
    if second:
        add_validator(eng, w)
    sem = RWSemaphore(eng, "&mm->mmap_lock")
    modes = []

    async def body(a):
        await sem.down_write()
        sem.downgrade_write()
        modes.append([h.read for h in ld.tasks[a.id].held])
        sem.up_read()
    eng.add_actor("cpu0", body, cpu=0)
    eng.run()
    assert modes == [[1]], "lockdep must hold mmap_lock for read after downgrade_write"
    assert not ld.reports
    assert w.seen == ([("&mm->mmap_lock", "W")] if second else [])
