"""Kernel lock primitives for simulated code, with lock_stat (kernel/locking/)."""
from .lock import LockBase, LockError, WaitQueue, site_name
from .lockstat import LockClass, LockRegistry, LockStatistics, format_lock_stat
from .mutex import Mutex
from .rwsem import RWLock, RWSemaphore
from .completion import Completion
from .seqlock import SeqCount, SeqLock
from .spinlock import QSpinLock, SpinLock, TicketSpinLock

__all__ = ["Completion", "LockBase", "LockError", "WaitQueue", "site_name", "LockClass", "LockRegistry",
           "LockStatistics", "format_lock_stat", "Mutex", "RWLock", "RWSemaphore",
           "SeqCount", "SeqLock", "QSpinLock", "SpinLock", "TicketSpinLock"]
