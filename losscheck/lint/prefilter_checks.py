"""The pre-filter's checks: bytes-level tests of whether a file can hold loss code (a loss
signature, a Loss subclass, a callable given to ``compile``, an output comment), a multi-output
model wiring, Keras 2 backend calls or suppression directives. ``CHECKS`` names them for the
rules' triggers (``prefilter.py``).

Each starts with a plain ``bytes.find``/``in`` (memchr speed) and runs a regex or a little Python
only on the files that contain the literal. The names follow the loss-function finder
(``finder.py``); a test checks that they cover the finder's.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence

from losscheck.lint.api.keras_backend import KERAS3_BACKEND
from losscheck.lint.api.loss_names import (
    NAMED_PAIRS,
    REVERSED_PAIRS,
    STRONG_PRED,
    STRONG_PRED_PREFIX,
    STRONG_TRUE,
    STRONG_TRUE_PREFIX,
)
from losscheck.lint.api.loss_names import WEAK_PAIRS as _FINDER_WEAK_PAIRS

# The names the finder accepts as y_true / y_pred, and its weak pairs (named pairs included).
STRONG_NAMES: frozenset[str] = STRONG_TRUE | STRONG_PRED
WEAK_PAIRS: frozenset[tuple[str, str]] = _FINDER_WEAK_PAIRS | NAMED_PAIRS | REVERSED_PAIRS
_WEAK_SECONDS = {second.encode() for _, second in WEAK_PAIRS}
# Substrings of which every weak pair's second name holds one ("pred" in "predictions").
_WEAK_SECOND_NEEDLES = tuple(sorted(n for n in _WEAK_SECONDS if not any(o != n and o in n for o in _WEAK_SECONDS)))
_WORD = re.compile(rb"\w")
# A strong name as a whole word, in two regexes that each start with a literal ("y", "_y"), so
# the regex engine skips to its occurrences at C speed; the look-behinds after the literal ask
# for a word boundary before the name (a leading \b would defeat the literal scan: 10x slower).
_STRONG_Y = re.compile(
    rb"y(?<!\wy)(?:"
    + b"|".join(re.escape(n[1:].encode()) for n in sorted(STRONG_NAMES, key=lambda n: (-len(n), n)) if n[0] == "y")
    + b"|" + re.escape(STRONG_TRUE_PREFIX[1:].encode()) + rb"\w+|" + re.escape(STRONG_PRED_PREFIX[1:].encode()) + rb"\w+"
    + rb")\b"
)
_STRONG_OTHER = [n.encode() for n in sorted(STRONG_NAMES) if n[0] != "y"]  # true_y, pred_y
if not all(n.endswith(b"_y") for n in _STRONG_OTHER):  # the regex below looks for "_y" first
    raise ImportError("every strong name must start with 'y' or end with '_y'")
_STRONG_Y_SUFFIX = re.compile(rb"_y\b(?:" + b"|".join(rb"(?<=(?<!\w)" + n + rb")" for n in _STRONG_OTHER) + rb")")
# (no leading \b: it defeats the regex engine's literal-prefix scan, 10x slower)
_DEF_PARAMS = re.compile(rb"def\s+\w+\s*\(([^)]*)")
_LAMBDA_PARAMS = re.compile(rb"lambda\b([^:\n]*):")
# The same parameter lists, only those that hold a weak pair's second name (most do not): the
# regex engine skips the others without a Python-level step per ``def``.
_SECOND = b"|".join(_WEAK_SECOND_NEEDLES)
_WEAK_DEF_PARAMS = re.compile(rb"def\s+\w+\s*\(([^)]*?(?:" + _SECOND + rb")[^)]*)")
_WEAK_LAMBDA_PARAMS = re.compile(rb"lambda\b([^:\n]*?(?:" + _SECOND + rb")[^:\n]*):")
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
    """A strong y_true/y_pred name anywhere in ``data``, as a whole word."""
    return _STRONG_Y.search(data) is not None or _STRONG_Y_SUFFIX.search(data) is not None


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
    for m in (*_WEAK_DEF_PARAMS.finditer(data), *_WEAK_LAMBDA_PARAMS.finditer(data)):
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


def _assignment_of(name: bytes, then: bytes = b"") -> re.Pattern[bytes]:
    """``name`` as a whole word, then blanks, one ``=`` (not ``==``) and ``then``. The name comes
    first, so the regex engine jumps from one occurrence to the next at C speed (``re`` keeps
    the compiled patterns)."""
    word = re.escape(name)
    return re.compile(word + rb"(?<!\w" + word + rb")[ \t\r\x0b\x0c]*=(?!=)" + then)


def _assigned_from(data: bytes, name: bytes, defined: set[bytes]) -> bool:
    """Is ``name = <...a function the file defines...>`` or ``name = lambda ...`` somewhere in ``data``?"""
    for m in _assignment_of(name).finditer(data):
        eol = data.find(b"\n", m.end())
        value = data[m.end() : eol if eol != -1 else len(data)]  # what follows the `=` on its line
        if set(_IDENT.findall(value)) & defined or value.lstrip().startswith(b"lambda"):
            return True  # `fn = make_loss(3)` or `fn = lambda t, p: ...`
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
_MODEL_CALLS = (b"compile", b"fit", b"evaluate", b"train_on_batch", b"test_on_batch")
_MODEL_CALL = re.compile(rb"\.(" + b"|".join(_MODEL_CALLS) + rb")")  # one scan instead of five


def _assigned_container(data: bytes, name: bytes) -> bool:
    """Is ``name = [...]`` / ``{...}`` / ``(...)`` / ``dict(...)`` somewhere in ``data``?"""
    word = re.escape(name)
    return re.search(word + rb"(?<!\w" + word + rb")\s*=\s*" + _CONTAINER, data) is not None


def model_multi(data: bytes) -> bool:
    """compile/fit/evaluate/train_on_batch given several losses, loss weights or targets: a list,
    tuple or dict written in the call, or a name assigned one somewhere in the file."""
    found = set(_MODEL_CALL.findall(data))
    names = [n for n in _MODEL_CALLS if n in found]
    for window in _call_windows(data, names):
        if _CONTAINER_ARG.search(window):
            return True
        for m in _NAME_ARG.finditer(window):
            name = m.group(1) or m.group(2)
            if name and _assigned_container(data, name):
                return True
    return False


# Two regexes, each starting with a literal ("keras", "from") that the regex engine finds at
# C speed; as one alternation they took 5x as long on the Keras tree.
_KERAS_DOT_BACKEND = re.compile(rb"keras\s*\.\s*backend\b")
_FROM_KERAS_BACKEND = re.compile(
    rb"from\s+keras\s+import\s*\(?[^)\n]*\bbackend\b|from\s+keras\s+import\s*\([^)]*\bbackend\b"
)


# What Keras 3's ``keras.backend`` still has: LCK302's own table (data only; the rules are not
# imported here: files the filter rejects never load them).
KERAS3_BACKEND_NAMES: frozenset[bytes] = frozenset(name.encode() for name in KERAS3_BACKEND)
# LCK302 needs a module import of ``keras``/``keras.*`` (``import keras``, ``from keras... import``).
_KERAS_IMPORT = re.compile(rb"\bimport\b[^\n]*\bkeras\b|\bfrom\s+keras\b")
_KERAS_ALIAS = re.compile(rb"import(?<!\wimport)\s+keras\s+as\s+(\w+)")  # \bimport, literal first
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
    if _FROM_KERAS_BACKEND.search(data):
        return True  # a `from keras import backend` form
    for m in _KERAS_DOT_BACKEND.finditer(data):
        if _in_prose(data, m.start()):
            continue
        attr = _BACKEND_ATTR.match(data, m.start())
        if attr is None:
            return True  # `keras.backend` itself: bound to a name, imported from, passed around
        name = attr.group(1)
        if name not in KERAS3_BACKEND_NAMES and not name.startswith(b"_"):
            return True
    return False


_PROSE_LINE = re.compile(rb"[ \t]*(?:#|>>>)")


def _in_prose(data: bytes, at: int) -> bool:
    """The text at ``at`` cannot be code: right after a backtick (Markdown in a docstring; a
    backtick is no Python), or on a line that starts as a comment or a doctest prompt."""
    if at > 0 and data[at - 1 : at] == b"`":
        return True
    return _PROSE_LINE.match(data, data.rfind(b"\n", 0, at) + 1) is not None


_OUTPUT_COMMENT = re.compile(rb"losscheck:\s*output")
_DIRECTIVE = re.compile(rb"losscheck:\s*ignore|(?i:noqa)\s*:[^\n]*\bLCK[0-9]")


def output_comment(data: bytes) -> bool:
    return b"losscheck:" in data and _OUTPUT_COMMENT.search(data) is not None


def directives(data: bytes) -> bool:
    """A suppression naming one of our rules (LCK901 judges those)."""
    return (b"losscheck:" in data or b"LCK" in data) and _DIRECTIVE.search(data) is not None


LOSS_CODE = ("loss-signature", "loss-class", "compile-callable", "output-comment")
MODEL_CODE = ("model-multi",)


def loss_code(data: bytes) -> bool:
    """Any of the loss-code checks (``"loss-code"``, the default check of a plugin rule)."""
    return any(CHECKS[name](data) for name in LOSS_CODE)


# A training step: a `GradientTape`, `x.gradient(`, `optimizer.minimize(` (not `scipy.optimize.minimize(`).
_STEPS = (re.compile(rb"GradientTape"), re.compile(rb"\.gradient\s*\("), re.compile(rb"(?<!optimize)\.minimize\s*\("))
_BRACKET = re.compile(rb"[()\[\]{}]")
_NUMPY_CALL = re.compile(rb"\b(?:np|numpy)\s*\.\s*\w+\s*\(")
_TENSOR_MODULE_ALIAS = re.compile(rb"^[ \t]*import[ \t]+(?:tensorflow|keras|tf_keras)[\w.]*[ \t]+as[ \t]+(\w+)", re.M)
_TENSOR_FROM_IMPORT = re.compile(rb"^[ \t]*from[ \t]+(?:tensorflow|keras|tf_keras)[\w.]*[ \t]+import[ \t]*\(?([^)\n]*)", re.M)
_CONVENTIONAL = (b"tf", b"tensorflow", b"K", b"keras", b"ops", b"backend")
# How far (in lines) from a training step's `gradient()`/`minimize()` numpy-in-loss looks for NumPy
# in the differentiated value (a training step computes its loss next to where it differentiates
# it); the pre-filter looks a little further, from any of the step's words, so it never parses less.
STEP_LINES = 60
_PREFILTER_STEP_LINES = STEP_LINES + 20


def training_step_numpy(data: bytes) -> bool:
    """A training step (a ``GradientTape``, ``optimizer.minimize(...)``) in a file that applies
    NumPy to a TensorFlow or Keras call near it (``np.abs(tf.sqrt(x) - ...)``): numpy-in-loss
    checks the differentiated value there (``differentiated.py``). Test files that use NumPy on
    their own arrays beside a tape are not parsed for it. Only the lines around each step are
    read."""
    if (b"np" not in data and b"numpy" not in data) or (b"GradientTape" not in data and b"minimize" not in data):
        return False
    tensor: re.Pattern[bytes] | None = None
    # one literal-led pattern at a time: the regex engine scans for a literal fast, an alternation slowly
    for pattern in _STEPS:
        for step in pattern.finditer(data):
            low, high = _lines_around(data, step.start(), _PREFILTER_STEP_LINES)
            for match in _NUMPY_CALL.finditer(data, low, high):
                tensor = tensor or _tensor_reference(data)
                if tensor.search(_call_text(data, match.end())):
                    return True
    return False


def _lines_around(data: bytes, at: int, lines: int) -> tuple[int, int]:
    low = high = at
    for _ in range(lines):
        low = data.rfind(b"\n", 0, low)
        if low < 0:
            low = 0
            break
    for _ in range(lines + 1):
        high = data.find(b"\n", high + 1)
        if high < 0:
            high = len(data)
            break
    return low, high


def _tensor_reference(data: bytes) -> re.Pattern[bytes]:
    """A use of TensorFlow or Keras in this file: a module alias with an attribute (``tf.``,
    ``K.``, an ``import tensorflow as T``), or a name imported from one, called."""
    names = sorted(set(_CONVENTIONAL) | set(_TENSOR_MODULE_ALIAS.findall(data)))
    called = [n.split()[-1] for part in _TENSOR_FROM_IMPORT.findall(data) for n in part.split(b",") if n.strip()]
    return re.compile(rb"\b(?:" + b"|".join(re.escape(n) for n in names) + rb")\s*\."
                      + (rb"|\b(?:" + b"|".join(re.escape(n) for n in called) + rb")\s*\(" if called else b""))


def _call_text(data: bytes, start: int, limit: int = 2000) -> bytes:
    """The arguments of the call whose ``(`` ends just before ``start``: up to the ``)`` that
    closes it (bounded)."""
    depth = 1
    for bracket in _BRACKET.finditer(data, start, min(len(data), start + limit)):
        depth += 1 if bracket.group() in b"([{" else -1
        if depth == 0:
            return data[start : bracket.start()]
    return data[start : start + limit]


CHECKS: dict[str, Callable[[bytes], bool]] = {
    "loss-signature": loss_signature,
    "loss-class": loss_class,
    "compile-callable": compile_callable,
    "output-comment": output_comment,
    "model-multi": model_multi,
    "keras-backend": keras_backend,
    "directives": directives,
    "loss-code": loss_code,
    "training-step-numpy": training_step_numpy,
}
# Names that stand for several checks: the pre-filter runs the parts, so that rules naming the
# group and rules naming a part share one run of each check per file.
GROUPS: dict[str, tuple[str, ...]] = {"loss-code": LOSS_CODE}
