"""``kind = "lock-sequence"``: a fixed program of lock operations per CPU.

Locks are declared once in ``[[lock]]`` tables and shared by every workload
that names them, so ABBA-style programs (and lib/locking-selftest.c's test
bodies) need no Python::

    [[lock]]
    name = "A"
    kind = "spinlock"      # spinlock | ticket | qspinlock | rwlock | mutex | rwsem
    class = "&zone->lock"  # lockdep / lock_stat class (default: the name);
                           # two locks with one class are two instances of it

    [[workload]]
    kind = "lock-sequence"
    cpus = [0]
    context = "process"    # process | softirq | hardirq: the CPU runs this
                           # program as a task, a softirq or a hardirq handler
    steps = ["lock A", "delay 500", "lock B", "unlock B", "unlock A"]
    repeat = 1             # 0 = forever

Verbs (X a declared lock, N an integer):

* ``lock X`` / ``unlock X``: exclusive (spin_lock, write_lock, mutex_lock,
  down_write); ``read_lock X`` / ``read_unlock X``: shared (read_lock,
  down_read).
* ``lock_nested X N`` / ``read_lock_nested X N``: the same with lockdep
  subclass N (spin_lock_nested, mutex_lock_nested, down_read_nested, ...).
* ``trylock X`` / ``read_trylock X``: when it fails X is not held and the
  next matching unlock is skipped; ``trylock X else STEP`` runs STEP (any
  other step, e.g. ``lock X``) when it fails.
* ``lock_irq X`` / ``unlock_irq X``, ``lock_irqsave X`` /
  ``unlock_irqrestore X``, ``lock_bh X`` / ``unlock_bh X`` (spinlocks and
  the write side of rwlocks), and ``read_lock_irq``, ``read_unlock_irq``,
  ``read_lock_bh``, ``read_unlock_bh`` for rwlocks.
* ``irq_disable``, ``irq_enable``, ``bh_disable``, ``bh_enable``,
  ``hardirq_enter``, ``hardirq_exit``, ``softirq_enter``, ``softirq_exit``:
  the CPU's interrupt state, as lib/locking-selftest.c's HARDIRQ_ENTER() etc.
* ``init X`` / ``free X``: re-initialise the lock / free its memory (lockdep:
  "held lock freed!" if this CPU holds it).
* ``might_sleep``: a might_sleep() annotation; ``msleep NS``: block NS ns
  (might_sleep() and then the time).
* ``delay NS``: spend NS ns.
* Allocation context (include/linux/sched/mm.h, mm/sched_mm.py), G a gfp
  mask written without spaces (``GFP_KERNEL``, ``GFP_NOFS|__GFP_ZERO``):
  ``might_alloc G`` (an allocation site: takes and drops the ``fs_reclaim``
  lockdep map if G may enter reclaim, then might_sleep if G may block),
  ``fs_reclaim_acquire G`` / ``fs_reclaim_release G`` (what direct reclaim
  holds), and the task scopes ``memalloc_nofs_save`` /
  ``memalloc_nofs_restore``, ``memalloc_noio_save`` /
  ``memalloc_noio_restore``, ``memalloc_noreclaim_save`` /
  ``memalloc_noreclaim_restore`` (PF_MEMALLOC_NOFS, PF_MEMALLOC_NOIO,
  PF_MEMALLOC), as lib/locking-selftest.c's fs_reclaim tests use them.
* The kernel's own names, checked against the lock's kind, so a sequence can
  be pasted from the source: ``spin_lock``/``spin_unlock``/``spin_trylock``,
  ``write_lock``/``write_unlock``/``write_trylock`` (rwlocks; ``read_lock``
  is above), ``mutex_lock``/``mutex_unlock``/``mutex_trylock``,
  ``down_read``/``up_read``/``down_write``/``up_write``,
  ``down_read_trylock``/``down_write_trylock`` and ``downgrade_write``
  (rw_semaphores), with the ``_irq``, ``_irqsave``/``_irqrestore``, ``_bh``
  and ``_nested`` forms (``spin_lock_irqsave X``, ``down_read_nested X 1``).

Interrupts on the same CPU: a ``[workload.irq]`` table gives a handler
(``context = "hardirq"`` or ``"softirq"``, ``steps``, ``every_ns``,
``first_ns``) that the CPU takes between two steps once it is raised and
the CPU has interrupts (and, for a softirq, bottom halves) enabled.  It
runs on the interrupted CPU, so taking a lock the interrupted program holds
is the classic self-deadlock -- which lockdep reports as an inconsistent
lock state before it happens.

Each step costs ``step_ns`` before it runs.  Lockdep names each step as its
acquisition site: ``workload[0].steps[2] "lock B" (file.toml:14)``.
"""
from __future__ import annotations

