"""Rewrite a Keras 2 backend call into its Keras 3 replacement, from the table's entry.

Two forms (see ``losscheck/lint/api/keras_backend.py``):

- a *rename* replaces the callee (``K.mean`` -> ``keras.ops.mean``), renames keywords whose name
  changed (``min_value=`` -> ``x_min=``) and appends the Keras 2 defaults keras.ops does not
  share (``axis=-1``);
- a *template* rewrites the call (``keras.ops.take({reference}, {indices}, axis=0)``). When each
  argument is used once, in the call's order, only the text around the arguments is replaced,
  so fixes inside an argument (a nested ``K.square``) apply in the same pass.

The callee is written in the file's own names (``keras_imports.py``: ``ops.mean`` after adding
``from keras import ops``, ``O.mean`` through an existing alias, ``keras.ops.mean`` when the file
imports ``keras``), and the fix carries the import it needs.

Arguments are never re-ordered or duplicated unless that is exact: an argument used twice must
be a plain name or attribute, and a call with ``*args``, unknown keywords or comments inside gets
no fix.
"""

from __future__ import annotations

import re
from itertools import pairwise

import libcst as cst
from libcst.metadata.position_provider import CodeRange

from losscheck.lint.api.keras_backend import BackendFunction
from losscheck.lint.context import FileContext
from losscheck.lint.facts import fact
from losscheck.lint.finding import Edit, Fix
from losscheck.lint.keras_imports import spelling

_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def bind(call: cst.Call, entry: BackendFunction) -> dict[str, cst.Arg] | None:
    """Keras 2 parameter name -> the argument passing it; None when the fix cannot handle the call."""
    names = entry.keras2_params()
    limit = entry.positional if entry.positional is not None else len(names)
    bound: dict[str, cst.Arg] = {}
    for index, arg in enumerate(call.args):
        if arg.star:
            return None
        if arg.keyword is None:
            if index >= limit:
                return None
            name = names[index]
        else:
            name = arg.keyword.value
            if name not in names:
                return None
        if name in bound:
            return None
        bound[name] = arg
    return bound


def build(ctx: FileContext, entry: BackendFunction, callee: cst.BaseExpression, call: cst.Call) -> Fix | None:
    if entry.fix is None:
        return None
    bound = bind(call, entry)
    if bound is None:
        return None
    # the Keras 2 defaults the call leaves out are written too (`dtype=keras.config.floatx()`)
    written_defaults = " ".join(value for param, value in entry.defaults if param not in bound)
    written = spelling(ctx).write(f"{entry.fix}\0{written_defaults}")
    if written is None:
        return None  # no free name for keras.ops or keras in this file
    text, imports = written
    entry = entry._replace(fix=text.split("\0")[0])
    if entry.is_template:
        edits = _template(ctx, entry, call, bound)
    else:
        edits = _rename(ctx, entry, callee, call, bound)
    if not edits:
        return None
    shown = entry.replacement if entry.is_template else entry.fix
    return Fix(tuple(edits) + imports, safe=entry.safe, description=f"replace with `{shown}`")


def _edit(where: CodeRange, content: str) -> Edit:
    return Edit(where.start.line, where.start.column, where.end.line, where.end.column, content)


def _rename(
    ctx: FileContext, entry: BackendFunction, callee: cst.BaseExpression, call: cst.Call, bound: dict[str, cst.Arg]
) -> list[Edit]:
    assert entry.fix is not None
    edits = [_edit(ctx.position(callee), entry.fix)]
    for name, arg in bound.items():
        if arg.keyword is not None and entry.keras3_name(name) != name:
            edits.append(_edit(ctx.position(arg.keyword), entry.keras3_name(name)))
    missing = [(entry.keras3_name(p), value) for p, value in entry.defaults if p not in bound]
    if missing:
        text = ", ".join(f"{name}={value}" for name, value in missing)
        if call.args:
            end = ctx.position(call.args[-1]).end  # after the last argument, before any trailing comma
            edits.append(Edit(end.line, end.column, end.line, end.column, ", " + text))
        else:
            end = ctx.position(call).end
            edits.append(Edit(end.line, end.column - 1, end.line, end.column - 1, text))
    return edits


