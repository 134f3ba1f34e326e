"""``kind = "lock-loop"``: each CPU thinks, takes a lock, holds it, releases it.

The workload of Boyd-Wickizer et al., "Non-scalable locks are dangerous"
(Linux Symposium 2012): think time exponential with mean ``think_ns``, a
fixed serial section of ``hold_ns``.  Workloads naming the same ``lock_name``
share one lock instance, so readers and writers of one rw_semaphore can be
split across CPUs.
"""
from __future__ import annotations

from ..schema import Field, nanoseconds, one_of
from ..sync import LOCK_TYPES
from .base import Workload

# Every lock kind; read/write locks in either mode ("rwsem-read", "rwsem-write").
LOCK_KINDS = tuple(k + m for k, cls in LOCK_TYPES.items()
                   for m in (("-read", "-write") if cls.rw else ("",)))


class LockLoop(Workload):
    kind = "lock-loop"
    fields = [
        Field("lock", str, "ticket", check=one_of(*LOCK_KINDS), doc="lock kind and mode"),
        Field("think_ns", int, 20_000, check=nanoseconds(0),
              doc="mean think time between acquisitions (exponential)"),
        Field("hold_ns", int, 400, check=nanoseconds(0), doc="time the lock is held (fixed)"),
        Field("lock_name", str, "&lock_loop->lock", doc="lock class name (shared by name)"),
    ]

    def __init__(self, machine, spec, index):
        super().__init__(machine, spec, index)
        kind = spec["lock"]
        base = kind.split("-")[0]
        self.lock = machine.named_lock(spec["lock_name"], base)
        self.mode = kind.split("-")[1] if "-" in kind else "W"

    def actors(self):
        for cpu in self.cpus:
            yield cpu, f"cpu{cpu}", self.body

    async def body(self, cpu):
        think = self.spec["think_ns"]
        hold = self.spec["hold_ns"]
        rate = 1.0 / think if think else 0.0
        expo = cpu.rng.expovariate
        spend = cpu.engine.spend
        lk = self.lock
        site = "lock_loop"
        if self.mode == "read":
            take = lk.down_read if hasattr(lk, "down_read") else lk.read_lock
            drop = lk.up_read if hasattr(lk, "up_read") else lk.read_unlock
        elif self.mode == "write":
            take = lk.down_write if hasattr(lk, "down_write") else lk.write_lock
            drop = lk.up_write if hasattr(lk, "up_write") else lk.write_unlock
        else:
            take, drop = lk.lock, lk.unlock
        while True:
            if rate:
                await spend(int(expo(rate)))
            await take(site)
            await spend(hold)
            drop(site)
            cpu.ops += 1
