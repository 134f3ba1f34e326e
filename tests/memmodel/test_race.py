"""The happens-before race detector (KCSAN-style reports)."""

from __future__ import annotations

import pytest

from mmactors import Engine, QSpinLock, RandomStrategy
from mmactors._core.errors import SimulationError
from mmactors.memmodel.access import KernelBug, Memory
from mmactors.memmodel.race import DataRace
from mmactors.memmodel.schedules import DFSStats, dfs, random_runs
from mmactors.sync.lockstat import Validator, add_validator, lock_registry, remove_validator


def run(*bodies, model="sc", setup=None, strategy=None, seed=1, race=True):
    """Run one async body per CPU on a fresh Memory; return (error, state)."""
    eng = Engine(seed=seed, strategy=strategy or RandomStrategy(200_000), trace=False)
    mem = Memory(eng, model, cpus=list(range(len(bodies))), race=race)
    st = setup(mem) if setup is not None else None
    for i, b in enumerate(bodies):
        mem.add_program(f"cpu{i}", (lambda b: lambda k: b(k, st))(b), i)
    try:
        eng.run()
    except SimulationError as e:
        return e, st
    return None, st


def all_schedules(*bodies, setup=None, model="sc"):
    """The error (or None) of every schedule of the program: an exhaustive
    search under sc and tso; under lkmm (whose search trees are much
    larger) 120 random and PCT schedules."""
    def one(strategy, seed):
        return run(*bodies, setup=setup, strategy=strategy, seed=seed, model=model)[0]
    if model == "lkmm":
        return list(random_runs(one, 120, seed=11))
    st = DFSStats()
    out = list(dfs(one, stats=st, limit=20000))
    assert st.complete
    return out


class NS:
    pass


def two_words(mem):
    s = NS()
    s.x = mem.loc("x")
    s.flag = mem.loc("flag")
    return s


# ----------------------------------------------------------- plain races
async def plain_writer(k, s):
    await k.write(s.x, 1)


async def plain_reader(k, s):
    await k.read(s.x)


def test_plain_write_plain_read_races_in_every_schedule():
    errs = all_schedules(plain_writer, plain_reader, setup=two_words)
    assert errs and all(isinstance(e, DataRace) for e in errs)


def test_report_names_both_accesses_like_kcsan():
    err, _ = run(plain_writer, plain_reader, setup=two_words)
    assert isinstance(err, DataRace)
    assert err.exit_status == 5
    text = err.report()
    assert "BUG: KCSAN: data-race in plain_reader / plain_writer" in text
    assert "write to x of 8 bytes by task cpu0 on cpu 0 at " in text
    assert "read to x of 8 bytes by task cpu1 on cpu 1 at " in text
    assert " plain_writer (test_race.py:" in text and " plain_reader (test_race.py:" in text
    assert "replay: --strategy replay:v2" in text
    d = err.to_json()
    assert d["kind"] == "data-race" and len(d["accesses"]) == 2


def test_marked_accesses_do_not_race():
    async def w(k, s):
        await k.WRITE_ONCE(s.x, 1)

    async def r(k, s):
        await k.READ_ONCE(s.x)
    assert all(e is None for e in all_schedules(w, r, setup=two_words))


def test_one_plain_access_is_enough():
    async def w(k, s):
        await k.WRITE_ONCE(s.x, 1)
    assert all(isinstance(e, DataRace) for e in all_schedules(w, plain_reader, setup=two_words))


def test_two_plain_reads_do_not_race():
    assert all(e is None for e in all_schedules(plain_reader, plain_reader, setup=two_words))


