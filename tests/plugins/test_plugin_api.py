"""The plugin API, end to end, with real installed packages (pip install --target + PYTHONPATH):

- plugins/example_minimal (the example in docs/plugins.md): `losscheck rules` lists its rule with
  its origin, `losscheck lint` reports its finding, `losscheck explain` shows its docs;
- a broken plugin package (import error, wrong API version, not a Rule, duplicate code, a rule
  that crashes, a broken emitter): each is reported by name, once, as a warning, with no
  traceback, and the core and the good plugin keep working.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from plugin_install import PLUGINS, pip_install_target, run_with

LOSS_WITH_PRINT = "def my_loss(y_true, y_pred):\n    print(y_pred)\n    return (y_true - y_pred) ** 2\n"

BROKEN_PYPROJECT = """
[build-system]
requires = ["setuptools>=64"]
build-backend = "setuptools.build_meta"

[project]
name = "losscheck-broken-demo"
version = "0.0.1"

[project.entry-points."losscheck.rules"]
crash = "losscheck_broken_demo.crash:RULES"
future = "losscheck_broken_demo.future:RULES"
notrule = "losscheck_broken_demo.notrule:RULES"
clash = "losscheck_broken_demo.clash:RULES"
explodes = "losscheck_broken_demo.explodes:RULES"

