"""Built-in race programs: real mm races, each modelled on the kernel fix it
cites, in a buggy and a fixed variant.  Scenarios in ``scenarios/races/``
run them (``kind = "race"``, see :mod:`mmactors.workloads.racy`).

=====================  ===========================================================
program                kernel fix
=====================  ===========================================================
folio-try-get          e286781d5f2e ("mm: speculative page references")
lru-isolate            a8691f75e2c1 ("mm/lru: introduce TestClearPageLRU()")
pte-alloc              362a61ad6119 ("fix SMP data race in pagetable setup vs walking")
swap-skip-swapcache    13ddaf26be32 ("mm/swap: fix race when skipping swapcache")
zonelist-seqlock       3d36424b3b58 ("mm/page_alloc: fix race condition between
                       build_all_zonelists and page allocation")
page-counter           6e4bd50f3888 ("mm/page_counter: fix various data races at memsw")
=====================  ===========================================================
"""
from .folio_try_get import FolioTryGet
from .lru_isolate import LRUIsolate
from .page_counter import PageCounter
from .pte_alloc import PteAlloc
from .swap_skip_swapcache import SwapSkipSwapcache
from .zonelist_seqlock import ZonelistSeqlock
from .program import RaceProgram

__all__ = ["PROGRAMS", "RaceProgram"]

PROGRAMS: dict[str, type[RaceProgram]] = {p.name: p for p in (
    FolioTryGet, LRUIsolate, PageCounter, PteAlloc, SwapSkipSwapcache, ZonelistSeqlock
)}
