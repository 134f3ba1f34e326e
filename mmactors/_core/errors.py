"""Errors a simulation run can end with.

Each carries the virtual time and the replay token, so a failure is always
reproducible with ``mmactors run SCENARIO --strategy replay:TOKEN``.
"""
from __future__ import annotations

__all__ = ["SimulationError", "ActorError", "Deadlock", "Interrupted", "ScenarioError"]


class SimulationError(Exception):
    """A run ended abnormally.  ``exit_status`` is what the CLI exits with."""

    exit_status = 1
    kind = "error"

    def __init__(self, message: str, *, now: int | None = None, token: str | None = None,
                 actor: str | None = None):
        super().__init__(message)
        self.message = message
        self.now = now
        self.token = token
        self.actor = actor

    def report(self) -> str:
        where = []
        if self.actor is not None:
            where.append(f"in {self.actor}")
        if self.now is not None:
            where.append(f"at {self.now} ns")
        head = f"{self.kind}{' ' + ' '.join(where) if where else ''}: {self.message}"
        if self.token:
            head += f"\nreplay: --strategy replay:{self.token}"
        return head

    def to_json(self) -> dict:
        return {"kind": self.kind, "message": self.message, "actor": self.actor,
                "virtual_ns": self.now, "replay_token": self.token}


class ActorError(SimulationError):
    """An exception escaped an actor's body (a model or workload bug)."""

    kind = "exception"


class Deadlock(SimulationError):
    """Every actor in ``cycle`` waits on a lock held by the next one."""

    exit_status = 3
    kind = "deadlock"

    def __init__(self, message, *, cycle, **kw):
        super().__init__(message, **kw)
        self.cycle = cycle

    def report(self) -> str:
        lines = [f"deadlock at {self.now} ns: wait-for cycle"]
        for row in self.cycle:
            held = f", held by {row['held_by']}" if row.get("held_by") else ""
            lines.append(f"  {row['actor']} (cpu {row['cpu']}) waits on {row['waits_on']}{held}")
        if not any(r.get("held_by") for r in self.cycle):
            lines[0] = f"deadlock at {self.now} ns: all actors blocked"
        if self.token:
            lines.append(f"replay: --strategy replay:{self.token}")
        return "\n".join(lines)

    def to_json(self) -> dict:
        d = super().to_json()
        d["cycle"] = self.cycle
        return d


class Interrupted(SimulationError):
    """The run was stopped by the user (Ctrl-C, SIGINT) before it ended."""

    exit_status = 130                 # 128 + SIGINT, as a shell reports it
    kind = "interrupted"

    def report(self) -> str:
        return f"interrupted at {self.now:,} ns of virtual time: {self.message}"


class ScenarioError(Exception):
    """Bad input: one line naming the file, the line where known and the key."""

    def __init__(self, path: str, key: str | None, message: str, line: int | None = None):
        self.path, self.key, self.line, self.message = path, key, line, message
        loc = path + (f":{line}" if line else "")
        # One line whatever the input held: control characters are escaped.
        super().__init__(_one_line(f"{loc}: {key + ': ' if key else ''}{message}"))


def _one_line(s: str) -> str:
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in s)
