"""A small harness for driving block devices from simulated CPUs in tests:
an engine, devices from ``[[block]]``-style dicts, CPU actors running given
async bodies, and a log of every bio's completion.  Not a workload kind:
file and swap I/O come with the mm code that issues them."""
from __future__ import annotations

from dataclasses import replace

from mmactors._core import Engine
from mmactors.block import Bio, make_device
from mmactors.costs import CostModel

# Costs with the CPU-side block overheads at zero, so that completion times
# are the device's own arithmetic.
ZERO_CPU = replace(CostModel(), blk_submit_ns=0, blk_irq_ns=0, blk_complete_rq_ns=0,
                   wakeup_ns=0)


class Rig:
    def __init__(self, *devices: dict, costs=None, seed=1, duration_ns=10**10, trace=False):
        self.engine = Engine(seed=seed, trace=trace, duration_ns=duration_ns,
                             costs=costs or CostModel())
        self.devs = {}
        for spec in devices:
            d = make_device(self.engine, spec)
            d.start()
            self.devs[spec["name"]] = d
        self.log = []          # (bio id, end_ns, context, actor name, actor cpu)
        self.bios = []

    def __getitem__(self, name):
        return self.devs[name]

    def bio(self, op, sector, pages=1, end_io=None) -> Bio:
        """A bio whose completion is logged (then ``end_io(bio)`` runs, if given)."""
        idx = len(self.bios)
        eng = self.engine

        def bi_end_io(b):
            cur = eng.current
            self.log.append((idx, eng.now, cur.context, cur.name, cur.cpu))
            if end_io is not None:
                end_io(b)
        b = Bio(op, sector, pages, bi_end_io)
        self.bios.append(b)
        return b

    def cpu(self, cpu, body):
        self.engine.add_actor(f"cpu{cpu}", body, cpu=cpu)

    def run(self):
        self.engine.run()
        for d in self.devs.values():
            d._check()
        return self
