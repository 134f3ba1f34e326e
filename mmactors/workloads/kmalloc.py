"""``kind = "kmalloc"``: each iteration kmallocs one object and later kfrees it.

::

    [[workload]]
    kind = "kmalloc"
    cpus = "all"
    size = 64               # bytes; or sizes = [32, 256, 4096] with weights = [6, 3, 1]
    gfp = "GFP_KERNEL"      # __GFP_RECLAIMABLE / __GFP_ACCOUNT / __GFP_DMA pick the
                            # kmalloc-rcl- / kmalloc-cg- / dma-kmalloc- caches
    cache = ""              # a name: use a dedicated kmem_cache of object size `size`
    free_on = "same"        # same | next | random | [CPU, ...] (as for page-alloc)
    lifetime_ns = 1000
    lifetime = "fixed"      # fixed | exponential
    think_ns = 0
    iterations = 0          # per CPU (0: until the run ends)
    drain_at_end = false    # after the last kfree: flush and shrink the caches used,
                            # then drain_all_pages()
    node = -1

Sizes above KMALLOC_MAX_CACHE_SIZE (8 KiB) go to the page allocator
(``kmalloc_large``).  Cross-CPU frees (``free_on`` other than ``same``) take
SLUB's slow free path: the object goes onto its slab's own freelist, and a
slab that moves between lists takes ``n->list_lock``.
"""
from __future__ import annotations

from ..schema import Field, between
from .page_alloc import COMMON_MM_FIELDS, AllocFreeWorkload

__all__ = ["Kmalloc"]


def _sizes(v):
    if isinstance(v, list) and v and all(isinstance(x, int) and not isinstance(x, bool)
                                         and 1 <= x <= 4 << 20 for x in v):
        return None
    return "must be a non-empty list of sizes in bytes (1 .. 4 MiB)"


def _weights(v):
    if isinstance(v, list) and all(isinstance(x, (int, float)) and not isinstance(x, bool)
                                   and x >= 0 for x in v) and any(v):
        return None
    return "must be a list of non-negative numbers, not all zero"


class Kmalloc(AllocFreeWorkload):
    kind = "kmalloc"
    fields = [
        Field("size", int, 64, check=between(1, 4 << 20), doc="object size in bytes"),
        Field("sizes", list, [], check=lambda v: None if v == [] else _sizes(v),
              doc="several sizes, chosen per allocation (with weights)"),
        Field("weights", list, [], check=lambda v: None if v == [] else _weights(v),
              doc="relative weight of each entry of sizes (default: equal)"),
        Field("cache", str, "", doc="a dedicated kmem_cache of this name (object size = size)"),
    ] + COMMON_MM_FIELDS

    @classmethod
    def validate(cls, ctx, tpath, spec, machine, sections):
        spec = super().validate(ctx, tpath, spec, machine, sections)
        if spec["weights"] and not spec["sizes"]:
            raise ctx.error(tpath, "weights", "needs sizes")
        if spec["weights"] and len(spec["weights"]) != len(spec["sizes"]):
            raise ctx.error(tpath, "weights", f"has {len(spec['weights'])} entries, sizes has "
                            f"{len(spec['sizes'])}")
        if spec["cache"] and spec["sizes"]:
            raise ctx.error(tpath, "cache", "a dedicated cache has one object size: use size")
        if spec["cache"] and spec["size"] > 8192:
            raise ctx.error(tpath, "size", "a dedicated cache holds objects up to 8192 bytes")
        return spec

    def __init__(self, machine, spec, index):
        super().__init__(machine, spec, index)
        self.slub = self.pm.slub
        self.sizes = spec["sizes"] or [spec["size"]]
        self.weights = spec["weights"] or None
        self.size = self.sizes[0]
        self.cache = None
        if spec["cache"]:
            self.cache = self.slub.caches.get(spec["cache"]) or \
                self.slub.kmem_cache_create(spec["cache"], spec["size"])
        self.used = set()

    async def alloc(self, me):
        if self.cache is not None:
            addr = await self.slub.kmem_cache_alloc(self.cache, self.gfp, self.node)
        else:
            if len(self.sizes) > 1:
                size = me.rng.choices(self.sizes, self.weights)[0]
            else:
                size = self.size
            addr = await self.slub.kmalloc(size, self.gfp, self.node)
        return addr or None

    async def free(self, me, addr):
        if self.cache is not None:
            await self.slub.kmem_cache_free(self.cache, addr)
        elif not self.slub.kfree_fast(addr):
            await self.slub.kfree(addr)

    async def at_end(self, me):
        slub = self.slub
        caches = [self.cache] if self.cache is not None else \
            [c for c in slub.caches.values() if c.slabs]
        for c in caches:
            await slub.kmem_cache_shrink(c)
        await self.pm.pa.drain_all_pages(via=self.spec["drain_via"])

    def report(self) -> dict:
        d = super().report()
        d["sizes"] = self.sizes
        if self.cache is not None:
            d["cache"] = self.cache.name
        return d
