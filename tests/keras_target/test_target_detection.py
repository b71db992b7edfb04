"""Which Keras a file is written for: config, dependency pins (every format), imports, default."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from target_helpers import LOSS, lint, pinned, project

from losscheck.errors import UserError
from losscheck.lint import config as cfg
from losscheck.lint import keras_pins, keras_target

# -- the formats --------------------------------------------------------------------------------

FORMATS = [
    ({"requirements.txt": "numpy\nkeras<3  # the last Keras 2\n"}, "2"),
    ({"requirements.txt": "keras==2.*\n"}, "2"),
    ({"requirements.txt": "keras~=2.6\n"}, "2"),
    ({"requirements.txt": "Keras [tf] >= 2.4, < 3 ; python_version >= '3.8'\n"}, "2"),
    ({"requirements.txt": "keras>=3\n"}, "3"),
    ({"requirements.txt": "keras==3.*\n"}, "3"),
    ({"requirements.txt": "tensorflow<2.16\n"}, "2"),
    ({"requirements.txt": "tensorflow==2.12.0\n"}, "2"),
    ({"requirements.txt": "tensorflow-gpu==2.10\n"}, "2"),
    ({"requirements.txt": "tensorflow>=2.16\n"}, "3"),
    ({"requirements.txt": "tensorflow==2.21.0\n"}, "3"),
    ({"requirements.txt": "tf_keras\n"}, "2"),
    ({"requirements-dev.txt": "tf-keras==2.17\n"}, "2"),
    ({"requirements/base.txt": "keras<3\n"}, "2"),
    ({"requirements.txt": "-r requirements/common.txt\n", "requirements/common.txt": "keras>=3\n"}, "3"),
    ({"requirements.txt": "keras>=2.4\n"}, None),  # admits both
    ({"requirements.txt": "keras\ntensorflow\n"}, None),
    ({"requirements.txt": "keras @ git+https://github.com/keras-team/keras\n"}, None),
    ({"requirements.txt": "# keras<3 is what we used to pin\nnumpy\n"}, None),
    ({"pyproject.toml": '[project]\nname = "p"\ndependencies = ["keras>=3.0"]\n'}, "3"),
    ({"pyproject.toml": '[project]\nname = "p"\n[project.optional-dependencies]\nlegacy = ["tf-keras"]\n'}, "2"),
    ({"pyproject.toml": '[dependency-groups]\ndev = ["keras<3", {include-group = "x"}]\n'}, "2"),
    ({"pyproject.toml": '[tool.poetry.dependencies]\npython = "^3.9"\nkeras = "^2.4"\n'}, "2"),
    ({"pyproject.toml": '[tool.poetry.dependencies]\ntensorflow = {version = "~2.15", optional = true}\n'}, "2"),
    ({"pyproject.toml": '[tool.poetry.group.ml.dependencies]\nkeras = ">=3.1"\n'}, "3"),
    ({"pyproject.toml": '[tool.poetry.dependencies]\nkeras = "2.15 || 3.0"\n'}, None),
    ({"pyproject.toml": '[tool.pdm.dev-dependencies]\ntest = ["tensorflow>=2.16"]\n'}, "3"),
    ({"pyproject.toml": "[project\nbroken"}, None),
    ({"setup.cfg": "[options]\ninstall_requires =\n    numpy\n    keras>=2.2,<2.4\n"}, "2"),
    ({"setup.cfg": "[options.extras_require]\ntf = tensorflow>=2.16\n"}, "3"),
    ({"setup.cfg": "[metadata]\ndescription = works with tf-keras\n"}, None),
    ({"setup.py": 'from setuptools import setup\nsetup(install_requires=["keras==2.3.1", "h5py"])\n'}, "2"),
    ({"setup.py": 'setup(description="tf-keras compatible", install_requires=["keras>=3"])\n'}, "3"),
    ({"environment.yml": "name: x\ndependencies:\n  - python=3.8\n  - keras=2.4\n"}, "2"),
    ({"environment.yml": "dependencies:\n  - conda-forge::tensorflow 2.12.*\n"}, "2"),
    ({"environment.yaml": "dependencies:\n  - pip\n  - pip:\n    - keras>=3\n"}, "3"),
    ({"Pipfile": '[packages]\nkeras = "<3"\n'}, "2"),
    ({"Pipfile": '[dev-packages]\ntensorflow = {version = ">=2.16"}\n'}, "3"),
    ({"Pipfile": '[packages]\nkeras = "*"\n'}, None),
]


@pytest.mark.parametrize("files,expected", FORMATS, ids=[str(i) for i in range(len(FORMATS))])
def test_dependency_files(tmp_path: Path, files: dict[str, str], expected: str | None) -> None:
    found = pinned(project(tmp_path, files, loss_at="loss.py"))
    assert (found.keras if found else None) == expected, found


@pytest.mark.parametrize(
    "requirements,expected",
    [
        ("keras>=3\ntf-keras\n", "3"),  # `import keras` is Keras 3; tf-keras does not change it
        ("tf-keras\ntensorflow>=2.16\n", "2"),  # legacy Keras on a recent TensorFlow
        ("keras>=2.4\ntensorflow<2.16\n", "2"),  # TensorFlow < 2.16 installs Keras 2
        ("keras>=2.4\ntensorflow>=2.16\n", "3"),
        ("keras<3\nkeras>=3\n", None),  # contradicting pins decide nothing
    ],
)
def test_precedence_within_a_folder(tmp_path: Path, requirements: str, expected: str | None) -> None:
    found = pinned(project(tmp_path, {"requirements.txt": requirements}, loss_at="loss.py"))
    assert (found.keras if found else None) == expected


def test_the_nearest_deciding_folder_wins(tmp_path: Path) -> None:
    module = project(tmp_path, {"requirements.txt": "keras>=3\n", "legacy/requirements.txt": "keras<3\n",
                                "legacy/app/requirements.txt": "numpy\n"}, loss_at="legacy/app/loss.py")
    found = pinned(module)
    assert found is not None and found.keras == "2" and "legacy/requirements.txt" in found.reason
    assert pinned(tmp_path / "src" / "x.py").keras == "3"


def test_the_walk_stops_at_the_repository_root(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("keras<3\n")
    module = project(tmp_path / "repo", {}, loss_at="loss.py")  # repo/.git: the parent is another project
    assert pinned(module) is None


def test_the_walk_stops_at_the_config_root(tmp_path: Path) -> None:
    module = project(tmp_path, {"requirements.txt": "keras<3\n", "sub/pyproject.toml": "[tool.losscheck]\n"},
                     loss_at="sub/loss.py")
    assert pinned(module).keras == "2"
    assert pinned(module, stop=str(tmp_path / "sub")) is None


def test_pins_are_read_once_per_folder_and_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    project(tmp_path, {"requirements.txt": "keras<3\n"}, loss_at="a/one.py")
    (tmp_path / "a" / "two.py").write_text(LOSS)
    reads: list[str] = []
    real = keras_pins.requirements_file
    monkeypatch.setattr(keras_pins, "requirements_file", lambda path, *a: reads.append(path) or real(path, *a))
    keras_pins.clear()
    options = {"setting": "auto", "pins": True, "stop": None}
    for name in ("one.py", "two.py", "one.py"):
        assert keras_target.pinned_target(str(tmp_path / "a" / name), options).keras == "2"
    assert reads == [str(tmp_path / "requirements.txt")]
    # a new run forgets them: the file may have been edited since
    (tmp_path / "requirements.txt").write_text("keras>=3\n")
    options = keras_target.options_for(cfg.Settings(root=str(tmp_path)))
    assert keras_target.pinned_target(str(tmp_path / "a" / "one.py"), options).keras == "3"


# -- imports ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header,expected",
    [
        ("from keras.engine.topology import Layer\n", "2"),
        ("import keras.engine\n", "2"),
        ("from keras.layers.merge import concatenate\n", "2"),
        ("from keras.utils import np_utils\n", "2"),
        ("from keras.utils.np_utils import to_categorical\n", "2"),
        ("from keras.wrappers.scikit_learn import KerasClassifier\n", "2"),
        ("import tf_keras\n", "2"),
        ("import theano.tensor as T\n", "2"),
        ("from tensorflow_addons.losses import SigmoidFocalCrossEntropy\n", "2"),
        ("import os\nos.environ['TF_USE_LEGACY_KERAS'] = '1'\n", "2"),
        ("def f():\n    from keras.layers.core import Dense\n", "2"),
        # Keras 3 has these: no evidence
        ("from keras.wrappers import SKLearnClassifier\n", "3"),
        ("from keras.utils import to_categorical\n", "3"),
        ("from keras.legacy import saving\n", "3"),
        ("# from keras.engine import Layer (gone in Keras 3)\n", "3"),
        ("x = 'keras.engine'\n", "3"),
    ],
)
def test_imports_decide_when_pins_do_not(tmp_path: Path, header: str, expected: str) -> None:
    module = project(tmp_path, {}, loss_at="loss.py", source=header + LOSS)
    assert len(lint(module)) == (0 if expected == "2" else 3)
    rows = keras_target.describe([str(module)], cfg.build_settings([str(module)]), where="")
    assert [r["target"] for r in rows] == [expected]


# -- the order: config, pins, imports, default ----------------------------------------------------


def test_config_beats_pins_and_pins_beat_imports(tmp_path: Path) -> None:
    k2_imports = "from keras.utils import np_utils\n" + LOSS
    module = project(tmp_path, {"requirements.txt": "keras>=3\n"}, loss_at="loss.py", source=k2_imports)
    assert lint(module) == ["6:12", "6:19", "6:26"]  # the pin says Keras 3, whatever the imports say
    assert lint(module, target="2") == []
    (tmp_path / "pyproject.toml").write_text('[tool.losscheck]\ntarget-keras = "2"\n')
    assert lint(module) == []
    assert lint(module, target="3") == ["6:12", "6:19", "6:26"]  # the command line wins over the file


def test_pins_silence_and_default_reports(tmp_path: Path) -> None:
    module = project(tmp_path, {"requirements.txt": "tensorflow==2.15.0\n"}, loss_at="loss.py")
    assert lint(module) == []
    (tmp_path / "requirements.txt").write_text("numpy\n")
    assert lint(module) == ["5:12", "5:19", "5:26"]


def test_isolated_reads_no_pins(tmp_path: Path) -> None:
    module = project(tmp_path, {"requirements.txt": "keras<3\n"}, loss_at="loss.py")
    assert lint(module) == []
    assert lint(module, isolated=True) == ["5:12", "5:19", "5:26"]


def test_engine_without_runner_options_reads_no_files(tmp_path: Path) -> None:
    """Code that calls the engine directly (plugins' tests, editors) gets the imports' verdict only."""
    from losscheck.lint.engine import lint_source
    from losscheck.lint.rules.lck302_removed_keras_api import RemovedKerasApi

    module = project(tmp_path, {"requirements.txt": "keras<3\n"}, loss_at="loss.py")
    assert len(lint_source(LOSS, str(module), rules=[RemovedKerasApi])) == 3
    options = {"keras_target": {"setting": "auto", "pins": True, "stop": None}}
    keras_pins.clear()
    assert lint_source(LOSS, str(module), rules=[RemovedKerasApi], options=options) == []


def test_cache_key_follows_the_pins(tmp_path: Path) -> None:
    module = project(tmp_path, {"requirements.txt": "keras<3\n"}, loss_at="loss.py")
    assert lint(module, use_cache=True) == []
    (tmp_path / "requirements.txt").write_text("keras>=3\n")
    assert lint(module, use_cache=True) == ["5:12", "5:19", "5:26"]
    (tmp_path / "requirements.txt").write_text("keras<3\n")
    assert lint(module, use_cache=True) == []


def test_cache_salt_only_for_rules_that_read_the_target(tmp_path: Path) -> None:
    module = project(tmp_path, {"requirements.txt": "keras<3\n"}, loss_at="loss.py")
    options = {"keras_target": {"setting": "auto", "pins": True, "stop": None}}
    keras_pins.clear()
    salt = keras_target.cache_salt(str(module), ("LCK101", "LCK302"), options)
    assert salt and keras_target.cache_salt(str(module), ("LCK101",), options) == ""
    assert keras_target.cache_salt(str(module), ("LCK302",), {"keras_target": {"setting": "3"}}) == ""
    (tmp_path / "requirements.txt").write_text("keras>=3\n")
    keras_pins.clear()
    assert keras_target.cache_salt(str(module), ("LCK302",), options) != salt


# -- configuration and the command line ------------------------------------------------------------


@pytest.mark.parametrize("value,ok", [('"auto"', True), ('"2"', True), ("3", True), ('"4"', False), ("true", False)])
def test_config_key(tmp_path: Path, value: str, ok: bool) -> None:
    (tmp_path / "pyproject.toml").write_text(f"[tool.losscheck]\ntarget-keras = {value}\n")
    if ok:
        assert cfg.build_settings([str(tmp_path)]).target_keras == value.strip('"')
    else:
        with pytest.raises(UserError, match="target-keras"):
            cfg.build_settings([str(tmp_path)])


def losscheck(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LOSSCHECK_CACHE_DIR": str(cwd / ".lc-cache")}
    return subprocess.run([sys.executable, "-m", "losscheck", *args], capture_output=True, text=True, cwd=cwd,
                          env=env, timeout=120, check=False)


def test_show_targets(tmp_path: Path) -> None:
    project(tmp_path, {"legacy/requirements.txt": "keras<3\n"}, loss_at="legacy/a.py")
    (tmp_path / "b.py").write_text("from keras.utils import np_utils\n" + LOSS)
    (tmp_path / "c.py").write_text(LOSS)
    out = losscheck("config", "--show-targets", ".", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert [" ".join(line.split()) for line in out.stdout.splitlines()] == [
        "b.py Keras 2 (imports: keras.utils.np_utils (Keras 2 only))",
        "c.py Keras 3 (default: nothing decides: Keras 3 is assumed)",
        "legacy/a.py Keras 2 (pins: keras<3 (legacy/requirements.txt:1))",
    ]
    rows = json.loads(losscheck("config", "--show-targets", "--format", "json", "--target-keras", "3", ".",
                                cwd=tmp_path).stdout)
    assert {r["target"] for r in rows} == {"3"} and rows[0]["reason"] == 'target-keras = "3" (--target-keras)'
    missing = losscheck("config", "--show-targets", "nope.py", cwd=tmp_path)
    assert missing.returncode == 2 and "nope.py: no such file or directory" in missing.stderr


def test_lint_target_keras_option(tmp_path: Path) -> None:
    project(tmp_path, {}, loss_at="loss.py")
    assert losscheck("lint", "--no-cache", "loss.py", cwd=tmp_path).returncode == 1
    assert losscheck("lint", "--no-cache", "--target-keras", "2", "loss.py", cwd=tmp_path).returncode == 0
    bad = losscheck("lint", "--target-keras", "4", "loss.py", cwd=tmp_path)
    assert bad.returncode == 2 and "--target-keras" in bad.stderr


def test_cached_run_reads_pins_without_packaging_or_tomllib(tmp_path: Path) -> None:
    """The cache key hashes the dependency files; parsing them (packaging, tomllib) is left to the
    rule, on files it runs on. A run whose files the pre-filter rejects imports neither."""
    project(tmp_path, {"pyproject.toml": '[project]\nname = "p"\ndependencies = ["keras<3"]\n'}, loss_at="x.py",
            source="import os\nprint(os.sep)\n")
    code = textwrap.dedent(
        f"""
        import sys
        from losscheck.lint import config, runner
        settings = config.build_settings([{str(tmp_path / 'x.py')!r}],
                                         overrides={{"cache_dir": {str(tmp_path / 'c')!r}}})
        result = runner.run([{str(tmp_path / 'x.py')!r}], runner.plan(settings))
        assert result.findings == [], result.findings
        print(sorted(m for m in ("packaging", "tomllib", "tensorflow", "keras", "numpy") if m in sys.modules))
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
