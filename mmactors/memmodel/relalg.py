"""Relation algebra on small event sets, with Python ints as bitsets.

A set of events is an int (bit i = event i); a relation is a :class:`Rel`
holding one row bitset per event.  The operators mirror herd7's cat language
so that model code reads like the .cat files:

    cat           here
    r | s         r | s
    r & s         r & s
    r \\ s         r - s
    r ; s         r @ s
    r^-1          r.inv()
    r+, r*, r?    r.plus(), r.star(), r.opt()
    [S] ; r ; [T] r.restrict(S, T)
    S * T         cart(n, S, T)

Litmus executions have a few dozen events at most, so row bitsets are faster
than numpy matrices here (no per-call array overhead).
"""

from __future__ import annotations


def acyclic_rows(rows, remaining: int) -> bool:
    """Whether the graph ``rows`` (successor bitsets) restricted to the nodes in
    ``remaining`` is acyclic: nodes without successors never lie on a cycle,
    so peel them off until nothing or only cycles remain.  Nodes are taken
    from the highest down and peeled at once (events are numbered in
    program order, so a chain goes in one pass, not one pass per node)."""
    while remaining:
        before = remaining
        m = remaining
        while m:
            top = m.bit_length() - 1
            bit = 1 << top
            m ^= bit
            if not (rows[top] & remaining):
                remaining ^= bit
        if remaining == before:
            return False
    return True


# Below this many events the plain loops are quicker than the bookkeeping
# that makes large relations quick (the generated MP/LB/SB tests: 7 events).
SMALL = 16

# restrict()'s row masks per (domain set, size): -1 keeps a row, 0 drops it.
_row_masks: dict = {}


