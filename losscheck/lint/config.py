"""Settings: ``[tool.losscheck]`` in pyproject.toml, then the command line on top (ruff's layering).

The nearest ``pyproject.toml`` with a ``[tool.losscheck]`` table, searched upward from the
first path given (or from the working directory), is the project's config; its directory is
the project root (relative globs, the cache). Unknown keys, wrong types and unknown rule
selectors are errors naming the file and key (exit 2).

Rule selection follows ruff: a selector is ``ALL``, a code prefix (``LCK``, ``LCK1``,
``LCK101``) or a rule name (``wrong-axis``); for each rule the most specific matching
selector wins, and on a tie ``ignore`` wins. A ``select`` in a later layer (the command
line) replaces the earlier one; ``extend-select`` and ``ignore`` add to it. Rules that are
off by default (e.g. LCK902 inference-gap) are enabled only by their exact code or name.
"""

from __future__ import annotations

import fnmatch
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

from losscheck.errors import UserError

# Folders never walked into (explicitly given paths are still linted), as ruff's defaults.
DEFAULT_EXCLUDE: tuple[str, ...] = (
    ".bzr", ".direnv", ".eggs", ".git", ".git-rewrite", ".hg", ".ipynb_checkpoints", ".mypy_cache",
    ".nox", ".pants.d", ".pyenv", ".pytest_cache", ".pytype", ".ruff_cache", ".svn", ".tox", ".venv",
    ".vscode", "__pypackages__", "_build", "buck-out", "build", "dist", "node_modules", "site-packages",
    "venv", ".losscheck_cache",
)
# Files a folder walk lints, as ruff's defaults (a notebook is any ``*.ipynb``).
DEFAULT_INCLUDE: tuple[str, ...] = ("*.py", "*.pyi", "*.ipynb")
FORMATS = ("full", "concise", "json", "sarif", "github")
EXACT = 1000  # specificity of a full code or a name


class RuleLike(Protocol):
    code: str
    name: str
    default_enabled: bool


@dataclass
class Layer:
    """One source of rule selection (the config file, then the command line)."""

    select: list[str] | None = None
    extend_select: list[str] = field(default_factory=list)
    ignore: list[str] = field(default_factory=list)


@dataclass
class Settings:
    """The settings of a lint run: the project's configuration, its command-line overrides and defaults."""

    root: str  # project root: the config's folder, else the working directory
    config_path: str | None = None
    layers: list[Layer] = field(default_factory=list)
    per_file_ignores: dict[str, list[str]] = field(default_factory=dict)
    exclude: list[str] = field(default_factory=lambda: list(DEFAULT_EXCLUDE))
    extend_exclude: list[str] = field(default_factory=list)
    include: list[str] = field(default_factory=lambda: list(DEFAULT_INCLUDE))  # files a folder walk lints
    extend_include: list[str] = field(default_factory=list)
    respect_gitignore: bool = True
    force_exclude: bool = False  # apply exclude to files named on the command line too
    layout: str | None = None  # absolute path of a layout file for shape inference
    outputs: dict[str, str] = field(default_factory=dict)  # function name -> output name
    output_format: str = "full"
    cache_dir: str | None = None
    target_keras: str = "auto"  # "auto" | "2" | "3": the Keras that removed-keras-api judges against
    read_pins: bool = True  # auto: read the project's dependency pins (not under --isolated)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def fingerprint(self) -> dict[str, Any]:
        """What changes findings (for the cache key); not output format or paths of the run."""
        data = self.to_dict()
        for key in ("output_format", "cache_dir", "config_path", "exclude", "extend_exclude", "include", "extend_include", "respect_gitignore", "force_exclude"):
            data.pop(key)
        if self.layout:
            from losscheck.lint.cache import content_digest

            # by content: an edit within the file system's time resolution keeps the mtime
            data["layout_digest"] = content_digest(self.layout)
        return data


# -- reading pyproject.toml -----------------------------------------------------------------

