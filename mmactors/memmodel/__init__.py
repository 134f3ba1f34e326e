"""A herd7-compatible litmus checker for the Linux-kernel memory model.

Models tools/memory-model/linux-kernel.cat, linux-kernel.bell and lock.cat
(``models/lkmm.py``), with linux-kernel.def as the map from primitives to
events (``primitives.py``), plus sequential consistency (``models/sc.py``)
and x86-TSO (``models/tso.py``).

Public API::

    test = parse_litmus(path_or_text)
    result = check(test, model="lkmm")      # -> Result
    print(herd_text(result))
"""

from .check import Result, check
from .errors import LitmusError
from .litmus import parse_litmus
from .output import herd_text, to_json

__all__ = ["LitmusError", "Result", "check", "herd_text", "parse_litmus", "to_json"]