import functools
import os
import re

from ..mm import sched_mm
from ..mm.gfp import GfpError, parse_gfp
from ..schema import Field, Section, at_least, check_table, nanoseconds, one_of
from ..sync import irq as I
from ..sync import LOCK_TYPES, might_sleep
from .base import Workload

LOCK_DECL_KINDS = tuple(LOCK_TYPES)
CONTEXTS = ("process", "softirq", "hardirq")

_LOCK_ARG = {"lock", "unlock", "read_lock", "read_unlock", "trylock", "read_trylock",
             "lock_irq", "unlock_irq", "lock_irqsave", "unlock_irqrestore", "lock_bh",
             "unlock_bh", "read_lock_irq", "read_unlock_irq", "read_lock_bh",
             "read_unlock_bh", "init", "free", "downgrade"}
_NESTED = {"lock_nested", "read_lock_nested"}
_NS_ARG = {"delay", "msleep"}
_SCOPES = {"memalloc_nofs_save", "memalloc_nofs_restore", "memalloc_noio_save",
           "memalloc_noio_restore", "memalloc_noreclaim_save", "memalloc_noreclaim_restore"}
_NO_ARG = {"irq_disable", "irq_enable", "bh_disable", "bh_enable", "hardirq_enter",
           "hardirq_exit", "softirq_enter", "softirq_exit", "might_sleep"} | _SCOPES
_GFP_ARG = {"might_alloc", "fs_reclaim_acquire", "fs_reclaim_release"}
# The kernel's own function names, so that a locking sequence can be pasted
# from the source: name -> (the verb it is, the lock kinds it applies to).
_SPIN, _RWLOCK, _MUTEX, _RWSEM = {"spinlock"}, {"rwlock"}, {"mutex"}, {"rwsem"}
KERNEL_VERBS = {
    "spin_lock": ("lock", _SPIN), "spin_unlock": ("unlock", _SPIN),
    "spin_trylock": ("trylock", _SPIN), "spin_lock_nested": ("lock_nested", _SPIN),
    "spin_lock_irq": ("lock_irq", _SPIN), "spin_unlock_irq": ("unlock_irq", _SPIN),
    "spin_lock_irqsave": ("lock_irqsave", _SPIN),
    "spin_unlock_irqrestore": ("unlock_irqrestore", _SPIN),
    "spin_lock_bh": ("lock_bh", _SPIN), "spin_unlock_bh": ("unlock_bh", _SPIN),
    "write_lock": ("lock", _RWLOCK), "write_unlock": ("unlock", _RWLOCK),
    "write_trylock": ("trylock", _RWLOCK), "write_lock_nested": ("lock_nested", _RWLOCK),
    "write_lock_irq": ("lock_irq", _RWLOCK), "write_unlock_irq": ("unlock_irq", _RWLOCK),
    "write_lock_irqsave": ("lock_irqsave", _RWLOCK),
    "write_unlock_irqrestore": ("unlock_irqrestore", _RWLOCK),
    "write_lock_bh": ("lock_bh", _RWLOCK), "write_unlock_bh": ("unlock_bh", _RWLOCK),
    "mutex_lock": ("lock", _MUTEX), "mutex_unlock": ("unlock", _MUTEX),
    "mutex_trylock": ("trylock", _MUTEX), "mutex_lock_nested": ("lock_nested", _MUTEX),
    "down_read": ("read_lock", _RWSEM), "up_read": ("read_unlock", _RWSEM),
    "down_write": ("lock", _RWSEM), "up_write": ("unlock", _RWSEM),
    "down_read_trylock": ("read_trylock", _RWSEM), "down_write_trylock": ("trylock", _RWSEM),
    "down_read_nested": ("read_lock_nested", _RWSEM),
    "down_write_nested": ("lock_nested", _RWSEM), "downgrade_write": ("downgrade", _RWSEM),
}
VERBS = tuple(sorted(_LOCK_ARG | _NESTED | _NS_ARG | _NO_ARG | _GFP_ARG))
_READ_VERBS = {"read_lock", "read_unlock", "read_trylock", "read_lock_nested",
               "read_lock_irq", "read_unlock_irq", "read_lock_bh", "read_unlock_bh"}
