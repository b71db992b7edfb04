"""Parse only what the rules can see: definitions with nothing to check, tied to nothing that has, are blanked.

libcst builds several objects per token, and building them is most of a cold run's time. A
module that holds one loss function among a hundred other functions (an ops module, a test
file) has most of its tree built for nothing: no rule looks inside those functions. The guard's
scan (``guard.py``), which every file gets anyway, already lists the file's logical lines and
their indentation depth, strings and brackets accounted for; that is enough to find the file's
definitions and decide which of them libcst needs to see.

A *unit* is a top-level ``def``/``class`` statement (decorators included), or a test method
(``test*``: only a test runner calls it) of a top-level class that is anchored itself; its other
methods go with the class, since a framework calls them by names no text shows (``call``,
``forward``, ``train_step``, ``__init__``). A unit is *anchored* when, read with the file's imports
in front of it, the checks of the pre-filter's triggers of the rules that run on the file say yes (a loss
signature, a ``Loss`` subclass, a directive, a multi-output ``fit``, a Keras 2 backend call...),
or it calls ``compile`` (the finder and the model rules resolve its arguments anywhere in the
file), or it writes module names in ways a name search cannot follow (``global``,
``globals()``), or a comment that rules read (``# losscheck: output``, a shape comment) lies
next to it, where a blanked unit would hand it to another statement. A class is weighed whole when its own text (its test methods aside: its name,
its bases, its other methods) anchors it. Then a unit is kept when:

- it is anchored;
- it mentions a unit that a trigger anchors: who calls a loss function, or subclasses a
  ``Loss``, can change what a rule decides about it (who calls a function that compiles a
  model cannot: that function is kept, and so is what it mentions);
- a kept part of the file mentions it: a helper, a model builder, a base class (a function or
  class by its bare name, a test method by its name or an attribute it sets: ``self.x = ...``).

Every other statement (imports, assignments, module code) is always kept. A unit that is not
kept has its code replaced by spaces, line breaks kept (comment lines after its last line stay:
they may belong to the next statement; where it ends is the scan's, strings accounted for), so every kept character is where it was: lines, columns
and offsets of the focused text are those of the file, and its scan is the file's, less the
blanked lines. A class whose body would be left empty keeps its shortest test method.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from symtable import symtable

from losscheck.lint.dynamic_names import creates_names_dynamically
from losscheck.lint.guard import Scan, Statement, logical_lines, statements

# Below this, what could be saved is less than what deciding costs.
FOCUS_MIN_CHARS = 2_000

_BARE = re.compile(r"(?<![\w.])[^\W\d]\w*")
_ATTR = re.compile(r"(?<=\.)[^\W\d]\w*")
_SET_ATTR = re.compile(r"\.([^\W\d]\w*)\s*(?:[-+*/%&|^@]|//|\*\*|>>|<<)?=(?!=)")
# The finder and the model rules resolve ``compile``'s arguments anywhere in the file.
_COMPILE = re.compile(r"\.\s*compile\s*\(")
_GLOBAL = re.compile(r"^[ \t]*(?:global|nonlocal)[ \t]+\w", re.M)
_DEFINITION = re.compile(r"(?:async[ \t]+)?def[ \t]+([^\W\d]\w*)|class[ \t]+([^\W\d]\w*)")
_IMPORT = re.compile(r"(?:import|from)\b")
_TRIGGER = "trigger"  # the unit holds what a trigger looks for: who calls it matters too
_REACH = "reach"  # the unit reaches across the file (compile, globals): what it mentions matters
_KEEP_BREAKS = re.compile(r"(\r\n|\r|\n)")
# Comments that rules read from the tree: output comments (the finder) and shape comments.
_READ_COMMENT = re.compile(r"#[^\r\n]*(?i:losscheck|shape)")


@dataclass
class _Unit:
    """A top-level definition (or a test method) that focusing may blank."""

    start: int  # offset of its first token (its first decorator's)
    end: int  # offset just past its last code line
    name: str
    names: frozenset[str]  # how other code refers to it: its name, and a method's attributes
    text: str
    anchored: str | None  # why: _TRIGGER or _REACH; None when it is not
    parent: _Unit | None = None  # the class of a method
    methods: list[_Unit] = field(default_factory=list)
    methods_only: bool = False  # a class whose body is its test methods
    kept: bool = False


@dataclass(frozen=True)
class Focused:
    """A file with the units no rule can reach blanked, and its scan."""

    source: str  # the file with the blanked units
    scan: Scan  # its scan: the file's, without the logical lines of the blanked units


PartTest = Callable[[bytes, bytes], "Callable[[bytes], bool] | None"]


def focus(source: str, scan: Scan, part_test: PartTest) -> Focused | None:
    """``source`` with the units no rule can reach blanked, or None when nothing is blanked.
    ``part_test(file, header)`` says what makes a part of the file matter to the rules that run
    on it (``Prefilter.part_test``), or None when any part may."""
    if len(source) < FOCUS_MIN_CHARS or scan.flat or scan.refusal is not None:
        return None
    if len(scan.line_ends) != len(scan.line_offsets):
        return None
    lines = logical_lines(scan)
    # the import statements, one per line (a pattern may need the end of the line after one)
    header = "".join(source[at:end] + "\n" for at, depth, end in lines
                     if depth == 0 and _IMPORT.match(source, at)).encode("utf-8", "surrogatepass")
    matters = part_test(source.encode("utf-8", "surrogatepass"), header)
    if matters is None:
        return None

    def anchored(text: str) -> str | None:
        """Why ``text`` is anchored: ``"trigger"``, ``"reach"`` (a ``compile`` call, module names
        written at run time), or None."""
        if matters(text.encode("utf-8", "surrogatepass")):
            return _TRIGGER
        if _COMPILE.search(text) or _GLOBAL.search(text) or creates_names_dynamically(text):
            return _REACH
        return None

    def read_comments_around(first: int, last: int) -> bool:
        """Comments that rules read from the tree lie next to the unit: the lines between the
        logical line before it and the one after it, its own aside. libcst gives such lines to
        the unit (above it, and indented after it) or to its neighbours, which a blanked unit
        would change (``# losscheck: output`` above a def, a ``# shape:`` block)."""
        before = lines[first - 1][2] if first > 0 else 0
        after = lines[last + 1][0] if last + 1 < len(lines) else len(source)
        start, end = lines[first][0], lines[last][2]
        return bool(_READ_COMMENT.search(source, before, start) or _READ_COMMENT.search(source, end, after))

    units: list[_Unit] = []
    kept_parts: list[str] = []  # the statements that are never blanked
    for statement in statements(source, lines, 0, 0, len(lines)):
        start, end = lines[statement.first][0], lines[statement.last][2]
        text = source[start:end]
        name, is_class = _definition(source, lines, statement, 0)
        if name is None:
            kept_parts.append(text)
            continue
        why = anchored(text) or (_REACH if read_comments_around(statement.first, statement.last) else None)
        unit = _Unit(start, end, name, frozenset({name}), text, why)
        units.append(unit)
        if is_class and unit.anchored:
            # an anchored class: its methods are weighed one by one, the rest of its body stays;
            # unless what anchors it is outside them (its name, its bases: it matters whole)
            body = list(statements(source, lines, 1, statement.header + 1, statement.last + 1))
            tests = []  # (the method's statement, its name)
            for member in body:
                member_name, member_is_class = _definition(source, lines, member, 1)
                if member_name is not None and not member_is_class and member_name.startswith("test"):
                    tests.append((member, member_name))
            own = _outside(text, start, [(lines[m.first][0], lines[m.last][2]) for m, _name in tests])
            if anchored(own):
                continue
            for member, member_name in tests:
                m_start, m_end = lines[member.first][0], lines[member.last][2]
                m_text = source[m_start:m_end]
                names = {member_name, *_SET_ATTR.findall(m_text)}  # reached through the attributes it sets
                why = anchored(m_text) or (_REACH if read_comments_around(member.first, member.last) else None)
                unit.methods.append(_Unit(m_start, m_end, member_name, frozenset(names), m_text, why,
                                          parent=unit))
            unit.methods_only = len(unit.methods) == len(body)
    if not units:
        return None
    _keep_reachable(units, kept_parts)
    dropped = [u for u in _all(units) if not u.kept and (u.parent is None or u.parent.kept)]
    if not dropped or not all(_parses(source, unit) for unit in dropped):
        return None
    return Focused(_blank(source, dropped), _scan_without(scan, dropped))


_TABBED = re.compile(r"^[ ]*[\t\f]", re.M)


def _parses(source: str, unit: _Unit) -> bool:
    """Does the unit parse on its own as it does in the file? A syntax error in a unit must stay
    the file's syntax error, not be blanked away. Python's parser checks it (a method inside an
    ``if 1:``, at its own indentation); a unit indented with tabs is not blanked at all, since
    whether tabs and spaces mix consistently depends on the lines around it (and libcst refuses
    some mixes Python accepts).

    The check is ``symtable``'s: the same parser, then a symbol table built in C, where
    ``compile(..., PyCF_ONLY_AST)`` turns the whole tree into Python objects (~2x the time, and
    these units are most of a large test file). It also refuses what only the compiler would
    (``nonlocal`` with nothing to bind): such a unit is kept, which costs time, never findings."""
    begin = source.rfind("\n", 0, unit.start) + 1
    text = source[begin : unit.end]
    if _TABBED.search(text):
        return False
    try:
        symtable(("if 1:\n" if unit.parent is not None else "") + text, "<unit>", "exec")
    except (SyntaxError, ValueError, RecursionError, MemoryError, OverflowError):
        return False
    return True


def _definition(source: str, lines: list[tuple[int, int, int]], statement: Statement, depth: int
                ) -> tuple[str | None, bool]:
    """The name a ``def``/``class`` statement defines (None for any other statement), and
    whether it is a class."""
    at, line_depth, _end = lines[statement.header]
    match = _DEFINITION.match(source, at) if line_depth == depth else None
    if match is None:
        return None, False
    return match.group(1) or match.group(2), match.group(2) is not None


def _all(units: list[_Unit]) -> Iterator[_Unit]:
    for unit in units:
        yield unit
        yield from unit.methods


def _keep_reachable(units: list[_Unit], kept_parts: list[str]) -> None:
    """Mark the units to keep (the module docstring's rules)."""
    every = list(_all(units))
    bare: set[str] = set()
    attrs: set[str] = set()

    def mention(text: str) -> None:
        bare.update(_BARE.findall(text))
        attrs.update(_ATTR.findall(text))

    def keep(unit: _Unit) -> None:
        unit.kept = True
        mention(unit.text if not unit.methods else _outside_methods(unit))
        if unit.parent is not None and not unit.parent.kept:
            keep(unit.parent)

    for part in kept_parts:
        mention(part)
    # callers of a function or class a trigger anchors, anywhere; of such a method, in its class
    calls_anchor = _mentions({u.name for u in units if u.anchored == _TRIGGER}, attribute=False)
    for unit in units:
        if unit.anchored or calls_anchor(unit.text):
            keep(unit)
        calls_method = _mentions({m.name for m in unit.methods if m.anchored == _TRIGGER}, attribute=True)
        for method in unit.methods:
            if method.anchored or calls_method(method.text):
                keep(method)
    pending = [u for u in every if not u.kept]
    changed = True
    while changed:  # what the kept parts mention, until nothing new is mentioned
        changed = False
        for unit in pending:
            seen = bare if unit.parent is None else bare | attrs
            if not unit.kept and not unit.names.isdisjoint(seen):
                keep(unit)
                changed = True
        pending = [u for u in pending if not u.kept]
    for unit in units:  # a body of test methods only keeps one: a body cannot be empty
        if unit.kept and unit.methods_only and not any(m.kept for m in unit.methods):
            min(unit.methods, key=lambda m: m.end - m.start).kept = True


def _outside_methods(unit: _Unit) -> str:
    """A class's text without its methods (their words count when they are kept)."""
    return _outside(unit.text, unit.start, [(m.start, m.end) for m in unit.methods])


def _outside(text: str, start: int, spans: list[tuple[int, int]]) -> str:
    """``text`` (at offset ``start`` of the file) without the file's ``spans`` in it, in order."""
    parts, at = [], start
    for begin, end in spans:
        parts.append(text[at - start : begin - start])
        at = end
    parts.append(text[at - start :])
    return "".join(parts)


def _mentions(names: set[str], *, attribute: bool) -> Callable[[str], bool]:
    """Does a text mention one of ``names``: as a bare word, or as an attribute (``self.name``)?"""
    if not names:
        return lambda text: False
    before = r"(?<=\.)" if attribute else r"(?<![\w.])"
    pattern = re.compile(before + r"(?:" + "|".join(sorted(map(re.escape, names))) + r")(?!\w)")
    return lambda text: pattern.search(text) is not None


def _blank(source: str, dropped: list[_Unit]) -> str:
    parts, at = [], 0
    for unit in sorted(dropped, key=lambda u: u.start):
        parts.append(source[at : unit.start])
        pieces = _KEEP_BREAKS.split(source[unit.start : unit.end])  # text, break, text, ...
        parts.extend(piece if k % 2 else " " * len(piece) for k, piece in enumerate(pieces))
        at = unit.end
    parts.append(source[at:])
    return "".join(parts)


def _scan_without(scan: Scan, dropped: list[_Unit]) -> Scan:
    spans = sorted((u.start, u.end) for u in dropped)
    kept: list[tuple[int, int, int]] = []
    k = 0
    for line in logical_lines(scan):
        at = line[0]
        while k < len(spans) and spans[k][1] <= at:
            k += 1
        if k < len(spans) and spans[k][0] <= at < spans[k][1]:
            continue
        kept.append(line)
    offsets, depths, ends = (list(column) for column in zip(*kept)) if kept else ([], [], [])
    return Scan(refusal=None, flat=[], unflattened=scan.unflattened, line_offsets=offsets, line_depths=depths,
                line_ends=ends)