def test_read_shared_then_write_races_with_the_unordered_reader():
    """FastTrack's read-shared state: a write ordered after one reader (by a
    lock) still races with the other reader."""
    def setup(mem):
        s = two_words(mem)
        s.lock = mem.spinlock("lock")
        return s

    async def reader_locked(k, s):
        await k.spin_lock(s.lock)
        await k.read(s.x)
        await k.spin_unlock(s.lock)

    async def writer_locked(k, s):
        await k.spin_lock(s.lock)
        await k.write(s.x, 1)
        await k.spin_unlock(s.lock)
    errs = all_schedules(reader_locked, plain_reader, writer_locked, setup=setup)
    assert any(isinstance(e, DataRace) for e in errs)
    assert all(e is None for e in all_schedules(reader_locked, reader_locked, writer_locked,
                                                setup=setup))


# -------------------------------------------------- happens-before sources
def test_memmodel_spinlock_orders_plain_accesses():
    def setup(mem):
        s = two_words(mem)
        s.lock = mem.spinlock("&lock")
        return s

    async def locked_write(k, s):
        await k.spin_lock(s.lock)
        await k.write(s.x, await k.read(s.x) + 1)
        await k.spin_unlock(s.lock)
    for model in ("sc", "tso", "lkmm"):
        errs = all_schedules(locked_write, locked_write, setup=setup, model=model)
        assert all(e is None for e in errs), model


def test_sync_lock_orders_plain_accesses_through_the_validator_hooks():
    """mmactors.sync locks report acquire/release through the validator
    hooks; the race detector watches beside other validators."""
    calls = []

    class Recorder(Validator):
        def acquire(self, actor, lock, mode, site, trylock, subclass=0):
            calls.append(("acquire", actor.name))

        def release(self, actor, lock, mode, site):
            calls.append(("release", actor.name))

    eng = Engine(seed=3, strategy=RandomStrategy(300_000), trace=False)
    rec = Recorder()
    add_validator(eng, rec)                         # e.g. lockdep, already there
    mem = Memory(eng, "sc", cpus=[0, 1], race=True)
    reg = lock_registry(eng)
    assert len(reg.validators) == 2 and reg.find(Recorder) is rec
    lock = QSpinLock(eng, "&zone->lock")
    x = mem.loc("zone->free_pages")

    async def body(k):
        for _ in range(3):
            await k.spin_lock(lock)
            await k.write(x, await k.read(x) + 1)
            await k.spin_unlock(lock)
    mem.add_program("cpu0", body, 0)
    mem.add_program("cpu1", body, 1)
    eng.run()
    assert mem.final(x) == 6
    assert calls.count(("acquire", "cpu0")) == 3 and calls.count(("release", "cpu1")) == 3


def test_validators_keep_misuse_errors():
    from mmactors.sync import LockError
    eng = Engine(seed=1, trace=False)
    Memory(eng, "sc", cpus=[0], race=True)           # the detector has no bad_unlock hook
    lock = QSpinLock(eng, "l")

    async def bad(a):
        lock.unlock()
    eng.add_actor("cpu0", bad, cpu=0)
    with pytest.raises(LockError) as ei:           # a kernel BUG: exit status 6
        eng.run()
    assert ei.value.exit_status == 6 and "which it does not hold" in ei.value.message
    reg = lock_registry(eng)
    v = reg.validators[0]
    remove_validator(eng, v)
    assert reg.validators == [] and reg.on_acquire == ()
    add_validator(eng, v)
    assert reg.validators == [v] and reg.on_acquire == (v.acquire,)


def _mp(writer_publish, reader_load, fence_w=None, fence_r=None):
    async def writer(k, s):
        await k.write(s.x, 42)                 # plain data
        if fence_w:
            await getattr(k, fence_w)()
        await getattr(k, writer_publish)(s.flag, 1)

    async def reader(k, s):
        if await getattr(k, reader_load)(s.flag):
            if fence_r:
                await getattr(k, fence_r)()
            assert await k.read(s.x) == 42
    return writer, reader


