"""Settings and rule selection: ruff's layering and specificity, per-file-ignores, bad config -> exit 2."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from losscheck.errors import UserError
from losscheck.lint import config as cfg


@dataclass(frozen=True)
class R:
    code: str
    name: str
    default_enabled: bool = True


RULES = [
    R("LCK101", "batch-mean-reduction"),
    R("LCK102", "wrong-axis"),
    R("LCK201", "numpy-in-loss"),
    R("LCK901", "unused-suppression"),
    R("LCK902", "inference-gap", default_enabled=False),
    R("LTH101", "torch-batch-reduction"),
]


def codes(layers):
    return [r.code for r in cfg.resolve(RULES, layers)]


def test_defaults_are_the_default_enabled_rules():
    assert codes([]) == ["LCK101", "LCK102", "LCK201", "LCK901", "LTH101"]


def test_more_specific_prefix_wins_and_ignore_wins_ties():
    assert codes([cfg.Layer(select=["LCK"], ignore=["LCK1"])]) == ["LCK201", "LCK901"]
    assert codes([cfg.Layer(select=["LCK10"], ignore=["LCK1"])]) == ["LCK101", "LCK102"]
    assert codes([cfg.Layer(select=["LCK1"], ignore=["LCK1"])]) == []
    assert codes([cfg.Layer(select=["wrong-axis"], ignore=["LCK10"])]) == ["LCK102"]


def test_names_and_codes_are_interchangeable():
    assert codes([cfg.Layer(select=["numpy-in-loss", "lck101"])]) == ["LCK101", "LCK201"]


def test_cli_select_replaces_config_select_and_extend_adds():
    config = cfg.Layer(select=["LCK1"], ignore=["LCK102"])
    assert codes([config, cfg.Layer(select=["LCK2"])]) == ["LCK201"]
    assert codes([config, cfg.Layer(extend_select=["LCK201"])]) == ["LCK101", "LCK201"]
    assert codes([config, cfg.Layer(extend_select=["LCK102"])]) == ["LCK101", "LCK102"]


def test_off_by_default_rules_need_their_exact_code_or_name():
    assert "LCK902" not in codes([cfg.Layer(select=["ALL"])])
    assert "LCK902" not in codes([cfg.Layer(extend_select=["LCK9"])])
    assert "LCK902" in codes([cfg.Layer(extend_select=["LCK902"])])
    assert "LCK902" in codes([cfg.Layer(extend_select=["inference-gap"])])


@given(
    select=st.none() | st.lists(st.sampled_from(["ALL", "LCK", "LCK1", "LCK10", "LCK101", "LTH", "wrong-axis"]), max_size=3),
    ignore=st.lists(st.sampled_from(["LCK", "LCK1", "LCK102", "LTH1", "numpy-in-loss"]), max_size=3),
)
def test_resolution_property(select, ignore):
    """Per rule: the most specific selector wins; an exact ignore always removes the rule."""
    enabled = set(codes([cfg.Layer(select=select, ignore=ignore)]))
    for rule in RULES:
        if not rule.default_enabled:
            continue
        on = [cfg.specificity(s, rule) for s in (select or [])]
        off = [cfg.specificity(s, rule) for s in ignore]
        best_on = max([s for s in on if s is not None], default=-1 if select is not None else -0.5)
        best_off = max([s for s in off if s is not None], default=-1)
        assert (rule.code in enabled) == (best_on > best_off), (rule, select, ignore)


def test_per_file_ignores_by_glob():
    rules = cfg.resolve(RULES, [])
    pfi = {"tests/*": ["LCK1"], "conftest.py": ["numpy-in-loss"]}
    assert [r.code for r in cfg.per_file_rules(rules, "tests/deep/test_a.py", pfi)] == ["LCK201", "LCK901", "LTH101"]
    assert [r.code for r in cfg.per_file_rules(rules, "pkg/conftest.py", pfi)] == ["LCK101", "LCK102", "LCK901", "LTH101"]
    assert len(cfg.per_file_rules(rules, "src/a.py", pfi)) == 5


def test_unknown_selector_is_an_error_naming_where():
    with pytest.raises(UserError) as err:
        cfg.validate_selectors([("LCK77", "--select"), ], RULES)
    assert "LCK77" in str(err.value) and "--select" in str(err.value)
    cfg.validate_selectors([("LCK", "x"), ("ALL", "x"), ("wrong-axis", "x"), ("LCK999", "x")], RULES, ["LCK999"])


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_config_found_upward_and_paths_relative_to_it(tmp_path):
    _write(tmp_path / "pyproject.toml", '[tool.losscheck]\nselect = ["LCK1"]\nlayout = "l.json"\noutputs = {seg_loss = "seg"}\n')
    sub = tmp_path / "a" / "b"
    sub.mkdir(parents=True)
    s = cfg.build_settings([str(sub)])
    assert s.config_path == str(tmp_path / "pyproject.toml")
    assert s.root == str(tmp_path.resolve())
    assert s.layout == str((tmp_path / "l.json").resolve())
    assert s.outputs == {"seg_loss": "seg"} and s.layers[0].select == ["LCK1"]


def test_pyproject_without_our_table_is_skipped(tmp_path):
    _write(tmp_path / "pyproject.toml", '[tool.losscheck]\nignore = ["LCK2"]\n')
    _write(tmp_path / "inner" / "pyproject.toml", "[tool.ruff]\nline-length = 99\n")
    s = cfg.build_settings([str(tmp_path / "inner")])
    assert s.layers[0].ignore == ["LCK2"]


@pytest.mark.parametrize(
    "body,expected",
    [
        ('selct = ["LCK1"]\n', "unknown key 'selct'"),
        ("select = \"LCK1\"\n", "expected a list of strings"),
        ('select = ["LCK77"]\n', "unknown rule selector 'LCK77'"),
        ('per-file-ignores = {"t/*" = ["nope-rule"]}\n', "unknown rule selector 'nope-rule'"),
        ("select = [\n", "invalid TOML"),
        ('output-format = "xml"\n', "output-format must be one of"),
    ],
)
def test_bad_config_is_exit_2_with_file_and_key(tmp_path, body, expected):
    _write(tmp_path / "pyproject.toml", "[tool.losscheck]\n" + body)
    _write(tmp_path / "a.py", "x = 1\n")
    proc = subprocess.run(
        [sys.executable, "-m", "losscheck", "lint", "--no-cache", "a.py"],
        cwd=tmp_path, check=False, capture_output=True, text=True, env={**os.environ, "LOSSCHECK_CACHE_DIR": str(tmp_path / "c")},
    )
    assert proc.returncode == 2, proc.stderr
    assert expected in proc.stderr and "pyproject.toml" in proc.stderr
    assert "Traceback" not in proc.stderr
