"""Parser for C litmus tests in the format herd7 accepts for the Linux-kernel
memory model (tools/memory-model/litmus-tests, Documentation/litmus-tests).

A test is::

    C NAME
    "optional doc string" / (* comments *)
    { init block: x=1; int *p=y; atomic_t v = ATOMIC_INIT(1); spinlock_t s; }
    P0(int *x, spinlock_t *s) { C body }
    ...
    locations [0:r1; x]
    filter (...)
    exists | ~exists | forall (...)

Bodies are parsed into the small C AST of ``syntax``; kernel primitives stay
calls (``Call``) and are mapped to events by ``primitives``/``symexec``.
Anything outside the subset raises :class:`LitmusError` with its line.
diy's header lines (``Cycle=...``) are kept as ``LitmusTest.info``.
Simplification: herd7's ``while`` loops are not supported.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Optional, Union

from .errors import LitmusError
from .syntax import (
    AddrOf, And, Assign, Atom, Binary, Block, Bool, Call, Condition, Decl, Deref,
    ExprStmt, If, InitEntry, LitmusTest, LocRef, Name, Not, Num, Or, Param, Process,
    Store, Ternary, Unary,
)
from .terms import Addr

# Type words accepted in declarations (herd7's CLexer plus kernel shorthands).
TYPE_WORDS = {
    "int", "long", "unsigned", "signed", "char", "short", "bool", "_Bool", "void",
    "const", "volatile", "intptr_t", "uintptr_t", "size_t",
    "int8_t", "uint8_t", "int16_t", "uint16_t", "int32_t", "uint32_t", "int64_t",
    "uint64_t", "u8", "u16", "u32", "u64", "s8", "s16", "s32", "s64",
    "atomic_t", "atomic_long_t", "spinlock_t", "struct",
}
UNSUPPORTED_STMTS = {"while", "for", "do", "return", "goto", "switch", "break", "continue"}

C_OPS = [
    "<<=", ">>=", "==", "!=", "<=", ">=", "&&", "||", "<<", ">>", "++", "--", "+=", "-=",
    "*=", "/=", "%=", "&=", "|=", "^=", "->",
]
C_SINGLE = set("+-*/%&|^~!<>=?:;,(){}[].")
COND_OPS = ["/\\", "\\/", "!=", "<>", "=="]
COND_SINGLE = set("~=:;[]()-&*,")

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NUMBER = re.compile(r"0[xX][0-9a-fA-F]+|[0-9]+")
_INFO_LINE = re.compile(r"([A-Za-z_][A-Za-z0-9_.-]*)[ \t]*=([^\n]*)")

# Nesting limits of the recursive-descent parser: far beyond any litmus test,
# well within Python's recursion limit (each level costs a few frames).
MAX_BLOCK_DEPTH = 100
MAX_EXPR_DEPTH = 60


class Tok:
    __slots__ = ("kind", "value", "line")

    def __init__(self, kind: str, value, line: int) -> None:
        self.kind = kind      # "id", "num", "op", "eof"
        self.value = value
        self.line = line

    def __repr__(self) -> str:
        return f"{self.kind}:{self.value}@{self.line}"


class _Source:
    """The raw text with helpers to skip comments and find matching braces."""

    def __init__(self, text: str, path: str) -> None:
        self.text = text
        self.path = path

    def err(self, line: int, msg: str) -> LitmusError:
        return LitmusError(self.path, line, msg)

    def line_at(self, pos: int) -> int:
        return self.text.count("\n", 0, pos) + 1

    def skip_ocaml_comment(self, pos: int) -> int:
        """``pos`` is at ``(*``; return the position after the matching ``*)``."""
        depth = 0
        text = self.text
        while pos < len(text):
            if text.startswith("(*", pos):
                depth += 1
                pos += 2
            elif text.startswith("*)", pos):
                depth -= 1
                pos += 2
                if depth == 0:
                    return pos
            else:
                pos += 1
        raise self.err(self.line_at(len(text)), "unterminated (* comment")

    def skip_c_comment(self, pos: int) -> int:
        end = self.text.find("*/", pos + 2)
        if end < 0:
            raise self.err(self.line_at(pos), "unterminated /* comment")
        return end + 2

    def skip_blank(self, pos: int, ocaml: bool) -> int:
        text = self.text
        while pos < len(text):
            c = text[pos]
            if c.isspace():
                pos += 1
            elif text.startswith("//", pos):
                nl = text.find("\n", pos)
                pos = len(text) if nl < 0 else nl
            elif text.startswith("/*", pos):
                pos = self.skip_c_comment(pos)
            elif ocaml and text.startswith("(*", pos):
                pos = self.skip_ocaml_comment(pos)
            else:
                break
        return pos

    def matching_brace(self, pos: int, ocaml: bool) -> int:
        """``pos`` is at ``{``; return the index of the matching ``}``."""
        depth = 0
        text = self.text
        while pos < len(text):
            c = text[pos]
            if text.startswith("//", pos) or text.startswith("/*", pos) or (
                ocaml and text.startswith("(*", pos)
            ):
                pos = self.skip_blank(pos, ocaml)
                continue
            if c == "{":
                depth += 1
            elif c == "}":
                depth -= 1
                if depth == 0:
                    return pos
            pos += 1
        raise self.err(self.line_at(len(text)), "unbalanced '{'")

    def tokenize(self, start: int, end: int, *, ocaml: bool, cond: bool) -> list:
        """Tokens of text[start:end]; ``cond`` selects the condition operators."""
        text = self.text
        toks = []
        pos = start
        line = self.line_at(start)
        ops = COND_OPS if cond else C_OPS
        singles = COND_SINGLE if cond else C_SINGLE
        while True:
            npos = self.skip_blank(pos, ocaml)
            line += text.count("\n", pos, npos)
            pos = npos
            if pos >= end:
                break
            m = _IDENT.match(text, pos)
            if m and m.end() <= end:
                toks.append(Tok("id", m.group(), line))
                pos = m.end()
                continue
            m = _NUMBER.match(text, pos)
            if m and m.end() <= end:
                toks.append(Tok("num", int(m.group(), 0), line))
                pos = m.end()
                continue
            for op in ops:
                if text.startswith(op, pos):
                    toks.append(Tok("op", op, line))
                    pos += len(op)
                    break
            else:
                c = text[pos]
                if c in singles:
                    toks.append(Tok("op", c, line))
                    pos += 1
                else:
                    raise self.err(line, f"unexpected character {c!r}")
        toks.append(Tok("eof", None, self.line_at(end)))
        return toks


class _Tokens:
    """A token stream with the usual peek/expect helpers."""

    def __init__(self, toks: list, src: _Source) -> None:
        self.toks = toks
        self.i = 0
        self.src = src

    def peek(self, k: int = 0) -> Tok:
        return self.toks[min(self.i + k, len(self.toks) - 1)]

    def next(self) -> Tok:
        t = self.peek()
        self.i += 1
        return t

    def at(self, value, k: int = 0) -> bool:
        t = self.peek(k)
        return t.kind in ("op", "id") and t.value == value

    def accept(self, value) -> bool:
        if self.at(value):
            self.i += 1
            return True
        return False

    def expect(self, value) -> Tok:
        t = self.peek()
        if not self.at(value):
            raise self.err(t, f"expected '{value}', found {describe(t)}")
        self.i += 1
        return t

    def ident(self) -> Tok:
        t = self.peek()
        if t.kind != "id":
            raise self.err(t, f"expected an identifier, found {describe(t)}")
        self.i += 1
        return t

    def err(self, tok: Tok, msg: str) -> LitmusError:
        return self.src.err(tok.line, msg)


def describe(t: Tok) -> str:
    return "end of input" if t.kind == "eof" else f"'{t.value}'"


# ---------------------------------------------------------------- C parser


class _CParser(_Tokens):
    """Recursive descent over the C subset of herd7's litmus bodies.

    Nesting (blocks, ``if``, parentheses, unary operators) is limited to
    MAX_BLOCK_DEPTH / MAX_EXPR_DEPTH levels so that a pathological test is
    refused with its line rather than overflowing Python's stack."""

    def __init__(self, toks: list, src: "_Source") -> None:
        super().__init__(toks, src)
        self.block_depth = 0
        self.expr_depth = 0

    def _enter(self, what: str, tok: Tok) -> None:
        if what == "block":
            self.block_depth += 1
            if self.block_depth > MAX_BLOCK_DEPTH:
                raise self.err(tok, f"statements nested more than {MAX_BLOCK_DEPTH} "
                               f"levels deep (mmactors limit)")
        else:
            self.expr_depth += 1
            if self.expr_depth > MAX_EXPR_DEPTH:
                raise self.err(tok, f"expression nested more than {MAX_EXPR_DEPTH} "
                               f"levels deep (mmactors limit)")

    def is_type_start(self, k: int = 0) -> bool:
        t = self.peek(k)
        return t.kind == "id" and t.value in TYPE_WORDS

    def type_specs(self) -> str:
        words = []
        while self.is_type_start():
            w = self.next().value
            if w == "struct":
                w = "struct " + self.ident().value
            words.append(w)
        return " ".join(w for w in words if w not in ("const", "volatile"))

    # statements
    def block(self) -> Block:
        start = self.expect("{")
        stmts = []
        while not self.at("}"):
            if self.peek().kind == "eof":
                raise self.err(self.peek(), "missing '}'")
            stmts.extend(self.statement())
        self.expect("}")
        return Block(stmts, start.line)

    def statement(self, body_of_if: bool = False) -> list:
        """One statement; ``if`` statements and blocks nest one level each
        (a block that is the body of an ``if`` is part of that level)."""
        t = self.peek()
        nests = (self.at("if") or self.at("{")) and not (body_of_if and self.at("{"))
        if not nests:
            return self._statement(t)
        self._enter("block", t)
        try:
            return self._statement(t)
        finally:
            self.block_depth -= 1

    def _statement(self, t: Tok) -> list:
        if self.at("{"):
            return [self.block()]
        if self.accept(";"):
            return []
        if t.kind == "id" and t.value in UNSUPPORTED_STMTS:
            raise self.err(t, f"unsupported statement '{t.value}'")
        if t.kind == "id" and t.value == "if":
            self.next()
            self.expect("(")
            cond = self.expr()
            self.expect(")")
            then = self.stmt_as_block()
            other = None
            if self.accept("else"):
                other = self.stmt_as_block()
            return [If(cond, then, other, t.line)]
        if self.is_type_start() and not self.at("(", 1):
            return self.declaration()
        e = self.expr()
        op = self.peek()
        if op.kind == "op" and op.value in ("=", "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^="):
            self.next()
            value = self.expr()
            if op.value != "=":
                value = Binary(op.value[:-1], e, value, op.line)
            self.expect(";")
            if isinstance(e, Name):
                return [Assign(e.name, value, t.line)]
            if isinstance(e, Deref):
                return [Store(e.addr, value, t.line)]
            raise self.err(op, "left-hand side of assignment must be a register or *pointer")
        if op.kind == "op" and op.value in ("++", "--"):
            raise self.err(op, f"unsupported operator '{op.value}'")
        self.expect(";")
        return [ExprStmt(e, t.line)]

    def stmt_as_block(self) -> Block:
        line = self.peek().line
        return Block(self.statement(body_of_if=True), line)

    def declaration(self) -> list:
        line = self.peek().line
        base = self.type_specs()
        out = []
        while True:
            stars = ""
            while self.accept("*"):
                stars += "*"
            name = self.ident()
            init = None
            if self.accept("="):
                init = self.expr()
            out.append(Decl((base + " " + stars).strip(), name.value, init, line))
            if not self.accept(","):
                break
        self.expect(";")
        return out

    # expressions, by C precedence
    BINARY_LEVELS = [
        ["||"], ["&&"], ["|"], ["^"], ["&"], ["==", "!="], ["<", ">", "<=", ">="],
        ["<<", ">>"], ["+", "-"], ["*", "/", "%"],
    ]

    def expr(self):
        self._enter("expr", self.peek())
        try:
            return self._expr()
        finally:
            self.expr_depth -= 1

    def _expr(self):
        cond = self.binary(0)
        if self.at("?"):
            t = self.next()
            a = self.expr()
            self.expect(":")
            b = self.expr()
            return Ternary(cond, a, b, t.line)
        return cond

    def binary(self, level: int):
        if level == len(self.BINARY_LEVELS):
            return self.unary()
        left = self.binary(level + 1)
        ops = self.BINARY_LEVELS[level]
        while self.peek().kind == "op" and self.peek().value in ops:
            t = self.next()
            right = self.binary(level + 1)
            left = Binary(t.value, left, right, t.line)
        return left

    def unary(self):
        t = self.peek()
        self._enter("expr", t)
        try:
            return self._unary(t)
        finally:
            self.expr_depth -= 1

    def _unary(self, t: Tok):
        if t.kind == "op":
            if t.value in ("-", "!", "~", "+"):
                self.next()
                return Unary(t.value, self.unary(), t.line)
            if t.value == "*":
                self.next()
                return Deref(self.unary(), t.line)
            if t.value == "&":
                self.next()
                return AddrOf(self.ident().value, t.line)
            if t.value == "(" and self.is_type_start(1):
                # A cast such as (void)expr or (int *)p: values are untyped here.
                self.next()
                self.type_specs()
                while self.accept("*"):
                    pass
                self.expect(")")
                return self.unary()
            if t.value in ("++", "--"):
                raise self.err(t, f"unsupported operator '{t.value}'")
        return self.postfix()

    def postfix(self):
        t = self.next()
        if t.kind == "num":
            return Num(t.value, t.line)
        if t.kind == "id":
            if self.at("("):
                self.next()
                args = []
                if not self.at(")"):
                    args.append(self.expr())
                    while self.accept(","):
                        args.append(self.expr())
                self.expect(")")
                return Call(t.value, args, t.line)
            if self.at("[") or self.at("->") or self.at("."):
                raise self.err(self.peek(), f"unsupported operator '{self.peek().value}'")
            return Name(t.value, t.line)
        if t.kind == "op" and t.value == "(":
            e = self.expr()
            self.expect(")")
            return e
        raise self.err(t, f"unexpected {describe(t)} in expression")


