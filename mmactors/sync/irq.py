"""Interrupt state of a simulated CPU: what ``local_irq_disable``,
``local_bh_disable``, ``__irq_enter`` and ``lockdep_softirq_enter`` change,
and what lockdep's irq-safety checks read (include/linux/irqflags.h,
kernel/softirq.c; kernel/locking/lockdep.c: ``lockdep_hardirqs_on/off``,
``lockdep_softirqs_on/off``, ``mark_held_locks``; include/linux/preempt.h for
the counts).

Why it lives here and not in the engine: only the locks (``spin_lock_irq``
and friends, the rwlock's reader rule) and the validators care; lockdep
reads it through the ``irq`` hook.  Each actor has one :class:`IrqState` (in ``actor.data``), created on
first use from ``actor.context``: an actor whose workload runs in
``"hardirq"`` context is an interrupt handler (hardirq count 1, interrupts
off, as the kernel runs handlers); ``"softirq"`` is a softirq handler
(softirq count 1, bottom halves off, interrupts on).  Model code changes the
state with the functions below, passing the acting actor; each function
updates the state and tells the validator (if one is attached) about the
transition, so lockdep can mark the locks held at that moment
IRQ-ON/SOFTIRQ-ON as the kernel does.  ``actor.context`` follows the state
("hardirq", "softirq" while serving softirqs or with bottom halves disabled,
i.e. whenever ``in_interrupt()`` is true, else "process"), which is what
:class:`~mmactors.sync.RWLock` uses for the qrwlock reader rule.

Simplification: an interrupt handler is its own actor (or a section of an
actor's program between ``hardirq_enter`` and ``hardirq_exit``); a CPU with
interrupts disabled does not hold back the handlers of other actors that
run "on" it.  Lockdep's checks are about lock classes, not CPUs, so its
verdicts do not depend on this.
"""
from __future__ import annotations

from .lockstat import lock_registry

__all__ = [
    "IrqState", "irq_state", "local_irq_disable", "local_irq_enable", "local_irq_save",
    "local_irq_restore", "local_bh_disable", "local_bh_enable", "hardirq_enter",
    "hardirq_exit", "softirq_enter", "softirq_exit", "serve_softirq_enter",
    "serve_softirq_exit", "irqs_disabled", "in_interrupt", "CONTEXTS",
]

CONTEXTS = ("process", "softirq", "hardirq")

# include/linux/preempt.h: the preempt_count() layout, for "preempt_count: %x".
PREEMPT_OFFSET = 0x1
SOFTIRQ_OFFSET = 0x100
SOFTIRQ_DISABLE_OFFSET = 2 * SOFTIRQ_OFFSET
HARDIRQ_OFFSET = 0x10000


class IrqState:
    """One CPU's interrupt state, with lockdep's irq event stamps
    (``struct irqtrace_events``) for the "irq event stamp" lines."""

    __slots__ = ("hardirqs_enabled", "bh_count", "hardirq_ctx", "softirq_ctx",
                 "irq_events", "hardirq_enable_event", "hardirq_enable_site",
                 "hardirq_disable_event", "hardirq_disable_site",
                 "softirq_enable_event", "softirq_enable_site",
                 "softirq_disable_event", "softirq_disable_site")

    def __init__(self, context: str = "process"):
        self.hardirqs_enabled = context != "hardirq"
        self.bh_count = 1 if context == "softirq" else 0     # serving softirqs: SE0
        self.hardirq_ctx = 1 if context == "hardirq" else 0
        self.softirq_ctx = 1 if context == "softirq" else 0
        self.irq_events = 0
        self.hardirq_enable_event = self.hardirq_disable_event = 0
        self.softirq_enable_event = self.softirq_disable_event = 0
        self.hardirq_enable_site = self.hardirq_disable_site = None
        self.softirq_enable_site = self.softirq_disable_site = None

    @property
    def softirqs_enabled(self) -> bool:
        return self.bh_count == 0

    def in_interrupt(self) -> bool:
        """in_interrupt(): hardirq or softirq count (incl. bh disabled) non-zero."""
        return bool(self.hardirq_ctx or self.softirq_ctx or self.bh_count)

    def chain_context(self) -> int:
        """task_irq_context(): lock chains never cross these boundaries."""
        return (2 if self.hardirq_ctx else 0) | (1 if self.softirq_ctx else 0)

    def preempt_count(self, spinning_held: int = 0) -> int:
        sc = self.bh_count * SOFTIRQ_DISABLE_OFFSET if not self.softirq_ctx else \
            (self.bh_count - 1) * SOFTIRQ_DISABLE_OFFSET + SOFTIRQ_OFFSET
        return self.hardirq_ctx * HARDIRQ_OFFSET + max(sc, 0) + spinning_held * PREEMPT_OFFSET

    def context(self) -> str:
        if self.hardirq_ctx:
            return "hardirq"
        if self.softirq_ctx or self.bh_count:
            return "softirq"
        return "process"


