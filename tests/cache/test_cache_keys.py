"""The result cache's key is made of content, not of modification times.

- a layout edited without its modification time changing (within the file system's time
  resolution, or copied with its times kept) must change the findings; touching it must not;
- a rule plugin whose code changes (an editable install changes in place, and the site folder's
  modification time does not move) must change the findings, even when the change is in a
  module next to the one its entry point names;
- the settings that change findings are part of the key;
- the repeat run stays fast: no libcst, no importlib.metadata.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from cache_helpers import imported, lint, result_entries

LAYOUT = {
    "version": 1,
    "outputs": [
        {
            "name": "seg",
            "spatial": [64, 64],
            "tasks": [
                {"name": "mask", "type": "binary", "units": 1},
                {"name": "lesion", "type": "categorical", "units": 3, "targets": "sparse"},
                {"name": "size", "type": "regression", "units": 2},
            ],
        }
    ],
}

TRAIN = """\
import keras
from keras import ops


def seg_loss(y_true, y_pred):
    mask = keras.losses.binary_crossentropy(y_true[..., 0:1], y_pred[..., 0:1])
    lesion = keras.losses.sparse_categorical_crossentropy(y_true[..., 1], y_pred[..., 0:2])
    size = ops.mean(ops.square(y_true[..., 2:4] - y_pred[..., 4:6]), axis=-1)
    return ops.mean(mask + lesion + size, axis=[1, 2])


