"""Lockdep's rules on multi-CPU lock-sequence programs: predictive reports,
the report texts, read/write rules, irq contexts, sleeping in atomic
context, unlock errors, the chain cache, the CLI and bad input."""
import json
import subprocess
import sys

import pytest

from mmactors import Engine
from mmactors.lockdep import Lockdep, LockdepError
from mmactors.report.summary import sections as summary_sections
from mmactors.sync import Completion, SpinLock

from helpers import lock_scenario, lockdep_reports, run_lock_scenario
from mmactors.sync import lock_registry

SPIN = "spinlock"


def test_abba_is_predicted_without_deadlocking():
    # cpu1 runs its B -> A section long after cpu0's A -> B: no schedule of
    # this run deadlocks, lockdep reports the inversion anyway.
    text = lock_scenario({"A": (SPIN, "&lock_a"), "B": (SPIN, "&lock_b")},
                    ["lock A", "lock B", "unlock B", "unlock A"],
                    ["lock B", "lock A", "unlock A", "unlock B"], delays=[0, 50_000])
    res, ld = run_lock_scenario(text, strategy=None)
    assert res.exit_status == 4
    assert isinstance(res.error, LockdepError)
    (r,) = ld.reports
    assert r.kind == "circular"
    assert r.classes == ["&lock_a", "&lock_b"]           # A -> B seen, B -> A new
    assert r.summary() == "lockdep circular: &lock_a -> &lock_b -> &lock_a"
    t = r.text
    for line in ("WARNING: possible circular locking dependency detected",
                 "cpu1/1 is trying to acquire lock:", "but task is already holding lock:",
                 "which lock already depends on the new lock.",
                 "the existing dependency chain (in reverse order) is:",
                 "-> #1 (&lock_b){+.+.}-{3:3}:", "-> #0 (&lock_a){+.+.}-{3:3}:",
                 " Possible unsafe locking scenario:", "       CPU0                    CPU1",
                 "  lock(&lock_b);", "                               lock(&lock_a);",
                 " *** DEADLOCK ***", "1 lock held by cpu1/1:", "stack backtrace:"):
        assert line in t, line
    # sites: the workload steps with their scenario lines, and the actor of each edge
    assert 'workload[0].steps[1] "lock B" (rules.toml:' in t
    assert 'workload[1].steps[2] "lock A" (rules.toml:' in t
    assert "[cpu0/0 at " in t and r.actors == ["cpu1/1"]
    assert [c["class"] for c in r.chain] == ["&lock_b", "&lock_a"]
    # the same scenario without lockdep runs clean: the report was a prediction
    res2, _ = run_lock_scenario(text.replace("[run]", "[lockdep]\nenabled = false\n[run]"))
    assert res2.exit_status == 0 and res2.error is None


def test_contended_acquisition_is_validated_before_the_deadlock():
    # Both CPUs take their first lock at once: the run would deadlock (exit 3),
    # but lockdep validates the second acquisition before the wait.
    text = lock_scenario({"A": SPIN, "B": SPIN},
                    ["lock A", "delay 300", "lock B", "unlock B", "unlock A"],
                    ["lock B", "delay 300", "lock A", "unlock A", "unlock B"])
    res, ld = run_lock_scenario(text)
    assert res.exit_status == 4 and ld.reports[0].kind == "circular"
    res, _ = run_lock_scenario(text.replace("[run]", "[lockdep]\nenabled = false\n[run]"))
    assert res.exit_status == 3


@pytest.mark.parametrize("order,chain", [
    ("ABBCCA", [("A", "B"), ("B", "C"), ("C", "A")]),
    ("ABBCCDDA", [("A", "B"), ("B", "C"), ("C", "D"), ("D", "A")]),
    ("ABCDBDDA", [("A", "B"), ("C", "D"), ("B", "D"), ("D", "A")]),
])
def test_long_cycles_across_cpus(order, chain):
    progs = [[f"lock {a}", f"lock {b}", f"unlock {b}", f"unlock {a}"] for a, b in chain]
    text = lock_scenario({c: "mutex" for c in "ABCD"}, *progs,
                    delays=[i * 20_000 for i in range(len(progs))])
    (r,) = lockdep_reports(text)
    assert r.kind == "circular"
    assert len(r.classes) >= 3
    if len(r.chain) > 2:
        assert "Chain exists of:" in r.text


