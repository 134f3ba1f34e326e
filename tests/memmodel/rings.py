"""Cycles of many processes, written as herdtools' diy writes C tests
(shared by test_product.py and tools/bench/litmus.py).

Process i makes two accesses: the first to x_i, the second to x_{i+1}
(x_n is x_0), with a separator between them.  The communication edge from
process i-1's second access to process i's first access on x_i is

* ``rf``: process i-1 writes 1, process i reads it (exists ``i:r0=1``);
* ``fr``: process i-1 reads the initial 0 (exists ``i-1:r1=0``), process i
  writes 1;
* ``co``: process i-1 writes 1, process i writes 2, and 2 is final
  (exists ``x_i=2``).

Separators: ``po`` (nothing), ``mb``, ``wmb``, ``rmb``, ``gp``
(synchronize_rcu()), ``rscs`` (both accesses inside one RCU read-side
critical section), ``sgp`` (synchronize_srcu(s) on the one srcu_struct s),
``srscs`` (both accesses inside one SRCU read-side critical section of s,
``int r2 = srcu_read_lock(s);`` ... ``srcu_read_unlock(s, r2);``), ``rel`` (the second access, when a write, is
smp_store_release()), ``acq`` (the first access, when a read, is
smp_load_acquire()), ``data`` (a read then a write whose value depends on
it, written as diy writes DpDatadW: ``WRITE_ONCE(*y, 1 + (r0 & 128))``),
``addr`` (a read then an access whose address depends on it, as diy writes
DpAddrdW / DpAddrdR: ``*(y + (r0 & 128))``), ``ctrl`` (a read then an
access under ``if (r0 == 1)``, as diy writes DpCtrldW / DpCtrldR).  The exists clause closes the cycle.
"""

from __future__ import annotations

from typing import Optional

DIY = {"rf": "Rfe", "fr": "Fre", "co": "Coe"}
FENCE = {"po": "", "mb": "smp_mb();", "wmb": "smp_wmb();", "rmb": "smp_rmb();",
         "gp": "synchronize_rcu();", "rscs": "",
         "sgp": "synchronize_srcu(s);", "srscs": "", "rel": "", "acq": "", "data": "", "addr": "", "ctrl": ""}


def ring(edges: list, seps: list, name: Optional[str] = None) -> str:
    """The C litmus text of the cycle (see the module docstring): ``edges[i]``
    is the edge into process i (on x_i), ``seps[i]`` process i's separator."""
    n = len(edges)
    assert len(seps) == n and n >= 2
    name = name or "ring-" + "+".join(f"{e}-{s}" for e, s in zip(edges, seps))
    cycle = " ".join(f"{DIY[e]} " + _diy_sep(s, e, edges[(i + 1) % n])
                     for i, (e, s) in enumerate(zip(edges, seps)))
    out = [f"C {name}", f'"{cycle}"', f"Cycle={cycle}", "{", "}", ""]
    cond = []
    for i in range(n):
        a, b = f"x{i}", f"x{(i + 1) % n}"
        first, second = edges[i], edges[(i + 1) % n]
        sep = seps[i]
        body = []
        # First access, on x_i.
        if first == "rf":
            load = "smp_load_acquire(" + a + ")" if sep == "acq" else f"READ_ONCE(*{a})"
            body.append(f"int r0 = {load};")
            cond.append(f"{i}:r0=1")
        else:
            body.append(f"WRITE_ONCE(*{a}, {2 if first == 'co' else 1});")
            if first == "co":
                cond.append(f"{a}=2")
        if FENCE[sep]:
            body.append(FENCE[sep])
        # Second access, on x_{i+1}.
        t = f"({b} + (r0 & 128))" if sep == "addr" and first == "rf" else b
        if second == "fr":
            body.append(f"int r1 = READ_ONCE(*{t});")
            cond.append(f"{i}:r1=0")
        elif sep == "rel":
            body.append(f"smp_store_release({t}, 1);")
        elif sep == "data" and first == "rf":
            body.append(f"WRITE_ONCE(*{t}, 1 + (r0 & 128));")
        else:
            body.append(f"WRITE_ONCE(*{t}, 1);")
        if sep == "ctrl" and first == "rf":
            body = body[:1] + ["if (r0 == 1) {", "\t" + body[1], "}"]
        if sep == "rscs":
            body = ["rcu_read_lock();"] + body + ["rcu_read_unlock();"]
        if sep == "srscs":
            body = ["int r2 = srcu_read_lock(s);"] + body + ["srcu_read_unlock(s, r2);"]
        params = ", ".join(f"int *{p}" for p in sorted({a, b}, key=lambda s: int(s[1:])))
        if sep in ("sgp", "srscs"):
            params += ", struct srcu_struct *s"
        out.append(f"P{i}({params})\n{{\n" + "\n".join("\t" + s for s in body) + "\n}\n")
    out.append("exists (" + " /\\ ".join(sorted(cond, key=_cond_key)) + ")")
    return "\n".join(out) + "\n"


