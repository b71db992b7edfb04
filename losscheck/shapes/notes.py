"""What the shape interpreter reports for one loss function: every expression's value, the
problems it is sure of (:class:`Note`, for the ``shape-mismatch`` rule), the gaps where it lost a
known shape (for ``inference-gap``) and the values returned."""

from __future__ import annotations

from dataclasses import dataclass, field

import libcst as cst

from losscheck.shapes.values import Value


@dataclass(frozen=True)
class Note:
    """A shape problem or inference gap at a node."""

    node: cst.CSTNode
    message: str
    # "error": the op certainly fails at run time with these shapes;
    # "silent": it runs but computes something else than meant (broadcast, cut-short slice).
    kind: str = "error"


@dataclass
class Result:
    """What shape inference found in one function: values, problems, gaps and returns."""

    values: dict[cst.CSTNode, Value] = field(default_factory=dict)
    problems: list[Note] = field(default_factory=list)
    gaps: list[Note] = field(default_factory=list)
    returns: list[tuple[cst.CSTNode, Value]] = field(default_factory=list)
