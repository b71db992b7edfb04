"""Suite-wide settings: quiet TensorFlow, and Hypothesis profiles (CI runs derandomized, no deadline)."""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # also inherited by subprocesses the tests start

settings.register_profile(
    "ci",
    deadline=None,
    derandomize=True,  # a CI run is reproducible: the same examples every time
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("ci" if os.environ.get("CI") else os.environ.get("HYPOTHESIS_PROFILE", "dev"))
