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

Simplification: operands of one expression are evaluated left to right, so
two reads in one expression are po-ordered (herd7 leaves them unordered).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator, Optional

from .errors import LitmusError
from .primitives import PRIMITIVES, Prim
from .syntax import (
    AddrOf, Assign, Binary, Block, Call, Decl, Deref, ExprStmt, If, Name, Num, Process,
    Store, Ternary, Unary,
)
from .terms import Addr, Const, Term, Var, mk_op

MAX_PATHS = 4096


@dataclass
class Ev:
    """One event of a thread path (addresses and values still symbolic)."""

    kind: str                 # R W F LKR LKW UL LF RL RU
    tag: Optional[str]        # once/acquire/release/noreturn (None = plain), fence tag
    loc: Optional[Term]
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
    regs: dict                # register -> term


class _State:
    __slots__ = ("events", "constraints", "regs", "ctrl")

    def __init__(self, events, constraints, regs, ctrl) -> None:
        self.events = events
        self.constraints = constraints
        self.regs = regs
        self.ctrl = ctrl

    def copy(self) -> "_State":
        return _State(list(self.events), list(self.constraints), dict(self.regs), self.ctrl)


class ThreadExecutor:
    def __init__(self, path: str, tid: int, proc: Process, reg_init: dict,
                 locations: set) -> None:
        self.path = path
        self.tid = tid
        self.proc = proc
        self.locations = locations
        regs: dict = {}
        for p in proc.params:
            regs[p.name] = Const(Addr(p.name))
        for (pid, reg), entry in reg_init.items():
            if pid == tid:
                regs[reg] = Const(entry.value)
        self.init_regs = regs

    def err(self, line: int, msg: str) -> LitmusError:
        return LitmusError(self.path, line, msg)

    def paths(self) -> list:
        out = []
        st = _State([], [], dict(self.init_regs), frozenset())
        for final in self.run_stmts(self.proc.body.stmts, 0, st):
            out.append(Path(final.events, final.constraints, final.regs))
            if len(out) > MAX_PATHS:
                raise self.err(self.proc.line, f"P{self.tid} has more than {MAX_PATHS} control paths")
        return out

    # ------------------------------------------------------------ statements
    def run_stmts(self, stmts: list, i: int, st: _State) -> Iterator[_State]:
        if i == len(stmts):
            yield st
            return
        for st2 in self.run_stmt(stmts[i], st):
            yield from self.run_stmts(stmts, i + 1, st2)

    def run_stmt(self, s, st: _State) -> Iterator[_State]:
        if isinstance(s, Block):
            yield from self.run_stmts(s.stmts, 0, st)
        elif isinstance(s, Decl):
            if s.init is None:
                # herd7 registers start at 0 unless the init block says otherwise.
                st.regs.setdefault(s.name, Const(0))
                yield st
            else:
                for st2, t in self.expr(s.init, st):
                    st2.regs[s.name] = t
                    yield st2
        elif isinstance(s, Assign):
            if s.name in self.locations and s.name not in st.regs:
                raise self.err(s.line, f"assignment to shared location '{s.name}' "
                               f"(write *{s.name} or WRITE_ONCE)")
            for st2, t in self.expr(s.value, st):
                st2.regs[s.name] = t
                yield st2
        elif isinstance(s, Store):
            for st2, loc in self.expr(s.addr, st):
                for st3, val in self.expr(s.value, st2):
                    self.emit_access(st3, "W", None, loc, val, s.line)
                    yield st3
        elif isinstance(s, ExprStmt):
            for st2, _ in self.expr(s.expr, st):
                yield st2
        elif isinstance(s, If):
            yield from self.run_if(s, st)
        else:  # pragma: no cover - parser produces nothing else
            raise self.err(getattr(s, "line", 0), f"unsupported statement {type(s).__name__}")

    def run_if(self, s: If, st: _State) -> Iterator[_State]:
        for st2, c in self.expr(s.cond, st):
            if isinstance(c, Const):
                # A constant condition is no branch on a read: no fork, no ctrl.
                branch = s.then if _truth(c.value) else s.other
                if branch is None:
                    yield st2
                else:
                    yield from self.run_stmt(branch, st2)
                continue
            outer = st2.ctrl
            alternatives = [(True, s.then), (False, s.other)]
            copies = [st2.copy() for _ in alternatives]
            for (expected, branch), stb in zip(alternatives, copies):
                stb.constraints.append((c, expected, s.line))
                stb.ctrl = outer | c.vars
                results = [stb] if branch is None else self.run_stmt(branch, stb)
                for out in results:
                    out.ctrl = outer
                    yield out

    # ------------------------------------------------------------ expressions
    def expr(self, e, st: _State) -> Iterator[tuple]:
        if isinstance(e, Num):
            yield st, Const(e.value)
        elif isinstance(e, Name):
            if e.name in st.regs:
                yield st, st.regs[e.name]
            elif e.name == "NULL":
                yield st, Const(0)
            else:
                raise self.err(e.line, f"unknown identifier '{e.name}' in P{self.tid}")
        elif isinstance(e, AddrOf):
            raise self.err(e.line, "'&' is only supported in the init block")
        elif isinstance(e, Deref):
            for st2, loc in self.expr(e.addr, st):
                yield st2, self.emit_read(st2, None, loc, e.line)
        elif isinstance(e, Unary):
            for st2, a in self.expr(e.arg, st):
                yield st2, mk_op(e.op, (a,), e.line)
        elif isinstance(e, Binary):
            for st2, a in self.expr(e.left, st):
                for st3, b in self.expr(e.right, st2):
                    yield st3, mk_op(e.op, (a, b), e.line)
        elif isinstance(e, Ternary):
            for st2, c in self.expr(e.cond, st):
                for st3, a in self.expr(e.then, st2):
                    for st4, b in self.expr(e.other, st3):
                        yield st4, mk_op("?:", (c, a, b), e.line)
        elif isinstance(e, Call):
            yield from self.call(e, st)
        else:  # pragma: no cover
            raise self.err(getattr(e, "line", 0), f"unsupported expression {type(e).__name__}")

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
        if prim.kind == "srcu":
            raise self.err(e.line, f"SRCU primitive '{e.func}' is not supported")
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
        elif kind == "xchg":
            yield st, self.rmw(st, tag, loc, lambda old: vals[0], line)
        elif kind in ("atomic_op", "op_return", "fetch_op"):
            operand = vals[0] if prim.val is not None else Const(prim.const)

            def new_value(old, op=prim.op):
                return mk_op(op, (old, operand), line)

            if kind == "atomic_op":
                self.rmw(st, None, loc, new_value, line, read_tag="noreturn")
                yield st, Const(0)
                return
            old = self.rmw(st, tag, loc, new_value, line, want_old=True)
            result = old if kind == "fetch_op" else new_value(old)
            if prim.test == "==0":
                result = mk_op("==", (result, Const(0)), line)
            elif prim.test == "<0":
                result = mk_op("<", (result, Const(0)), line)
            yield st, result
        elif kind == "cmpxchg":
            expected, new = vals
            ok, fail = st.copy(), st
            old = self.rmw(ok, tag, loc, lambda o: new, line, want_old=True)
            ok.constraints.append((mk_op("==", (old, expected), line), True, line))
            yield ok, old
            old = self.emit_read(fail, "once", loc, line, atomic=True)
            fail.constraints.append((mk_op("==", (old, expected), line), False, line))
            yield fail, old
        elif kind == "add_unless":
            amount, unless = vals
            ok, fail = st.copy(), st
            old = self.rmw(ok, "mb", loc, lambda o: mk_op("+", (o, amount), line), line,
                           want_old=True)
            ok.constraints.append((mk_op("==", (old, unless), line), False, line))
            yield ok, Const(1)
            old = self.emit_read(fail, "once", loc, line, atomic=True)
            fail.constraints.append((mk_op("==", (old, unless), line), True, line))
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
    def check_loc(self, loc: Term, line: int) -> None:
        if not loc.vars and not isinstance(loc.value, Addr):
            raise self.err(line, f"access to non-pointer value {loc.value}")

    def emit_read(self, st: _State, tag, loc: Term, line: int, atomic: bool = False) -> Var:
        self.check_loc(loc, line)
        idx = len(st.events)
        v = Var((self.tid, idx))
        st.events.append(Ev("R", tag, loc, v, line, atomic=atomic, addr=loc.vars, ctrl=st.ctrl))
        return v

    def emit_access(self, st: _State, kind: str, tag, loc: Term, val: Term, line: int,
                    atomic: bool = False) -> int:
        self.check_loc(loc, line)
        st.events.append(Ev(kind, tag, loc, val, line, atomic=atomic, addr=loc.vars,
                            data=val.vars, ctrl=st.ctrl))
        return len(st.events) - 1

    def emit_fence(self, st: _State, tag: str, line: int) -> None:
        st.events.append(Ev("F", tag, None, None, line, ctrl=st.ctrl))

    def emit_lock(self, st: _State, kind: str, loc: Term, line: int) -> None:
        self.check_loc(loc, line)
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
        ridx = len(st.events) - 1
        widx = self.emit_access(st, "W", wtag, loc, new_value(old), line, atomic=True)
        st.events[ridx].rmw_w = widx
        if full:
            self.emit_fence(st, "mb", line)
        return old


def _truth(v) -> bool:
    return True if isinstance(v, Addr) else v != 0
