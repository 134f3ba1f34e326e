"""Operational reference models for generated programs (test helper).

Independent of the axiomatic checker: SC runs every interleaving of atomic
steps; TSO gives each CPU a FIFO store buffer with forwarding, which may
flush its oldest entry at any time, and makes smp_mb() and every locked
instruction (RMWs, spin_lock) wait for an empty buffer.  Programs are lists
of threads, each a list of ops ``(kind, loc, value, expected)``.
"""

from __future__ import annotations

from functools import lru_cache


def run(threads: list, locs: list, tso: bool) -> set:
    """Final states as {(proc, reg) or loc: value} frozensets."""
    nthreads = len(threads)
    # Expand critical sections into lock / access / unlock steps.
    progs = []
    for ops in threads:
        steps = []
        reg = 0
        for kind, loc, val, exp in ops:
            if kind in ("lock_store", "lock_load"):
                steps.append(("lock", "s", 0, 0, None))
                if kind == "lock_store":
                    steps.append(("store", loc, val, 0, None))
                else:
                    steps.append(("load", loc, 0, 0, reg))
                    reg += 1
                steps.append(("unlock", "s", 0, 0, None))
                continue
            has_reg = kind in ("load", "xchg", "cmpxchg", "add_return", "fetch_inc")
            steps.append((kind, loc, val, exp, reg if has_reg else None))
            reg += has_reg
        progs.append(tuple(steps))
    names = list(locs) + ["s"]
    index = {n: i for i, n in enumerate(names)}
    finals = set()

    @lru_cache(maxsize=None)
    def explore(pcs, regs, mem, bufs):
        done = True
        for t in range(nthreads):
            buf = bufs[t]
            if tso and buf:
                # Flush the oldest buffered store to memory.
                (li, v), rest = buf[0], buf[1:]
                m2 = list(mem)
                m2[li] = v
                explore(pcs, regs, tuple(m2), bufs[:t] + (rest,) + bufs[t + 1:])
                done = False
            if pcs[t] == len(progs[t]):
                continue
            done = False
            kind, loc, val, exp, reg = progs[t][pcs[t]]
            li = index[loc]
            needs_drain = kind not in ("load", "store", "nop", "unlock")
            if tso and needs_drain and buf:
                continue
            m2 = list(mem)
            r2 = list(regs[t])
            b2 = buf
            if kind == "load":
                v = mem[li]
                for bl, bv in buf:
                    if bl == li:
                        v = bv          # forwarding from the newest buffered store
                r2[reg] = v
            elif kind in ("store", "unlock"):
                v = 0 if kind == "unlock" else val
                if tso:
                    b2 = buf + ((li, v),)
                else:
                    m2[li] = v
            elif kind == "lock":
                if mem[li] != 0:
                    continue            # spin: not enabled while held
                m2[li] = 1
            elif kind == "xchg":
                r2[reg] = mem[li]
                m2[li] = val
            elif kind == "cmpxchg":
                r2[reg] = mem[li]
                if mem[li] == exp:
                    m2[li] = val
            elif kind == "inc":
                m2[li] = mem[li] + 1
            elif kind == "add_return":
                m2[li] = mem[li] + val
                r2[reg] = m2[li]
            elif kind == "fetch_inc":
                r2[reg] = mem[li]
                m2[li] = mem[li] + 1
            # "fence" (smp_mb) only waits for the drain; "nop" does nothing
            regs2 = regs[:t] + (tuple(r2),) + regs[t + 1:]
            pcs2 = pcs[:t] + (pcs[t] + 1,) + pcs[t + 1:]
            explore(pcs2, regs2, tuple(m2), bufs[:t] + (b2,) + bufs[t + 1:])
        if done:
            state = {}
            for t in range(nthreads):
                for k, v in enumerate(regs[t]):
                    state[(t, f"r{k}")] = v
            for n in locs:
                state[n] = mem[index[n]]
            finals.add(frozenset(state.items()))

    nregs = [sum(1 for s in p if s[4] is not None) for p in progs]
    explore(tuple([0] * nthreads), tuple(tuple([0] * n) for n in nregs),
            tuple([0] * len(names)), tuple(() for _ in range(nthreads)))
    explore.cache_clear()
    return finals
