"""mmactors: the Linux memory-management subsystem as a multicore actor model.

Every simulated CPU and mm kernel thread is a trio task running in
deterministic virtual time; they meet at kernel lock objects, per-CPU caches
and a memory-consistency layer, so races and contention become visible and
measurable.  The public API is listed in ``__all__``.
"""
from ._version import __version__  # noqa: E402

from ._core import (ActorError, Deadlock, Engine, ScenarioError, SimulationError,  # noqa: E402
                    make_strategy)
from ._core.strategies import ChoiceStrategy, PCTStrategy, RandomStrategy  # noqa: E402
from .costs import CacheLine, CostModel  # noqa: E402
from .machine import Machine, RunResult  # noqa: E402
from .scenario import Scenario, load_scenario, parse_scenario  # noqa: E402
from .report.lockstat import format_lock_stat  # noqa: E402
# ``mmactors.sweep`` is the function (the API users call); the package of the
# same name stays importable as ``from mmactors.sweep import ...`` (sys.modules).
from .sweep import plot, read_results, sweep  # noqa: E402
from .sync import (Mutex, QSpinLock, RWLock, RWSemaphore, SeqCount, SeqLock,  # noqa: E402
                   SpinLock, TicketSpinLock)

__all__ = [
    "__version__", "Engine", "Machine", "RunResult", "Scenario", "load_scenario",
    "parse_scenario", "CostModel", "CacheLine", "make_strategy", "RandomStrategy",
    "PCTStrategy", "ChoiceStrategy", "SimulationError", "ActorError", "Deadlock",
    "ScenarioError", "TicketSpinLock", "QSpinLock", "SpinLock", "RWLock", "RWSemaphore",
    "Mutex", "SeqCount", "SeqLock", "format_lock_stat", "run_scenario",
    "sweep", "read_results", "plot",
]


def run_scenario(path_or_text, *, seed=None, strategy=None, trace=True, overrides=None):
    """Load (a path, or the name of a shipped scenario) or parse (TOML text) a
    scenario, run it, return the RunResult."""
    from pathlib import Path

    from .scenario import find_scenario
    s = str(path_or_text)
    if "\n" in s or "[" in s and not Path(s).exists():
        scn = parse_scenario(s, "<string>", overrides)
    else:
        scn = load_scenario(find_scenario(s), overrides)
    return Machine(scn, seed=seed, strategy=strategy, trace=trace).run()
