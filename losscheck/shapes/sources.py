"""Where the shapes of ``y_true`` and ``y_pred`` come from.

1. The output layout (``losscheck lint --layout layout.json``): a function bound to an output
   (``compile(loss={"seg": fn})``, a ``# losscheck: output=seg`` comment, or the config's
   ``[tool.losscheck.outputs]`` mapping) gets that output's shapes: ``(B, *spatial, C)``
   channels last, ``(B, C, *spatial)`` channels first, where ``C`` sums the tasks' units
   (``y_true`` counts a sparse categorical task as 1 channel).
2. Shape comments people already write: ``# y_true shape: (batch_size, height, width, 2)``,
   ``y_pred: tensor of shape (B, 4)`` in the docstring, ``y_true.shape == (B, 1)``, in the
   function body, its docstring, or the comment lines just above the ``def``.
3. jaxtyping-style annotations: ``y_pred: Float[Tensor, "b h w 2"]``.

The first source that declares a parameter wins in the order annotation, comment, layout
(the most local statement of intent first). A declaration that cannot be read exactly
(``(B, H*W)``, variadic ``*batch`` or ``...``) gives no shape rather than a guessed one:
unknown parts become ``?`` and an unknown rank gives nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import libcst as cst

from losscheck.lint.astutil import docstring, simple_string_value
from losscheck.lint.facts import fact
from losscheck.shapes.domain import ANY, BATCH, Dim, Shape, Sym

if TYPE_CHECKING:
    from losscheck.lint.context import FileContext, LossFunction

BATCH_WORDS = frozenset({"b", "B", "batch", "batch_size", "batchsize", "bs", "n_batch", "nbatch", "batch_sz"})

JAXTYPING_DTYPES = frozenset(
    {
        "Float", "Float16", "Float32", "Float64", "BFloat16", "Int", "Int8", "Int16", "Int32", "Int64",
        "UInt", "UInt8", "UInt16", "UInt32", "UInt64", "Bool", "Shaped", "Num", "Real", "Integer",
        "Inexact", "Complex", "Complex64", "Complex128", "Key",
    }
)

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class Declared:
    """A shape the user declared, and where."""

    shape: Shape
    where: str  # "comment on line 3", "annotation", "layout output 'seg'"


@dataclass(frozen=True)
class ChannelInfo:
    """Where each task's channels sit in one parameter of an output (for slice checks)."""

    output: str
    axis: int  # the channel axis as a non-negative index into the shape
    ranges: tuple[tuple[str, int, int], ...]  # (task, start, stop)

    @property
    def boundaries(self) -> frozenset[int]:
        return frozenset([r[1] for r in self.ranges] + [r[2] for r in self.ranges])

    def describe(self) -> str:
        return ", ".join(f"{name} {start}:{stop}" for name, start, stop in self.ranges)


@dataclass
class Sources:
    """The declared shapes and channel layout of a loss's parameters."""

    shapes: dict[str, Declared] = field(default_factory=dict)  # param name -> declaration
    channels: dict[str, ChannelInfo] = field(default_factory=dict)  # "y_true"/"y_pred" -> info


# -- dims text ----------------------------------------------------------------------------------


def parse_dims(text: str, *, separator: str = ",") -> Shape | None:
    """``"batch_size, height, width, 2"`` -> (B, height, width, 2); None if the rank is unknown."""
    body = text.strip()
    if separator == ",":
        tokens = [t.strip() for t in body.split(",")]
        if tokens and tokens[-1] == "":
            tokens = tokens[:-1]  # "(B,)"
    else:
        tokens = body.split()
    if any(t == "" for t in tokens):
        return None
    dims: list[Dim] = []
    for axis, token in enumerate(tokens):
        if token in ("...",) or token.startswith("*"):
            return None  # variadic: the rank is unknown
        if token.isdigit():
            dims.append(int(token))
        elif token in BATCH_WORDS or (axis == 0 and (token == "None" or _IDENT.match(token))):
            dims.append(BATCH)  # axis 0 of y_true/y_pred is the batch, whatever it is called
        elif token in ("None", "?", "_") or token.startswith("#"):
            dims.append(ANY)
        elif _IDENT.match(token) and token not in ("True", "False"):
            dims.append(Sym(token))
        else:
            dims.append(ANY)  # an expression ("H*W", "n+1"): its size is not known
    return Shape(tuple(dims))


