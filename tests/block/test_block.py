"""The block-device actor: service model, tags, completion context and time,
zram, statistics, determinism (mmactors/block/)."""
from __future__ import annotations

from dataclasses import replace

import pytest

from mmactors._core import Engine
from mmactors.block import (REQ_OP_READ, REQ_OP_WRITE, REQ_SYNC, Bio, submit_bio,
                            submit_bio_wait)
from mmactors.costs import CostModel

from .harness import ZERO_CPU, Rig

C = CostModel()


def test_depth_1_serialises_requests():
    """At queue depth 1, requests submitted together complete at the
    cumulative sums of their service times (latency + pages x page time)."""
    rig = Rig({"name": "nvme0n1", "kind": "nvme", "queue_depth": 1}, costs=ZERO_CPU)
    dev = rig["nvme0n1"]
    sizes = [1, 4, 2, 8, 1]

    async def body(me):
        for i, n in enumerate(sizes):
            await submit_bio(dev, rig.bio(REQ_OP_READ, 1000 * i, n))
    rig.cpu(0, body)
    rig.run()
    L, P = C.blk_nvme_latency_ns, C.blk_nvme_page_ns
    want, t = [], 0
    for n in sizes:
        t += L + n * P
        want.append(t)
    assert [e[1] for e in rig.log] == want
    assert dev.stats.max_in_flight == len(sizes)      # all allocated (in flight) at once


def test_depth_n_overlaps_n_requests():
    """At depth N, N requests submitted at once share one latency: the k-th
    ends at latency + k page times (the data channel is shared), far sooner
    than N serial services."""
    N = 8
    rig = Rig({"name": "sda", "kind": "ssd", "queue_depth": N}, costs=ZERO_CPU)
    dev = rig["sda"]

    async def body(me):
        for i in range(N):
            await submit_bio(dev, rig.bio(REQ_OP_WRITE, 8 * i, 1))
    rig.cpu(0, body)
    rig.run()
    L, P = C.blk_ssd_latency_ns, C.blk_ssd_page_ns
    assert [e[1] for e in rig.log] == [L + k * P for k in range(1, N + 1)]
    assert rig.log[-1][1] < N * (L + P) / 4
    assert dev.busy_ns == L + N * P                   # one busy period


def test_depth_n_plus_one_waits_for_a_slot():
    """The (N+1)-th request starts when the first ends."""
    N = 4
    rig = Rig({"name": "sda", "kind": "ssd", "queue_depth": N}, costs=ZERO_CPU)
    dev = rig["sda"]

    async def body(me):
        for i in range(N + 1):
            await submit_bio(dev, rig.bio(REQ_OP_READ, 8 * i, 1))
    rig.cpu(0, body)
    rig.run()
    L, P = C.blk_ssd_latency_ns, C.blk_ssd_page_ns
    first = L + P
    assert rig.log[N][1] == first + L + P


def test_bandwidth_bounds_throughput_and_littles_law_holds():
    """Four CPUs keep large writes in flight on a SATA SSD: throughput is the
    bandwidth (one 64-page request per 64 page times), and the time-average
    of in_flight, sampled by an observer, equals throughput x mean latency
    (Little's law, L = lambda W)."""
    pages = 64
    dur = 200_000_000
    rig = Rig({"name": "sda", "kind": "ssd"}, duration_ns=dur)
    dev = rig["sda"]
    samples = []

    def worker(cpu):
        async def body(me):
            i = 0
            while True:
                await submit_bio_wait(dev, Bio(REQ_OP_WRITE, (cpu * 10**6 + i) * 512, pages))
                i += 1
        return body

    async def sampler(me):
        while True:
            await me.spend(10_000)
            samples.append(dev.stats.inflight())
    for c in range(4):
        rig.cpu(c, worker(c))
    rig.engine.add_actor("sampler", sampler, cpu=4)
    rig.run()
    st = dev.stats
    ios = st.ios[1]
    thru = ios / dur                                  # requests per ns
    bound = 1 / (pages * C.blk_ssd_page_ns)
    assert thru == pytest.approx(bound, rel=0.02)
    W = st.nsecs[1] / ios
    assert sum(samples) / len(samples) == pytest.approx(thru * W, rel=0.03)
    # the accounting's own integral agrees too
    assert st.in_flight_area / dur == pytest.approx(thru * W, rel=0.03)
    assert dev.busy_ns / dur > 0.98


def test_small_requests_are_bounded_by_depth_over_latency():
    """Many 4 KiB reads: throughput ~ queue_depth / (latency + page time),
    below the bandwidth bound, when the depth is the limit."""
    dur = 50_000_000
    rig = Rig({"name": "nvme0n1", "kind": "nvme", "queue_depth": 4}, costs=ZERO_CPU,
              duration_ns=dur)
    dev = rig["nvme0n1"]

    def worker(cpu):
        async def body(me):
            i = 0
            while True:
                await submit_bio_wait(dev, Bio(REQ_OP_READ, (cpu * 10**6 + i) * 8, 1))
                i += 1
        return body
    for c in range(8):
        rig.cpu(c, worker(c))
    rig.run()
    thru = dev.stats.ios[0] / dur
    want = 4 / (C.blk_nvme_latency_ns + C.blk_nvme_page_ns)
    assert thru == pytest.approx(want, rel=0.03)


