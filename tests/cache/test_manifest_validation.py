"""The rule manifest is checked before it is trusted, and rebuilt when it is wrong.

A manifest that lists no rules (``{"rules": [], "plugin_errors": []}``) turned every rule off, on
every run, until the file was deleted; one that dropped a rule hid that rule's findings; a bad
trigger or a deeply nested file crashed each run. Now the manifest must list exactly the
built-in rule codes the installed package has, and every entry must have the right shape."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict
from pathlib import Path

import pytest
from cache_helpers import BUGGY, lint

from losscheck import startup
from losscheck.lint import cache as lcache
from losscheck.lint import rule_manifest


def _run(project: Path, folder: Path):
    # --no-cache: no stored results, so the rules that run are the manifest's
    return lint(project, project / "unused-cache", "--no-cache", "--format", "concise", ".",
                env={startup.STARTUP_CACHE_ENV: str(folder)}, timeout=120)


def _manifest(folder: Path) -> Path:
    [path] = folder.glob(f"*/{rule_manifest.MANIFEST_PREFIX}*.json")
    return path


@pytest.fixture
def baseline(tmp_path):
    """A project, a start-up cache holding the manifest a first run wrote, and that run's output."""
    project = tmp_path / "project"
    project.mkdir()
    shutil.copy(BUGGY, project / BUGGY.name)
    folder = tmp_path / "startup"
    first = _run(project, folder)
    assert first.returncode == 1 and "LCK101" in first.stdout, first.stderr
    return project, folder, _manifest(folder).read_bytes(), first.stdout


def _good() -> dict:
    """What the manifest says, as plain JSON (built in this process from the installed rules)."""
    built = rule_manifest._build_manifest()
    return json.loads(json.dumps({"rules": [asdict(r) for r in built.rules], "plugin_errors": built.plugin_errors}))


def _edit_rule(value: dict, which: str, **changes) -> dict:
    return {**value, "rules": [{**r, **changes} if r["code"] == which else r for r in value["rules"]]}


def _bad_manifests() -> dict[str, object]:
    good = _good()
    return {
        "no-rules": {"rules": [], "plugin_errors": []},
        "no-rules-no-errors": {"rules": []},
        "a-rule-missing": {**good, "rules": [r for r in good["rules"] if r["code"] != "LCK101"]},
        "flag-as-text": _edit_rule(good, "LCK902", default_enabled="false"),
        "unknown-trigger": _edit_rule(good, "LCK101", triggers=["no-such-trigger"], triggers_are_regex=[False]),
        "bad-regex": _edit_rule(good, "LCK101", triggers=["("], triggers_are_regex=[True]),
        "regex-not-latin-1": _edit_rule(good, "LCK101", triggers=["\u2603"], triggers_are_regex=[True]),
        "deeply-nested": None,
    }


BAD = ["no-rules", "no-rules-no-errors", "a-rule-missing", "flag-as-text", "unknown-trigger", "bad-regex",
       "regex-not-latin-1", "deeply-nested"]


def test_the_case_lists_are_whole():
    assert list(_bad_manifests()) == BAD
    assert list(_field_cases()) == FIELD_CASES


@pytest.mark.parametrize("case", BAD)
def test_a_wrong_manifest_is_rebuilt(baseline, case):
    project, folder, good_bytes, expected = baseline
    path = _manifest(folder)
    bad = _bad_manifests()[case]
    path.write_bytes(b"[" * 100_000 + b"]" * 100_000 if bad is None else json.dumps(bad).encode())
    run = _run(project, folder)
    assert "Traceback" not in run.stderr, run.stderr[-3000:]
    assert (run.returncode, run.stdout) == (1, expected), run.stderr[-3000:]
    assert path.read_bytes() == good_bytes, "the wrong manifest was not replaced"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="named pipes are a POSIX thing")
def test_a_named_pipe_in_place_of_the_manifest_does_not_hang_the_run(baseline):
    project, folder, good_bytes, expected = baseline
    path = _manifest(folder)
    path.unlink()
    os.mkfifo(path)
    run = _run(project, folder)
    assert (run.returncode, run.stdout) == (1, expected)
    assert path.is_file() and path.read_bytes() == good_bytes


# -- in process: what the checks accept and refuse ---------------------------------------------


def test_the_builtin_codes_read_from_the_rule_modules_are_the_registrys():
    from losscheck.lint.registry import builtin_rules

    assert lcache.package_state().builtin_codes == {r.code for r in builtin_rules()}


def test_the_manifest_as_built_passes_the_checks():
    builtin = lcache.package_state().builtin_codes
    built = rule_manifest._build_manifest()
    assert rule_manifest.manifest_from(_good(), builtin) == built


