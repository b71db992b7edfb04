"""The dataclass code memo (losscheck/startup.py): it must build the very same classes, faster.

What is checked:
- a class built from a warm memo has byte-for-byte the code a fresh compile gives, for the
  dataclass options that change the generated methods (Hypothesis over specs);
- a second process reuses every code object (nothing compiled) and libcst still round-trips code;
- a corrupt, foreign or truncated memo file is ignored and replaced;
- the folder is per user and per installation, and ``LOSSCHECK_STARTUP_CACHE=off`` turns it off;
- the patch is undone after the block, even when the block raises.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from losscheck import startup


def _methods(cls: type) -> dict[str, tuple]:
    """The generated methods' code, comparable across two builds of the class."""
    out = {}
    for name in ("__init__", "__repr__", "__eq__", "__lt__", "__le__", "__gt__", "__ge__", "__hash__",
                 "__setattr__", "__delattr__"):
        fn = vars(cls).get(name)
        code = getattr(fn, "__code__", None)
        if code is not None:
            out[name] = (code.co_code, code.co_consts, code.co_names, code.co_varnames, code.co_freevars,
                         fn.__defaults__, fn.__kwdefaults__)
    return out


SPECS = st.fixed_dictionaries({
    "fields": st.lists(st.sampled_from(["a", "b", "count", "name", "y_true", "weights"]), min_size=0, max_size=5,
                       unique=True),
    "defaults": st.integers(0, 5),
    "frozen": st.booleans(),
    "order": st.booleans(),
    "eq": st.booleans(),
    "kw_only": st.booleans(),
    "slots": st.booleans(),
    "unsafe_hash": st.booleans(),
})


def _build(spec: dict) -> type:
    fields = spec["fields"]
    n_default = min(spec["defaults"], len(fields))
    annotations = {name: int for name in fields}
    namespace: dict = {"__annotations__": annotations}
    for name in fields[len(fields) - n_default :]:
        namespace[name] = 7
    cls = type("Spec", (), namespace)
    return dataclasses.dataclass(cls, frozen=spec["frozen"], order=spec["order"] and spec["eq"], eq=spec["eq"],
                                 kw_only=spec["kw_only"], slots=spec["slots"], unsafe_hash=spec["unsafe_hash"])


@settings(max_examples=60, deadline=None)
@given(SPECS)
def test_memoised_classes_have_the_same_code_as_fresh_ones(tmp_path_factory, spec):
    path = tmp_path_factory.mktemp("memo")
    fresh = _build(spec)
    with startup.dataclass_code_memo(path) as cold:  # compiles, records
        first = _build(spec)
    with startup.dataclass_code_memo(path) as warm:  # reuses
        second = _build(spec)
    assert cold is not None and warm is not None
    assert warm.compiled == 0, "a warm memo compiled again"
    assert _methods(first) == _methods(fresh) == _methods(second)
    # and the classes behave the same
    if not spec["kw_only"]:
        args = list(range(len(spec["fields"])))
        assert repr(fresh(*args)) == repr(second(*args))
        assert (fresh(*args) == fresh(*args)) == (second(*args) == second(*args))


def test_the_patch_is_undone_even_when_the_block_raises(tmp_path):
    with pytest.raises(RuntimeError):
        with startup.dataclass_code_memo(tmp_path / "m"):
            assert "exec" in vars(dataclasses)
            raise RuntimeError("boom")
    assert "exec" not in vars(dataclasses)


def test_nested_use_leaves_the_outer_patch_alone(tmp_path):
    with startup.dataclass_code_memo(tmp_path / "outer") as outer:
        with startup.dataclass_code_memo(tmp_path / "inner") as inner:
            assert inner is None
        assert vars(dataclasses)["exec"] is outer
    assert "exec" not in vars(dataclasses)


def _shard(folder: Path) -> Path:
    """The memo file the classes that ``_build`` makes are kept in."""
    return startup.shard_path(folder, _build.__module__.partition(".")[0])


@pytest.mark.parametrize("content", [b"", b"garbage", b"losscheck-dataclass-code-1:\x00\x00\r\n\n\x01",
                                     None])
