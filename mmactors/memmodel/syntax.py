"""Abstract syntax of C litmus tests (the subset herd7 accepts for the LKMM)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Union

from .terms import Addr

# ---------------------------------------------------------------- C code


@dataclass
class Num:
    value: int
    line: int


@dataclass
class Name:
    name: str
    line: int


@dataclass
class Deref:          # *e : a plain memory access at address e
    addr: "Expr"
    line: int


@dataclass
class AddrOf:         # &x
    name: str
    line: int


@dataclass
class Unary:
    op: str
    arg: "Expr"
    line: int


@dataclass
class Binary:
    op: str
    left: "Expr"
    right: "Expr"
    line: int


@dataclass
class Ternary:
    cond: "Expr"
    then: "Expr"
    other: "Expr"
    line: int


@dataclass
class Call:
    func: str
    args: list
    line: int


Expr = Union[Num, Name, Deref, AddrOf, Unary, Binary, Ternary, Call]


@dataclass
class Decl:
    ctype: str
    name: str
    init: Optional[Expr]
    line: int


@dataclass
class Assign:         # reg = e
    name: str
    value: Expr
    line: int


@dataclass
class Store:          # *addr = e  (plain store)
    addr: Expr
    value: Expr
    line: int


@dataclass
class ExprStmt:
    expr: Expr
    line: int


@dataclass
class If:
    cond: Expr
    then: "Stmt"
    other: Optional["Stmt"]
    line: int


@dataclass
class Block:
    stmts: list
    line: int


Stmt = Union[Decl, Assign, Store, ExprStmt, If, Block]


@dataclass
class Param:
    ctype: str
    name: str
    line: int


@dataclass
class Process:
    index: int
    params: list
    body: Block
    line: int


# ---------------------------------------------------------------- conditions


@dataclass(frozen=True)
class LocRef:
    """``proc:reg`` (proc >= 0) or a shared location (proc = None)."""

    proc: Optional[int]
    name: str

    def key(self) -> tuple:
        # herd7 sorts registers (by proc then name) before memory locations.
        return (0, self.proc, self.name) if self.proc is not None else (1, 0, self.name)

    def __str__(self) -> str:
        return f"{self.proc}:{self.name}" if self.proc is not None else self.name


@dataclass
class Atom:
    loc: LocRef
    value: Union[int, Addr, LocRef]   # a LocRef compares two locations (0:r1=1:r1)
    negated: bool = False     # "!=" instead of "="


@dataclass
class And:
    args: list


@dataclass
class Or:
    args: list


@dataclass
class Not:
    arg: "Prop"


@dataclass
class Bool:
    value: bool


Prop = Union[Atom, And, Or, Not, Bool]


@dataclass
class Condition:
    quantifier: str           # "exists" | "~exists" | "forall"
    prop: Prop
    line: int


@dataclass
class InitEntry:
    name: str                 # location name, or register name when proc set
    value: Union[int, Addr]
    ctype: str
    line: int
    proc: Optional[int] = None

    @property
    def is_lock(self) -> bool:
        return self.ctype.startswith("spinlock_t")


@dataclass
class LitmusTest:
    name: str
    path: str
    init: dict                # location name -> InitEntry
    reg_init: dict            # (proc, reg) -> InitEntry
    processes: list
    condition: Condition
    locations: list = field(default_factory=list)   # LocRef
    filter: Optional[Prop] = None
    doc: str = ""
    info: dict = field(default_factory=dict)   # diy's key=value header lines
