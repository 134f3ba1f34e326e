"""Property: over random lock programs, lockdep reports a circular dependency
if and only if the program's lock-order graph has a (strong) cycle, computed
here independently: the graph of dependencies lockdep records (held -> new,
from the top held lock, re-validated after out-of-order releases, once per
chain), searched exhaustively for simple cycles with a feasible assignment
of dependency types (no -(*R)-> followed by -(S*)->, as in Documentation/
locking/lockdep-design.rst), instead of lockdep's breadth-first search at
each new edge.

The CPUs run one after the other (staggered starts), so the simulated run
cannot deadlock first: lockdep must find every cycle by prediction."""
from hypothesis import given, settings

from mmactors.testing import LockProgram, lock_programs, run_scenario, schedules

# dependency type bits of prev -> next: bit0 = prev exclusive, bit1 = next
# non-recursive (SR=0, ER=1, SN=2, EN=3)


def _node(cls, sub):
    return f"{cls}/{sub}" if sub else cls


def order_graph(prog: LockProgram, rwlock_recursive=True):
    """node -> {node: set(types)} as lockdep builds it from this program."""
    inst = prog.instances()
    edges: dict = {}
    chains = set()

    def validate(held, e):
        chain = tuple((h[0], h[1]) for h in held) + ((e[0], e[1]),)
        if chain in chains:
            return
        chains.add(chain)
        if held:
            p = held[-1]
            t = (1 if p[1] == 0 else 0) | (2 if e[1] != 2 else 0)
            edges.setdefault(p[0], {}).setdefault(e[0], set()).add(t)

    for steps in prog.programs.values():
        held = []                       # (node, read, instance name)
        for s in steps:
            verb, name, *rest = s.split()
            kind, cls = inst[name]
            if verb in ("lock", "read_lock", "lock_nested"):
                sub = int(rest[0]) if verb == "lock_nested" else 0
                if verb == "read_lock":
                    read = 2 if kind == "rwlock" and rwlock_recursive else 1
                else:
                    read = 0
                e = (_node(cls, sub), read, name)
                validate(held, e)
                held.append(e)
            else:
                i = max(j for j, h in enumerate(held) if h[2] == name)
                above = held[i + 1:]
                del held[i:]
                for e in above:         # reacquire_held_locks()
                    validate(held, e)
                    held.append(e)
    return edges


def _compatible(t_in, t_out):
    # -(*R)-> then -(S*)-> is not a strong path
    return not ((t_in & 2) == 0 and (t_out & 1) == 0)


def strong_cycle(edges):
    """A simple cycle with a feasible type assignment, or None."""
    nodes = sorted(set(edges) | {v for d in edges.values() for v in d})
    index = {n: i for i, n in enumerate(nodes)}

    def feasible(cyc):
        k = len(cyc)
        types = [edges[cyc[i]][cyc[(i + 1) % k]] for i in range(k)]
        for t0 in types[0]:
            cur = {t0}
            for i in range(1, k):
                cur = {t for t in types[i] if any(_compatible(c, t) for c in cur)}
                if not cur:
                    break
            if any(_compatible(c, t0) for c in cur):
                return True
        return False

    def dfs(start, path, on):
        for v in edges.get(path[-1], ()):
            if v == start:
                if feasible(path):
                    return list(path)
            elif v not in on and index[v] > index[start]:
                on.add(v)
                path.append(v)
                r = dfs(start, path, on)
                if r:
                    return r
                path.pop()
                on.discard(v)
        return None

    for s in nodes:
        r = dfs(s, [s], {s})
        if r:
            return r
    return None


@settings(max_examples=150, deadline=None)
@given(prog=lock_programs())
def test_circular_iff_cycle(prog):
    prog.stagger_ns = 200_000
    res = run_scenario(prog, lockdep=True, hierarchy=False)
    cyc = strong_cycle(order_graph(prog))
    kinds = [r["kind"] for r in res.to_json()["lockdep"]["reports"]]
    assert kinds in ([], ["circular"]), kinds
    assert res.error is None or kinds, res.error.report()
    assert (kinds == ["circular"]) == (cyc is not None), (kinds, cyc)
    if kinds:
        # the reported chain is a path of real dependencies, closed by the new one
        rep = res.to_json()["lockdep"]["reports"][0]["classes"]
        g = order_graph(prog)
        for a, b in zip(rep, rep[1:] + rep[:1]):
            assert b in g.get(a, {}), (a, b, g)


@settings(max_examples=80, deadline=None)
@given(prog=lock_programs(), schedule=schedules(p=0.2))
def test_no_deadlock_before_a_report(prog, schedule):
    """Concurrent runs under Hypothesis schedules: with the x86 rwlock rule
    (rwlock_read = "queued", which is what the simulated qrwlock does) the
    simulator never deadlocks before lockdep has reported the cycle."""
    res = run_scenario(prog, schedule=schedule, lockdep=True, hierarchy=False,
                       rwlock_read="queued")
    assert res.exit_status in (0, 4), res.error.report()
    if res.exit_status == 4:
        assert strong_cycle(order_graph(prog, rwlock_recursive=False)) is not None


def test_oracle_sanity():
    p = LockProgram(locks={"A": "rwlock", "B": "spinlock"},
                    programs={0: ["read_lock A", "lock B", "unlock B", "read_unlock A"],
                              1: ["lock B", "read_lock A", "read_unlock A", "unlock B"]})
    assert strong_cycle(order_graph(p)) is None              # rlock ABBA2: fine
    assert strong_cycle(order_graph(p, rwlock_recursive=False)) is not None
    p.locks["A"] = "rwsem"
    assert strong_cycle(order_graph(p)) == ["A", "B"]
