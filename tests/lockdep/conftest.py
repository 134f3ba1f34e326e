"""Lockdep is on for every machine these tests build (mmactors.testing)."""
import pytest

from mmactors.testing import lockdep_enabled


@pytest.fixture(autouse=True)
def _lockdep_on():
    with lockdep_enabled(True):
        yield