def test_recursive_and_nested():
    locks = {"A1": (SPIN, "&a"), "A2": (SPIN, "&a")}
    (r,) = lockdep_reports(lock_scenario(locks, ["lock A1", "lock A2", "unlock A2", "unlock A1"]))
    assert r.kind == "recursive"
    assert "WARNING: possible recursive locking detected" in r.text
    assert " May be due to missing lock nesting notation" in r.text
    # spin_lock_nested(A2, SINGLE_DEPTH_NESTING): a separate class &a/1
    res, ld = run_lock_scenario(lock_scenario(locks, ["lock A1", "lock_nested A2 1", "unlock A2", "unlock A1"]))
    assert res.exit_status == 0 and not ld.reports
    # ... whose name shows the subclass when it is part of a report
    (r,) = lockdep_reports(lock_scenario({**locks, "B": SPIN},
                            ["lock A1", "lock_nested A2 1", "lock B", "unlock B", "unlock A2",
                             "unlock A1"],
                            ["lock B", "lock_nested A2 1", "unlock A2", "unlock B"],
                            delays=[0, 20_000]))
    assert r.kind == "circular" and "&a/1" in r.classes


def test_read_rules():
    rw = {"X": "rwlock", "Y": SPIN}
    sem = {"X": "rwsem", "Y": "mutex"}
    # recursive read of an rwlock is allowed, of an rw_semaphore it is a deadlock
    assert not lockdep_reports(lock_scenario(rw, ["read_lock X", "read_lock X", "read_unlock X",
                                     "read_unlock X"]))
    (r,) = lockdep_reports(lock_scenario(sem, ["read_lock X", "read_lock X", "read_unlock X",
                                  "read_unlock X"]))
    assert r.kind == "recursive"

    def abba(locks, first, second):
        return lock_scenario(locks, [f"{first} X", "lock Y", "unlock Y", f"{first.replace('lock', 'unlock')} X"],
                        ["lock Y", f"{second} X", f"{second.replace('lock', 'unlock')} X", "unlock Y"],
                        delays=[0, 20_000])
    # read-lock/lock-write ABBA: a deadlock for both
    assert [r.kind for r in lockdep_reports(abba(rw, "read_lock", "lock"))] == ["circular"]
    assert [r.kind for r in lockdep_reports(abba(sem, "read_lock", "lock"))] == ["circular"]
    # read-lock/lock-read ABBA: fine for rwlock (recursive readers), not for rwsem
    assert lockdep_reports(abba(rw, "read_lock", "read_lock")) == []
    assert [r.kind for r in lockdep_reports(abba(sem, "read_lock", "read_lock"))] == ["circular"]
    # with the x86 rule (queued rwlocks) a process-context reader is not recursive
    q = 'rwlock_read = "queued"'
    assert [r.kind for r in lockdep_reports(abba(rw, "read_lock", "read_lock") .replace(
        "[run]", f"[lockdep]\n{q}\n[run]"))] == ["circular"]


def test_unlock_errors():
    locks = {"A": SPIN}
    (r,) = lockdep_reports(lock_scenario(locks, ["lock A", "unlock A", "unlock A"]))
    assert r.kind == "double-unlock"
    assert "WARNING: bad unlock balance detected!" in r.text
    assert "cpu0/0 is trying to release lock (A) at:" in r.text
    assert "but there are no more locks to release!" in r.text
    (r,) = lockdep_reports(lock_scenario(locks, ["unlock A"]))
    assert r.kind == "bad-unlock"
    (r,) = lockdep_reports(lock_scenario(locks, ["lock A", "delay 5000", "unlock A"], ["delay 1000", "unlock A"]))
    assert r.kind == "non-owner-unlock" and "A is held by cpu0/0, not by cpu1/1" in r.text
    for verb in ("init", "free"):
        (r,) = lockdep_reports(lock_scenario({"M": "mutex"}, ["lock M", f"{verb} M"]))
        assert r.kind == "held-lock-freed"
        assert "WARNING: held lock freed!" in r.text
        assert "with a lock still held there!" in r.text
    assert not lockdep_reports(lock_scenario({"M": "mutex"}, ["lock M", "unlock M", "init M", "free M"]))


def test_out_of_order_release_and_trylock_dependencies():
    locks = {"A": SPIN, "B": SPIN, "C": SPIN}
    # A, B, C; release B first: C is re-validated on top of A (A -> C)
    res, ld = run_lock_scenario(lock_scenario(locks, ["lock A", "lock B", "lock C", "unlock B", "unlock C",
                                   "unlock A"]))
    assert not ld.reports
    a, c = ld.classes[("A", 0)], ld.classes[("C", 0)]
    assert c in a.after
    # a successful trylock adds no dependency into the lock ...
    res, ld = run_lock_scenario(lock_scenario(locks, ["lock A", "trylock B", "unlock B", "unlock A"],
                           ["lock B", "lock A", "unlock A", "unlock B"], delays=[0, 20_000]))
    assert not ld.reports
    # ... but locks taken under it depend on it and on what is below it
    res, ld = run_lock_scenario(lock_scenario(locks, ["lock A", "trylock B", "lock C", "unlock C", "unlock B",
                                   "unlock A"]))
    a, b, c = (ld.classes[(n, 0)] for n in "ABC")
    assert c in b.after and c in a.after and b not in a.after


