"""The guard's token scan of long logical lines: estimates one line's nesting depth and finds its
long chains (attribute/call/subscript trailers, unary operators, ``**``, nested lambdas and
conditionals, ``and``/``or``, implicit string concatenation, binary operator chains).

Chains of one arithmetic or bitwise level at least ``FLATTEN_MIN`` long are listed to be parsed flat
(``flat_parse.py``); the other long ones raise :class:`~losscheck.lint.guard_limits.Refused`.
f-string replacement fields are scanned here too (their brackets nest with the line's).
"""

from __future__ import annotations

import re

from losscheck.lint.guard_limits import (
    FLATTEN_MIN,
    MAX_BRACKETS,
    MAX_CHAIN,
    MAX_DEPTH,
    MAX_FLAT,
    MAX_LINEAR_CHAIN,
    SCAN_MIN,
    Refusal,
    Refused,
)

QUOTED = r"""
    (?:'''(?:[^'\\]+|\\.|'(?!''))*(?:'''|\Z)
      |\"\"\"(?:[^"\\]+|\\.|"(?!""))*(?:\"\"\"|\Z)
      |'(?:[^'\\\r\n]+|\\(?:\r\n|.))*(?:'|(?=[\r\n])|\Z)
      |"(?:[^"\\\r\n]+|\\(?:\r\n|.))*(?:"|(?=[\r\n])|\Z))
"""
_STRING = r"(?:(?<![\w])[rRbBuUfF]{1,2})?" + QUOTED
# The token scan of long logical lines.
_TOKENS = re.compile(
    rf"""(?P<str>{_STRING})|(?P<com>\#[^\r\n]*)|(?P<name>[^\W\d]\w*)
    |(?P<num>(?:0[xXoObB][0-9a-fA-F_]+|(?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)(?:[eE][+-]?\d[\d_]*)?)[jJ]?)
    |(?P<op>\*\*=|//=|>>=|<<=|\.\.\.|->|:=|\*\*|//|<<|>>|<=|>=|==|!=|[-+*/%@&|^]=|[-+*/%@&|^~<>=.,:;()\[\]{{}}!])""",
    re.VERBOSE | re.DOTALL,
)

_LEVEL = {"|": 0, "^": 1, "&": 2, "<<": 3, ">>": 3, "+": 4, "-": 4, "*": 5, "/": 5, "//": 5, "%": 5, "@": 5,
          "**": 6}
_POWER = 6
_COMPARE = frozenset({"<", ">", "<=", ">=", "==", "!="})
_ELEMENT_SEPARATORS = frozenset({",", ";", "=", "->", ":=", "+=", "-=", "*=", "/=", "//=", "%=", "@=", "&=", "|=",
                                 "^=", "**=", ">>=", "<<="})
_KEYWORDS = frozenset(
    "and as assert async await break class continue def del elif else except finally for from global if import "
    "in is lambda nonlocal not or pass raise return try while with yield".split()
)
_OPEN = {"(": ")", "[": "]", "{": "}"}


def _is_fstring(text: str) -> bool:
    for ch in text[:3]:
        if ch in "'\"":
            return False
        if ch in "fF":
            return True
    return False


def _fstring_body(text: str) -> tuple[int, str]:
    quote_at = min(i for i in (text.find("'"), text.find('"')) if i >= 0)
    quote = text[quote_at:quote_at + 3] if text[quote_at:quote_at + 3] in ("'''", '"""') else text[quote_at]
    body = text[quote_at + len(quote):]
    if body.endswith(quote):
        body = body[: -len(quote)]
    return quote_at + len(quote), body


def scan_fstring(text: str, offset: int, depth: int) -> int:
    """Bracket depth inside an f-string's replacement fields (counted with the brackets around the
    string, as libcst's parser nests them); long bodies get the token scan too. Returns the
    nesting it adds."""
    skip, body = _fstring_body(text)
    plain = body.replace("{{", "  ").replace("}}", "  ")
    inner = deepest = 0
    for i, ch in enumerate(plain):
        if ch in "([{":
            inner += 1
            if depth + inner > MAX_BRACKETS:
                raise Refused(Refusal(offset + skip + i, "too many nested parentheses", syntax=True))
            deepest = max(deepest, inner)
        elif ch in ")]}":
            inner = max(inner - 1, 0)
    if len(body) > SCAN_MIN:
        estimate = ExpressionScan(plain, 0, len(plain), allow_flat=False, flat=[], unflattened=[], base=offset + skip)
        deepest = max(deepest, estimate.run())
    return deepest


# -- the token scan ----------------------------------------------------------------------------


