"""The Linux-kernel memory model, hand-translated into relation algebra.

Models tools/memory-model/linux-kernel.cat (the recent one with Marked/Plain,
Noreturn and data races), linux-kernel.bell (rcu-rscs, Marked/Plain, the
carry-dep redefinition of dependencies) and lock.cat (LKR/LKW/UL/LF/RL/RU).
Each Python name is the cat name with '-' written '_'; ``@`` is cat's ``;``.

lock.cat's candidate generation (rf for LKR/LF/RL/RU, co with critical
sections, lock-nest, unmatched-locks) is done by ``executions`` since every
model here shares it; so are the ``coherence`` and ``atomic`` axioms, which
the enumeration enforces per location before a candidate reaches this module.

Simplifications: SRCU is not supported (so srcu-rscs, srcu-gp, Srcu-* sets
are empty and their checks trivially hold); lock-final approximates FW.
"""

from __future__ import annotations

from ..executions import Candidate, Skeleton, Solution
from ..relalg import Rel, cart

NAME = "lkmm"


class _Static:
    """Relations that depend only on the skeleton (events and po)."""

    def __init__(self, s: Skeleton) -> None:
        n, U = s.n, s.full
        self.n, self.U = n, U
        po = s.po
        k = s.kinds
        LKR, LKW, UL, RL, RU = k["LKR"], k["LKW"], k["UL"], k["RL"], k["RU"]
        # linux-kernel.bell
        M_b = s.Rb | s.Wb
        self.Marked = ((U & ~M_b) | s.IW | s.Once | s.Release_b | s.Acquire_b
                       | s.rmw_b.dom() | s.rmw_b.rng() | LKR | LKW | UL | k["LF"] | RL | RU)
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
        self.gp = po.restrict(U, Sync_rcu) @ po_opt
        self.barrier = (
            fencerel(tag("barrier", 0) | Rmb | Wmb | Mb | Sync_rcu | tag("before-atomic", 0)
                     | tag("after-atomic", 0) | Acquire | Release | tag("rcu-lock", 0)
                     | tag("rcu-unlock", 0))
            | po.restrict(U, Release) | po.restrict(Acquire, U)
        )
        self.rmb_fencerel = fencerel(Rmb)
        self.rcu_rscs, self.flags = _rcu_rscs(s)


def _rcu_rscs(s: Skeleton):
    """linux-kernel.bell: match nested rcu_read_lock()/unlock() per thread."""
    pairs = []
    flags = set()
    lock = s.fence_tags.get("rcu-lock", 0)
    unlock = s.fence_tags.get("rcu-unlock", 0)
    if not (lock | unlock):
        return Rel.empty(s.n), flags
    for ids in s.thread_events:
        unmatched = [i for i in ids if (lock | unlock) >> i & 1]
        # Fixpoint of the bell's definition: an unmatched lock immediately
        # followed (among unmatched events) by an unmatched unlock matches it.
        changed = True
        while changed:
            changed = False
            keep = []
            k = 0
            while k < len(unmatched):
                a = unmatched[k]
                if k + 1 < len(unmatched) and lock >> a & 1 and unlock >> unmatched[k + 1] & 1:
                    pairs.append((a, unmatched[k + 1]))
                    k += 2
                    changed = True
                else:
                    keep.append(a)
                    k += 1
            unmatched = keep
        for i in unmatched:
            flags.add("unmatched-rcu-lock" if lock >> i & 1 else "unmatched-rcu-unlock")
    return Rel.from_pairs(s.n, pairs), flags


def static(s: Skeleton) -> _Static:
    st = s.cache.get(NAME)
    if st is None:
        st = s.cache[NAME] = _Static(s)
    return st


def check(c: Candidate) -> tuple[bool, set]:
    """Return (allowed, flags) for one candidate execution."""
    sol: Solution = c.sol
    s = sol.skel
    st = static(s)
    U, n = st.U, st.n
    Marked, W, M = st.Marked, st.W, st.M
    po, int_, ext = s.po, s.int, s.ext
    rf, co, fr = c.rf, c.co, c.fr

    rfe, rfi = rf & ext, rf & int_
    # linux-kernel.bell: dependencies carried through plain accesses
    rfi_b = rfi.restrict(s.Wb, s.Rb)
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
    if not hb.acyclic():
        return False, set()                        # happens-before
    hb_star = hb.star()
    pb = (prop @ strong_fence @ hb_star).restrict(U, Marked)
    if not pb.acyclic():
        return False, set()                        # propagation
    pb_star = pb.star()

    # RCU
    rb = None
    rcu_fence = None
    if st.Sync_rcu:
        rcu_link = po.opt() @ hb_star @ pb_star @ prop @ po
        rcu_gp = Rel([(1 << i) if st.Sync_rcu >> i & 1 else 0 for i in range(n)])
        rcu_rscsi = st.rcu_rscs.inv()
        gp_link = rcu_gp @ rcu_link
        rscsi_link = rcu_rscsi @ rcu_link
        base = rcu_gp | (gp_link @ rcu_rscsi) | (rscsi_link @ rcu_gp)
        rcu_order = base
        while True:  # least fixpoint of the recursive definition
            link_order_link = rcu_link @ rcu_order @ rcu_link
            new = (base | (rcu_gp @ link_order_link @ rcu_rscsi)
                   | (rcu_rscsi @ link_order_link @ rcu_gp)
                   | (rcu_order @ rcu_link @ rcu_order))
            if new == rcu_order:
                break
            rcu_order = new
        rcu_fence = po @ rcu_order @ po.opt()
        fence = fence | rcu_fence
        strong_fence = strong_fence | rcu_fence
        rb = (prop @ rcu_fence @ hb_star @ pb_star).restrict(U, Marked)
        if not rb.irreflexive():
            return False, set()                    # rcu

    flags = set(st.flags) | sol.lock.flags
    Plain = st.Plain
    if not Plain:
        return True, flags

    # Plain accesses and data races
    po_loc = po & sol.loc_rel
    plain_w = Plain & W
    mixed_accesses = ((po_loc - st.barrier).restrict(plain_w, Marked)
                      | (po_loc - st.barrier).restrict(Marked, plain_w))
    if not mixed_accesses.is_empty():
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
