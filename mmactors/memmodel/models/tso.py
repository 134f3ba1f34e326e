"""x86-TSO, axiomatically (as herd7's x86tso.cat).

Each CPU has a FIFO store buffer with forwarding: program order is kept
except from a write to a later read (``po \\ (W * R)``), and a CPU may read
its own buffered write early (``rfi`` is not in ``ghb``).  smp_mb() is an
MFENCE; every atomic RMW (xchg, cmpxchg even when it fails, atomic_inc...,
and the LKR;LKW pair of a spin lock) is a LOCKed instruction that drains the
buffer, ordering it with everything before and after.  smp_rmb(), smp_wmb(),
smp_mb__{before,after}_atomic(), smp_mb__after_spinlock() and
smp_mb__after_unlock_lock() are compiler barriers only.  spin_unlock() is a
plain store; failed spin_trylock() and spin_is_locked() are plain loads.
synchronize_rcu() and synchronize_srcu() are full fences plus the RCU
guarantee of ``common.acyclic_with_rcu``.
"""

from __future__ import annotations

from ..executions import Candidate
from ..relalg import cart
from .common import acyclic_with_rcu, grace_periods, memory_events, reads, writes

NAME = "tso"


def _static(s):
    st = s.cache.get(NAME)
    if st is None:
        M = memory_events(s)
        k = s.kinds
        locked = s.RMW | k["LKR"] | k["LKW"]
        gps = grace_periods(s)
        mfences = s.fence_tags.get("mb", 0) | gps
        po = s.po
        ppo = po.restrict(M, M) - cart(s.n, writes(s), reads(s))
        mfence = po.restrict(M, mfences) @ po.restrict(mfences, M)
        implied = po.restrict(M, locked) | po.restrict(locked, M)
        gp_po = po.restrict(M, gps) | po.restrict(gps, M)
        st = s.cache[NAME] = (M, gps, ppo | mfence | implied | gp_po)
    return st


def check(c: Candidate) -> tuple[bool, set]:
    s = c.sol.skel
    M, gps, static_ghb = _static(s)
    ghb = static_ghb | (c.rf & s.ext) | c.co | c.fr
    return acyclic_with_rcu(ghb, c, M), set(c.sol.lock.flags)


def needs_check(c: Candidate, flags_so_far: set) -> bool:
    return False


def flags_of(c: Candidate) -> set:
    return set(c.sol.lock.flags)


def uniform_flags(sol) -> set:
    """The flags of every execution of ``sol``'s skeleton (see lkmm)."""
    return set(sol.lock.flags)
