"""Kernel primitives and the events they generate.

This table is a hand translation of tools/memory-model/linux-kernel.def
(macro -> herd7 primitive such as ``__load{once}``), completed with the event
shapes that herd7's C front end (herd/CSem.ml) gives those primitives:

* ``__load{t}`` / ``__store{t}``: one R / W annotated ``t``.
* ``__xchg{t}``: an atomic R;W pair; ``{mb}`` becomes F[mb]; R[once]; W[once];
  F[mb]; ``{acquire}`` tags the R, ``{release}`` the W.
* ``__cmpxchg{t}``: on success as xchg; on failure a lone atomic R[once] and no
  fences (so a failed cmpxchg() orders nothing).
* ``__atomic_op`` (atomic_inc()...): R[noreturn];W[once], the W value computed
  from the R (an RMW-internal data dependency, as herd7's iico).
* ``__atomic_op_return{t}`` / ``__atomic_fetch_op{t}``: as xchg for the tags.
* ``atomic_add_unless`` (a herd7 built-in, not in the .def): success as a full
  RMW with F[mb] around it, failure a lone atomic R[once]; returns a boolean.
* ``__lock``: LKR;LKW.  ``__unlock``: UL.  ``__trylock``: LKR;LKW (returns 1)
  or LF (returns 0).  ``__islocked``: RL (returns 1) or RU (returns 0).
* SRCU: srcu_read_lock()/srcu_down_read() are marked loads of the
  srcu_struct tagged srcu-lock, srcu_read_unlock()/srcu_up_read() marked
  stores tagged srcu-unlock, synchronize_srcu() an F[sync-srcu] event that
  carries the srcu_struct's location (see the table below for why).

Argument conventions: ``lv`` means the argument is an lvalue ``*e`` (as in
READ_ONCE(*x)), the accessed address being ``e``; ``ptr`` means the argument
itself is the address (as in smp_load_acquire(x)).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional


@dataclass(frozen=True)
class Prim:
    kind: str                  # load store fence xchg cmpxchg atomic_op op_return
    #                            fetch_op add_unless lock unlock trylock islocked sync_srcu
    tag: Optional[str] = None  # annotation: once acquire release mb, or fence tag
    mode: str = "ptr"          # "lv" or "ptr": how the location argument is given
    ptr: int = 0               # index of the location argument
    val: Optional[int] = None  # index of the value argument (None: constant `const`)
    const: int = 1
    op: Optional[str] = None   # arithmetic of atomic ops: "+" or "-"
    test: Optional[str] = None  # *_and_test: "==0"; add_negative: "<0"
    fence_after: Optional[str] = None  # smp_store_mb: store then F[mb]
    nargs: int = 1


PRIMITIVES: dict[str, Prim] = {
    # ONCE
    "READ_ONCE": Prim("load", "once", "lv", nargs=1),
    "WRITE_ONCE": Prim("store", "once", "lv", val=1, nargs=2),
    # Release Acquire and friends
    "smp_store_release": Prim("store", "release", "ptr", val=1, nargs=2),
    "smp_load_acquire": Prim("load", "acquire", "ptr", nargs=1),
    "rcu_assign_pointer": Prim("store", "release", "lv", val=1, nargs=2),
    "rcu_dereference": Prim("load", "once", "lv", nargs=1),
    "smp_store_mb": Prim("store", "once", "lv", val=1, fence_after="mb", nargs=2),
    # Fences
    "smp_mb": Prim("fence", "mb", nargs=0),
    "smp_rmb": Prim("fence", "rmb", nargs=0),
    "smp_wmb": Prim("fence", "wmb", nargs=0),
    "smp_mb__before_atomic": Prim("fence", "before-atomic", nargs=0),
    "smp_mb__after_atomic": Prim("fence", "after-atomic", nargs=0),
    "smp_mb__after_spinlock": Prim("fence", "after-spinlock", nargs=0),
    "smp_mb__after_unlock_lock": Prim("fence", "after-unlock-lock", nargs=0),
    "smp_mb__after_srcu_read_unlock": Prim("fence", "after-srcu-read-unlock", nargs=0),
    "barrier": Prim("fence", "barrier", nargs=0),
    # Spinlocks
    "spin_lock": Prim("lock", nargs=1),
    "spin_unlock": Prim("unlock", nargs=1),
    "spin_trylock": Prim("trylock", nargs=1),
    "spin_is_locked": Prim("islocked", nargs=1),
    # RCU
    "rcu_read_lock": Prim("fence", "rcu-lock", nargs=0),
    "rcu_read_unlock": Prim("fence", "rcu-unlock", nargs=0),
    "synchronize_rcu": Prim("fence", "sync-rcu", nargs=0),
    "synchronize_rcu_expedited": Prim("fence", "sync-rcu", nargs=0),
    # SRCU, exactly as Linux commit 6cd244c87428 ("tools/memory-model: Provide
    # exact SRCU semantics") maps it, the mapping linux-kernel.bell's
    # srcu-rscs (data dependency from lock to unlock, carried through rf)
    # and its Marked set are written for: srcu_read_lock() is a load of the
    # srcu_struct, __load{srcu-lock}(*X), srcu_read_unlock(X,Y) a store of
    # the token Y, __store{srcu-unlock}(*X,Y); synchronize_srcu(X) stays an
    # __srcu{sync-srcu}(X) event (no memory access, but on location X).
    "srcu_read_lock": Prim("load", "srcu-lock", "ptr", nargs=1),
    "srcu_down_read": Prim("load", "srcu-lock", "ptr", nargs=1),
    "srcu_read_unlock": Prim("store", "srcu-unlock", "ptr", val=1, nargs=2),
    "srcu_up_read": Prim("store", "srcu-unlock", "ptr", val=1, nargs=2),
    "synchronize_srcu": Prim("sync_srcu", "sync-srcu", "ptr", nargs=1),
    "synchronize_srcu_expedited": Prim("sync_srcu", "sync-srcu", "ptr", nargs=1),
    # Atomic
    "atomic_read": Prim("load", "once", "ptr", nargs=1),
    "atomic_set": Prim("store", "once", "ptr", val=1, nargs=2),
    "atomic_read_acquire": Prim("load", "acquire", "ptr", nargs=1),
    "atomic_set_release": Prim("store", "release", "ptr", val=1, nargs=2),
    "atomic_add": Prim("atomic_op", ptr=1, val=0, op="+", nargs=2),
    "atomic_sub": Prim("atomic_op", ptr=1, val=0, op="-", nargs=2),
    "atomic_inc": Prim("atomic_op", ptr=0, op="+", nargs=1),
    "atomic_dec": Prim("atomic_op", ptr=0, op="-", nargs=1),
    # herd7 built-in (CLexer keyword), returns whether the add happened.
    "atomic_add_unless": Prim("add_unless", ptr=0, nargs=3),
}

_ORDERINGS = {"": "mb", "_relaxed": "once", "_acquire": "acquire", "_release": "release"}

for _suffix, _tag in _ORDERINGS.items():
    PRIMITIVES["xchg" + _suffix] = Prim("xchg", _tag, ptr=0, val=1, nargs=2)
    PRIMITIVES["cmpxchg" + _suffix] = Prim("cmpxchg", _tag, ptr=0, nargs=3)
    PRIMITIVES["atomic_xchg" + _suffix] = Prim("xchg", _tag, ptr=0, val=1, nargs=2)
    PRIMITIVES["atomic_cmpxchg" + _suffix] = Prim("cmpxchg", _tag, ptr=0, nargs=3)
    for _name, _op in (("add", "+"), ("sub", "-")):
        PRIMITIVES[f"atomic_{_name}_return{_suffix}"] = Prim(
            "op_return", _tag, ptr=1, val=0, op=_op, nargs=2)
        PRIMITIVES[f"atomic_fetch_{_name}{_suffix}"] = Prim(
            "fetch_op", _tag, ptr=1, val=0, op=_op, nargs=2)
    for _name, _op in (("inc", "+"), ("dec", "-")):
        PRIMITIVES[f"atomic_{_name}_return{_suffix}"] = Prim(
            "op_return", _tag, ptr=0, op=_op, nargs=1)
        PRIMITIVES[f"atomic_fetch_{_name}{_suffix}"] = Prim(
            "fetch_op", _tag, ptr=0, op=_op, nargs=1)

PRIMITIVES["atomic_sub_and_test"] = Prim("op_return", "mb", ptr=1, val=0, op="-", test="==0", nargs=2)
PRIMITIVES["atomic_dec_and_test"] = Prim("op_return", "mb", ptr=0, op="-", test="==0", nargs=1)
PRIMITIVES["atomic_inc_and_test"] = Prim("op_return", "mb", ptr=0, op="+", test="==0", nargs=1)
PRIMITIVES["atomic_add_negative"] = Prim("op_return", "mb", ptr=1, val=0, op="+", test="<0", nargs=2)

FENCE_TAGS = {
    "mb", "rmb", "wmb", "before-atomic", "after-atomic", "after-spinlock",
    "after-unlock-lock", "after-srcu-read-unlock", "barrier", "rcu-lock", "rcu-unlock",
    "sync-rcu", "sync-srcu",
}