_IRQ_VARIANTS = {"lock_irq", "unlock_irq", "lock_irqsave", "unlock_irqrestore", "lock_bh",
                 "unlock_bh", "read_lock_irq", "read_unlock_irq", "read_lock_bh",
                 "read_unlock_bh"}

IRQ_FIELDS = [
    Field("context", str, "hardirq", check=one_of("hardirq", "softirq"), doc="handler context"),
    Field("steps", list, required=True, doc="the handler's steps (locks, unlocks, delays)"),
    Field("every_ns", int, 10_000, check=nanoseconds(1),
          doc="period: the interrupt is raised this long after the last one was taken"),
    Field("first_ns", int, 0, check=nanoseconds(0), doc="when the first one is raised"),
]

LOCK_FIELDS = [
    Field("name", str, required=True, doc="the name steps use"),
    Field("kind", str, required=True, check=one_of(*LOCK_DECL_KINDS), doc="lock kind"),
    Field("class", str, None, doc="lock class name for lock_stat/lockdep (default: name)"),
]


def _validate_locks(ctx, data, machine):
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        raise ctx.error((), "lock", "must be an array of tables ([[lock]])")
    out, seen = {}, set()
    kinds_of_class: dict[str, str] = {}
    for i, t in enumerate(data):
        spec = check_table(ctx, ("lock", i), t, LOCK_FIELDS)
        if spec["name"] in seen:
            raise ctx.error(("lock", i), "name", f"lock {spec['name']!r} is declared twice")
        if not spec["name"] or any(c.isspace() for c in spec["name"]):
            raise ctx.error(("lock", i), "name", f"must be one word, got {spec['name']!r}")
        cls = spec["class"] or spec["name"]
        k = _base_kind(spec["kind"])
        if kinds_of_class.setdefault(cls, k) != k:
            raise ctx.error(("lock", i), "class", f"class {cls!r} is a {kinds_of_class[cls]} "
                            f"elsewhere, not a {spec['kind']}")
        seen.add(spec["name"])
        out[spec["name"]] = spec
    return out


def _base_kind(kind):
    return "spinlock" if kind in ("spinlock", "ticket", "qspinlock") else kind


# [[lock]]: the locks the programs of every lock-sequence workload share.
LOCK_SECTION = Section("lock", _validate_locks, dict)


def parse_step(s: str):
    """``"VERB [ARG [N]]"`` or ``"trylock X else STEP"`` -> a tuple, or None.

    Returns (verb, arg, extra): arg is a lock name or nanoseconds, extra the
    subclass or the else-step."""
    if " else " in s:
        head, _, tail = s.partition(" else ")
        h = parse_step(head)
        t = parse_step(tail)
        if h is None or t is None or h[0] not in ("trylock", "read_trylock") or h[2]:
            return None
        return h[0], h[1], t
    parts = s.split()
    if not parts:
        return None
    verb, args = parts[0], parts[1:]
    if verb in KERNEL_VERBS:
        verb = KERNEL_VERBS[verb][0]
    if verb in _NO_ARG:
        return (verb, None, None) if not args else None
    if verb in _LOCK_ARG:
        return (verb, args[0], None) if len(args) == 1 else None
    if verb in _NESTED:
        if len(args) == 2 and args[1].isdigit():
            return verb, args[0], int(args[1])
        return None
    if verb in _NS_ARG:
        if len(args) == 1 and args[0].replace("_", "").isdigit():
            return verb, int(args[0].replace("_", "")), None
        return None
    if verb in _GFP_ARG:
        return (verb, args[0], None) if len(args) == 1 else None
    return None