# ---------------------------------------------------------------- init block


def _parse_init(toks: _Tokens, test_name: str) -> tuple[dict, dict]:
    init: dict = {}
    reg_init: dict = {}
    p = _CParser(toks.toks, toks.src)
    while p.peek().kind != "eof":
        if p.accept(";"):
            continue
        line = p.peek().line
        ctype = p.type_specs()
        while True:
            stars = ""
            while p.accept("*"):
                stars += "*"
            full_type = (ctype + " " + stars).strip()
            t = p.peek()
            proc = None
            if t.kind == "num" and p.at(":", 1):
                proc = p.next().value
                p.next()
            elif t.kind == "id" and re.fullmatch(r"P\d+", t.value) and p.at(":", 1):
                proc = int(p.next().value[1:])
                p.next()
            name = p.ident().value
            value: Union[int, Addr] = 0
            if p.accept("="):
                value = _init_value(p)
            entry = InitEntry(name, value, full_type, line, proc)
            if proc is not None:
                reg_init[(proc, name)] = entry
            else:
                if name in init:
                    raise p.err(t, f"location '{name}' initialised twice")
                init[name] = entry
            if not p.accept(","):
                break
        if not p.at("eof") and p.peek().kind != "eof":
            p.expect(";")
    return init, reg_init