[project.entry-points."losscheck.emitters"]
bad = "losscheck_broken_demo.crash:EMITTER"
"""
BROKEN_MODULES = {
    "__init__.py": "",
    "crash.py": "import a_module_that_does_not_exist  # the plugin's own bug\nRULES = []\nEMITTER = None\n",
    "future.py": "PLUGIN_API = 2\nRULES = []\n",
    "notrule.py": "PLUGIN_API = 1\nRULES = [object]\n",
    "clash.py": textwrap.dedent(
        """
        from losscheck.lint.rule import Rule
        PLUGIN_API = 1

        class Clash(Rule):
            code = "LCK101"  # taken by a built-in rule
            name = "my-batch-mean"
            summary = "clashes"

        RULES = [Clash]
        """
    ),
    "explodes.py": textwrap.dedent(
        """
        from losscheck.lint.rule import Rule
        PLUGIN_API = 1

        class Explodes(Rule):
            '''A rule with a bug.'''
            code = "LBX101"
            name = "explodes"
            summary = "crashes on every file"

            def check(self, ctx):
                raise ZeroDivisionError("plugin bug")

        RULES = [Explodes]
        """
    ),
}


@pytest.fixture(scope="module")
def example_site(tmp_path_factory) -> Path:
    scratch = tmp_path_factory.mktemp("example_src")
    return pip_install_target([PLUGINS / "example_minimal"], tmp_path_factory.mktemp("example_site"), scratch)


@pytest.fixture(scope="module")
def broken_site(tmp_path_factory) -> Path:
    src = tmp_path_factory.mktemp("broken_src") / "broken_demo"
    (src / "losscheck_broken_demo").mkdir(parents=True)
    (src / "pyproject.toml").write_text(BROKEN_PYPROJECT)
    for name, text in BROKEN_MODULES.items():
        (src / "losscheck_broken_demo" / name).write_text(text)
    return pip_install_target([src], tmp_path_factory.mktemp("broken_site"), tmp_path_factory.mktemp("scratch"))


def test_example_plugin_is_listed_with_its_origin(example_site):
    done = run_with([example_site], "losscheck", "rules")
    assert done.returncode == 0, done.stderr
    assert "warning" not in done.stderr
    row = next(line for line in done.stdout.splitlines() if line.startswith("LXM101"))
    assert row.split()[1:3] == ["print-in-loss", "losscheck-example-minimal"]
    builtin = next(line for line in done.stdout.splitlines() if line.startswith("LCK101"))
    assert builtin.split()[2] == "losscheck"


def test_example_plugin_reports_its_finding(example_site, tmp_path):
    (tmp_path / "losses.py").write_text(LOSS_WITH_PRINT)
    done = run_with([example_site], "losscheck", "lint", "--no-cache", "--format", "json", "losses.py", cwd=tmp_path)
    assert done.returncode == 1, done.stderr
    [finding] = json.loads(done.stdout)
    assert (finding["code"], finding["rule"], finding["line"], finding["column"]) == ("LXM101", "print-in-loss", 2, 5)
    assert "when Keras traces `my_loss`" in finding["message"]
    # without the plugin on the path, the same file is clean: the finding really comes from it
    assert run_with([], "losscheck", "lint", "--no-cache", "losses.py", cwd=tmp_path).returncode == 0


def test_example_plugin_docs_through_explain(example_site):
    done = run_with([example_site], "losscheck", "explain", "print-in-loss")
    assert done.returncode == 0, done.stderr
    assert "## Why is this bad?" in done.stdout and "losscheck-example-minimal" in done.stdout


def test_broken_plugins_are_named_and_the_core_keeps_working(broken_site, example_site, tmp_path):
    done = run_with([broken_site, example_site], "losscheck", "rules")
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    warnings = [line for line in done.stderr.splitlines() if line.startswith("losscheck: warning: ")]
    expected = {
        "losscheck-broken-demo:crash": "ModuleNotFoundError",
        "losscheck-broken-demo:future": "plugin API 2",
        "losscheck-broken-demo:notrule": "is not a losscheck Rule subclass",
        "losscheck-broken-demo:clash": "clashes with a rule already loaded",
    }
    for plugin, why in expected.items():
        hits = [w for w in warnings if repr(plugin) in w]
        assert len(hits) == 1 and why in hits[0], (plugin, warnings)
    listed = {line.split()[0] for line in done.stdout.splitlines()[1:] if line.strip()}
    assert {"LCK101", "LCK999", "LXM101", "LBX101"} <= listed  # core, good plugin, loadable rule
    assert "my-batch-mean" not in done.stdout


def test_lint_still_works_beside_broken_plugins(broken_site, example_site, tmp_path):
    (tmp_path / "losses.py").write_text(LOSS_WITH_PRINT)
    (tmp_path / "bad.py").write_text(
        "import tensorflow as tf\n\ndef my_loss(y_true, y_pred):\n    return tf.reduce_mean(y_pred)\n"
    )
    done = run_with(
        [broken_site, example_site], "losscheck", "lint", "--no-cache", "--format", "json", ".", cwd=tmp_path
    )
    assert "Traceback" not in done.stderr
    assert "'losscheck-broken-demo:crash' failed to load" in done.stderr
    codes = {(f["path"].split("/")[-1], f["code"]) for f in json.loads(done.stdout)}
    assert ("losses.py", "LXM101") in codes and ("bad.py", "LCK101") in codes
    # the rule that raises is reported as an internal error naming it, the others still ran
    crashed = [f for f in json.loads(done.stdout) if f["code"] == "LCK997"]
    assert crashed and all("LBX101" in f["message"] for f in crashed)
    assert done.returncode == 2  # an internal error is exit 2, as for any rule crash


def test_gen_still_works_beside_a_broken_emitter(broken_site, tmp_path):
    layout = {"version": 1, "outputs": [{"name": "out", "tasks": [{"name": "t", "type": "binary", "units": 1}]}]}
    (tmp_path / "l.json").write_text(json.dumps(layout))
    done = run_with([broken_site], "losscheck", "gen", "l.json", "-o", "-", cwd=tmp_path)
    assert done.returncode == 0 and "def out_loss(y_true, y_pred)" in done.stdout, done.stderr
    done = run_with([broken_site], "losscheck", "gen", "l.json", "-o", "-", "--framework", "no_such", cwd=tmp_path)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "plugin 'losscheck-broken-demo:bad' failed to load" in done.stderr
    assert "unknown framework 'no_such'" in done.stderr
