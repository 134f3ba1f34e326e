"""``kind = "mm-ops"``: a program of memory-management system calls per CPU.

As ``lock-sequence`` is for locks, this is for address spaces: write the
syscalls a process makes and watch the locks, faults and TLB traffic they
cause.  Each CPU runs its own process (``mode = "processes"``, the default)
or all CPUs share one mm (``mode = "threads"``)::

    [[workload]]
    kind = "mm-ops"
    cpus = [0]
    steps = ["mmap buf 4M rw anon,private", "touch buf write", "fork",
             "touch buf write 0 64K", "exit", "munmap buf"]
    repeat = 1          # 0 = forever

Steps (SIZE/OFF/LEN take K, M, G suffixes; NAME names a mapping):

* ``mmap NAME SIZE PROT FLAGS`` -- PROT ``r``, ``rw`` or ``none``; FLAGS a
  comma list of ``private``/``shared``, ``anon``/``file`` and ``populate``
* ``munmap NAME [OFF [LEN]]``, ``mprotect NAME PROT [OFF [LEN]]``,
  ``madvise NAME dontneed|pageout|hugepage|nohugepage [OFF [LEN]]`` (pageout:
  MADV_PAGEOUT, reclaims the range: anonymous pages go to swap; hugepage /
  nohugepage: MADV_HUGEPAGE / MADV_NOHUGEPAGE), ``mremap NAME NEWSIZE``
* ``touch NAME read|write [OFF [LEN]]`` -- one access per page (faults as needed);
  a present page is a TLB miss the MMU serves (accessed/dirty bits set, no fault)
* ``retouch NAME read|write PASSES [OFF [LEN]]`` -- touch the range again, PASSES
  times over (working sets and thrashing: what reclaim took comes back by faults)
* ``brk +SIZE`` / ``brk -SIZE``
* ``fork`` -- continue in a child that copies the address space (COW);
  ``exit`` -- tear the current process down (exit_mmap) and return to its parent
* ``delay NS``
* ``compact_memory`` -- ``echo 1 > /proc/sys/vm/compact_memory``: compact every
  zone of every node (compact_nodes, MIGRATE_SYNC, mm/compaction.py)
* ``drop_caches 2`` -- ``echo 2 > /proc/sys/vm/drop_caches``: ``drop_slab``, every
  registered shrinker at priority 0 until they free little (mm/shrinker.py;
  the THP deferred split queue's is the one modelled); counted as
  ``drop_slab``.  1 and 3 (the page cache too) are refused: not modelled
* ``truncate NAME SIZE`` -- truncate(2) the file of NAME's ``file`` mapping to
  SIZE bytes (needs ``device``: fs/open.py's do_truncate; shrinking unmaps the
  pages past the new EOF from every mapping and drops them from the page
  cache, dirty ones unwritten; a touch there then maps nothing: filemap_fault
  fails past i_size -- the kernel's SIGBUS, reported by mm/memory.py as a
  failed fault and not counted; growing only sets i_size)

With ``device = "nvme0n1"`` (a ``[[block]]`` device) ``file`` mappings are
files of the mapping's size on that device's filesystem, on disk and not
cached: read faults go through ``filemap_fault`` with mmap read-around
(mm/filemap_io.py); without it they are tmpfs files.

Every NAME a step uses must be mapped by an ``mmap NAME ...`` step of the
program (else the scenario is refused).  A touch of an unmapped address --
beyond the end of its mapping, or after ``munmap`` -- goes where the mapping
was and is a SIGSEGV unless something else is mapped there now: counted
(``segv`` in the workload's report and summary), not an error, as a program
under test would see it; so is a touch of a file page beyond the file's end
after ``truncate`` (SIGBUS: ``sigbus``).  Other ranges after ``munmap`` are passed to the
system call as they are (``munmap`` of nothing succeeds, ``mprotect``
returns ENOMEM); a failing system call (``mmap`` of 0 bytes: EINVAL) is
counted in ``errors`` and shown in the summary.
With ``check = true`` the address-space invariants are checked after every
step (slow; for tests and debugging).
"""
from __future__ import annotations

import re

from ..schema import Field, at_least, one_of
from .base import Workload, fatal_signal_pending