def _diy_sep(sep: str, first: str, second: str) -> str:
    # diy's name for the po edge: the dependencies only follow a read.
    if sep in ("data", "addr", "ctrl") and first == "rf":
        if sep == "ctrl":
            return "DpCtrld" + ("R" if second == "fr" else "W")
        if sep == "data":
            return "DpDatadW" if second != "fr" else "PodRR"
        return "DpAddrd" + ("R" if second == "fr" else "W")
    return f"Pod{sep}"


def _cond_key(atom: str):
    lhs = atom.split("=")[0]
    if ":" in lhs:
        p, r = lhs.split(":")
        return (0, int(p), r)
    return (1, int(lhs[1:]), "")


def _spread(n: int, gps: int, gp: str, rscs: str) -> list:
    """Separators of a ring of n: ``gps`` grace periods spread out (every
    other process while they last), read-side sections elsewhere."""
    kinds = [rscs] * n
    step = max(1, n // max(gps, 1))
    placed = 0
    for i in range(0, n, step):
        if placed < gps:
            kinds[i] = gp
            placed += 1
    for i in range(n):
        if placed < gps and kinds[i] != gp:
            kinds[i] = gp
            placed += 1
    return kinds


def rcu_ring(n: int, gps: int, edge: str = "rf") -> str:
    """An RCU ring of n processes named as diy would ("RCU-ring-N"): the
    first ``gps`` processes (spread out: every other one while they last)
    separate their accesses by synchronize_rcu(), the others put both in a
    read-side critical section."""
    return ring([edge] * n, _spread(n, gps, "gp", "rscs"), name=f"RCU-ring-{n}")


def srcu_ring(n: int, gps: int, edge: str = "rf") -> str:
    """:func:`rcu_ring` with SRCU ("SRCU-ring-N"): ``gps`` processes call
    synchronize_srcu(s) between their accesses, the others put both inside
    ``srcu_read_lock(s)`` / ``srcu_read_unlock(s, r2)``, all on one
    srcu_struct s.  The readers read and write s (linux-kernel.def maps
    srcu_read_lock() to a load of s, srcu_read_unlock() to a store of the
    index), so with k readers herd7 counts (k!)**2 orders of those accesses
    for every outcome of the ring."""
    return ring([edge] * n, _spread(n, gps, "sgp", "srscs"), name=f"SRCU-ring-{n}")


def law(seps: list) -> str:
    """The Fundamental Law of RCU (linux-kernel.cat's rcu-order / rb): a
    cycle of rcu-links with at least as many grace periods as read-side
    critical sections is forbidden; with fewer it is allowed (when every
    process is one or the other and there is at least one grace period).
    SRCU's (``sgp``, ``srscs``, one srcu_struct) count the same way."""
    g = seps.count("gp") + seps.count("sgp")
    r = seps.count("rscs") + seps.count("srscs")
    assert g + r == len(seps) and g
    return "Never" if g >= r else "Sometimes"