_KEYS: dict[str, str] = {
    "select": "list",
    "extend-select": "list",
    "ignore": "list",
    "per-file-ignores": "table-of-lists",
    "exclude": "list",
    "extend-exclude": "list",
    "include": "list",
    "extend-include": "list",
    "respect-gitignore": "bool",
    "force-exclude": "bool",
    "layout": "str",
    "outputs": "table-of-str",
    "output-format": "str",
    "cache-dir": "str",
    "target-keras": "target",
}
TARGET_KERAS = ("auto", "2", "3")


def find_config(start: str) -> Path | None:
    here = Path(os.path.realpath(start))  # realpath, unlike Path.resolve, survives a symlink loop
    if not here.is_dir():
        here = here.parent
    for folder in (here, *here.parents):
        candidate = folder / "pyproject.toml"
        if os.path.isfile(candidate) and _has_table(candidate):  # False, not an error, in an unreadable folder
            return candidate
    return None


def _has_table(path: Path) -> bool:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False
    # A cheap check first: tomllib is only imported when a config exists.
    return re.search(r"^\s*\[\s*tool\.losscheck\b", text, re.MULTILINE) is not None


def _check_type(path: Path, key: str, value: Any, kind: str) -> None:
    where = f"{path}: [tool.losscheck] {key}"
    ok = {
        "list": isinstance(value, list) and all(isinstance(v, str) for v in value),
        "str": isinstance(value, str),
        "bool": isinstance(value, bool),
        "table-of-lists": isinstance(value, dict)
        and all(isinstance(v, list) and all(isinstance(x, str) for x in v) for v in value.values()),
        "table-of-str": isinstance(value, dict) and all(isinstance(v, str) for v in value.values()),
        "target": str(value) in TARGET_KERAS and isinstance(value, (str, int)) and not isinstance(value, bool),
    }[kind]
    if not ok:
        expected = {
            "list": "a list of strings",
            "str": "a string",
            "bool": "true or false",
            "table-of-lists": "a table of lists of strings",
            "table-of-str": "a table of strings",
            "target": '"auto", "2" or "3"',
        }[kind]
        got = repr(value) if kind == "target" else type(value).__name__
        raise UserError(f"expected {expected}, got {got}", where)


def load_file_settings(path: Path) -> tuple[dict[str, Any], Path]:
    import tomllib

    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise UserError(f"invalid TOML: {exc}", str(path)) from None
    except OSError as exc:
        raise UserError(f"cannot read: {exc.strerror}", str(path)) from None
    table = data.get("tool", {}).get("losscheck", {})
    if not isinstance(table, dict):
        raise UserError("[tool.losscheck] must be a table", str(path))
    for key, value in table.items():
        if key not in _KEYS:
            close = fnmatch.filter(_KEYS, f"*{key[:4]}*")
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise UserError(f"unknown key {key!r}{hint}; known keys: {', '.join(_KEYS)}", f"{path}: [tool.losscheck]")
        _check_type(path, key, value, _KEYS[key])
    return table, path


def build_settings(
    paths: Sequence[str],
    *,
    config: str | None = None,
    isolated: bool = False,
    cli_layer: Layer | None = None,
    overrides: dict[str, Any] | None = None,
) -> Settings:
    table: dict[str, Any] = {}
    cfg_path: Path | None = None
    if config:
        cfg_path = Path(config)
        if not cfg_path.is_file():
            raise UserError("config file not found", config)
        table, _ = load_file_settings(cfg_path)
    elif not isolated:
        cfg_path = find_config(paths[0] if paths else os.getcwd())
        if cfg_path is not None:
            table, _ = load_file_settings(cfg_path)
    root = str(cfg_path.resolve().parent) if cfg_path else os.getcwd()
    where = f"{cfg_path}: [tool.losscheck]"
    layout = table.get("layout")
    settings = Settings(
        root=root,
        config_path=str(cfg_path) if cfg_path else None,
        layers=[Layer(table.get("select"), list(table.get("extend-select", [])), list(table.get("ignore", [])))],
        per_file_ignores=dict(table.get("per-file-ignores", {})),
        exclude=list(table.get("exclude", DEFAULT_EXCLUDE)),
        extend_exclude=list(table.get("extend-exclude", [])),
        include=list(table.get("include", DEFAULT_INCLUDE)),
        extend_include=list(table.get("extend-include", [])),
        respect_gitignore=bool(table.get("respect-gitignore", True)),
        force_exclude=bool(table.get("force-exclude", False)),
        layout=str(Path(root, layout).resolve()) if layout else None,
        outputs=dict(table.get("outputs", {})),
        output_format=table.get("output-format", "full"),
        cache_dir=str(Path(root, table["cache-dir"])) if "cache-dir" in table else None,
        target_keras=str(table.get("target-keras", "auto")),
        read_pins=not isolated,
    )
    if settings.output_format not in FORMATS:
        raise UserError(f"output-format must be one of {', '.join(FORMATS)}, got {settings.output_format!r}", where)
    if cli_layer is not None:
        settings.layers.append(cli_layer)
    for key, value in (overrides or {}).items():
        if value is not None:
            setattr(settings, key, value)
    return settings