class _Run:
    """Tokens between two separators at one bracket level: one operand of a comparison, boolean
    operator, conditional or lambda, built from binary operators, prefixes and trailers."""

    __slots__ = ("count", "cur", "most", "ops", "trail", "trail_most", "unary", "unary_most", "strings",
                 "strings_most", "child")

    def __init__(self) -> None:
        self.count = [0] * 7  # binary operators per precedence level
        self.cur = [0] * 7  # the current chain at each level (reset by an operator of a lower level)
        self.most = [0] * 7
        self.ops: list[list[tuple[int, str]]] = [[] for _ in range(7)]
        self.trail = self.trail_most = 0  # .attr / (call) / [subscript] after an operand
        self.unary = self.unary_most = 0  # consecutive prefix operators
        self.strings = self.strings_most = 0  # implicitly concatenated strings
        self.child = 0  # deepest bracket group inside


class _Frame:
    """One bracket level (or the logical line itself)."""

    __slots__ = ("close", "run", "element_best", "best", "linear", "nested", "lambdas", "operand")

    def __init__(self, close: str) -> None:
        self.close = close
        self.run = _Run()
        self.element_best = 0  # deepest run of the current element
        self.best = 0  # deepest element
        self.linear = 0  # and/or in the current element
        self.nested = 0  # lambda, conditional expressions, comprehension `for`s in the current element
        self.lambdas = 0  # lambdas whose `:` has not been seen
        self.operand = False  # the last token ended an operand (so `-` is binary, `(` a call)


