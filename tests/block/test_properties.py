"""No request is lost or completed twice, whatever the submissions: random
bios from several CPU actors over random devices, queue sizes and costs."""
from __future__ import annotations

from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from mmactors.block import REQ_OP_READ, REQ_OP_WRITE, submit_bio, submit_bio_wait
from mmactors.costs import CostModel

from .harness import Rig

_bio = st.tuples(st.sampled_from(["dev0", "dev1", "zram0"]),        # device
                 st.sampled_from([REQ_OP_READ, REQ_OP_WRITE]),
                 st.integers(0, 10_000),                            # sector / 8
                 st.integers(1, 32),                                # pages
                 st.integers(0, 200_000),                           # think time before
                 st.booleans())                                     # wait for it
_cpu = st.lists(_bio, min_size=0, max_size=12)


@given(programs=st.lists(_cpu, min_size=1, max_size=4),
       kinds=st.tuples(st.sampled_from(["nvme", "ssd", "hdd"]),
                       st.sampled_from(["nvme", "ssd", "hdd"])),
       nr=st.integers(1, 6), depth=st.integers(1, 6), seed=st.integers(0, 2**16),
       submit_ns=st.integers(0, 3000))
def test_every_bio_ends_exactly_once(programs, kinds, nr, depth, seed, submit_ns):
    depth = min(depth, nr)
    costs = replace(CostModel(), blk_submit_ns=submit_ns, blk_hdd_latency_ns=300_000)
    rig = Rig({"name": "dev0", "kind": kinds[0], "nr_requests": nr, "queue_depth": depth},
              {"name": "dev1", "kind": kinds[1]}, {"name": "zram0", "kind": "zram"},
              costs=costs, seed=seed, duration_ns=10**10)
    submitted = {n: [0, 0] for n in rig.devs}
    waited = []

    def worker(prog):
        async def body(me):
            for name, op, sector, pages, think, wait in prog:
                await me.spend(think)
                b = rig.bio(op, sector * 8, pages)
                submitted[name][op] += 1
                if wait:
                    b.bi_end_io = None           # submit_bio_wait's own callback
                    await submit_bio_wait(rig[name], b)
                    waited.append(b)
                else:
                    await submit_bio(rig[name], b)
        return body
    for c, prog in enumerate(programs):
        rig.cpu(c, worker(prog))
    rig.run()
    assert all(b.ended == 1 and b.bi_status == 0 for b in rig.bios)
    ids = [e[0] for e in rig.log]
    assert len(ids) == len(set(ids)) == len(rig.bios) - len(waited)
    for idx, t, ctx, name, cpu in rig.log:
        b = rig.bios[idx]
        assert t >= b.submit_ns and cpu == b.cpu
        if b.bi_bdev.synchronous:
            assert ctx == "process" and name == f"cpu{cpu}"
        else:
            assert ctx == "softirq" and name == f"irq/{cpu}-blk"
    for name, dev in rig.devs.items():
        s = dev.stats
        assert s.ios == submitted[name]
        assert s.inflight() == 0
        assert dev.completed == sum(submitted[name])
        if not dev.synchronous:
            assert dev.tags.nr_free() == dev.nr_requests
            assert s.max_in_flight <= dev.nr_requests
            assert not dev.inflight