def test_tag_exhaustion_makes_submitters_wait_and_counts_it():
    """nr_requests = 4: the fifth to tenth submissions each sleep in
    blk_mq_get_tag until a completion frees a tag."""
    rig = Rig({"name": "sda", "kind": "ssd", "nr_requests": 4, "queue_depth": 2})
    dev = rig["sda"]
    back = []

    async def body(me):
        for i in range(10):
            await submit_bio(dev, rig.bio(REQ_OP_WRITE, 8 * i, 1))
            back.append(rig.engine.now)
    rig.cpu(0, body)
    rig.run()
    st = dev.stats
    assert st.tag_waits == 6
    assert st.tag_wait_ns > 0
    assert st.max_in_flight == 4
    assert len(rig.log) == 10 and st.ios[1] == 10
    # the fifth submission returned only after the first completion freed a tag
    first_end = rig.log[0][1]
    assert back[3] < first_end <= back[4]
    assert dev.tags.nr_free() == 4


def test_completion_runs_once_in_softirq_on_the_submitting_cpu_at_the_right_time():
    """bi_end_io runs once per bio, in BLOCK_SOFTIRQ context on the CPU that
    submitted it, after the device time plus the interrupt and the per-request
    softirq work."""
    rig = Rig({"name": "nvme0n1", "kind": "nvme"})
    dev = rig["nvme0n1"]
    starts = {}

    def worker(cpu):
        async def body(me):
            await me.spend(cpu * 1_000_000)
            t = rig.engine.now
            starts[cpu] = t
            await submit_bio(dev, rig.bio(REQ_OP_WRITE | REQ_SYNC, 8 * cpu, 2))
        return body
    for c in range(3):
        rig.cpu(c, worker(c))
    rig.run()
    assert len(rig.log) == 3
    for idx, t, ctx, name, cpu in rig.log:
        assert ctx == "softirq"
        assert name == f"irq/{cpu}-blk" and cpu == idx
        device_end = starts[cpu] + C.blk_submit_ns + C.blk_nvme_latency_ns + 2 * C.blk_nvme_page_ns
        assert t == device_end + C.blk_irq_ns + C.blk_complete_rq_ns
    assert all(b.ended == 1 and b.bi_status == 0 for b in rig.bios)


def test_zram_completes_synchronously_in_the_submitters_context():
    rig = Rig({"name": "zram0", "kind": "zram"})
    z = rig["zram0"]
    seen = []

    async def body(me):
        t0 = rig.engine.now
        b = rig.bio(REQ_OP_WRITE, 0, 4)
        await submit_bio(z, b)
        seen.append(("after write", len(rig.log), rig.engine.now - t0))
        t1 = rig.engine.now
        await submit_bio(z, rig.bio(REQ_OP_READ, 0, 4))
        seen.append(("after read", len(rig.log), rig.engine.now - t1))
    rig.cpu(2, body)
    rig.run()
    assert seen == [("after write", 1, 4 * C.blk_zram_compress_ns),
                    ("after read", 2, 4 * C.blk_zram_decompress_ns)]
    assert [(ctx, name) for _, _, ctx, name, _ in rig.log] == [("process", "cpu2")] * 2
    assert z.actor is None and "irq/2-blk" not in [a.name for a in rig.engine.actors]
    st = z.stats.stat(rig.engine.now)
    assert (st["read_ios"], st["write_ios"], st["read_sectors"], st["in_flight"]) == (1, 1, 32, 0)


def test_hdd_pays_the_seek_only_when_not_sequential():
    rig = Rig({"name": "sda", "kind": "hdd"}, costs=ZERO_CPU)
    dev = rig["sda"]

    async def body(me):
        await submit_bio(dev, rig.bio(REQ_OP_READ, 0, 8))        # seek
        await submit_bio(dev, rig.bio(REQ_OP_READ, 64, 8))       # follows on: no seek
        await submit_bio(dev, rig.bio(REQ_OP_READ, 10**6, 1))    # elsewhere: seek
    rig.cpu(0, body)
    rig.run()
    L, P = C.blk_hdd_latency_ns, C.blk_hdd_page_ns
    assert [e[1] for e in rig.log] == [L + 8 * P, L + 16 * P, 2 * L + 17 * P]


