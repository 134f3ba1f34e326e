"""[[block]] in scenarios: validation errors, the machine's devices, the
JSON and the summary; a machine with lockdep sees the completion contexts."""
from __future__ import annotations

import pytest

from mmactors import Machine, parse_scenario
from mmactors.block import REQ_OP_WRITE, Bio, block_of, submit_bio, submit_bio_wait
from mmactors.report.summary import format_summary
from mmactors.schema import ScenarioError

BASE = """
[machine]
cpus = 2
[[workload]]
kind = "lock-loop"
cpus = [0]
lock = "ticket"
[run]
duration_ns = 5_000_000
"""


def scn(block: str):
    return parse_scenario(block + BASE, "t.toml")


@pytest.mark.parametrize("block, where, msg", [
    ('[[block]]\nkind = "ssd"\n', "t.toml:1: block[0].name", "is required"),
    ('[[block]]\nname = "sda"\nkind = "tape"\n', "t.toml:3: block[0].kind", "must be one of"),
    ('[[block]]\nname = "sda"\nkind = "ssd"\ncompress_ns = 5\n', "t.toml:4: block[0].compress_ns",
     "does not apply to a ssd device"),
    ('[[block]]\nname = "z"\nkind = "zram"\nqueue_depth = 5\n', "t.toml:4: block[0].queue_depth",
     "does not apply to a zram device"),
    ('[[block]]\nname = "sda"\nkind = "ssd"\nqueue_depth = 128\n',
     "t.toml:4: block[0].queue_depth", "must be <= nr_requests (64)"),
    ('[[block]]\nname = "sda"\nkind = "ssd"\n[[block]]\nname = "sda"\nkind = "hdd"\n',
     "t.toml:5: block[1].name", "declared twice"),
    ('[[block]]\nname = "sda"\nkind = "ssd"\nlatency_ns = -1\n', "t.toml:4: block[0].latency_ns",
     "must be between"),
    ('[[block]]\nname = "s d"\nkind = "ssd"\n', "t.toml:2: block[0].name", "one word"),
])
def test_block_table_errors_name_file_line_and_key(block, where, msg):
    with pytest.raises(ScenarioError) as e:
        scn(block)
    assert str(e.value).startswith(where) and msg in str(e.value)


def test_no_block_table_no_devices():
    m = Machine(scn(""), trace=False)
    assert block_of(m) is None
    res = m.run()
    assert "block" not in res.to_json()
    assert "block devices" not in format_summary(res)


def test_overrides_and_defaults():
    m = Machine(scn('[[block]]\nname = "nvme0n1"\nkind = "nvme"\nlatency_ns = 50_000\n'
                    'bandwidth_mbps = 4096\nnr_requests = 16\n'
                    '[[block]]\nname = "sda"\nkind = "hdd"\n'
                    '[[block]]\nname = "zram0"\nkind = "zram"\ncompress_ns = 2000\n'), trace=False)
    b = block_of(m)
    nv, hd, z = b["nvme0n1"], b["sda"], b["zram0"]
    assert (nv.latency_ns, nv.page_ns, nv.nr_requests, nv.queue_depth) == (50_000, 1000, 16, 16)
    assert (hd.latency_ns, hd.nr_requests, hd.queue_depth, hd.rotational) == \
        (m.costs.blk_hdd_latency_ns, 64, 1, True)
    assert (z.compress_ns, z.decompress_ns) == (2000, m.costs.blk_zram_decompress_ns)


def test_costs_table_sets_kind_defaults():
    m = Machine(parse_scenario('[costs]\nblk_ssd_latency_ns = 123\n[[block]]\nname = "sda"\n'
                               'kind = "ssd"\n' + BASE), trace=False)
    assert block_of(m)["sda"].latency_ns == 123


def test_machine_run_with_io_reports_diskstats_and_lockdep_is_clean():
    """Device actors as kernel threads in a machine (lockdep on, as the test
    plugin sets it): I/O from an extra actor shows in the JSON and summary."""
    m = Machine(scn('[[block]]\nname = "sda"\nkind = "ssd"\n[[block]]\nname = "zram0"\n'
                    'kind = "zram"\n'), trace=False)
    b = block_of(m)
    assert "lockdep" in m.subsystems          # the hardirq/softirq transitions reach it

    async def io(me):
        for i in range(20):
            await submit_bio(b["sda"], Bio(REQ_OP_WRITE, 8 * i, 4))
        await submit_bio_wait(b["zram0"], Bio(REQ_OP_WRITE, 0, 1))
    m.engine.add_actor("io", io, cpu=1)
    res = m.run()
    assert res.error is None, res.error
    d = res.to_json()["block"]
    assert d["sda"]["stat"]["write_ios"] == 20 and d["sda"]["stat"]["write_sectors"] == 640
    assert d["sda"]["stat"]["in_flight"] == 0
    assert d["zram0"]["stat"]["write_ios"] == 1
    assert res.to_json()["block_interrupts"] >= 1
    text = format_summary(res)
    assert "block devices (/proc/diskstats):" in text
    assert "sda 0 0 0 0 20 0 640" in text
    assert res.exit_status == 0
    b._check()
