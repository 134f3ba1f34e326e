"""The Linux-kernel memory model, hand-translated into relation algebra.

Models ../shared/litmus/model/linux-kernel.cat (the version with Marked and
Plain accesses, Noreturn, data races and SRCU; see the README for which
upstream revision), linux-kernel.bell (rcu-rscs, srcu-rscs matched through
data dependencies, Marked/Plain, the carry-dep redefinition of
dependencies) and lock.cat (LKR/LKW/UL/LF/RL/RU).  Each Python name is the
cat name with '-' written '_'; ``@`` is cat's ``;``.

lock.cat's candidate generation (rf for LKR/LF/RL/RU, co with critical
sections, lock-nest, unmatched-locks) is done by ``coherence`` since every
model here shares it; so are the ``coherence`` and ``atomic`` axioms, which
the enumeration enforces per location before a candidate reaches this module.

SRCU follows Linux commit 6cd244c87428 (the mapping the bell is written
for): srcu_read_lock() is a load of the srcu_struct tagged srcu-lock,
srcu_read_unlock() a store tagged srcu-unlock (see ``primitives``).

Simplification: lock-final approximates herd7's FW (see ``executions``).
"""

from __future__ import annotations

from typing import Optional

from ..executions import Candidate
from ..relalg import Rel, cart, ident
from ..rscs import _bits, rcu_rscs, static_srcu_rscs  # noqa: F401 - used and re-exported
from ..skeleton import Skeleton

NAME = "lkmm"


class _Static:
    """Relations that depend only on the skeleton (events and po)."""

    def __init__(self, s: Skeleton) -> None:
        n, U = s.n, s.full
        self.n, self.U = n, U
        po = s.po
        k = s.kinds
        LKR, LKW, UL, RL, RU = k["LKR"], k["LKW"], k["UL"], k["RL"], k["RU"]
        self.Srcu_lock, self.Srcu_unlock = s.Srcu_lock, s.Srcu_unlock
        # linux-kernel.bell
        M_b = s.Rb | s.Wb
        self.Marked = ((U & ~M_b) | s.IW | s.Once | s.Release_b | s.Acquire_b
                       | s.rmw_b.dom() | s.rmw_b.rng() | LKR | LKW | UL | k["LF"] | RL | RU
                       | s.Srcu_lock | s.Srcu_unlock)
        self.Plain = M_b & ~self.Marked
        # lock.cat: put lock events in their classes
        LF = k["LF"] | RL
        self.R = R = s.Rb | LKR | LF | RU
        self.W = W = s.Wb | LKW | UL
        self.M = M = R | W
        self.Release = Release = s.Release_b | UL
        self.Acquire = Acquire = s.Acquire_b | LKR
        self.Noreturn = s.Noreturn
        self.R4rmb = R4rmb = R & ~s.Noreturn
        self.LKW, self.UL, self.LKR = LKW, UL, LKR
        tag = s.fence_tags.get
        Mb, Rmb, Wmb = tag("mb", 0), tag("rmb", 0), tag("wmb", 0)
        self.Sync_rcu = Sync_rcu = tag("sync-rcu", 0)
        self.Sync_srcu = Sync_srcu = s.Sync_srcu
        self.After_unlock_lock = tag("after-unlock-lock", 0)

        def fencerel(S: int) -> Rel:
            return po.restrict(U, S) @ po

        self.fencerel = fencerel
        # linux-kernel.cat: basic relations
        self.acq_po = po.restrict(Acquire, M)
        self.po_rel = po.restrict(M, Release)
        self.rmb = fencerel(Rmb).restrict(R4rmb, R4rmb)
        self.wmb = fencerel(Wmb).restrict(W, W)
        po_opt = po.opt()
        self.mb_static = (
            fencerel(Mb).restrict(M, M)
            | (fencerel(tag("before-atomic", 0)).restrict(M, s.RMW) @ po_opt).restrict(U, M)
            | (po_opt.restrict(M, s.RMW) @ fencerel(tag("after-atomic", 0))).restrict(U, M)
            | (po_opt.restrict(M, LKW) @ fencerel(tag("after-spinlock", 0))).restrict(U, M)
        )
        if self.After_unlock_lock:
            self.aul_fence = fencerel(self.After_unlock_lock).restrict(U, M)
            self.po_to_ul = po.restrict(M, UL)
            self.mb_static = self.mb_static | (
                self.po_to_ul @ po.restrict(UL, LKW) @ self.aul_fence)
        self.gp = po.restrict(U, Sync_rcu | Sync_srcu) @ po_opt
        self.barrier = (
            fencerel(tag("barrier", 0) | Rmb | Wmb | Mb | Sync_rcu | Sync_srcu
                     | tag("before-atomic", 0) | tag("after-atomic", 0) | Acquire | Release
                     | tag("rcu-lock", 0) | tag("rcu-unlock", 0)
                     | s.Srcu_lock | s.Srcu_unlock)
            | po.restrict(U, Release) | po.restrict(Acquire, U)
        )
        self.rmb_fencerel = fencerel(Rmb)
        self.rcu_rscs, self.flags = rcu_rscs(s)
        if Sync_srcu and not self.rcu_rscs.is_empty():
            # invalid-sleep: synchronize_srcu() inside an RCU critical section
            if not (self.rcu_rscs & (po.restrict(U, Sync_srcu) @ po)).is_empty():
                self.flags.add("invalid-sleep")