# -- rule selection ---------------------------------------------------------------------------


def specificity(selector: str, rule: RuleLike) -> int | None:
    """How specifically ``selector`` names ``rule`` (None: it does not)."""
    if selector.upper() == "ALL":
        return 0
    if selector.lower() == rule.name or selector.upper() == rule.code:
        return EXACT
    if re.fullmatch(r"[A-Za-z]+[0-9]*", selector) and rule.code.startswith(selector.upper()):
        return len(selector)
    return None


def validate_selectors(selectors: Iterable[tuple[str, str]], rules: Sequence[RuleLike], extra_codes: Iterable[str] = ()) -> None:
    """Each (selector, where) must name at least one rule; else a clear error."""
    extra = list(extra_codes)
    for selector, where in selectors:
        if selector.upper() == "ALL":
            continue
        if any(specificity(selector, r) is not None for r in rules):
            continue
        if re.fullmatch(r"[A-Za-z]+[0-9]*", selector) and any(c.startswith(selector.upper()) for c in extra):
            continue
        raise UserError(f"unknown rule selector {selector!r} (see `losscheck rules`)", where)


def resolve(rules: Sequence[RuleLike], layers: Sequence[Layer]) -> list[RuleLike]:
    enabled = {r.code: r.default_enabled for r in rules}
    for layer in layers:
        for rule in rules:
            # (specificity, is_ignore, enable?) -- max wins; on equal specificity ignore wins.
            best: tuple[int, int, bool] = (-1, 0, False if layer.select is not None else enabled[rule.code])
            for selector in (layer.select or []) + layer.extend_select:
                spec = specificity(selector, rule)
                if spec is None or (not rule.default_enabled and spec != EXACT):
                    continue
                best = max(best, (spec, 0, True))
            for selector in layer.ignore:
                spec = specificity(selector, rule)
                if spec is not None:
                    best = max(best, (spec, 1, False))
            enabled[rule.code] = best[2]
    return [r for r in rules if enabled[r.code]]


def per_file_rules(rules: Sequence[RuleLike], relpath: str, per_file_ignores: dict[str, list[str]]) -> list[RuleLike]:
    """Drop the rules a matching ``per-file-ignores`` glob names (relpath: posix, relative to root)."""
    if not per_file_ignores:
        return list(rules)
    base = relpath.rsplit("/", 1)[-1]
    ignored: list[str] = []
    for pattern, selectors in per_file_ignores.items():
        target = relpath if "/" in pattern else base
        if fnmatch.fnmatchcase(target, pattern) or fnmatch.fnmatchcase(relpath, pattern):
            ignored.extend(selectors)
    if not ignored:
        return list(rules)
    return [r for r in rules if not any(specificity(s, r) is not None for s in ignored)]


def all_selectors(settings: Settings) -> list[tuple[str, str]]:
    where_cfg = f"{settings.config_path}: [tool.losscheck]" if settings.config_path else "command line"
    out: list[tuple[str, str]] = []
    for i, layer in enumerate(settings.layers):
        where = where_cfg if (i == 0 and settings.config_path) else "command line"
        for key, items in (("select", layer.select or []), ("extend-select", layer.extend_select), ("ignore", layer.ignore)):
            out.extend((s, f"{where} {key}" if where != "command line" else f"--{key}") for s in items)
    for pattern, items in settings.per_file_ignores.items():
        out.extend((s, f"{where_cfg} per-file-ignores {pattern!r}") for s in items)
    return out
