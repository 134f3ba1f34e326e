"""Parser units: declarations, bodies, conditions and located errors."""

from __future__ import annotations

import pytest

from mmactors.memmodel import LitmusError, parse_litmus
from mmactors.memmodel.syntax import (
    And, Assign, Atom, Bool, Call, Decl, ExprStmt, If, LocRef, Not, Or, Store,
)
from mmactors.memmodel.terms import Addr


def make(init: str = "", body0: str = "", cond: str = "exists (0:r0=0)",
         params: str = "int *x", extra: str = "") -> str:
    return f"""C T
"doc"
(* comment *)
{{
{init}
}}

P0({params})
{{
\tint r0;
{body0}
}}
{extra}
{cond}
"""


def test_header_doc_and_name():
    t = parse_litmus(make())
    assert t.name == "T"
    assert t.doc == "doc"
    assert len(t.processes) == 1


@pytest.mark.parametrize("decl, name, value, ctype", [
    ("x=1;", "x", 1, ""),
    ("int x;", "x", 0, "int"),
    ("int x=0;", "x", 0, "int"),
    ("int y = -3;", "y", -3, "int"),
    ("int *p=y;", "p", Addr("y"), "int *"),
    ("int *y = &x;", "y", Addr("x"), "int *"),
    ("atomic_t v = ATOMIC_INIT(1);", "v", 1, "atomic_t"),
    ("spinlock_t s;", "s", 0, "spinlock_t"),
    ("spinlock_t mylock;", "mylock", 0, "spinlock_t"),
    ("unsigned long z = 0x10;", "z", 16, "unsigned long"),
])
def test_init_declarations(decl, name, value, ctype):
    t = parse_litmus(make(init=decl))
    e = t.init[name]
    assert e.value == value
    assert e.ctype == ctype


def test_init_lock_flag_and_register_init():
    t = parse_litmus(make(init="spinlock_t s; int x; 0:r0=x;"))
    assert t.init["s"].is_lock and not t.init["x"].is_lock
    assert t.reg_init[(0, "r0")].value == Addr("x")


def test_params():
    t = parse_litmus(make(params="int *x, int **p, spinlock_t *s, atomic_t *v"))
    assert [(p.ctype, p.name) for p in t.processes[0].params] == [
        ("int *", "x"), ("int **", "p"), ("spinlock_t *", "s"), ("atomic_t *", "v")]


def test_body_statements():
    body = """
\tint r1 = READ_ONCE(*x);
\t*x = r1 + 1;
\tr0 = *x;
\tif (r0 == 1) {
\t\tWRITE_ONCE(*x, 2);
\t} else
\t\tsmp_mb();
\t(void)atomic_add_unless(x, 1, 0);
"""
    t = parse_litmus(make(body0=body))
    stmts = t.processes[0].body.stmts
    kinds = [type(s) for s in stmts]
    assert kinds == [Decl, Decl, Store, Assign, If, ExprStmt]
    assert isinstance(stmts[1].init, Call) and stmts[1].init.func == "READ_ONCE"
    assert stmts[4].other is not None
    assert stmts[5].expr.func == "atomic_add_unless"


@pytest.mark.parametrize("cond, quant, check", [
    ("exists (0:r0=1)", "exists", lambda p: isinstance(p, Atom) and p.value == 1),
    ("~exists (0:r0=1 /\\ x=2)", "~exists", lambda p: isinstance(p, And)),
    ("forall (0:r0=1 \\/ 0:r0=0)", "forall", lambda p: isinstance(p, Or)),
    ("exists (~(0:r0=1))", "exists", lambda p: isinstance(p, Not)),
    ("exists (P0:r0=x)", "exists", lambda p: p.loc == LocRef(0, "r0") and p.value == Addr("x")),
    ("exists (x=-1)", "exists", lambda p: p.loc == LocRef(None, "x") and p.value == -1),
    ("exists\n(0:r0=1 /\\ (x=1 \\/ x=2))", "exists",
     lambda p: isinstance(p, And) and isinstance(p.args[1], Or)),
    ("exists (true)", "exists", lambda p: isinstance(p, Bool) and p.value),
    ("exists 0:r0=0 /\\ x=0", "exists", lambda p: isinstance(p, And)),
])
def test_conditions(cond, quant, check):
    t = parse_litmus(make(cond=cond))
    assert t.condition.quantifier == quant
    assert check(t.condition.prop)


def test_locations_and_filter():
    t = parse_litmus(make(extra="locations [0:r0; x]\nfilter (0:r0=1) (* note *)"))
    assert t.locations == [LocRef(0, "r0"), LocRef(None, "x")]
    assert isinstance(t.filter, Atom)


def test_parse_from_path(tmp_path):
    f = tmp_path / "t.litmus"
    f.write_text(make())
    assert parse_litmus(f).path == str(f)
    assert parse_litmus(str(f)).name == "T"


def _error(text: str) -> LitmusError:
    with pytest.raises(LitmusError) as info:
        parse_litmus(text, path="bad.litmus")
    return info.value


@pytest.mark.parametrize("body, line, words", [
    ("\twhile (1) { }", 11, "unsupported statement 'while'"),
    ("\tr0++;", 11, "unsupported operator '++'"),
    ("\tr0 = x[1];", 11, "unsupported operator '['"),
    ("\tr0 = READ_ONCE(*x)", 12, "expected ';'"),
])
def test_syntax_errors_have_lines(body, line, words):
    e = _error(make(body0=body))
    assert e.line == line
    assert words in e.message
    assert str(e) == f"bad.litmus:{line}: {e.message}"


def test_missing_header_and_arch():
    assert "header" in _error("{ }\nP0(int *x) { }\nexists (x=0)").message
    e = _error("X86 T\n{ }\n")
    assert "unsupported architecture 'X86'" in e.message and e.line == 1


def test_missing_condition():
    e = _error("C T\n{}\nP0(int *x)\n{\n}\n")
    assert "missing final condition" in e.message


def test_condition_unknown_process():
    e = _error(make(cond="exists (3:r0=1)"))
    assert "P3" in e.message and e.line == 14


def test_non_pointer_param():
    e = _error(make(params="int x"))
    assert "must be a pointer" in e.message and e.line == 8