_rcu_rscs = rcu_rscs      # older name


def static(s: Skeleton) -> _Static:
    st = s.cache.get(NAME)
    if st is None:
        st = s.cache[NAME] = _Static(s)
    return st




def _srcu_rscs(c: Candidate, st: _Static):
    """linux-kernel.bell: srcu-rscs and its flags, for one candidate."""
    s = c.sol.skel
    U = st.U
    rscs = static_srcu_rscs(s)
    if rscs is None:
        rf = c.rf
        data = s.data_b                                # herd7's data, before carry-dep
        not_unlock = U & ~st.Srcu_unlock
        carry_srcu_data = (data.restrict(U, not_unlock) @ rf).star()
        rscs = ((carry_srcu_data.restrict(st.Srcu_lock, U) @ data)
                .restrict(U, st.Srcu_unlock) & c.sol.loc_rel)
    flags = set()
    if st.Srcu_lock & ~rscs.dom():
        flags.add("unmatched-srcu-lock")
    if st.Srcu_unlock & ~rscs.rng():
        flags.add("unmatched-srcu-unlock")
    if not (rscs.inv() @ rscs).no_id().is_empty():
        flags.add("multiple-srcu-matches")
    # (srcu.collapse's skeletons store each lock's own index: equal values;
    # their partial executions, which prune the search, have no values.)
    for lock, unlock in rscs.pairs() if not s.srcu_locs else ():
        if c.sol.value(lock) != c.sol.value(unlock):
            flags.add("srcu-bad-value-match")      # different-values(srcu-rscs)
            break
    return rscs, flags


# ---------------------------------------------------------------- fast path


def needs_check(c: Candidate, flags_so_far: set) -> bool:
    """Whether an execution already known to be allowed (see
    ``executions.sc_acyclic``) still needs the full check for its flags: only
    a possible data race not yet flagged does."""
    return "data-race" not in flags_so_far and _may_race(c)


def flags_of(c: Candidate) -> set:
    """The flags of an allowed execution that needs no data-race check."""
    st = static(c.sol.skel)
    flags = set(st.flags) | c.sol.lock.flags
    if st.Plain and _mixed_accesses(c, st):
        flags.add("mixed-accesses")
    if st.Srcu_lock or st.Srcu_unlock:
        flags |= _srcu_rscs(c, st)[1]
    return flags


def uniform_flags(sol, but_races: bool = False) -> Optional[set]:
    """The flags every execution of ``sol``'s skeleton that ``sc_acyclic``
    allows has (they depend on its events and locations only), or None when
    they may differ from one execution to another (a possible data race,
    SRCU sections); with ``but_races``, those flags but data-race, which
    the caller finds itself (see may_race).  ``sol`` needs only its
    locations and lock information."""
    st = static(sol.skel)
    if (st.Srcu_lock or st.Srcu_unlock) and not sol.skel.srcu_locs:
        return None             # (srcu.collapse's skeletons have no srcu flags)
    c = Candidate(sol, {})
    if _may_race(c) and not but_races:
        return None
    flags = set(st.flags) | sol.lock.flags
    if st.Plain and _mixed_accesses(c, st):
        flags.add("mixed-accesses")
    return flags


def may_race(sol) -> bool:
    """Whether an execution of ``sol``'s skeleton may have a data race."""
    return _may_race(Candidate(sol, {}))


