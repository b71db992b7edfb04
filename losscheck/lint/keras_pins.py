"""Which Keras a project pins, read from its dependency files (as text: nothing is executed).

Files read in each folder: ``pyproject.toml`` (``[project]`` dependencies and optional
dependencies, ``[dependency-groups]``, Poetry's and PDM's tables), ``requirements*.txt`` and
``requirements/*.txt`` (following ``-r``/``-c``), ``setup.cfg`` (``install_requires``,
``extras_require``), ``setup.py`` (string literals that are requirements), ``environment.yml``
(conda and pip entries) and ``Pipfile``.

A folder's verdict, from its files together:

1. ``keras``: the specifiers of every mention are combined (as pip would) and tried against
   Keras's release line: all admitted versions below 3 is Keras 2, all at 3 or above is Keras 3;
2. else ``tf-keras`` listed at all is Keras 2 (legacy Keras on a recent TensorFlow);
3. else ``tensorflow`` (and its ``-cpu``/``-gpu``/``-macos`` builds, ``tf-nightly``): every
   admitted version below 2.16 is Keras 2 (its ``tf.keras`` and the ``keras`` it installs), every
   one at 2.16 or above is Keras 3.

Anything else (no pin, ``keras>=2.4`` that admits both, pins that contradict each other) decides
nothing, and the folder above is asked. ``packaging`` is imported only when a pin is found.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from functools import cache, lru_cache
from typing import Any, NamedTuple

KERAS = "keras"
TF_KERAS = "tf-keras"
TENSORFLOW = frozenset(
    {"tensorflow", "tensorflow-cpu", "tensorflow-gpu", "tensorflow-macos", "tensorflow-intel",
     "tensorflow-aarch64", "intel-tensorflow", "tf-nightly", "tf-nightly-cpu", "tf-nightly-gpu"}
)
WATCHED = frozenset({KERAS, TF_KERAS}) | TENSORFLOW

# Release lines the specifiers are tried against: (before Keras 3, Keras 3 and later).
_PATCHES = (0, 1, 2, 3, 5, 9, 20)
Lines = tuple[tuple[int, int, int], ...]  # (major, first minor, end minor) ranges
_KERAS_LINES: tuple[Lines, Lines] = (((1, 0, 3), (2, 0, 16)), ((3, 0, 60), (4, 0, 1), (5, 0, 1)))
_TF_LINES: tuple[Lines, Lines] = (((1, 0, 16), (2, 0, 16)), ((2, 16, 80), (3, 0, 1)))  # 2.16: Keras 3


@cache
def _versions(lines: Lines) -> tuple[str, ...]:
    return tuple(f"{a}.{b}.{c}" for a, first, end in lines for b in range(first, end) for c in _PATCHES)


_NAME = r"[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?"
_SPEC = r"(?:===|==|!=|~=|<=|>=|<|>)\s*[A-Za-z0-9.*+!_-]+"
_REQUIREMENT = re.compile(
    rf"\s*({_NAME})\s*(?:\[[^\]]*\])?\s*(\(?\s*(?:{_SPEC}\s*(?:,\s*{_SPEC}\s*)*)?\)?|@\s*\S+)?\s*(?:;.*)?"
)


# NamedTuples, not dataclasses: the runner's cache key reads this module on every run.
class Pin(NamedTuple):
    package: str  # normalised (PEP 503): "tf-keras"
    spec: str  # PEP 440 specifiers ("" = any version)
    where: str  # "requirements.txt:3", "pyproject.toml [project.optional-dependencies] test"
    text: str  # as written


class PinVerdict(NamedTuple):
    keras: str  # "2" | "3"
    pins: tuple[Pin, ...]  # the pins that decided
    path: str  # the folder whose files hold them

    def reason(self, folder_shown: str = "") -> str:
        """``keras<3 (requirements.txt:2)``, each place under ``folder_shown`` when given."""
        prefix = f"{folder_shown}/" if folder_shown and folder_shown != "." else ""
        return "; ".join(f"{p.text} ({prefix}{p.where})" for p in self.pins)


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def parse_requirement(text: str, where: str) -> Pin | None:
    """A PEP 508 line (``keras[tf]>=2.4,<3 ; python_version >= "3.8"``) for a watched package."""
    m = _REQUIREMENT.fullmatch(text)
    if m is None:
        return None
    package = normalise(m.group(1))
    if package not in WATCHED:
        return None
    spec = (m.group(2) or "").strip()
    spec = "" if spec.startswith("@") else spec.strip("()").replace(" ", "")
    return Pin(package, spec, where, text.strip())


# -- the file formats ------------------------------------------------------------------------


_MAX_PIN_FILE = 4 << 20  # a dependency file is small: a bigger one is not read


def _read_bytes(path: str) -> bytes | None:
    """A regular file's bytes (a named pipe called requirements.txt must not hang the run)."""
    from losscheck.startup import read_regular_file

    return read_regular_file(path, _MAX_PIN_FILE)


