"""Which Keras a file is written for: "2" (standalone Keras 2, tf.keras, tf-keras) or "3".

Decided per file, first match wins:

1. ``target-keras = "2" | "3"`` (config or ``--target-keras``);
2. the project's dependency pins, from the file's folder upward (``keras_pins.py``); not under
   ``--isolated``, which reads no project file;
3. the file's imports: a module that only Keras 2 has (``keras.engine``, ``keras.layers.merge``,
   ``keras.utils.np_utils``...), ``tf_keras``, or the string ``TF_USE_LEGACY_KERAS``;
4. the rest of the project (``keras_project.py``): Keras 3 when any file uses what only Keras 3
   has, else Keras 2 when any file uses what only Keras 2 has (``fit_generator``, ``Adam(lr=...)``,
   ``tf.Session``...), else Keras 2 when the repository's last commit predates Keras 3
   (``keras_history.py``); not under ``--isolated`` either;
5. else Keras 3 (what ``keras`` installs today).

The runner gives rules ``options["keras_target"]`` (:func:`options_for`); code that calls the
engine directly gives none, and only the file's imports decide. The part that is not in the
file's bytes (the config, the pins and the project's verdict) is part of the results cache key
(:func:`cache_salt`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import TYPE_CHECKING, Any, NamedTuple

from losscheck.lint.facts import fact

if TYPE_CHECKING:
    import libcst as cst

    from losscheck.lint.config import Settings
    from losscheck.lint.context import FileContext

CHOICES = ("auto", "2", "3")

# Modules that Keras 2 (standalone 2.x, 2.13+'s keras.src, or tf-keras) has and Keras 3 does not
# (the keras.* ones checked against the installed Keras 3 by the test suite). `keras.wrappers`, `keras.legacy` and
# `keras.optimizers.legacy` exist in Keras 3 too, so only their Keras 2-only submodules count.
KERAS2_ONLY_MODULES: tuple[str, ...] = (
    "keras.engine", "keras.src.engine", "keras.layers.merge", "keras.layers.core", "keras.layers.convolutional",
    "keras.layers.convolutional_recurrent", "keras.layers.recurrent", "keras.layers.cudnn_recurrent",
    "keras.layers.advanced_activations", "keras.layers.normalization", "keras.layers.embeddings",
    "keras.layers.pooling", "keras.layers.wrappers", "keras.layers.noise", "keras.layers.local",
    "keras.layers.experimental", "keras.utils.np_utils", "keras.utils.generic_utils", "keras.utils.vis_utils",
    "keras.utils.data_utils", "keras.utils.conv_utils", "keras.utils.layer_utils", "keras.utils.io_utils",
    "keras.utils.multi_gpu_utils", "keras.utils.training_utils", "keras.wrappers.scikit_learn",
    "keras.legacy.layers", "keras.legacy.interfaces", "keras.backend.tensorflow_backend",
    "keras.backend.theano_backend", "keras.backend.cntk_backend", "keras.backend.common",
    "keras.backend.load_backend", "keras.objectives", "keras.preprocessing.text", "keras.saving.hdf5_format",
    "keras.callbacks.tensorboard_v1", "keras.optimizers.optimizer_v2", "keras.premade", "keras.estimator",
    "keras.dtensor", "tf_keras",
    # Keras 2's code as TensorFlow still ships it (privately): its layers and backend are Keras 2's
    "tensorflow.python.keras",
    # Keras 3 runs on TensorFlow, JAX or PyTorch: a Theano or CNTK import is Keras 2.3 or older
    "theano", "cntk",
    # TensorFlow Addons ended with TensorFlow 2.15, the last release whose tf.keras is Keras 2
    "tensorflow_addons",
)
LEGACY_FLAG = "TF_USE_LEGACY_KERAS"


class Target(NamedTuple):  # not a dataclass: the runner imports this module on every run
    keras: str  # "2" | "3"
    source: str  # "config" | "pins" | "imports" | "project" | "default"
    reason: str


DEFAULT = Target("3", "default", "nothing decides: Keras 3 is assumed")


def options_for(settings: Settings) -> dict[str, Any]:
    """What the runner hands rules as ``options["keras_target"]`` (once per run: the pins read by an
    earlier run in this process are forgotten, they may have been edited since)."""
    _absolute.cache_clear()  # the working directory may have changed
    from losscheck.lint.project import forget_reads

    forget_reads()
    return {
        "setting": settings.target_keras,
        "pins": settings.read_pins,
        # the walk up for pins stops at the config's folder (else at a repository root)
        "stop": settings.root if settings.config_path else None,
    }


def configured(options: Mapping[str, Any] | None) -> Target | None:
    setting = (options or {}).get("setting", "auto")
    if setting in ("2", "3"):
        return Target(setting, "config", f'target-keras = "{setting}"')
    return None


def pinned_target(path: str, options: Mapping[str, Any] | None) -> Target | None:
    """The target the config or the dependency pins give ``path`` (None: they do not decide)."""
    if not options:
        return None
    decided = configured(options)
    if decided is not None or not options.get("pins", True):
        return decided
    from losscheck.lint import keras_pins

    stop = options.get("stop")
    found = keras_pins.pinned(_folder_of(path), os.path.abspath(stop) if stop else None)
    if found is None:
        return None
    return Target(found.keras, "pins", found.reason(os.path.relpath(found.path)))


def project_target(path: str, options: Mapping[str, Any] | None) -> Target | None:
    """The target the rest of the project gives ``path`` (None: it does not decide, or project
    files are not read)."""
    if not options or not options.get("pins", True):
        return None
    from losscheck.lint import keras_project

    stop = options.get("stop")
    found = keras_project.evidence(_folder_of(path), os.path.abspath(stop) if stop else None)
    if found is None or found.keras is None:
        return None
    return Target(found.keras, "project", found.reason())


# The rules that read the target: a file's cache key holds what decides its target only for them.
READERS = frozenset({"LCK302"})


def cache_salt(path: str, codes: Iterable[str], options: Mapping[str, Any] | None, data: bytes = b"keras") -> str:
    """What, beyond the file's bytes and the settings, decides its findings' target: the
    dependency files the pins are read from (by content). Empty when no rule reading the target
    runs on the file, when the config decides, or when the file never names Keras (the rule then
    reports nothing whatever the target)."""
    settings = (options or {}).get("keras_target")
    if not settings or b"keras" not in data or READERS.isdisjoint(codes):
        return ""
    if configured(settings) or not settings.get("pins", True):
        return ""
    from losscheck.lint import keras_pins

    stop = settings.get("stop")
    salt = "keras-pins=" + keras_pins.fingerprint(_folder_of(path), os.path.abspath(stop) if stop else None)
    from losscheck.lint.prefilter_checks import keras_backend

    if keras_backend(data):  # only then can the rest of the project change what LCK302 reports
        project = project_target(path, settings)
        salt += ";keras-project=" + (project.keras if project else "-")
    return salt


@lru_cache(maxsize=4096)
def _absolute(folder: str) -> str:
    return os.path.abspath(folder)


def _folder_of(path: str) -> str:
    return _absolute(os.path.dirname(path))  # once per folder: abspath normalises, which costs


# -- the file's imports ---------------------------------------------------------------------------


def _keras2_module(module: str) -> bool:
    return any(module == m or module.startswith(m + ".") for m in KERAS2_ONLY_MODULES)


def import_evidence(nodes: Iterable[cst.CSTNode]) -> str | None:
    """What in the file says Keras 2 (``"keras.engine.topology (Keras 2 only)"``), or None."""
    import libcst as cst

    from losscheck.lint.imports import dotted_name

    for node in nodes:
        if type(node) is cst.Import:
            for alias in node.names:
                name = dotted_name(alias.name) or ""
                if _keras2_module(name):
                    return f"{name} (Keras 2 only)"
        elif type(node) is cst.ImportFrom:
            if node.relative or node.module is None:
                continue
            base = dotted_name(node.module) or ""
            if _keras2_module(base):
                return f"{base} (Keras 2 only)"
            if type(node.names) is cst.ImportStar:
                continue
            for alias in node.names:
                name = f"{base}.{dotted_name(alias.name)}"
                if _keras2_module(name):
                    return f"{name} (Keras 2 only)"
        elif type(node) is cst.SimpleString and LEGACY_FLAG in node.value:
            return f"{LEGACY_FLAG} (legacy tf.keras)"
    return None


@fact()
def for_file(ctx: FileContext) -> Target:
    """The file's target: its config and pins, else its imports."""
    from losscheck.lint.astutil import all_nodes

    options = ctx.options.get("keras_target")
    return pinned_target(ctx.path, options) or _from_imports(all_nodes(ctx), ctx.path, options)


