"""Per-device I/O statistics: struct disk_stats and what block/genhd.c's
``part_stat_show`` prints as /sys/block/<dev>/stat and ``diskstats_show`` as
/proc/diskstats (Documentation/admin-guide/iostats.rst), Linux 6.12.

Accounting follows block/blk-mq.c: ``blk_account_io_start`` when a request
is allocated (``in_flight`` up, ``update_io_ticks``), ``blk_account_io_done``
when it ends (``ios`` and ``sectors`` up, ``nsecs`` += now - start_time_ns,
``in_flight`` down).  ``io_ticks`` is the time with at least one request in
flight (block/blk-core.c ``update_io_ticks``); ``time_in_queue`` is, as in
6.12, the sum of every request's ``nsecs`` (the weighted figure).
Simplification: io_ticks is kept in nanoseconds, not jiffies, and
everything is printed in milliseconds as the kernel prints it.

Beyond the kernel's figures the model keeps the tag waits (how often a
submitter slept in ``blk_mq_get_tag`` because all ``nr_requests`` tags were in
flight, and for how long) and the integral of ``in_flight`` over time, which
tests use to check Little's law against the measured throughput and latency.
"""
from __future__ import annotations

__all__ = ["DiskStats", "STAT_READ", "STAT_WRITE", "STAT_FIELDS"]

STAT_READ, STAT_WRITE = 0, 1

# The columns of /sys/block/<dev>/stat, as Documentation/block/stat.rst names them.
STAT_FIELDS = ("read_ios", "read_merges", "read_sectors", "read_ticks",
               "write_ios", "write_merges", "write_sectors", "write_ticks",
               "in_flight", "io_ticks", "time_in_queue")


class DiskStats:
    """One device's struct disk_stats, plus its in-flight counts and tag waits."""

    __slots__ = ("ios", "merges", "sectors", "nsecs", "in_flight", "io_ticks_ns", "bd_stamp",
                 "in_flight_area", "area_stamp", "tag_waits", "tag_wait_ns", "max_in_flight")

    def __init__(self):
        self.ios = [0, 0]
        self.merges = [0, 0]          # no bio merging is modelled: always 0
        self.sectors = [0, 0]
        self.nsecs = [0, 0]
        self.in_flight = [0, 0]
        self.io_ticks_ns = 0
        self.bd_stamp = 0             # last update_io_ticks
        self.in_flight_area = 0       # integral of in_flight over time (ns x requests)
        self.area_stamp = 0
        self.tag_waits = 0
        self.tag_wait_ns = 0
        self.max_in_flight = 0

    def inflight(self) -> int:
        return self.in_flight[0] + self.in_flight[1]

    def _tick(self, now: int) -> None:
        """update_io_ticks() and the in-flight integral, before a change."""
        n = self.inflight()
        if n:
            self.io_ticks_ns += now - self.bd_stamp
            self.in_flight_area += n * (now - self.area_stamp)
        self.bd_stamp = self.area_stamp = now

    def account_io_start(self, sgrp: int, now: int) -> None:
        """blk_account_io_start / bio_start_io_acct."""
        self._tick(now)
        self.in_flight[sgrp] += 1
        n = self.inflight()
        if n > self.max_in_flight:
            self.max_in_flight = n

    def account_io_done(self, sgrp: int, sectors: int, start_ns: int, now: int) -> None:
        """blk_account_io_done / bio_end_io_acct."""
        self._tick(now)
        self.ios[sgrp] += 1
        self.sectors[sgrp] += sectors
        self.nsecs[sgrp] += now - start_ns
        self.in_flight[sgrp] -= 1
        assert self.in_flight[sgrp] >= 0, "a request ended twice"

    def stat(self, now: int) -> dict:
        """/sys/block/<dev>/stat as a dict (ticks in ms, as part_stat_show prints
        them; io_ticks brought up to ``now`` as reading the file does)."""
        self._tick(now)
        ms = 1_000_000
        return {
            "read_ios": self.ios[0], "read_merges": self.merges[0],
            "read_sectors": self.sectors[0], "read_ticks": self.nsecs[0] // ms,
            "write_ios": self.ios[1], "write_merges": self.merges[1],
            "write_sectors": self.sectors[1], "write_ticks": self.nsecs[1] // ms,
            "in_flight": self.inflight(), "io_ticks": self.io_ticks_ns // ms,
            "time_in_queue": (self.nsecs[0] + self.nsecs[1]) // ms,
        }

    def _check(self) -> None:
        assert all(x >= 0 for x in self.in_flight)
        assert self.io_ticks_ns >= 0 and self.in_flight_area >= 0
