"""Errors raised by the litmus front end and checker.

Every problem with a test (bad syntax, an unsupported primitive, a value the
checker cannot compute) is a :class:`LitmusError` that names the file and line,
so that the checker never silently prints a wrong verdict.
"""

from __future__ import annotations

from typing import Optional


class LitmusError(Exception):
    """A problem with a litmus test, located at ``path:line``; a problem with
    the file as a whole (missing, unreadable) has no line (0 or None) and
    prints as ``path: message``."""

    def __init__(self, path: str, line: Optional[int], message: str) -> None:
        super().__init__(path, line, message)
        self.path = path
        self.line = line
        self.message = message

    def __str__(self) -> str:
        if self.line:
            return f"{self.path}:{self.line}: {self.message}"
        return f"{self.path}: {self.message}"


class EvalError(Exception):
    """Raised while evaluating a symbolic value; converted to LitmusError."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(line, message)
        self.line = line
        self.message = message
