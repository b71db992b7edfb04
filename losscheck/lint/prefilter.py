"""A cheap bytes pre-filter: a file that cannot hold what the selected rules look at is not parsed.

Parsing with libcst costs ~5 s per MB of source; these checks cost ~0.1 s for the whole Keras
tree (11 MB). Each rule is looked at through *triggers*: a file is parsed when at least one
trigger of at least one selected rule says yes. A rule's triggers must cover everything the
rule can report on (a miss here is a silent miss of the linter), so they follow the
loss-function finder (``finder.py``); a test checks that the names below cover the finder's.

Every check starts with a plain ``bytes.find``/``in`` (memchr speed) and runs a regex or a
little Python only on the files that contain the literal.

Where a rule gets its triggers:
1. its own ``triggers`` class attribute: a tuple of trigger names from ``CHECKS`` below and/or
   ``bytes`` regexes (plugins should set it); ``None`` means "always parse";
2. else the table of built-in rule codes below;
3. else, for a built-in rule, all the loss-code and model-code triggers; for a plugin rule,
   "always parse" (correct, only slower).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence

from losscheck.lint.api.keras_backend import KERAS3_BACKEND

# Names the finder accepts as y_true / y_pred (superset of finder._STRONG_TRUE/_STRONG_PRED).
STRONG_NAMES: frozenset[str] = frozenset(
    {
        "y_true", "ytrue", "y_t", "y_gt", "true_y", "y_target", "y_label", "y_labels",
        "y_pred", "ypred", "y_p", "y_hat", "yhat", "y_predicted", "pred_y", "y_preds", "y_prediction", "y_logits",
    }
)
# Weak pairs the finder accepts only as written (superset of finder._PAIRS).
WEAK_PAIRS: frozenset[tuple[str, str]] = frozenset(
    {
        ("labels", "logits"), ("label", "logits"), ("labels", "predictions"), ("labels", "preds"),
        ("labels", "pred"), ("label", "pred"), ("labels", "probs"),
        ("target", "output"), ("targets", "outputs"), ("target", "pred"), ("targets", "preds"),
        ("target", "prediction"), ("targets", "predictions"), ("target", "logits"), ("targets", "logits"),
        ("gt", "pred"), ("gt", "preds"), ("gt", "prediction"), ("true", "pred"), ("true", "preds"),
        ("y", "pred"), ("y", "logits"),
    }
)
_WORD = re.compile(rb"\w")
_STRONG_RE = re.compile(
    rb"(?:" + b"|".join(re.escape(n.encode()) for n in sorted(STRONG_NAMES, key=len, reverse=True)) + rb")\b"
)
# literal needles (first 3 bytes of each name): bytes.find is far faster than a regex scan
_STRONG_NEEDLES = tuple(sorted({n[:3].encode() for n in STRONG_NAMES}))
# (no leading \b: it defeats the regex engine's literal-prefix scan, 10x slower)
_DEF_PARAMS = re.compile(rb"def\s+\w+\s*\(([^)]*)")
_LAMBDA_PARAMS = re.compile(rb"lambda\b([^:\n]*):")
_PARAM_NAME = re.compile(r"\s*\**\s*(\w+)")
_IDENT = re.compile(rb"[A-Za-z_]\w*")
_DEF_NAME = re.compile(rb"def\s+(\w+)")


def _word_at(data: bytes, start: int, end: int) -> bool:
    before = data[start - 1 : start] if start else b""
    after = data[end : end + 1]
    return not (before and _WORD.match(before)) and not (after and _WORD.match(after))


def _has_word(data: bytes, word: bytes) -> bool:
    i = data.find(word)
    while i != -1:
        if _word_at(data, i, i + len(word)):
            return True
        i = data.find(word, i + 1)
    return False


def _strong_anywhere(data: bytes) -> bool:
    for needle in _STRONG_NEEDLES:
        i = data.find(needle)
        while i != -1:
            m = _STRONG_RE.match(data, i)
            if m and _word_at(data, m.start(), m.end()):
                return True
            i = data.find(needle, i + 1)
    return False


_DEF_OPEN = re.compile(rb"def\s+\w+\s*\(")
_LAMBDA_LINE = re.compile(rb"lambda\b[^\n]*")


def _closing(data: bytes, start: int, depth: int, limit: int = 4096) -> int:
    """Index of the bracket that closes the one open ``depth`` levels before ``start`` (scanning at
    most ``limit`` bytes; the scan's end when it is not found)."""
    j, end = start, min(len(data), start + limit)
    while j < end:
        c = data[j]
        if c in b"([{":
            depth += 1
        elif c in b")]}":
            depth -= 1
            if depth == 0:
                break
        j += 1
    return j


def _param_windows(data: bytes) -> Iterable[bytes]:
    """The text of every def's parameter list (bracket-balanced: annotations such as
    ``Float[Tensor, "b 2"]`` and defaults such as ``f(x)`` stay in, at most 4 KB) and the rest
    of the line after every ``lambda``."""
    for m in _DEF_OPEN.finditer(data):
        start = m.end()
        close = data.find(b")", start)
        if close != -1 and not any(c in data[start:close] for c in (b"(", b"[", b"{")):
            yield data[start:close]  # the common case: no brackets inside the list
            continue
        yield data[start : _closing(data, start, depth=1)]
    for m in _LAMBDA_LINE.finditer(data):
        yield m.group(0)


def _strong_param(data: bytes) -> bool:
    """A strong name in a def's or lambda's parameters: the finder takes a function as a loss
    by its first two parameters, so a file that only *uses* ``y_pred`` (a ``train_step``, a
    metric test) holds no signature loss."""
    if not _strong_anywhere(data):
        return False
    for window in _param_windows(data):
        if _strong_anywhere(window):
            return True
    return False


def loss_signature(data: bytes) -> bool:
    """A strong y_true/y_pred name in a def/lambda's parameters, or a weak pair as its first two."""
    if _strong_param(data):
        return True
    if b"def" not in data and b"lambda" not in data:
        return False
    for m in (*_DEF_PARAMS.finditer(data), *_LAMBDA_PARAMS.finditer(data)):
        raw = m.group(1).decode("latin-1")
        names = []
        for part in raw.split(","):
            pm = _PARAM_NAME.match(part)
            if pm and pm.group(1) not in ("self", "cls"):
                names.append(pm.group(1))
            if len(names) == 2:
                break
        if len(names) == 2 and tuple(names) in WEAK_PAIRS:
            return True
    return False


_CLASS_BASES = re.compile(rb"class\s+\w+\s*\(([^)]*)")
_LOSS_BASE_WORD = re.compile(rb"\bLoss(?:FunctionWrapper)?\b")
# ``Loss`` under another name: ``from keras.losses import Loss as Base``, ``Base = keras.losses.Loss``
_LOSS_ALIAS = re.compile(rb"\bLoss(?:FunctionWrapper)?\s+as\s+\w|=[ \t]*[\w. \t]*\bLoss(?:FunctionWrapper)?[ \t]*(?:#[^\n]*)?$", re.M)


def loss_class(data: bytes) -> bool:
    """A Loss subclass: a class whose bases name ``Loss``/``LossFunctionWrapper`` (the finder's
    subclasses of same-file Loss subclasses start from one), or ``Loss`` bound to another name."""
    if b"Loss" not in data or not (_has_word(data, b"Loss") or b"LossFunctionWrapper" in data):
        return False
    if b"class" in data:
        for m in _CLASS_BASES.finditer(data):
            if _LOSS_BASE_WORD.search(m.group(1)):
                return True
    return _LOSS_ALIAS.search(data) is not None


def _call_windows(data: bytes, names: Sequence[bytes]) -> Iterable[bytes]:
    """The argument text of ``.name(...)`` calls (bracket-balanced, at most 4 KB each)."""
    for name in names:
        start = data.find(b"." + name)
        while start != -1:
            i = start + len(name) + 1
            while i < len(data) and data[i : i + 1] in b" \t":
                i += 1
            if data[i : i + 1] == b"(" and not _WORD.match(data[start + len(name) + 1 : start + len(name) + 2] or b" "):
                yield data[i + 1 : _closing(data, i, depth=0)]
            start = data.find(b"." + name, start + 1)


_KWARG = re.compile(rb"\w+\s*=(?!=)")


def _assigned_from(data: bytes, name: bytes, defined: set[bytes]) -> bool:
    """Is ``name = <...a function the file defines...>`` or ``name = lambda ...`` somewhere in ``data``?"""
    i = data.find(name)
    while i != -1:
        end = i + len(name)
        if _word_at(data, i, end):
            rest = data[end : data.find(b"\n", end) if b"\n" in data[end:] else len(data)]
            stripped = rest.lstrip()
            if stripped.startswith(b"=") and not stripped.startswith(b"==") and (
                set(_IDENT.findall(stripped)) & defined or stripped[1:].lstrip().startswith(b"lambda")
            ):
                return True  # `fn = make_loss(3)` or `fn = lambda t, p: ...`
        i = data.find(name, end)
    return False


def compile_callable(data: bytes) -> bool:
    """``.compile(...)`` given a lambda or a name the file defines (a function, or a variable
    set from a call of one: a factory). String losses (``loss="mse"``) and Keras objects are not loss code."""
    if b"compile" not in data:
        return False
    windows = list(_call_windows(data, (b"compile",)))
    if not windows:
        return False
    defined = set(_DEF_NAME.findall(data))
    for w in windows:
        if b"lambda" in w:
            return True
        names = set(_IDENT.findall(_KWARG.sub(b"", w)))
        if names & defined:
            return True
        for name in names - defined:  # `fn = make_loss(3)` ... `compile(loss=fn)`
            if _assigned_from(data, name, defined):
                return True
    return False


_CONTAINER = rb"(?:[\[{(]|(?:dict|list|tuple)\s*\()"
_CONTAINER_ARG = re.compile(
    rb"(?:loss(?:_weights)?|y)\s*=\s*" + _CONTAINER  # loss=[...] / loss_weights={...} / y=(...)
    + rb"|^\s*[^,\[\]{}()=]+,\s*" + _CONTAINER  # the second positional argument is a container
)
_NAME_ARG = re.compile(rb"(?:loss(?:_weights)?|y)\s*=\s*([A-Za-z_]\w*)\s*[,)]?|^\s*[^,\[\]{}()=]+,\s*([A-Za-z_]\w*)\s*(?:[,)]|$)")
_CONTAINER_START = re.compile(rb"\s*=\s*" + _CONTAINER)
_MODEL_CALLS = (b"compile", b"fit", b"evaluate", b"train_on_batch", b"test_on_batch")


def _assigned_container(data: bytes, name: bytes) -> bool:
    """Is ``name = [...]`` / ``{...}`` / ``(...)`` / ``dict(...)`` somewhere in ``data``?"""
    i = data.find(name)
    while i != -1:
        end = i + len(name)
        if _word_at(data, i, end):
            m = _CONTAINER_START.match(data, end)
            if m and data[end : m.end()].count(b"=") == 1:
                return True
        i = data.find(name, end)
    return False


def model_multi(data: bytes) -> bool:
    """compile/fit/evaluate/train_on_batch given several losses, loss weights or targets: a list,
    tuple or dict written in the call, or a name assigned one somewhere in the file."""
    names = [n for n in _MODEL_CALLS if b"." + n in data]
    for window in _call_windows(data, names):
        if _CONTAINER_ARG.search(window):
            return True
        for m in _NAME_ARG.finditer(window):
            name = m.group(1) or m.group(2)
            if name and _assigned_container(data, name):
                return True
    return False


_KERAS_BACKEND = re.compile(
    rb"keras\s*\.\s*backend\b|from\s+keras\s+import\s*\(?[^)\n]*\bbackend\b|from\s+keras\s+import\s*\([^)]*\bbackend\b"
)


# What Keras 3's ``keras.backend`` still has: LCK302's own table (data only; the rules are not
# imported here: files the filter rejects never load them).
KERAS3_BACKEND_NAMES: frozenset[bytes] = frozenset(name.encode() for name in KERAS3_BACKEND)
# LCK302 needs a module import of ``keras``/``keras.*`` (``import keras``, ``from keras... import``).
_KERAS_IMPORT = re.compile(rb"\bimport\b[^\n]*\bkeras\b|\bfrom\s+keras\b")
_KERAS_ALIAS = re.compile(rb"\bimport\s+keras\s+as\s+(\w+)")
_BACKEND_ATTR = re.compile(rb"keras\s*\.\s*backend\s*\.\s*(\w+)")


def keras_backend(data: bytes) -> bool:
    """``keras.backend`` imported or used in a way LCK302 may report (Keras 3 removed most of its
    functions): an import of ``keras``, and ``keras.backend`` bound to a name (``from keras import
    backend``, ``import keras.backend as K``, ``K = keras.backend``), a ``from keras.backend import``,
    or ``keras.backend.NAME`` for a NAME Keras 3 lacks. ``keras.backend.floatx()`` alone is fine."""
    if b"backend" not in data or _KERAS_IMPORT.search(data) is None:
        return False
    for alias in _KERAS_ALIAS.findall(data):  # `import keras as k` ... `k.backend.mean(x)`
        if alias != b"keras" and re.search(rb"\b" + alias + rb"\s*\.\s*backend\b", data):
            return True
    for m in _KERAS_BACKEND.finditer(data):
        if not m.group(0).startswith(b"keras"):
            return True  # a `from keras import backend` form
        attr = _BACKEND_ATTR.match(data, m.start())
        if attr is None:
            return True  # `keras.backend` itself: bound to a name, imported from, passed around
        name = attr.group(1)
        if name not in KERAS3_BACKEND_NAMES and not name.startswith(b"_"):
            return True
    return False


_OUTPUT_COMMENT = re.compile(rb"losscheck:\s*output")
_DIRECTIVE = re.compile(rb"losscheck:\s*ignore|(?i:noqa)\s*:[^\n]*\bLCK[0-9]")


def output_comment(data: bytes) -> bool:
    return b"losscheck:" in data and _OUTPUT_COMMENT.search(data) is not None


def directives(data: bytes) -> bool:
    """A suppression naming one of our rules (LCK901 judges those)."""
    return (b"losscheck:" in data or b"LCK" in data) and _DIRECTIVE.search(data) is not None


CHECKS: dict[str, Callable[[bytes], bool]] = {
    "loss-signature": loss_signature,
    "loss-class": loss_class,
    "compile-callable": compile_callable,
    "output-comment": output_comment,
    "model-multi": model_multi,
    "keras-backend": keras_backend,
    "directives": directives,
}
LOSS_CODE = ("loss-signature", "loss-class", "compile-callable", "output-comment")
MODEL_CODE = ("model-multi",)

BUILTIN_TRIGGERS: dict[str, tuple[str, ...]] = {
    "LCK101": LOSS_CODE,
    "LCK102": LOSS_CODE,
    "LCK103": LOSS_CODE,
    "LCK104": LOSS_CODE,
    "LCK105": LOSS_CODE,
    "LCK201": LOSS_CODE,
    "LCK301": LOSS_CODE,
    "LCK302": LOSS_CODE + ("keras-backend",),
    "LCK303": LOSS_CODE,
    "LCK401": LOSS_CODE,
    "LCK501": MODEL_CODE,
    "LCK502": MODEL_CODE,
    "LCK901": ("directives",),
    "LCK902": LOSS_CODE,
}
_MISSING = object()


def triggers_for(rule: object) -> tuple[str | bytes, ...] | None:
    if hasattr(rule, "trigger_values"):  # a cached RuleInfo (see cache.py)
        return rule.trigger_values()  # type: ignore[attr-defined,no-any-return]
    own = getattr(rule, "triggers", _MISSING)
    if own is not _MISSING:
        return None if own is None else tuple(own)  # type: ignore[arg-type]
    code = getattr(rule, "code", "")
    if code in BUILTIN_TRIGGERS:
        return BUILTIN_TRIGGERS[code]
    if getattr(rule, "origin", "losscheck") == "losscheck":
        return LOSS_CODE + MODEL_CODE
    return None


class Prefilter:
    """The selected rules' triggers. ``select(data)`` names the rules worth running on a file
    (each check runs at most once per file); ``wants(data)``: is any?"""

    def __init__(self, rules: Sequence[object]) -> None:
        self.rules: list[tuple[str, list[tuple[str | bytes, Callable[[bytes], object]]] | None]] = []
        compiled: dict[str | bytes, Callable[[bytes], object]] = {}
        for rule in rules:
            trig = triggers_for(rule)
            code = getattr(rule, "code", "?")
            if trig is None:
                self.rules.append((code, None))
                continue
            checks = []
            for t in trig:
                if t not in compiled:
                    if isinstance(t, bytes):
                        compiled[t] = re.compile(t).search
                    elif t in CHECKS:
                        compiled[t] = CHECKS[t]
                    else:
                        raise ValueError(f"rule {code!r} names an unknown trigger {t!r}")
                checks.append((t, compiled[t]))
            self.rules.append((code, checks))

    def select(self, data: bytes) -> list[str]:
        memo: dict[str | bytes, bool] = {}

        def hit(key: str | bytes, fn: Callable[[bytes], object]) -> bool:
            if key not in memo:
                memo[key] = bool(fn(data))
            return memo[key]

        return [code for code, checks in self.rules if checks is None or any(hit(k, fn) for k, fn in checks)]

    def wants(self, data: bytes) -> bool:
        return bool(self.select(data))
