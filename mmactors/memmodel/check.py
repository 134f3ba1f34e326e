"""Checking a litmus test against a model, herd7 style.

Every candidate execution (see ``executions``) is given to the model; those it
allows and that pass the ``filter`` are counted, like herd7 counts them:
``positive``/``negative`` are the numbers of allowed executions whose final
state does / does not satisfy the proposition of the final condition, and the
set of their final states (restricted to the locations of the condition and
of ``locations [...]``) is printed as ``States``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path
from typing import Optional, Union

from .budget import Budget, Meter
from .errors import EvalError, LitmusError
from .executions import Skeleton, candidates, sc_acyclic, solutions
from .litmus import parse_litmus
from .models import MODELS
from .feasible import combinations
from .product import factor
from .srcu import collapse
from .symexec import ThreadExecutor
from .syntax import And, Atom, Bool, LitmusTest, LocRef, Not, Or
from .terms import Addr, Var, evaluate

KINDS = {"exists": "Allowed", "~exists": "Forbidden", "forall": "Required"}


@dataclass
class Result:
    name: str
    model: str
    quantifier: str
    condition: str                     # e.g. "exists (0:r0=0 /\ 1:r0=0)"
    locations: list                    # displayed LocRefs, herd7 order
    states: list                       # sorted tuples of values, one per location
    positive: int
    negative: int
    flags: list = field(default_factory=list)
    stats: dict = field(default_factory=dict)   # candidates, full_checks, allowed

    @property
    def kind(self) -> str:
        return KINDS[self.quantifier]

    @property
    def ok(self) -> bool:
        if self.quantifier == "exists":
            return self.positive > 0
        if self.quantifier == "~exists":
            return self.positive == 0
        return self.negative == 0

    @property
    def witnesses(self) -> tuple[int, int]:
        if self.quantifier == "~exists":
            return self.negative, self.positive
        return self.positive, self.negative

    @property
    def observation(self) -> str:
        if self.positive == 0:
            return "Never"
        if self.negative == 0:
            return "Always"
        return "Sometimes"

    def state_strings(self) -> list:
        # One format string for all states (a 20-process ring has a million):
        # str.format prints an int as str() does and an Addr as its name.
        locs, states = self.locations, self.states
        if len(states) < 4096 or len(locs) < 4:
            fmt = state_format(locs)
            return [fmt(*st) for st in states]
        # Many states: sorted, so the first half of consecutive states
        # repeats, and the second half takes few values: format each half
        # once (twice as fast).
        h = len(locs) // 2
        head_fmt, tail_fmt = state_format(locs[:h]), state_format(locs[h:])
        out = []
        last = head = None
        tails: dict = {}
        for st in states:
            x = st[:h]
            if x != last:
                last, head = x, head_fmt(*x) + " "
            y = st[h:]
            tail = tails.get(y)
            if tail is None:
                if len(tails) > 65536:
                    tails.clear()          # a cache, kept bounded
                tail = tails[y] = tail_fmt(*y)
            out.append(head + tail)
        return out


def format_value(v) -> str:
    return v.name if isinstance(v, Addr) else str(v)


def format_state(locations: list, values: tuple) -> str:
    return " ".join(f"{loc}={format_value(v)};" for loc, v in zip(locations, values))


def state_format(locations: list):
    """``format_state`` for many states: a function of the values."""
    template = " ".join(str(loc).replace("{", "{{").replace("}", "}}") + "={};"
                        for loc in locations)
    return template.format


def format_prop(p, top: bool = True) -> str:
    if isinstance(p, Atom):
        value = str(p.value) if isinstance(p.value, LocRef) else format_value(p.value)
        return f"{p.loc}{'!=' if p.negated else '='}{value}"
    if isinstance(p, Bool):
        return "true" if p.value else "false"
    if isinstance(p, Not):
        inner = format_prop(p.arg, False)
        return f"~{inner}" if isinstance(p.arg, (Atom, Bool)) else f"~({inner})"
    if isinstance(p, And):
        return " /\\ ".join(
            f"({format_prop(a, False)})" if isinstance(a, Or) else format_prop(a, False)
            for a in p.args)
    if isinstance(p, Or):
        return " \\/ ".join(
            f"({format_prop(a, False)})" if isinstance(a, And) else format_prop(a, False)
            for a in p.args)
    raise TypeError(p)


def _value_key(v):
    # herd7 orders concrete integers before symbolic addresses.
    return (1, v.name) if isinstance(v, Addr) else (0, v)


def _atoms(p):
    """The atoms of a proposition, left to right."""
    if isinstance(p, Atom):
        yield p
    elif isinstance(p, (And, Or)):
        for a in p.args:
            yield from _atoms(a)
    elif isinstance(p, Not):
        yield from _atoms(p.arg)


def _prop_locs(p, out: list) -> None:
    for a in _atoms(p):
        for loc in (a.loc, a.value):
            if isinstance(loc, LocRef) and loc not in out:
                out.append(loc)


def prop_locations(test) -> tuple[list, list]:
    """The locations the outcome shows (condition and ``locations``, sorted) and
    those a run must record (these plus the filter's)."""
    shown: list = []
    _prop_locs(test.condition.prop, shown)
    for loc in test.locations:
        if loc not in shown:
            shown.append(loc)
    shown.sort(key=LocRef.key)
    needed = list(shown)
    if test.filter is not None:
        _prop_locs(test.filter, needed)
    return shown, needed


def _prop_values(p, out: list) -> None:
    out.extend(a.value for a in _atoms(p) if not isinstance(a.value, LocRef))


def eval_prop(p, state: dict) -> bool:
    if isinstance(p, Atom):
        value = state[p.value] if isinstance(p.value, LocRef) else p.value
        eq = state[p.loc] == value
        return not eq if p.negated else eq
    if isinstance(p, And):
        return all(eval_prop(a, state) for a in p.args)
    if isinstance(p, Or):
        return any(eval_prop(a, state) for a in p.args)
    if isinstance(p, Not):
        return not eval_prop(p.arg, state)
    return p.value


def shared_locations(test: LitmusTest) -> tuple[list, dict, set]:
    """All shared locations (sorted), their initial values, and the spinlocks."""
    names = set(test.init)
    locks = {n for n, e in test.init.items() if e.is_lock}
    for proc in test.processes:
        for p in proc.params:
            names.add(p.name)
            if p.ctype.startswith("spinlock_t"):
                locks.add(p.name)
    for e in list(test.init.values()) + list(test.reg_init.values()):
        if isinstance(e.value, Addr):
            names.add(e.value.name)
    init_values = {}
    for n in names:
        e = test.init.get(n)
        init_values[n] = e.value if e is not None else 0
    return sorted(names), init_values, locks


class CheckerDefect(LitmusError):
    """The checker contradicts itself (e.g. it allows no execution of a test
    that has some): a bug to report, not a problem with the test."""


def check(test: Union[LitmusTest, str, Path], model: str = "lkmm", *,
          budget: Optional[Budget] = None, progress=None, fast: bool = True) -> Result:
    """Check ``test`` (a parsed test, source text or path) under ``model``.

    ``budget`` caps the candidate executions examined or the seconds spent
    (:class:`~.budget.BudgetExceeded` is raised when it runs out);
    ``progress(meter)`` is called every few hundred candidates.
    ``fast=False`` gives every candidate to the model's full check, with no
    shortcut (the tests compare both ways)."""
    if not isinstance(test, LitmusTest):
        test = parse_litmus(test)
    if model not in MODELS:
        raise ValueError(f"unknown model {model!r} (choose from {', '.join(MODELS)})")
    mod = MODELS[model]
    path = test.path
    cond_line = test.condition.line
    locations, init_values, locks = shared_locations(test)
    locset = set(locations)

    shown, needed = prop_locations(test)
    values: list = []
    _prop_values(test.condition.prop, values)
    if test.filter is not None:
        _prop_values(test.filter, values)
    for loc in needed:
        if loc.proc is None and loc.name not in locset:
            raise LitmusError(path, cond_line, f"unknown location '{loc.name}' in condition")
    for v in values:
        if isinstance(v, Addr) and v.name not in locset:
            raise LitmusError(path, cond_line, f"unknown location '{v.name}' in condition")
    lock_final = any(loc.proc is None and loc.name in locks for loc in shown)

    per_thread = []
    invalid: list = []            # (line, message) of discarded executions
    for tid, proc in enumerate(test.processes):
        # A register the condition names but the process never writes holds
        # its initial value, as in herd7 (even one named nowhere else).
        ex = ThreadExecutor(path, tid, proc, test.reg_init, locset)
        per_thread.append(ex.paths())
        invalid.extend(ex.invalid)

    meter = Meter(budget, progress)
    meter.extra = {"test": test.name, "allowed": 0, "states": 0}
    index = {loc: k for k, loc in enumerate(needed)}
    reg_slots = [(k, loc.proc, loc.name) for k, loc in enumerate(needed) if loc.proc is not None]
    loc_slots = [(k, loc.name) for k, loc in enumerate(needed) if loc.proc is None]
    shown_slots = [index[loc] for loc in shown]
    holds = compile_prop(test.condition.prop, index)
    keep = compile_prop(test.filter, index) if test.filter is not None else None
    # Final states, in the order found: a dict (an ordered set), since the
    # product path finds them in long sorted runs that sorting then merges
    # in linear time (a set's hash order costs 3.5 s for a million states).
    states: dict = {}
    ints = True                   # every value in states is an int
    pos = neg = 0
    flags: set = set()
    full_checks = allowed_count = 0
    search_stats: dict = {}       # branches cut early (see executions._Tracker)
    deadlock_ok = False           # every execution may legitimately be rejected
    for combo in combinations(per_thread, init_values, locations):
        skel = Skeleton(path, locations, init_values, list(combo))
        deadlock_ok = deadlock_ok or _waits_for_itself(skel)
        # SRCU readers: one srcu_struct option searched, each allowed
        # execution counted for all of them (srcu.py); 1 when not applicable.
        mult = collapse(skel, mod, reg_slots, loc_slots) if fast else 1
        # (where the struct's order can close a cycle, some executions are
        # allowed by fewer than ``mult`` orders: srcu.OrderCounter counts them)
        counter = getattr(skel, "srcu_counter", None) if fast else None
        fac = factor(skel, locset, mod, reg_slots, loc_slots, len(needed),
                     init_values) if fast else None
        srcu_fix = None
        if fac is not None:
            # Many processes, constant values: a product (see product.py).
            fac.meter = meter
            blocks = fac.blocks()
            race = False
            if fac.race:
                blocks = list(blocks)
                race = fac.find_race(blocks, keep)
                if race is None:
                    fac = None            # no race found soon: the search decides
            if fac is not None and counter is not None:
                blocks = list(blocks)
                srcu_fix = counter.correction(fac, blocks, keep, holds)
                if srcu_fix is None:
                    fac = None            # the search weighs each execution
        if fac is not None:
            for chosen, rem, cflags in blocks:
                fac.nblocks += 1
                a, kept, p, n = fac.tally(chosen, rem, keep, holds, len(shown), states, meter)
                a, kept, p, n = a * mult, kept * mult, p * mult, n * mult
                ints = ints and fac.ints
                allowed_count += a
                pos += p
                neg += n
                meter.extra["allowed"] = allowed_count
                meter.extra["states"] = len(states)
                if kept:
                    # A block's flags are one execution's: its data race, if
                    # any, is find_race's to report (it applies the filter).
                    flags |= (cflags - {"data-race"}) if fac.race else cflags
                    if race:
                        flags.add("data-race")
                    if lock_final:
                        flags.add("lock-final")
            if srcu_fix is not None:
                allowed_count -= srcu_fix[0]
                pos -= srcu_fix[1]
                neg -= srcu_fix[2]
            full_checks += fac.full_checks
            search_stats["blocks"] = search_stats.get("blocks", 0) + fac.nblocks
            search_stats["pruned"] = search_stats.get("pruned", 0) + fac.pruned
            search_stats["partial_checks"] = search_stats.get("partial_checks", 0) + fac.tries
            continue
        for sol in solutions(skel, locset, invalid, incremental=fast, tick=meter.poll_time,
                             prune=mod.check if fast else None, stats=search_stats):
            values = _register_values(sol, reg_slots, len(needed), invalid)
            if values is None:
                continue
            for cand in candidates(sol):
                meter.step()
                if fast and sc_acyclic(cand) and not mod.needs_check(cand, flags):
                    allowed, cflags = True, mod.flags_of(cand)
                else:
                    full_checks += 1
                    try:
                        allowed, cflags = mod.check(cand)
                    except ValueError as e:
                        raise LitmusError(path, 0, str(e)) from None
                if not allowed:
                    continue
                if not _location_values(sol, cand, loc_slots, values, init_values, invalid):
                    continue
                m = mult if counter is None else counter.weight(cand)
                allowed_count += m
                meter.extra["allowed"] = allowed_count
                if keep is not None and not keep(values):
                    continue
                if holds(values):
                    pos += m
                else:
                    neg += m
                st = tuple([values[k] for k in shown_slots])
                if st not in states:
                    states[st] = None
                    if ints and not all(type(v) is int for v in st):
                        ints = False
                    meter.extra["states"] = len(states)
                if cflags:
                    flags |= cflags
                if lock_final:
                    flags.add("lock-final")
    seen = meter.steps
    pruned = search_stats.get("pruned", 0)
    if not seen and not pruned and invalid:
        line, message = min(invalid)
        raise LitmusError(path, line, f"{message} in every execution")
    if (seen or pruned) and not allowed_count and not deadlock_ok:
        cut = f", {pruned} branches cut early" if pruned else ""
        raise CheckerDefect(path, None, f"internal error: the {model} model rejects every "
                            f"execution of test {test.name} ({seen} candidate executions"
                            f"{cut}); a checker defect, please report it")
    if ints:
        ordered = sorted(states)          # the same order, without key tuples
    else:
        ordered = sorted(states, key=lambda st: tuple(_value_key(v) for v in st))
    cond_text = f"{test.condition.quantifier} ({format_prop(test.condition.prop)})"
    return Result(test.name, model, test.condition.quantifier, cond_text, shown, ordered,
                  pos, neg, sorted(flags),
                  stats={"candidates": seen, "full_checks": full_checks,
                         "allowed": allowed_count, "pruned_branches": pruned,
                         "partial_checks": search_stats.get("partial_checks", 0),
                         "product_blocks": search_stats.get("blocks", 0)})


def compile_prop(p, index: dict):
    """A function of the list of values (positions from ``index``) that
    evaluates proposition ``p``, like :func:`eval_prop` but without dicts."""
    if isinstance(p, Atom):
        i = index[p.loc]
        neg = p.negated
        if isinstance(p.value, LocRef):
            j = index[p.value]
            return lambda vals: (vals[i] == vals[j]) != neg
        v = p.value
        f = lambda vals: (vals[i] == v) != neg
        if not neg:
            f.conj = [(i, v)]
        return f
    if isinstance(p, And):
        if all(isinstance(a, Atom) and not a.negated and not isinstance(a.value, LocRef)
               for a in p.args):
            # The usual "exists (0:r1=1 /\ 1:r1=1 /\ ...)": one C-level compare.
            getter = itemgetter(*[index[a.loc] for a in p.args])
            target = tuple(a.value for a in p.args)
            if len(target) == 1:
                target = target[0]
            f = lambda vals: getter(vals) == target
            # The conjunction as (position, value) pairs: product.py counts
            # the states of a product that satisfy it without visiting them.
            f.conj = [(index[a.loc], a.value) for a in p.args]
            return f
        fs = [compile_prop(a, index) for a in p.args]
        return lambda vals: all(f(vals) for f in fs)
    if isinstance(p, Or):
        fs = [compile_prop(a, index) for a in p.args]
        return lambda vals: any(f(vals) for f in fs)
    if isinstance(p, Not):
        f = compile_prop(p.arg, index)
        return lambda vals: not f(vals)
    value = p.value
    return lambda vals: value


def _register_values(sol, reg_slots, size: int, invalid: list) -> Optional[list]:
    """A value list with the registers' final values filled in; None (the
    solution discarded, as herd7 does) if one cannot be computed."""
    values = [None] * size
    skel = sol.skel
    terms = skel.cache.get("reg_terms")
    if terms is None:
        terms = skel.cache["reg_terms"] = [(k, skel.paths[proc].reg(name))
                                           for k, proc, name in reg_slots]
    env = sol.env
    try:
        for k, term in terms:
            # Most final registers are just a value read: no evaluation.
            values[k] = env[term.key] if type(term) is Var else evaluate(term, env)
    except EvalError as e:
        invalid.append((e.line, e.message))
        return None
    return values


def _location_values(sol, cand, loc_slots, values: list, init_values: dict,
                     invalid: list) -> bool:
    """Fill in the final values of the shared locations (the co-last write)."""
    events = sol.skel.events
    try:
        for k, name in loc_slots:
            w = cand.last_write(name)
            if w is None:
                values[k] = init_values.get(name, 0)
                continue
            kind = events[w].kind
            # Lock words read as herd7's lock values: 1 when held, 0 when free.
            values[k] = 1 if kind == "LKW" else 0 if kind == "UL" else sol.value(w)
    except EvalError as e:
        invalid.append((e.line, e.message))
        return False
    return True


def _waits_for_itself(skel) -> bool:
    """A grace period inside a read-side critical section of its own thread
    never ends (the LKMM's rcu axiom rejects every such execution)."""
    from .models.lkmm import rcu_rscs
    gps = skel.fence_tags.get("sync-rcu", 0) | skel.Sync_srcu
    if not gps:
        return False
    if skel.Sync_srcu and skel.Srcu_lock:
        return True     # SRCU sections are matched per execution; do not guess
    rscs, _ = rcu_rscs(skel)
    for lock, unlock in rscs.pairs():
        if skel.po.r[lock] & ~skel.po.r[unlock] & gps:
            return True
    return False
