"""The engine: virtual time, the baton, parking, strategies, errors."""
import pytest

from mmactors import ActorError, ChoiceStrategy, Deadlock, Engine, PCTStrategy, RandomStrategy
from mmactors._core.replay import decode_token, encode_token
from mmactors._core.strategies import StrategyError, make_strategy
from mmactors.sync import SpinLock


def test_virtual_time_orders_actors():
    eng = Engine(seed=1, duration_ns=10_000)
    log = []

    def body(step):
        async def fn(a):
            while True:
                log.append((eng.now, a.name))
                await a.spend(step)
        return fn
    eng.add_actor("fast", body(3000))
    eng.add_actor("slow", body(4000))
    eng.run()
    times = [t for t, _ in log]
    assert times == sorted(times)
    assert ("fast", 9000) in [(n, t) for t, n in log]
    assert ("slow", 8000) in [(n, t) for t, n in log]
    assert eng.now == 10_000 and eng.end_reason == "duration"


def test_fast_path_avoids_task_switches():
    eng = Engine(seed=1, duration_ns=1_000_000)

    async def runner(a):
        while True:
            await a.spend(10)

    async def sleeper(a):
        await a.spend(900_000)
    eng.add_actor("runner", runner)
    eng.add_actor("sleeper", sleeper)
    eng.run()
    # 100,000 steps, but the baton changed hands only around the sleeper's two events.
    assert eng.events > 99_000
    assert eng.switches <= 4


def test_actors_finish_and_run_ends_early():
    eng = Engine(seed=1)
    done = []

    async def fn(a):
        await a.spend(500)
        done.append(a.name)
    for i in range(3):
        eng.add_actor(f"a{i}", fn, cpu=i)
    eng.run()
    assert sorted(done) == ["a0", "a1", "a2"]
    assert eng.end_reason == "done" and eng.now == 500


def test_park_and_wake():
    eng = Engine(seed=1)
    order = []

    class Box:
        name = "box"

        def holders(self):
            return []
    box = Box()

    async def waiter(a):
        await eng.park(box)
        order.append(("woke", eng.now))

    async def waker(a):
        await a.spend(700)
        eng.wake(w, eng.now + 50)
        order.append(("wake", eng.now))
    w = eng.add_actor("waiter", waiter)
    eng.add_actor("waker", waker)
    eng.run()
    assert order == [("wake", 700), ("woke", 750)]


def test_exception_names_actor_time_and_token():
    eng = Engine(seed=3)

    async def bad(a):
        await a.spend(1234)
        raise ValueError("model bug")
    eng.add_actor("cpu7", bad, cpu=7)
    with pytest.raises(ActorError) as ei:
        eng.run()
    e = ei.value
    assert e.actor == "cpu7" and e.now == 1234 and e.token.startswith("v2")
    assert "ValueError: model bug" in e.report() and "cpu7" in e.report()


def _abba(eng):
    """cpu0 takes &a then &b, cpu1 &b then &a: an AB-BA deadlock."""
    a_lock, b_lock = SpinLock(eng, "&a"), SpinLock(eng, "&b")

    def prog(first, second):
        async def fn(a):
            await first.lock()
            await a.spend(100)
            await second.lock()
        return fn
    eng.add_actor("cpu0", prog(a_lock, b_lock), cpu=0)
    eng.add_actor("cpu1", prog(b_lock, a_lock), cpu=1)


def test_deadlock_reports_cycle_and_never_hangs():
    eng = Engine(seed=1)
    _abba(eng)
    with pytest.raises(Deadlock) as ei:
        eng.run()
    rows = ei.value.cycle
    assert {r["actor"] for r in rows} == {"cpu0", "cpu1"}
    by = {r["actor"]: r for r in rows}
    assert by["cpu0"]["waits_on"] == "&b" and by["cpu0"]["held_by"] == "cpu1"
    assert by["cpu1"]["waits_on"] == "&a" and by["cpu1"]["held_by"] == "cpu0"
    assert ei.value.exit_status == 3


