"""Memory models: each module has ``NAME`` and ``check(candidate) -> (allowed, flags)``."""

from . import lkmm, sc, tso

MODELS = {m.NAME: m for m in (lkmm, tso, sc)}
