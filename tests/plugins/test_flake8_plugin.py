"""flake8-losscheck (plugins/flake8), installed for real (pip install --target + PYTHONPATH),
run by the real `flake8 --select LCK` on sample files: flake8 shows losscheck's findings with
their codes and positions, honours `# noqa: LCK...`, and stays quiet on clean code."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from plugin_install import PLUGINS, pip_install_target, run_with

pytest.importorskip("flake8")

SAMPLE = textwrap.dedent(
    """\
    import tensorflow as tf


    def seg_loss(y_true, y_pred):
        return tf.reduce_mean(tf.square(y_true - y_pred))


    def first_output_loss(y_true, y_pred):
        return tf.reduce_mean(tf.square(y_true[0] - y_pred[0]), axis=-1)


    def ok_loss(y_true, y_pred):
        return tf.reduce_mean(tf.square(y_true - y_pred), axis=-1)


    def silenced_loss(y_true, y_pred):
        return tf.reduce_sum(y_pred)  # noqa: LCK101
    """
)


@pytest.fixture(scope="module")
def flake8_site(tmp_path_factory) -> Path:
    return pip_install_target(
        [PLUGINS / "flake8"], tmp_path_factory.mktemp("flake8_site"), tmp_path_factory.mktemp("flake8_src")
    )


def _parse(stdout: str) -> list[tuple[int, int, str]]:
    rows = []
    for line in stdout.splitlines():
        _path, row, col, rest = line.split(":", 3)
        rows.append((int(row), int(col), rest.split()[0]))
    return rows


def test_flake8_reports_losscheck_findings(flake8_site, tmp_path):
    (tmp_path / "losses.py").write_text(SAMPLE)
    done = run_with([flake8_site], "flake8", "--select", "LCK", "losses.py", cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    rows = _parse(done.stdout)
    # the same findings, codes and 1-based columns as `losscheck lint` gives
    assert (5, 12, "LCK101") in rows
    assert (9, 37, "LCK102") in rows and (9, 49, "LCK102") in rows
    assert not [r for r in rows if r[0] in (13, 17)]  # the clean loss, and the one under `# noqa`
    assert "[batch-mean-reduction]" in done.stdout


def test_flake8_positions_match_losscheck_lint(flake8_site, tmp_path):
    (tmp_path / "losses.py").write_text(SAMPLE)
    flake = _parse(run_with([flake8_site], "flake8", "--select", "LCK", "losses.py", cwd=tmp_path).stdout)
    lint = run_with([], "losscheck", "lint", "--no-cache", "--format", "concise", "losses.py", cwd=tmp_path).stdout
    ours = []
    for line in lint.splitlines():
        if line.startswith("losses.py:"):
            _p, row, col, rest = line.split(":", 3)
            ours.append((int(row), int(col), rest.split()[0]))
    # LCK9xx are meta diagnostics (suppressions, internal errors): flake8 owns `# noqa` there
    ours = [r for r in ours if not r[2].startswith("LCK9")]
    assert ours and sorted(flake) == sorted(ours)


def test_flake8_plugin_is_registered_and_quiet_on_clean_code(flake8_site, tmp_path):
    version = run_with([flake8_site], "flake8", "--version")
    assert "flake8-losscheck" in version.stdout
    (tmp_path / "clean.py").write_text("def add(a, b):\n    return a + b\n")
    done = run_with([flake8_site], "flake8", "--select", "LCK", "clean.py", cwd=tmp_path)
    assert done.returncode == 0 and done.stdout == "", done.stdout + done.stderr


def test_off_by_default_rules_run_when_enabled(flake8_site, tmp_path):
    from losscheck.lint.registry import load_registry

    off = next(r for r in load_registry(plugins=False).rules if not r.default_enabled)
    (tmp_path / "x.py").write_text(next(off.invalid_examples()).code)
    plain = run_with([flake8_site], "flake8", "--select", "LCK", "x.py", cwd=tmp_path)
    assert off.code not in plain.stdout
    enabled = run_with([flake8_site], "flake8", "--select", "LCK", "--losscheck-enable", off.code, "x.py", cwd=tmp_path)
    assert f" {off.code} [{off.name}]" in enabled.stdout, enabled.stdout + enabled.stderr
