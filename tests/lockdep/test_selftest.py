"""Conformance with lib/locking-selftest.c: every ported case, family by
family and lock kind by lock kind, with the kernel's expected outcome
(FAILURE = lockdep reports, SUCCESS = silence) and, for failures, the
report the kernel would print."""
import importlib.util
import re
from pathlib import Path

import pytest

from mmactors.lockdep import selftest as T
from mmactors.testing import run_selftest_case

CASES = T.cases()

_tool = Path(__file__).resolve().parents[2] / "tools" / "locking_selftest.py"
_spec = importlib.util.spec_from_file_location("locking_selftest", _tool)
selftest_tool = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(selftest_tool)

# detector -> acceptable report kinds (the irq families report INC, INV or
# S2U depending on which of the three events comes last, as in the kernel)
_DETECTORS = {
    "recursive": {"recursive"},
    "circular": {"circular"},
    "double-unlock": {"double-unlock"},
    "held-lock-freed": {"held-lock-freed"},
    "irq": {"inconsistent", "irq-inversion", "irq-safe-unsafe"},
    "irq-safe-unsafe": {"irq-safe-unsafe"},
}


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_locking_selftest(case):
    debug_locks, reports, _ = run_selftest_case(case)
    assert debug_locks == case.expected, (
        f"{case.group} [{case.column}]: expected "
        f"{'FAILURE' if case.expected == T.FAILURE else 'SUCCESS'}; got "
        + ("\n" + reports[0].text if reports else "silence"))
    if case.expected == T.FAILURE:
        assert len(reports) == 1            # lockdep reports once, then goes quiet
        assert reports[0].kind in _DETECTORS[case.detector], reports[0].text


def test_matrix_shape():
    """The families and columns of the kernel's table are all there."""
    groups = {re.sub(r"/\d+$", "", c.group) for c in CASES}
    for g in ("A-A deadlock", "A-B-B-A deadlock", "A-B-B-C-C-A deadlock", "A-B-C-A-B-C deadlock",
              "A-B-B-C-C-D-D-A deadlock", "A-B-C-D-B-D-D-A deadlock",
              "A-B-C-D-B-C-D-A deadlock", "double unlock", "initialize held",
              "recursive read-lock", "recursive read-lock #2", "mixed read-write-lock",
              "mixed write-read-lock", "mixed read-lock/lock-write ABBA",
              "mixed read-lock/lock-read ABBA", "mixed write-lock/lock-write ABBA",
              "chain cached mixed R-L/L-W ABBA", "rlock W1R2/W2R3/W3R1", "rlock W1W2/R2R3/W3R1",
              "rlock W1W2/R2R3/R3W1", "rlock W1R2/R2R3/W3W1",
              "hard-irqs-on + irq-safe-A", "soft-irqs-on + irq-safe-A", "sirq-safe-A => hirqs-on",
              "hard-safe-A + irqs-on", "hard-safe-A + unsafe-B #1", "soft-safe-A + unsafe-B #2",
              "hard-irq lock-inversion", "soft-irq read-recursion #3",
              "hardirq read-lock/lock-read", "correct nesting", "wrong nesting",
              "protected nesting", "hardirq_unsafe_softirq_safe"):
        assert g in groups, g
    main = [c for c in CASES if c.group == "A-B-B-A deadlock"]
    assert {c.column: c.expected for c in main} == {
        "spin": T.FAILURE, "wlock": T.FAILURE, "rlock": T.SUCCESS, "mutex": T.FAILURE,
        "wsem": T.FAILURE, "rsem": T.FAILURE}
    assert len(CASES) == 310


def test_irq_report_depends_on_last_event():
    """irqsafe4: E1 last -> safe->unsafe order; E2 last -> 'taken by another,
    safe lock'; E3 last -> 'took another, unsafe lock' (kernel behaviour)."""
    by = {c.name: c for c in CASES}
    _, r, _ = run_selftest_case(by["irqsafe4_hard_spin_231"])
    assert r[0].headline == "WARNING: HARDIRQ-safe -> HARDIRQ-unsafe lock order detected"
    _, r, _ = run_selftest_case(by["irqsafe4_hard_spin_132"])
    assert "but this lock was taken by another, HARDIRQ-safe lock in the past:" in r[0].text
    _, r, _ = run_selftest_case(by["irqsafe4_soft_spin_123"])
    assert "but this lock took another, SOFTIRQ-unsafe lock in the past:" in r[0].text
    _, r, _ = run_selftest_case(by["irq_inversion_hard_wlock_231"])
    assert r[0].headline == "WARNING: HARDIRQ-READ-safe -> HARDIRQ-READ-unsafe lock order detected"
    _, r, _ = run_selftest_case(by["irqsafe1_hard_spin_12"])
    assert "inconsistent {IN-HARDIRQ-W} -> {HARDIRQ-ON-W} usage." in r[0].text
    _, r, _ = run_selftest_case(by["irqsafe2A_spin_12"])
    assert "inconsistent {IN-SOFTIRQ-W} -> {SOFTIRQ-ON-W} usage." in r[0].text


def test_selftest_main_prints_the_table(capsys):
    assert selftest_tool.main() == 0
    out = capsys.readouterr().out
    assert "Good, all 310 testcases passed!" in out
    assert "A-B-B-A deadlock:  ok  |  ok  |  ok  |  ok  |  ok  |  ok  |" in out
