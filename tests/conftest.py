"""Suite-wide settings: quiet TensorFlow, and Hypothesis profiles (CI runs derandomized, no deadline)."""

from __future__ import annotations

import os

import pytest
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


@pytest.fixture(scope="session", autouse=True)
def _private_startup_cache(tmp_path_factory):
    """The suite never writes the user's own ~/.cache/losscheck (the rule manifest and dataclass
    memo of losscheck/startup.py): every run, subprocesses included, gets a fresh folder."""
    from losscheck.startup import STARTUP_CACHE_ENV

    saved = os.environ.get(STARTUP_CACHE_ENV)
    os.environ[STARTUP_CACHE_ENV] = str(tmp_path_factory.mktemp("startup-cache"))
    yield
    if saved is None:
        os.environ.pop(STARTUP_CACHE_ENV, None)
    else:
        os.environ[STARTUP_CACHE_ENV] = saved
