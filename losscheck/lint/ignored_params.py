"""Parameters a function accepts and never reads (``def dice(y_true, y_pred, axis=(1, 2))`` that
reduces over fixed axes): read by ``wrong-axis`` (``axis``) and ``probabilities-as-logits``
(``from_logits``). Callers who pass the argument believe it is honoured."""

from __future__ import annotations

from typing import Iterator

import libcst as cst

from losscheck.lint.astutil import walk


def ignored_parameters(fn: cst.FunctionDef | cst.Lambda, names: frozenset[str]) -> Iterator[cst.Param]:
    """The parameters of ``fn`` named in ``names`` that its body (nested functions included) never
    reads; nothing when the body could read them indirectly (``locals()``, ``vars()``, ``**kwargs``
    forwarded, ``exec``/``eval``)."""
    params = [p for p in (*fn.params.posonly_params, *fn.params.params, *fn.params.kwonly_params)
              if p.name.value in names]
    if not params:
        return
    body = fn.body
    read: set[str] = set()
    not_reads: set[int] = set()  # `f(axis=...)` keywords and `x.axis` attributes name no variable
    for node in walk(body, into_nested=True):
        if type(node) is cst.Arg and node.keyword is not None:
            not_reads.add(id(node.keyword))
        elif type(node) is cst.Attribute:
            not_reads.add(id(node.attr))
        elif type(node) is cst.Name and id(node) not in not_reads:
            read.add(node.value)
    if read & {"locals", "vars", "exec", "eval"}:
        return
    if type(fn.params.star_kwarg) is cst.Param and fn.params.star_kwarg.name.value in read:
        return
    if type(body) in (cst.IndentedBlock, cst.SimpleStatementSuite) and _is_stub(body):
        return  # `...`, `pass`, `raise NotImplementedError`: an interface (or a stub), not an implementation
    for param in params:
        if param.name.value not in read:
            yield param


def _is_stub(body: cst.IndentedBlock | cst.SimpleStatementSuite) -> bool:
    if type(body) is cst.SimpleStatementSuite:  # `def f(...): ...` on one line
        smalls = list(body.body)
        return len(smalls) == 1 and _is_stub_statement(smalls[0])
    statements = [s for s in body.body if not (type(s) is cst.SimpleStatementLine and len(s.body) == 1
                                              and type(s.body[0]) is cst.Expr
                                              and isinstance(s.body[0].value, (cst.SimpleString, cst.ConcatenatedString)))]
    if len(statements) != 1 or type(statements[0]) is not cst.SimpleStatementLine:
        return not statements
    return _is_stub_statement(statements[0].body[0])


def _is_stub_statement(small: cst.BaseSmallStatement) -> bool:
    return type(small) in (cst.Pass, cst.Raise) or (type(small) is cst.Expr and type(small.value) is cst.Ellipsis)