def _check_step(ctx, tpath, j, s, st, locks, depth, word=None):
    verb, arg, extra = st
    where = f"step {j} {s!r}"
    word = word if word is not None else s.split()[0]
    if verb in _LOCK_ARG or verb in _NESTED:
        if arg not in locks:
            known = ", ".join(locks) or "none declared"
            raise ctx.error(tpath, "steps", f"{where}: no [[lock]] named {arg!r} (known: {known})")
        kind = _base_kind(locks[arg]["kind"])
        if word in KERNEL_VERBS and kind not in KERNEL_VERBS[word][1]:
            raise ctx.error(tpath, "steps", f"{where}: {word}() takes a "
                            f"{' or '.join(sorted(KERNEL_VERBS[word][1]))}, and {arg} is a "
                            f"{locks[arg]['kind']}")
        if verb == "downgrade" and kind != "rwsem":
            raise ctx.error(tpath, "steps", f"{where}: only an rw_semaphore is downgraded, "
                            f"and {arg} is a {locks[arg]['kind']}")
        if verb in _READ_VERBS and kind not in ("rwlock", "rwsem"):
            raise ctx.error(tpath, "steps", f"{where}: {arg} is a {locks[arg]['kind']}, "
                            "which has no read side")
        if verb in _IRQ_VARIANTS and kind not in ("spinlock", "rwlock"):
            raise ctx.error(tpath, "steps", f"{where}: {arg} is a {locks[arg]['kind']}, "
                            "a sleeping lock has no _irq/_bh variant")
        if verb in _NESTED and not 0 <= extra < 8:
            raise ctx.error(tpath, "steps", f"{where}: subclass must be 0..7 "
                            "(MAX_LOCKDEP_SUBCLASSES)")
    if verb in _GFP_ARG:
        try:
            parse_gfp(arg)
        except GfpError as e:
            raise ctx.error(tpath, "steps", f"{where}: {e}") from None
    if verb in ("hardirq_enter", "softirq_enter"):
        depth[verb[:4]] += 1
    elif verb in ("hardirq_exit", "softirq_exit"):
        key = verb[:4]
        if depth[key] == 0:
            raise ctx.error(tpath, "steps", f"{where}: {verb} without a matching "
                            f"{key}irq_enter")
        depth[key] -= 1
    if isinstance(extra, tuple):
        if extra[0] in ("hardirq_enter", "hardirq_exit", "softirq_enter", "softirq_exit"):
            raise ctx.error(tpath, "steps", f"{where}: 'else' takes a single lock or delay step")
        _check_step(ctx, tpath, j, s, extra, locks, depth,
                    word=s.partition(" else ")[2].split()[0])