# A run of touches of present pages (no fault, no scheduling point) pays its
# accumulated cost every TOUCH_SYNC_NS, so that passes over a working set
# take virtual time and interleave with reclaim instead of happening at one instant.
TOUCH_SYNC_NS = 1000
_SIZE = re.compile(r"^(\d+)([KMG]?)$")
_VERBS = ("mmap", "munmap", "mprotect", "madvise", "mremap", "touch", "retouch", "brk", "fork",
          "exit", "delay", "compact_memory", "drop_caches", "truncate")


def parse_size(s: str) -> int | None:
    m = _SIZE.match(s.upper())
    if not m:
        return None
    return int(m.group(1)) << {"": 0, "K": 10, "M": 20, "G": 30}[m.group(2)]


def parse_step(s: str):
    """Return (verb, args) or raise ValueError with the reason."""
    parts = s.split()
    if not parts or parts[0] not in _VERBS:
        raise ValueError(f"unknown verb (known: {', '.join(_VERBS)})")
    verb, a = parts[0], parts[1:]

    def size(x, what):
        v = parse_size(x)
        if v is None:
            raise ValueError(f"{what} {x!r} is not a size (like 4096, 64K, 2M)")
        return v

    def range_(rest):
        off = size(rest[0], "offset") if rest else 0
        ln = size(rest[1], "length") if len(rest) > 1 else None
        if len(rest) > 2:
            raise ValueError("too many arguments")
        return off, ln

    if verb == "mmap":
        if len(a) != 4:
            raise ValueError("expected: mmap NAME SIZE PROT FLAGS")
        flags = set(a[3].split(","))
        bad = flags - {"private", "shared", "anon", "file", "populate"}
        if bad:
            raise ValueError(f"unknown mmap flag {sorted(bad)[0]!r}")
        if ("private" in flags) == ("shared" in flags):
            raise ValueError("mmap needs exactly one of private, shared")
        if ("anon" in flags) == ("file" in flags):
            raise ValueError("mmap needs exactly one of anon, file")
        if a[2] not in ("r", "rw", "none"):
            raise ValueError("PROT must be r, rw or none")
        return verb, (a[0], size(a[1], "size"), a[2], flags)
    if verb in ("munmap",):
        if not a:
            raise ValueError("expected: munmap NAME [OFF [LEN]]")
        return verb, (a[0], *range_(a[1:]))
    if verb == "mprotect":
        if len(a) < 2 or a[1] not in ("r", "rw", "none"):
            raise ValueError("expected: mprotect NAME r|rw|none [OFF [LEN]]")
        return verb, (a[0], a[1], *range_(a[2:]))
    if verb == "madvise":
        if len(a) < 2 or a[1] not in ("dontneed", "pageout", "hugepage", "nohugepage"):
            raise ValueError("expected: madvise NAME dontneed|pageout|hugepage|nohugepage "
                             "[OFF [LEN]]")
        return verb, (a[0], *range_(a[2:]), a[1])
    if verb == "mremap":
        if len(a) != 2:
            raise ValueError("expected: mremap NAME NEWSIZE")
        return verb, (a[0], size(a[1], "size"))
    if verb == "touch":
        if len(a) < 2 or a[1] not in ("read", "write"):
            raise ValueError("expected: touch NAME read|write [OFF [LEN]]")
        return verb, (a[0], a[1] == "write", *range_(a[2:]))
    if verb == "retouch":
        if len(a) < 3 or a[1] not in ("read", "write") or not a[2].isdigit() or int(a[2]) < 1:
            raise ValueError("expected: retouch NAME read|write PASSES [OFF [LEN]] (PASSES >= 1)")
        return "touch", (a[0], a[1] == "write", *range_(a[3:]), int(a[2]))
    if verb == "brk":
        if len(a) != 1 or a[0][:1] not in "+-" or parse_size(a[0][1:]) is None:
            raise ValueError("expected: brk +SIZE or brk -SIZE")
        v = parse_size(a[0][1:])
        return verb, (v if a[0][0] == "+" else -v,)
    if verb == "delay":
        if len(a) != 1 or not a[0].isdigit():
            raise ValueError("expected: delay NS")
        return verb, (int(a[0]),)
    if verb == "truncate":
        if len(a) != 2:
            raise ValueError("expected: truncate NAME SIZE")
        return verb, (a[0], size(a[1], "size"))
    if verb == "drop_caches":
        if a != ["2"]:
            raise ValueError("expected: drop_caches 2 (1 and 3 drop the page cache too: "
                             "not modelled)")
        return verb, (2,)
    if a:
        raise ValueError(f"{verb} takes no arguments")
    return verb, ()


