"""Where runs run: in this process, on a local process pool (the default), or
on a dask.distributed cluster.  Each executor yields ``(index, row)`` as runs
finish, in whatever order they finish; the caller writes every row at once
and orders the result by index, so nothing depends on scheduling.

Ctrl-C.  Pool workers ignore SIGINT (the terminal sends it to the whole
process group): the parent alone decides, and on KeyboardInterrupt it
terminates the pool at once.  Rows already yielded are already written;
a run in flight is simply lost and runs again next time.
"""
from __future__ import annotations

import os
import signal

from .run import run_indexed

__all__ = ["run_local", "run_pool", "run_dask", "SchedulerError", "scheduler_address"]

ENV_SCHEDULER = "MMACTORS_DASK_SCHEDULER"
CONNECT_TIMEOUT = "10s"       # how long to try a scheduler before saying it is not there


class SchedulerError(ValueError):
    """A Dask scheduler that cannot be used: one line, exit status 2."""


def run_local(tasks):
    for t in tasks:
        yield run_indexed(t)


def _ignore_sigint():
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def run_pool(tasks, jobs: int):
    """A pool of ``jobs`` processes.  forkserver, not fork: the parent may hold
    threads (rich's progress bar, a notebook's kernel) that fork would copy
    half-way; the server preloads mmactors once so each worker starts fast."""
    import multiprocessing as mp
    try:
        ctx = mp.get_context("forkserver")
        ctx.set_forkserver_preload(["mmactors.sweep.run", "mmactors.machine"])
    except ValueError:                              # pragma: no cover - not on POSIX
        ctx = mp.get_context("spawn")
    pool = ctx.Pool(jobs, initializer=_ignore_sigint)
    try:
        # chunksize 1: runs differ a lot in length (1 CPU against 64), and a
        # row should be written as soon as its run ends.
        yield from pool.imap_unordered(run_indexed, tasks, chunksize=1)
    finally:
        pool.terminate()                            # at once, on Ctrl-C too
        pool.join()


def scheduler_address(scheduler):
    """The --scheduler option, else $MMACTORS_DASK_SCHEDULER, else None."""
    if scheduler is None:
        scheduler = os.environ.get(ENV_SCHEDULER, "").strip() or None
    return scheduler


def _client(scheduler):
    try:
        from distributed import Client
    except ImportError:
        raise SchedulerError(f"--scheduler {scheduler}: dask.distributed is not installed "
                             "(pip install 'mmactors[dask]')") from None
    if not isinstance(scheduler, str):
        return scheduler, False                     # a Client the caller made
    try:
        return Client(scheduler, timeout=CONNECT_TIMEOUT, set_as_default=False), True
    except (OSError, TimeoutError) as e:
        raise SchedulerError(f"--scheduler {scheduler}: cannot connect: {e}") from None


def _worker_code():
    from .plan import code_hash
    return code_hash()


def run_dask(tasks, scheduler, code: str):
    """Runs as Dask tasks, one per run (the scheduler balances them).  Every
    worker must run the same mmactors code as this process (same code hash):
    a worker with another version would give other rows under this one's
    name, so it is refused before anything runs."""
    from distributed import as_completed
    client, own = _client(scheduler)
    futures = []
    try:
        codes = client.run(_worker_code)
        if not codes:
            raise SchedulerError(f"--scheduler {scheduler}: the cluster has no workers")
        bad = sorted(w for w, c in codes.items() if c != code)
        if bad:
            raise SchedulerError(f"--scheduler {scheduler}: worker {bad[0]} runs other "
                                 f"mmactors code ({codes[bad[0]]}, here {code}); install "
                                 "the same version on every worker")
        futures = client.map(run_indexed, tasks, pure=False)
        with client.as_current():               # as_completed asks for "the" client
            for fut in as_completed(futures):
                yield fut.result()
    finally:
        if futures:
            client.cancel(futures)
        if own:
            client.close()