class LockSequence(Workload):
    kind = "lock-sequence"
    sections = (LOCK_SECTION,)
    fields = [
        Field("steps", list, required=True, doc="lock program, e.g. [\"lock A\", \"unlock A\"]"),
        Field("repeat", int, 1, check=at_least(0), doc="times to run the steps (0 = forever)"),
        Field("step_ns", int, 50, check=nanoseconds(0), doc="cost of each step"),
        Field("context", str, "process", check=one_of(*CONTEXTS),
              doc="process | softirq | hardirq: the context the CPU runs the steps in"),
        Field("irq", dict, None, doc="an interrupt handler on the same CPUs ([workload.irq])"),
    ]

    @classmethod
    def validate(cls, ctx, tpath, spec, machine, sections):
        locks = sections.get("lock", {})
        prog = []
        depth = {"hard": 0, "soft": 0}
        for j, s in enumerate(spec["steps"]):
            st = parse_step(s) if isinstance(s, str) else None
            if st is None:
                raise ctx.error(tpath, "steps", f"step {j} {s!r}: expected 'VERB ARG', 'VERB' or "
                                f"'trylock X else STEP' with VERB one of {', '.join(VERBS)} "
                                "or a kernel name (spin_lock, down_read, mutex_unlock, ...)")
            _check_step(ctx, tpath, j, s, st, locks, depth)
            prog.append(st)
        spec["_program"] = prog
        spec["_steps_line"] = ctx.lines.line(tpath + ("steps",))
        spec["_path"] = ctx.path
        if spec["irq"] is not None:
            ip = tpath + ("irq",)
            irq = check_table(ctx, ip, spec["irq"], IRQ_FIELDS)
            if spec["context"] != "process":
                raise ctx.error(tpath, "irq", "interrupts are delivered to process-context "
                                "programs only")
            iprog = []
            for j, s in enumerate(irq["steps"]):
                st = parse_step(s) if isinstance(s, str) else None
                if st is None or st[0] in _NO_ARG and st[0] != "might_sleep":
                    raise ctx.error(ip, "steps", f"step {j} {s!r}: expected a lock, unlock, "
                                    "trylock or delay step")
                _check_step(ctx, ip, j, s, st, locks, {"hard": 0, "soft": 0})
                iprog.append(st)
            irq["_program"] = iprog
            irq["_steps_line"] = ctx.lines.line(ip + ("steps",))
            spec["irq"] = irq
        return spec

    def __init__(self, machine, spec, index):
        super().__init__(machine, spec, index)
        decls = machine.scenario.sections.get("lock", {})
        self.locks = {}
        for st in spec["_program"]:
            for verb, arg, extra in (st, extra_of(st)):
                if verb in _LOCK_ARG or verb in _NESTED:
                    if arg not in self.locks:
                        self.locks[arg] = declared_lock(machine, decls[arg])
        lines = _step_lines(machine.scenario.text, spec.get("_steps_line"), len(spec["steps"]))
        base = os.path.basename(spec.get("_path") or "")
        self.sites = []
        for j, s in enumerate(spec["steps"]):
            loc = f" ({base}:{lines[j]})" if lines[j] else ""
            self.sites.append(f'workload[{index}].steps[{j}] "{s}"{loc}')
        self._ops = [self._compile(st, self.sites[j]) for j, st in enumerate(spec["_program"])]
        self._irq_ops = None
        irq = spec.get("irq")
        if irq is not None:
            for st in irq["_program"]:
                for verb, arg, extra in (st, extra_of(st)):
                    if (verb in _LOCK_ARG or verb in _NESTED) and arg not in self.locks:
                        self.locks[arg] = declared_lock(machine, decls[arg])
            ilines = _step_lines(machine.scenario.text,
                                 _irq_steps_line(machine.scenario.text, index)
                                 or irq.get("_steps_line"), len(irq["steps"]))
            self._irq_ops = [
                self._compile(st, f'workload[{index}].irq.steps[{j}] "{irq["steps"][j]}"'
                              + (f" ({base}:{ilines[j]})" if ilines[j] else ""))
                for j, st in enumerate(irq["_program"])]

    def actors(self):
        for cpu in self.cpus:
            yield cpu, f"cpu{cpu}", self.body

    # -- the program ----------------------------------------------------------
    def _compile(self, st, site):
        """(code, lock, arg, site, else-op): code picks the branch in body()."""
        verb, arg, extra = st
        lk = self.locks.get(arg) if isinstance(arg, str) else None
        if verb in _GFP_ARG:
            arg = parse_gfp(arg)
        alt = self._compile(extra, site) if isinstance(extra, tuple) else None
        return (verb, lk, arg, extra if not isinstance(extra, tuple) else None, site, alt)

    async def body(self, cpu):
        cpu.context = self.spec["context"]
        cpu.data.pop("irq", None)             # the irq state follows the new context
        ops = self._ops
        step_ns = self.spec["step_ns"]
        repeat = self.spec["repeat"]
        spend = cpu.engine.spend
        n = 0
        flags: dict = {}
        irq = self.spec.get("irq")
        if irq is not None:
            self._next_irq = cpu.engine.now + irq["first_ns"]
        while repeat == 0 or n < repeat:
            failed: set = set()
            for op in ops:
                await spend(step_ns)
                if irq is not None and cpu.engine.now >= self._next_irq:
                    await self._interrupt(cpu, irq, I)
                await self._run(cpu, op, failed, flags, I)
            cpu.ops += 1
            n += 1

    async def _interrupt(self, cpu, irq, I):
        """Deliver the interrupt between two steps if the CPU can take it now:
        interrupts on (and, for a softirq, bottom halves on and not inside a
        hardirq).  The handler runs on this CPU's own stack -- this actor --
        so a lock the interrupted code holds is one it waits for itself."""
        st = I.irq_state(cpu)
        if not st.hardirqs_enabled:
            return
        soft = irq["context"] == "softirq"
        if soft and (st.bh_count or st.hardirq_ctx):
            return
        self._next_irq = cpu.engine.now + irq["every_ns"]
        site = self._irq_ops[0][4] if self._irq_ops else "irq"
        if soft:
            I.serve_softirq_enter(cpu, site)
        else:
            I.hardirq_enter(cpu, site)
        failed: set = set()
        for op in self._irq_ops:
            await cpu.engine.spend(self.spec["step_ns"])
            await self._run(cpu, op, failed, {}, I)
        if soft:
            I.serve_softirq_exit(cpu, site)
        else:
            I.hardirq_exit(cpu, site)

    async def _run(self, cpu, op, failed, flags, I):
        verb, lk, arg, sub, site, alt = op
        if verb == "lock":
            await _exclusive(lk)(site)
        elif verb == "unlock":
            if arg in failed:
                failed.discard(arg)
                return
            _unexclusive(lk)(site)
        elif verb == "read_lock":
            await _shared(lk)(site)
        elif verb == "read_unlock":
            if arg in failed:
                failed.discard(arg)
                return
            _unshared(lk)(site)
        elif verb == "delay":
            await cpu.engine.spend(arg)
        elif verb in ("trylock", "read_trylock"):
            ok = await (_try(lk) if verb == "trylock" else _read_try(lk))(site)
            if not ok:
                if alt is not None:
                    await self._run(cpu, alt, failed, flags, I)
                    if not (alt[0] in ("lock", "read_lock", "lock_nested", "read_lock_nested",
                                       "lock_irq", "lock_irqsave", "lock_bh") and alt[2] == arg):
                        failed.add(arg)
                else:
                    failed.add(arg)
        elif verb == "lock_nested":
            await _exclusive(lk)(site, sub)
        elif verb == "read_lock_nested":
            await _shared(lk)(site, sub)
        elif verb in ("lock_irq", "read_lock_irq"):
            I.local_irq_disable(cpu, site)
            await (_exclusive(lk) if verb == "lock_irq" else _shared(lk))(site)
        elif verb in ("unlock_irq", "read_unlock_irq"):
            (_unexclusive(lk) if verb == "unlock_irq" else _unshared(lk))(site)
            I.local_irq_enable(cpu, site)
        elif verb == "lock_irqsave":
            flags.setdefault(arg, []).append(I.local_irq_save(cpu, site))
            await _exclusive(lk)(site)
        elif verb == "unlock_irqrestore":
            _unexclusive(lk)(site)
            stack = flags.get(arg)
            I.local_irq_restore(cpu, stack.pop() if stack else True, site)
        elif verb in ("lock_bh", "read_lock_bh"):
            I.local_bh_disable(cpu, site)
            await (_exclusive(lk) if verb == "lock_bh" else _shared(lk))(site)
        elif verb in ("unlock_bh", "read_unlock_bh"):
            (_unexclusive(lk) if verb == "unlock_bh" else _unshared(lk))(site)
            I.local_bh_enable(cpu, site)
        elif verb in _CONTEXT_VERBS:                  # irq_disable -> local_irq_disable, ...
            getattr(I, _CONTEXT_VERBS[verb])(cpu, site)
        elif verb == "downgrade":
            lk.downgrade_write(site)
        elif verb == "init":
            lk.init(site)
        elif verb == "free":
            lk.free(site)
        elif verb in ("might_sleep", "msleep"):
            might_sleep(cpu, site)
            if verb == "msleep":
                await cpu.engine.spend(arg)
        elif verb in _GFP_ARG:                        # might_alloc, fs_reclaim_acquire/release
            getattr(sched_mm, verb)(cpu, arg, site)
        elif verb in _SCOPES:                         # memalloc_nofs_save, ..._restore
            stack = flags.setdefault(verb.rpartition("_")[0], [])
            if verb.endswith("_save"):
                stack.append(getattr(sched_mm, verb)(cpu))
            else:
                # restore with what the matching save returned (0 if none:
                # a restore without a save clears nothing, as in the kernel)
                getattr(sched_mm, verb)(cpu, stack.pop() if stack else 0)
        else:  # pragma: no cover - validate() rejects unknown verbs
            raise ValueError(f"unknown verb {verb!r}")


