"""A herd7-compatible litmus checker for the Linux-kernel memory model.

Models tools/memory-model/linux-kernel.cat, linux-kernel.bell and lock.cat
(``models/lkmm.py``), with linux-kernel.def as the map from primitives to
events (``primitives.py``), plus sequential consistency (``models/sc.py``)
and x86-TSO (``models/tso.py``).

The same layer gives simulated CPUs kernel-style shared-memory accesses
(``access``: READ_ONCE, smp_load_acquire, atomics, spinlocks, RCU,
seqcounts, ...) under operational sc, tso and lkmm models whose store
buffers and propagation are scheduling choices of the engine
(``operational``), runs litmus tests on the engine (``runner``), explores
schedules (``schedules``: seeded runs, exhaustive search with sleep sets)
and detects data races with happens-before vector clocks (``race``).

Public API::

    test = parse_litmus(path_or_text)
    result = check(test, model="lkmm")      # -> Result
    print(herd_text(result))

    ex = explore_litmus(test, "tso", exhaustive=True)   # run it on the engine
    assert ex.sound and ex.complete

    mem = Memory(engine, "lkmm", cpus=[0, 1], race=True)
    x = mem.loc("x")
    mem.add_program("P0", async_fn_of_k, cpu=0)         # k: a KernelCPU
"""

from .access import KernelBug, KernelCPU, Loc, MemSpinLock, Memory, SeqCount, Struct
from .check import Result, check
from .errors import LitmusError
from .litmus import parse_litmus
from .output import herd_text, to_json
from .race import DataRace, RaceDetector
from .runner import Exploration, explore_litmus, run_litmus
from .schedules import DFSStats, dfs, random_runs

__all__ = ["LitmusError", "Result", "check", "herd_text", "parse_litmus", "to_json",
           "Memory", "KernelCPU", "Loc", "Struct", "MemSpinLock", "SeqCount", "KernelBug",
           "DataRace", "RaceDetector", "explore_litmus", "run_litmus", "Exploration",
           "dfs", "random_runs", "DFSStats"]
