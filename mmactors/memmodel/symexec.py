"""Symbolic execution of one litmus thread into its control paths.

Like herd7, each thread is run once per control path with every value read
from memory left symbolic (a :class:`~.terms.Var`); branches fork the path and
record a constraint on the condition.  A path is the list of events it issues
(in program order) with their symbolic addresses and values, the constraints
under which it is taken, and the final register terms.  Dependencies come
from the variables a term mentions:

* addr: the variables of an access's address,
* data: the variables of a written value,
* ctrl: the variables of the conditions of the ``if`` branches enclosing the
  event (herd7: the events inside the branches, not those after the join).

Registers follow herd7's flat, per-process rules (see ``scope``).

Statements run from an explicit work list (no recursion per statement, so a
test of thousands of statements is fine); only expressions recurse, and the
parser bounds their depth.  A path that dereferences a constant that is not
a pointer is *invalid*: herd7 discards such executions, so the path is
dropped and the reason kept (the checker reports it only if no valid
execution is left).

Simplification: operands of one expression are evaluated left to right, so
two reads in one expression are po-ordered (herd7 leaves them unordered).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Optional

from .errors import EvalError, LitmusError
from .primitives import PRIMITIVES, Prim
from .scope import initial_registers
from .syntax import (
    AddrOf, Assign, Binary, Block, Call, Decl, Deref, ExprStmt, If, Name, Num, Process,
    Store, Ternary, Unary,
)
from .terms import Addr, Const, Term, Var, mk_op, truth

MAX_PATHS = 4096


@dataclass
class Ev:
    """One event of a thread path (addresses and values still symbolic)."""

    kind: str                 # R W F LKR LKW UL LF RL RU
    tag: Optional[str]        # once/acquire/release/noreturn/srcu-* (None = plain), fence tag
    loc: Optional[Term]       # F events have none, except synchronize_srcu()'s
    val: Optional[Term]       # W: value written; R: its own Var
    line: int
    atomic: bool = False      # part of an RMW instruction (herd7's RMW set)
    rmw_w: Optional[int] = None  # R: index of its W in the same instruction
    addr: frozenset = frozenset()
    data: frozenset = frozenset()
    ctrl: frozenset = frozenset()


@dataclass
class Path:
    events: list
    constraints: list         # (term, expected truth, line)
    regs: dict                # register -> term (registers written on this path)
    initial: dict             # register -> initial value (see scope)

    def reg(self, name: str) -> Term:
        """The final term of register ``name`` (its initial value if unwritten)."""
        t = self.regs.get(name)
        if t is None:
            t = Const(self.initial.get(name, 0))
        return t


class _State:
    __slots__ = ("events", "constraints", "regs", "ctrl", "frames", "bad")

    def __init__(self, events, constraints, regs, ctrl, frames, bad=None) -> None:
        self.events = events
        self.constraints = constraints
        self.regs = regs
        self.ctrl = ctrl
        self.frames = frames      # [statements, next index, ctrl to restore at the end]
        self.bad = bad            # (line, message): this path is invalid (see paths())

    def copy(self) -> "_State":
        return _State(list(self.events), list(self.constraints), dict(self.regs), self.ctrl,
                      [list(f) for f in self.frames], self.bad)

    def invalid(self, line: int, message: str) -> None:
        """Mark the path invalid (herd7 discards its executions); evaluation
        goes on with dummy values so that sibling alternatives survive."""
        if self.bad is None:
            self.bad = (line, message)


class ThreadExecutor:
    def __init__(self, path: str, tid: int, proc: Process, reg_init: dict,
                 locations: set) -> None:
        self.path = path
        self.tid = tid
        self.proc = proc
        self.locations = locations
        self.initial = initial_registers(proc, tid, reg_init)
        self.params = {p.name for p in proc.params}
        self.invalid: list = []       # (line, message) of dropped paths

    def err(self, line: int, msg: str) -> LitmusError:
        return LitmusError(self.path, line, msg)

    def paths(self) -> list:
        """The valid control paths, in program order of their branch choices
        (then before else; a successful RMW before a failed one)."""
        out = []
        start = _State([], [], {}, frozenset(), [[self.proc.body.stmts, 0, None]])
        work = [start]
        while work:
            st = work.pop()
            forks = self.advance(st)
            if forks is None:
                out.append(Path(st.events, st.constraints, st.regs, self.initial))
                if len(out) > MAX_PATHS:
                    raise self.err(self.proc.line,
                                   f"P{self.tid} has more than {MAX_PATHS} control paths")
                continue
            work.extend(reversed(forks))      # first alternative explored first
        return out

    # ------------------------------------------------------------ statements
    def advance(self, st: _State) -> Optional[list]:
        """Run ``st`` until its next fork; the forked states, or None at the end."""
        while True:
            frames = st.frames
            if not frames:
                return None
            frame = frames[-1]
            stmts, i = frame[0], frame[1]
            if i == len(stmts):
                frames.pop()
                if frame[2] is not None:
                    st.ctrl = frame[2]      # leaving an if branch: its ctrl ends here
                continue
            frame[1] = i + 1
            nexts = []
            for st2 in self.run_stmt(stmts[i], st):
                if st2.bad is None:
                    nexts.append(st2)
                else:
                    self.invalid.append(st2.bad)
            if len(nexts) != 1:
                return nexts
            st = nexts[0]

    def run_stmt(self, s, st: _State) -> list:
        if isinstance(s, Block):
            st.frames.append([s.stmts, 0, None])
            return [st]
        if isinstance(s, Decl):
            if s.init is None:
                return [st]             # herd7: a declaration is a no-op
            return [self.assign(st2, s.name, t) for st2, t in self.expr(s.init, st)]
        if isinstance(s, Assign):
            if s.name in self.locations and s.name not in self.initial:
                raise self.err(s.line, f"assignment to shared location '{s.name}' "
                               f"(write *{s.name} or WRITE_ONCE)")
            return [self.assign(st2, s.name, t) for st2, t in self.expr(s.value, st)]
        if isinstance(s, Store):
            out = []
            for st2, loc in self.expr(s.addr, st):
                for st3, val in self.expr(s.value, st2):
                    self.emit_access(st3, "W", None, loc, val, s.line)
                    out.append(st3)
            return out
        if isinstance(s, ExprStmt):
            return [st2 for st2, _ in self.expr(s.expr, st)]
        if isinstance(s, If):
            return self.run_if(s, st)
        raise self.err(getattr(s, "line", 0), f"unsupported statement {type(s).__name__}")

    @staticmethod
    def assign(st: _State, name: str, t: Term) -> _State:
        st.regs[name] = t
        return st

    def run_if(self, s: If, st: _State) -> list:
        out = []
        for st2, c in self.expr(s.cond, st):
            if isinstance(c, Const):
                # A constant condition is no branch on a read: no fork, no ctrl.
                branch = s.then if truth(c.value) else s.other
                if branch is not None:
                    st2.frames.append([[branch], 0, None])
                out.append(st2)
                continue
            outer = st2.ctrl
            alternatives = [(True, s.then), (False, s.other)]
            copies = [st2.copy(), st2]
            for (expected, branch), stb in zip(alternatives, copies):
                stb.constraints.append((c, expected, s.line))
                if branch is not None:
                    stb.ctrl = outer | c.vars
                    stb.frames.append([[branch], 0, outer])
                out.append(stb)
        return out

    # ------------------------------------------------------------ expressions
    def name(self, e: Name, st: _State) -> Term:
        t = st.regs.get(e.name)
        if t is not None:
            return t
        if e.name in self.initial:
            return Const(self.initial[e.name])
        if e.name == "NULL":
            return Const(0)
        if e.name in self.locations:
            raise self.err(e.line, f"'{e.name}' is a shared location but not a parameter "
                           f"of P{self.tid}")
        return Const(0)     # an unwritten register (see scope)

    def expr(self, e, st: _State) -> Iterator[tuple]:
        if isinstance(e, Num):
            yield st, Const(e.value)
        elif isinstance(e, Name):
            yield st, self.name(e, st)
        elif isinstance(e, AddrOf):
            raise self.err(e.line, "'&' is only supported in the init block")
        elif isinstance(e, Deref):
            for st2, loc in self.expr(e.addr, st):
                yield st2, self.emit_read(st2, None, loc, e.line)
        elif isinstance(e, Unary):
            for st2, a in self.expr(e.arg, st):
                yield st2, self.op(st2, e.op, (a,), e.line)
        elif isinstance(e, Binary):
            for st2, a in self.expr(e.left, st):
                for st3, b in self.expr(e.right, st2):
                    yield st3, self.op(st3, e.op, (a, b), e.line)
        elif isinstance(e, Ternary):
            for st2, c in self.expr(e.cond, st):
                for st3, a in self.expr(e.then, st2):
                    for st4, b in self.expr(e.other, st3):
                        yield st4, self.op(st4, "?:", (c, a, b), e.line)
        elif isinstance(e, Call):
            yield from self.call(e, st)
        else:  # pragma: no cover
            raise self.err(getattr(e, "line", 0), f"unsupported expression {type(e).__name__}")

    @staticmethod
    def op(st: _State, op: str, args: tuple, line: int) -> Term:
        try:
            return mk_op(op, args, line)
        except EvalError as e:
            # A constant that cannot be computed (1 / 0, a pointer shifted...):
            # herd7 cannot run this path either.
            st.invalid(e.line, e.message)
            return Const(0)

    def exprs(self, es: list, st: _State) -> Iterator[tuple]:
        """Evaluate a list of expressions left to right."""
        if not es:
            yield st, []
            return
        for st2, t in self.expr(es[0], st):
            for st3, rest in self.exprs(es[1:], st2):
                yield st3, [t] + rest

    def location_arg(self, prim: Prim, arg, line: int):
        """The expression whose value is the accessed address."""
        if prim.mode == "lv":
            if not isinstance(arg, Deref):
                raise self.err(line, "argument must be a dereference such as *x "
                               "(herd7: Bad __load/__store argument)")
            return arg.addr
        return arg

    def call(self, e: Call, st: _State) -> Iterator[tuple]:
        prim = PRIMITIVES.get(e.func)
        if prim is None:
            raise self.err(e.line, f"unknown function '{e.func}'")
        if len(e.args) != prim.nargs:
            raise self.err(e.line, f"{e.func} takes {prim.nargs} argument(s), "
                           f"got {len(e.args)}")
        line = e.line
        kind = prim.kind
        if kind == "fence":
            self.emit_fence(st, prim.tag, line)
            yield st, Const(0)
            return
        # Evaluate the address first, then the other arguments, left to right.
        loc_expr = self.location_arg(prim, e.args[prim.ptr], line)
        others = [a for i, a in enumerate(e.args) if i != prim.ptr]
        for st2, loc in self.expr(loc_expr, st):
            for st3, vals in self.exprs(others, st2):
                yield from self.primitive(prim, loc, vals, st3, line)

    def primitive(self, prim: Prim, loc: Term, vals: list, st: _State, line: int):
        kind, tag = prim.kind, prim.tag
        if kind == "load":
            yield st, self.emit_read(st, tag, loc, line)
        elif kind == "store":
            self.emit_access(st, "W", tag, loc, vals[0], line)
            if prim.fence_after:
                self.emit_fence(st, prim.fence_after, line)
            yield st, Const(0)
        elif kind == "sync_srcu":
            # __srcu{sync-srcu}(X): a grace-period event on the srcu_struct X.
            if self.check_loc(st, loc, line):
                st.events.append(Ev("F", tag, loc, None, line, addr=loc.vars, ctrl=st.ctrl))
            yield st, Const(0)
        elif kind == "xchg":
            yield st, self.rmw(st, tag, loc, lambda old: vals[0], line)
        elif kind in ("atomic_op", "op_return", "fetch_op"):
            operand = vals[0] if prim.val is not None else Const(prim.const)

            def new_value(old, op=prim.op):
                return self.op(st, op, (old, operand), line)

            if kind == "atomic_op":
                self.rmw(st, None, loc, new_value, line, read_tag="noreturn")
                yield st, Const(0)
                return
            old = self.rmw(st, tag, loc, new_value, line, want_old=True)
            result = old if kind == "fetch_op" else new_value(old)
            if prim.test == "==0":
                result = self.op(st, "==", (result, Const(0)), line)
            elif prim.test == "<0":
                result = self.op(st, "<", (result, Const(0)), line)
            yield st, result
        elif kind == "cmpxchg":
            expected, new = vals
            ok, fail = st.copy(), st
            old = self.rmw(ok, tag, loc, lambda o: new, line, want_old=True)
            ok.constraints.append((self.op(ok, "==", (old, expected), line), True, line))
            yield ok, old
            old = self.emit_read(fail, "once", loc, line, atomic=True)
            fail.constraints.append((self.op(fail, "==", (old, expected), line), False, line))
            yield fail, old
        elif kind == "add_unless":
            amount, unless = vals
            ok, fail = st.copy(), st
            old = self.rmw(ok, "mb", loc, lambda o: self.op(ok, "+", (o, amount), line), line,
                           want_old=True)
            ok.constraints.append((self.op(ok, "==", (old, unless), line), False, line))
            yield ok, Const(1)
            old = self.emit_read(fail, "once", loc, line, atomic=True)
            fail.constraints.append((self.op(fail, "==", (old, unless), line), True, line))
            yield fail, Const(0)
        elif kind == "lock":
            self.emit_lock(st, "LKR", loc, line)
            self.emit_lock(st, "LKW", loc, line)
            yield st, Const(0)
        elif kind == "unlock":
            self.emit_lock(st, "UL", loc, line)
            yield st, Const(0)
        elif kind == "trylock":
            ok, fail = st.copy(), st
            self.emit_lock(ok, "LKR", loc, line)
            self.emit_lock(ok, "LKW", loc, line)
            yield ok, Const(1)
            self.emit_lock(fail, "LF", loc, line)
            yield fail, Const(0)
        elif kind == "islocked":
            locked, unlocked = st.copy(), st
            self.emit_lock(locked, "RL", loc, line)
            yield locked, Const(1)
            self.emit_lock(unlocked, "RU", loc, line)
            yield unlocked, Const(0)
        else:  # pragma: no cover
            raise self.err(line, f"unsupported primitive kind {kind}")

    # ------------------------------------------------------------ events
    @staticmethod
    def check_loc(st: _State, loc: Term, line: int) -> bool:
        """Whether ``loc`` may be an address; a constant non-pointer makes the
        path invalid (the event is then not emitted)."""
        if not loc.vars and not isinstance(loc.value, Addr):
            st.invalid(line, f"access to non-pointer value {loc.value}")
            return False
        return True

    def emit_read(self, st: _State, tag, loc: Term, line: int, atomic: bool = False) -> Term:
        if not self.check_loc(st, loc, line):
            return Const(0)
        idx = len(st.events)
        v = Var((self.tid, idx))
        st.events.append(Ev("R", tag, loc, v, line, atomic=atomic, addr=loc.vars, ctrl=st.ctrl))
        return v

    def emit_access(self, st: _State, kind: str, tag, loc: Term, val: Term, line: int,
                    atomic: bool = False) -> int:
        if not self.check_loc(st, loc, line):
            return -1
        st.events.append(Ev(kind, tag, loc, val, line, atomic=atomic, addr=loc.vars,
                            data=val.vars, ctrl=st.ctrl))
        return len(st.events) - 1

    def emit_fence(self, st: _State, tag: str, line: int) -> None:
        st.events.append(Ev("F", tag, None, None, line, ctrl=st.ctrl))

    def emit_lock(self, st: _State, kind: str, loc: Term, line: int) -> None:
        if self.check_loc(st, loc, line):
            st.events.append(Ev(kind, None, loc, None, line, addr=loc.vars, ctrl=st.ctrl))

    def rmw(self, st: _State, tag, loc: Term, new_value, line: int, want_old: bool = True,
            read_tag: Optional[str] = None) -> Var:
        """An atomic read-modify-write; ``tag`` as in herd7's __xchg{tag}."""
        full = tag == "mb"
        if full:
            self.emit_fence(st, "mb", line)
        rtag = read_tag or ("acquire" if tag == "acquire" else "once")
        wtag = "release" if tag == "release" else "once"
        old = self.emit_read(st, rtag, loc, line, atomic=True)
        if st.bad is not None:
            return old
        ridx = len(st.events) - 1
        widx = self.emit_access(st, "W", wtag, loc, new_value(old), line, atomic=True)
        st.events[ridx].rmw_w = widx
        if full:
            self.emit_fence(st, "mb", line)
        return old
