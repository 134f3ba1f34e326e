"""A Hypothesis rule-based state machine over address spaces.

Each rule is one syscall or fault run to completion on a standalone machine
(``PhysMem.standalone`` + ``AddrSpace``; the operations run one at a time
through the SyncDriver, so none of them waits).  Beside the kernel state the
machine keeps a reference model: for every process, the protection of every
mapped page.  After every step the VMAs must cover exactly the model's pages
with the model's protections, present PTEs may only lie in mapped pages (and
be writable only where the mapping is), faults must succeed or SIGSEGV as
the model says, and AddrSpace._check()'s invariants must hold (no overlap;
PTEs, mapcounts, RSS and refcounts agree; anon_vmas reach their VMAs; no
frame free while mapped).  At teardown every process exits and no user
frame may be left.
"""
from __future__ import annotations

from types import SimpleNamespace

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from mmactors.mm import mmap as M
from mmactors.mm.addrspace import AddrSpace
from mmactors.mm.fork import dup_mmap
from mmactors.mm.madvise import sys_madvise_dontneed
from mmactors.mm.memory import _PAGE_PRESENT, _PAGE_RW, VM_FAULT_SIGSEGV
from mmactors.mm.mprotect import sys_mprotect
from mmactors.mm.mremap import MREMAP_MAYMOVE, sys_mremap
from mmactors.mm.physmem import PhysMem

# Calls run one at a time outside a scheduled run (SyncDriver): a THP fault
# starts khugepaged, an actor a stand-in CPU cannot wait for, and these
# machines model 4 KiB PTEs.  THPs have their own tests (test_huge_memory.py).
NO_THP = {"kernel/mm/transparent_hugepage/enabled": "never"}