@pytest.mark.parametrize("publish,load,fw,fr,races", [
    ("smp_store_release", "smp_load_acquire", None, None, False),
    ("WRITE_ONCE", "READ_ONCE", "smp_wmb", "smp_rmb", False),
    ("WRITE_ONCE", "READ_ONCE", "smp_mb", "smp_mb", False),
    ("rcu_assign_pointer", "rcu_dereference", None, None, False),
    ("smp_store_release", "READ_ONCE", None, None, True),     # no rmb: no order
    ("WRITE_ONCE", "smp_load_acquire", None, None, True),     # no wmb: no order
    ("WRITE_ONCE", "READ_ONCE", None, "smp_rmb", True),
])
def test_message_passing(publish, load, fw, fr, races):
    w, r = _mp(publish, load, fw, fr)
    errs = all_schedules(w, r, setup=two_words)
    if races:
        assert any(isinstance(e, DataRace) for e in errs)
    else:
        assert all(e is None for e in errs), [e.report() for e in errs if e]


def test_address_dependency_orders_accesses_through_the_pointer():
    """READ_ONCE() of a pointer orders accesses through it (addr dep), as
    in the kernel after smp_wmb() on the publishing side."""
    def setup(mem):
        s = NS()
        s.gp = mem.loc("gp", None)
        s.obj = mem.struct("obj", a=0, b=0)
        return s

    async def publish(k, s):
        await k.write(s.obj.a, 1)
        await k.write(s.obj.b, 2)
        await k.smp_wmb()
        await k.WRITE_ONCE(s.gp, s.obj)

    async def consume(k, s):
        p = await k.READ_ONCE(s.gp)
        if p is not None:
            assert await k.read(p.a) + await k.read(p.b) == 3
    for model in ("sc", "tso", "lkmm"):
        assert all(e is None for e in all_schedules(publish, consume, setup=setup,
                                                    model=model)), model


def test_rcu_grace_period_orders_the_free_after_readers():
    def setup(mem):
        s = NS()
        s.obj = mem.struct("obj", val=7)
        s.gp = mem.loc("gp", s.obj)
        return s

    async def reader(k, s):
        await k.rcu_read_lock()
        p = await k.rcu_dereference(s.gp)
        if p is not None:
            await k.read(p.val)
        await k.rcu_read_unlock()

    def updater(sync):
        async def body(k, s):
            old = await k.rcu_dereference(s.gp)
            await k.rcu_assign_pointer(s.gp, None)
            if sync:
                await k.synchronize_rcu()
            await k.write(old.val, 0xdead)       # kfree(): poison
        return body
    for model in ("sc", "tso", "lkmm"):
        ok = all_schedules(reader, updater(True), setup=setup, model=model)
        assert all(e is None for e in ok), (model, [e.report() for e in ok if e])
    bad = all_schedules(reader, updater(False), setup=setup)
    assert any(isinstance(e, DataRace) for e in bad)


def test_synchronize_rcu_inside_a_read_side_section_is_a_bug():
    async def body(k, s):
        await k.rcu_read_lock()
        await k.synchronize_rcu()
    err, _ = run(body, setup=two_words)
    assert isinstance(err, KernelBug) and "read-side critical section" in err.report()


def test_release_sequence_of_refcount_puts():
    """Two folio_put()s: whoever drops the last reference frees the object;
    atomic_dec_and_test() is fully ordered, so the free is ordered after
    the other CPU's plain accesses."""
    def setup(mem):
        s = NS()
        s.obj = mem.struct("obj", ref=2, data=0)
        return s

    async def user_then_put(k, s):
        await k.write(s.obj.data, k.idx + 1)      # this CPU's use (plain)
        if await k.atomic_dec_and_test(s.obj.ref):
            await k.write(s.obj.data, 0)          # the free
    # Each CPU writes data under its own reference: those two writes race,
    # so give each its own field.

    def setup2(mem):
        s = NS()
        s.obj = mem.struct("obj", ref=2, d0=0, d1=0)
        return s

    async def use_put(k, s):
        mine = s.obj.d0 if k.idx == 0 else s.obj.d1
        await k.write(mine, 1)
        if await k.atomic_dec_and_test(s.obj.ref):
            await k.write(s.obj.d0, 0)            # the free poisons both
            await k.write(s.obj.d1, 0)
    assert all(e is None for e in all_schedules(use_put, use_put, setup=setup2))
    assert any(isinstance(e, DataRace) for e in all_schedules(user_then_put, user_then_put,
                                                              setup=setup))