def test_all_blocked_without_cycle_is_reported():
    eng = Engine(seed=1)

    class Never:
        name = "a completion nobody completes"

        def holders(self):
            return []

    async def fn(a):
        await eng.park(Never())
    eng.add_actor("cpu0", fn)
    with pytest.raises(Deadlock) as ei:
        eng.run()
    assert "all actors blocked" in ei.value.report()
    assert "nobody completes" in ei.value.report()


def test_deadlock_detected_while_others_still_run():
    eng = Engine(seed=1, duration_ns=10_000_000)
    _abba(eng)

    async def busy(a):
        while True:
            await a.spend(10)
    eng.add_actor("cpu2", busy, cpu=2)
    with pytest.raises(Deadlock):
        eng.run()
    assert eng.now < 1000   # found at once, not at the end of the run


def test_spawn_during_run():
    eng = Engine(seed=1, duration_ns=100_000)
    seen = []

    async def child(a):
        seen.append(("child", eng.now))
        await a.spend(10)
        seen.append(("child done", eng.now))

    async def parent(a):
        await a.spend(100)
        eng.spawn("child", child, cpu=1)
        await a.spend(5)
        seen.append(("parent", eng.now))
    eng.add_actor("parent", parent)
    eng.run()
    assert seen == [("child", 100), ("parent", 105), ("child done", 110)]


@pytest.mark.parametrize("seed", [0, 1, 7, -3, 2**40])
def test_tokens_round_trip(seed):
    for fields in ([1, 0], [1, 250_000], [2, 3, 1000], [3, 2, 5, 1, 7, 2]):
        for digest in (0, 1, 0xabcdef):
            assert decode_token(encode_token(seed, fields, digest)) == (seed, fields, digest)


def test_a_token_from_another_scenario_is_refused():
    tok = encode_token(5, PCTStrategy(2, 77).token_fields(), 0x123456)
    assert make_strategy(f"replay:{tok}", 1, 0x123456)[1] == 5
    assert make_strategy(f"replay:{tok}", 1)[1] == 5           # digest unknown: not checked
    with pytest.raises(StrategyError, match="made for another scenario.*123456.*654321"):
        make_strategy(f"replay:{tok}", 1, 0x654321)


@pytest.mark.parametrize("bad", ["replay:v2", "replay:v2Zm9v", "replay:v2a", "replay:v2@@@@",
                                 "replay:v1cgABwJo", "replay:x", "pct:x", "pct:3:y", "random:z"])
def test_bad_strategies_say_what_is_wrong_in_plain_words(bad):
    with pytest.raises(StrategyError) as ei:
        make_strategy(bad, 1)
    msg = str(ei.value)
    for leak in ("Incorrect padding", "invalid literal", "Error -", "binascii", "zlib"):
        assert leak not in msg, msg


def test_make_strategy_specs():
    assert isinstance(make_strategy("random", 1)[0], RandomStrategy)
    assert make_strategy("random:0.25", 1)[0].preempt_ppm == 250_000
    s, _ = make_strategy("pct:3", 1)
    assert isinstance(s, PCTStrategy) and s.depth == 3 and s.steps == 1000
    assert make_strategy("pct:2:50", 1)[0].steps == 50
    tok = encode_token(42, PCTStrategy(2, 77).token_fields())
    s, seed = make_strategy(f"replay:{tok}", 1)
    assert seed == 42 and isinstance(s, PCTStrategy) and (s.depth, s.steps) == (2, 77)
    for bad in ("nope", "pct", "pct:x", "random:2", "replay:garbage", "replay:v1!!"):
        with pytest.raises(StrategyError):
            make_strategy(bad, 1)


def _three_way(strategy, seed=1):
    eng = Engine(seed=seed, strategy=strategy, duration_ns=50_000)
    trail = []

    async def fn(a):
        for _ in range(20):
            trail.append(a.name)
            await a.spend(100)
    for i in range(3):
        eng.add_actor(f"a{i}", fn, cpu=i)
    eng.run()
    return trail, eng