class ExpressionScan:
    """Estimates one logical line's nesting and finds its long operator chains."""

    def __init__(self, source: str, start: int, end: int, *, allow_flat: bool, flat: list, unflattened: list,
                 base: int = 0) -> None:
        self.source, self.start, self.end = source, start, end
        self.allow_flat = allow_flat
        self.flat = flat
        self.unflattened = unflattened
        self.base = base  # added to offsets in messages (an f-string body is scanned on its own)
        self.frames = [_Frame("")]
        self.depth = 0  # bracket levels open

    def refuse(self, offset: int, message: str) -> None:
        raise Refused(Refusal(self.base + offset, message))

    def run(self) -> int:
        for match in _TOKENS.finditer(self.source, self.start, self.end):
            kind = match.lastgroup
            text = match.group()
            if kind == "com":
                continue
            if kind == "op":
                self._op(text, match.start())
            elif kind == "name":
                self._name(text, match.start())
            else:
                self._operand(kind == "str", match.start())
                if kind == "str" and _is_fstring(text) and "{" in text:
                    inner = scan_fstring(text, self.base + match.start(), self.depth)
                    run = self.frames[-1].run
                    run.child = max(run.child, inner)
        while len(self.frames) > 1:  # unbalanced: the parser reports it; estimate what was seen
            self._close(self.end)
        frame = self.frames[0]
        self._end_element(frame, self.end)
        return frame.best

    # tokens
    def _operand(self, is_string: bool, offset: int) -> None:
        frame = self.frames[-1]
        run = frame.run
        run.unary = 0
        if is_string and frame.operand and run.strings:
            run.strings += 1
            run.strings_most = max(run.strings_most, run.strings)
            if run.strings > MAX_LINEAR_CHAIN:
                self.refuse(offset, f"more than {MAX_LINEAR_CHAIN:,} implicitly concatenated strings")
        elif is_string:
            run.strings = 1
        elif not (frame.operand and run.trail):  # a name after `.` continues the trailer chain
            run.trail = 0
        frame.operand = True

    def _name(self, text: str, offset: int) -> None:
        if text not in _KEYWORDS:
            frame = self.frames[-1]
            trailing = frame.operand and frame.run.trail and self._after_dot(offset)
            if not trailing:
                frame.run.trail = 0
            self._operand(False, offset)
            return
        frame = self.frames[-1]
        if text in ("and", "or"):
            self._end_run(frame, offset)
            frame.linear += 1
            if frame.linear > MAX_LINEAR_CHAIN:
                self.refuse(offset, f"more than {MAX_LINEAR_CHAIN:,} chained `and`/`or` operators")
        elif text in ("not", "await") and not frame.operand:
            self._prefix(frame, offset)
            return
        elif text in ("lambda", "if", "else", "for"):
            self._end_run(frame, offset)
            if text == "lambda":
                frame.lambdas += 1
            if text != "if":  # `a if b else c`: one level per `else`
                frame.nested += 1
                if frame.nested > MAX_CHAIN:
                    self.refuse(offset, f"more than {MAX_CHAIN} nested lambdas, conditional expressions or "
                                        "comprehension clauses")
        else:  # in, is, not in, return, yield, import...: a new operand starts
            self._end_run(frame, offset)
        frame.operand = False

    def _after_dot(self, offset: int) -> bool:
        i = offset - 1
        while i >= self.start and self.source[i] in " \t\f\\\r\n":
            i -= 1
        return i >= self.start and self.source[i] == "."

    def _prefix(self, frame: _Frame, offset: int) -> None:
        run = frame.run
        run.unary += 1
        run.unary_most = max(run.unary_most, run.unary)
        run.trail = 0
        if run.unary > MAX_CHAIN:
            self.refuse(offset, f"more than {MAX_CHAIN} consecutive unary operators")
        frame.operand = False

    def _op(self, text: str, offset: int) -> None:
        frame = self.frames[-1]
        if text in _OPEN:
            if frame.operand:  # a call or a subscript
                self._trailer(frame, offset)
            self.depth += 1
            self.frames.append(_Frame(_OPEN[text]))
            return
        if text in (")", "]", "}"):
            if len(self.frames) > 1:
                self._close(offset)
            return
        if text == ".":
            if frame.operand:
                self._trailer(frame, offset)
            return
        if text == "...":
            self._operand(False, offset)
            return
        if text == "~":
            self._prefix(frame, offset)
            return
        level = _LEVEL.get(text)
        if level is not None:
            if not frame.operand:  # -x, +x, ~x, *args, **kwargs
                self._prefix(frame, offset)
                return
            self._binary(frame, level, text, offset)
            return
        if text == ":" and frame.lambdas:
            frame.lambdas -= 1
            self._end_run(frame, offset)
        elif text in _COMPARE or text == "!":
            self._end_run(frame, offset)
        else:  # , ; = : -> := and augmented assignments
            self._end_element(frame, offset)
        frame.operand = False

    def _trailer(self, frame: _Frame, offset: int) -> None:
        run = frame.run
        run.trail += 1
        run.trail_most = max(run.trail_most, run.trail)
        if run.trail > MAX_CHAIN:
            self.refuse(offset, f"more than {MAX_CHAIN} chained attribute accesses, calls or subscripts")

    def _binary(self, frame: _Frame, level: int, text: str, offset: int) -> None:
        run = frame.run
        run.count[level] += 1
        run.cur[level] += 1
        run.most[level] = max(run.most[level], run.cur[level])
        for tighter in range(level + 1, 7):
            run.cur[tighter] = 0
        if self.allow_flat:
            run.ops[level].append((self.base + offset, text))
        run.trail = 0
        run.strings = 0
        frame.operand = False

    def _close(self, offset: int) -> None:
        frame = self.frames.pop()
        self._end_element(frame, offset)
        self.depth -= 1
        parent = self.frames[-1]
        parent.run.child = max(parent.run.child, frame.best + 1)
        parent.operand = True
        if frame.best + 1 + len(self.frames) > MAX_DEPTH:
            self.refuse(offset, f"an expression nested more than {MAX_DEPTH:,} levels deep")

    # separators
    def _end_run(self, frame: _Frame, offset: int) -> None:
        run = frame.run
        depth = run.trail_most + run.unary_most + run.child + (1 if run.strings_most > 1 else 0)
        present = [level for level in range(7) if run.count[level]]
        flattened = None
        if present:
            lowest = present[0]
            if lowest != _POWER and run.count[lowest] >= FLATTEN_MIN and self.allow_flat:
                flattened = lowest
                if run.count[lowest] > MAX_FLAT:
                    self.refuse(offset, f"more than {MAX_FLAT:,} chained `{run.ops[lowest][0][1]}` operators")
                if run.count[lowest] > MAX_CHAIN:
                    where = run.ops[lowest][MAX_CHAIN][0]
                    self.unflattened.append(Refusal(where, f"more than {MAX_CHAIN} chained "
                                                           f"`{run.ops[lowest][0][1]}` operators"))
                self.flat.extend(run.ops[lowest])
            for level in present:
                if level == flattened:
                    depth += 1
                    continue
                if run.most[level] > MAX_CHAIN:
                    self.refuse(offset, f"more than {MAX_CHAIN} chained binary operators")
                depth += run.most[level]
        frame.element_best = max(frame.element_best, depth)
        frame.run = _Run()

    def _end_element(self, frame: _Frame, offset: int) -> None:
        self._end_run(frame, offset)
        depth = frame.element_best + frame.linear + frame.nested
        frame.best = max(frame.best, depth)
        if depth + len(self.frames) > MAX_DEPTH:
            self.refuse(offset, f"an expression nested more than {MAX_DEPTH:,} levels deep")
        frame.element_best = frame.linear = frame.nested = frame.lambdas = 0
