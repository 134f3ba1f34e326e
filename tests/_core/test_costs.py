"""CacheLine: MESI-like ownership, directory serialisation and prefetchw."""
from types import SimpleNamespace

from mmactors.costs import CacheLine, CostModel

COSTS = CostModel(line_transfer_ns=100, atomic_rmw_ns=6, dram_ns=90, l1_hit_ns=1)


def line():
    clock = SimpleNamespace(now=0)
    return CacheLine(COSTS, [0, 0, 0, 0], "x", clock=clock), clock


def test_write_transfers_and_serialises_at_the_directory():
    ln, clock = line()
    assert ln.write(0) == 90 + 6               # from DRAM (the directory is busy until 90)
    assert ln.write(0) == 6                    # owned: a hit
    clock.now = 1000
    assert ln.write(1) == 100 + 6              # taken from cpu0 (busy until 1100)
    assert ln.write(2) == 100 + 100 + 6        # queued behind cpu1's transfer


def test_prefetchw_costs_the_cpu_nothing_and_hides_the_transfer():
    ln, clock = line()
    ln.write(0)
    clock.now = 1000
    ln.prefetchw(1)                            # the line moves to cpu1 in the background
    assert ln.owner == 1 and ln.transfers == 2
    clock.now = 1040                           # cpu1 touches it 40 ns later: 60 ns left
    assert ln.write(1) == 60 + 6
    clock.now = 2000
    ln.prefetchw(2)
    clock.now = 2500                           # long after: nothing left to wait for
    assert ln.write(2) == 6


def test_prefetchw_queues_like_a_write_and_others_wait_behind_it():
    ln, clock = line()
    ln.write(0)
    clock.now = 1000
    ln.prefetchw(1)                            # directory busy until 1100
    assert ln.write(2) == 100 + 100 + 6        # behind the prefetch, then from cpu1


def test_one_prefetch_in_flight_per_cpu():
    ln, clock = line()
    ln.write(0)
    clock.now = 1000
    ln.prefetchw(1)                            # in flight until 1100
    ln.write(2)                                # takes the line (until 1200)
    ln.prefetchw(1)                            # merges with the pending request
    assert ln.transfers == 3 and ln.busy_until == 1200
    clock.now = 1300
    ln.prefetchw(1)                            # the old one completed: a new request
    assert ln.transfers == 4