def _may_race(c: Candidate) -> bool:
    """Whether some location has a plain access and a conflicting access on
    another thread (the initial writes never race)."""
    sol = c.sol
    s = sol.skel
    Plain = static(s).Plain
    if not Plain:
        return False
    memo = sol.memo.get("may_race")
    if memo is None:
        seen: dict = {}
        memo = False
        for e in s.events[s.n_init:]:
            if e.kind not in ("R", "W") and e.kind not in ("LKR", "LKW", "UL", "LF", "RL", "RU"):
                continue
            l = sol.loc[e.idx]
            acc = seen.setdefault(l, [])
            me = (e.tid, e.kind in ("W", "LKW", "UL"), bool(Plain >> e.idx & 1))
            for tid, w, p in acc:
                if tid != me[0] and (w or me[1]) and (p or me[2]):
                    memo = True
                    break
            if memo:
                break
            acc.append(me)
        sol.memo["may_race"] = memo
    return memo


def _mixed_accesses(c: Candidate, st: _Static) -> bool:
    sol = c.sol
    memo = sol.memo.get("mixed")
    if memo is None:
        po_loc = sol.skel.po & sol.loc_rel
        plain_w = st.Plain & st.W
        free = po_loc - st.barrier
        memo = not (free.restrict(plain_w, st.Marked) | free.restrict(st.Marked, plain_w)).is_empty()
        sol.memo["mixed"] = memo
    return memo


# ---------------------------------------------------------------- the axioms


class _Relations:
    """The relations of linux-kernel.bell/.cat up to hb for one candidate:
    computed once by :func:`_relations` for :func:`check` and
    :func:`rcu_link`, so the two cannot drift apart."""

    __slots__ = ("addr", "fence", "nonrw_fence", "strong_fence", "rfe_opt",
                 "cumul_fence_star", "prop", "hb")


def _relations(c: Candidate, st: "_Static") -> _Relations:
    s = c.sol.skel
    U, Marked, W = st.U, st.Marked, st.W
    po, int_, ext = s.po, s.int, s.ext
    rf, co, fr = c.rf, c.co, c.fr
    rfe, rfi = rf & ext, rf & int_
    # linux-kernel.bell: dependencies carried through plain accesses
    rfi_b = rfi.restrict(s.Wb & ~st.Srcu_unlock, s.Rb)
    carry_dep = (s.data_b @ rfi_b).star()
    addr = carry_dep @ s.addr_b
    data = carry_dep @ s.data_b
    ctrl = carry_dep @ s.ctrl_b

    # Basic relations that need rf/co
    po_unlock_lock_po = po.restrict(U, st.UL) @ (po | rf).restrict(st.UL, st.LKR) @ po
    mb = st.mb_static
    if st.After_unlock_lock:
        mb = mb | (st.po_to_ul @ co.restrict(st.UL, st.LKW) @ st.aul_fence)
    strong_fence = mb | st.gp
    nonrw_fence = strong_fence | st.po_rel | st.acq_po
    fence = nonrw_fence | st.wmb | st.rmb

    # Preserved program order
    dep = addr | data
    rwdep = (dep | ctrl).restrict(U, W)
    overwrite = co | fr
    to_w = rwdep | (overwrite & int_) | (addr.restrict(U, st.Plain) @ st.wmb)
    to_r = addr | (dep.restrict(U, Marked) @ rfi)
    ppo = to_r | to_w | fence | (po_unlock_lock_po & int_)

    # Propagation
    rfe_opt = rfe.restrict(U, Marked).opt()

    def A_cumul(r: Rel) -> Rel:
        return rfe_opt @ r

    cumul_fence = (A_cumul(strong_fence | st.po_rel) | st.wmb | po_unlock_lock_po).restrict(
        Marked, Marked)
    cumul_fence_star = cumul_fence.star()
    prop = ((((overwrite & ext).opt().restrict(Marked, U) @ cumul_fence_star).restrict(U, Marked)
             @ rfe.opt()).restrict(U, Marked))

    hb = (ppo | rfe | (prop.no_id() & int_)).restrict(Marked, Marked)
    r = _Relations()
    r.addr = addr
    r.fence, r.nonrw_fence, r.strong_fence = fence, nonrw_fence, strong_fence
    r.rfe_opt = rfe_opt
    r.cumul_fence_star, r.prop, r.hb = cumul_fence_star, prop, hb
    return r


