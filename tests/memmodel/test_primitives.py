"""The primitive table agrees with the LKMM's linux-kernel.def."""

from __future__ import annotations

import re

from mmactors.memmodel.primitives import FENCE_TAGS, PRIMITIVES

KIND_OF = {
    "__load": "load", "__store": "store", "__xchg": "xchg", "__cmpxchg": "cmpxchg",
    "__fence": "fence", "__atomic_op_return": "op_return", "__atomic_fetch_op": "fetch_op",
    "__atomic_op": "atomic_op", "__lock": "lock", "__unlock": "unlock",
    "__trylock": "trylock", "__islocked": "islocked", "__srcu": "srcu",
}


# The shared linux-kernel.def predates Linux commit 6cd244c87428 ("Provide
# exact SRCU semantics"), which the shared linux-kernel.bell follows: there
# srcu_read_lock(X) is __load{srcu-lock}(*X) and srcu_read_unlock(X,Y)
# __store{srcu-unlock}(*X,Y).  The table follows the bell (see primitives).
EXACT_SRCU = {
    "srcu_read_lock": ("load", "srcu-lock", 1),
    "srcu_read_unlock": ("store", "srcu-unlock", 2),
    "synchronize_srcu": ("sync_srcu", "sync-srcu", 1),
    "synchronize_srcu_expedited": ("sync_srcu", "sync-srcu", 1),
}


def test_table_matches_def(litmus_root):
    text = (litmus_root / "model" / "linux-kernel.def").read_text()
    seen = 0
    for line in text.splitlines():
        m = re.match(r"([A-Za-z_0-9]+)\(([^)]*)\)\s+(.*)", line)
        if not m:
            continue
        name, params, body = m.group(1), m.group(2), m.group(3)
        if name in EXACT_SRCU:
            prim = PRIMITIVES[name]
            assert (prim.kind, prim.tag, prim.nargs) == EXACT_SRCU[name], name
            seen += 1
            continue
        assert name in PRIMITIVES, name
        prim = PRIMITIVES[name]
        nparams = len([p for p in params.split(",") if p.strip()])
        assert prim.nargs == nparams, name
        call = re.search(r"(__[a-z_]+)(?:\{([a-z-]+)\})?", body)
        if call and call.group(1) in KIND_OF:
            assert prim.kind == KIND_OF[call.group(1)], name
            tag = call.group(2)
            if prim.kind in ("load", "store", "xchg", "cmpxchg", "op_return", "fetch_op",
                             "fence"):
                assert prim.tag == tag, name
        else:
            inner = re.match(r"\{?\s*([A-Za-z_]+)\(", body).group(1)
            assert PRIMITIVES[inner].kind == prim.kind, name
            assert PRIMITIVES[inner].tag == prim.tag, name
        seen += 1
    assert seen > 80


def test_fence_tags_known():
    for prim in PRIMITIVES.values():
        if prim.kind == "fence":
            assert prim.tag in FENCE_TAGS
