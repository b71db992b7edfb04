"""apply_fixes: sorted edits, overlaps skipped, unsafe gating (Hypothesis against a reference)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from losscheck.lint.finding import Edit, Finding, Fix
from losscheck.lint.fix import apply_fixes

LINES = st.lists(st.text(alphabet="ab c()=\t", max_size=12), min_size=1, max_size=6)


def _finding(fix: Fix, n: int = 0) -> Finding:
    return Finding("f.py", 1, 1, 1, 2, "LCK990", "name-x", "error", f"m{n}", fix=fix)


def _to_offset(lines: list[str], line: int, col: int) -> int:
    return sum(len(l) + 1 for l in lines[: line - 1]) + col


def _position(lines: list[str], offset: int) -> tuple[int, int]:
    for i, l in enumerate(lines):
        if offset <= len(l):
            return i + 1, offset
        offset -= len(l) + 1
    return len(lines), len(lines[-1])


@st.composite
def source_and_spans(draw, max_spans=5):
    lines = draw(LINES)
    source = "\n".join(lines) + "\n"
    size = len(source) - 1
    spans = []
    for _ in range(draw(st.integers(0, max_spans))):
        a = draw(st.integers(0, size))
        b = draw(st.integers(a, min(size, a + 6)))
        spans.append((a, b, draw(st.text(alphabet="XYZ", max_size=3)), draw(st.booleans())))
    return lines, source, spans


def _fix(lines, a, b, content, safe):
    (l1, c1), (l2, c2) = _position(lines, a), _position(lines, b)
    return Fix((Edit(l1, c1, l2, c2, content),), safe=safe, description="d")


def _reference(source, spans, unsafe):
    """Greedy by start offset (then end, content): the documented policy, on plain offsets."""
    chosen = []
    for a, b, content, safe in sorted(spans, key=lambda s: (s[0], s[1], s[2])):
        if not (safe or unsafe):
            continue
        if any((a < d and c < b) or (a == b == c == d) for c, d, _ in chosen):
            continue
        if (a, b, content) in chosen:
            continue
        chosen.append((a, b, content))
    out = source
    for a, b, content in sorted(chosen, reverse=True):
        out = out[:a] + content + out[b:]
    return out, len(chosen)


@settings(max_examples=150)
@given(data=source_and_spans(), unsafe=st.booleans())
def test_apply_fixes_matches_reference(data, unsafe):
    lines, source, spans = data
    findings = [_finding(_fix(lines, *s), i) for i, s in enumerate(spans)]
    got = apply_fixes(source, findings, unsafe=unsafe)
    assert got == _reference(source, spans, unsafe)
    # order of findings does not matter
    assert apply_fixes(source, list(reversed(findings)), unsafe=unsafe) == got


def test_multi_edit_fix_is_all_or_nothing():
    src = "abcdef\n"
    both = Fix((Edit(1, 0, 1, 1, "A"), Edit(1, 4, 1, 5, "E")), safe=True, description="two")
    clash = Fix((Edit(1, 3, 1, 5, "Q"),), safe=True, description="clash")
    # `clash` starts later than `both`'s first edit, so `both` wins and `clash` waits a pass
    assert apply_fixes(src, [_finding(clash), _finding(both)]) == ("AbcdEf\n", 1)


def test_unsafe_needs_the_flag():
    src = "x = 1\n"
    fx = Fix((Edit(1, 4, 1, 5, "2"),), safe=False, description="u")
    assert apply_fixes(src, [_finding(fx)]) == (src, 0)
    assert apply_fixes(src, [_finding(fx)], unsafe=True) == ("x = 2\n", 1)


def test_edit_at_end_of_file_without_newline():
    fx = Fix((Edit(1, 5, 1, 5, "  # ok"),), safe=True, description="append")
    assert apply_fixes("x = 1", [_finding(fx)]) == ("x = 1  # ok", 1)
