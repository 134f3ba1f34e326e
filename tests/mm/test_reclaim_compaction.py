"""mm/vmscan.c should_continue_reclaim (Linux 6.12): reclaim/compaction
goes round shrink_node again for high-order requests."""
from __future__ import annotations

from .test_swap_state import PAGE, Box


def _continue(b, order, nr_reclaimed, priority=12, *, wmark_ok=False, suitable=False):
    from mmactors.mm.gfp import GFP_KERNEL
    from mmactors.mm.vmscan import ScanControl
    vs = b.sub.vmscan
    sc = ScanControl(GFP_KERNEL, order, priority=priority)
    pgdat = b.sub.pa.nodes[0]
    pa, comp = vs.pa, b.sub.compaction
    saved = pa.zone_watermark_ok, comp.compaction_suitable
    pa.zone_watermark_ok = lambda *a: wmark_ok
    comp.compaction_suitable = lambda *a: suitable
    try:
        return vs.should_continue_reclaim(pgdat, nr_reclaimed, sc)
    finally:
        del pa.zone_watermark_ok, comp.compaction_suitable
        assert (pa.zone_watermark_ok, comp.compaction_suitable) == saved


def test_should_continue_reclaim_follows_reclaim_compaction():
    """mm/vmscan.c should_continue_reclaim: only in reclaim/compaction mode
    (order > PAGE_ALLOC_COSTLY_ORDER, or any order past DEF_PRIORITY - 2),
    only after a pass that reclaimed something, not once the allocation
    could succeed or compaction could run, and only while the inactive
    lists hold more than compact_gap(order) = 2 << order pages (anon ones
    counted only with swap)."""
    b = Box(swap=[{"size_mib": 16}])
    a = b.mmap(3000)
    for i in range(3000):
        b.touch(a + i * PAGE)
    b.call(b.sub.lru.lru_add_drain(b.me()))
    assert _continue(b, 9, 32)                        # 3000 inactive anon > 1024
    assert not _continue(b, 0, 32)                    # order 0: never
    assert not _continue(b, 2, 32)                    # cheap order at DEF_PRIORITY
    assert _continue(b, 2, 32, priority=9)            # ... but past DEF_PRIORITY - 2
    assert not _continue(b, 9, 0)                     # nothing reclaimed: stop
    assert not _continue(b, 9, 32, wmark_ok=True)     # the allocation would succeed
    assert not _continue(b, 9, 32, suitable=True)     # compaction can go ahead
    assert not _continue(b, 11, 32)                   # 3000 <= compact_gap(11) = 4096
    nb = Box()                                        # no swap: anon does not count
    a = nb.mmap(3000)
    for i in range(3000):
        nb.touch(a + i * PAGE)
    nb.call(nb.sub.lru.lru_add_drain(nb.me()))
    assert not _continue(nb, 9, 32)
