"""Loss modules built as libcst trees (valid Python by construction) feed the linter.

Text-built programs (``loss_programs.py``) often fail to parse and then only exercise the
syntax-error path; these are syntax trees, rendered with ``Module.code``, so every example goes
through the finder, the scope index and every rule. Two properties:

- whatever the tree, the linter returns findings inside the file and no internal error, and the
  same findings twice;
- for a loss that returns a reduction of an element-wise expression of ``y_true``/``y_pred``,
  ``batch-mean-reduction`` reports exactly when the reduction includes the batch axis (no axis,
  ``axis=0``, or a list holding 0): the rule agrees with an oracle that knows where the batch is,
  whichever library, alias, parameter names and intermediate variables the loss uses.
"""

from __future__ import annotations

from dataclasses import dataclass

import libcst as cst
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from losscheck.lint.engine import lint_source
from losscheck.lint.registry import load_registry
from losscheck.lint.rules.lck101_batch_mean_reduction import BatchMeanReduction

RULES = [r for r in load_registry(plugins=False).rules if r.default_enabled]
INTERNAL_ERROR = "LCK997"

# (import statement, how a reduction is spelled through it)
LIBRARIES = [
    ("import tensorflow as tf", ("tf", "reduce_mean")),
    ("import tensorflow as tf", ("tf", "reduce_sum")),
    ("import tensorflow as tf", ("tf", "math", "reduce_mean")),
    ("import keras", ("keras", "ops", "mean")),
    ("from keras import ops", ("ops", "sum")),
    ("import keras.backend as K", ("K", "mean")),
    ("from tensorflow.keras import backend as K", ("K", "sum")),
]
ELEMENTWISE = [("tf", "square"), ("tf", "abs"), ("tf", "math", "log1p")]
PARAMS = [("y_true", "y_pred"), ("labels", "logits"), ("y_true", "y_hat"), ("gt", "pred")]
# axis keyword: None = no axis argument
AXES: list[int | tuple[int, ...] | None] = [None, 0, -1, 1, (1, 2), (0, 1), (-1,)]


def dotted(parts: tuple[str, ...]) -> cst.BaseExpression:
    node: cst.BaseExpression = cst.Name(parts[0])
    for part in parts[1:]:
        node = cst.Attribute(value=node, attr=cst.Name(part))
    return node


def axis_node(axis: int | tuple[int, ...]) -> cst.BaseExpression:
    def number(value: int) -> cst.BaseExpression:
        if value < 0:
            return cst.UnaryOperation(operator=cst.Minus(), expression=cst.Integer(str(-value)))
        return cst.Integer(str(value))

    if isinstance(axis, int):
        return number(axis)
    return cst.List([cst.Element(number(a)) for a in axis])


@st.composite
def elementwise(draw, truth: str, pred: str, depth: int = 0) -> cst.BaseExpression:
    """An expression with one value per position: arithmetic and element-wise ops of the inputs."""
    leaves = [cst.Name(truth), cst.Name(pred), cst.Float("0.5")]
    if depth >= 2:
        return draw(st.sampled_from(leaves))
    kind = draw(st.integers(0, 3))
    if kind == 0:
        return draw(st.sampled_from(leaves))
    if kind == 1:
        op = draw(st.sampled_from([cst.Subtract(), cst.Add(), cst.Multiply()]))
        return cst.BinaryOperation(left=draw(elementwise(truth, pred, depth + 1)), operator=op,
                                   right=draw(elementwise(truth, pred, depth + 1)))
    func = dotted(draw(st.sampled_from(ELEMENTWISE)))
    return cst.Call(func=func, args=[cst.Arg(draw(elementwise(truth, pred, depth + 1)))])


@dataclass(frozen=True)
class Program:
    code: str
    reduces_batch: bool  # the oracle: the returned value has lost the batch axis


def _statement(node: cst.BaseSmallStatement) -> cst.SimpleStatementLine:
    return cst.SimpleStatementLine([node])


@st.composite
def reduction_losses(draw) -> Program:
    import_line, reducer = draw(st.sampled_from(LIBRARIES))
    truth, pred = draw(st.sampled_from(PARAMS))
    axis = draw(st.sampled_from(AXES))
    # at least one input in it: an expression of constants alone has no batch axis to lose
    body_expr = cst.BinaryOperation(left=draw(elementwise(truth, pred)), operator=cst.Multiply(),
                                    right=cst.BinaryOperation(left=cst.Name(pred), operator=cst.Subtract(),
                                                              right=cst.Name(truth)))
    args = [cst.Arg(body_expr)]
    if axis is not None:
        args.append(cst.Arg(keyword=cst.Name("axis"), value=axis_node(axis),
                            equal=cst.AssignEqual(cst.SimpleWhitespace(""), cst.SimpleWhitespace(""))))
    reduction = cst.Call(func=dotted(reducer), args=args)
    body: list[cst.BaseStatement] = []
    through_variable = draw(st.booleans())
    if through_variable:  # `loss = reduce(...)`, then `return loss`
        body.append(_statement(cst.Assign([cst.AssignTarget(cst.Name("loss"))], reduction)))
        body.append(_statement(cst.Return(cst.Name("loss"))))
    else:
        body.append(_statement(cst.Return(reduction)))
    function = cst.FunctionDef(
        name=cst.Name(draw(st.sampled_from(["loss", "seg_loss", "custom_loss"]))),
        params=cst.Parameters([cst.Param(cst.Name(truth)), cst.Param(cst.Name(pred))]),
        body=cst.IndentedBlock(body),
    )
    imports = [cst.parse_statement(import_line)]
    if import_line != "import tensorflow as tf":
        imports.append(cst.parse_statement("import tensorflow as tf"))  # the element-wise ops
    module = cst.Module(body=[*imports, function])
    reduces_batch = axis is None or (axis == 0) or (isinstance(axis, tuple) and 0 in axis)
    return Program(module.code, reduces_batch)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(reduction_losses())
def test_batch_mean_reduction_agrees_with_the_batch_axis_oracle(program: Program) -> None:
    assert cst.parse_module(program.code).code == program.code
    findings = [f for f in lint_source(program.code, "loss.py", rules=[BatchMeanReduction])
                if f.code == BatchMeanReduction.code]
    assert bool(findings) == program.reduces_batch, (
        f"expected {'a finding' if program.reduces_batch else 'none'}:\n{program.code}\n{findings}")


@st.composite
def any_loss_module(draw) -> str:
    """Several reduction losses and helpers in one module, with a compile() that binds one."""
    programs = draw(st.lists(reduction_losses(), min_size=1, max_size=4))
    body: list[cst.BaseStatement] = []
    for i, program in enumerate(programs):
        for statement in cst.parse_module(program.code).body:
            if isinstance(statement, cst.FunctionDef):
                statement = statement.with_changes(name=cst.Name(f"{statement.name.value}_{i}"))
            body.append(statement)
    if draw(st.booleans()):
        body.append(cst.parse_statement(f"model.compile(loss={{'out': loss_0}}, metrics=[seg_loss_{len(programs) - 1}])"))
    return cst.Module(body=body).code


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(any_loss_module())
def test_every_rule_runs_cleanly_and_deterministically(source: str) -> None:
    first = lint_source(source, "losses.py", rules=RULES)
    assert [f for f in first if f.code == INTERNAL_ERROR] == []
    lines = source.count("\n") + 1
    assert all(1 <= f.line <= f.end_line <= lines for f in first)
    assert lint_source(source, "losses.py", rules=RULES) == first
