"""``kind = "lock-sequence"``: a fixed program of lock operations per CPU.

Locks are declared once in ``[[lock]]`` tables (name, kind) and shared by
every workload that names them, so ABBA-style programs need no Python::

    [[lock]]
    name = "A"
    kind = "spinlock"      # spinlock | ticket | qspinlock | rwlock | mutex | rwsem

    [[workload]]
    kind = "lock-sequence"
    cpus = [0]
    steps = ["lock A", "delay 500", "lock B", "unlock B", "unlock A"]
    repeat = 1             # 0 = forever

Verbs: ``lock X`` / ``unlock X`` (exclusive: spin_lock, write_lock,
mutex_lock, down_write), ``read_lock X`` / ``read_unlock X`` (shared:
read_lock, down_read), ``trylock X`` (when it fails X is not held and the
next ``unlock X`` is skipped), ``delay NS``.  Each step costs ``step_ns`` before it runs.
"""
from __future__ import annotations

from ..scenario import Field, at_least, check_table, one_of, register_section
from . import Workload, register

LOCK_DECL_KINDS = ("spinlock", "ticket", "qspinlock", "rwlock", "mutex", "rwsem")
_VERBS = {"lock": 1, "unlock": 1, "read_lock": 1, "read_unlock": 1, "trylock": 1,
          "delay": 1}

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
    for i, t in enumerate(data):
        spec = check_table(ctx, ("lock", i), t, LOCK_FIELDS)
        if spec["name"] in seen:
            raise ctx.error(("lock", i), "name", f"lock {spec['name']!r} is declared twice")
        seen.add(spec["name"])
        out[spec["name"]] = spec
    return out


register_section("lock", _validate_locks, dict)


def parse_step(s: str):
    parts = s.split()
    if len(parts) != 2 or parts[0] not in _VERBS:
        return None
    return parts[0], parts[1]


@register
class LockSequence(Workload):
    kind = "lock-sequence"
    fields = [
        Field("steps", list, required=True, doc="lock program, e.g. [\"lock A\", \"unlock A\"]"),
        Field("repeat", int, 1, check=at_least(0), doc="times to run the steps (0 = forever)"),
        Field("step_ns", int, 50, check=at_least(0), doc="cost of each step"),
    ]

    @classmethod
    def validate(cls, ctx, tpath, spec, machine, sections):
        locks = sections.get("lock", {})
        prog = []
        for j, s in enumerate(spec["steps"]):
            st = parse_step(s) if isinstance(s, str) else None
            if st is None:
                raise ctx.error(tpath, "steps", f"step {j} {s!r}: expected 'VERB ARG' with VERB "
                                f"one of {', '.join(_VERBS)}")
            verb, arg = st
            if verb == "delay":
                if not arg.isdigit():
                    raise ctx.error(tpath, "steps", f"step {j} {s!r}: delay needs nanoseconds")
            elif arg not in locks:
                raise ctx.error(tpath, "steps", f"step {j} {s!r}: no [[lock]] named {arg!r}")
            elif verb.startswith("read_") and locks[arg]["kind"] not in ("rwlock", "rwsem"):
                raise ctx.error(tpath, "steps", f"step {j} {s!r}: {arg} is a "
                                f"{locks[arg]['kind']}, which has no read side")
            prog.append((verb, int(arg) if verb == "delay" else arg))
        spec["_program"] = prog
        return spec

    def __init__(self, machine, spec, index):
        super().__init__(machine, spec, index)
        decls = machine.scenario.sections.get("lock", {})
        self.locks = {}
        for _, arg in spec["_program"]:
            if isinstance(arg, str) and arg not in self.locks:
                d = decls[arg]
                self.locks[arg] = machine.named_lock(d["class"] or d["name"], d["kind"])

    def actors(self):
        for cpu in self.cpus:
            yield cpu, f"cpu{cpu}", self.body

    async def body(self, cpu):
        prog = self.spec["_program"]
        step_ns = self.spec["step_ns"]
        repeat = self.spec["repeat"]
        spend = cpu.engine.spend
        n = 0
        while repeat == 0 or n < repeat:
            failed: set[str] = set()
            for j, (verb, arg) in enumerate(prog):
                await spend(step_ns)
                site = f"{self.kind}[{self.index}] step {j}: {verb} {arg}"
                if verb == "delay":
                    await spend(arg)
                    continue
                lk = self.locks[arg]
                if verb == "lock":
                    await _exclusive(lk)(site)
                elif verb == "trylock":
                    if not await _try(lk)(site):
                        failed.add(arg)
                elif verb == "read_lock":
                    await _shared(lk)(site)
                elif verb == "unlock":
                    if arg in failed:
                        failed.discard(arg)
                        continue
                    _unexclusive(lk)(site)
                else:
                    _unshared(lk)(site)
            cpu.ops += 1
            n += 1


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
