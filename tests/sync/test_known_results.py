"""Known result: Boyd-Wickizer et al. 2012, "Non-scalable locks are dangerous".

With a = 20 us think time, s = 400 ns serial section, c = 100 ns per line
transfer, their Markov model peaks near 24 CPUs and has fallen below 30% of
its peak by 64.  The simulated ticket lock must follow the model within 25%
at each point and collapse; the queued spinlock must not collapse.
"""
import pytest
from helpers import lockdep_on_and_off

from mmactors.sweep import lock_loop_throughput
from mmactors.theory import ticket_lock_throughput

NS = [1, 2, 4, 8, 16, 24, 32, 48, 64]


@pytest.fixture(scope="module")
def curves():
    return {lock: lockdep_on_and_off(lock_loop_throughput, lock, NS, jobs=2)
            for lock in ("ticket", "qspinlock")}


def test_model_itself_peaks_then_collapses():
    m = {n: ticket_lock_throughput(n, 20000, 400, 100) for n in range(1, 65)}
    peak_n = max(m, key=m.get)
    assert 20 <= peak_n <= 28
    assert m[64] < 0.30 * m[peak_n]


@pytest.mark.parametrize("n", NS)
def test_ticket_lock_follows_the_markov_model(curves, n):
    model = ticket_lock_throughput(n, 20000, 400, 100) * 1000
    sim = curves["ticket"][n]
    assert abs(sim - model) <= 0.25 * model, f"n={n}: sim {sim:.3f}/us vs model {model:.3f}/us"


def test_ticket_lock_collapses(curves):
    t = curves["ticket"]
    assert t[64] < 0.30 * max(t.values())


def test_qspinlock_does_not_collapse(curves):
    q = curves["qspinlock"]
    assert q[64] >= 0.90 * max(q.values())
    assert q[64] > 3 * curves["ticket"][64]