def test_sleep_in_atomic():
    (r,) = lockdep_reports(lock_scenario({"S": SPIN, "M": "mutex"}, ["lock S", "lock M", "unlock M",
                                                        "unlock S"]))
    assert r.kind == "sleep-in-atomic"
    assert r.headline.startswith("BUG: sleeping function called from invalid context at ")
    assert "in_atomic(): 1, irqs_disabled(): 0, non_block: 0, pid: 0, name: cpu0" in r.text
    assert "preempt_count: 1, expected: 0" in r.text
    assert r.classes == ["S"]
    (r,) = lockdep_reports(lock_scenario({}, ["irq_disable", "msleep 100", "irq_enable"]))
    assert "irqs_disabled(): 1" in r.text
    (r,) = lockdep_reports(lock_scenario({"R": "rwsem"}, {"context": "hardirq", "steps": ["read_lock R",
                                                                           "read_unlock R"]}))
    assert r.kind == "sleep-in-atomic" and "preempt_count: 10000" in r.text
    # a sleeping lock under another sleeping lock is fine
    assert not lockdep_reports(lock_scenario({"M": "mutex", "R": "rwsem"},
                                ["lock M", "read_lock R", "read_unlock R", "unlock M"]))


def test_completion_wait_under_spinlock():
    eng = Engine(seed=1, trace=False)
    ld = Lockdep(eng, hierarchy=False).attach()
    s = SpinLock(eng, "&zone->lock")
    done = Completion(eng, "io_done")

    async def waiter(a):
        await s.lock()
        await done.wait()

    async def waker(a):
        await a.spend(1000)
        done.complete()

    eng.add_actor("waiter", waiter, cpu=0)
    eng.add_actor("waker", waker, cpu=1)
    with pytest.raises(LockdepError) as ei:
        eng.run()
    rep = ei.value.lockdep
    assert ld.reports == [rep]
    assert rep.kind == "sleep-in-atomic" and rep.classes == ["&zone->lock"]
    assert "wait_for_completion(io_done) in waiter (test_rules.py:" in rep.headline
    assert "Preemption disabled at:" in rep.text and "waiter (test_rules.py:" in rep.text


def test_irq_contexts_on_cpus():
    # cpu1 is a hardirq handler taking A; cpu0 takes A with interrupts on.
    prog_irq = {"context": "hardirq", "steps": ["lock A", "unlock A"]}
    (r,) = lockdep_reports(lock_scenario({"A": SPIN}, ["lock A", "unlock A"], prog_irq, delays=[0, 10_000]))
    assert r.kind == "inconsistent"
    assert "inconsistent {HARDIRQ-ON-W} -> {IN-HARDIRQ-W} usage." in r.text
    assert "cpu1/1 [HC1[1]:SC0[0]:HE0:SE1] takes:" in r.text
    assert "  <Interrupt>" in r.text
    # spin_lock_irq in process context: consistent
    assert not lockdep_reports(lock_scenario({"A": SPIN}, ["lock_irq A", "unlock_irq A"], prog_irq,
                                delays=[0, 10_000]))
    # softirq: spin_lock_bh is the matching process-side primitive
    prog_soft = {"context": "softirq", "steps": ["lock A", "unlock A"]}
    (r,) = lockdep_reports(lock_scenario({"A": SPIN}, ["lock A", "unlock A"], prog_soft, delays=[0, 10_000]))
    assert "{SOFTIRQ-ON-W} -> {IN-SOFTIRQ-W}" in r.text
    assert not lockdep_reports(lock_scenario({"A": SPIN}, ["lock_bh A", "unlock_bh A"], prog_soft,
                                delays=[0, 10_000]))
    # irq-safe -> irq-unsafe across three CPUs: A is hardirq-safe, A -> B with
    # interrupts off, B taken with interrupts on elsewhere.
    (r,) = lockdep_reports(lock_scenario({"A": SPIN, "B": SPIN},
                            {"context": "hardirq", "steps": ["lock A", "unlock A"]},
                            ["lock_irqsave A", "lock B", "unlock B", "unlock_irqrestore A"],
                            ["lock B", "unlock B"], delays=[0, 10_000, 20_000]))
    assert r.kind == "irq-inversion"
    assert "but this lock was taken by another, HARDIRQ-safe lock in the past:" in r.text
    assert " Possible interrupt unsafe locking scenario:" in r.text


