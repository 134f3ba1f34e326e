"""The run's trace, as Chrome trace-event JSON (loads in Perfetto and chrome://tracing).

One track (``tid``) per actor; complete events (``"ph": "X"``) for lock waits
and holds, instants for one-off events.  Events are kept as tuples during the
run and serialised once at the end, byte-for-byte deterministically (fixed
key order, times printed from integers), so ``sha256`` identifies a schedule.
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
        self.events: list[tuple] = []     # (kind, tid, name, cat, start_ns, dur_ns)
        self.threads: dict[int, str] = {}
        self._bytes = None

    def span(self, tid: int, name: str, cat: str, start_ns: int, end_ns: int):
        self.events.append(("X", tid, name, cat, start_ns, end_ns - start_ns))

    def instant(self, tid: int, name: str, ts_ns: int, cat: str = "event"):
        self.events.append(("i", tid, name, cat, ts_ns, 0))

    def to_bytes(self) -> bytes:
        if self._bytes is None:
            out = ['{"displayTimeUnit":"ns","traceEvents":[']
            rows = []
            for tid in sorted(self.threads):
                rows.append('{"ph":"M","pid":1,"tid":%d,"name":"thread_name","args":{"name":%s}}'
                            % (tid, json.dumps(self.threads[tid])))
            for ph, tid, name, cat, ts, dur in self.events:
                if ph == "X":
                    rows.append('{"ph":"X","pid":1,"tid":%d,"name":%s,"cat":"%s","ts":%s,"dur":%s}'
                                % (tid, json.dumps(name), cat, _us(ts), _us(dur)))
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
