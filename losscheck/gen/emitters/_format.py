"""Generated lines in the form ``ruff format`` keeps: at most 88 columns, double quotes.

A line that is too long is split at the call that ends it, one argument per line with a
trailing comma (a "magic" trailing comma: formatters keep such a call exploded), and so on
inside the arguments that are still too long. Only the emitters' own shapes of statement
reach this (assignments, returns and list items ending in a call), so a few rules suffice.
"""

from __future__ import annotations

import ast
import textwrap

WIDTH = 88


def q(name: str) -> str:
    """A validated name (identifier, ``output.task`` key, package) as a double-quoted literal."""
    return '"' + name + '"'


def _ending_call(source: str) -> ast.Call | None:
    """The outermost call that ends ``source`` (a statement or an expression)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    best: ast.Call | None = None
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and node.end_lineno == 1 and node.end_col_offset == len(source):
            if best is None or node.col_offset < best.col_offset:
                best = node
    return best


def wrap_line(line: str, width: int = WIDTH) -> list[str]:
    """``line`` as it is when it fits, else split at its ending call (see the module docstring)."""
    if len(line) <= width:
        return [line]
    indent = line[: len(line) - len(line.lstrip())]
    source = line.strip()
    tail = ""
    if source.endswith(","):  # a list item or an argument: the comma is not part of the expression
        source, tail = source[:-1], ","
    call = _ending_call(source)
    if call is None or not (call.args or call.keywords):
        return [line]
    segment = ast.get_source_segment
    arguments = [segment(source, a) or "" for a in call.args]
    arguments += [f"{k.arg}={segment(source, k.value)}" for k in call.keywords if k.arg is not None]
    head = source[: call.func.end_col_offset] + "("  # type: ignore[operator]
    lines = [indent + head]
    for argument in arguments:
        lines += wrap_line(f"{indent}    {argument},", width)
    lines.append(f"{indent}){tail}")
    return lines


def wrap_lines(lines: list[str], width: int = WIDTH) -> list[str]:
    return [piece for line in lines for piece in wrap_line(line, width)]


def wrap_comment(text: str, prefix: str = "# ", indent: str = "", width: int = WIDTH) -> list[str]:
    """A comment paragraph in lines of at most ``width`` columns."""
    return textwrap.wrap(text, width - len(indent) - len(prefix), initial_indent=indent + prefix,
                         subsequent_indent=indent + prefix, break_on_hyphens=False,
                         break_long_words=False) or [indent + prefix.rstrip()]
