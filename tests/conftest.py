import os

from hypothesis import HealthCheck, settings

# Simulation runs are slow for Hypothesis's default deadline; CI is a 2-core box.
settings.register_profile("default", deadline=None, max_examples=60,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("ci", deadline=None, max_examples=60, derandomize=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ci" if os.environ.get("CI") else "default")

# Lockdep watches every machine a test builds (mark a test no_lockdep to opt out).
pytest_plugins = ["mmactors.testing"]
