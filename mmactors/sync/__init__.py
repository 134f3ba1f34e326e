"""Kernel lock primitives for simulated code, with lock_stat (kernel/locking/).

Every lock kind is built on one wait queue (:mod:`.waitqueue`) and one base
(:mod:`.lock`); the run's lock classes and the validators watching them are
in :mod:`.lockstat`; the CPUs' interrupt state (``local_irq_disable`` ...) is
in :mod:`.irq`.
"""
from .completion import Completion
from .lock import LockBase, LockError, call_site, might_sleep, site_name
from .lockdep_map import LockdepMap, lock_map_acquire, lock_map_release
from .lockstat import (LockClass, LockRegistry, LockStatistics, Validator, add_validator,
                       lock_registry, remove_validator)
from .mutex import Mutex
from .rwsem import RWLock, RWSemaphore
from .seqlock import SeqCount, SeqLock
from .spinlock import QSpinLock, SpinLock, TicketSpinLock
from .waitqueue import Waiter, WaitQueue

# Every lock kind a scenario can name ([[lock]] kind, lock-loop's lock), by
# the name it uses: one table, read by the workloads and the machine.
LOCK_TYPES = {"ticket": TicketSpinLock, "qspinlock": QSpinLock, "spinlock": QSpinLock,
              "rwlock": RWLock, "mutex": Mutex, "rwsem": RWSemaphore}

__all__ = ["LOCK_TYPES", "Completion", "LockBase", "LockError", "WaitQueue", "Waiter",
           "site_name", "call_site", "might_sleep", "LockClass", "LockRegistry", "LockStatistics", "Validator",
           "add_validator", "remove_validator", "lock_registry", "Mutex", "RWLock",
           "RWSemaphore", "SeqCount", "SeqLock", "QSpinLock", "SpinLock", "TicketSpinLock",
           "LockdepMap", "lock_map_acquire", "lock_map_release"]
