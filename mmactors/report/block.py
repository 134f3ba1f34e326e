"""Block devices in the human summary: /proc/diskstats lines (block/genhd.c
``diskstats_show``: major, minor, name, then the /sys/block/<dev>/stat
columns) and a line per device with what the columns mean in rates."""
from __future__ import annotations

__all__ = ["format_block", "diskstats_line"]


# The kernel's major numbers: NVMe's blkext 259, SCSI disks 8, zram 252 (dynamic).
_MAJOR = {"nvme": 259, "ssd": 8, "hdd": 8, "zram": 252}


def diskstats_line(name: str, stat: dict, major: int = 0, minor: int = 0) -> str:
    """One /proc/diskstats line (the first eleven stat columns; discard and
    flush, never issued here, are zeros)."""
    cols = [stat[k] for k in ("read_ios", "read_merges", "read_sectors", "read_ticks",
                              "write_ios", "write_merges", "write_sectors", "write_ticks",
                              "in_flight", "io_ticks", "time_in_queue")]
    return f"{major:4d} {minor:7d} {name} " + " ".join(str(c) for c in cols) + " 0 0 0 0 0 0"


def format_block(layer, res) -> str:
    extra = res.extra.get("block", {})
    secs = res.virtual_ns / 1e9 if res.virtual_ns else 0.0
    lines = ["block devices (/proc/diskstats):"]
    for i, (name, d) in enumerate(extra.items()):
        lines.append("  " + diskstats_line(name, d["stat"], _MAJOR[d["kind"]], i * 16))
    for name, d in extra.items():
        st = d["stat"]
        ios = st["read_ios"] + st["write_ios"]
        mib = (st["read_sectors"] + st["write_sectors"]) * 512 / 2**20
        lat = (d["nsecs"]["read"] + d["nsecs"]["write"]) / ios / 1000 if ios else 0.0
        if d["kind"] == "zram":
            what = f"zram, {d['compress_ns']:,} ns/page compress, {d['decompress_ns']:,} decompress"
            tail = ""
        else:
            what = (f"{d['kind']}, {d['latency_ns'] / 1000:,.0f} us, {d['bandwidth_mbps']:,} MB/s, "
                    f"depth {d['queue_depth']}, {d['nr_requests']} tags")
            tail = (f"; util {d['util']:.0%}; tag waits {d['tag_waits']:,}"
                    + (f" ({d['tag_wait_ns'] / 1e6:,.3f} ms)" if d["tag_waits"] else ""))
        rate = f"{ios / secs:,.0f} IO/s, {mib / secs:,.1f} MiB/s" if secs else "-"
        lines.append(f"  {name} ({what}): {ios:,} I/Os ({st['read_ios']:,} reads, "
                     f"{st['write_ios']:,} writes), {rate}, mean {lat:,.1f} us, "
                     f"max in flight {d['max_in_flight']}{tail}")
    return "\n".join(lines)
