"""The human summary of the virtual-memory side (address spaces, faults, TLB,
the LRU batches)."""
from __future__ import annotations

__all__ = ["format_addrspace"]


def format_addrspace(sub) -> str:
    e = sub.event
    s = sub.lru.stats
    h, m = s.hits(), s.misses()
    lines = [f"address spaces: {len(sub.mms)} mm, {e('pgfault'):,} faults "
             f"(per-VMA locks {'on' if sub.per_vma_lock else 'off'}: "
             f"vma_lock_success {e('vma_lock_success'):,}, retry {e('vma_lock_retry'):,}, "
             f"abort {e('vma_lock_abort'):,}, miss {e('vma_lock_miss'):,})",
             f"  TLB: {e('nr_tlb_remote_flush'):,} remote flushes "
             f"({e('nr_tlb_remote_flush_received'):,} IPIs), "
             f"{e('nr_tlb_local_flush_all') + e('nr_tlb_local_flush_one'):,} local; "
             f"lru_add batch (PAGEVEC_SIZE {sub.lru.PAGEVEC_SIZE}): hit rate "
             f"{(h / (h + m) if h + m else 0):.1%}, {sum(s.drains):,} flushes under lru_lock"]
    if e("fault_oom"):
        lines.append(f"  {e('fault_oom'):,} faults failed to allocate a page (VM_FAULT_OOM)")
    return "\n".join(lines)
