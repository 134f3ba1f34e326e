"""Block devices as a machine subsystem: the ``[[block]]`` tables, the device
kinds and their defaults, and the report.

A scenario declares its devices; each kind takes its latency and bandwidth
from the cost model (``[costs] blk_<kind>_latency_ns``, ``blk_<kind>_page_ns``)
and its queue sizes from the kernel's defaults, and any of them can be
overridden per device::

    [[block]]
    name = "nvme0n1"
    kind = "nvme"            # nvme | ssd | hdd | zram
    # latency_ns = 80_000    # access latency (hdd: seek + rotation)
    # bandwidth_mbps = 3000  # MB/s of the data channel
    # nr_requests = 1023     # tags: submitters sleep when all are in flight
    # queue_depth = 32       # requests the device serves at once

zram takes ``compress_ns`` and ``decompress_ns`` instead (CPU time per page
on the submitting CPU).  A scenario without ``[[block]]`` has no devices and
nothing here runs.  Swap (mm/page_io.c) and the page cache find the devices
in ``machine.subsystems["block"].devices`` by name.

Defaults of the queue sizes, with their sources:

* nvme: ``nr_requests`` 1023 (the nvme driver's tag set: io_queue_depth 1024
  minus one, drivers/nvme/host/pci.c; the "none" scheduler keeps it), device
  depth 32 (a consumer drive reaches its random-read IOPS plateau,
  ~400-500k, around QD32);
* ssd (SATA): ``nr_requests`` 64 (mq-deadline's 2 x the 32 NCQ tags,
  block/blk-mq-sched.c ``blk_mq_init_sched``), device depth 32 (NCQ,
  ATA_MAX_QUEUE);
* hdd: ``nr_requests`` 64 as for SATA, device depth 1: one head serves one
  request at a time (NCQ reorders, it does not overlap).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from ..schema import Field, Section, Subsystem, between, check_table, one_of
from .blk_mq import BlkSoftirq, BlockDevice, page_ns_of
from .zram import Zram

__all__ = ["DeviceKind", "DEVICE_KINDS", "BLOCK_FIELDS", "BlockLayer", "block_of", "make_device",
           "SUBSYSTEM"]


@dataclass(frozen=True)
class DeviceKind:
    """A kind's defaults: cost-model field names for latency and per-page
    transfer time, and the queue sizes."""
    latency: str | None
    page: str | None
    nr_requests: int
    queue_depth: int
    rotational: bool = False
    synchronous: bool = False


DEVICE_KINDS = {
    "nvme": DeviceKind("blk_nvme_latency_ns", "blk_nvme_page_ns", 1023, 32),
    "ssd": DeviceKind("blk_ssd_latency_ns", "blk_ssd_page_ns", 64, 32),
    "hdd": DeviceKind("blk_hdd_latency_ns", "blk_hdd_page_ns", 64, 1, rotational=True),
    "zram": DeviceKind(None, None, 0, 0, synchronous=True),
}

_MQ_KEYS = ("latency_ns", "bandwidth_mbps", "nr_requests", "queue_depth")
_ZRAM_KEYS = ("compress_ns", "decompress_ns")


def _one_word(v):
    return None if re.fullmatch(r"[A-Za-z0-9_.\-]+", v) else \
        f"must be one word of letters, digits, '_', '.', '-', got {v!r}"


BLOCK_FIELDS = (
    Field("name", str, required=True, check=_one_word,
          doc="the device's name (nvme0n1, sda, zram0), as /proc/diskstats shows it"),
    Field("kind", str, required=True, check=one_of(*DEVICE_KINDS), doc="nvme | ssd | hdd | zram"),
    Field("latency_ns", int, None, check=between(0, 10**9),
          doc="access latency per request (default: [costs] blk_<kind>_latency_ns)"),
    Field("bandwidth_mbps", int, None, check=between(1, 10**6),
          doc="MB/s of the data channel (default from [costs] blk_<kind>_page_ns)"),
    Field("nr_requests", int, None, check=between(1, 65536),
          doc="tags (/sys/block/<dev>/queue/nr_requests)"),
    Field("queue_depth", int, None, check=between(1, 65536),
          doc="requests the device serves at once (/sys/block/<dev>/device/queue_depth)"),
    Field("compress_ns", int, None, check=between(0, 10**9),
          doc="zram: CPU ns to compress one page (default: [costs] blk_zram_compress_ns)"),
    Field("decompress_ns", int, None, check=between(0, 10**9),
          doc="zram: CPU ns to decompress one page (default: [costs] blk_zram_decompress_ns)"),
)


def _validate(ctx, data, machine):
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        raise ctx.error((), "block", "must be an array of tables ([[block]])")
    out, seen = [], {}
    for i, t in enumerate(data):
        tpath = ("block", i)
        spec = check_table(ctx, tpath, t, BLOCK_FIELDS)
        name = spec["name"]
        if name in seen:
            raise ctx.error(tpath, "name", f"device {name!r} is declared twice "
                            f"(block[{seen[name]}] is one)")
        seen[name] = i
        wrong = _MQ_KEYS if spec["kind"] == "zram" else _ZRAM_KEYS
        for k in wrong:
            if t.get(k) is not None:
                ok = ", ".join(_ZRAM_KEYS if spec["kind"] == "zram" else _MQ_KEYS)
                raise ctx.error(tpath, k, f"does not apply to a {spec['kind']} device "
                                f"(its keys: {ok})")
        if spec["kind"] != "zram":
            nr = spec["nr_requests"] or DEVICE_KINDS[spec["kind"]].nr_requests
            if spec["queue_depth"] is not None and spec["queue_depth"] > nr:
                raise ctx.error(tpath, "queue_depth", f"must be <= nr_requests ({nr}), "
                                f"got {spec['queue_depth']}")
        out.append(spec)
    return out


BLOCK_SECTION = Section("block", _validate, list)


def make_device(engine, spec: dict):
    """A device from a validated ``[[block]]`` table (or a dict with at least
    ``name`` and ``kind``), its defaults from ``engine.costs``."""
    kind = DEVICE_KINDS[spec["kind"]]
    costs = engine.costs
    if kind.synchronous:
        c = spec.get("compress_ns")
        d = spec.get("decompress_ns")
        return Zram(engine, spec["name"],
                    compress_ns=costs.blk_zram_compress_ns if c is None else c,
                    decompress_ns=costs.blk_zram_decompress_ns if d is None else d)
    lat = spec.get("latency_ns")
    bw = spec.get("bandwidth_mbps")
    nr = spec.get("nr_requests") or kind.nr_requests
    depth = spec.get("queue_depth") or min(kind.queue_depth, nr)
    return BlockDevice(engine, spec["name"], spec["kind"],
                       latency_ns=getattr(costs, kind.latency) if lat is None else lat,
                       page_ns=getattr(costs, kind.page) if bw is None else page_ns_of(bw),
                       nr_requests=nr, queue_depth=depth, rotational=kind.rotational)


class BlockLayer:
    """The machine's block devices, by name."""

    name = "block"

    def __init__(self, engine, devices: dict):
        self.engine = engine
        self.devices = devices

    def __getitem__(self, name):
        return self.devices[name]

    def _check(self) -> None:
        for d in self.devices.values():
            d._check()

    def device_json(self, dev) -> dict:
        st = dev.stats
        now = self.engine.now
        out = dict(dev.info())
        out["stat"] = st.stat(now)
        out["nsecs"] = {"read": st.nsecs[0], "write": st.nsecs[1]}   # the ticks, in ns
        out["completed"] = dev.completed
        out["max_in_flight"] = st.max_in_flight
        if not dev.synchronous:
            out["tag_waits"] = st.tag_waits
            out["tag_wait_ns"] = st.tag_wait_ns
            out["busy_ns"] = dev.busy_ns
            out["util"] = round(dev.busy_ns / now, 4) if now else 0.0
        return out

    def report(self, extra: dict) -> None:
        extra["block"] = {name: self.device_json(d) for name, d in self.devices.items()}
        irq = self.engine.runvars.get(BlkSoftirq)     # none until the first completion
        extra["block_interrupts"] = irq.interrupts if irq is not None else 0


def block_of(machine) -> "BlockLayer | None":
    """The machine's block devices, if the scenario declares any."""
    return machine.subsystems.get("block")


def build(machine) -> "BlockLayer | None":
    """One device per ``[[block]]`` table; each blk-mq device's actor is a
    kernel thread named after the device."""
    specs = machine.scenario.sections.get("block") or []
    if not specs:
        return None
    eng = machine.engine
    devices = {}
    for spec in specs:
        dev = make_device(eng, spec)
        # the device actor is the hardware: cpu 0 is nominal, it runs no CPU code
        dev.start(lambda name, body: machine.add_kthread(name, body, cpu=0))
        devices[spec["name"]] = dev
    return BlockLayer(eng, devices)


SUBSYSTEM = Subsystem("block", sections=(BLOCK_SECTION,), build=build,
                      doc="block devices (nvme, ssd, hdd, zram) for swap and file I/O")
