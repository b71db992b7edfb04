"""What the Keras-target tests share: a loss module that calls removed backend functions, a
repository around it, and a real lint run of it."""

from __future__ import annotations

import textwrap
from pathlib import Path

from losscheck.lint import config as cfg
from losscheck.lint import keras_pins, keras_target, runner

LOSS = textwrap.dedent(
    """\
    import keras
    import keras.backend as K

    def rmse(y_true, y_pred):
        return K.sqrt(K.mean(K.square(y_pred - y_true), axis=-1))
    """
)


def project(tmp_path: Path, files: dict[str, str], loss_at: str = "src/loss.py", source: str = LOSS) -> Path:
    """A repository (``.git``) holding ``files`` and a loss module; returns the module's path."""
    (tmp_path / ".git").mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    module = tmp_path / loss_at
    module.parent.mkdir(parents=True, exist_ok=True)
    module.write_text(source, encoding="utf-8")
    return module


def pinned(path: Path, **settings: object) -> keras_target.Target | None:
    options = {"setting": "auto", "pins": True, "stop": None, **settings}
    keras_pins.clear()
    return keras_target.pinned_target(str(path), options)


def lint(path: Path, *, isolated: bool = False, target: str | None = None, use_cache: bool = False) -> list[str]:
    """The LCK302 findings of a real run (settings, plan, runner), as 'line:column'."""
    settings = cfg.build_settings([str(path)], isolated=isolated,
                                  overrides={"target_keras": target, "cache_dir": str(path.parent / ".cache")})
    the_plan = runner.plan(settings, use_cache=use_cache)
    result = runner.run([str(path)], the_plan, use_cache=use_cache)
    return [f"{f.line}:{f.column}" for f in result.findings if f.code == "LCK302"]