def _from_imports(nodes: Iterable[cst.CSTNode], path: str, options: Mapping[str, Any] | None) -> Target:
    evidence = import_evidence(nodes)
    if evidence:
        return Target("2", "imports", evidence)
    return project_target(path, options) or DEFAULT


# -- `losscheck config --show-targets` ------------------------------------------------------------


def describe(paths: Iterable[str], settings: Settings, *, where: str) -> list[dict[str, str]]:
    """Every Python file under ``paths`` (as ``losscheck lint`` walks them) with its target and
    why. ``where`` names the setting's origin (the config file or ``--target-keras``)."""
    from losscheck.lint.discover import discover
    from losscheck.lint.runner import display_path

    found = discover(
        list(paths),
        exclude=[*settings.exclude, *settings.extend_exclude],
        root=settings.root,
        respect_gitignore=settings.respect_gitignore,
        force_exclude=settings.force_exclude,
    )
    if found.missing:
        from losscheck.errors import UserError

        raise UserError("no such file or directory", found.missing[0])
    options = options_for(settings)
    rows = []
    for path in found.files:
        target = pinned_target(path, options) or _file_imports(path, options)
        reason = f"{target.reason} ({where})" if target.source == "config" else target.reason
        rows.append({"path": display_path(path), "target": target.keras, "source": target.source, "reason": reason})
    return rows


def _file_imports(path: str, options: Mapping[str, Any] | None) -> Target:
    import libcst as cst

    from losscheck.lint.astutil import walk
    from losscheck.lint.discover import is_notebook
    from losscheck.lint.decoding import decode

    unreadable = Target(DEFAULT.keras, "default", "the file could not be read or parsed: Keras 3 is assumed")
    try:
        with open(path, "rb") as fh:
            data = fh.read()
        if is_notebook(path):  # its cells' code, as the linter sees it
            from losscheck.lint.notebook import prepare

            prepared = prepare(data, path)
            if not isinstance(prepared, tuple):
                return unreadable
            data = prepared[0]
        module = cst.parse_module(decode(data))
    except (OSError, ValueError, cst.ParserSyntaxError, RecursionError):
        return unreadable
    return _from_imports(walk(module, into_nested=True), path, options)


def show(paths: Iterable[str], settings: Settings, fmt: str, *, cli: str | None) -> str:
    """``losscheck config --show-targets``: one line (or JSON object) per file."""
    where = "--target-keras" if cli else (settings.config_path or "the config")
    rows = describe(paths, settings, where=where)
    if fmt == "json":
        import json

        return json.dumps(rows, indent=2) + "\n"
    width = max((len(r["path"]) for r in rows), default=0)
    return "".join(f"{r['path']:<{width}}  Keras {r['target']}  ({r['source']}: {r['reason']})\n" for r in rows)
