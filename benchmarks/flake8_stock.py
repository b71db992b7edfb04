"""Run flake8 without the flake8-losscheck plugin (plugins/flake8), i.e. stock flake8 with its
default plugins (pyflakes, pycodestyle, mccabe), so the benchmark compares losscheck with flake8
itself and not with flake8 running losscheck's rules. Usage: ``python benchmarks/flake8_stock.py ARGS``."""

from __future__ import annotations

import importlib.metadata
import sys

_distributions = importlib.metadata.distributions


def _without_losscheck(**kwargs):
    return [d for d in _distributions(**kwargs) if (d.metadata["Name"] or "").lower() != "flake8-losscheck"]


importlib.metadata.distributions = _without_losscheck  # flake8's plugin finder iterates this

if __name__ == "__main__":
    from flake8.main.cli import main

    sys.exit(main())