model = keras.Model()
model.compile(loss={"seg": seg_loss})
"""


def _keep_times(path: Path, edit) -> None:
    """Apply ``edit`` to the file, then put its modification time back as it was."""
    before = os.stat(path)
    edit(path)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert os.stat(path).st_mtime_ns == before.st_mtime_ns


@pytest.fixture
def shapes_project(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    project.mkdir()
    (project / "layout.json").write_text(json.dumps(LAYOUT, indent=1))
    (project / "train.py").write_text(TRAIN)
    return project


def _shape_findings(project: Path, cache: Path, *extra: str):
    return lint(project, cache, "--select", "LCK401", "--layout", "layout.json", "--format", "concise", *extra,
                "train.py")


def test_a_layout_edit_that_keeps_the_modification_time_is_seen(shapes_project, tmp_path):
    cache = tmp_path / "cache"
    first = _shape_findings(shapes_project, cache)
    assert first.returncode == 1 and "lesion 1:4, size 4:6" in first.stdout, first.stderr
    layout = shapes_project / "layout.json"
    _keep_times(layout, lambda p: p.write_text(p.read_text().replace('"units": 3', '"units": 2')))
    fresh = _shape_findings(shapes_project, cache, "--no-cache")
    assert "lesion 1:3, size 3:5" in fresh.stdout
    warm = _shape_findings(shapes_project, cache)
    assert warm.stdout == fresh.stdout, "the result of the layout before the edit was read from the cache"


def test_touching_the_layout_keeps_the_cache(shapes_project, tmp_path):
    cache = tmp_path / "cache"
    first = _shape_findings(shapes_project, cache)
    assert len(result_entries(cache)) == 1
    layout = shapes_project / "layout.json"
    stat = os.stat(layout)
    os.utime(layout, ns=(stat.st_atime_ns, stat.st_mtime_ns + 5_000_000_000))
    warm = _shape_findings(shapes_project, cache)
    assert warm.stdout == first.stdout
    # a miss would have stored the file's findings again, under another key
    assert len(result_entries(cache)) == 1, "an unchanged layout made every file a cache miss"


# -- plugins -----------------------------------------------------------------------------------

RULES_PY = '''\
from losscheck.lint.rule import Rule
from lcktest_plugin.words import WORD

PLUGIN_API = 1


class Marker(Rule):
    """Names every loss function (a test plugin)."""

    code = "LXT101"
    name = "marker-for-tests"
    summary = "names every loss function"
    severity = "warning"

    def check(self, ctx):
        for fn in ctx.functions:
            ctx.report(self, fn.node, f"{WORD} {fn.name}")


RULES = [Marker]
'''


@pytest.fixture
def plugin_site(tmp_path: Path) -> Path:
    """An import folder holding an installed rule plugin (a distribution with an entry point)."""
    site = tmp_path / "site-packages"
    package = site / "lcktest_plugin"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "rules.py").write_text(RULES_PY)
    (package / "words.py").write_text('WORD = "first"\n')
    info = site / "lcktest_plugin-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: lcktest-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[losscheck.rules]\nmarker = lcktest_plugin.rules:RULES\n")
    return site


def _plugin_run(project: Path, cache: Path, site: Path, *extra: str, importtime: bool = False):
    return lint(project, cache, "--select", "LXT101", "--format", "concise", *extra, "train.py",
                env={"PYTHONPATH": os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))},
                importtime=importtime)


@pytest.mark.parametrize("module", ["rules.py", "words.py"])
def test_a_changed_plugin_invalidates_the_results(shapes_project, plugin_site, tmp_path, module):
    cache = tmp_path / "cache"
    first = _plugin_run(shapes_project, cache, plugin_site)
    assert first.returncode == 1 and "LXT101 [marker-for-tests] first seg_loss" in first.stdout, first.stderr
    folders = [plugin_site, plugin_site / "lcktest_plugin"]
    times = [os.stat(f).st_mtime_ns for f in folders]
    target = plugin_site / "lcktest_plugin" / module
    if module == "rules.py":
        _keep_times(target, lambda p: p.write_text(p.read_text().replace('f"{WORD} {fn.name}"', 'f"{fn.name} {WORD}"')))
        expected = "seg_loss first"
    else:
        _keep_times(target, lambda p: p.write_text('WORD = "third"\n'))
        expected = "third seg_loss"
    assert [os.stat(f).st_mtime_ns for f in folders] == times
    warm = _plugin_run(shapes_project, cache, plugin_site)
    assert f"LXT101 [marker-for-tests] {expected}" in warm.stdout, warm.stdout + warm.stderr


def test_an_unchanged_plugin_keeps_the_cache_and_the_fast_path(shapes_project, plugin_site, tmp_path):
    cache = tmp_path / "cache"
    first = _plugin_run(shapes_project, cache, plugin_site)
    for path in (plugin_site / "lcktest_plugin").iterdir():
        os.utime(path)  # touched, not changed
    warm = _plugin_run(shapes_project, cache, plugin_site, importtime=True)
    assert warm.stdout == first.stdout
    modules = imported(warm.stderr)
    assert "libcst" not in modules and "importlib.metadata" not in modules
    assert not {m for m in modules if m.startswith(("tensorflow", "keras", "numpy"))}


# -- settings ----------------------------------------------------------------------------------


def _config(layout: str = "layout.json", extra: str = "", bound: bool = True, select: str = "LCK") -> str:
    # the selection is ours alone: installed plugins may come and go
    outputs = '\n[tool.losscheck.outputs]\nseg_loss = "seg"\n' if bound else ""
    return f'[tool.losscheck]\nselect = ["{select}"]\nlayout = "{layout}"\n{extra}{outputs}'


# (before, after): each pair differs in one setting that changes the findings on unbound.py
SETTINGS = {
    "per-file-ignores": (_config(), _config(extra='per-file-ignores = { "unbound.py" = ["LCK401"] }\n')),
    "select": (_config(), _config(select="LCK1")),
    "layout": (_config(), _config(layout="other.json")),
    "outputs": (_config(bound=False), _config()),
}


def _settings_run(project: Path, cache: Path, *extra: str):
    return lint(project, cache, "--format", "concise", *extra, "unbound.py", our_rules=False)


@pytest.fixture
def settings_project(shapes_project: Path) -> Path:
    """The layout project, with a second layout and a loss bound to its output by the settings alone."""
    (shapes_project / "other.json").write_text(json.dumps(LAYOUT).replace('"units": 3', '"units": 2'))
    (shapes_project / "unbound.py").write_text(TRAIN.replace('model.compile(loss={"seg": seg_loss})\n', ""))
    return shapes_project


@pytest.mark.parametrize("setting", list(SETTINGS))
def test_every_setting_that_changes_findings_is_in_the_key(settings_project, tmp_path, setting):
    before, after = SETTINGS[setting]
    pyproject = settings_project / "pyproject.toml"
    pyproject.write_text(before)
    cache = tmp_path / "cache"
    first = _settings_run(settings_project, cache)
    _keep_times(pyproject, lambda p: p.write_text(after))
    fresh = _settings_run(settings_project, cache, "--no-cache")
    assert fresh.stdout != first.stdout, "the setting changes nothing here: the test could not fail"
    warm = _settings_run(settings_project, cache)
    assert warm.stdout == fresh.stdout
