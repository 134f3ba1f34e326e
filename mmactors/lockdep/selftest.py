"""lib/locking-selftest.c, ported: the kernel's lockdep self-tests, family by
family and lock kind by lock kind, run through the simulator.

Each test body is the kernel's, written with the kernel's macros (``LOCK``,
``UNLOCK``, ``L``, ``RL``, ``WSL``, ``IRQ_ENTER``, ``LOCK_UNLOCK_2``, ...) on a
small builder that turns it into a ``lock-sequence`` program; the case runs
as a one-CPU scenario with lockdep on and a fresh validator (the kernel's
``reset_locks()``/``lockdep_reset()`` between cases).  FAILURE means lockdep
must report (``debug_locks`` drops to 0), SUCCESS that it stays silent --
``dotest()``'s contract.

Lock objects follow the file: per lock kind, ``A``..``D`` are four classes,
``X1``/``X2`` two instances of class X (likewise Y, Z).  The main table runs
with ``force_read_lock_recursive = 1`` (rwlock readers recursive); the
queued-rwlock cases after it with the x86 rule (``rwlock_read = "queued"``).

The fs_reclaim tests run the ``fs_reclaim`` lockdep map of
:mod:`mmactors.mm.sched_mm` (``fs_reclaim_acquire``, ``might_alloc``,
``memalloc_nofs_save``), as the lock-sequence verbs of the same names; the
kernel prints their one cell (``dotest(..., 0)``) in the first column.

Not ported (the simulator has no such locks): ww_mutex tests, local_lock
tests, rtmutex column, wait-context tests (CONFIG_PROVE_RAW_LOCK_NESTING),
the lockdep_set_subclass() name test.

The cases are data; :func:`mmactors.testing.run_selftest_case` runs one on a
machine, and ``python tools/locking_selftest.py`` prints the kernel-style table.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field

__all__ = ["Case", "cases", "FAILURE", "SUCCESS", "COLUMNS"]

FAILURE, SUCCESS = 0, 1
COLUMNS = ("spin", "wlock", "rlock", "mutex", "wsem", "rsem")

# lock kind per object family, and the kernel's object name prefix
_OBJ = {"lock": "spinlock", "rwlock": "rwlock", "mutex": "mutex", "rwsem": "rwsem"}
# kind column -> (object family, LOCK verb, UNLOCK verb)
_KIND = {"spin": ("lock", "lock", "unlock"), "wlock": ("rwlock", "lock", "unlock"),
         "rlock": ("rwlock", "read_lock", "read_unlock"), "mutex": ("mutex", "lock", "unlock"),
         "wsem": ("rwsem", "lock", "unlock"), "rsem": ("rwsem", "read_lock", "read_unlock")}


class Body:
    """The selftest macros over one lock kind (and an irq flavour)."""

    def __init__(self, kind: str | None = "spin", irq: str | None = None):
        self.kind, self.irq = kind, irq
        self.steps: list[str] = []
        self.locks: dict[str, tuple[str, str]] = {}   # step name -> (kind, class)

    def _obj(self, family, x):
        name = f"{family}_{x}"
        cls = f"{family}_{x[0]}" if len(x) == 2 else name     # X1, X2 -> class X
        self.locks.setdefault(name, (_OBJ[family], cls))
        return name

    def _op(self, verb, family, x):
        self.steps.append(f"{verb} {self._obj(family, x)}")
        return self

    # the kind's own LOCK/UNLOCK/INIT
    def LOCK(self, x):
        fam, lk, _ = _KIND[self.kind]
        return self._op(lk, fam, x)

    def UNLOCK(self, x):
        fam, _, ul = _KIND[self.kind]
        return self._op(ul, fam, x)

    def INIT(self, x):
        return self._op("init", _KIND[self.kind][0], x)

    def LU2(self, x, y):            # LOCK_UNLOCK_2
        return self.LOCK(x).LOCK(y).UNLOCK(y).UNLOCK(x)

    # explicit ones
    def L(self, x): return self._op("lock", "lock", x)
    def U(self, x): return self._op("unlock", "lock", x)
    def WL(self, x): return self._op("lock", "rwlock", x)
    def WU(self, x): return self._op("unlock", "rwlock", x)
    def RL(self, x): return self._op("read_lock", "rwlock", x)
    def RU(self, x): return self._op("read_unlock", "rwlock", x)
    def ML(self, x): return self._op("lock", "mutex", x)
    def MU(self, x): return self._op("unlock", "mutex", x)
    def WSL(self, x): return self._op("lock", "rwsem", x)
    def WSU(self, x): return self._op("unlock", "rwsem", x)
    def RSL(self, x): return self._op("read_lock", "rwsem", x)
    def RSU(self, x): return self._op("read_unlock", "rwsem", x)

    def _s(self, *steps):
        self.steps.extend(steps)
        return self

    def HARDIRQ_ENTER(self): return self._s("hardirq_enter")
    def HARDIRQ_EXIT(self): return self._s("hardirq_exit")
    def SOFTIRQ_ENTER(self): return self._s("softirq_enter")
    def SOFTIRQ_EXIT(self): return self._s("softirq_exit")
    def HARDIRQ_DISABLE(self): return self._s("irq_disable")
    def HARDIRQ_ENABLE(self): return self._s("irq_enable")
    def SOFTIRQ_DISABLE(self): return self._s("bh_disable")
    def SOFTIRQ_ENABLE(self): return self._s("bh_enable")

    # allocation context (include/linux/sched/mm.h): gfp masks as the kernel spells them
    def fs_reclaim_acquire(self, gfp): return self._s(f"fs_reclaim_acquire {gfp}")
    def fs_reclaim_release(self, gfp): return self._s(f"fs_reclaim_release {gfp}")
    def might_alloc(self, gfp): return self._s(f"might_alloc {gfp}")
    def memalloc_nofs_save(self): return self._s("memalloc_nofs_save")
    def memalloc_nofs_restore(self): return self._s("memalloc_nofs_restore")

    # locking-selftest-{hardirq,softirq}.h
    def IRQ_ENTER(self):
        return self.HARDIRQ_ENTER() if self.irq == "hard" else self.SOFTIRQ_ENTER()

    def IRQ_EXIT(self):
        return self.HARDIRQ_EXIT() if self.irq == "hard" else self.SOFTIRQ_EXIT()

    def IRQ_DISABLE(self):
        return self.HARDIRQ_DISABLE() if self.irq == "hard" else self.SOFTIRQ_DISABLE()

    def IRQ_ENABLE(self):
        return self.HARDIRQ_ENABLE() if self.irq == "hard" else self.SOFTIRQ_ENABLE()


@dataclass
class Case:
    name: str               # the kernel's function name, e.g. "ABBA_spin", "irqsafe3_hard_rlock_231"
    group: str              # the printed test name, e.g. "A-B-B-A deadlock", "hard-safe-A + unsafe-B #1/231"
    column: str             # spin | wlock | rlock | mutex | wsem | rsem
    expected: int           # FAILURE | SUCCESS
    steps: list
    locks: dict
    rwlock_read: str = "recursive"
    detector: str = ""      # the report kind we expect (documentation; tests check it)
    extra: dict = field(default_factory=dict)

    @property
    def id(self) -> str:
        return self.name

    def scenario_text(self) -> str:
        out = [f'name = "selftest-{self.name}"', "[machine]", "cpus = 1", ""]
        for name, (kind, cls) in self.locks.items():
            out += ["[[lock]]", f'name = "{name}"', f'kind = "{kind}"', f'class = "{cls}"', ""]
        out += ["[[workload]]", 'kind = "lock-sequence"', "cpus = [0]", "steps = ["]
        out += [f'  "{s}",' for s in self.steps]
        out += ["]", "repeat = 1", "step_ns = 10", "",
                "[lockdep]", "enabled = true", "stop = true",
                f'rwlock_read = "{self.rwlock_read}"', "hierarchy = false", "",
                "[run]", "duration_ns = 1_000_000", "seed = 1", ""]
        return "\n".join(out)


def _case(name, group, column, expected, body: Body, detector="", **kw):
    return Case(name, group, column, expected, list(body.steps), dict(body.locks),
                detector=detector, **kw)


# ------------------------------------------------------------- the families
def _main_table():
    fams = [
        ("A-A deadlock", "AA", lambda b: b.LOCK("X1").LOCK("X2"), "recursive"),
        ("A-B-B-A deadlock", "ABBA", lambda b: b.LU2("A", "B").LU2("B", "A"), "circular"),
        ("A-B-B-C-C-A deadlock", "ABBCCA",
         lambda b: b.LU2("A", "B").LU2("B", "C").LU2("C", "A"), "circular"),
        ("A-B-C-A-B-C deadlock", "ABCABC",
         lambda b: b.LU2("A", "B").LU2("C", "A").LU2("B", "C"), "circular"),
        ("A-B-B-C-C-D-D-A deadlock", "ABBCCDDA",
         lambda b: b.LU2("A", "B").LU2("B", "C").LU2("C", "D").LU2("D", "A"), "circular"),
        ("A-B-C-D-B-D-D-A deadlock", "ABCDBDDA",
         lambda b: b.LU2("A", "B").LU2("C", "D").LU2("B", "D").LU2("D", "A"), "circular"),
        ("A-B-C-D-B-C-D-A deadlock", "ABCDBCDA",
         lambda b: b.LU2("A", "B").LU2("C", "D").LU2("B", "C").LU2("D", "A"), "circular"),
    ]
    for group, base, fn, det in fams:           # DO_TESTCASE_6R: rlock must not trigger
        for col in COLUMNS:
            b = Body(col)
            fn(b)
            exp = SUCCESS if col == "rlock" else FAILURE
            yield _case(f"{base}_{col}", group, col, exp, b, det if exp == FAILURE else "")
    for group, base, fn, det in [
        ("double unlock", "double_unlock", lambda b: b.LOCK("A").UNLOCK("A").UNLOCK("A"),
         "double-unlock"),
        ("initialize held", "init_held", lambda b: b.LOCK("A").INIT("A"), "held-lock-freed"),
    ]:                                          # DO_TESTCASE_6: all fail
        for col in COLUMNS:
            b = Body(col)
            fn(b)
            yield _case(f"{base}_{col}", group, col, FAILURE, b, det)


def _rw_rows():
    rows = [
        ("recursive read-lock",
         ("rlock_AA1", SUCCESS, lambda b: b.RL("X1").RL("X1"), ""),
         ("rsem_AA1", FAILURE, lambda b: b.RSL("X1").RSL("X1"), "recursive")),
        ("recursive read-lock #2",
         ("rlock_AA1B", SUCCESS, lambda b: b.RL("X1").RL("X2"), ""),
         ("rsem_AA1B", FAILURE, lambda b: b.RSL("X1").RSL("X2"), "recursive")),
        ("mixed read-write-lock",
         ("rlock_AA2", FAILURE, lambda b: b.RL("X1").WL("X2"), "recursive"),
         ("rsem_AA2", FAILURE, lambda b: b.RSL("X1").WSL("X2"), "recursive")),
        ("mixed write-read-lock",
         ("rlock_AA3", FAILURE, lambda b: b.WL("X1").RL("X2"), "recursive"),
         ("rsem_AA3", FAILURE, lambda b: b.WSL("X1").RSL("X2"), "recursive")),
        ("mixed read-lock/lock-write ABBA",
         ("rlock_ABBA1", FAILURE,
          lambda b: b.RL("X1").L("Y1").U("Y1").RU("X1").L("Y1").WL("X1").WU("X1").U("Y1"),
          "circular"),
         ("rwsem_ABBA1", FAILURE,
          lambda b: b.RSL("X1").ML("Y1").MU("Y1").RSU("X1").ML("Y1").WSL("X1").WSU("X1").MU("Y1"),
          "circular")),
        ("mixed read-lock/lock-read ABBA",
         ("rlock_ABBA2", SUCCESS,
          lambda b: b.RL("X1").L("Y1").U("Y1").RU("X1").L("Y1").RL("X1").RU("X1").U("Y1"), ""),
         ("rwsem_ABBA2", FAILURE,
          lambda b: b.RSL("X1").ML("Y1").MU("Y1").RSU("X1").ML("Y1").RSL("X1").RSU("X1").MU("Y1"),
          "circular")),
        ("mixed write-lock/lock-write ABBA",
         ("rlock_ABBA3", FAILURE,
          lambda b: b.WL("X1").L("Y1").U("Y1").WU("X1").L("Y1").WL("X1").WU("X1").U("Y1"),
          "circular"),
         ("rwsem_ABBA3", FAILURE,
          lambda b: b.WSL("X1").ML("Y1").MU("Y1").WSU("X1").ML("Y1").WSL("X1").WSU("X1").MU("Y1"),
          "circular")),
        ("chain cached mixed R-L/L-W ABBA",
         ("rlock_chaincache_ABBA1", FAILURE,
          lambda b: (b.RL("X1").L("Y1").U("Y1").RU("X1")
                     .L("Y1").RL("X1").RU("X1").U("Y1")
                     .L("Y1").WL("X1").WU("X1").U("Y1")), "circular"),
         None),
    ]
    for group, rw, sem in rows:
        for spec, col in ((rw, "rlock"), (sem, "rsem")):
            if spec is None:
                continue
            name, exp, fn, det = spec
            b = Body(col)
            fn(b)
            yield _case(name, group, col, exp, b, det)


_PERM3 = ("123", "132", "213", "231", "312", "321")


def _perm(events, nr):
    return [events[int(c) - 1] for c in nr]


def _rlock_perms():
    fams = [
        ("rlock W1R2/W2R3/W3R1", "W1R2_W2R3_W3R1", FAILURE,
         (lambda b: b.WL("X1").RL("Y1").RU("Y1").WU("X1"),
          lambda b: b.WL("Y1").RL("Z1").RU("Z1").WU("Y1"),
          lambda b: b.WL("Z1").RL("X1").RU("X1").WU("Z1"))),
        ("rlock W1W2/R2R3/W3R1", "W1W2_R2R3_W3R1", FAILURE,
         (lambda b: b.WL("X1").WL("Y1").WU("Y1").WU("X1"),
          lambda b: b.RL("Y1").RL("Z1").RU("Z1").RU("Y1"),
          lambda b: b.WL("Z1").RL("X1").RU("X1").WU("Z1"))),
        # The kernel's next two function names are swapped w.r.t. their
        # bodies; we keep the kernel's name-to-body pairing and print names.
        ("rlock W1W2/R2R3/R3W1", "W1W2_R2R3_R3W1", SUCCESS,
         (lambda b: b.WL("X1").RL("Y1").RU("Y1").WU("X1"),
          lambda b: b.RL("Y1").RL("Z1").RU("Z1").RU("Y1"),
          lambda b: b.WL("Z1").WL("X1").WU("X1").WU("Z1"))),
        ("rlock W1R2/R2R3/W3W1", "W1R2_R2R3_W3W1", SUCCESS,
         (lambda b: b.WL("X1").WL("Y1").WU("Y1").WU("X1"),
          lambda b: b.RL("Y1").RL("Z1").RU("Z1").RU("Y1"),
          lambda b: b.RL("Z1").WL("X1").WU("X1").RU("Z1"))),
    ]
    for group, base, exp, ev in fams:
        for nr in _PERM3:
            b = Body("rlock")
            for e in _perm(ev, nr):
                e(b)
            yield _case(f"{base}_{nr}", f"{group}/{nr}", "rlock", exp, b,
                        "circular" if exp == FAILURE else "")


def _irq_families():
    # (printed desc, base, events, columns->expected, per-perm or 2-event, irq flavours)
    def irqsafe1(b):
        return (lambda: b.IRQ_ENTER().LOCK("A").UNLOCK("A").IRQ_EXIT(),
                lambda: b.LOCK("A").UNLOCK("A"))

    def irqsafe2A(b):
        return (lambda: b.SOFTIRQ_ENTER().LOCK("A").UNLOCK("A").SOFTIRQ_EXIT(),
                lambda: b.HARDIRQ_DISABLE().LOCK("A").HARDIRQ_ENABLE().UNLOCK("A"))

    def irqsafe2B(b):
        return (lambda: b.IRQ_ENTER().LOCK("A").UNLOCK("A").IRQ_EXIT(),
                lambda: b.IRQ_DISABLE().LOCK("A").IRQ_ENABLE().UNLOCK("A"))

    def irqsafe3(b):
        return (lambda: b.LOCK("A").LOCK("B").UNLOCK("B").UNLOCK("A"),
                lambda: b.LOCK("B").UNLOCK("B"),
                lambda: b.IRQ_ENTER().LOCK("A").UNLOCK("A").IRQ_EXIT())

    def irqsafe4(b):
        return (lambda: b.IRQ_DISABLE().LOCK("A").LOCK("B").UNLOCK("B").UNLOCK("A").IRQ_ENABLE(),
                lambda: b.LOCK("B").UNLOCK("B"),
                lambda: b.IRQ_ENTER().LOCK("A").UNLOCK("A").IRQ_EXIT())

    def irq_inversion(b):
        return (lambda: b.IRQ_DISABLE().WL("A").LOCK("B").UNLOCK("B").WU("A").IRQ_ENABLE(),
                lambda: b.LOCK("B").UNLOCK("B"),
                lambda: b.IRQ_ENTER().RL("A").RU("A").IRQ_EXIT())

    def irq_read_recursion(b):
        return (lambda: b.IRQ_DISABLE().WL("A").WU("A").IRQ_ENABLE(),
                lambda: b.RL("A").RU("A"),
                lambda: b.IRQ_ENTER().LOCK("A").L("B").U("B").UNLOCK("A").IRQ_EXIT())

    def irq_read_recursion2(b):
        return (lambda: b.IRQ_DISABLE().L("B").LOCK("A").UNLOCK("A").U("B").IRQ_ENABLE(),
                lambda: b.RL("A").RU("A"),
                lambda: b.IRQ_ENTER().L("B").U("B").IRQ_EXIT())

    def irq_read_recursion3(b):
        return (lambda: b.IRQ_DISABLE().WL("B").LOCK("A").UNLOCK("A").WU("B").IRQ_ENABLE(),
                lambda: b.RL("A").RU("A"),
                lambda: b.IRQ_ENTER().RL("B").RU("B").IRQ_EXIT())

    three = {"spin": FAILURE, "wlock": FAILURE, "rlock": SUCCESS}
    two_rw = {"wlock": FAILURE, "rlock": SUCCESS}
    # DO_TESTCASE_2x6 / 2x3 / 6x6 / 6x6RW / 6x2x2RW, in print order
    plan = [
        ("irqs-on + irq-safe-A", "irqsafe1", irqsafe1, ("12", "21"), three, True),
        ("sirq-safe-A => hirqs-on", "irqsafe2A", irqsafe2A, ("12", "21"), three, False),
        ("safe-A + irqs-on", "irqsafe2B", irqsafe2B, ("12", "21"), three, True),
        ("safe-A + unsafe-B #1", "irqsafe3", irqsafe3, _PERM3, three, True),
        ("safe-A + unsafe-B #2", "irqsafe4", irqsafe4, _PERM3, three, True),
        ("irq lock-inversion", "irq_inversion", irq_inversion, _PERM3, three, True),
        ("irq read-recursion", "irq_read_recursion", irq_read_recursion, _PERM3, two_rw, True),
        ("irq read-recursion #2", "irq_read_recursion2", irq_read_recursion2, _PERM3, two_rw, True),
        ("irq read-recursion #3", "irq_read_recursion3", irq_read_recursion3, _PERM3, two_rw, True),
    ]
    for desc, base, events, perms, cols, flavoured in plan:
        for nr in perms:
            for irq in (("hard", "soft") if flavoured else (None,)):
                for col, exp in cols.items():
                    b = Body(col, irq)
                    evs = events(b)
                    for e in _perm(evs, nr):
                        e()
                    if flavoured:
                        name = f"{base}_{irq}_{col}_{nr}"
                        group = f"{irq}-{desc}/{nr}"
                    else:
                        name = f"{base}_{col}_{nr}"
                        group = f"{desc}/{nr}"
                    yield _case(name, group, col, exp, b,
                                "irq" if exp == FAILURE else "")


def _queued_rwlock():
    """queued_read_lock_tests(): force_read_lock_recursive = 0; LOCK = wlock."""
    b = Body("wlock")
    (b.HARDIRQ_ENTER().RL("A").WL("B").WU("B").RU("A").HARDIRQ_EXIT()
     .HARDIRQ_DISABLE().WL("B").RL("A").RU("A").WU("B").HARDIRQ_ENABLE())
    yield _case("queued_read_lock_hardirq_RE_Er", "hardirq read-lock/lock-read", "rlock",
                FAILURE, b, "circular", rwlock_read="queued")
    b = Body("wlock")
    (b.HARDIRQ_ENTER().WL("B").RL("A").RU("A").WU("B").HARDIRQ_EXIT()
     .HARDIRQ_DISABLE().RL("A").WL("B").WU("B").RU("A").HARDIRQ_ENABLE())
    yield _case("queued_read_lock_hardirq_ER_rE", "hardirq lock-read/read-lock", "rlock",
                SUCCESS, b, "", rwlock_read="queued")
    b = Body("wlock")
    (b.HARDIRQ_ENTER().WL("B").WU("B").HARDIRQ_EXIT()
     .HARDIRQ_DISABLE().WL("B").RL("A").RU("A").WU("B").HARDIRQ_ENABLE()
     .RL("A").RU("A"))
    yield _case("queued_read_lock_hardirq_inversion", "hardirq inversion", "rlock",
                FAILURE, b, "irq", rwlock_read="queued")


def _fs_reclaim():
    """fs_reclaim_tests(): lockdep must see an allocation that may enter
    reclaim (might_alloc) inside reclaim (fs_reclaim held) as recursion on
    the fs_reclaim map, unless the allocation cannot call into the
    filesystem (GFP_NOFS, or a memalloc_nofs_save() scope)."""
    def correct(b):
        b.fs_reclaim_acquire("GFP_KERNEL").might_alloc("GFP_NOFS").fs_reclaim_release("GFP_KERNEL")

    def wrong(b):
        b.fs_reclaim_acquire("GFP_KERNEL").might_alloc("GFP_KERNEL").fs_reclaim_release("GFP_KERNEL")

    def protected(b):
        (b.fs_reclaim_acquire("GFP_KERNEL").memalloc_nofs_save().might_alloc("GFP_KERNEL")
         .memalloc_nofs_restore().fs_reclaim_release("GFP_KERNEL"))

    for group, name, exp, fn, det in [
        ("correct nesting", "fs_reclaim_correct_nesting", SUCCESS, correct, ""),
        ("wrong nesting", "fs_reclaim_wrong_nesting", FAILURE, wrong, "recursive"),
        ("protected nesting", "fs_reclaim_protected_nesting", SUCCESS, protected, ""),
    ]:
        b = Body(None)
        fn(b)
        yield _case(name, group, "spin", exp, b, det)


def _special():
    """hardirq_deadlock_softirq_not_deadlock (LOCKTYPE_SPECIAL)."""
    b = Body(None)
    b.ML("A").HARDIRQ_DISABLE().L("C").U("C").HARDIRQ_ENABLE().MU("A")
    b.HARDIRQ_ENTER().L("A").U("A").HARDIRQ_EXIT()
    b.HARDIRQ_DISABLE().L("A").L("B").U("B").U("A").HARDIRQ_ENABLE()
    b.HARDIRQ_DISABLE().L("B").L("C").U("C").U("B").HARDIRQ_ENABLE()
    b.SOFTIRQ_ENTER().L("D").U("D").SOFTIRQ_EXIT()
    b.SOFTIRQ_DISABLE().L("D").U("D").SOFTIRQ_ENABLE()
    b.HARDIRQ_DISABLE().L("C").L("D").U("D").U("C").HARDIRQ_ENABLE()
    yield _case("hardirq_deadlock_softirq_not_deadlock", "hardirq_unsafe_softirq_safe",
                "spin", FAILURE, b, "irq-safe-unsafe")


def cases() -> list[Case]:
    """Every ported test case, in the kernel's print order."""
    return list(itertools.chain(_main_table(), _rw_rows(), _rlock_perms(), _irq_families(),
                                _queued_rwlock(), _fs_reclaim(), _special()))
