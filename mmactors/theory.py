"""Analytical models that simulated results are checked against.

``ticket_lock_throughput``: the Markov model of Boyd-Wickizer, Kaashoek,
Morris and Zeldovich, "Non-scalable locks are dangerous" (Linux Symposium
2012), section 3.  State k = cores holding or waiting for the lock (0..n);
arrivals at rate (n-k)/a (each non-waiting core thinks for a mean of a);
service at rate 1/(s + c*k/2) (the serial section s plus the hand-off: the
next ticket holder is, on average, half-way through k cache-line transfers
of c each).  Throughput is sum over k >= 1 of P_k / (s + c*k/2).
"""
from __future__ import annotations

__all__ = ["ticket_lock_throughput", "ticket_lock_curve"]


def ticket_lock_throughput(n: int, a: float, s: float, c: float) -> float:
    """Acquisitions per nanosecond at n cores (multiply by 1000 for per us)."""
    if n < 1:
        return 0.0
    # Birth-death chain: P_k = P_0 * prod_{i=0}^{k-1} lambda_i / mu_{i+1}
    weights = [1.0]
    w = 1.0
    for k in range(1, n + 1):
        lam = (n - (k - 1)) / a
        mu = 1.0 / (s + c * k / 2.0)
        w *= lam / mu
        weights.append(w)
    total = sum(weights)
    return sum(weights[k] / total / (s + c * k / 2.0) for k in range(1, n + 1))


def ticket_lock_curve(ns, a, s, c):
    return {n: ticket_lock_throughput(n, a, s, c) for n in ns}