def test_a_bad_memo_file_is_ignored_and_replaced(tmp_path, content):
    base = tmp_path / "startup"
    path = _shard(base)
    if content is None:  # the right header, a truncated body
        with startup.dataclass_code_memo(base):
            _build({"fields": ["a", "b"], "defaults": 1, "frozen": True, "order": True, "eq": True,
                    "kw_only": False, "slots": False, "unsafe_hash": False})
        path.write_bytes(path.read_bytes()[:-40])
    else:
        path.parent.mkdir()
        path.write_bytes(content)
    with startup.dataclass_code_memo(base) as shim:
        cls = _build({"fields": ["a"], "defaults": 0, "frozen": False, "order": False, "eq": True,
                      "kw_only": False, "slots": False, "unsafe_hash": False})
    assert cls(1) == cls(1) and repr(cls(2)) == "Spec(a=2)"
    assert shim is not None and shim.compiled > 0
    assert startup._read(path), "the bad file was not replaced by a good one"


def _run(code: str, env_extra: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != startup.STARTUP_CACHE_ENV}
    env.update(env_extra)
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=env,
                          cwd=tmp_path, timeout=120, check=True)


IMPORT_LIBCST = """
    from losscheck.startup import dataclass_code_memo
    with dataclass_code_memo() as shim:
        import libcst
    source = "def loss(y_true, y_pred):\\n    return (y_true - y_pred) ** 2  # kept\\n"
    module = libcst.parse_module(source)
    assert module.code == source
    assert libcst.ensure_type(module.body[0], libcst.FunctionDef).name.value == "loss"
    print(shim.compiled if shim else "off", len(shim.used["libcst"]) if shim else 0)
"""


def test_a_second_process_imports_libcst_without_compiling(tmp_path):
    env = {startup.STARTUP_CACHE_ENV: str(tmp_path / "cache")}
    first = _run(IMPORT_LIBCST, env, tmp_path).stdout.split()
    assert int(first[0]) > 100, "libcst's node classes were not built through the memo"
    assert list((tmp_path / "cache").glob("*/dataclass-code.libcst.marshal"))
    second = _run(IMPORT_LIBCST, env, tmp_path).stdout.split()
    assert second[0] == "0", f"the warm process compiled {second[0]} functions"
    assert second[1] == first[1]


@pytest.mark.parametrize("value", ["off", "0", "OFF"])
def test_the_switch_turns_it_off(tmp_path, value):
    out = _run(IMPORT_LIBCST, {startup.STARTUP_CACHE_ENV: value, "XDG_CACHE_HOME": str(tmp_path / "xdg"),
                               "HOME": str(tmp_path / "home")}, tmp_path).stdout.split()
    assert out[0] == "off"
    assert not list(tmp_path.rglob("*.marshal"))


def test_the_folder_is_per_user_per_interpreter_and_per_installation(tmp_path, monkeypatch):
    monkeypatch.delenv(startup.STARTUP_CACHE_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    folder = startup.startup_cache_dir()
    assert folder is not None
    if sys.platform.startswith("linux"):
        assert folder.parent == tmp_path / "xdg" / "losscheck"
    assert folder.name.startswith(f"{sys.implementation.cache_tag}-O{sys.flags.optimize}-")
    # another install of losscheck (another virtualenv) gets another folder
    monkeypatch.setattr(startup, "__file__", str(tmp_path / "other-venv" / "losscheck" / "startup.py"))
    assert startup.startup_cache_dir() != folder


def test_the_cli_writes_nothing_into_the_installed_package(tmp_path):
    package = Path(startup.__file__).parent
    before = {p for p in package.rglob("*") if "__pycache__" not in p.parts or not p.name.endswith(".pyc")}
    subprocess.run([sys.executable, "-m", "losscheck", "lint", "--no-cache", str(Path(__file__))],
                   capture_output=True, timeout=120, env={**os.environ, startup.STARTUP_CACHE_ENV: str(tmp_path)})
    after = {p for p in package.rglob("*") if "__pycache__" not in p.parts or not p.name.endswith(".pyc")}
    assert after == before
    assert list(tmp_path.glob("*/rules-manifest.*.json")) and list(tmp_path.glob("*/dataclass-code.*.marshal"))
