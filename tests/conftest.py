"""Suite-wide settings: quiet TensorFlow, a private start-up cache, and Hypothesis profiles.

Hypothesis profiles (``HYPOTHESIS_PROFILE``, or ``ci`` whenever ``CI`` is set):

- ``ci``: derandomized (the same examples on every run, so a red CI is reproducible), no
  deadline, no example database written into the checkout;
- ``dev`` (the default): random examples, each test's own ``max_examples``;
- ``fuzz``: random examples, and every test runs ``LOSSCHECK_FUZZ_SCALE`` (default 20) times
  its own ``max_examples``. Run it outside CI, e.g.
  ``HYPOTHESIS_PROFILE=fuzz python -m pytest -m "not keras" -k "property or fuzz or props"``.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # also inherited by subprocesses the tests start

settings.register_profile(
    "ci",
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile(
    "fuzz", deadline=None, derandomize=False, max_examples=2000,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
PROFILE = "ci" if os.environ.get("CI") else os.environ.get("HYPOTHESIS_PROFILE", "dev")
settings.load_profile(PROFILE)
FUZZ_SCALE = int(os.environ.get("LOSSCHECK_FUZZ_SCALE", "20"))

# Where Hypothesis keeps the settings a test was decorated with (its own attribute since 3.x).
_SETTINGS_ATTR = "_hypothesis_internal_use_settings"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under the ``fuzz`` profile, scale every Hypothesis test's own example budget: most tests
    set ``max_examples`` for CI's time budget, which a decorator's explicit value would otherwise
    keep, whatever the profile."""
    if PROFILE != "fuzz":
        return
    for item in items:
        test = getattr(item, "obj", None)
        own = getattr(test, _SETTINGS_ATTR, None)
        if isinstance(own, settings):
            setattr(test, _SETTINGS_ATTR, settings(own, max_examples=own.max_examples * FUZZ_SCALE,
                                                   derandomize=False))


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