def test_stat_fields_as_sys_block_stat():
    rig = Rig({"name": "sda", "kind": "ssd"}, costs=ZERO_CPU)
    dev = rig["sda"]

    async def body(me):
        await submit_bio_wait(dev, Bio(REQ_OP_READ, 0, 2))
        await submit_bio_wait(dev, Bio(REQ_OP_WRITE, 0, 1))
    rig.cpu(0, body)
    rig.run()
    L, P = C.blk_ssd_latency_ns, C.blk_ssd_page_ns
    st = dev.stats.stat(rig.engine.now)
    assert st["read_ios"] == 1 and st["read_sectors"] == 16
    assert st["write_ios"] == 1 and st["write_sectors"] == 8
    assert dev.stats.nsecs == [L + 2 * P, L + P]
    assert st["in_flight"] == 0
    assert dev.stats.io_ticks_ns == 2 * L + 3 * P     # busy only while requests were out
    assert st["time_in_queue"] == (2 * L + 3 * P) // 1_000_000


def _random_run(seed, trace=False):
    rig = Rig({"name": "nvme0n1", "kind": "nvme", "nr_requests": 8, "queue_depth": 4},
              {"name": "sdb", "kind": "hdd"}, seed=seed, duration_ns=50_000_000, trace=trace)
    eng = rig.engine

    def worker(cpu):
        async def body(me):
            for i in range(30):
                dev = rig["nvme0n1"] if me.rng.random() < 0.7 else rig["sdb"]
                op = REQ_OP_WRITE if me.rng.random() < 0.5 else REQ_OP_READ
                await submit_bio(dev, rig.bio(op, me.rng.randrange(0, 10**6) * 8,
                                              me.rng.randint(1, 16)))
                await me.spend(me.rng.randrange(0, 50_000))
        return body
    for c in range(4):
        rig.cpu(c, worker(c))
    rig.run()
    return rig, eng


def test_deterministic_same_seed_same_trace():
    a, ea = _random_run(7, trace=True)
    b, eb = _random_run(7, trace=True)
    assert a.log == b.log and ea.trace.sha256() == eb.trace.sha256()
    c, _ = _random_run(8)
    assert c.log != a.log


def test_engine_without_device_start_is_an_error():
    from mmactors.block import make_device
    eng = Engine(seed=1, trace=False, duration_ns=10**6)
    dev = make_device(eng, {"name": "sda", "kind": "ssd"})
    errors = []

    async def body(me):
        try:
            await submit_bio(dev, Bio(REQ_OP_READ, 0))
        except RuntimeError as e:
            errors.append(str(e))
    eng.add_actor("cpu0", body)
    eng.run()
    assert errors and "not started" in errors[0]


def test_bio_rejects_nonsense():
    with pytest.raises(ValueError):
        Bio(REQ_OP_READ, 0, 0)
    with pytest.raises(ValueError):
        Bio(REQ_OP_READ, -8, 1)


def test_costs_replace_keeps_the_kernel_defaults():
    c = replace(CostModel(), blk_ssd_latency_ns=1)
    assert c.blk_ssd_page_ns == CostModel().blk_ssd_page_ns


def test_plug_holds_bios_until_finish_and_flushes_at_32():
    """blk_start_plug ... blk_finish_plug (block/blk-core.c): plugged bios reach a
    blk-mq device only at the finish, or when BLK_MAX_REQUEST_COUNT = 32 are
    held (blk_add_rq_to_plug); zram (bio-based, synchronous) is never plugged."""
    from mmactors.block import blk_core
    rig = Rig({"name": "sda", "kind": "ssd", "queue_depth": 64},
              {"name": "zram0", "kind": "zram"}, costs=ZERO_CPU)
    dev, z = rig["sda"], rig["zram0"]
    seen = []

    async def body(me):
        blk_core.blk_start_plug(me)
        blk_core.blk_start_plug(me)                    # nested: ignored
        for i in range(3):
            await submit_bio(dev, rig.bio(REQ_OP_WRITE, 8 * i, 1))
        await submit_bio(z, rig.bio(REQ_OP_WRITE, 0, 1))
        seen.append(("plugged", dev.stats.stat(rig.engine.now)["write_ios"] +
                     dev.stats.stat(rig.engine.now)["in_flight"], len(rig.log)))
        await rig.engine.spend(10 * C.blk_ssd_latency_ns)
        seen.append(("still plugged", len(rig.log)))
        await blk_core.blk_finish_plug(me)
        seen.append(("finished", rig.engine.now))
        blk_core.blk_start_plug(me)
        for i in range(blk_core.BLK_MAX_REQUEST_COUNT + 1):
            await submit_bio(dev, rig.bio(REQ_OP_WRITE, 1000 + 8 * i, 1))
        seen.append(("after 33", len(me.plug)))
        await blk_core.blk_finish_plug(me)
        seen.append(("unplugged", me.plug))
    rig.cpu(0, body)
    rig.run()
    assert seen[0] == ("plugged", 0, 1)               # only zram's bio ended
    assert seen[1] == ("still plugged", 1)
    assert seen[3] == ("after 33", 1)                 # 32 flushed, one held
    assert len(rig.log) == 1 + 3 + 33
    assert all(b.ended == 1 for b in rig.bios)
    assert seen[-1] == ("unplugged", None)             # current->plug cleared
