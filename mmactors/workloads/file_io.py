"""``kind = "file-io"``: what dd and fio jobs do to a file on a disk
filesystem (read(2)/write(2) in a loop)::

    [[block]]
    name = "nvme0n1"
    kind = "nvme"

    [[workload]]
    kind = "file-io"
    cpus = "all"
    device = "nvme0n1"     # the [[block]] device; its filesystem is mounted at build
    rw = "read"            # fio rw=: read | write | randread | randwrite
    bs = "4K"              # fio bs=: bytes per read/write call
    size = "64M"           # fio size=: the file's size
    files = "per-cpu"      # per-cpu: a file per task (fio's default); shared: one
                           #   file all tasks use (fio filename= shared), each
                           #   with its own open file (own readahead state)
    # loops = 1            # fio loops=: passes over the file (0: until the run ends)
    # fsync = 0            # fio fsync=N: fsync(2) after every N writes
    # end_fsync = false    # fio end_fsync: fsync(2) when the pass ends
    # direct = false       # fio direct=1: O_DIRECT, bios straight to the device
    # unlink = false       # fio unlink=1: delete the file at the end (a shared
    #                      #   file when its last task ends): truncate_inode_pages
    # norandommap = false  # fio norandommap=1: uniform random offsets with
    #                      #   replacement (a pass is still size / bs calls)
    # cached = false       # the file is read once before the job (a warm cache:
    #                      #   a shared file by the first task, the others wait)

Each CPU is one task with its own ``struct file`` (fio's jobs each open
the file).  A random pass visits every block once in a random order drawn
from the task's seeded RNG (fio's default random map, norandommap=0), or
with ``norandommap`` draws size / bs offsets uniformly with replacement.
Reads go through ``generic_file_read_iter`` -> ``filemap_read``
(mm/filemap_io.py) with readahead; writes take ``i_rwsem`` for writing
and run ``generic_perform_write`` (dirtying and throttling are
mm/page_writeback.py's); fsync is fs/fs_writeback.py's
``vfs_fsync_range``.  O_DIRECT reads and writes skip the cache: one bio of
``bs`` at the file's block, waited for (fs/direct-io.c's
``__blockdev_direct_IO``), after writing back and waiting for cached pages
of the range (``kiocb_write_and_wait``).  ``ops`` counts read/write calls.
Reported per task as fio prints its job (io bytes, bw in KiB/s, IOPS, in
virtual time), with the page-cache hits and misses of its reads.
Simplifications: no think time, no ioengine other than psync, no
``rate``, no ``offset``/``nrfiles``; direct I/O needs ``bs`` in whole pages.
"""
from __future__ import annotations

from ..schema import Field, at_least, one_of
from .base import Workload
from .mm_ops import parse_size

__all__ = ["FileIO"]

PAGE_SIZE = 4096
# A run of read/write calls that never sleeps (page-cache hits) pays its
# accumulated cost every FILE_SYNC_NS of virtual time, as mm-ops' touches do
# every TOUCH_SYNC_NS: a 4 KiB hit costs about 1 us (syscall, lookup, copy),
# so CPUs interleave every four calls or so.  (Shared cache lines are still
# charged per access; 1 us here made 64-CPU hit runs 1.3-1.5x slower.)
FILE_SYNC_NS = 4000


def _size_field(name: str, default: str, doc: str):
    def check(v):
        n = parse_size(v) if isinstance(v, str) else None
        if n is None:
            return f"must be a size like 4K, 64M or 1G, got {v!r}"
        if n < 512:
            return f"must be at least 512 bytes, got {v!r}"
        return None
    return Field(name, str, default, check=check, doc=doc)