def _atomic(node: cst.BaseExpression) -> bool:
    """Safe to write before ``.attr`` or inside an operator expression without parentheses."""
    return bool(getattr(node, "lpar", ())) or type(node) in (cst.Name, cst.Attribute, cst.Call, cst.Subscript)


def _whole_argument(template: str, match: re.Match[str]) -> bool:
    before = template[: match.start()].rstrip()
    after = template[match.end() :].lstrip()
    return before.endswith(("(", ",", "=")) and after.startswith((",", ")"))  # "=": a keyword's value


def _template(ctx: FileContext, entry: BackendFunction, call: cst.Call, bound: dict[str, cst.Arg]) -> list[Edit]:
    assert entry.fix is not None
    defaults = dict(entry.defaults)
    wanted = _PLACEHOLDER.findall(entry.fix)
    if any(name not in bound and name not in defaults for name in wanted) or any(n not in wanted for n in bound):
        return []  # a required argument is missing, or one the template cannot place
    # Keras 2 defaults the call leaves out are written as text.
    template = _PLACEHOLDER.sub(lambda m: m.group(0) if m.group(1) in bound else defaults[m.group(1)], entry.fix)
    matches = list(_PLACEHOLDER.finditer(template))
    order = [m.group(1) for m in matches]
    wrap = {name: any(not _whole_argument(template, m) for m in matches if m.group(1) == name) for name in bound}
    in_call_order = order == [_param_of(bound, a) for a in call.args]
    if order and in_call_order and not any(getattr(a.value, "lpar", ()) for a in call.args):
        return _around_arguments(ctx, call, [bound[n] for n in order], _PLACEHOLDER.split(template)[0::2],
                                 [wrap[n] for n in order])
    for name, arg in bound.items():
        if order.count(name) > 1 and type(arg.value) not in (cst.Name, cst.Attribute):
            return []  # computing an expression twice is not what the code did
    if "#" in ctx.code_for(call):
        return []  # a whole-call rewrite would drop the comment
    values = {}
    for name, arg in bound.items():
        code = ctx.code_for(arg.value)
        values[name] = f"({code})" if wrap[name] and not _atomic(arg.value) else code
    return [_edit(ctx.position(call), _PLACEHOLDER.sub(lambda m: values[m.group(1)], template))]


def _param_of(bound: dict[str, cst.Arg], arg: cst.Arg) -> str:
    return next(name for name, a in bound.items() if a is arg)


def _around_arguments(
    ctx: FileContext, call: cst.Call, args: list[cst.Arg], literals: list[str], wrap: list[bool]
) -> list[Edit]:
    """Replace only the text before, between and after the arguments' values."""
    where = ctx.position(call)
    spans = [ctx.position(a.value) for a in args]
    opens = ["(" if w and not _atomic(a.value) else "" for a, w in zip(args, wrap)]
    closes = [")" if o else "" for o in opens]
    gaps = [(where.start.line, where.start.column, spans[0].start.line, spans[0].start.column)]
    gaps += [(a.end.line, a.end.column, b.start.line, b.start.column) for a, b in pairwise(spans)]
    gaps.append((spans[-1].end.line, spans[-1].end.column, where.end.line, where.end.column))
    source_lines = source_lines_of(ctx)
    for line, column, end_line, end_column in gaps:
        if "#" in _text(source_lines, line, column, end_line, end_column):
            return []
    contents = [literals[0] + opens[0]]
    contents += [closes[i] + literals[i + 1] + opens[i + 1] for i in range(len(args) - 1)]
    contents.append(closes[-1] + literals[-1])
    return [Edit(*gap, content) for gap, content in zip(gaps, contents)]


@fact()
def source_lines_of(ctx: FileContext) -> list[str]:
    return ctx.source.splitlines(keepends=True)


def _text(lines: list[str], line: int, column: int, end_line: int, end_column: int) -> str:
    if line == end_line:
        return lines[line - 1][column:end_column] if line - 1 < len(lines) else ""
    parts = [lines[line - 1][column:]] + lines[line : end_line - 1] + [lines[end_line - 1][:end_column]]
    return "".join(parts)
