"""Scheduling strategies: who runs next when the engine has a choice.

Three methods make a strategy (after awslabs/shuttle's scheduler interface):
``prio(actor)`` gives the tie-break key of a heap entry (lower runs first
among entries due at the same instant), ``choose(candidates)`` picks an index
into the time-ordered candidates at a decision point (0 = the natural next
one, no preemption), and ``token_fields()`` says how to rebuild the strategy
from a replay token.  One class a policy:

* ``random[:P]``: seeded random tie-breaking; with P > 0, each decision point
  also preempts with probability P (stalls the natural next actor in favour
  of a uniformly chosen other one).
* ``pct:D[:K]``: Burckhardt, Kothari, Musuvathi and Nagarakatte, "A
  Randomized Scheduler with Probabilistic Guarantees of Finding Bugs"
  (ASPLOS 2010): random distinct priorities d..d+n-1, d-1 change points drawn
  uniformly from the first K steps; at each step the highest-priority
  runnable actor runs; at the i-th change point the running actor's priority
  drops to d-i.  Finds a depth-d bug with probability >= 1/(n*K^(d-1)).
  Virtual time still advances monotonically: actors PCT passes over are
  stalled, not run out of order.
* ``explicit``: a sparse list of non-zero choices (what Hypothesis drew, or
  what a replay token carries).
* ``replay:TOKEN``: rebuilds whichever of the above produced TOKEN.
"""
from __future__ import annotations

import random
from typing import Callable

from .replay import TokenError, decode_token

__all__ = ["Strategy", "RandomStrategy", "PCTStrategy", "ChoiceStrategy",
           "make_strategy", "StrategyError"]

_RANDOM, _PCT, _EXPLICIT = 1, 2, 3


class StrategyError(ValueError):
    pass


class Strategy:
    preemptive = False
    spec = "?"

    def attach(self, engine):
        self.engine = engine

    def start(self, engine):
        pass

    def prio(self, actor) -> int:
        return 0

    def choose(self, candidates) -> int:
        return 0

    def token_fields(self) -> list[int]:
        raise NotImplementedError


class RandomStrategy(Strategy):
    def __init__(self, preempt_ppm: int = 0):
        if not 0 <= preempt_ppm <= 1_000_000:
            raise StrategyError("random:P needs 0 <= P <= 1")
        self.preempt_ppm = preempt_ppm
        self.preemptive = preempt_ppm > 0
        self.spec = "random" if not preempt_ppm else f"random:{preempt_ppm / 1e6:g}"

    def attach(self, engine):
        super().attach(engine)
        self.rng = random.Random(engine.seed * 48271 + 11)
        self.prio = lambda actor, _g=self.rng.getrandbits: _g(31)

    def choose(self, candidates):
        if self.rng.random() * 1_000_000 < self.preempt_ppm:
            return self.rng.randrange(1, len(candidates))
        return 0

    def token_fields(self):
        return [_RANDOM, self.preempt_ppm]


class PCTStrategy(Strategy):
    preemptive = True

    def __init__(self, depth: int, steps: int = 1000):
        if depth < 1:
            raise StrategyError("pct:D needs D >= 1")
        if steps < 1:
            raise StrategyError("pct:D:K needs K >= 1")
        self.depth, self.steps = depth, steps
        self.spec = f"pct:{depth}" + (f":{steps}" if steps != 1000 else "")

    def attach(self, engine):
        super().attach(engine)
        self.rng = random.Random(engine.seed * 69621 + 5)

    def start(self, engine):
        n, d = len(engine.actors), self.depth
        pr = list(range(d, d + n))
        self.rng.shuffle(pr)
        self.priority = {a.id: p for a, p in zip(engine.actors, pr)}
        k = self.steps
        pts = self.rng.sample(range(1, k + 1), min(d - 1, k))
        # change point step -> the low priority it assigns (d-1 .. 1)
        # (the i-th point in time order gives d-i: each change point makes the
        # running actor the lowest so far, as in the paper's p[t] <- d - i)
        self.change = {s: d - 1 - i for i, s in enumerate(sorted(pts))}
        self.step = 0

    def choose(self, candidates):
        self.step += 1
        low = self.change.get(self.step)
        cur = self.engine.current
        if low is not None and cur is not None:
            self.priority[cur.id] = low
        best, best_i, i = -1, 0, 0
        prio = self.priority
        for e in candidates:
            p = prio.get(e[3].id)
            if p is None:
                p = self._new_actor(e[3].id)
            if p > best:
                best, best_i = p, i
            i += 1
        return best_i

    def _new_actor(self, aid):
        """An actor spawned mid-run takes the priority of a random existing
        one, which moves to a new top priority (as shuttle does), so
        priorities stay distinct and the newcomer's rank is uniform."""
        prio = self.priority
        ids = sorted(prio)
        top = max(prio.values()) + 1 if prio else self.depth
        k = self.rng.randrange(len(ids) + 1)
        other = ids[k] if k < len(ids) else None
        if other is None or other == aid:
            prio[aid] = top
        else:
            prio[aid], prio[other] = prio[other], top
        return prio[aid]

    def token_fields(self):
        return [_PCT, self.depth, self.steps]