NCPU = 2
PAGE = 4096
PROTS = {"none": 0, "r": M.PROT_READ, "rw": M.PROT_READ | M.PROT_WRITE}
SIZES = st.sampled_from([1, 3, 16, 64, 512, 700])          # pages
SETTINGS = settings(max_examples=30, stateful_step_count=30, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


class AddressSpaceMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        pm = PhysMem.standalone(cpus=NCPU, memory_mib=128)
        shim = SimpleNamespace(engine=pm.engine, ncpus=NCPU, nnodes=1, kconfig=pm.kconfig,
                               constants=pm.constants, sysctl=pm.sysctl,
                               sysfs=NO_THP)
        self.pm = pm
        self.sub = AddrSpace(shim, pm)
        self.procs = []                     # [(mm, {page index: prot name})]
        self._spawn()

    def _spawn(self):
        mm = self.sub.new_mm()
        for a in self.pm.driver.actors:
            self.sub.attach(a, mm)
        self.procs.append((mm, {}))

    def call(self, cpu, coro):
        return self.pm.call(cpu, coro)

    # -- choosing targets ------------------------------------------------------
    def _proc(self, data):
        return self.procs[data.draw(st.integers(0, len(self.procs) - 1), label="proc")]

    def _mapped_range(self, data, model):
        """A page range [first, first + n) inside one run of mapped pages."""
        pages = sorted(model)
        start = data.draw(st.sampled_from(pages), label="page")
        end = start
        while end + 1 in model and end - start < 800:
            end += 1
        first = data.draw(st.integers(start, end), label="first")
        n = data.draw(st.integers(1, end - first + 1), label="pages")
        return first, n

    # -- rules ---------------------------------------------------------------
    @rule(data=st.data(), pages=SIZES, prot=st.sampled_from(sorted(PROTS)),
          kind=st.sampled_from(["anon,private", "anon,shared", "file,private", "file,shared"]),
          cpu=st.integers(0, NCPU - 1))
    def mmap(self, data, pages, prot, kind, cpu):
        mm, model = self._proc(data)
        flags = M.MAP_SHARED if "shared" in kind else M.MAP_PRIVATE
        file = None
        if kind.startswith("anon"):
            flags |= M.MAP_ANONYMOUS
        else:
            file = self.sub.new_shmem_file(pages)
        addr = self.call(cpu, M.do_mmap(self.sub, mm, pages * PAGE, PROTS[prot], flags,
                                        self.pm.driver.actors[cpu], file=file))
        assert addr >= 0 and addr % PAGE == 0
        first = addr // PAGE
        assert not any(p in model for p in range(first, first + pages)), "mapped over a mapping"
        for p in range(first, first + pages):
            model[p] = prot

    @precondition(lambda self: any(m for _, m in self.procs))
    @rule(data=st.data(), cpu=st.integers(0, NCPU - 1))
    def munmap(self, data, cpu):
        mm, model = self._proc(data)
        if not model:
            return
        first, n = self._mapped_range(data, model)
        rc = self.call(cpu, M.vm_munmap(self.sub, mm, first * PAGE, n * PAGE,
                                        self.pm.driver.actors[cpu]))
        assert rc == 0
        for p in range(first, first + n):
            del model[p]

    @precondition(lambda self: any(m for _, m in self.procs))
    @rule(data=st.data(), prot=st.sampled_from(sorted(PROTS)), cpu=st.integers(0, NCPU - 1))
    def mprotect(self, data, prot, cpu):
        mm, model = self._proc(data)
        if not model:
            return
        first, n = self._mapped_range(data, model)
        # a MAP_SHARED read-only file mapping may not gain PROT_WRITE without VM_MAYWRITE;
        # every mapping here was opened read-write, so each mprotect must succeed
        rc = self.call(cpu, sys_mprotect(self.sub, mm, first * PAGE, n * PAGE, PROTS[prot],
                                         self.pm.driver.actors[cpu]))
        assert rc == 0, rc
        for p in range(first, first + n):
            model[p] = prot

    @precondition(lambda self: any(m for _, m in self.procs))
    @rule(data=st.data(), cpu=st.integers(0, NCPU - 1))
    def madvise_dontneed(self, data, cpu):
        mm, model = self._proc(data)
        if not model:
            return
        first, n = self._mapped_range(data, model)
        rc = self.call(cpu, sys_madvise_dontneed(self.sub, mm, first * PAGE, n * PAGE,
                                                 self.pm.driver.actors[cpu]))
        assert rc == 0

    @precondition(lambda self: any(m for _, m in self.procs))
    @rule(data=st.data(), new_pages=SIZES, cpu=st.integers(0, NCPU - 1))
    def mremap(self, data, new_pages, cpu):
        mm, model = self._proc(data)
        if not model:
            return
        # one whole VMA, as will-it-scale-like callers resize what they mapped
        vma = data.draw(st.sampled_from(list(mm.vmas.values())), label="vma")
        old, ln = vma.vm_start, vma.vm_end - vma.vm_start
        rc = self.call(cpu, sys_mremap(self.sub, mm, old, ln, new_pages * PAGE, MREMAP_MAYMOVE,
                                       self.pm.driver.actors[cpu]))
        if rc < 0:                           # e.g. a shared file mapping growing past EOF
            return
        prot = model[old // PAGE]
        for p in range(old // PAGE, (old + ln) // PAGE):
            del model[p]
        for p in range(rc // PAGE, rc // PAGE + new_pages):
            assert p not in model
            model[p] = prot

    @precondition(lambda self: any(m for _, m in self.procs))
    @rule(data=st.data(), write=st.booleans(), cpu=st.integers(0, NCPU - 1))
    def fault(self, data, write, cpu):
        mm, model = self._proc(data)
        if not model:
            return
        first, n = self._mapped_range(data, model)
        for p in range(first, first + min(n, 64)):
            ret = self.call(cpu, self.sub.memory.do_user_addr_fault(
                mm, p * PAGE, write, self.pm.driver.actors[cpu]))
            allowed = model[p] == "rw" or (model[p] == "r" and not write)
            assert bool(ret & VM_FAULT_SIGSEGV) == (not allowed), (model[p], write, ret)

    @rule(data=st.data(), cpu=st.integers(0, NCPU - 1))
    def fault_unmapped(self, data, cpu):
        mm, model = self._proc(data)
        p = data.draw(st.integers(0x7e0000000, 0x7efffffff), label="page")
        if p in model:
            return
        ret = self.call(cpu, self.sub.memory.do_user_addr_fault(
            mm, p * PAGE, True, self.pm.driver.actors[cpu]))
        assert ret & VM_FAULT_SIGSEGV

    @precondition(lambda self: len(self.procs) < 4)
    @rule(data=st.data(), cpu=st.integers(0, NCPU - 1))
    def fork(self, data, cpu):
        mm, model = self._proc(data)
        child = self.call(cpu, dup_mmap(self.sub, mm, self.pm.driver.actors[cpu]))
        self.procs.append((child, dict(model)))

    @precondition(lambda self: len(self.procs) > 1)
    @rule(data=st.data(), cpu=st.integers(0, NCPU - 1))
    def exit(self, data, cpu):
        i = data.draw(st.integers(0, len(self.procs) - 1), label="proc")
        mm, _ = self.procs.pop(i)
        self.call(cpu, M.exit_mmap(self.sub, mm, self.pm.driver.actors[cpu]))

    # -- invariants ------------------------------------------------------------
    @invariant()
    def vmas_match_the_model(self):
        for mm, model in self.procs:
            got = {}
            for v in mm.vmas.values():
                prot = "rw" if v.vm_flags & M.VM_WRITE else "r" if v.vm_flags & M.VM_READ \
                    else "none"
                for p in range(v.vm_start // PAGE, v.vm_end // PAGE):
                    assert p not in got, "overlapping VMAs"
                    got[p] = prot
            assert got == model

    @invariant()
    def ptes_lie_in_mappings(self):
        for mm, model in self.procs:
            for pmd, pt in mm.pgtables.items():
                for i, pte in enumerate(pt.ptes):
                    if pte & _PAGE_PRESENT:
                        p = (pmd << 9) + i
                        assert p in model, f"present PTE at unmapped page {p:#x}"
                        if pte & _PAGE_RW:
                            assert model[p] == "rw", f"writable PTE in a {model[p]} mapping"

    @invariant()
    def kernel_invariants(self):
        self.sub._check()

    def teardown(self):
        for mm, _ in self.procs:
            self.call(0, M.exit_mmap(self.sub, mm, self.pm.driver.actors[0]))
        # lru_add_drain_all: exit_mmap drains only its own CPU's folio batches,
        # and a batch holds a reference on each folio it carries
        for a in self.pm.driver.actors:
            self.call(a.cpu, self.sub.lru.lru_add_drain(a))
        self.sub._check()
        # no frame leaked: what is still in use is the tmpfs files' page cache
        import numpy as np
        from mmactors.mm._internal import PG_pcp, PG_reserved, PGTY_buddy, PGTY_slab
        mem = self.sub.mem_map
        busy = (mem.refcount > 0) & ((mem.flags & (PG_reserved | PGTY_slab | PGTY_buddy
                                                   | PG_pcp)) == 0)
        cached = sum(f.mapping.nrpages for f in self.sub.files)
        assert int(np.count_nonzero(busy)) - self.sub.nr_page_table_pages == cached


AddressSpaceMachine.TestCase.settings = SETTINGS
test_address_space_state_machine = AddressSpaceMachine.TestCase
