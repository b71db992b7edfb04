"""What the tests of the project-reading facts share: a real lint run of one file, as the CLI
runs it (settings, plan, runner), with the results cache in the file's folder."""

from __future__ import annotations

from pathlib import Path

from losscheck.lint import config as cfg
from losscheck.lint import runner
from losscheck.lint.finding import Finding


def lint_findings(path: Path, *, isolated: bool = False, use_cache: bool = False) -> list[Finding]:
    """The findings of ``losscheck lint PATH`` (each run reads the project afresh: ``runner.plan``)."""
    settings = cfg.build_settings([str(path)], isolated=isolated, overrides={"cache_dir": str(path.parent / ".cache")})
    return runner.run([str(path)], runner.plan(settings, use_cache=use_cache), use_cache=use_cache).findings