def _read(path: str) -> str | None:
    data = _read_bytes(path)
    return None if data is None else data.decode("utf-8", "replace")


def requirements_file(path: str, label: str, depth: int = 0, seen: frozenset[str] = frozenset()) -> list[Pin]:
    text = _read(path)
    if text is None or depth > 5 or path in seen:
        return []
    seen = seen | {path}
    pins: list[Pin] = []
    lines = text.replace("\\\n", " ").splitlines()
    for number, raw in enumerate(lines, 1):
        line = re.sub(r"(^|\s)#.*", "", raw).strip()
        include = re.match(r"(?:-r|-c|--requirement|--constraint)[\s=]+(\S+)", line)
        if include:
            target = os.path.join(os.path.dirname(path), include.group(1))
            pins.extend(requirements_file(target, include.group(1), depth + 1, seen))
            continue
        if not line or line.startswith("-"):
            continue
        pin = parse_requirement(line, f"{label}:{number}")
        if pin is not None:
            pins.append(pin)
    return pins


def _poetry_spec(constraint: str) -> str | None:
    """A Poetry constraint (``^2.4``, ``~2.12``, ``2.4.*``, ``>=2,<3``) as PEP 440 specifiers; None
    for alternatives (``||``), which this does not combine."""
    if "||" in constraint:
        return None
    parts: list[str] = []
    joined = re.sub(r"([<>=!~^]=?)\s+", r"\1", constraint.strip())  # ">= 2.4" -> ">=2.4"
    for token in re.split(r"[,\s]+", joined):
        if token in ("", "*"):
            continue
        if token[0] in "^~" and not token.startswith("~="):
            caret, version = token[0] == "^", token[1:].strip()
            numbers = [int(n) for n in re.findall(r"\d+", version)[:3]]
            if not numbers:
                return None
            if caret:
                index = next((i for i, n in enumerate(numbers) if n), len(numbers) - 1)
            else:
                index = 1 if len(numbers) > 1 else 0
            upper = numbers[: index + 1]
            upper[-1] += 1
            parts += [f">={version}", "<" + ".".join(map(str, upper))]
        elif token[0].isdigit():
            parts.append(f"=={token}")
        else:
            parts.append(token.replace(" ", ""))
    return ",".join(parts)


def _poetry_table(table: object, where: str) -> list[Pin]:
    pins: list[Pin] = []
    if not isinstance(table, dict):
        return pins
    for name, value in table.items():
        package = normalise(str(name))
        if package not in WATCHED:
            continue
        values = value if isinstance(value, list) else [value]
        specs = []
        for item in values:
            version = item.get("version", "") if isinstance(item, dict) else item
            specs.append(_poetry_spec(version) if isinstance(version, str) else "")
        # several entries (markers) or alternatives: a version is pinned only when all agree
        spec = specs[0] if len(set(specs)) == 1 and specs[0] is not None else ""
        pins.append(Pin(package, spec or "", where, f"{name} = {value!r}"))
    return pins


