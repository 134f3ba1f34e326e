"""Symbolic values computed by litmus threads.

A thread is executed symbolically once per control path (see ``symexec``):
every value read from memory is a :class:`Var`, and registers hold terms
built from constants, variables and C operators.  Terms keep every variable
they mention, so dependencies are syntactic, as in herd7 (``r - r`` still
depends on ``r``).  Concrete values are ``int`` or :class:`Addr` (the address
of a shared location, printed as its name like herd7 does).
"""

from __future__ import annotations

from typing import Any

from .errors import EvalError


class Addr:
    """The address of a shared location: herd7 prints it as the bare name."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Addr) and other.name == self.name

    def __hash__(self) -> int:
        return hash(("addr", self.name))

    def __repr__(self) -> str:
        return self.name


Value = Any  # int | Addr


class Unresolved(Exception):
    """A term mentions a variable whose value is not known yet."""


class Term:
    __slots__ = ("vars",)
    vars: frozenset


class Const(Term):
    __slots__ = ("value",)

    def __init__(self, value: Value) -> None:
        self.value = value
        self.vars = frozenset()

    def __repr__(self) -> str:
        return repr(self.value)


class Var(Term):
    """The value returned by one read event; ``key`` = (thread, event index)."""

    __slots__ = ("key",)

    def __init__(self, key: tuple[int, int]) -> None:
        self.key = key
        self.vars = frozenset((key,))

    def __repr__(self) -> str:
        return f"v{self.key[0]}_{self.key[1]}"


class Op(Term):
    __slots__ = ("op", "args", "line")

    def __init__(self, op: str, args: tuple[Term, ...], line: int) -> None:
        self.op = op
        self.args = args
        self.line = line
        vs: frozenset = frozenset()
        for a in args:
            vs = vs | a.vars
        self.vars = vs

    def __repr__(self) -> str:
        return f"({self.op} {' '.join(map(repr, self.args))})"


def truth(v: Value) -> bool:
    # A pointer is a non-null address, hence true.
    return True if isinstance(v, Addr) else v != 0


def _int(v: Value, op: str, line: int) -> int:
    if isinstance(v, Addr):
        raise EvalError(line, f"operator '{op}' applied to pointer value {v.name}")
    return v


def _cdiv(a: int, b: int, line: int) -> int:
    if b == 0:
        raise EvalError(line, "division by zero")
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def _pointer_op(op: str, a: Value, b: Value, line: int) -> Value:
    """The pointer arithmetic litmus tests use to build artificial address
    dependencies, ``*(y + (r1 ^ r1))``: a location plus or minus 0 is the
    location, and a pointer minus or xor itself is 0.  Anything else would
    address outside a location (or is an integer operation on an address)."""
    if op == "+" and b == 0 and isinstance(a, Addr):
        return a
    if op == "+" and a == 0 and isinstance(b, Addr):
        return b
    if op == "-" and b == 0 and isinstance(a, Addr):
        return a
    if op in ("-", "^") and a == b:
        return 0
    bad = a if isinstance(a, Addr) else b
    raise EvalError(line, f"operator '{op}' applied to pointer value {bad.name}")


def apply_op(op: str, vals: list, line: int) -> Value:
    if op == "==":
        return 1 if vals[0] == vals[1] else 0
    if op == "!=":
        return 0 if vals[0] == vals[1] else 1
    if op == "&&":
        return 1 if truth(vals[0]) and truth(vals[1]) else 0
    if op == "||":
        return 1 if truth(vals[0]) or truth(vals[1]) else 0
    if op == "!":
        return 0 if truth(vals[0]) else 1
    if op == "?:":
        return vals[1] if truth(vals[0]) else vals[2]
    if len(vals) == 2 and (isinstance(vals[0], Addr) or isinstance(vals[1], Addr)):
        return _pointer_op(op, vals[0], vals[1], line)
    ints = [_int(v, op, line) for v in vals]
    if len(ints) == 1:
        a = ints[0]
        if op == "-":
            return -a
        if op == "~":
            return ~a
        if op == "+":
            return a
        raise EvalError(line, f"unknown unary operator '{op}'")
    a, b = ints
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if op == "/":
        return _cdiv(a, b, line)
    if op == "%":
        return a - b * _cdiv(a, b, line)
    if op == "&":
        return a & b
    if op == "|":
        return a | b
    if op == "^":
        return a ^ b
    if op == "<<":
        return a << b
    if op == ">>":
        return a >> b
    if op == "<":
        return 1 if a < b else 0
    if op == ">":
        return 1 if a > b else 0
    if op == "<=":
        return 1 if a <= b else 0
    if op == ">=":
        return 1 if a >= b else 0
    raise EvalError(line, f"unknown operator '{op}'")


def evaluate(t: Term, env: dict) -> Value:
    """Value of ``t`` under ``env`` (Var key -> value); Unresolved if a var is missing."""
    if isinstance(t, Const):
        return t.value
    if isinstance(t, Var):
        try:
            return env[t.key]
        except KeyError:
            raise Unresolved(t.key) from None
    assert isinstance(t, Op)
    return apply_op(t.op, [evaluate(a, env) for a in t.args], t.line)


def mk_op(op: str, args: tuple[Term, ...], line: int) -> Term:
    """Build an operator term, folding it when no variable is involved."""
    if all(isinstance(a, Const) for a in args):
        return Const(apply_op(op, [a.value for a in args], line))
    return Op(op, args, line)