def test_choice_zero_is_the_natural_schedule():
    natural, _ = _three_way(ChoiceStrategy(choices={}))
    zeros, _ = _three_way(ChoiceStrategy(chooser=lambda n: 0))
    assert natural == zeros
    # Ties at equal times are broken by arrival order (seq): round robin.
    assert natural[:6] == ["a0", "a1", "a2", "a0", "a1", "a2"]


def test_explicit_choices_replay_exactly():
    import random
    r = random.Random(5)
    st = ChoiceStrategy(chooser=lambda n: r.randrange(n) if r.random() < 0.3 else 0)
    first, eng = _three_way(st)
    assert st.preemptions > 0
    tok = eng.replay_token()
    again, _ = _three_way(make_strategy(f"replay:{tok}", 0)[0])
    assert again == first


def test_pct_runs_highest_priority_first():
    trail, _ = _three_way(PCTStrategy(1), seed=4)
    # depth 1: no change points, so one actor runs all its steps, then the next.
    assert trail[:20] == [trail[0]] * 20


def test_time_never_goes_backwards_under_preemption():
    eng = Engine(seed=1, strategy=RandomStrategy(500_000), duration_ns=100_000)
    stamps = []

    async def fn(a):
        while True:
            stamps.append(eng.now)
            await a.spend(a.rng.randrange(1, 300))
    for i in range(4):
        eng.add_actor(f"a{i}", fn, cpu=i)
    eng.run()
    assert stamps == sorted(stamps) and eng.decisions > 100


def test_switch_count_does_not_depend_on_trio_start_order():
    """Regression: the first baton hand-out counted as a switch only when trio
    happened to start another task last."""
    counts = set()
    for _ in range(8):
        eng = Engine(seed=1, duration_ns=20_000)

        async def fn(a):
            while True:
                await a.spend(a.rng.randrange(50, 500))
        for i in range(4):
            eng.add_actor(f"a{i}", fn, cpu=i)
        eng.run()
        counts.add((eng.events, eng.switches))
    assert len(counts) == 1


def test_run_with_a_duration_ends_when_every_actor_has_finished():
    """Regression: the end-of-run sentinel made a finished run end at duration_ns."""
    eng = Engine(seed=1, duration_ns=10_000_000)

    async def fn(a):
        await a.spend(500)
    eng.add_actor("a0", fn)
    eng.run()
    assert eng.end_reason == "done" and eng.now == 500


@pytest.mark.parametrize("who, alone", [("a", False), ("b", False), ("a", True)])
def test_sigint_stops_the_run_at_the_next_event(who, alone):
    """Regression: trio raised KeyboardInterrupt wherever SIGINT landed, now
    and then inside an actor between handing the baton on and parking, and
    a Ctrl-C ended about one run in ten with TrioInternalError (a task
    exited twice) instead of a clean stop.  Engine.run's own handler only
    sets a flag; the engine ends the run at its next event (fast path or
    hand-off alike), raising Interrupted with the clock where it stopped.
    The signal is real (os.kill to this process, from inside an actor)."""
    import os
    import signal

    from mmactors._core.errors import Interrupted
    eng = Engine(seed=1, duration_ns=10_000_000)
    ki_in_actor = []

    def body(step, name):
        async def fn(a):
            while True:
                try:
                    if name == who and eng.now >= 50_000 and not eng._sigint:
                        os.kill(os.getpid(), signal.SIGINT)
                    await a.spend(step)
                except KeyboardInterrupt:
                    ki_in_actor.append(eng.now)   # what trio's own handling did
                    raise
        return fn
    eng.add_actor("a", body(1000, "a"))
    if not alone:
        eng.add_actor("b", body(1500, "b"))
    with pytest.raises(Interrupted):
        eng.run()
    assert not ki_in_actor                            # no KeyboardInterrupt inside a step
    assert eng.end_reason == "interrupted" and eng.finished
    assert 50_000 <= eng.now <= 52_000                # the next event or two, not the end
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler   # restored