class ChoiceStrategy(Strategy):
    """Choices from a function (Hypothesis's ``data.draw``) or a replay list.

    ``chooser(n)`` returns an index in ``range(n)``.  Non-zero choices are
    recorded sparsely by decision number, which is the whole replay token.
    """

    preemptive = True
    spec = "explicit"

    def __init__(self, chooser: Callable[[int], int] | None = None,
                 choices: dict[int, int] | None = None):
        self.chooser = chooser
        self.given = dict(choices or {})
        self.made: dict[int, int] = {}
        self.n = 0

    def choose(self, candidates):
        self.n += 1
        n = len(candidates)
        if self.chooser is not None:
            c = int(self.chooser(n))
        else:
            c = self.given.get(self.n, 0)
        c = min(max(c, 0), n - 1)
        if c:
            self.made[self.n] = c
        return c

    @property
    def preemptions(self) -> int:
        return len(self.made)

    def token_fields(self):
        out, last = [_EXPLICIT, len(self.made)], 0
        for k in sorted(self.made):
            out += [k - last, self.made[k]]
            last = k
        return out


def _number(text: str, typ, message: str):
    try:
        return typ(text)
    except ValueError:
        raise StrategyError(f"{message}, got {text!r}") from None


def _from_fields(fields: list[int]) -> Strategy:
    if not fields:
        raise TokenError("token has no strategy")
    code, rest = fields[0], fields[1:]
    if code == _RANDOM and len(rest) == 1:
        return RandomStrategy(rest[0])
    if code == _PCT and len(rest) == 2:
        return PCTStrategy(rest[0], rest[1])
    if code == _EXPLICIT and rest and len(rest) == 1 + 2 * rest[0]:
        choices, k = {}, 0
        for i in range(rest[0]):
            k += rest[1 + 2 * i]
            choices[k] = rest[2 + 2 * i]
        return ChoiceStrategy(choices=choices)
    raise TokenError("token names an unknown strategy")


def make_strategy(spec: str, seed: int, digest: int = 0) -> tuple[Strategy, int]:
    """Parse ``random``, ``random:P``, ``pct:D``, ``pct:D:K``, ``replay:TOKEN``.

    Returns the strategy and the seed to use (a replay token carries its own).
    ``digest``: the short hash of the scenario and options the run is made
    from; a replay token made for another one is refused (0: not checked).
    """
    spec = spec.strip()
    name, _, arg = spec.partition(":")
    try:
        if name == "random":
            if not arg:
                return RandomStrategy(), seed
            p = _number(arg, float, "random:P needs a probability P, as random:0.05")
            if not 0.0 <= p <= 1.0:
                raise StrategyError("random:P needs 0 <= P <= 1")
            return RandomStrategy(round(p * 1_000_000)), seed
        if name == "pct":
            d, _, k = arg.partition(":")
            if not d:
                raise StrategyError("pct needs a depth, as pct:3")
            return PCTStrategy(_number(d, int, "pct:D needs an integer depth D, as pct:3"),
                               _number(k, int, "pct:D:K needs an integer K, as pct:3:1000")
                               if k else 1000), seed
        if name == "replay":
            s, fields, tok_digest = decode_token(arg)
            if digest and tok_digest and digest != tok_digest:
                raise StrategyError(
                    f"the replay token was made for another scenario or other options "
                    f"(its scenario hash is {tok_digest:06x}, this run's is {digest:06x}): "
                    f"replay with the scenario, --set and --cpus/--duration of the run that "
                    f"printed it")
            return _from_fields(fields), s
    except TokenError as e:
        raise StrategyError(str(e)) from None
    raise StrategyError(f"unknown strategy {spec!r} (expected random, random:P, pct:D, "
                        f"pct:D:K or replay:TOKEN)")
