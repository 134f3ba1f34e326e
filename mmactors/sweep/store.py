"""The results table: a directory of Parquet files, one per finished run.

Why one file per run.  A sweep can be stopped at any moment (Ctrl-C, SIGKILL,
a node lost).  Appending to one file would need a footer rewrite per row and
leaves a torn file if killed mid-write; a database file needs its own
recovery.  Here every finished run is written to a temporary file in the same
directory and renamed into place (``os.replace`` is atomic on POSIX), so a
file either is a complete row or does not exist, and the directory is always
a valid dataset: pandas, Polars, pyarrow and DuckDB read it as one table
(DuckDB: ``read_parquet('RESULTS/**/*.parquet', union_by_name=true)``, since
runs with other lock classes have other columns).  A run's file is named by
its run id, so "already done" is one ``stat``: a rerun of the same sweep skips
exactly the finished runs.  Leftover temporary files (``.*.tmp``) are hidden
from every reader and removed by the next sweep.

Stale rows.  Rows live under ``RESULTS/<scenario>-<scenario_hash>/
<mmactors_version>-<code_hash>/``.  A sweep reads and skips only inside its
own directory, so a row made from another scenario text, other ``--set``
overrides or other mmactors code is never taken for a result of this one
(nor returned by it).  Such rows stay on disk for comparison;
:func:`read_results` returns every row with those columns, and
``latest=True`` keeps, per scenario name, only the newest code's rows.

The single writer is the process that runs the sweep: workers (local or
Dask) return rows, and only the parent writes, so a cluster needs no shared
file system.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

__all__ = ["ResultsDir", "read_results", "rows_to_frame", "row_table", "write_row"]


def row_table(row: dict):
    import pyarrow as pa
    return pa.table({k: [v] for k, v in row.items()})   # twice as fast as from_pylist


def concat(tables):
    import pyarrow as pa
    if not tables:
        return pa.table({})
    # Runs differ in columns (lock classes, caches): union them; a column a
    # run lacks is null there, and int columns meeting nulls or floats widen.
    return pa.concat_tables(tables, promote_options="permissive")


def rows_to_frame(tables):
    """One pandas DataFrame from per-row tables, in the given order."""
    return concat(tables).to_pandas()


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._+-]+", "_", name).strip("._") or "scenario"


class ResultsDir:
    """The part of a results directory that belongs to one sweep's scenario,
    scenario hash, version and code."""

    def __init__(self, root, plan):
        self.root = Path(root)
        self.dir = (self.root / f"{_safe(plan.name)}-{plan.scenario_hash}"
                    / f"{_safe(plan.version)}-{plan.code}")

    @staticmethod
    def check(root) -> None:
        """Refuse an output that cannot be a results directory (before any run)."""
        from .._core.files import OutputError
        p = Path(root)
        if p.exists() and not p.is_dir():
            raise OutputError(f"--out {root}: is a file, not a results directory")
        parent = p.resolve().parent
        if not p.exists() and not parent.is_dir():
            raise OutputError(f"--out {root}: no such directory {parent}")
        target = p if p.exists() else parent
        if not os.access(target, os.W_OK | os.X_OK):
            raise OutputError(f"--out {root}: directory {target} is not writable")

    def prepare(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        for tmp in self.dir.glob(".*.tmp"):
            # ".run-<id>.parquet.<pid>.tmp": remove if its writer is gone.
            pid = tmp.name.rsplit(".", 2)[-2]
            if not pid.isdigit() or not _alive(int(pid)):
                try:
                    tmp.unlink()
                except OSError:
                    pass

    def path(self, run_id: str) -> Path:
        return self.dir / f"run-{run_id}.parquet"

    def has(self, run_id: str) -> bool:
        return self.path(run_id).is_file()

    def write(self, run_id: str, row: dict) -> None:
        write_row(self.dir, run_id, row)

    def read(self, run_id: str):
        import pyarrow.parquet as pq
        return pq.read_table(self.path(run_id))


def write_row(folder, run_id: str, row: dict) -> None:
    """Write one row: a temporary file, flushed to disk, renamed into place.
    The temporary name starts with a dot and does not end in .parquet, so no
    reader (pyarrow, DuckDB's globs) ever sees a half-written file."""
    import pyarrow.parquet as pq
    final = Path(folder) / f"run-{run_id}.parquet"
    tmp = final.with_name(f".{final.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            pq.write_table(row_table(row), f, compression="zstd")
            f.flush()
            os.fsync(f.fileno())           # a power cut must not leave an empty file
        os.replace(tmp, final)
    except BaseException:
        try:
            tmp.unlink()
        except OSError:
            pass
        raise


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def read_results(path, *, latest: bool = False):
    """Every row under a results directory (or one Parquet file) as a pandas
    DataFrame, sorted by scenario, code and run order (``run_id`` files are
    read in name order, so the frame is the same on every call).
    ``latest=True``: per scenario name, only the rows of the newest version
    and code found (by the files' modification time)."""
    import pyarrow.parquet as pq
    p = Path(path)
    if p.is_file():
        return pq.read_table(p).to_pandas()
    if not p.is_dir():
        raise FileNotFoundError(f"{path}: no such results directory")
    groups: dict[Path, list[Path]] = {}
    for f in sorted(p.glob("*/*/run-*.parquet")):
        groups.setdefault(f.parent, []).append(f)
    if latest:
        newest: dict[str, Path] = {}
        for d, files in groups.items():
            scen = d.parent.name.rsplit("-", 1)[0]
            t = max(f.stat().st_mtime for f in files)
            if scen not in newest or t > max(x.stat().st_mtime for x in groups[newest[scen]]):
                newest[scen] = d
        groups = {d: groups[d] for d in sorted(newest.values())}
    tables = [pq.read_table(f) for d in groups for f in groups[d]]
    return rows_to_frame(tables)
