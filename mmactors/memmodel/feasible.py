"""Choosing one control path per thread without the combinations no
execution can take (issue 17.6: rings of ``if`` statements).

diy writes a control dependency as ``if (r0 == 1) { ... }``: each such
thread has two paths, and a ring of N of them 2**N combinations, each a
skeleton searched on its own.  Most cannot happen: a path that needs r0 ==
1 needs some write of 1 to r0's location, and in a ring that write is on
the taken path of the previous thread.  :func:`combinations` walks the
threads depth first and drops a partial choice as soon as a branch
condition of a chosen path can be met by no value its reads could return:
the initial value, the writes of the paths chosen so far, and the writes
of every path of the threads not chosen yet.  That is an over-approximation
of what a read can return in any execution of a completed choice, so no
combination with an execution is dropped (a dropped one has no candidate
execution at all; every other is searched as before, in the same order).

A location some write reaches through a computed address, a computed
value, or a lock primitive is unknown (anything may be read there), and a
condition on it is never used to drop anything.
"""

from __future__ import annotations

import itertools
from math import prod

from .errors import EvalError
from .terms import Addr, Unresolved, evaluate, truth

MIN_COMBINATIONS = 64     # below this, itertools.product as before
MAX_ASSIGNMENTS = 4096    # value combinations tried per condition

_ANY = "any"              # a location whose values are not known


def _summary(path):
    """(location -> set of values or _ANY, every location unknown?) of the
    writes on one path."""
    out: dict = {}
    for ev in path.events:
        if ev.kind == "R" or ev.kind == "F":
            continue
        loc = ev.loc
        if loc is None:
            continue
        if loc.vars:
            return out, True
        name = loc.value.name if isinstance(loc.value, Addr) else None
        if name is None:
            return out, True
        if ev.kind != "W" or ev.val is None or ev.val.vars:
            out[name] = _ANY
            continue
        try:
            v = evaluate(ev.val, {})
        except (EvalError, Unresolved):
            out[name] = _ANY
            continue
        cur = out.setdefault(name, set())
        if cur is not _ANY:
            cur.add(v)
    return out, False


def _merge(into: dict, summary: dict) -> None:
    for name, vals in summary.items():
        cur = into.get(name)
        if cur is _ANY:
            continue
        if vals is _ANY:
            into[name] = _ANY
        elif cur is None:
            into[name] = set(vals)
        else:
            cur |= vals


def _satisfiable(path, domains: dict) -> bool:
    """Can every branch condition of ``path`` hold for some values its
    reads could return?"""
    reads = {}
    for ev in path.events:
        if ev.kind == "R" and ev.val is not None and len(ev.val.vars) == 1:
            reads[next(iter(ev.val.vars))] = ev
    for term, expected, _line in path.constraints:
        keys = sorted(term.vars)
        doms = []
        for key in keys:
            ev = reads.get(key)
            if ev is None or ev.loc is None or ev.loc.vars or not isinstance(ev.loc.value, Addr):
                return True
            d = domains.get(ev.loc.value.name)
            if d is None or d is _ANY:
                return True
            doms.append(list(d))
        if prod(len(d) for d in doms) > MAX_ASSIGNMENTS:
            continue
        for combo in itertools.product(*doms):
            try:
                if truth(evaluate(term, dict(zip(keys, combo)))) == expected:
                    break
            except (EvalError, Unresolved):
                break                  # an error is not ours to decide: keep it
        else:
            return False
    return True


def combinations(per_thread: list, init_values: dict, locations: list):
    """The combinations of ``itertools.product(*per_thread)`` that may have
    an execution, in the same order."""
    if prod(len(p) for p in per_thread) < MIN_COMBINATIONS:
        yield from itertools.product(*per_thread)
        return
    summaries = [[_summary(p) for p in paths] for paths in per_thread]
    if any(unknown for paths in summaries for _, unknown in paths):
        yield from itertools.product(*per_thread)
        return
    init: dict = {name: {init_values.get(name, 0)} for name in locations}
    # What every path of threads t.. may write (suffix unions).
    n = len(per_thread)
    rest = [dict() for _ in range(n + 1)]
    for t in range(n - 1, -1, -1):
        rest[t] = {k: (v if v is _ANY else set(v)) for k, v in rest[t + 1].items()}
        for s, _ in summaries[t]:
            _merge(rest[t], s)
    chosen: list = []

    def domains_with(t: int) -> dict:
        d = {k: set(v) for k, v in init.items()}
        for c in range(t):
            _merge(d, summaries[c][chosen[c]][0])
        _merge(d, rest[t])
        return d

    def walk(t: int):
        if t == n:
            yield tuple(per_thread[c][chosen[c]] for c in range(n))
            return
        for j in range(len(per_thread[t])):
            chosen.append(j)
            doms = domains_with(t + 1)
            if all(_satisfiable(per_thread[c][chosen[c]], doms) for c in range(t + 1)):
                yield from walk(t + 1)
            chosen.pop()

    yield from walk(0)