def test_reports_are_deterministic():
    text = lock_scenario({"A": SPIN, "B": "mutex", "C": "rwsem"},
                    ["read_lock C", "lock B", "lock A", "unlock A", "unlock B", "read_unlock C"],
                    ["lock B", "delay 500", "lock C", "unlock C", "unlock B"],
                    ["lock A", "unlock A"], repeat=3)
    outs = [json.dumps(run_lock_scenario(text)[0].to_json()["lockdep"], sort_keys=True) for _ in range(3)]
    assert outs[0] == outs[1] == outs[2]
    assert json.loads(outs[0])["reports"][0]["kind"] == "circular"


def test_chain_cache_validates_each_chain_once(monkeypatch):
    calls = []
    orig = Lockdep._check_prevs_add

    def spy(self, t, nxt):
        calls.append(nxt.cls.name)
        return orig(self, t, nxt)

    monkeypatch.setattr(Lockdep, "_check_prevs_add", spy)
    prog = ["lock A", "lock B", "lock C", "unlock C", "unlock B", "unlock A"]
    res, ld = run_lock_scenario(lock_scenario({"A": SPIN, "B": SPIN, "C": SPIN}, prog, prog, repeat=500))
    assert res.exit_status == 0 and res.ops == 1000
    assert calls == ["B", "C"]                 # validated once, on the first pass
    assert ld.stats()["lock_chains"] == 3


def test_lockdep_off_means_no_validator():
    res, ld = run_lock_scenario(lock_scenario({"A": SPIN}, ["lock A", "unlock A"]).replace(
        "[run]", "[lockdep]\nenabled = false\n[run]"))
    assert ld is None and lock_registry(res.machine.engine).validators == []
    assert "lockdep" not in res.to_json()


def _cli(*args, env=None):
    import os
    e = dict(os.environ)
    e.pop("MMACTORS_LOCKDEP", None)
    e.update(env or {})
    return subprocess.run([sys.executable, "-m", "mmactors", *args], capture_output=True,
                          text=True, env=e)


def test_cli_lockdep_flags(tmp_path):
    text = lock_scenario({"A": SPIN, "B": SPIN},
                    ["lock A", "lock B", "unlock B", "unlock A"],
                    ["lock B", "lock A", "unlock A", "unlock B"], delays=[0, 50_000])
    p = tmp_path / "abba.toml"
    p.write_text(text)
    r = _cli("run", str(p), "--json", "-")
    assert r.returncode == 0 and "lockdep" not in json.loads(r.stdout)
    r = _cli("run", str(p), "--lockdep", "--json", "-")
    assert r.returncode == 4, r.stderr
    doc = json.loads(r.stdout)
    rep = doc["lockdep"]["reports"][0]
    assert rep["kind"] == "circular" and rep["classes"][-1] in ("A", "B")
    assert rep["text"].lstrip().startswith("====")
    assert doc["error"]["kind"] == "lockdep"
    r = _cli("run", str(p), "--quiet", env={"MMACTORS_LOCKDEP": "1"})
    assert r.returncode == 4 and "possible circular locking dependency" in r.stderr
    r = _cli("run", str(p), "--no-lockdep", env={"MMACTORS_LOCKDEP": "1"})
    assert r.returncode == 0


@pytest.mark.parametrize("steps,msg", [
    ('"grab A"', "expected 'VERB ARG'"),
    ('"lock Z"', "no [[lock]] named 'Z'"),
    ('"lock_irq M"', "a sleeping lock has no _irq/_bh variant"),
    ('"lock_nested A 9"', "subclass must be 0..7"),
    ('"hardirq_exit"', "hardirq_exit without a matching hardirq_enter"),
    ('"trylock A else hardirq_enter"', "'else' takes a single lock or delay step"),
])
def test_bad_steps_are_one_line_errors(tmp_path, steps, msg):
    p = tmp_path / "bad.toml"
    p.write_text('[[lock]]\nname = "A"\nkind = "spinlock"\n[[lock]]\nname = "M"\nkind = "mutex"\n'
                 f'[[workload]]\nkind = "lock-sequence"\ncpus = [0]\nsteps = [{steps}]\n')
    r = _cli("run", str(p))
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and msg in r.stderr
    assert f"{p}:10: workload[0].steps" in r.stderr


