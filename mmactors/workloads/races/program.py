"""The base of every race program: state, one async function per CPU, invariants."""
from __future__ import annotations

__all__ = ["RaceProgram"]


class RaceProgram:
    """A racy kernel program: state, one async function per CPU, invariants.

    Subclasses set the class attributes and define :meth:`setup`,
    :meth:`cpu_functions` and optionally :meth:`check`; ``self.buggy`` says
    which variant runs.
    """

    name = "?"
    title = ""            # one line: what races with what
    fix = ""              # 'commit ("subject")' of the kernel fix it is modelled on
    fix_verified = True   # the subject was checked against the kernel's history
    mirrors: tuple = ()   # kernel functions the program follows
    ncpus = 2
    model = "sc"          # the default memory model
    lanes = 8             # lkmm propagation lanes per CPU
    finds = ""            # how the buggy variant fails (for docs)

    def __init__(self, variant: str = "buggy"):
        self.variant = variant
        self.buggy = variant == "buggy"

    def setup(self, mem):
        """Fresh state for one iteration (locations, structs, locks)."""
        raise NotImplementedError

    def cpu_functions(self) -> list:
        """``async fn(k, state)`` for each CPU, in CPU order."""
        raise NotImplementedError

    def check(self, k, st) -> None:
        """End-of-iteration invariants (raise with ``k.BUG_ON``)."""