def check(c: Candidate) -> tuple[bool, set]:
    """Return (allowed, flags) for one candidate execution."""
    sol = c.sol
    s = sol.skel
    st = static(s)
    U, n = st.U, st.n
    Marked, W, M = st.Marked, st.W, st.M
    po, int_, ext = s.po, s.int, s.ext
    rf, co, fr = c.rf, c.co, c.fr

    r = _relations(c, st)
    addr = r.addr
    fence, nonrw_fence, strong_fence = r.fence, r.nonrw_fence, r.strong_fence
    rfe_opt, cumul_fence_star, prop = r.rfe_opt, r.cumul_fence_star, r.prop

    hb = r.hb
    if not hb.acyclic():
        return False, set()                        # happens-before
    hb_star = hb.star()
    pb = (prop @ strong_fence @ hb_star).restrict(U, Marked)
    if not pb.acyclic():
        return False, set()                        # propagation
    pb_star = pb.star()

    flags = set(st.flags) | sol.lock.flags
    srcu_rscs = None
    if st.Srcu_lock or st.Srcu_unlock:
        srcu_rscs, sflags = _srcu_rscs(c, st)
        flags |= sflags

    # RCU and SRCU
    rb = None
    if st.Sync_rcu or st.Sync_srcu:
        # rcu-order only relates grace periods and critical sections' ends
        # (K), and rcu-link only appears between two of them: compute it
        # from K's rows and keep K's columns (cheap sparse products).
        K = st.Sync_rcu | st.Sync_srcu | st.rcu_rscs.dom() | st.rcu_rscs.rng()
        if srcu_rscs is not None:
            K |= srcu_rscs.dom() | srcu_rscs.rng()
        rcu_link = (po.opt().restrict(K, U) @ hb_star @ pb_star @ prop @ po).restrict(U, K)
        rcu_fence = po @ _rcu_order(st, rcu_link, srcu_rscs, sol.loc_rel) @ po.opt()
        fence = fence | rcu_fence
        strong_fence = strong_fence | rcu_fence
        rb = (prop @ rcu_fence @ hb_star @ pb_star).restrict(U, Marked)
        if not rb.irreflexive():
            return False, set()                    # rcu

    Plain = st.Plain
    if not Plain:
        return True, flags

    # Plain accesses and data races
    if _mixed_accesses(c, st):
        flags.add("mixed-accesses")

    xb = hb | pb if rb is None else hb | pb | rb
    xbstar = xb.star()
    vis = (cumul_fence_star @ rfe_opt
           @ ((strong_fence.restrict(U, Marked) @ xbstar) | (xbstar & int_)))
    not_noreturn = U & ~st.Noreturn
    w_pre_bounded = (addr | fence).opt().restrict(Marked, U)
    r_pre_bounded = (addr | nonrw_fence
                     | st.rmb_fencerel.restrict(st.R4rmb, not_noreturn)).opt().restrict(Marked, U)
    w_post_bounded = fence.opt().restrict(U, Marked)
    r_post_bounded = (nonrw_fence
                      | st.rmb_fencerel.restrict(not_noreturn, st.R4rmb)).opt().restrict(U, Marked)
    ww_vis = fence | (strong_fence @ xbstar @ w_pre_bounded) | (
        w_post_bounded @ vis @ w_pre_bounded)
    wr_vis = fence | (strong_fence @ xbstar @ r_pre_bounded) | (
        w_post_bounded @ vis @ r_pre_bounded)
    rw_xbstar = fence | (r_post_bounded @ xbstar @ w_pre_bounded)

    pre_race = ext & (cart(n, Plain, M) | cart(n, M & ~s.IW, Plain))
    wr_incoh = pre_race & rf & rw_xbstar.inv()
    rw_incoh = pre_race & fr & wr_vis.inv()
    ww_incoh = pre_race & co & ww_vis.inv()
    if not (wr_incoh | rw_incoh | ww_incoh).is_empty():
        return False, set()                        # plain-coherence

    ww_nonrace = ww_vis & (cart(n, Marked, W) | rw_xbstar) & (cart(n, W, Marked) | wr_vis)
    ww_race = (pre_race & co) - ww_nonrace
    wr_race = (pre_race & (co.opt() @ rf)) - wr_vis - rw_xbstar.inv()
    rw_race = (pre_race & fr) - rw_xbstar
    if not (ww_race | wr_race | rw_race).is_empty():
        flags.add("data-race")
    return True, flags


