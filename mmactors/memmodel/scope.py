"""herd7's register rules for C litmus processes (shared by ``symexec`` and
the engine ``runner``).

herd7 gives each process one flat set of registers (herd/CSem.ml: a
declaration is a no-op, ``C.DeclReg _ -> unitT``; every name is a register
location ``(proc, r)``), so:

* a register declared inside an ``if`` block is the same register outside
  it, and may appear in the final condition;
* a register that has not been written yet holds its initial value: the
  value the init block gives it (``0:r4=1;``), else 0 -- also in an
  initialiser that names the register it declares
  (``intptr_t r4 = (r1 != r4);`` reads r4 as 0);
* registers need no declaration at all (diy writes ``r0 = READ_ONCE(*z);``),
  and the final condition may name one the process never mentions (it
  reads its initial value: herd7 shows it, e.g. ``locations [0:r1]``);
* a parameter ``int *x`` is a register holding the address of ``x``.

One guard herd7 does not have: a shared location's name used in a process
that does not take it as a parameter is refused (it would be a register
holding 0, almost certainly a mistake in the test).
"""

from __future__ import annotations

from .syntax import Assign, Block, Decl, If, Process
from .terms import Addr


def initial_registers(proc: Process, tid: int, reg_init: dict) -> dict:
    """Initial register values of process ``tid``: parameters hold their
    location's address, then the init block's ``tid:reg=value`` entries."""
    regs: dict = {p.name: Addr(p.name) for p in proc.params}
    for (pid, reg), entry in reg_init.items():
        if pid == tid:
            regs[reg] = entry.value
    return regs


def register_names(proc: Process) -> set:
    """Names the body declares or assigns, at any depth (herd7's registers)."""
    names: set = set()
    todo = list(proc.body.stmts)
    while todo:
        s = todo.pop()
        if isinstance(s, (Decl, Assign)):
            names.add(s.name)
        elif isinstance(s, Block):
            todo.extend(s.stmts)
        elif isinstance(s, If):
            todo.append(s.then)
            if s.other is not None:
                todo.append(s.other)
    return names
