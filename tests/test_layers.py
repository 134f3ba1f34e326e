"""The import layers of docs/internals.md (and ../shared/DESIGN.md), enforced: no import cycle among
mmactors modules (imports inside functions count), and no module imports a
layer above its own.  Nothing in the package registers itself by being
imported, so nothing needs an upward import."""
import ast
from pathlib import Path

PKG = Path(__file__).resolve().parents[1] / "mmactors"

# Bottom to top.  A module may import its own layer and the layers below.
# Packages of one layer do not import each other (lockdep, memmodel and mm
# are independent), except where SAME_LAYER_OK says so (mm does I/O through
# block, as mm/page_io.c calls submit_bio; block never imports mm; fs
# builds on mm's page cache and block's devices, and mm/page-writeback.c
# calls fs/fs-writeback.c's __mark_inode_dirty: module cycles stay banned).
LAYERS = [
    ("engine", ["_version", "_core", "costs", "theory", "schema"]),
    ("locks", ["sync", "workqueue"]),
    ("models", ["lockdep", "memmodel", "block", "mm", "fs"]),
    ("workloads", ["workloads"]),
    ("report", ["report"]),
    ("assembly", ["scenario", "machine"]),
    ("front", ["cli", "testing", "explore", "sweep", "__main__", ""]),
]
SAME_LAYER_OK = {("machine", "scenario"), ("mm", "block"), ("fs", "mm"), ("fs", "block"), ("mm", "fs"), ("workqueue", "sync"), ("_core", "costs"),
                 ("schema", "_core"), ("testing", "explore"), ("cli", "explore"),
                 ("explore", "testing"), ("", "testing"), ("", "sweep"), ("cli", "testing"), ("cli", "sweep"),
                 ("__main__", "cli"), ("", "_version"), ("cli", "")}


def modules():
    out = {}
    for p in PKG.rglob("*.py"):
        rel = p.relative_to(PKG.parent).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = p
    return out


MODS = modules()


def top(mod: str) -> str:
    """mmactors.mm.page_alloc -> "mm"; mmactors -> ""."""
    parts = mod.split(".")
    return parts[1] if len(parts) > 1 else ""


def layer_of(mod: str) -> int:
    t = top(mod)
    for i, (_, pkgs) in enumerate(LAYERS):
        if t in pkgs:
            return i
    raise AssertionError(f"{mod}: in no layer of tests/test_layers.py (add it)")


def imports(mod: str):
    path = MODS[mod]
    is_pkg = path.name == "__init__.py"
    pkg = mod if is_pkg else mod.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = pkg.split(".")[:len(pkg.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            for a in node.names:
                cand = f"{base}.{a.name}"
                yield node.lineno, cand if cand in MODS else base
        elif isinstance(node, ast.Import):
            for a in node.names:
                yield node.lineno, a.name


def edges():
    out = {}
    for m in MODS:
        seen = {}
        for line, t in imports(m):
            while t and t not in MODS:
                t = t.rpartition(".")[0]
            if t and t != m and t.startswith("mmactors"):
                seen.setdefault(t, line)
        out[m] = seen
    return out


EDGES = edges()


def test_every_module_has_a_layer():
    for m in MODS:
        layer_of(m)


def violations(edges) -> list[str]:
    bad = []
    for m, targets in edges.items():
        lm = layer_of(m)
        for t, line in targets.items():
            lt = layer_of(t)
            where = f"{MODS[m].relative_to(PKG.parent)}:{line}: {m} imports {t}"
            if lt > lm:
                bad.append(f"{where} ({LAYERS[lm][0]} layer importing the {LAYERS[lt][0]} layer)")
            elif lt == lm and top(m) != top(t) and (top(m), top(t)) not in SAME_LAYER_OK:
                bad.append(f"{where} (two packages of the {LAYERS[lm][0]} layer)")
    return bad


def cycles(edges) -> list[list[str]]:
    index, low, stack, on, found, counter = {}, {}, [], set(), [], [0]

    def strong(v):                       # Tarjan's strongly connected components
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))
    for v in sorted(edges):
        if v not in index:
            strong(v)
    return found


def test_no_import_runs_against_the_layers():
    bad = violations(EDGES)
    assert not bad, "\n".join(bad)


def test_no_import_cycles():
    found = cycles(EDGES)
    assert not found, "import cycles:\n" + "\n".join(" ".join(c) for c in found)


def test_the_checks_catch_what_they_should():
    """An mm module importing machine, mm importing lockdep, and a cycle."""
    e = {m: dict(t) for m, t in EDGES.items()}
    e["mmactors.mm.page_alloc"]["mmactors.machine"] = 1
    e["mmactors.mm.slub"]["mmactors.lockdep.core"] = 2
    e["mmactors.sync.lock"]["mmactors.sync.mutex"] = 3
    bad = violations(e)
    assert any("page_alloc imports mmactors.machine" in b for b in bad)
    assert any("slub imports mmactors.lockdep.core (two packages" in b for b in bad)
    assert any("mmactors.sync.lock" in c and "mmactors.sync.mutex" in c for c in cycles(e))
