"""Lockless memcg page counters: the watermark and failcnt updates.

Kernel fix: 6e4bd50f3888 ("mm/page_counter: fix various data races at
memsw"), Qian Cai, 2020, after KCSAN (syzbot) reported a data race in
page_counter_try_charge(): ``c->watermark`` is read and written with plain
accesses by every CPU that charges the counter.  The race is benign by
design ("we can live with some inaccuracy in the watermark"), so the fix
marks the accesses: READ_ONCE()/WRITE_ONCE() for the watermark and
data_race() for the failcnt statistic.

Both CPUs run page_counter_try_charge() (mm/page_counter.c) twice and
page_counter_uncharge() after each success, against a counter whose max
lets one of them fail now and then (the failcnt path).

Buggy: plain ``c->watermark`` and ``c->failcnt++``: the KCSAN report.
"""
from __future__ import annotations

from types import SimpleNamespace

from .program import RaceProgram


class PageCounter(RaceProgram):
    name = "page-counter"
    title = "page_counter_try_charge(): plain watermark/failcnt updates from every CPU"
    fix = '6e4bd50f3888 ("mm/page_counter: fix various data races at memsw")'
    mirrors = ("page_counter_try_charge(), page_counter_uncharge() (mm/page_counter.c)",)
    ncpus = 2
    model = "sc"
    finds = "KCSAN data-race in page_counter_try_charge / page_counter_try_charge"

    def setup(self, mem):
        return SimpleNamespace(c=mem.struct("memcg->memsw", usage=0, max=3, watermark=0,
                                            failcnt=0))

    def cpu_functions(self):
        return [self.charge_loop(2), self.charge_loop(2)]

    def charge_loop(self, nr):
        async def try_charge(k, st):
            for _ in range(2):
                if await self.page_counter_try_charge(k, st.c, nr):
                    await k.atomic_sub(nr, st.c.usage)            # page_counter_uncharge()
        return try_charge

    async def page_counter_try_charge(self, k, c, nr) -> bool:
        new = await k.atomic_add_return(nr, c.usage)              # atomic_long_add_return()
        if new > await k.READ_ONCE(c.max):
            await k.atomic_sub(nr, c.usage)
            # This is racy, but we can live with some inaccuracy in the failcnt.
            if self.buggy:
                await k.write(c.failcnt, await k.read(c.failcnt) + 1)
            else:
                with k.data_race():
                    await k.write(c.failcnt, await k.read(c.failcnt) + 1)
            return False
        # Just like with failcnt, we can live with some inaccuracy in the watermark.
        if self.buggy:
            if new > await k.read(c.watermark):
                await k.write(c.watermark, new)
        else:
            if new > await k.READ_ONCE(c.watermark):
                await k.WRITE_ONCE(c.watermark, new)
        return True

    def check(self, k, st):
        mem = st.c.usage.mem
        k.BUG_ON(mem.final(st.c.usage) != 0, "page_counter usage leaked")