def _requirement_lists(tables: object, where: str) -> list[Pin]:
    """``{"group": ["keras<3", ...]}`` or a plain list of requirement strings."""
    pins: list[Pin] = []
    groups = tables.items() if isinstance(tables, dict) else [("", tables)]
    for group, items in groups:
        if not isinstance(items, list):
            continue
        label = f"{where} {group}".rstrip()
        for item in items:
            if isinstance(item, str):
                pin = parse_requirement(item, label)
                if pin is not None:
                    pins.append(pin)
    return pins


def pyproject(path: str) -> list[Pin]:
    data = _toml(path)
    if data is None:
        return []
    name = os.path.basename(path)
    project = data.get("project") if isinstance(data.get("project"), dict) else {}
    tool = data.get("tool") if isinstance(data.get("tool"), dict) else {}
    poetry = tool.get("poetry") if isinstance(tool.get("poetry"), dict) else {}
    pdm = tool.get("pdm") if isinstance(tool.get("pdm"), dict) else {}
    pins = _requirement_lists(project.get("dependencies"), f"{name} [project] dependencies")
    pins += _requirement_lists(project.get("optional-dependencies"), f"{name} [project.optional-dependencies]")
    pins += _requirement_lists(data.get("dependency-groups"), f"{name} [dependency-groups]")
    pins += _requirement_lists(pdm.get("dev-dependencies"), f"{name} [tool.pdm.dev-dependencies]")
    pins += _poetry_table(poetry.get("dependencies"), f"{name} [tool.poetry.dependencies]")
    pins += _poetry_table(poetry.get("dev-dependencies"), f"{name} [tool.poetry.dev-dependencies]")
    groups = poetry.get("group") if isinstance(poetry.get("group"), dict) else {}
    for group, table in groups.items():
        if isinstance(table, dict):
            pins += _poetry_table(table.get("dependencies"), f"{name} [tool.poetry.group.{group}.dependencies]")
    return pins


def pipfile(path: str) -> list[Pin]:
    data = _toml(path)
    if data is None:
        return []
    pins: list[Pin] = []
    for section in ("packages", "dev-packages"):
        table = data.get(section)
        if not isinstance(table, dict):
            continue
        for name, value in table.items():
            package = normalise(str(name))
            if package not in WATCHED:
                continue
            version = value.get("version", "") if isinstance(value, dict) else value
            spec = "" if not isinstance(version, str) or version.strip() == "*" else version.replace(" ", "")
            pins.append(Pin(package, spec, f"Pipfile [{section}]", f"{name} = {value!r}"))
    return pins


def _toml(path: str) -> dict | None:
    text = _read(path)
    if text is None:
        return None
    try:
        import tomllib
    except ImportError:  # Python 3.10: read no TOML rather than fail
        return None
    try:
        return tomllib.loads(text)
    except (ValueError, RecursionError):  # TOMLDecodeError is a ValueError
        return None  # not ours to judge: a broken file decides nothing


def setup_cfg(path: str) -> list[Pin]:
    text = _read(path)
    if text is None:
        return []
    import configparser

    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read_string(text)
    except configparser.Error:
        return []
    values: list[tuple[str, str]] = []
    if parser.has_option("options", "install_requires"):
        values.append(("setup.cfg install_requires", parser.get("options", "install_requires")))
    if parser.has_section("options.extras_require"):
        values += [(f"setup.cfg extras_require {key}", value) for key, value in parser.items("options.extras_require")]
    pins: list[Pin] = []
    for where, value in values:
        for line in value.splitlines():
            pin = parse_requirement(line, where) if line.strip() else None
            if pin is not None:
                pins.append(pin)
    return pins


_STRING = re.compile(r"""'([^'\n\\]*)'|"([^"\n\\]*)\"""")


