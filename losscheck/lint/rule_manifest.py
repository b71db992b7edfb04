"""The rule manifest: the code, name, defaults and triggers of every rule, so that selection and the
pre-filter work without importing the rule modules (and libcst).

It derives from the installed code alone, so it is kept in the per-user start-up cache
(``losscheck/startup.py``: shared by every project, kept under ``--no-cache``), else in the project
cache; it is sealed, written and checked field by field as result entries are (``cache.py``).
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from losscheck.lint.cache import (
    FORMAT,
    MAX_MANIFEST_BYTES,
    InvalidEntry,
    atomic_write,
    checked_bool,
    checked_list,
    checked_record,
    checked_str,
    init_dir,
    package_state,
    read_sealed,
    seal,
    tool_key,
)


@dataclass(frozen=True)
class RuleInfo:
    """What selection, the pre-filter and `losscheck rules` need to know about a rule."""

    code: str
    name: str
    summary: str
    severity: str
    default_enabled: bool
    origin: str
    fix: bool
    triggers: tuple[str, ...] | None  # trigger names or regex text (decoded latin-1); None: always parse
    triggers_are_regex: tuple[bool, ...] = ()
    literals: tuple[str, ...] | None = None  # substrings of which a file must hold one (prefilter.literals_for)

    @classmethod
    def of(cls, rule: Any) -> RuleInfo:
        from losscheck.lint.prefilter import literals_for, triggers_for

        trig = triggers_for(rule)
        return cls(
            code=rule.code,
            name=rule.name,
            summary=getattr(rule, "summary", ""),
            severity=getattr(rule, "severity", "error"),
            default_enabled=bool(getattr(rule, "default_enabled", True)),
            origin=getattr(rule, "origin", "losscheck"),
            fix=bool(rule.has_fix()) if hasattr(rule, "has_fix") else False,
            triggers=None if trig is None else tuple(t.decode("latin-1") if isinstance(t, bytes) else t for t in trig),
            triggers_are_regex=() if trig is None else tuple(isinstance(t, bytes) for t in trig),
            literals=literals_for(rule),
        )

    def trigger_values(self) -> tuple[str | bytes, ...] | None:
        if self.triggers is None:
            return None
        return tuple(t.encode("latin-1") if r else t for t, r in zip(self.triggers, self.triggers_are_regex))


@dataclass
class Manifest:
    """Every rule's code, name, defaults and triggers, and the plugins that failed to load."""

    rules: list[RuleInfo]
    plugin_errors: list[str]


def _build_manifest() -> Manifest:
    from losscheck.lint.registry import load_registry

    registry = load_registry()
    return Manifest([RuleInfo.of(r) for r in registry.rules], [str(e) for e in registry.errors])


MANIFEST_PREFIX = "rules-manifest."


def install_cache_dir() -> Path | None:
    """The per-user folder for what derives from the installed code alone (the rule manifest, the
    dataclass memo of ``losscheck/startup.py``). Every project shares it and ``--no-cache``
    (which is about results) keeps it, as Python keeps ``.pyc`` files."""
    from losscheck.startup import startup_cache_dir

    return startup_cache_dir()


_MANIFEST_KEYS = frozenset({"rules", "plugin_errors"})
_RULE_KEYS = frozenset(f.name for f in fields(RuleInfo))


def _triggers(value: Any, regex: Any, builtin: bool) -> tuple[tuple[str, ...] | None, tuple[bool, ...]]:
    """Triggers of the right types. A built-in rule's must also be ones the pre-filter can use
    (known names, regexes that compile). A plugin's are taken as the plugin declares them, as
    a fresh build would: a stricter check would refuse the manifest on every run."""
    if value is None:
        if checked_list(regex):
            raise InvalidEntry
        return None, ()
    names = tuple(checked_str(t) for t in checked_list(value))
    flags = tuple(checked_bool(r) for r in checked_list(regex))
    if len(names) != len(flags):
        raise InvalidEntry
    if builtin:
        _check_usable(names, flags)
    return names, flags