def _comment_pattern(name: str) -> re.Pattern[str]:
    # NAME[.| 's][:] [up to 4 words] shape [of|is|=|==|:]* ( dims )
    return re.compile(
        rf"(?<![\w.]){re.escape(name)}(?:\.|'s)?[ \t]*(?::[ \t]*)?(?:[\w\-]+[ \t]+){{0,4}}?shape[ \t]*"
        r"(?:(?:of|is|=|==|:)[ \t]*){0,2}[\(\[]([^()\[\]\n]*)[\)\]]"
    )


def shapes_in_text(text: str, names: Iterable[str]) -> dict[str, Shape | None]:
    """Declarations of ``names`` in free text (one comment or docstring). None: declared but unreadable."""
    found: dict[str, Shape | None] = {}
    for name in names:
        for match in _comment_pattern(name).finditer(text):
            prefix = text[match.start() : match.start(1)]
            # "y_true and y_pred shape: (...)": the words in between name another parameter
            if any(other != name and re.search(rf"\b{re.escape(other)}\b", prefix) for other in names):
                continue
            shape = parse_dims(match.group(1))
            if name in found and found[name] != shape:
                found[name] = None  # two different declarations: trust neither
            else:
                found.setdefault(name, shape)
    return found


# -- comments, docstrings, annotations ---------------------------------------------------------


def _texts_for(ctx: FileContext, fn_node: cst.FunctionDef | cst.Lambda, above: Iterable[str]) -> list[str]:
    """Comments and docstring of the function, plus the comment block above it.

    Comments are read from the function's source text (the part of each line after ``#``)
    instead of a libcst visitor, which would rebuild every node of the body: declarations
    only matter when the text says "shape" at all, which most functions do not.
    """
    texts = list(above)
    if type(fn_node) is cst.FunctionDef:
        doc = docstring(fn_node)
        if doc and "shape" in doc:
            texts.append(doc)
        if not _has_shape_comment(ctx):
            return texts  # no comment in the file says "shape": skip regenerating the code
        code = ctx.module.code_for_node(fn_node)
        if "shape" not in code:
            return texts
        for line in code.splitlines():
            if "#" in line:
                texts.append(line[line.index("#") :])
    return texts


_SHAPE_COMMENT = re.compile(r"#[^\n]*shape")


@fact()
def _has_shape_comment(ctx: FileContext) -> bool:
    """Whether any line of the file has "shape" after a ``#`` (a superset of the comments that
    do: a ``#`` in a string counts too). One regex over the source, once per file, instead of
    regenerating the code of every loss function (libcst codegen is the costly part)."""
    return bool(_SHAPE_COMMENT.search(ctx.source))


def _comment_block(lines: Iterable[cst.EmptyLine]) -> list[str]:
    """The comments of the contiguous run of comment lines at the end of ``lines``."""
    out: list[str] = []
    for line in reversed(list(lines)):
        if line.comment is None:
            break
        out.append(line.comment.value)
    return list(reversed(out))


def _comments_above(ctx: FileContext, fn_node: cst.CSTNode) -> list[str]:
    """The block of ``#`` comment lines right above the function (or its decorators).

    Read from the syntax tree (``leading_lines``), not from positions: resolving positions
    costs a pass over the whole file.
    """
    if type(fn_node) is not cst.FunctionDef:
        return []
    found = _comment_block(fn_node.leading_lines)
    body = ctx.module.body
    if not fn_node.leading_lines and body and body[0] is fn_node:
        found = _comment_block(ctx.module.header)  # libcst keeps a file's first comments there
    return found


def jaxtyping_shape(annotation: cst.BaseExpression) -> Shape | None | bool:
    """``Float[Tensor, "b h w 2"]`` -> (B, h, w, 2); False when it is not a jaxtyping annotation."""
    if type(annotation) is not cst.Subscript or len(annotation.slice) != 2:
        return False
    head = annotation.value
    name = head.attr.value if type(head) is cst.Attribute else head.value if type(head) is cst.Name else None
    if name not in JAXTYPING_DTYPES:
        return False
    dims_node = annotation.slice[1].slice
    if type(dims_node) is not cst.Index or type(dims_node.value) is not cst.SimpleString:
        return None
    text = simple_string_value(dims_node.value)
    if not isinstance(text, str):
        return None
    if any("=" in tok for tok in text.split()):
        return None
    return parse_dims(text, separator=" ")


