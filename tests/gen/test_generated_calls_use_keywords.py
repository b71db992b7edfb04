"""Generated modules pass every constant to their helpers by keyword: a call to an `_lc_*`
function or class gives only tensors and other computed values positionally, never a number,
a flag, a name or a tuple of them (`_lc_check(y_true, y_pred, output="seg", rank=4, ...)`,
not `_lc_check(y_true, y_pred, "seg", 4, 2, 5, 1)`). Checked on the whole module, the copied
helpers included, for every example layout and random layouts, with and without the
Additions, in every framework that generates them."""

from __future__ import annotations

import ast
import importlib.util
import json

import gen_helpers as H
from hypothesis import HealthCheck, given, settings

from losscheck.cli import main
from losscheck.layout.additions import ADDITIONS_FRAMEWORKS

FRAMEWORKS = ["keras", "tf.keras", *(["torch"] if importlib.util.find_spec("losscheck_torch") else [])]


def _constant(node: ast.expr) -> bool:
    """A literal number, flag or string, a negated one, or a tuple or list of them."""
    if isinstance(node, ast.Constant):
        return node.value is not None and not isinstance(node.value, bytes)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        return _constant(node.operand)
    if isinstance(node, (ast.Tuple, ast.List)):
        return bool(node.elts) and all(_constant(e) for e in node.elts)
    return False


def positional_constants(source: str) -> tuple[int, list[str]]:
    """(how many helper calls the module makes, those that pass a constant positionally)."""
    calls, bad = 0, []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id.startswith("_lc"):
            calls += 1
            if any(_constant(arg) for arg in node.args):
                bad.append(f"line {node.lineno}: {ast.unparse(node)}")
    return calls, bad


def _module(layout_path, framework: str) -> str:
    out = layout_path.parent / f"{layout_path.stem}_{framework.replace('.', '_')}_calls.py"
    assert main(["gen", str(layout_path), "--framework", framework, "-o", str(out), "-q", "--force"]) == 0
    return out.read_text(encoding="utf-8")


def test_example_modules_pass_constants_by_keyword(tmp_path):
    checked = 0
    for path in H.EXAMPLE_LAYOUTS:
        copy = tmp_path / path.name
        copy.write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
        additions = H.uses_additions(json.loads(path.read_text(encoding="utf-8")))
        for framework in FRAMEWORKS:
            if additions and framework not in ADDITIONS_FRAMEWORKS:
                continue  # a plugin's framework refuses the Additions
            calls, bad = positional_constants(_module(copy, framework))
            assert calls > 0, (path.name, framework)
            assert bad == [], (path.name, framework, bad)
            checked += 1
    assert checked >= len(H.EXAMPLE_LAYOUTS)


def test_the_check_can_fail():
    source = "_lc_check(y_true, y_pred, 'seg', 4, 2, 5, 1)\nloss = _lc_huber(y, p, delta=1.0)\n"
    calls, bad = positional_constants(source)
    assert calls == 2 and bad == ["line 1: _lc_check(y_true, y_pred, 'seg', 4, 2, 5, 1)"]
    assert positional_constants("x = _lc_bce_elements(truth, pred, False)\n")[1]
    assert positional_constants("x = _lc_take(y, (-1, 2))\n")[1]
    assert not positional_constants("x = _lc_masked_mean(loss * 2.0, mask, axes=(1, 2))\n")[1]


@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
@given(layout=H.layouts())
def test_random_layouts_pass_constants_by_keyword(tmp_path_factory, layout):
    path = H.write_layout(layout, tmp_path_factory.mktemp("calls"))
    for framework in FRAMEWORKS:
        assert positional_constants(_module(path, framework))[1] == [], framework


@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
@given(layout=H.layouts_with_additions())
def test_random_layouts_with_additions_pass_constants_by_keyword(tmp_path_factory, layout):
    path = H.write_layout(layout, tmp_path_factory.mktemp("calls_additions"))
    for framework in ADDITIONS_FRAMEWORKS:
        assert positional_constants(_module(path, framework))[1] == [], framework