class FileIO(Workload):
    kind = "file-io"
    needs = ("physmem", "addrspace", "fs")
    fields = [
        Field("device", str, required=True, doc="the [[block]] device holding the files"),
        Field("rw", str, "read", check=one_of("read", "write", "randread", "randwrite"),
              doc="fio rw=: read | write | randread | randwrite"),
        _size_field("bs", "4K", "bytes per read/write call (fio bs=)"),
        _size_field("size", "16M", "the file's size (fio size=)"),
        Field("files", str, "per-cpu", check=one_of("per-cpu", "shared"),
              doc="per-cpu: a file per task; shared: one file for all tasks"),
        Field("loops", int, 1, check=at_least(0),
              doc="passes over the file (fio loops=); 0: until the run ends"),
        Field("fsync", int, 0, check=at_least(0), doc="fsync(2) after every N writes (fio fsync=)"),
        Field("end_fsync", bool, False, doc="fsync(2) at the end of each pass (fio end_fsync)"),
        Field("direct", bool, False, doc="O_DIRECT (fio direct=1): no page cache"),
        Field("norandommap", bool, False,
              doc="random offsets drawn uniformly with replacement (fio norandommap=1), "
                  "instead of each block once per pass"),
        Field("unlink", bool, False,
              doc="delete the file when the job ends (fio unlink=1): its page cache is "
                  "truncated (mm/truncate.c), dirty pages dropped unwritten"),
        Field("cached", bool, False,
              doc="start with the file in the page cache (warm), instead of only on disk"),
    ]

    @classmethod
    def validate(cls, ctx, tpath, spec, machine, sections):
        blocks = {b["name"]: b for b in sections.get("block") or []}
        dev = spec["device"]
        if dev not in blocks:
            known = ", ".join(sorted(blocks)) or "none declared"
            raise ctx.error(tpath, "device", f"no [[block]] device named {dev!r} ({known})")
        for i, s in enumerate(sections.get("swap") or []):
            if s.get("bdev") == dev:
                raise ctx.error(tpath, "device", f"{dev!r} is swap[{i}]'s device; a filesystem "
                                "needs a device of its own")
        size, bs = parse_size(spec["size"]), parse_size(spec["bs"])
        if bs > size:
            raise ctx.error(tpath, "bs", f"{spec['bs']} is larger than size = {spec['size']}")
        if spec["direct"] and bs % PAGE_SIZE:
            raise ctx.error(tpath, "bs", f"direct = true needs whole pages (a multiple of 4K), "
                            f"got {spec['bs']}")
        if spec["fsync"] and spec["rw"] in ("read", "randread"):
            raise ctx.error(tpath, "fsync", "only applies to writes (rw = write or randwrite)")
        spec["_size"] = size
        spec["_bs"] = bs
        return spec

    def __init__(self, machine, spec, index):
        super().__init__(machine, spec, index)
        self.size = spec["_size"]
        self.bs = spec["_bs"]
        self.write = spec["rw"] in ("write", "randwrite")
        self.random = spec["rw"].startswith("rand")
        fs = machine.subsystems["fs"]
        self.sb = fs.mount(spec["device"])        # mounted at build time
        if spec["files"] == "shared":
            ino = self.sb.create(self.size)
            self.inodes = {cpu: ino for cpu in self.cpus}
        else:
            self.inodes = {cpu: self.sb.create(self.size) for cpu in self.cpus}
        self.tasks: dict[int, dict] = {}
        self._left = {}                           # unlink: tasks still using each inode
        for ino in self.inodes.values():
            self._left[ino.i_ino] = self._left.get(ino.i_ino, 0) + 1
        self.files: dict[int, object] = {}       # each task's struct file (tests read f_ra)
        self.warmed = None                        # shared + cached: the warm-up's completion
        if spec["files"] == "shared" and spec["cached"] and not spec["direct"]:
            from ..sync import Completion
            self.warmed = Completion(machine.engine, "file-io warm-up")

    def actors(self):
        for cpu in self.cpus:
            yield cpu, f"cpu{cpu}", self.body

    def _blocks(self) -> int:
        return self.size // self.bs

    async def body(self, cpu):
        from ..fs import O_DIRECT, File
        from ..mm.addrspace import addrspace_of
        from ..mm.filemap_io import filemap_read, filemap_read_cached, pagecache_stats
        sub = addrspace_of(self.machine)
        eng = cpu.engine
        spec = self.spec
        inode = self.inodes[cpu.cpu]
        file = self.files[cpu.cpu] = File(inode, O_DIRECT if spec["direct"] else 0)
        st = pagecache_stats(sub)
        task = self.tasks[cpu.cpu] = {"cpu": cpu.cpu, "ino": inode.i_ino, "ios": 0, "bytes": 0,
                                      "passes": 0, "fsyncs": 0, "start_ns": eng.now,
                                      "end_ns": None, "error": None}
        if spec["cached"] and not spec["direct"]:
            # each file is read once before the job (the first task of a
            # shared file reads it, the others wait for it to finish)
            if spec["files"] == "per-cpu" or cpu.cpu == self.cpus[0]:
                await self._warm(sub, file, cpu)
                if self.warmed is not None:
                    self.warmed.complete_all()
            else:
                await self.warmed.wait()
            task["start_ns"] = eng.now
        h0, m0 = st.hits[cpu.cpu], st.misses[cpu.cpu]
        bs = self.bs
        n = self._blocks()
        order = list(range(n))
        syscall_ns = eng.costs.syscall_ns
        passes = spec["loops"]
        direct = spec["direct"]
        write = self.write
        p = 0
        writes = 0
        while not passes or p < passes:
            if self.random:
                if spec["norandommap"]:
                    order = [cpu.rng.randrange(n) for _ in range(n)]
                else:
                    cpu.rng.shuffle(order)
            for blk in order:
                pos = blk * bs
                cpu.debt += syscall_ns
                if direct:
                    ret = await self._direct(sub, file, pos, cpu)
                elif write:
                    ret = await self._write(sub, file, pos, cpu)
                else:
                    # a page-cache hit never sleeps: no coroutine for it
                    ret = filemap_read_cached(sub, file, pos, bs, cpu)
                    if ret < 0:
                        ret = await filemap_read(sub, file, pos, bs, cpu)
                if ret < 0:
                    task["error"] = f"errno {-ret} at offset {pos}"
                    task["end_ns"] = eng.now
                    self._hits(task, st, cpu, h0, m0)
                    return
                task["ios"] += 1
                task["bytes"] += ret
                cpu.ops += 1
                if write:
                    writes += 1
                    if spec["fsync"] and writes % spec["fsync"] == 0:
                        await self._fsync(sub, inode, task, cpu)
                if cpu.debt >= FILE_SYNC_NS:
                    await eng.spend(0)                # eng.sync(), one frame fewer
            p += 1
            task["passes"] = p
            if self.write and spec["end_fsync"]:
                await self._fsync(sub, inode, task, cpu)
        await eng.spend(0)
        task["end_ns"] = eng.now
        self._hits(task, st, cpu, h0, m0)
        if spec["unlink"]:
            self._left[inode.i_ino] -= 1
            if not self._left[inode.i_ino]:           # the last user: iput -> evict
                from ..mm.truncate import truncate_inode_pages
                task["truncated"] = await truncate_inode_pages(sub, inode.i_mapping, cpu)

    @staticmethod
    def _hits(task, st, cpu, h0, m0):
        task["pagecache_hits"] = st.hits[cpu.cpu] - h0
        task["pagecache_misses"] = st.misses[cpu.cpu] - m0

    async def _warm(self, sub, file, cpu):
        """cat file > /dev/null: a whole-file buffered read before the job."""
        from ..mm.filemap_io import filemap_read
        from ..fs import File
        f = File(file.f_inode)
        pos = 0
        while pos < self.size:
            got = await filemap_read(sub, f, pos, 1 << 20, cpu)
            if got <= 0:
                break
            pos += got

    async def _write(self, sub, file, pos: int, cpu) -> int:
        """generic_file_write_iter: i_rwsem for writing around generic_perform_write."""
        from ..mm.filemap_io import generic_perform_write
        from ..mm.page_writeback import balance_dirty_pages_ratelimited, folio_mark_dirty
        inode = file.f_inode
        await inode.i_rwsem.down_write("generic_file_write_iter")
        ret = await generic_perform_write(sub, file, pos, self.bs, cpu, folio_mark_dirty,
                                          balance_dirty_pages_ratelimited)
        inode.i_rwsem.up_write("generic_file_write_iter")
        return ret

    async def _fsync(self, sub, inode, task, cpu):
        from ..fs.fs_writeback import vfs_fsync_range
        await vfs_fsync_range(inode, cpu)
        task["fsyncs"] += 1

    async def _direct(self, sub, file, pos: int, cpu) -> int:
        from ..fs.direct_io import blockdev_direct_IO
        inode = file.f_inode
        if self.write:
            await inode.i_rwsem.down_write("generic_file_write_iter")
        ret = await blockdev_direct_IO(sub, file, pos, self.bs, self.write, cpu)
        if self.write:
            inode.i_rwsem.up_write("generic_file_write_iter")
        return ret

    def progress(self):
        loops = self.spec["loops"]
        if not loops:
            return None
        total = len(self.cpus) * self._blocks() * loops
        eng = self.machine.engine
        done = sum(a.ops for a in eng.actors if a.cpu in self.cpus and a.name == f"cpu{a.cpu}")
        return min(1.0, done / total) if total else 1.0

    def report(self) -> dict:
        tasks = []
        for cpu in sorted(self.tasks):
            t = dict(self.tasks[cpu])
            end = t["end_ns"] if t["end_ns"] is not None else self.machine.engine.now
            usecs = max(1, (end - t["start_ns"]) // 1000)
            t["usecs"] = usecs
            t["bw_kib_s"] = t["bytes"] * 1_000_000 // 1024 // usecs    # fio: bw=...KiB/s
            t["iops"] = t["ios"] * 1_000_000 // usecs
            tasks.append(t)
        s = self.spec
        return {"kind": self.kind, "device": s["device"], "rw": s["rw"], "bs": s["bs"],
                "size": s["size"], "files": s["files"], "direct": s["direct"],
                "loops": s["loops"], "tasks": tasks}