def _annotations(fn_node: cst.FunctionDef | cst.Lambda) -> dict[str, Shape | None]:
    out: dict[str, Shape | None] = {}
    params = fn_node.params
    for param in list(params.posonly_params) + list(params.params) + list(params.kwonly_params):
        if param.annotation is None:
            continue
        shape = jaxtyping_shape(param.annotation.annotation)
        if shape is not False:
            out[param.name.value] = shape  # type: ignore[assignment]
    return out


# -- the layout ---------------------------------------------------------------------------------


@lru_cache(maxsize=8)
def load_layout(path: str) -> Any:
    """Load and validate a layout file (raises ``UserError`` naming the file and place)."""
    from losscheck.layout.load import load
    from losscheck.layout.validate import validate

    return validate(load(path))


def _layout(ctx: FileContext) -> Any:
    layout = ctx.options.get("layout")
    if layout is not None and not isinstance(layout, (str, bytes)):
        return layout
    path = ctx.options.get("layout_path") or layout
    return load_layout(str(path)) if path else None


def output_shapes(output: Any) -> dict[str, tuple[Shape, ChannelInfo]]:
    """``{"y_true": (shape, channels), "y_pred": (...)}`` for one layout output."""
    spatial: list[Dim] = [
        d if isinstance(d, int) else Sym(f"{output.name}_s{i + 1}") for i, d in enumerate(output.spatial)
    ]
    result = {}
    for param, units_of in (
        ("y_pred", lambda t: t.units),
        ("y_true", lambda t: 1 if t.type == "categorical" and t.targets == "sparse" else t.units),
    ):
        ranges, start = [], 0
        for task in output.tasks:
            n = units_of(task)
            ranges.append((task.name, start, start + n))
            start += n
        if output.channel_axis == 1:
            shape = Shape((BATCH, start, *spatial))
            axis = 1
        else:
            shape = Shape((BATCH, *spatial, start))
            axis = len(spatial) + 1
        result[param] = (shape, ChannelInfo(output.name, axis, tuple(ranges)))
    return result


def _bound_outputs(ctx: FileContext, fn: LossFunction) -> tuple[str, ...]:
    names = tuple(fn.outputs)
    mapping = ctx.options.get("outputs") or {}
    if isinstance(mapping, Mapping):
        extra = mapping.get(fn.name)
        if isinstance(extra, str):
            names += (extra,)
        elif isinstance(extra, (list, tuple)):
            names += tuple(str(x) for x in extra)
    return tuple(dict.fromkeys(names))


# -- putting it together ------------------------------------------------------------------------


def find_sources(ctx: FileContext, fn: LossFunction) -> Sources:
    params = {p: role for p, role in ((fn.y_true, "y_true"), (fn.y_pred, "y_pred")) if p}
    sources = Sources()
    if not params:
        return sources
    # 3. annotations
    annotations = _annotations(fn.node)
    for param in params:
        if param in annotations:
            shape = annotations[param]
            if shape is not None:
                sources.shapes[param] = Declared(shape, "annotation")
            else:
                sources.shapes.pop(param, None)
    # 2. comments and docstrings
    undeclared = [p for p in params if p not in annotations]
    if undeclared:
        merged: dict[str, Shape | None] = {}
        for text in _texts_for(ctx, fn.node, _comments_above(ctx, fn.node)):
            for name, shape in shapes_in_text(text, list(params)).items():
                if name not in undeclared:
                    continue
                if name in merged and merged[name] != shape:
                    merged[name] = None
                else:
                    merged.setdefault(name, shape)
        for name, shape in merged.items():
            if shape is not None:
                sources.shapes[name] = Declared(shape, "comment")
        undeclared = [p for p in undeclared if p not in merged]
    # 1. the layout
    bound = _bound_outputs(ctx, fn)
    if bound:
        layout = _layout(ctx)
        if layout is not None:
            by_name = {o.name: o for o in layout.outputs}
            found = [output_shapes(by_name[name]) for name in bound if name in by_name]
            # one function bound to several outputs: only what they all agree on
            if found and len(found) == len(bound) and all(f == found[0] for f in found):
                info = found[0]
                for param, role in params.items():
                    shape, channels = info[role]
                    if param in undeclared:
                        sources.shapes[param] = Declared(shape, f"layout output '{bound[0]}'")
                    if sources.shapes.get(param, Declared(shape, "")).shape == shape:
                        sources.channels[role] = channels
    return sources
