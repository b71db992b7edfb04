"""What the rest of a project says about its Keras, when neither the config, the pins nor the
file's own imports decide.

Real Keras 2 projects rarely pin a version, and the file that holds a loss often imports nothing
but ``keras.backend``. Their other files give them away: ``model.fit_generator(...)``,
``Adam(lr=...)``, ``tf.Session()``, ``from keras.layers.core import Dense``. None of these runs on
Keras 3, so a project that uses them is written for Keras 2. A project that also uses something
only Keras 3 has (``keras.ops``, ``keras.config``, ``keras_core``) is being moved to Keras 3, and
Keras 3 is what its code must run on.

The project and its files are ``project.py``'s. The scan reads them as bytes (nothing is parsed
or run), once per project and process, and only for files whose findings depend on the target.
Backend calls (``K.mean``...) are not evidence: they are what removed-keras-api judges.

When the code says nothing, a repository whose last commit predates Keras 3 is Keras 2 code
(``keras_history.py``).
"""

from __future__ import annotations

import os
import re
from functools import lru_cache
from typing import NamedTuple

from losscheck.lint import project
from losscheck.lint.keras_target import KERAS2_ONLY_MODULES

_MODULES = b"|".join(re.escape(m.encode()) for m in KERAS2_ONLY_MODULES)
# Each alternative is a named group, so that the evidence can say what it found.
_KERAS2 = re.compile(
    rb"(?P<module>(?:^|\")[ \t]*(?:from|import)[ \t]+(?:" + _MODULES + rb")\b)"  # `"`: a notebook's line
    rb"|(?P<generator>\.(?:fit|predict|evaluate)_generator[ \t]*\()"
    rb"|(?P<tf1>\btf\.(?:Session|placeholder|InteractiveSession)[ \t]*\(|\btf\.contrib\.)"
    rb"|(?P<lr>\b(?:Adam|SGD|RMSprop|Adagrad|Adadelta|Adamax|Nadam)[ \t]*\((?:[^()]*?,)?\s*lr[ \t]*=)"
    rb"|(?P<keras1>\bnb_epoch[ \t]*=|\bborder_mode[ \t]*=)",
    re.MULTILINE,
)
_KERAS3 = re.compile(
    rb"\bkeras_core\b|\bimport[ \t]+keras\.ops\b|\bkeras\.(?:ops|config)\.\w"
    rb"|(?:^|\")[ \t]*from[ \t]+keras[ \t]+import[^\n\"]*\b(?:ops|config)\b",
    re.MULTILINE,
)
# A file holds Keras 2 evidence only if it holds one of these (a cheap test before the pattern).
_KERAS2_WORDS = (b"keras", b"tensorflow", b"_generator", b"nb_epoch", b"border_mode", b"theano", b"cntk")
_WHAT = {
    "module": "an import of a module that only Keras 2 has",
    "generator": "a `*_generator` training method (removed in Keras 3)",
    "tf1": "a TensorFlow 1 API",
    "lr": "an optimizer's `lr=` argument (Keras 3 accepts only `learning_rate`)",
    "keras1": "a Keras 1 argument name",
}


class ProjectEvidence(NamedTuple):
    root: str
    keras2: str | None  # what says Keras 2, and where
    keras3: str | None  # what says Keras 3, and where
    history: str | None = None  # the repository's history, when it predates Keras 3 (keras_history.py)

    @property
    def keras(self) -> str | None:
        """"3" when anything says Keras 3 (the code must run there), else "2" when anything says
        Keras 2 or the history predates Keras 3, else None."""
        if self.keras3:
            return "3"
        return "2" if self.keras2 or self.history else None

    def reason(self) -> str:
        if self.keras3 or self.keras2:
            return (self.keras3 or self.keras2 or "") + f" (in the project at {os.path.relpath(self.root)})"
        return f"{self.history} (the project at {os.path.relpath(self.root)})"


@lru_cache(maxsize=256)
def evidence(folder: str, stop: str | None = None) -> ProjectEvidence | None:
    """The evidence of the project holding ``folder`` (None: no project): its code first, then,
    when the code says nothing, its history."""
    root = project.project_root(folder, stop)
    if root is None:
        return None
    found = scan(root)
    if found.keras is None:
        from losscheck.lint.keras_history import history

        past = history(root)
        if past is not None and past.before_keras3:
            return found._replace(history=past.reason())
    return found


@lru_cache(maxsize=64)
def scan(root: str) -> ProjectEvidence:
    keras2: str | None = None
    total = 0
    for path in project.sources(root):
        if total >= project.MAX_TOTAL_BYTES:
            break
        data = project.read(path)
        if data is None:
            continue
        total += len(data)
        if b"keras" in data:
            found = _in_code(_KERAS3, data, notebook=path.endswith(".ipynb"))
            if found is not None:
                return ProjectEvidence(root, keras2, _where(root, path, data, found.start(), "Keras 3 only API"))
        if keras2 is None and any(word in data for word in _KERAS2_WORDS):
            found = _in_code(_KERAS2, data, notebook=path.endswith(".ipynb"))
            if found is not None:
                keras2 = _where(root, path, data, found.start(), _WHAT[found.lastgroup or "module"])
    return ProjectEvidence(root, keras2, None)


def _in_code(pattern: re.Pattern[bytes], data: bytes, *, notebook: bool) -> re.Match[bytes] | None:
    """The first match that counts:

    - not in a comment (a ``#`` earlier on its line; a ``#`` inside a string is taken for a
      comment too, which only loses evidence). In a notebook's JSON a line ends with ``\\n``;
    - a TensorFlow 1 call only in a file that names TensorFlow or Keras (a PyTorch file's
      docstring may say "as in tf.contrib.seq2seq");
    - ``lr=`` only in a file that names Keras and not torch (PyTorch's optimizers take ``lr``).
    """
    keras = b"keras" in data
    for found in pattern.finditer(data):
        if found.lastgroup == "tf1" and not (keras or b"tensorflow" in data):
            continue
        if found.lastgroup == "lr" and not (keras and b"torch" not in data):
            continue
        start = found.start()
        line_start = data.rfind(b"\n", 0, start)
        if notebook:
            line_start = max(line_start, data.rfind(b"\\n", 0, start), data.rfind(b'"', 0, start))
        if b"#" not in data[line_start + 1 : start]:
            return found
    return None


def _where(root: str, path: str, data: bytes, offset: int, what: str) -> str:
    line = data.count(b"\n", 0, offset) + 1
    return f"{what} at {os.path.relpath(path, root)}:{line}"


def clear() -> None:
    """Forget what was read: once per run, so that a long-lived process sees edited files."""
    from losscheck.lint import keras_history

    evidence.cache_clear()
    scan.cache_clear()
    keras_history.clear()
    project.clear()