def setup_py(path: str) -> list[Pin]:
    """String literals that are whole requirements of a watched package (``"keras>=2.4,<3"``);
    the file is read as text, never run."""
    text = _read(path)
    if text is None or not any(name in text.lower() for name in ("keras", "tensorflow", "tf-nightly")):
        return []
    pins: list[Pin] = []
    for m in _STRING.finditer(text):
        literal = m.group(1) if m.group(1) is not None else m.group(2)
        pin = parse_requirement(literal, f"setup.py:{text.count(chr(10), 0, m.start()) + 1}")
        if pin is not None:
            pins.append(pin)
    return pins


_CONDA_ITEM = re.compile(r"\s*-\s*['\"]?([^'\"#]+?)['\"]?\s*(?:#.*)?")


def environment_yml(path: str) -> list[Pin]:
    """``- keras=2.4`` (conda: a version prefix), ``- tensorflow>=2.10``, ``- conda-forge::keras 2.4.*``
    and the ``- pip:`` list's PEP 508 entries."""
    text = _read(path)
    if text is None:
        return []
    pins: list[Pin] = []
    label = os.path.basename(path)
    for number, line in enumerate(text.splitlines(), 1):
        m = _CONDA_ITEM.fullmatch(line)
        if m is None:
            continue
        item = m.group(1).split("::")[-1].strip()
        conda = re.fullmatch(rf"({_NAME})\s*(=|\s)\s*([0-9][0-9A-Za-z.*+!_-]*)(?:=\S*)?", item)
        if conda and not item.startswith(f"{conda.group(1)}=="):
            version = conda.group(3)
            item = f"{conda.group(1)}=={version}" if version.endswith("*") else f"{conda.group(1)}=={version}.*"
        pin = parse_requirement(item, f"{label}:{number}")
        if pin is not None:
            pins.append(pin)
    return pins


# -- one folder, then upward -------------------------------------------------------------------


_KINDS = {
    "pyproject.toml": "pyproject", "setup.cfg": "setup.cfg", "setup.py": "setup.py", "Pipfile": "pipfile",
    "environment.yml": "environment", "environment.yaml": "environment",
}


def _dependency_files(folder: str, names: list[str]) -> list[tuple[str, str]]:
    """(path, kind) of the dependency files in ``folder``, in a fixed order."""
    found: list[tuple[str, str]] = []
    for name in names:  # one pass, no sort: a folder such as site-packages holds thousands
        kind = _KINDS.get(name)
        if kind is None and name.startswith("requirements") and name.endswith(".txt"):
            kind = "requirements"
        if kind is not None:
            found.append((os.path.join(folder, name), kind))
    found.sort()
    if "requirements" in names:
        sub = os.path.join(folder, "requirements")
        try:
            found += [(os.path.join(sub, n), "requirements") for n in sorted(os.listdir(sub)) if n.endswith(".txt")]
        except OSError:
            pass  # a file, or unreadable
    return found


def folder_pins(files: Iterable[tuple[str, str]]) -> list[Pin]:
    """The watched packages' pins in these (path, kind) dependency files."""
    pins: list[Pin] = []
    for path, kind in files:
        if kind == "requirements":
            parent = os.path.basename(os.path.dirname(path))
            label = os.path.basename(path) if parent != "requirements" else f"requirements/{os.path.basename(path)}"
            pins += requirements_file(path, label)
        elif kind == "pyproject":
            pins += pyproject(path)
        elif kind == "setup.cfg":
            pins += setup_cfg(path)
        elif kind == "setup.py":
            pins += setup_py(path)
        elif kind == "pipfile":
            pins += pipfile(path)
        else:
            pins += environment_yml(path)
    return pins