def _init_value(p: _CParser):
    t = p.peek()
    if p.accept("&"):
        return Addr(p.ident().value)
    if p.accept("-"):
        n = p.next()
        if n.kind != "num":
            raise p.err(n, "expected a number after '-'")
        return -n.value
    t = p.next()
    if t.kind == "num":
        return t.value
    if t.kind == "id":
        if t.value in ("ATOMIC_INIT", "ATOMIC_LONG_INIT"):
            p.expect("(")
            v = _init_value(p)
            p.expect(")")
            return v
        if t.value == "NULL":
            return 0
        if p.at("("):
            raise p.err(t, f"unsupported initialiser '{t.value}(...)'")
        return Addr(t.value)
    raise p.err(t, f"unexpected {describe(t)} in initialiser")


# ---------------------------------------------------------------- conditions


class _CondParser(_Tokens):
    def prop(self):
        return self.disj()

    def disj(self):
        args = [self.conj()]
        while self.accept("\\/"):
            args.append(self.conj())
        return args[0] if len(args) == 1 else Or(args)

    def conj(self):
        args = [self.neg()]
        while self.accept("/\\"):
            args.append(self.neg())
        return args[0] if len(args) == 1 else And(args)

    def neg(self):
        if self.accept("~") or self.accept("not"):
            return Not(self.neg())
        return self.atom()

    def atom(self):
        if self.accept("("):
            p = self.prop()
            self.expect(")")
            return p
        if self.accept("true"):
            return Bool(True)
        if self.accept("false"):
            return Bool(False)
        loc = self.locref()
        op = self.peek()
        if self.accept("=") or self.accept("=="):
            negated = False
        elif self.accept("!=") or self.accept("<>"):
            negated = True
        else:
            raise self.err(op, f"expected '=' after {loc}, found {describe(op)}")
        return Atom(loc, self.value(), negated)

    def locref(self) -> LocRef:
        t = self.peek()
        if t.kind == "num" and self.at(":", 1):
            self.next()
            self.next()
            return LocRef(t.value, self.ident().value)
        if t.kind == "id" and re.fullmatch(r"P\d+", t.value) and self.at(":", 1):
            self.next()
            self.next()
            return LocRef(int(t.value[1:]), self.ident().value)
        if self.accept("["):
            name = self.ident().value
            self.expect("]")
            return LocRef(None, name)
        if self.accept("*"):
            return LocRef(None, self.ident().value)
        if t.kind == "id":
            self.next()
            return LocRef(None, t.value)
        raise self.err(t, f"expected a location, found {describe(t)}")

    def value(self):
        t = self.peek()
        # herd7 compares two registers with "0:r1=1:r1" (or P0:r1=P1:r1).
        if (t.kind == "num" or (t.kind == "id" and re.fullmatch(r"P\d+", t.value))) \
                and self.at(":", 1):
            return self.locref()
        t = self.next()
        if t.kind == "num":
            return t.value
        if t.kind == "op" and t.value == "-":
            n = self.next()
            if n.kind == "num":
                return -n.value
        if t.kind == "op" and t.value == "&":
            return Addr(self.ident().value)
        if t.kind == "id":
            return Addr(t.value)
        raise self.err(t, f"expected a value, found {describe(t)}")