def test_bad_context_and_lockdep_keys(tmp_path):
    p = tmp_path / "bad.toml"
    p.write_text('[[workload]]\nkind = "lock-sequence"\ncpus = [0]\ncontext = "nmi"\nsteps = []\n')
    r = _cli("run", str(p))
    assert r.returncode == 2 and "workload[0].context: must be one of process, softirq, hardirq" \
        in r.stderr
    p.write_text('[lockdep]\nrwlock_read = "fair"\n[[workload]]\nkind = "lock-loop"\n')
    r = _cli("run", str(p))
    assert r.returncode == 2 and "lockdep.rwlock_read: must be one of recursive, queued" in r.stderr


def test_recursive_readers_versus_the_simulated_qrwlock():
    """The documented divergence: with recursive rwlock readers (the default,
    as locking-selftest runs) lockdep trusts read_lock to never wait for a
    waiting writer, but the simulated qrwlock queues process-context readers
    behind one, so this run deadlocks without a report.  rwlock_read =
    "queued" (the x86 kernel's rule) predicts it."""
    text = lock_scenario({"A": "rwlock", "B": SPIN},
                    ["read_lock A", "delay 1000", "lock B", "unlock B", "read_unlock A"],
                    ["delay 400", "lock B", "read_lock A", "read_unlock A", "unlock B"],
                    ["delay 200", "lock A", "unlock A"])
    res, ld = run_lock_scenario(text)
    assert res.exit_status == 3 and not ld.reports
    res, ld = run_lock_scenario(text.replace("[run]", '[lockdep]\nrwlock_read = "queued"\n[run]'))
    assert res.exit_status == 4 and ld.reports[0].kind == "circular"


def test_interrupt_on_the_same_cpu():
    from mmactors.testing import run_scenario
    path = "lockdep/irq-self-deadlock"
    res = run_scenario(path, lockdep=False)
    assert res.exit_status == 3                       # the handler spins on its own CPU's lock
    assert res.error.cycle[0]["actor"] == res.error.cycle[0]["held_by"] == "cpu0"
    res = run_scenario(path, lockdep=True)
    assert res.exit_status == 4
    rep = res.error.lockdep
    assert rep.kind == "inconsistent" and 'irq.steps[0] "lock A"' in rep.text
    fixed = [("workload.0.steps", '["lock_irq A", "delay 500", "delay 500", "unlock_irq A", '
              '"delay 300"]')]
    res = run_scenario(path, lockdep=True, overrides=fixed)
    assert res.exit_status == 0 and res.ops == 3
    # softirq handlers are held off by local_bh_disable, not by local_irq_disable
    soft = [("workload.0.irq.context", "softirq")]
    assert run_scenario(path, lockdep=True, overrides=soft).exit_status == 4
    assert run_scenario(path, lockdep=True, overrides=soft + [
        ("workload.0.steps", '["lock_bh A", "delay 500", "delay 500", "unlock_bh A", '
         '"delay 300"]')]).exit_status == 0


def test_downgrade_write_keeps_the_lock_in_place():
    """downgrade_write under lockdep is lock_downgrade(): mmap_lock stays below
    the VMA lock taken after it, so no vm_lock -> mmap_lock dependency."""
    from mmactors.sync import RWSemaphore
    eng = Engine(seed=1, trace=False)
    ld = Lockdep(eng).attach()
    mmap, vma = RWSemaphore(eng, "&mm->mmap_lock"), RWSemaphore(eng, "vm_lock")

    async def body(a):
        await mmap.down_write()
        await vma.down_write()
        mmap.downgrade_write()
        vma.up_write()
        await vma.down_read()        # under the (now read-held) mmap_lock: fine
        vma.up_read()
        mmap.up_read()

    eng.add_actor("cpu0", body)
    eng.run()
    assert not ld.reports
    assert [h.read for h in ld.tasks[0].held] == []


def test_stop_false_reports_once_and_runs_on():
    text = lock_scenario({"A": SPIN, "B": SPIN},
                    ["lock A", "lock B", "unlock B", "unlock A"],
                    ["lock B", "lock A", "unlock A", "unlock B", "unlock A"],
                    delays=[0, 20_000], lockdep="stop = false")
    res, ld = run_lock_scenario(text)
    assert res.error is None and res.end_reason == "done" and res.ops == 2
    assert res.exit_status == 4
    assert [r.kind for r in ld.reports] == ["circular"]     # then quiet, like debug_locks_off()
    assert any("lockdep circular: A -> B -> A" in s for s in summary_sections(res))
