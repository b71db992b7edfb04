"""All rules: the built-in ones (every ``Rule`` subclass in ``losscheck.lint.rules``) plus plugin rule packs."""

from __future__ import annotations

import importlib
import pkgutil
import re
from dataclasses import dataclass, field
from functools import lru_cache

from losscheck.lint.rule import Rule
from losscheck.plugins import RULES_GROUP, PluginError, load_group

CODE_RE = re.compile(r"^[A-Z]{1,3}[0-9]{3}$")
NAME_RE = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")


@dataclass
class Registry:
    """The rule classes of a run (built-in and plugins'), with the plugins that failed to load."""

    rules: list[type[Rule]] = field(default_factory=list)
    errors: list[PluginError] = field(default_factory=list)

    def by_code(self) -> dict[str, type[Rule]]:
        return {r.code: r for r in self.rules}

    def by_name(self) -> dict[str, type[Rule]]:
        return {r.name: r for r in self.rules}

    def lookup(self, key: str) -> type[Rule] | None:
        return self.by_code().get(key.upper()) or self.by_name().get(key.lower())


def _rule_classes(module) -> list[type[Rule]]:
    return [
        obj
        for obj in vars(module).values()
        if isinstance(obj, type) and issubclass(obj, Rule) and obj is not Rule
        and obj.__module__ == module.__name__ and "code" in vars(obj)
    ]


def builtin_rules() -> list[type[Rule]]:
    import losscheck.lint.rules as package

    found: list[type[Rule]] = []
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        found.extend(_rule_classes(module))
    return sorted(found, key=lambda r: r.code)


def trigger_problem(rule: type[Rule]) -> str | None:
    """What is wrong with a plugin rule's ``triggers``/``trigger_checks`` (None: nothing). A rule
    with bad triggers is skipped at load time, like any broken plugin, rather than failing
    every lint run in the pre-filter."""
    from losscheck.lint.prefilter_checks import CHECKS

    triggers = getattr(rule, "triggers", ())
    checks = getattr(rule, "trigger_checks", ())
    if triggers is None:
        triggers = ()
    if not isinstance(triggers, (tuple, list)) or not isinstance(checks, (tuple, list)):
        return f"rule {rule.code}: triggers and trigger_checks must be tuples"
    for t in (*triggers, *checks):
        if isinstance(t, str) and not t:
            return f"rule {rule.code}: an empty trigger matches every file"
        if isinstance(t, bytes):
            try:
                re.compile(t)
            except re.error as exc:
                return f"rule {rule.code}: trigger {t!r} is not a valid regex: {exc}"
        elif not isinstance(t, str):
            return f"rule {rule.code}: trigger {t!r} is neither a str nor a bytes regex"
    unknown = [t for t in checks if isinstance(t, str) and t not in CHECKS]
    if unknown:
        return f"rule {rule.code}: unknown trigger check {unknown[0]!r} (known: {', '.join(sorted(CHECKS))})"
    return None


@lru_cache(maxsize=1)
def load_registry(plugins: bool = True) -> Registry:
    registry = Registry(rules=builtin_rules())
    if not plugins:
        return registry
    loaded = load_group(RULES_GROUP)
    registry.errors.extend(loaded.errors)
    taken = {r.code for r in registry.rules} | {r.name for r in registry.rules}
    for origin, pack in loaded.objects:
        rules = list(pack() if callable(pack) and not isinstance(pack, type) else pack)
        for rule in rules:
            problem = None
            if not (isinstance(rule, type) and issubclass(rule, Rule)):
                problem = f"{rule!r} is not a losscheck Rule subclass"
            elif not CODE_RE.match(getattr(rule, "code", "")) or not NAME_RE.match(getattr(rule, "name", "")):
                problem = f"rule {getattr(rule, 'code', '?')} has an invalid code or name"
            elif rule.code in taken or rule.name in taken:
                problem = f"rule {rule.code} ({rule.name}) clashes with a rule already loaded"
            else:
                problem = trigger_problem(rule)
            if problem:
                registry.errors.append(PluginError(origin, problem))
                continue
            rule.origin = origin.split(":")[0]
            taken |= {rule.code, rule.name}
            registry.rules.append(rule)
    registry.rules.sort(key=lambda r: r.code)
    return registry