def _check_usable(names: tuple[str, ...], flags: tuple[bool, ...]) -> None:
    from losscheck.lint.prefilter_checks import CHECKS
    from losscheck.regex_memo import installed_patterns

    for name, is_regex in zip(names, flags):
        if not is_regex and name not in CHECKS:
            raise InvalidEntry
        if is_regex:
            try:
                with installed_patterns():  # the rules' own: kept between runs (regex_memo.py)
                    re.compile(name.encode("latin-1"))  # cached by re: the pre-filter's compile is free
            except (UnicodeEncodeError, re.error, RecursionError, OverflowError) as exc:
                raise InvalidEntry from exc


def _rule_info(value: Any) -> RuleInfo:
    r = checked_record(value, _RULE_KEYS)
    triggers, regex = _triggers(r["triggers"], r["triggers_are_regex"], builtin=r["origin"] == "losscheck")
    return RuleInfo(
        code=checked_str(r["code"]),
        name=checked_str(r["name"]),
        summary=checked_str(r["summary"]),
        severity=checked_str(r["severity"]),
        default_enabled=checked_bool(r["default_enabled"]),
        origin=checked_str(r["origin"]),
        fix=checked_bool(r["fix"]),
        triggers=triggers,
        triggers_are_regex=regex,
        literals=None if r["literals"] is None else tuple(checked_str(t) for t in checked_list(r["literals"])),
    )


def manifest_from(value: Any, builtin_codes: frozenset[str]) -> Manifest | None:
    """A parsed manifest whose every entry has the right shape, with unique codes and names, and
    whose built-in rules are exactly ``builtin_codes``; else None (it is built again)."""
    try:
        raw = checked_record(value, _MANIFEST_KEYS)
        rules = [_rule_info(r) for r in checked_list(raw["rules"])]
        errors = [checked_str(e) for e in checked_list(raw["plugin_errors"])]
    except InvalidEntry:
        return None
    if len({r.code for r in rules}) != len(rules) or len({r.name for r in rules}) != len(rules):
        return None
    if {r.code for r in rules if r.origin == "losscheck"} != builtin_codes:
        return None
    return Manifest(rules, errors)


def _read_manifest(path: Path) -> Manifest | None:
    value = read_sealed(path, path.name, MAX_MANIFEST_BYTES)
    return None if value is None else manifest_from(value, package_state().builtin_codes)


def load_manifest(root: Path | None, tool: str | None = None) -> Manifest:
    """The rule manifest, read when losscheck's code and the installed plugins are unchanged.

    Looked for in the per-user start-up cache first (shared, and kept under ``--no-cache``), then
    in the project cache (``root``; None under ``--no-cache``); built by importing every rule, and
    written back, only when neither has it."""
    tool = tool or tool_key()
    name = f"{MANIFEST_PREFIX}{tool}.json"
    startup = install_cache_dir()
    places = [p for p in (startup, root / FORMAT if root is not None else None) if p is not None]
    for place in places:
        found = _read_manifest(place / name)
        if found is not None:
            return found
    manifest = _build_manifest()
    payload = seal(json.dumps({"rules": [asdict(r) for r in manifest.rules],
                               "plugin_errors": manifest.plugin_errors}).encode(), name)
    if startup is not None and _write_startup_manifest(startup, name, payload):
        return manifest
    if root is not None:
        try:
            init_dir(root)
            atomic_write(root / FORMAT / name, payload)
        except OSError:
            pass
    return manifest


def _write_startup_manifest(folder: Path, name: str, payload: bytes) -> bool:
    """Write it to the start-up cache and drop the manifests of earlier code (one is ever current:
    the folder is this installation's alone)."""
    try:
        atomic_write(folder / name, payload)
    except OSError:
        return False  # an unwritable home: the project cache holds it instead
    for old in folder.glob(f"{MANIFEST_PREFIX}*.json"):
        if old.name != name:
            try:
                old.unlink()
            except OSError:
                pass
    return True