def _line(specs: list[str], lines: tuple[Lines, Lines]) -> str | None:
    """"2" / "3" when every version the combined specifiers admit is on one side; else None."""
    from packaging.specifiers import InvalidSpecifier, SpecifierSet

    try:
        combined = SpecifierSet(",".join(s for s in specs if s))
    except InvalidSpecifier:
        return None
    old = any(combined.contains(v, prereleases=True) for v in _versions(lines[0]))
    new = any(combined.contains(v, prereleases=True) for v in _versions(lines[1]))
    if old != new:
        return "2" if old else "3"
    return None


def verdict(pins: list[Pin], folder: str) -> PinVerdict | None:
    def shown(chosen: list[Pin]) -> tuple[Pin, ...]:
        return tuple(chosen)

    keras = [p for p in pins if p.package == KERAS and p.spec]
    if keras:
        side = _line([p.spec for p in keras], _KERAS_LINES)
        if side is not None:
            return PinVerdict(side, shown(keras), folder)
    tf_keras = [p for p in pins if p.package == TF_KERAS]
    if tf_keras:
        return PinVerdict("2", shown(tf_keras[:1]), folder)
    tensorflow = [p for p in pins if p.package in TENSORFLOW and p.spec]
    if tensorflow:
        side = _line([p.spec for p in tensorflow], _TF_LINES)
        if side is not None:
            return PinVerdict(side, shown(tensorflow), folder)
    return None


@lru_cache(maxsize=4096)
def _folder(folder: str) -> PinVerdict | None:
    """This folder's own verdict (once per folder and run)."""
    return verdict(folder_pins(listing(folder)[0]), folder)


@lru_cache(maxsize=4096)
def pinned(folder: str, stop: str | None = None) -> PinVerdict | None:
    """The verdict of the nearest folder, from ``folder`` upward, whose dependency files decide;
    the walk ends at ``stop`` (the project root), at a folder holding ``.git``, or at the top."""
    own = _folder(folder)
    if own is not None:
        return own
    is_repo_root = listing(folder)[1]
    parent = os.path.dirname(folder)
    if is_repo_root or folder == stop or parent == folder:
        return None
    return pinned(parent, stop)


_INCLUDE = re.compile(r"^\s*(?:-r|-c|--requirement|--constraint)[\s=]+(\S+)", re.MULTILINE)


def _hash_file(digest: Any, path: str, depth: int = 0) -> None:
    """Add a dependency file (and the files a requirements file includes) to ``digest``."""
    data = _read_bytes(path) or b""
    digest.update(path.encode("utf-8", "surrogateescape") + b"\0%d\0" % len(data) + data)
    if depth < 5 and path.endswith(".txt"):
        for include in _INCLUDE.findall(data.decode("utf-8", "replace")):
            _hash_file(digest, os.path.join(os.path.dirname(path), include), depth + 1)


@lru_cache(maxsize=4096)
def listing(folder: str) -> tuple[tuple[tuple[str, str], ...], bool]:
    """((path, kind) of the dependency files, whether the folder is a repository root)."""
    try:
        names = os.listdir(folder)
    except OSError:
        return (), False
    return tuple(_dependency_files(folder, names)), ".git" in names


@lru_cache(maxsize=4096)
def fingerprint(folder: str, stop: str | None = None) -> str:
    """A content hash of every dependency file :func:`pinned` may read for ``folder``: what the
    results cache keys on (hashing is far cheaper than reading the pins, which needs
    ``packaging`` and ``tomllib``; a file is rarely edited, and then the entries are rewritten)."""
    from losscheck.hashing import blake2b

    files, is_repo_root = listing(folder)
    digest = blake2b(digest_size=16)
    for path, _kind in files:
        _hash_file(digest, path)
    parent = os.path.dirname(folder)
    if not (is_repo_root or folder == stop or parent == folder):
        digest.update(b"\0parent\0" + fingerprint(parent, stop).encode())
    return digest.hexdigest()


def clear() -> None:
    """Forget what was read: once per run, so that a long-lived process sees edited files."""
    for cached in (_folder, pinned, listing, fingerprint):
        cached.cache_clear()
