"""The `keras.applications` entry of LCK106's table, checked against the installed Keras 3's
source (read, not imported): every pretrained model keeps its classifier by default and ends
in a softmax unless `classifier_activation` says otherwise."""

from __future__ import annotations

import importlib.util
import pathlib

import libcst as cst
import pytest

from losscheck.lint.api.logits import APPLICATION_DEFAULT_ACTIVATION


def _application_builders() -> list[tuple[str, cst.FunctionDef]]:
    spec = importlib.util.find_spec("keras")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("keras is not installed")
    folder = pathlib.Path(next(iter(spec.submodule_search_locations))) / "src" / "applications"
    if not folder.is_dir():
        pytest.skip("the table is Keras 3's")
    found = []
    for path in sorted(folder.glob("*.py")):
        module = cst.parse_module(path.read_text(encoding="utf-8"))
        for statement in module.body:
            if type(statement) is cst.FunctionDef and statement.name.value[:1].isupper():
                names = {p.name.value for p in statement.params.params}
                if {"include_top", "classifier_activation"} <= names:
                    found.append((f"{path.stem}.{statement.name.value}", statement))
    return found


def _default(function: cst.FunctionDef, name: str) -> str | None:
    for param in function.params.params:
        if param.name.value == name and param.default is not None:
            return cst.Module(body=()).code_for_node(param.default)
    return None


def test_every_pretrained_classifier_ends_in_a_softmax_by_default() -> None:
    builders = _application_builders()
    assert len(builders) > 30  # ResNet, EfficientNet, MobileNet, ConvNeXt, ... families
    for name, function in builders:
        assert _default(function, "include_top") == "True", name
        assert _default(function, "classifier_activation") == f'"{APPLICATION_DEFAULT_ACTIVATION}"', name
