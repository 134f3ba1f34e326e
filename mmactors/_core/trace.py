"""The run's trace, as Chrome trace-event JSON (loads in Perfetto and chrome://tracing).

What a trace viewer shows, and how Perfetto's trace processor imports it
(``tests/test_trace_perfetto.py`` loads it there and queries it):

* one thread track per actor (``tid`` = actor id + 1: Perfetto takes tid 0
  for the idle task), named by a ``thread_name`` metadata event: ``cpu0``...,
  ``kswapd0``, ``kcompactd0``, ...;
* lock waits and holds as complete events (``"ph": "X"``) on the actor's
  track, named ``wait <lock class>``, ``hold <lock class>`` (``read <lock
  class>`` for a shared hold), categories ``lock-wait`` and ``lock-hold``;
* instants (``"ph": "i"``) for one-off events (an actor's exit);
* counters (``"ph": "C"``): a value over time, each one counter track in
  Perfetto named ``<group> <key>`` (``node0 Normal nr_free_pages``, ``cpu3
  Normal pcp count``).  A counter is sampled through a *probe* on the lock
  that guards it, when that lock is released (read when the releasing
  actor's step ends, stamped with the release time; the zone's free pages change
  only under ``zone->lock``, a pcp list's count only under ``pcp->lock``), and
  written only when its value changed: the track is exact at every change
  without a sampling actor (which would change the schedule), and once more
  at the end of the run (``finish``).  Probes are
  registered by whoever builds the structures (``Machine``), so the engine
  knows no mm names.

Events are kept as tuples during the run and serialised once at the end,
ordered by time and, at equal times, longest first (an enclosing slice
before the slices it encloses, as a trace importer needs them to nest),
byte-for-byte deterministically (fixed key order, times printed from
integers), so ``sha256`` identifies a schedule.
"""
from __future__ import annotations

import hashlib
import json

from .files import atomic_write

__all__ = ["Trace"]


def _us(ns: int) -> str:
    # Trace-event timestamps are microseconds; print exact decimals from the integer.
    return f"{ns // 1000}.{ns % 1000:03d}"


class Trace:
    def __init__(self):
        # ("X", tid, name, cat, start_ns, dur_ns) | ("i", tid, name, cat, ts_ns, 0)
        # | ("C", tid, group, key, ts_ns, value)
        self.events: list[tuple] = []
        self.threads: dict[int, str] = {}
        # lock object -> probe() -> [(group, key, value)], read at the lock's release
        self.probes: dict = {}
        self._last: dict = {}              # (group, key) -> the value last written
        self.pending: dict = {}            # lock -> (tid, ts): released in the current step
        self._bytes = None
        self._finished = False

    def span(self, tid: int, name: str, cat: str, start_ns: int, end_ns: int):
        self.events.append(("X", tid, name, cat, start_ns, end_ns - start_ns))

    def instant(self, tid: int, name: str, ts_ns: int, cat: str = "event"):
        self.events.append(("i", tid, name, cat, ts_ns, 0))

    def counter(self, tid: int, group: str, key: str, ts_ns: int, value: int):
        """The counter ``group key`` has ``value`` from ``ts_ns`` on (written
        only if it changed)."""
        k = (group, key)
        if self._last.get(k) != value:
            self._last[k] = value
            self.events.append(("C", tid, group, key, ts_ns, value))

    def watch(self, lock, probe, tid: int = 0, now_ns: int = 0):
        """Sample ``probe`` now and whenever ``lock`` is released."""
        self.probes[lock] = probe
        for group, key, value in probe():
            self.counter(tid, group, key, now_ns, value)

    def released(self, lock, tid: int, ts_ns: int):
        """``lock`` was released: its counters are read when the releasing
        actor's step ends (:meth:`flush`, called by the engine before the actor
        spends time, parks or exits), still stamped ``ts_ns``.  Not at once: a
        simulator shortcut may record a lock's release before the body it
        guards (``try_pass``: trylock and unlock in one call), and the value
        must not depend on which path the model took."""
        if lock in self.probes and lock not in self.pending:
            self.pending[lock] = (tid, ts_ns)

    def flush(self):
        pending, self.pending = self.pending, {}
        for lock, (tid, ts_ns) in pending.items():        # insertion order: deterministic
            for group, key, value in self.probes[lock]():
                self.counter(tid, group, key, ts_ns, value)

    def finish(self, ts_ns: int):
        """The end of the run: every counter's value now (a lock may still be
        held, part-way through changing what it guards), in registration order.
        Once: a result made twice does not add events."""
        if self._finished:
            return
        self._finished = True
        self.flush()
        for probe in self.probes.values():
            for group, key, value in probe():
                self.counter(0, group, key, ts_ns, value)

    def to_bytes(self) -> bytes:
        if self._bytes is None:
            out = ['{"displayTimeUnit":"ns","traceEvents":[']
            rows = []
            for tid in sorted(self.threads):
                rows.append('{"ph":"M","pid":1,"tid":%d,"name":"thread_name","args":{"name":%s}}'
                            % (tid + 1, json.dumps(self.threads[tid])))
            # Spans are recorded when they end; a viewer wants them by start, and
            # an enclosing span before what it encloses (sorted() is stable).
            events = sorted(self.events, key=lambda e: (e[4], -e[5] if e[0] == "X" else 0))
            for ph, tid, name, cat, ts, dur in events:
                tid += 1                  # tid 0 is the idle task to a trace importer
                if ph == "X":
                    rows.append('{"ph":"X","pid":1,"tid":%d,"name":%s,"cat":"%s","ts":%s,"dur":%s}'
                                % (tid, json.dumps(name), cat, _us(ts), _us(dur)))
                elif ph == "C":
                    rows.append('{"ph":"C","pid":1,"tid":%d,"name":%s,"ts":%s,"args":{%s:%d}}'
                                % (tid, json.dumps(name), _us(ts), json.dumps(cat), dur))
                else:
                    rows.append('{"ph":"i","s":"t","pid":1,"tid":%d,"name":%s,"cat":"%s","ts":%s}'
                                % (tid, json.dumps(name), cat, _us(ts)))
            out.append(",\n".join(rows))
            out.append("]}\n")
            self._bytes = "".join(out).encode()
        return self._bytes

    def sha256(self) -> str:
        return hashlib.sha256(self.to_bytes()).hexdigest()

    def write(self, path: str):
        atomic_write(path, self.to_bytes())