class Rel:
    __slots__ = ("r",)

    def __init__(self, rows: list[int]) -> None:
        self.r = rows

    @staticmethod
    def empty(n: int) -> "Rel":
        return Rel([0] * n)

    @staticmethod
    def from_pairs(n: int, pairs) -> "Rel":
        rows = [0] * n
        for a, b in pairs:
            rows[a] |= 1 << b
        return Rel(rows)

    def copy(self) -> "Rel":
        return Rel(list(self.r))

    def __len__(self) -> int:
        return len(self.r)

    def __or__(self, o: "Rel") -> "Rel":
        return Rel([a | b for a, b in zip(self.r, o.r)])

    def __and__(self, o: "Rel") -> "Rel":
        return Rel([a & b for a, b in zip(self.r, o.r)])

    def __sub__(self, o: "Rel") -> "Rel":
        return Rel([a & ~b for a, b in zip(self.r, o.r)])

    def __matmul__(self, o: "Rel") -> "Rel":
        """Sequential composition ``self ; o``.

        A row of ``o`` that is empty adds nothing, and one that holds only
        its own event (an ``r?`` or ``r*`` on an event with no successor)
        adds that event: each row of ``self`` keeps its bits of the second
        kind as they are and loops over the rest only (most relations a
        model composes are sparse, or closures whose rows are mostly the
        identity)."""
        orows = o.r
        if len(orows) < SMALL:
            out = []
            for x in self.r:
                acc = 0
                while x:
                    low = x & -x
                    acc |= orows[low.bit_length() - 1]
                    x ^= low
                out.append(acc)
            return Rel(out)
        live = 0                  # rows that add more than their own event
        same = 0                  # rows that are exactly their own event
        bit = 1
        for y in orows:
            if y:
                if y == bit:
                    same |= bit
                else:
                    live |= bit
            bit <<= 1
        if not live:
            return Rel([x & same for x in self.r])
        out = []
        append = out.append
        for x in self.r:
            acc = x & same
            x &= live
            while x:
                low = x & -x
                acc |= orows[low.bit_length() - 1]
                x ^= low
            append(acc)
        return Rel(out)

    def __eq__(self, o: object) -> bool:
        return isinstance(o, Rel) and self.r == o.r

    def inv(self) -> "Rel":
        n = len(self.r)
        out = [0] * n
        for i, x in enumerate(self.r):
            bit = 1 << i
            while x:
                low = x & -x
                out[low.bit_length() - 1] |= bit
                x ^= low
        return Rel(out)

    def restrict(self, dom: int, rng: int) -> "Rel":
        """``[dom] ; self ; [rng]``."""
        r = self.r
        n = len(r)
        full = (1 << n) - 1
        if dom & full == full:
            return Rel([x & rng for x in r])
        if n < SMALL:
            return Rel([(x & rng) if (dom >> i) & 1 else 0 for i, x in enumerate(r)])
        masks = _row_masks.get((dom, n))
        if masks is None:
            if len(_row_masks) > 4096:
                _row_masks.clear()          # a cache, kept bounded
            masks = _row_masks[(dom, n)] = [-((dom >> i) & 1) for i in range(n)]
        return Rel([x & rng & m for x, m in zip(r, masks)])

    def dom(self) -> int:
        s = 0
        for i, x in enumerate(self.r):
            if x:
                s |= 1 << i
        return s

    def rng(self) -> int:
        s = 0
        for x in self.r:
            s |= x
        return s

    def plus(self) -> "Rel":
        """Transitive closure.

        A node whose successors are all closed is closed by one OR over
        its direct successors' closed rows.  Nodes are visited from the
        highest index down (events are numbered in program order, so most
        successors come first): a few passes close an acyclic relation in
        time linear in its edges.  A cycle stops the passes (its nodes
        wait on each other); Warshall then finishes from the rows closed
        so far (any relation between r and r+ closes to r+)."""
        src = self.r
        r = list(src)
        if len(r) < SMALL:
            return Rel(_warshall(r))
        pending = [i for i in range(len(src) - 1, -1, -1) if src[i]]
        open_ = 0
        for i in pending:
            open_ |= 1 << i
        while pending:
            left = []
            for v in pending:
                x = src[v]
                if x & open_:
                    left.append(v)     # waits on a successor not closed yet
                    continue
                acc = x
                while x:
                    low = x & -x
                    acc |= r[low.bit_length() - 1]
                    x ^= low
                r[v] = acc
                open_ ^= 1 << v
            if len(left) == len(pending):
                return Rel(_warshall(r))   # a cycle
            pending = left
        return Rel(r)

    def plus_warshall(self) -> "Rel":
        """Transitive closure by Warshall's algorithm alone (the reference
        the tests compare :meth:`plus` with)."""
        return Rel(_warshall(list(self.r)))

    def star(self) -> "Rel":
        r = self.plus().r
        return Rel([x | (1 << i) for i, x in enumerate(r)])

    def opt(self) -> "Rel":
        return Rel([x | (1 << i) for i, x in enumerate(self.r)])

    def no_id(self) -> "Rel":
        """``self \\ id``."""
        return Rel([x & ~(1 << i) for i, x in enumerate(self.r)])

    def is_empty(self) -> bool:
        return not any(self.r)

    def irreflexive(self) -> bool:
        return not any((x >> i) & 1 for i, x in enumerate(self.r))

    def acyclic(self) -> bool:
        """No cycle: repeatedly remove events with no successor left."""
        rows = self.r
        remaining = 0
        for i, x in enumerate(rows):
            if x:
                remaining |= 1 << i
        return acyclic_rows(rows, remaining)

    def pairs(self):
        for i, x in enumerate(self.r):
            while x:
                low = x & -x
                yield i, low.bit_length() - 1
                x ^= low


def _warshall(r: list) -> list:
    """Close the rows ``r`` in place: Warshall's algorithm on row bitsets."""
    n = len(r)
    for k in range(n):
        rk = r[k]
        if not rk:
            continue
        mk = 1 << k
        for i in range(n):
            if r[i] & mk:
                r[i] |= rk
    return r


def ident(n: int, s: int) -> Rel:
    """``[s]``: the identity on set ``s``."""
    return Rel([(1 << i) if (s >> i) & 1 else 0 for i in range(n)])


def cart(n: int, s: int, t: int) -> Rel:
    """``s * t``."""
    return Rel([t if (s >> i) & 1 else 0 for i in range(n)])


def bits(s: int):
    while s:
        low = s & -s
        yield low.bit_length() - 1
        s ^= low