def _parse_postlude(toks: _CondParser):
    locations: list = []
    flt = None
    cond = None
    while toks.peek().kind != "eof":
        t = toks.peek()
        if toks.accept("locations"):
            toks.expect("[")
            while not toks.accept("]"):
                if toks.accept(";"):
                    continue
                locations.append(toks.locref())
        elif toks.accept("filter"):
            if flt is not None:
                raise toks.err(t, "more than one filter clause")
            flt = toks.prop()
        elif t.kind == "id" and t.value in ("exists", "forall") or (
            toks.at("~") and toks.at("exists", 1)
        ):
            if cond is not None:
                raise toks.err(t, "more than one final condition")
            if toks.accept("~"):
                toks.next()
                q = "~exists"
            else:
                q = toks.next().value
            cond = Condition(q, toks.prop(), t.line)
        else:
            raise toks.err(t, f"unexpected {describe(t)} after the processes")
    return locations, flt, cond


# ---------------------------------------------------------------- top level


def parse_litmus(text_or_path: Union[str, Path], path: Optional[str] = None) -> LitmusTest:
    """Parse a litmus test given as source text or as a path to a file."""
    if isinstance(text_or_path, Path) or (
        "\n" not in text_or_path
        and (text_or_path.endswith(".litmus") or Path(text_or_path).is_file())
    ):
        p = Path(text_or_path)
        try:
            text = p.read_text()
        except FileNotFoundError:
            raise LitmusError(str(p), 0, "no such file") from None
        except UnicodeDecodeError:
            raise LitmusError(str(p), 0, "not a text file (UTF-8)") from None
        except OSError as e:
            raise LitmusError(str(p), 0, f"cannot read file: {e.strerror or e}") from None
        return parse_text(text, path or str(p))
    return parse_text(text_or_path, path or "<string>")


