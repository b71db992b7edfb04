"""What libcst can be given safely, decided from the text before it parses anything.

libcst's native parser recurses once per nesting level (2,000 nested parentheses overflow the
stack and kill the process with SIGSEGV) and its left-recursive rules copy the subtree they
extend at every step, so one chain of N operators, attribute accesses, calls or subscripts costs
O(N^2) time (measured with libcst 1.9: a 4,000-term sum parses in ~6 s, a 4,000-deep ``a[0][0]...``
in ~35 s). One scan of the text here finds what would hurt, so that a hostile file becomes one
clear diagnostic for that file instead of a crash, a hang or gigabytes of memory:

- brackets nested more than 200 deep and more than 99 indentation levels: CPython's own limits
  (its messages, its positions), so no file that Python can run is refused for them;
- a logical line with over ``MAX_LOGICAL_LINE`` characters of code, string literals not
  counted (a statement cannot be cut into pieces, and libcst needs ~0.7 GB of tree per MB of
  code; a string is one node whatever its length);
- chains that are quadratic to parse (attribute/call/subscript trailers, unary operators,
  ``**``, nested lambdas and conditional expressions, and operator chains that cannot be
  flattened) over ``MAX_CHAIN`` links; linear ones (``and``/``or``, implicit string
  concatenation, ``elif``) over ``MAX_LINEAR_CHAIN``; and an estimated nesting depth over
  ``MAX_DEPTH``.

Long chains of one arithmetic or bitwise operator level (``a + b - c + ...``: generated losses
that sum thousands of terms) are not refused: :func:`parse` has libcst parse them as a flat
comparison (each operator replaced by a comparison operator the file never uses, which parses in
linear time) and rebuilds the exact left-nested ``BinaryOperation`` tree from it; the result is
checked to print back to the very same text.

Short logical lines (the vast majority) are only looked at by the bracket/line scan; the token
scan runs on lines longer than ``MAX_CHAIN`` characters, the only ones that can hold a chain
longer than that.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import libcst as cst

MAX_BRACKETS = 200  # CPython: "too many nested parentheses"
MAX_INDENT = 100  # CPython: "too many levels of indentation" at the 100th level
MAX_LOGICAL_LINE = 1_000_000  # characters
MAX_CHAIN = 200  # links of one quadratic-to-parse chain
MAX_LINEAR_CHAIN = 5_000  # links of one chain libcst parses in linear time (still one level each)
MAX_DEPTH = 8_000  # estimated nesting of one statement, brackets included (the native stack)
FLATTEN_MIN = 64  # operator chains this long are parsed flat
MAX_FLAT = 20_000  # longest operator chain parsed flat (the rebuilt tree is that deep)
SCAN_MIN = MAX_CHAIN  # logical lines with fewer characters (or chain links) get no token scan

# Comparison operators that can stand in for a chain's operators; the first one the file never
# contains is used, so every occurrence in the parsed tree is known to be a stand-in.
_MARKERS = ("<", ">", "<=", ">=", "==", "!=")

# -- tokens -----------------------------------------------------------------------------------

_QUOTED = r"""
    (?:'''(?:[^'\\]+|\\.|'(?!''))*(?:'''|\Z)
      |\"\"\"(?:[^"\\]+|\\.|"(?!""))*(?:\"\"\"|\Z)
      |'(?:[^'\\\r\n]+|\\(?:\r\n|.))*(?:'|(?=[\r\n])|\Z)
      |"(?:[^"\\\r\n]+|\\(?:\r\n|.))*(?:"|(?=[\r\n])|\Z))
"""
_STRING = r"(?:(?<![\w])[rRbBuUfF]{1,2})?" + _QUOTED
# The line scan: strings, comments and line breaks; the code between them is counted in C.
_LINES = re.compile(
    rf"""(?P<str>{_QUOTED})|(?P<com>\#[^\r\n]*)|(?P<cont>\\(?:\r\n|\r|\n))|(?P<nl>\r\n|\r|\n)
    |(?P<code>[^'"\#\\\r\n]+)""",
    re.VERBOSE | re.DOTALL,
)
# The token scan of long logical lines.
_TOKENS = re.compile(
    rf"""(?P<str>{_STRING})|(?P<com>\#[^\r\n]*)|(?P<name>[^\W\d]\w*)
    |(?P<num>(?:0[xXoObB][0-9a-fA-F_]+|(?:\d[\d_]*(?:\.[\d_]*)?|\.\d[\d_]*)(?:[eE][+-]?\d[\d_]*)?)[jJ]?)
    |(?P<op>\*\*=|//=|>>=|<<=|\.\.\.|->|:=|\*\*|//|<<|>>|<=|>=|==|!=|[-+*/%@&|^]=|[-+*/%@&|^~<>=.,:;()\[\]{{}}!])""",
    re.VERBOSE | re.DOTALL,
)
_INDENT = re.compile(r"[ \t\f]*")
_NEWLINE = re.compile(r"\r\n?|\n")  # libcst's (and the tokenizer's) line breaks
_ELIF = re.compile(r"elif(?![\w])")
# What a chain is made of; a logical line with fewer of these than MAX_CHAIN holds no long chain.
_LINKS = re.compile(r"[-+*/%@&|^~.(\[:]|\b(?:if|else|not|lambda|for|and|or|await)\b")

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


@dataclass(frozen=True)
class Refusal:
    """Why the file is not handed to libcst, and where (an offset in the source)."""

    offset: int
    message: str
    syntax: bool = False  # Python itself rejects it (CPython's limits): a syntax error


@dataclass
class Scan:
    refusal: Refusal | None = None
    # binary operators to parse flat: (offset, operator text), in source order
    flat: list[tuple[int, str]] = field(default_factory=list)
    # when the flat parse fails: why the file cannot be parsed as written (None: it can)
    unflattened: Refusal | None = None
    # logical lines: offset of the first token and indentation depth (positions use them)
    line_offsets: list[int] = field(default_factory=list)
    line_depths: list[int] = field(default_factory=list)


class Refused(Exception):
    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.message)
        self.refusal = refusal


def line_starts(source: str) -> list[int]:
    """Offset of the first character of every line (libcst's line breaks)."""
    return [0, *(m.end() for m in _NEWLINE.finditer(source))]


def line_column(starts: list[int], offset: int) -> tuple[int, int]:
    """1-based line and 0-based column of ``offset``."""
    index = bisect_right(starts, offset) - 1
    return index + 1, offset - starts[index]


# -- the line scan -----------------------------------------------------------------------------


def _width(indent: str) -> int:
    column = 0
    for ch in indent:
        if ch == "\t":
            column = (column // 8 + 1) * 8
        elif ch == "\f":
            column = 0
        else:
            column += 1
    return column


def scan(source: str) -> Scan:
    """Scan ``source``: a refusal, or the operator chains to parse flat (see the module docs)."""
    result = Scan()
    try:
        _scan_lines(source, result)
    except Refused as exc:
        result.refusal = exc.refusal
        result.flat = []
    return result


def _scan_lines(source: str, result: Scan) -> None:
    depth = 0
    indents = [0]
    elifs: dict[int, int] = {}  # indentation depth -> consecutive `elif` clauses
    start = _logical_start(source, 0, indents, elifs, result)
    strings = 0  # characters of string literals in the current logical line
    flat: list[tuple[int, str]] = []
    unflattened: list[Refusal] = []
    for match in _LINES.finditer(source):
        kind = match.lastgroup
        if kind == "code":
            depth = _brackets(source, match.start(), match.end(), depth)
        elif kind == "str":
            strings += match.end() - match.start()
            if "{" in match.group() and _has_f_prefix(source, match.start()):
                _scan_fstring(match.group(), match.start(), depth)
        elif kind == "nl" and depth == 0:
            if start is not None:
                _end_logical(source, start, match.start(), strings, flat, unflattened)
            start = _logical_start(source, match.end(), indents, elifs, result)
            strings = 0
    if start is not None:
        if depth > 0 and len(source) - start - strings > MAX_LOGICAL_LINE:
            raise Refused(_never_closed(source, start))  # not one huge statement: a syntax error
        _end_logical(source, start, len(source), strings, flat, unflattened)
    if flat and _marker(source) is None:  # no stand-in available: parse as written, if that is safe
        if unflattened:
            raise Refused(unflattened[0])
        flat = []
    result.flat = flat
    result.unflattened = unflattened[0] if unflattened else None


def _never_closed(source: str, start: int) -> Refusal:
    """CPython's error for a bracket that the file never closes (the outermost one)."""
    stack: list[int] = []
    for match in _LINES.finditer(source, start):
        if match.lastgroup != "code":
            continue
        for i in range(match.start(), match.end()):
            ch = source[i]
            if ch in "([{":
                stack.append(i)
            elif ch in ")]}" and stack:
                stack.pop()
    at = stack[0] if stack else start
    return Refusal(at, f"'{source[at]}' was never closed" if stack else "unexpected end of file", syntax=True)


def _brackets(source: str, begin: int, end: int, depth: int) -> int:
    """The bracket depth after ``source[begin:end]`` (code, no strings or comments)."""
    opens = source.count("(", begin, end) + source.count("[", begin, end) + source.count("{", begin, end)
    closes = source.count(")", begin, end) + source.count("]", begin, end) + source.count("}", begin, end)
    if depth + opens <= MAX_BRACKETS and closes <= depth:  # cannot pass the limit nor go below 0
        return depth + opens - closes
    for i in range(begin, end):
        ch = source[i]
        if ch in "([{":
            depth += 1
            if depth > MAX_BRACKETS:
                raise Refused(Refusal(i, "too many nested parentheses", syntax=True))
        elif ch in ")]}":
            depth = max(depth - 1, 0)
    return depth


def _has_f_prefix(source: str, quote: int) -> bool:
    """Is the string whose quote is at ``quote`` an f-string (``f"``, ``rf'``, ``Fr"``...)?"""
    begin = quote
    while begin > 0 and quote - begin < 2 and source[begin - 1] in "rRbBuUfF":
        begin -= 1
    if begin > 0 and (source[begin - 1].isalnum() or source[begin - 1] == "_"):
        return False
    return "f" in source[begin:quote].lower()


def _logical_start(source: str, offset: int, indents: list[int], elifs: dict[int, int], result: Scan) -> int | None:
    """The offset of the logical line starting on the line at ``offset``; None for a blank or
    comment-only line. Keeps the indentation stack (CPython's limit) and ``elif`` chains."""
    ws = _INDENT.match(source, offset)
    begin = ws.end()  # type: ignore[union-attr]  # `*` always matches
    if begin >= len(source) or source[begin] in "#\r\n":
        return None
    width = _width(ws.group())  # type: ignore[union-attr]
    if width > indents[-1]:
        indents.append(width)
        if len(indents) - 1 >= MAX_INDENT:
            raise Refused(Refusal(begin, "too many levels of indentation", syntax=True))
    else:
        while len(indents) > 1 and width < indents[-1]:
            indents.pop()
    level = len(indents) - 1
    for deeper in [d for d in elifs if d > level]:
        del elifs[deeper]
    if _ELIF.match(source, begin):
        elifs[level] = elifs.get(level, 0) + 1
        if elifs[level] > MAX_LINEAR_CHAIN:
            raise Refused(Refusal(begin, f"more than {MAX_LINEAR_CHAIN:,} `elif` clauses in one `if` statement"))
    else:
        elifs.pop(level, None)
    result.line_offsets.append(begin)
    result.line_depths.append(level)
    return begin


def _end_logical(source: str, start: int, end: int, strings: int, flat: list, unflattened: list) -> None:
    """Check one logical line; ``strings`` of its characters are string literals, which cost the
    parser one node each whatever their length, so they do not count towards its size."""
    if end - start - strings > MAX_LOGICAL_LINE:
        raise Refused(
            Refusal(start, f"a logical line of {(end - start) / 1e6:.1f} MB (one statement cannot be split; "
                           f"the limit is {MAX_LOGICAL_LINE / 1e6:.0f} MB of code)")
        )
    if end - start > SCAN_MIN and len(_LINKS.findall(source, start, end)) > SCAN_MIN:
        _Expression(source, start, end, allow_flat=True, flat=flat, unflattened=unflattened).run()


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


def _scan_fstring(text: str, offset: int, depth: int) -> int:
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
        estimate = _Expression(plain, 0, len(plain), allow_flat=False, flat=[], unflattened=[], base=offset + skip)
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


class _Expression:
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
                    inner = _scan_fstring(text, self.base + match.start(), self.depth)
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


# -- parsing with flattened chains ---------------------------------------------------------------


def _marker(source: str) -> str | None:
    for marker in _MARKERS:
        if marker not in source:
            return marker
    return None


def flat_text(source: str, flat: list[tuple[int, str]], marker: str, shift: int = 0,
              lo: int = 0, hi: int | None = None) -> tuple[str, list[str]]:
    """``source`` with the chain operators whose offset (minus ``shift``) is in ``[lo, hi)``
    replaced by ``marker``; returns the text and the replaced operators in order."""
    hi = len(source) if hi is None else hi
    parts: list[str] = []
    replaced: list[str] = []
    last = 0
    for offset, op in flat:
        at = offset - shift
        if not lo <= at < hi:
            continue
        parts.append(source[last:at])
        parts.append(marker)
        replaced.append(op)
        last = at + len(op)
    parts.append(source[last:])
    return "".join(parts), replaced


def parse(source: str, flat: list[tuple[int, str]]) -> "cst.Module":
    """Parse ``source`` with libcst; chains listed in ``flat`` (offsets into ``source``) are parsed
    flat and rebuilt. Raises libcst's ParserSyntaxError, or ValueError if the rebuilt tree does
    not print back to ``source``."""
    import libcst as cst

    marker = _marker(source) if flat else None
    if marker is None:
        return cst.parse_module(source)
    text, ops = flat_text(source, flat, marker)
    module = cst.parse_module(text)
    rebuilt = unflatten(module, marker, ops)
    if rebuilt.code != source:
        raise ValueError("the rebuilt operator chains do not print back to the source")
    return rebuilt


_OPERATORS: dict[str, str] = {
    "+": "Add", "-": "Subtract", "*": "Multiply", "/": "Divide", "//": "FloorDivide", "%": "Modulo",
    "@": "MatrixMultiply", "<<": "LeftShift", ">>": "RightShift", "&": "BitAnd", "|": "BitOr", "^": "BitXor",
}
_MARKER_NODES = {"<": "LessThan", ">": "GreaterThan", "<=": "LessThanEqual", ">=": "GreaterThanEqual",
                 "==": "Equal", "!=": "NotEqual"}


def unflatten(module: "cst.Module", marker: str, ops: list[str]) -> "cst.Module":
    """Turn the stand-in comparisons back into the operator chains they replaced."""
    import libcst as cst

    from losscheck.lint.astutil import children

    marker_type = getattr(cst, _MARKER_NODES[marker])
    # pre-order: parents before children, and the stand-in operators in source order
    order: list[cst.CSTNode] = []
    parent: dict[int, cst.CSTNode] = {}
    stack: list[cst.CSTNode] = [module]
    while stack:
        node = stack.pop()
        order.append(node)
        kids = children(node)
        for kid in kids:
            parent[id(kid)] = node
        stack.extend(reversed(kids))
    found = [node for node in order if type(node) is marker_type]
    if len(found) != len(ops):
        raise ValueError("the stand-in operators do not match the chains")
    op_of = {id(node): op for node, op in zip(found, ops)}
    # every node on a path from the module to a stand-in must be rebuilt, deepest first
    touched: set[int] = set()
    for node in found:
        current: cst.CSTNode | None = node
        while current is not None and id(current) not in touched:
            touched.add(id(current))
            current = parent.get(id(current))
    new: dict[int, cst.CSTNode] = {}
    for node in reversed(order):
        if id(node) not in touched:
            continue
        rebuilt = _with_children(node, new)
        if type(rebuilt) is cst.Comparison:
            rebuilt = _chains(rebuilt, op_of, marker_type)
        new[id(node)] = rebuilt
    return new[id(module)]  # type: ignore[return-value]


def _with_children(node: "cst.CSTNode", new: dict[int, "cst.CSTNode"]) -> "cst.CSTNode":
    import dataclasses

    changes = {}
    for f in dataclasses.fields(node):
        value = getattr(node, f.name)
        if id(value) in new:
            changes[f.name] = new[id(value)]
        elif isinstance(value, (list, tuple)) and any(id(item) in new for item in value):
            changes[f.name] = type(value)(new.get(id(item), item) for item in value)
    return node.with_changes(**changes) if changes else node


def _chains(node: "cst.Comparison", op_of: dict[int, str], marker_type: type) -> "cst.BaseExpression":
    import libcst as cst

    groups: list[cst.BaseExpression] = [node.left]
    real: list[cst.BaseCompOp] = []
    # the stand-in operator nodes were rebuilt (with_children): match them by position in the
    # comparison, through the original list kept in op_of by the untouched operator objects
    for target in node.comparisons:
        operator = target.operator
        op = op_of.get(id(operator)) if type(operator) is marker_type else None
        if op is None:
            real.append(operator)
            groups.append(target.comparator)
            continue
        cls = getattr(cst, _OPERATORS[op])
        groups[-1] = cst.BinaryOperation(
            left=groups[-1],
            operator=cls(whitespace_before=operator.whitespace_before, whitespace_after=operator.whitespace_after),
            right=target.comparator,
        )
    if not real:
        return groups[0].with_changes(lpar=node.lpar, rpar=node.rpar)
    targets = [cst.ComparisonTarget(operator=op, comparator=group) for op, group in zip(real, groups[1:])]
    return node.with_changes(left=groups[0], comparisons=targets)