class _Proc:
    """One simulated process: its mm, its named mappings, its parent."""

    def __init__(self, mm, parent=None, regions=None, files=None, gone=None):
        self.mm = mm
        self.parent = parent
        self.regions: dict[str, tuple[int, int]] = dict(regions or {})
        self.files: dict[str, object] = dict(files or {})
        # where unmapped names were: later steps on them go to that address
        self.gone: dict[str, tuple[int, int]] = dict(gone or {})


class MMOps(Workload):
    kind = "mm-ops"
    needs = ("physmem", "addrspace", "fs")
    fields = [
        Field("steps", list, required=True, doc="system calls, e.g. [\"mmap a 1M rw anon,private\"]"),
        Field("device", str, "",
              doc="file mappings are files on this [[block]] device's filesystem, read "
                  "from the disk on first touch (filemap_fault); empty: tmpfs files"),
        Field("repeat", int, 1, check=at_least(0), doc="times to run the steps (0 = forever)"),
        Field("mode", str, "processes", check=one_of("threads", "processes"),
              doc="processes: a process per CPU; threads: one shared mm"),
        Field("check", bool, False, doc="check the address-space invariants after every step"),
        Field("shared_names", bool, False,
              doc="threads mode: a NAME is one mapping for every thread (the first thread "
                  "to reach its mmap step maps it, the others use it), so threads touch "
                  "the same pages"),
    ]

    @classmethod
    def validate(cls, ctx, tpath, spec, machine, sections):
        prog = []
        for j, s in enumerate(spec["steps"]):
            if not isinstance(s, str):
                raise ctx.error(tpath, "steps", f"step {j} must be a string, got {s!r}")
            try:
                prog.append(parse_step(s))
            except ValueError as e:
                raise ctx.error(tpath, "steps", f"step {j} {s!r}: {e}") from None
        mapped = {args[0] for verb, args in prog if verb == "mmap"}
        files = {args[0] for verb, args in prog if verb == "mmap" and "file" in args[3]}
        for j, (verb, args) in enumerate(prog):
            if verb == "truncate" and (args[0] not in files or not spec["device"]):
                why = (f"no file mapping named {args[0]!r} (truncate takes the name of an "
                       "mmap step with the file flag)" if args[0] not in files else
                       'needs device = "<[[block]] device>" (the file of a tmpfs mapping '
                       "cannot be truncated: shmem_setattr is not modelled)")
                raise ctx.error(tpath, "steps", f"step {j} {spec['steps'][j]!r}: {why}")
            if verb in ("munmap", "mprotect", "madvise", "mremap", "touch") and \
                    args[0] not in mapped:
                raise ctx.error(tpath, "steps", f"step {j} {spec['steps'][j]!r}: no mapping "
                                f"named {args[0]!r} (known: {', '.join(sorted(mapped)) or 'none'}; "
                                "name it in an mmap step)")
        if spec["shared_names"] and spec["mode"] != "threads":
            raise ctx.error(tpath, "shared_names", 'needs mode = "threads" (processes '
                            "have an address space each)")
        if spec["device"] and spec["device"] not in {b["name"] for b in sections.get("block") or []}:
            raise ctx.error(tpath, "device", f"no [[block]] device named {spec['device']!r}")
        spec["_program"] = prog
        return spec

    def __init__(self, machine, spec, index):
        super().__init__(machine, spec, index)
        self.segv = 0
        self.sigbus = 0
        self.killed = 0
        self.errors: dict[str, int] = {}
        self.shared = None
        self.shared_regions: dict = {}        # shared_names: name -> (addr, len)
        self.shared_files: dict = {}          # shared_names: name -> its file
        self.mapping: dict = {}               # shared_names: name -> Completion of its mmap

    def actors(self):
        for cpu in self.cpus:
            yield cpu, f"cpu{cpu}", self.body

    def report(self) -> dict:
        return {"kind": self.kind, "segv": self.segv, "sigbus": self.sigbus,
                "killed": self.killed,
                "errors": dict(sorted(self.errors.items()))}

    def _sub(self):
        from ..mm.addrspace import addrspace_of
        return addrspace_of(self.machine)

    async def body(self, cpu):
        sub = self._sub()
        if self.spec["mode"] == "threads":
            # Threads share the mm; each keeps its own names for its mappings.
            if self.shared is None:
                self.shared = sub.new_mm()
                self.shared.mm_users = 0
            proc = _Proc(self.shared)
            if self.spec["shared_names"]:
                proc.regions = self.shared_regions
                proc.files = self.shared_files    # truncate NAME: the mapped file
            self.shared.mm_users += 1
        else:
            proc = _Proc(sub.new_mm())
        sub.attach(cpu, proc.mm)
        n, repeat = 0, self.spec["repeat"]
        while repeat == 0 or n < repeat:
            for verb, args in self.spec["_program"]:
                proc = await self.step(sub, proc, verb, args, cpu)
                if self.spec["check"]:
                    sub._check()
                if fatal_signal_pending(proc.mm):   # SIGKILL (the OOM killer): exit
                    self.killed += 1
                    proc.mm.mm_users -= 1
                    if proc.mm.mm_users <= 0 and not proc.mm.exited:
                        from ..mm.mmap import exit_mmap
                        await exit_mmap(sub, proc.mm, cpu)
                    return
            cpu.ops += 1
            n += 1

    def _err(self, what: str, rc: int):
        if rc < 0:
            key = f"{what}:{-rc}"
            self.errors[key] = self.errors.get(key, 0) + 1

    async def step(self, sub, proc, verb, args, cpu):
        from ..mm import madvise, mmap as M, mprotect, mremap
        from ..mm.fork import dup_mmap
        from ..mm.memory import VM_FAULT_SIGBUS, VM_FAULT_SIGSEGV
        eng = cpu.engine
        mm = proc.mm
        if verb == "mmap" and self.spec["shared_names"]:
            done = self.mapping.get(args[0])
            if done is not None:                   # another thread maps (or mapped) it
                await done.wait()
                return proc
            from ..sync.completion import Completion
            self.mapping[args[0]] = Completion(eng, f"mm-ops mmap {args[0]}")
        if verb == "mmap":
            name, size, prot, flags = args
            p = {"r": M.PROT_READ, "rw": M.PROT_READ | M.PROT_WRITE, "none": 0}[prot]
            f = (M.MAP_SHARED if "shared" in flags else M.MAP_PRIVATE)
            if "anon" in flags:
                f |= M.MAP_ANONYMOUS
            if "populate" in flags:
                f |= M.MAP_POPULATE
            file = None
            if "file" in flags:
                file = proc.files.get(name)
                if file is None and self.spec["device"]:
                    file = self.machine.subsystems["fs"].mount(self.spec["device"]).create(size)
                elif file is None:
                    file = sub.new_shmem_file(size >> M.PAGE_SHIFT)
                proc.files[name] = file
            addr = await M.do_mmap(sub, mm, size, p, f, cpu, file=file)
            self._err("mmap", addr)
            if addr >= 0:
                proc.regions[name] = (addr, M.page_align(size))
                proc.gone.pop(name, None)
            if self.spec["shared_names"]:
                self.mapping[name].complete_all()
        elif verb == "munmap":
            r = self._range(proc, *args)
            if r:
                self._err("munmap", await M.vm_munmap(sub, mm, r[0], r[1], cpu))
                region = proc.regions.get(args[0])
                if region is not None and r[0] <= region[0] and \
                        r[0] + r[1] >= region[0] + region[1]:
                    proc.gone[args[0]] = proc.regions.pop(args[0])
        elif verb == "mprotect":
            name, prot = args[0], args[1]
            r = self._range(proc, name, *args[2:])
            if r:
                p = {"r": M.PROT_READ, "rw": M.PROT_READ | M.PROT_WRITE, "none": 0}[prot]
                self._err("mprotect", await mprotect.sys_mprotect(sub, mm, r[0], r[1], p, cpu))
        elif verb == "madvise":
            r = self._range(proc, *args[:3])
            if r:
                if args[3] in ("hugepage", "nohugepage"):
                    adv = madvise.MADV_HUGEPAGE if args[3] == "hugepage" else \
                        madvise.MADV_NOHUGEPAGE
                    self._err("madvise", await madvise.sys_madvise_hugepage(
                        sub, mm, r[0], r[1], adv, cpu))
                else:
                    fn = madvise.sys_madvise_pageout if args[3] == "pageout" else \
                        madvise.sys_madvise_dontneed
                    self._err("madvise", await fn(sub, mm, r[0], r[1], cpu))
        elif verb == "mremap":
            name, new = args
            region = proc.regions.get(name) or proc.gone.get(name)
            if region is not None:
                addr, ln = region
                rc = await mremap.sys_mremap(sub, mm, addr, ln, new, mremap.MREMAP_MAYMOVE, cpu)
                self._err("mremap", rc)
                if rc >= 0:
                    proc.regions[name] = (rc, M.page_align(new))
                    proc.gone.pop(name, None)
        elif verb == "touch":
            name, write = args[0], args[1]
            r = self._range(proc, name, *args[2:4])
            passes = args[4] if len(args) > 4 else 1
            if r:
                for _ in range(passes):
                    for a in range(r[0], r[0] + r[1], M.PAGE_SIZE):
                        ret = await sub.memory.do_user_addr_fault(mm, a, write, cpu) \
                            if not self._present(mm, a, write) else 0
                        if ret & VM_FAULT_SIGSEGV:
                            self.segv += 1
                        elif ret & VM_FAULT_SIGBUS:       # a file page beyond EOF (truncate)
                            self.sigbus += 1
                        if ret and fatal_signal_pending(mm):
                            return proc                # the step ends; the loop exits
                        eng.charge(eng.costs.l1_hit_ns)
                        if cpu.debt >= TOUCH_SYNC_NS:      # let time pass between touches
                            await eng.sync()
        elif verb == "brk":
            await M.sys_brk(sub, mm, max(mm.brk + args[0], mm.start_brk), cpu)
        elif verb == "fork":
            child = await dup_mmap(sub, mm, cpu)
            child.mm_users = 1
            sub.attach(cpu, child)
            return _Proc(child, proc, proc.regions, proc.files, proc.gone)
        elif verb == "exit":
            # mmput: the address space goes when its last user exits
            mm.mm_users -= 1
            if mm.mm_users <= 0:
                await M.exit_mmap(sub, mm, cpu)
            if proc.parent is not None:
                return proc.parent
            nmm = sub.new_mm()                    # exec a fresh process on this CPU
            sub.attach(cpu, nmm)
            return _Proc(nmm)
        elif verb == "delay":
            await eng.spend(args[0])
        elif verb == "compact_memory":
            eng.charge(eng.costs.syscall_ns)           # the sysctl write
            await sub.compaction.compact_nodes(cpu)
        elif verb == "truncate":
            from ..fs.open import do_truncate
            file = proc.files.get(args[0])
            if file is not None:                       # mapped already (else nothing to cut)
                self._err("truncate", await do_truncate(sub, file, args[1], cpu))
        elif verb == "drop_caches":                    # drop_caches_sysctl_handler, & 2
            from ..mm.shrinker import drop_slab
            eng.charge(eng.costs.syscall_ns)
            await drop_slab(sub, cpu)                  # cpu: this workload's actor
            sub.vmstat.count_event(cpu.cpu, "drop_slab")
        return proc

    @staticmethod
    def _range(proc, name, off=0, ln=None):
        """(address, length) a step on ``name`` names: inside the mapping by
        default; past its end or after munmap wherever it points, so that the
        system call or the fault decides what happens there (a touch there is
        a SIGSEGV unless something else is mapped now).  None before the
        first mmap of the name."""
        region = proc.regions.get(name) or proc.gone.get(name)
        if region is None:
            return None
        addr, size = region
        off = off & ~4095
        if ln is None:
            ln = size - off if off < size else 4096
        if ln <= 0:
            return None
        return addr + off, (ln + 4095) & ~4095

    @staticmethod
    def _present(mm, addr, write) -> bool:
        """A TLB hit: the access needs no fault (present, and writable if a
        write); the MMU sets the PTE's accessed (and dirty) bit on the way."""
        from ..mm.memory import access_error, pte_hw_access
        vma = mm.find_vma(addr)
        if vma is None or access_error(vma, write):
            return False                  # let the fault handler deliver the SIGSEGV
        return pte_hw_access(mm, addr, write)