def parse_text(text: str, path: str) -> LitmusTest:
    src = _Source(text, path)
    pos = src.skip_blank(0, ocaml=False)
    m = re.compile(r"C[ \t]+(\S+)[ \t]*(?:\n|$)").match(text, pos)
    if not m:
        first = text[pos:].split("\n", 1)[0].strip()
        words = first.split()
        if len(words) >= 2 and _IDENT.fullmatch(words[0]) and words[0] != "C":
            arch = words[0]
            raise src.err(src.line_at(pos), f"unsupported architecture '{arch}' (only C tests)")
        raise src.err(src.line_at(pos), "expected 'C NAME' header")
    name = m.group(1)
    pos = m.end()
    # Prelude up to the init block: comments, a quoted doc string, and the
    # key=value lines diy writes (Cycle=, Relax=, Safe=, Prefetch=, Com=,
    # Orig=, Generator=...); herd7 keeps them as test info, so do we.
    doc = ""
    info: dict = {}
    while True:
        pos = src.skip_blank(pos, ocaml=True)
        if pos >= len(text):
            raise src.err(src.line_at(pos), "missing init block '{ ... }'")
        if text[pos] == '"':
            end = text.find('"', pos + 1)
            if end < 0:
                raise src.err(src.line_at(pos), "unterminated doc string")
            doc = text[pos + 1:end]
            pos = end + 1
            continue
        kv = _INFO_LINE.match(text, pos)
        if kv:
            info[kv.group(1)] = kv.group(2).strip()
            pos = kv.end()
            continue
        if text[pos] == "{":
            break
        raise src.err(src.line_at(pos), f"unexpected text before the init block: "
                      f"{text[pos:].split(chr(10), 1)[0].strip()!r}")
    close = src.matching_brace(pos, ocaml=True)
    init_toks = _Tokens(src.tokenize(pos + 1, close, ocaml=True, cond=False), src)
    init, reg_init = _parse_init(init_toks, name)
    pos = close + 1
    processes = []
    proc_re = re.compile(r"(?:void[ \t]+)?P(\d+)[ \t]*\(")
    while True:
        pos = src.skip_blank(pos, ocaml=True)
        m = proc_re.match(text, pos)
        if not m:
            break
        line = src.line_at(pos)
        index = int(m.group(1))
        if index != len(processes):
            raise src.err(line, f"expected P{len(processes)}, found P{index}")
        rpar = text.find(")", m.end())
        if rpar < 0:
            raise src.err(line, "unterminated parameter list")
        params = _parse_params(src, m.end(), rpar)
        lbrace = src.skip_blank(rpar + 1, ocaml=False)
        if lbrace >= len(text) or text[lbrace] != "{":
            raise src.err(src.line_at(lbrace), f"expected '{{' to open the body of P{index}")
        rbrace = src.matching_brace(lbrace, ocaml=False)
        cp = _CParser(src.tokenize(lbrace, rbrace + 1, ocaml=False, cond=False), src)
        body = cp.block()
        if cp.peek().kind != "eof":
            raise cp.err(cp.peek(), f"unexpected {describe(cp.peek())}")
        processes.append(Process(index, params, body, line))
        pos = rbrace + 1
    if not processes:
        raise src.err(src.line_at(pos), "no process P0(...) { ... } found")
    post = _CondParser(src.tokenize(pos, len(text), ocaml=True, cond=True), src)
    locations, flt, cond = _parse_postlude(post)
    if cond is None:
        raise src.err(src.line_at(len(text)), "missing final condition (exists/~exists/forall)")
    test = LitmusTest(name, path, init, reg_init, processes, cond, locations, flt, doc, info)
    _validate(test, src)
    return test