# ------------------------------------------------------------------ KCSAN API
def test_data_race_marks_an_intended_race():
    async def w(k, s):
        with k.data_race():
            await k.write(s.x, 1)

    async def r(k, s):
        await k.read(s.x, data_race=True)
    assert all(e is None for e in all_schedules(w, r, setup=two_words))


def test_assert_exclusive_writer():
    async def owner(k, s):
        await k.ASSERT_EXCLUSIVE_WRITER(s.x)
        await k.WRITE_ONCE(s.x, 1)

    async def other_writer(k, s):
        await k.WRITE_ONCE(s.x, 2)

    async def other_reader(k, s):
        await k.READ_ONCE(s.x)
    errs = all_schedules(owner, other_writer, setup=two_words)
    assert errs and all(isinstance(e, DataRace) for e in errs)
    assert "KCSAN: assert: race in" in errs[0].report()
    assert "assert no writes to x" in errs[0].report()
    assert all(e is None for e in all_schedules(owner, other_reader, setup=two_words))


def test_assert_exclusive_access():
    async def owner(k, s):
        await k.ASSERT_EXCLUSIVE_ACCESS(s.x)

    async def other_reader(k, s):
        await k.READ_ONCE(s.x)
    errs = all_schedules(owner, other_reader, setup=two_words)
    assert errs and all(isinstance(e, DataRace) for e in errs)
    assert "assert no accesses to x" in errs[0].report()

    def setup(mem):
        s = two_words(mem)
        s.lock = mem.spinlock("l")
        return s

    async def owner_locked(k, s):
        await k.spin_lock(s.lock)
        await k.ASSERT_EXCLUSIVE_ACCESS(s.x)
        await k.write(s.x, 1)
        await k.spin_unlock(s.lock)

    async def reader_locked(k, s):
        await k.spin_lock(s.lock)
        await k.READ_ONCE(s.x)
        await k.spin_unlock(s.lock)
    assert all(e is None for e in all_schedules(owner_locked, reader_locked, setup=setup))


def test_seqcount_sections_are_atomic_for_the_detector():
    def setup(mem):
        s = two_words(mem)
        s.seq = mem.seqcount("seq")
        s.y = mem.loc("y")
        return s

    async def writer(k, s):
        await k.write_seqcount_begin(s.seq)
        await k.write(s.x, 1)
        await k.write(s.y, 1)
        await k.write_seqcount_end(s.seq)

    async def reader(k, s):
        while True:
            seq = await k.read_seqcount_begin(s.seq)
            a = await k.read(s.x)
            b = await k.read(s.y)
            if not await k.read_seqcount_retry(s.seq, seq):
                break
        assert a == b                              # a consistent snapshot

    async def sloppy_reader(k, s):
        await k.read(s.x)
    for model in ("sc", "tso", "lkmm"):
        assert all(e is None for e in all_schedules(writer, reader, setup=setup,
                                                    model=model)), model
    assert any(isinstance(e, DataRace) for e in all_schedules(writer, sloppy_reader,
                                                              setup=setup))


def test_reports_are_deterministic():
    texts = {run(plain_writer, plain_reader, setup=two_words, seed=5)[0].report()
             for _ in range(3)}
    assert len(texts) == 1


def test_bug_on_report():
    async def body(k, s):
        k.BUG_ON(await k.READ_ONCE(s.x) == 0, "x must not be zero")
    err, _ = run(body, setup=two_words)
    assert isinstance(err, KernelBug) and err.exit_status == 6
    text = err.report()
    assert "kernel BUG at body (test_race.py:" in text and "x must not be zero" in text
    assert "replay: --strategy replay:" in text
