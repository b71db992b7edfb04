"""Which functions that look like losses by their signature Keras surely does not call:
evaluation code (``rmse(y_test, model.predict(x))``, NumPy on arrays) beside the model code.

The finder accepts a function by its parameters alone (``(y_true, y_pred)``), which evaluation
code shares with loss code. Once every source has been read (a function passed to ``compile()``
is never dropped), this drops those in a file that imports NumPy, scikit-learn, SciPy, pandas or
PyTorch and no tensor library, those whose body calls NumPy only (unless named like a loss), and
those that only code which is not loss code calls; a function that only training steps call is
kept as a custom loop's loss (origin "loop"), and so is one whose every call gives its value to
``add_loss``. A file with no imports at all (a snippet) stays checked. Kept apart from ``finder.py``, which collects candidates from the syntax, because these
are judgements about a candidate's file, body and callers, made once the collecting is done.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import libcst as cst

from losscheck.lint.astutil import own_nodes
from losscheck.lint.imports import ImportMap, is_numpy
from losscheck.lint.loss_roles import is_training_step
from losscheck.lint.syntax_index import SyntaxIndex

if TYPE_CHECKING:
    from losscheck.lint.finder import FoundFunction


def name_says_loss(name: str) -> bool:
    """``def loss``, ``focal_loss``, ``objective``: named for a loss, so meant as one."""
    name = name.lower()
    return "loss" in name or "objective" in name


def drop_evaluation_code(found: dict[cst.CSTNode, FoundFunction], imports: ImportMap, index: SyntaxIndex) -> None:
    """Drop functions found only by their signature when Keras surely does not call them:

    - the file imports NumPy, scikit-learn, pandas, SciPy or PyTorch but no TensorFlow/Keras/JAX:
      `def rmse(y_true, y_pred)` there is evaluation code (or PyTorch, which has its own
      plugin), where `np.mean` and `y_true[0]` are right. A file with no imports at all (a
      snippet) is still checked;
    - the function is called directly, and only from code that is not itself loss code
      (`rmse(y_test, model.predict(x))`). When every caller is a training step (a function
      that runs a `GradientTape`, `gradient()`, `minimize()` or `apply_gradients()`), it is
      kept as a custom loop's loss (origin "loop"): loss code for every rule but batch-mean
      reduction (a scalar is what `tape.gradient` wants) and the per-output checks (the loop
      passes what it likes).
    """
    heads = {target.split(".")[0] for target in imports.names.values()}
    tensor_file = bool(heads & {"tensorflow", "keras", "tf_keras", "jax"}) or bool(imports.star_modules)
    array_file = bool(heads & {"numpy", "sklearn", "scipy", "pandas", "torch"})
    candidates = [f for f in found.values() if f.origin == "signature" and not f.uses]
    if array_file and not tensor_file:
        for f in candidates:
            del found[f.node]
        return
    for f in candidates:
        # named for a loss (`def loss`, `focal_loss`): meant as one, NumPy or not
        if not name_says_loss(f.name) and _numpy_only(f.node, imports, index):
            del found[f.node]
    for f in candidates:
        if f.node in found and _only_added_as_loss(f, index):
            f.origin = "loop"  # `self.add_loss(self.custom_loss(y_true, y_pred))`: one value is what it wants
    called_from: dict[str, list[cst.CSTNode | None]] = {}
    for name, scope in index.direct_calls:
        called_from.setdefault(name, []).append(scope)
    changed = True
    while changed:
        changed = False
        for f in candidates:
            if f.node not in found or type(f.node) is not cst.FunctionDef or f.class_node is not None:
                continue
            scopes = [scope for scope in called_from.get(f.node.name.value, ()) if _sees(index, scope, f.node)]
            if scopes and not any(scope is not None and scope in found for scope in scopes):
                if f.origin != "loop" and all(is_training_step(scope) for scope in scopes):
                    f.origin = "loop"  # a custom training loop's loss: still loss code
                elif f.origin != "loop":
                    del found[f.node]
                    changed = True


def _sees(index: SyntaxIndex, scope: cst.CSTNode | None, fn: cst.FunctionDef) -> bool:
    """Can a bare-name call in ``scope`` (a function, a lambda, None for module level) reach
    ``fn``? A def nested in a function is seen only from that function and what it nests:
    `loss(x)` at module level calls some other `loss` (a star import's), not the one inside
    `def seg_loss`. A lambda's enclosing function is not recorded: it may see anything."""
    where = index.where.get(fn)
    owner = where[1] if where is not None else None
    if owner is None or type(scope) is cst.Lambda:
        return True
    while scope is not None:
        if scope is owner:
            return True
        outer = index.where.get(scope)  # type: ignore[arg-type]
        scope = outer[1] if outer is not None else None
    return False


def _only_added_as_loss(f: FoundFunction, index: SyntaxIndex) -> bool:
    """Every call of ``f`` (``name(...)``, or ``self.name(...)`` for a method) is the argument of
    an ``add_loss(...)``: the model adds the value to its loss itself, and one value for the
    batch is what ``add_loss`` takes."""
    if type(f.node) is not cst.FunctionDef:
        return False
    name = f.node.name.value
    if f.class_node is None:
        added = sum(1 for v in index.added_losses
                    if type(v) is cst.Call and type(v.func) is cst.Name and v.func.value == name)
        calls = sum(1 for called, _scope in index.direct_calls if called == name)
    else:
        added = sum(1 for v in index.added_losses
                    if type(v) is cst.Call and type(v.func) is cst.Attribute and type(v.func.value) is cst.Name
                    and v.func.value.value == "self" and v.func.attr.value == name)
        calls = index.self_calls.get(name, 0)
    return added > 0 and added == calls


def _numpy_only(node: cst.FunctionDef | cst.Lambda, imports: ImportMap, index: SyntaxIndex) -> bool:
    """The body calls NumPy and nothing from a tensor library, no local function and no
    ``.numpy()``: `def rmse(y_true, y_pred): return np.sqrt(np.mean(...))` beside Keras code
    is an evaluation metric run on `model.predict` arrays. Used by ``compile()`` in this
    file, it is still reported (it is not a candidate then)."""
    saw_numpy = False
    for sub in own_nodes(node):
        if type(sub) is not cst.Call:
            continue
        func = sub.func
        if type(func) is cst.Attribute and func.attr.value == "numpy" and not sub.args:
            return False  # `.numpy()` is only ever called on a tensor
        qualname = imports.qualname(func)
        if qualname is None:
            if type(func) is cst.Name and func.value in index.by_name:
                return False  # a local helper: may be tensor code
            continue
        if is_numpy(qualname):
            saw_numpy = True
        elif qualname.split(".")[0] in {"tensorflow", "keras", "tf_keras", "jax", "torch"}:
            return False
    return saw_numpy