def extra_of(st):
    e = st[2]
    return e if isinstance(e, tuple) else (None, None, None)


def declared_lock(machine, decl):
    """The instance for a ``[[lock]]`` declaration, shared by every workload.
    Instances are per declaration; the class is ``class`` (default: name)."""
    key = "[[lock]] " + decl["name"]
    lk = machine.locks.get(key)
    if lk is None:
        lk = machine.locks[key] = LOCK_TYPES[decl["kind"]](machine.engine,
                                                           decl["class"] or decl["name"])
    return lk


def _irq_steps_line(text, index):
    """The line of ``steps`` in the ``[workload.irq]`` table of workload ``index``
    (the scenario's line map does not follow sub-tables of array elements)."""
    if not text:
        return None
    seen, inside = -1, False
    for i, line in enumerate(text.splitlines(), 1):
        t = line.strip()
        if re.match(r"^\[\[\s*workload\s*\]\]", t):
            seen += 1
            inside = False
        elif re.match(r"^\[\s*workload\s*\.\s*irq\s*\]", t):
            inside = seen == index
        elif t.startswith("["):
            inside = False
        elif inside and re.match(r"^steps\s*=", t):
            return i
    return None


_TOK = re.compile(r'"(?:[^"\\]|\\.)*"|\'[^\']*\'|#')