def _parse_params(src: _Source, start: int, end: int) -> list:
    toks = _CParser(src.tokenize(start, end, ocaml=False, cond=False), src)
    params = []
    while toks.peek().kind != "eof":
        line = toks.peek().line
        ctype = toks.type_specs()
        if not ctype:
            raise toks.err(toks.peek(), f"expected a parameter type, found {describe(toks.peek())}")
        stars = ""
        while toks.accept("*"):
            stars += "*"
        name = toks.ident().value
        if not stars:
            raise toks.err(toks.peek(), f"parameter '{name}' must be a pointer to a shared location")
        params.append(Param((ctype + " " + stars).strip(), name, line))
        if not toks.accept(","):
            break
    if toks.peek().kind != "eof":
        raise toks.err(toks.peek(), f"unexpected {describe(toks.peek())} in parameter list")
    return params


def _validate(test: LitmusTest, src: _Source) -> None:
    """Reject conditions naming processes that do not exist."""
    nprocs = len(test.processes)

    def check_prop(p, line):
        if isinstance(p, Atom):
            for loc in (p.loc, p.value):
                if isinstance(loc, LocRef) and loc.proc is not None and loc.proc >= nprocs:
                    raise src.err(line, f"condition names P{loc.proc}, which does not exist")
        elif isinstance(p, (And, Or)):
            for a in p.args:
                check_prop(a, line)
        elif isinstance(p, Not):
            check_prop(p.arg, line)

    check_prop(test.condition.prop, test.condition.line)
    if test.filter is not None:
        check_prop(test.filter, test.condition.line)
    for loc in test.locations:
        if loc.proc is not None and loc.proc >= nprocs:
            raise src.err(test.condition.line, f"locations names P{loc.proc}, which does not exist")
