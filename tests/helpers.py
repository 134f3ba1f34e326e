"""Small helpers for building engines and scenarios in tests."""
from mmactors import Engine, parse_scenario, Machine


def engine(**kw):
    kw.setdefault("seed", 1)
    return Engine(**kw)


def run_text(text, **kw):
    scn = parse_scenario(text, "<test>")
    m = Machine(scn, **kw)
    return m.run()