@functools.lru_cache(maxsize=64)      # the fuzz loop builds one scenario's machine per run
def _step_lines(text, start, n):
    """The line of each of the ``n`` string literals from line ``start`` on
    (the ``steps = [...]`` array), for the sites lockdep prints."""
    out = [start] * n
    if not text or not start:
        return tuple(out)
    lines = text.splitlines()
    k = 0
    for i in range(start - 1, len(lines)):
        body = lines[i]
        if i == start - 1:
            body = body.split("=", 1)[1] if "=" in body else body
        for m in _TOK.finditer(body):
            if m.group() == "#":
                break
            if k < n:
                out[k] = i + 1
                k += 1
        if k >= n:
            break
    return tuple(out)


# Steps that only change the CPU's context: verb -> function of lockdep/irq.py.
_CONTEXT_VERBS = {
    "irq_disable": "local_irq_disable", "irq_enable": "local_irq_enable",
    "bh_disable": "local_bh_disable", "bh_enable": "local_bh_enable",
    "hardirq_enter": "hardirq_enter", "hardirq_exit": "hardirq_exit",
    "softirq_enter": "softirq_enter", "softirq_exit": "softirq_exit",
}


def _exclusive(lk):
    return getattr(lk, "down_write", None) or getattr(lk, "write_lock", None) or lk.lock


def _unexclusive(lk):
    return getattr(lk, "up_write", None) or getattr(lk, "write_unlock", None) or lk.unlock


def _shared(lk):
    return getattr(lk, "down_read", None) or lk.read_lock


def _unshared(lk):
    return getattr(lk, "up_read", None) or lk.read_unlock


def _try(lk):
    return (getattr(lk, "down_write_trylock", None) or getattr(lk, "write_trylock", None)
            or lk.trylock)


def _read_try(lk):
    return getattr(lk, "down_read_trylock", None) or lk.read_trylock
