"""Human-readable and machine-readable output of a run."""
from .summary import format_summary, write_json

__all__ = ["format_summary", "write_json"]