def may_rcu_link(s: Skeleton) -> Rel:
    """rcu-link (linux-kernel.cat) over every execution of ``s`` at once:
    computed with rf, co and fr the union of all the executions' (each
    relation below is monotone in them), without the srcu_structs' own
    rf/co (``srcu.collapse`` accounts for those).  Rows and columns are
    the grace periods and critical sections' ends, as in :func:`check`."""
    from ..coherence import lock_info
    from ..executions import _loc_relation
    from ..solve import Solution
    st = static(s)
    events = s.events
    T = st.Srcu_lock | st.Srcu_unlock
    srcu_locs = {s.sloc[i] for i in _bits(T)}
    reads, writes = st.R, st.W
    rf, co, fr = [0] * s.n, [0] * s.n, [0] * s.n
    po = s.po.r
    by_loc: dict = {}
    for e in events:
        l = s.sloc[e.idx]
        if l is not None and l not in srcu_locs and e.kind != "F":
            by_loc.setdefault(l, []).append(e.idx)
    for ids in by_loc.values():
        for a in ids:
            for b in ids:
                if a == b:
                    continue
                later = po[b] >> a & 1         # a po-after b
                if writes >> a & 1 and reads >> b & 1 and not later:
                    rf[a] |= 1 << b
                if writes >> a & 1 and writes >> b & 1 and not s.IW >> b & 1 and not later:
                    co[a] |= 1 << b
                if reads >> a & 1 and writes >> b & 1 and not s.IW >> b & 1 and not later:
                    fr[a] |= 1 << b
    sol = Solution(s, {}, {}, s.sloc)
    sol.lock = lock_info(s, s.sloc)
    sol.loc_rel = _loc_relation(s, s.sloc)
    c = Candidate(sol, {})
    c._rels = (Rel(rf), Rel(co), Rel(fr))
    return rcu_link(c)


def rcu_link(c: Candidate) -> Rel:
    """linux-kernel.cat's rcu-link of candidate ``c`` (its rf, co and fr
    may be a union of several executions': every relation here is monotone
    in them), as :func:`check` computes it: rows and columns the grace
    periods and critical sections' ends.  No axiom is checked.  Used by
    ``srcu`` (the links its counting of srcu_struct orders starts from)."""
    s = c.sol.skel
    st = static(s)
    U, Marked = st.U, st.Marked
    po = s.po
    r = _relations(c, st)
    prop, strong_fence = r.prop, r.strong_fence
    hb = r.hb
    hb_star = hb.star()
    pb = (prop @ strong_fence @ hb_star).restrict(U, Marked)
    srcu = static_srcu_rscs(s)
    K = st.Sync_rcu | st.Sync_srcu | st.rcu_rscs.dom() | st.rcu_rscs.rng()
    if srcu is not None:
        K |= srcu.dom() | srcu.rng()
    return (po.opt().restrict(K, U) @ hb_star @ pb.star() @ prop @ po).restrict(U, K)


def _rcu_order(st: _Static, rcu_link: Rel, srcu_rscs, loc: Rel) -> Rel:
    """The least fixpoint of linux-kernel.cat's recursive rcu-order."""
    n = st.n
    rcu_gp = ident(n, st.Sync_rcu)
    srcu_gp = ident(n, st.Sync_srcu)
    rcu_rscsi = st.rcu_rscs.inv()
    srcu_rscsi = srcu_rscs.inv() if srcu_rscs is not None else Rel.empty(n)
    gp_link = rcu_gp @ rcu_link
    rscsi_link = rcu_rscsi @ rcu_link
    sgp_link = srcu_gp @ rcu_link
    srscsi_link = srcu_rscsi @ rcu_link
    base = (rcu_gp | srcu_gp | (gp_link @ rcu_rscsi) | ((sgp_link @ srcu_rscsi) & loc)
            | (rscsi_link @ rcu_gp) | ((srscsi_link @ srcu_gp) & loc))
    rcu_order = base
    while True:
        link_order_link = rcu_link @ rcu_order @ rcu_link
        new = (base | (rcu_gp @ link_order_link @ rcu_rscsi)
               | ((srcu_gp @ link_order_link @ srcu_rscsi) & loc)
               | (rcu_rscsi @ link_order_link @ rcu_gp)
               | ((srcu_rscsi @ link_order_link @ srcu_gp) & loc)
               | (rcu_order @ rcu_link @ rcu_order))
        if new == rcu_order:
            return rcu_order
        rcu_order = new
