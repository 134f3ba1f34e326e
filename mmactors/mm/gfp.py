"""GFP flags: include/linux/gfp_types.h and include/linux/gfp.h (Linux 6.12).

Bit values are the 6.12 ones without CONFIG_KASAN_HW_TAGS, CONFIG_LOCKDEP's
__GFP_NOLOCKDEP or CONFIG_SLAB_OBJ_EXT (so ``GFP_KERNEL`` is 0xcc0 and
``GFP_HIGHUSER_MOVABLE`` 0x100cca, as ``mode:`` lines in kernel logs show).
Newer kernels differ: 6.13+ add ``__GFP_NO_OBJ_EXT`` for everyone and later
``GFP_NOWAIT`` gains ``__GFP_NOWARN``.

A scenario names its flags as the kernel source does: ``"GFP_KERNEL"``,
``"GFP_ATOMIC | __GFP_ZERO"``, ``"GFP_HIGHUSER_MOVABLE"``.  :func:`parse_gfp`
rejects unknown names and combinations ``gfp_zone`` or ``gfp_migratetype``
would BUG on; :func:`format_gfp` prints flags like ``%pGg``.
"""
from __future__ import annotations

from ._internal import ZONE_DMA, ZONE_DMA32, ZONE_MOVABLE, ZONE_NORMAL

__all__ = ["GFP", "parse_gfp", "format_gfp", "gfp_zone", "gfp_migratetype", "GfpError"]

_BITS = ["__GFP_DMA", "__GFP_HIGHMEM", "__GFP_DMA32", "__GFP_MOVABLE", "__GFP_RECLAIMABLE",
         "__GFP_HIGH", "__GFP_IO", "__GFP_FS", "__GFP_ZERO", None, "__GFP_DIRECT_RECLAIM",
         "__GFP_KSWAPD_RECLAIM", "__GFP_WRITE", "__GFP_NOWARN", "__GFP_RETRY_MAYFAIL",
         "__GFP_NOFAIL", "__GFP_NORETRY", "__GFP_MEMALLOC", "__GFP_COMP", "__GFP_NOMEMALLOC",
         "__GFP_HARDWALL", "__GFP_THISNODE", "__GFP_ACCOUNT", "__GFP_ZEROTAGS"]

GFP: dict[str, int] = {name: 1 << i for i, name in enumerate(_BITS) if name}
g = GFP
__GFP_DMA = g["__GFP_DMA"]
__GFP_HIGHMEM = g["__GFP_HIGHMEM"]
__GFP_DMA32 = g["__GFP_DMA32"]
__GFP_MOVABLE = g["__GFP_MOVABLE"]
__GFP_RECLAIMABLE = g["__GFP_RECLAIMABLE"]
__GFP_HIGH = g["__GFP_HIGH"]
__GFP_IO = g["__GFP_IO"]
__GFP_FS = g["__GFP_FS"]
__GFP_ZERO = g["__GFP_ZERO"]
__GFP_DIRECT_RECLAIM = g["__GFP_DIRECT_RECLAIM"]
__GFP_KSWAPD_RECLAIM = g["__GFP_KSWAPD_RECLAIM"]
__GFP_WRITE = g["__GFP_WRITE"]
__GFP_NOWARN = g["__GFP_NOWARN"]
__GFP_RETRY_MAYFAIL = g["__GFP_RETRY_MAYFAIL"]
__GFP_NOFAIL = g["__GFP_NOFAIL"]
__GFP_NORETRY = g["__GFP_NORETRY"]
__GFP_MEMALLOC = g["__GFP_MEMALLOC"]
__GFP_COMP = g["__GFP_COMP"]
__GFP_NOMEMALLOC = g["__GFP_NOMEMALLOC"]
__GFP_HARDWALL = g["__GFP_HARDWALL"]
__GFP_THISNODE = g["__GFP_THISNODE"]
__GFP_ACCOUNT = g["__GFP_ACCOUNT"]
__GFP_RECLAIM = __GFP_DIRECT_RECLAIM | __GFP_KSWAPD_RECLAIM
GFP_ZONEMASK = __GFP_DMA | __GFP_HIGHMEM | __GFP_DMA32 | __GFP_MOVABLE
GFP_MOVABLE_MASK = __GFP_RECLAIMABLE | __GFP_MOVABLE
GFP_MOVABLE_SHIFT = 3

GFP_ATOMIC = __GFP_HIGH | __GFP_KSWAPD_RECLAIM
GFP_KERNEL = __GFP_RECLAIM | __GFP_IO | __GFP_FS
GFP_KERNEL_ACCOUNT = GFP_KERNEL | __GFP_ACCOUNT
GFP_NOWAIT = __GFP_KSWAPD_RECLAIM
GFP_NOIO = __GFP_RECLAIM
GFP_NOFS = __GFP_RECLAIM | __GFP_IO
GFP_USER = __GFP_RECLAIM | __GFP_IO | __GFP_FS | __GFP_HARDWALL
GFP_DMA = __GFP_DMA
GFP_DMA32 = __GFP_DMA32
GFP_HIGHUSER = GFP_USER | __GFP_HIGHMEM
GFP_HIGHUSER_MOVABLE = GFP_HIGHUSER | __GFP_MOVABLE      # | __GFP_SKIP_KASAN (0 here)
GFP_TRANSHUGE_LIGHT = (GFP_HIGHUSER_MOVABLE | __GFP_COMP | __GFP_NOMEMALLOC
                       | __GFP_NOWARN) & ~__GFP_RECLAIM
GFP_TRANSHUGE = GFP_TRANSHUGE_LIGHT | __GFP_DIRECT_RECLAIM