def irq_state(actor) -> IrqState:
    st = actor.data.get("irq")
    if st is None:
        ctx = actor.context if actor.context in CONTEXTS else "process"
        st = actor.data["irq"] = IrqState(ctx)
    return st


def _notify(actor, event, site):
    for hook in lock_registry(actor.engine).on_irq:
        hook(actor, event, site)


def irqs_disabled(actor) -> bool:
    return not irq_state(actor).hardirqs_enabled


def in_interrupt(actor) -> bool:
    return irq_state(actor).in_interrupt()


def local_irq_disable(actor, site=None) -> None:
    st = irq_state(actor)
    if st.hardirqs_enabled:
        st.hardirqs_enabled = False
        st.irq_events += 1
        st.hardirq_disable_event, st.hardirq_disable_site = st.irq_events, site
        _notify(actor, "irq_disable", site)


def local_irq_enable(actor, site=None) -> None:
    st = irq_state(actor)
    if not st.hardirqs_enabled:
        st.hardirqs_enabled = True
        st.irq_events += 1
        st.hardirq_enable_event, st.hardirq_enable_site = st.irq_events, site
        _notify(actor, "irq_enable", site)


def local_irq_save(actor, site=None) -> bool:
    """Returns the flags (were interrupts enabled) for local_irq_restore."""
    was = irq_state(actor).hardirqs_enabled
    local_irq_disable(actor, site)
    return was


def local_irq_restore(actor, flags: bool, site=None) -> None:
    if flags:
        local_irq_enable(actor, site)
    else:
        local_irq_disable(actor, site)


def local_bh_disable(actor, site=None) -> None:
    st = irq_state(actor)
    st.bh_count += 1
    if st.bh_count == 1:
        st.irq_events += 1
        st.softirq_disable_event, st.softirq_disable_site = st.irq_events, site
        actor.context = st.context()
        _notify(actor, "bh_disable", site)


def local_bh_enable(actor, site=None) -> None:
    st = irq_state(actor)
    if st.bh_count == 0:
        raise RuntimeError(f"{actor.name}: local_bh_enable() without local_bh_disable()")
    st.bh_count -= 1
    if st.bh_count == 0:
        st.irq_events += 1
        st.softirq_enable_event, st.softirq_enable_site = st.irq_events, site
        actor.context = st.context()
        _notify(actor, "bh_enable", site)


def hardirq_enter(actor, site=None) -> None:
    """HARDIRQ_ENTER(): local_irq_disable(); __irq_enter()."""
    local_irq_disable(actor, site)
    st = irq_state(actor)
    st.hardirq_ctx += 1
    actor.context = "hardirq"
    _notify(actor, "hardirq_enter", site)


def hardirq_exit(actor, site=None) -> None:
    """HARDIRQ_EXIT(): __irq_exit(); local_irq_enable()."""
    st = irq_state(actor)
    if st.hardirq_ctx == 0:
        raise RuntimeError(f"{actor.name}: hardirq_exit outside hardirq context")
    st.hardirq_ctx -= 1
    actor.context = st.context()
    _notify(actor, "hardirq_exit", site)
    if st.hardirq_ctx == 0:
        local_irq_enable(actor, site)


def _softirq_ctx_enter(actor, site) -> None:
    st = irq_state(actor)
    st.softirq_ctx += 1
    actor.context = st.context()
    _notify(actor, "softirq_enter", site)


def _softirq_ctx_exit(actor, site, what) -> None:
    st = irq_state(actor)
    if st.softirq_ctx == 0:
        raise RuntimeError(f"{actor.name}: {what} outside softirq context")
    st.softirq_ctx -= 1
    actor.context = st.context()
    _notify(actor, "softirq_exit", site)


def softirq_enter(actor, site=None) -> None:
    """SOFTIRQ_ENTER(): local_bh_disable(); local_irq_disable(); lockdep_softirq_enter()."""
    local_bh_disable(actor, site)
    local_irq_disable(actor, site)
    _softirq_ctx_enter(actor, site)


def softirq_exit(actor, site=None) -> None:
    """SOFTIRQ_EXIT(): lockdep_softirq_exit(); local_irq_enable(); local_bh_enable()."""
    _softirq_ctx_exit(actor, site, "softirq_exit")
    local_irq_enable(actor, site)
    local_bh_enable(actor, site)


def serve_softirq_enter(actor, site=None) -> None:
    """__do_softirq(): bottom halves off, softirq context, interrupts stay on
    (as a real softirq runs; the selftest's SOFTIRQ_ENTER also disables them)."""
    local_bh_disable(actor, site)
    _softirq_ctx_enter(actor, site)


def serve_softirq_exit(actor, site=None) -> None:
    _softirq_ctx_exit(actor, site, "softirq exit")
    local_bh_enable(actor, site)