def _field_cases() -> dict[str, object]:
    good = _good()
    first = good["rules"][0]["code"]
    plugin_like = {**good["rules"][0], "code": "XYZ123", "name": "xyz-rule", "origin": "some-plugin"}
    return {
        **{k: v for k, v in _bad_manifests().items() if v is not None and k != "no-rules-no-errors"},
        "not-an-object": [],
        "extra-key": {**good, "version": 2},
        "rules-not-a-list": {**good, "rules": {}},
        "errors-not-text": {**good, "plugin_errors": [3]},
        "rule-not-an-object": {**good, "rules": [*good["rules"], "LCK999"]},
        "rule-extra-key": _edit_rule(good, first, extra=1),
        "code-not-text": _edit_rule(good, first, code=101),
        "name-not-text": _edit_rule(good, first, name=None),
        "summary-not-text": _edit_rule(good, first, summary=["x"]),
        "severity-not-text": _edit_rule(good, first, severity=2),
        "origin-not-text": _edit_rule(good, first, origin=None),
        "fix-not-a-flag": _edit_rule(good, first, fix=1),
        "triggers-not-a-list": _edit_rule(good, first, triggers="loss-signature", triggers_are_regex=[False]),
        "trigger-lengths-differ": _edit_rule(good, first, triggers=["loss-signature"], triggers_are_regex=[]),
        "regex-flags-without-triggers": _edit_rule(good, first, triggers=None, triggers_are_regex=[True]),
        "builtin-claimed-by-a-plugin": _edit_rule(good, first, origin="some-plugin"),
        "plugin-posing-as-builtin": {**good, "rules": [*good["rules"], {**plugin_like, "origin": "losscheck"}]},
        "duplicate-code": {**good, "rules": [*good["rules"], {**plugin_like, "code": first}]},
        "duplicate-name": {**good, "rules": [*good["rules"], {**plugin_like, "name": good["rules"][0]["name"]}]},
    }


FIELD_CASES = [
    "no-rules", "a-rule-missing", "flag-as-text", "unknown-trigger", "bad-regex", "regex-not-latin-1",
    "not-an-object", "extra-key", "rules-not-a-list", "errors-not-text", "rule-not-an-object", "rule-extra-key",
    "code-not-text", "name-not-text", "summary-not-text", "severity-not-text", "origin-not-text", "fix-not-a-flag",
    "triggers-not-a-list", "trigger-lengths-differ", "regex-flags-without-triggers", "builtin-claimed-by-a-plugin",
    "plugin-posing-as-builtin", "duplicate-code", "duplicate-name",
]


@pytest.mark.parametrize("case", FIELD_CASES)
def test_a_manifest_of_the_wrong_shape_is_refused(case):
    assert rule_manifest.manifest_from(_field_cases()[case], lcache.package_state().builtin_codes) is None


def test_a_plugin_rule_is_accepted(tmp_path):
    good = _good()
    plugin = {**good["rules"][0], "code": "XYZ123", "name": "xyz-rule", "origin": "some-plugin",
              "triggers": [r"\bprint\s*\("], "triggers_are_regex": [True]}
    value = {**good, "rules": [*good["rules"], plugin]}
    manifest = rule_manifest.manifest_from(value, lcache.package_state().builtin_codes)
    assert manifest is not None and manifest.rules[-1].trigger_values() == (rb"\bprint\s*\(",)


def test_a_plugin_rules_triggers_are_kept_as_the_plugin_declares_them():
    """A fresh build writes what the plugin declares; refusing it would rebuild on every run
    (the pre-filter reports a plugin's unusable trigger when the rule is selected)."""
    good = _good()
    for triggers, regex in ((["no-such-trigger"], [False]), (["("], [True])):
        plugin = {**good["rules"][0], "code": "XYZ123", "name": "xyz-rule", "origin": "some-plugin",
                  "triggers": triggers, "triggers_are_regex": regex}
        value = {**good, "rules": [*good["rules"], plugin]}
        assert rule_manifest.manifest_from(value, lcache.package_state().builtin_codes) is not None


@pytest.fixture
def install_dir(tmp_path, monkeypatch):
    folder = tmp_path / "startup"
    folder.mkdir()
    monkeypatch.setattr(rule_manifest, "install_cache_dir", lambda: folder)
    return folder


@pytest.mark.parametrize("case", ["no-rules", "a-rule-missing", "unknown-trigger"])
def test_a_sealed_but_wrong_manifest_is_rebuilt(install_dir, case):
    """The checksum holds (it was written that way), so the content checks alone must refuse it."""
    built = rule_manifest.load_manifest(None, tool="k")
    [path] = install_dir.iterdir()
    good_bytes = path.read_bytes()
    path.write_bytes(lcache.seal(json.dumps(_bad_manifests()[case]).encode(), path.name))
    assert rule_manifest.load_manifest(None, tool="k") == built
    assert path.read_bytes() == good_bytes