COMPOSITES = {
    "GFP_ATOMIC": GFP_ATOMIC, "GFP_KERNEL": GFP_KERNEL, "GFP_KERNEL_ACCOUNT": GFP_KERNEL_ACCOUNT,
    "GFP_NOWAIT": GFP_NOWAIT, "GFP_NOIO": GFP_NOIO, "GFP_NOFS": GFP_NOFS, "GFP_USER": GFP_USER,
    "GFP_DMA": GFP_DMA, "GFP_DMA32": GFP_DMA32, "GFP_HIGHUSER": GFP_HIGHUSER,
    "GFP_HIGHUSER_MOVABLE": GFP_HIGHUSER_MOVABLE, "GFP_TRANSHUGE_LIGHT": GFP_TRANSHUGE_LIGHT,
    "GFP_TRANSHUGE": GFP_TRANSHUGE,
}
GFP.update(COMPOSITES)
GFP["__GFP_RECLAIM"] = __GFP_RECLAIM
del g

# include/trace/events/mmflags.h __def_gfpflag_names: composites first, in this order.
_PRINT_ORDER = [
    ("GFP_TRANSHUGE", GFP_TRANSHUGE), ("GFP_TRANSHUGE_LIGHT", GFP_TRANSHUGE_LIGHT),
    ("GFP_HIGHUSER_MOVABLE", GFP_HIGHUSER_MOVABLE), ("GFP_HIGHUSER", GFP_HIGHUSER),
    ("GFP_USER", GFP_USER), ("GFP_KERNEL_ACCOUNT", GFP_KERNEL_ACCOUNT),
    ("GFP_KERNEL", GFP_KERNEL), ("GFP_NOFS", GFP_NOFS), ("GFP_ATOMIC", GFP_ATOMIC),
    ("GFP_NOIO", GFP_NOIO), ("GFP_NOWAIT", GFP_NOWAIT), ("GFP_DMA", GFP_DMA),
    ("__GFP_HIGHMEM", __GFP_HIGHMEM), ("GFP_DMA32", GFP_DMA32), ("__GFP_HIGH", __GFP_HIGH),
    ("__GFP_IO", __GFP_IO), ("__GFP_FS", __GFP_FS),
] + [(n, v) for n, v in ((n, 1 << i) for i, n in enumerate(_BITS) if n)
     if n not in ("__GFP_DMA", "__GFP_HIGHMEM", "__GFP_DMA32", "__GFP_HIGH", "__GFP_IO",
                  "__GFP_FS")]


class GfpError(ValueError):
    pass


def gfp_zone(gfp: int, zone_dma: bool = True) -> int:
    """The highest zone an allocation may use (GFP_ZONE_TABLE, x86-64)."""
    bits = gfp & GFP_ZONEMASK
    if bits & __GFP_DMA:
        if bits & (__GFP_HIGHMEM | __GFP_DMA32):
            raise GfpError("__GFP_DMA with __GFP_HIGHMEM or __GFP_DMA32 is a bad zone combination")
        return ZONE_DMA if zone_dma else ZONE_NORMAL
    if bits & __GFP_DMA32:
        if bits & __GFP_HIGHMEM:
            raise GfpError("__GFP_DMA32 with __GFP_HIGHMEM is a bad zone combination")
        return ZONE_DMA32
    if bits & __GFP_HIGHMEM and bits & __GFP_MOVABLE:
        return ZONE_MOVABLE
    return ZONE_NORMAL


def gfp_migratetype(gfp: int) -> int:
    """(gfp & GFP_MOVABLE_MASK) >> GFP_MOVABLE_SHIFT."""
    if (gfp & GFP_MOVABLE_MASK) == GFP_MOVABLE_MASK:
        raise GfpError("__GFP_MOVABLE and __GFP_RECLAIMABLE together")
    return (gfp & GFP_MOVABLE_MASK) >> GFP_MOVABLE_SHIFT


def parse_gfp(text) -> int:
    """``"GFP_KERNEL | __GFP_ZERO"`` (or an integer mask) -> the mask."""
    if isinstance(text, int) and not isinstance(text, bool):
        mask = text
    elif isinstance(text, str):
        mask = 0
        parts = [p.strip() for p in text.split("|")]
        for p in parts:
            if not p:
                raise GfpError(f"empty flag in {text!r}")
            if p.startswith("~"):
                name = p[1:].strip()
                if name not in GFP:
                    raise GfpError(f"unknown gfp flag {name!r}")
                mask &= ~GFP[name]
                continue
            if p in GFP:
                mask |= GFP[p]
            else:
                try:
                    mask |= int(p, 0)
                except ValueError:
                    raise GfpError(f"unknown gfp flag {p!r} (e.g. GFP_KERNEL, GFP_ATOMIC, "
                                   "GFP_HIGHUSER_MOVABLE, __GFP_ZERO)") from None
    else:
        raise GfpError(f"must be a string such as \"GFP_KERNEL\", got {text!r}")
    if mask < 0 or mask >> len(_BITS):
        raise GfpError(f"mask {mask:#x} has bits the 6.12 gfp_t does not define")
    gfp_zone(mask)
    gfp_migratetype(mask)
    return mask


def format_gfp(gfp: int) -> str:
    """``%pGg``: composite names first, then single flags, joined by ``|``."""
    out, rest = [], gfp
    for name, v in _PRINT_ORDER:
        if v and (rest & v) == v:
            out.append(name)
            rest &= ~v
    if rest:
        out.append(f"{rest:#x}")
    return "|".join(out) if out else "0"
