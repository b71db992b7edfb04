"""A cheap bytes pre-filter: a file that cannot hold what the selected rules look at is not parsed.

Parsing with libcst costs ~5 s per MB of source; these checks cost ~0.1 s for the whole Keras
tree (11 MB). Each rule is looked at through *triggers*: a file is parsed when at least one
trigger of at least one selected rule says yes. A rule's triggers must cover everything the
rule can report on (a miss here is a silent miss of the linter), so they follow the
loss-function finder (``finder.py``); a test checks that the names below cover the finder's.

Every check starts with a plain ``bytes.find``/``in`` (memchr speed) and runs a regex or a
little Python only on the files that contain the literal. The checks are in ``prefilter_checks.py``;
this module turns rules into triggers and runs them (:class:`Prefilter`).

Where a rule gets its triggers (``triggers_for`` and ``literals_for``):
1. its own ``triggers`` class attribute (plugins set it; see ``Rule`` in ``rule.py``): literal
   substrings, one of which the file must contain (a plain ``in`` test), then the checks of its
   ``trigger_checks`` (by default the core's ``"loss-code"``): a plugin rule about loss code
   parses no file that the built-in rules would not. ``bytes`` regexes and the names in
   ``CHECKS`` are still accepted in ``triggers`` (plugin API 1); ``None`` means "always parse";
2. else the table of built-in rule codes below;
3. else, for a built-in rule, all the loss-code and model-code triggers; for a plugin rule,
   "always parse" (correct, only slower).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from functools import lru_cache

from losscheck.lint.prefilter_checks import CHECKS, GROUPS, LOSS_CODE, MODEL_CODE
from losscheck.regex_memo import installed_patterns

BUILTIN_TRIGGERS: dict[str, tuple[str, ...]] = {
    "LCK101": LOSS_CODE,
    "LCK102": LOSS_CODE,
    "LCK103": LOSS_CODE,
    "LCK104": LOSS_CODE,
    "LCK105": LOSS_CODE,
    "LCK201": LOSS_CODE + ("training-step-numpy",),
    "LCK301": LOSS_CODE,
    "LCK302": LOSS_CODE + ("keras-backend",),
    "LCK303": LOSS_CODE,
    "LCK401": LOSS_CODE,
    "LCK501": MODEL_CODE,
    "LCK502": MODEL_CODE,
    "LCK901": ("directives",),
    "LCK902": LOSS_CODE,
}
DEFAULT_CHECKS = ("loss-code",)  # what a plugin rule with literal triggers and no trigger_checks gets
_MISSING = object()


def _is_literal(trigger: object) -> bool:
    return isinstance(trigger, str) and trigger not in CHECKS


def _own_triggers(rule: object) -> tuple[tuple[str, ...], tuple[str | bytes, ...]] | None:
    """A rule class's own (literals, checks); None when it does not set ``triggers`` or sets None."""
    own = getattr(rule, "triggers", _MISSING)
    if own is _MISSING or own is None:
        return None
    own = tuple(own)  # type: ignore[arg-type]
    literals = tuple(t for t in own if _is_literal(t))
    checks = tuple(t for t in own if not _is_literal(t))  # plugin API 1: names and regexes
    extra = getattr(rule, "trigger_checks", _MISSING)
    if extra is not _MISSING:
        checks += tuple(extra)  # type: ignore[arg-type]
    elif literals and not checks:
        checks = DEFAULT_CHECKS
    return literals, checks


def triggers_for(rule: object) -> tuple[str | bytes, ...] | None:
    """The checks (names in ``CHECKS``, ``bytes`` regexes) of which one must say yes; None: no
    check (the file is parsed for the rule, when it holds one of ``literals_for(rule)``)."""
    if hasattr(rule, "trigger_values"):  # a cached RuleInfo (see rule_manifest.py)
        return rule.trigger_values()  # type: ignore[attr-defined,no-any-return]
    if getattr(rule, "triggers", _MISSING) is not _MISSING:
        own = _own_triggers(rule)
        if own is None:
            return None
        literals, checks = own
        return None if literals and not checks else checks  # literals alone: no check after them
    code = getattr(rule, "code", "")
    if code in BUILTIN_TRIGGERS:
        return BUILTIN_TRIGGERS[code]
    if getattr(rule, "origin", "losscheck") == "losscheck":
        return LOSS_CODE + MODEL_CODE
    return None


def literals_for(rule: object) -> tuple[str, ...] | None:
    """The literal substrings of which a file must contain one for the rule; None: no such test."""
    if hasattr(rule, "trigger_values"):  # a cached RuleInfo
        return getattr(rule, "literals", None)
    own = _own_triggers(rule)
    return own[0] if own is not None and own[0] else None


Part = tuple[object, Callable[[bytes], object]]  # (memo key, test)
Conjunction = tuple[Part, ...]  # holds when every part does
Condition = tuple[tuple[Conjunction, ...] | None, tuple[Conjunction, ...] | None]  # (literal gate, checks)

_ALL_OF_HEAD, _ALL_OF_SEP, _ALL_OF_TAIL = rb"(?s)\A(?=.*?(?:", rb"))(?=.*?(?:", rb"))"


def all_of(*patterns: bytes) -> bytes:
    """One regex that matches a file containing a match of every pattern, in any order. The
    pre-filter runs the patterns one by one (each with the regex engine's literal scan, and
    once per file when several triggers share one): on the torch pack's triggers that is
    three times faster than the lookaheads."""
    return _ALL_OF_HEAD + _ALL_OF_SEP.join(patterns) + _ALL_OF_TAIL


def all_of_parts(pattern: bytes) -> list[bytes] | None:
    """The patterns of an ``all_of`` regex, or None for any other regex. A split is trusted only
    when every part compiles alone (so the parentheses balance where ``all_of`` put them) and
    refers to no group (numbers and names would change meaning)."""
    if not (pattern.startswith(_ALL_OF_HEAD) and pattern.endswith(_ALL_OF_TAIL)):
        return None
    parts = pattern[len(_ALL_OF_HEAD) : len(pattern) - len(_ALL_OF_TAIL)].split(_ALL_OF_SEP)
    if all_of(*parts) != pattern or any(re.search(rb"\\[1-9]|\(\?P=", part) for part in parts):
        return None
    try:
        for part in parts:
            re.compile(part, re.DOTALL)
    except (re.error, RecursionError, OverflowError):
        return None
    return parts


def _has(needle: bytes) -> Callable[[bytes], bool]:
    return lambda data: needle in data


@lru_cache(maxsize=None)
def _conjunctions(code: str, trigger: str | bytes) -> tuple[Conjunction, ...]:
    """What a trigger asks, as alternatives of conjunctions of memoised tests."""
    if isinstance(trigger, bytes):
        with installed_patterns():  # a rule's own regexes: kept between runs (regex_memo.py)
            parts = all_of_parts(trigger)
            if parts is not None:
                return (tuple((part, re.compile(part, re.DOTALL).search) for part in parts),)
            return (((trigger, re.compile(trigger).search),),)
    if trigger not in CHECKS:
        raise ValueError(f"rule {code!r} names an unknown trigger {trigger!r}")
    return tuple(((name, CHECKS[name]),) for name in GROUPS.get(trigger, (trigger,)))


def _keys(alternatives: tuple[Conjunction, ...] | None) -> tuple[object, ...] | None:
    return None if alternatives is None else tuple(tuple(key for key, _ in c) for c in alternatives)


def _meets(memo: dict[object, bool], data: bytes, conjunction: Conjunction) -> bool:
    """Every test of ``conjunction`` holds on ``data``; each test runs at most once per ``memo``."""
    for key, test in conjunction:
        if key not in memo:
            memo[key] = bool(test(data))
        if not memo[key]:
            return False
    return True


class Prefilter:
    """The selected rules' triggers. ``select(data)`` names the rules worth running on a file
    (each literal test and check runs at most once per file); ``wants(data)``: is any?

    A rule is worth running when the file holds one of its literals (if it has any) and one
    of its checks says yes (if it has any). Rules with the same triggers (the ten loss-code
    rules, the five torch rules) are judged once per file."""

    def __init__(self, rules: Sequence[object]) -> None:
        self._conditions: list[Condition] = []
        self._codes: list[tuple[str, int]] = []  # (code, index of its condition)
        seen: dict[tuple[object, ...], int] = {}
        for rule in rules:
            code = getattr(rule, "code", "?")
            literals, checks = literals_for(rule), triggers_for(rule)
            gate = None if literals is None else tuple(((("literal", t), _has(t.encode("utf-8"))),) for t in literals)
            tests = None if checks is None else tuple(c for t in checks for c in _conjunctions(code, t))
            key = (_keys(gate), _keys(tests))
            if key not in seen:
                seen[key] = len(self._conditions)
                self._conditions.append((gate, tests))
            self._codes.append((code, seen[key]))

    def select(self, data: bytes) -> list[str]:
        memo: dict[object, bool] = {}

        def holds(conjunction: Conjunction) -> bool:
            return _meets(memo, data, conjunction)

        met = [
            (gate is None or any(holds(c) for c in gate)) and (tests is None or any(holds(c) for c in tests))
            for gate, tests in self._conditions
        ]
        return [code for code, condition in self._codes if met[condition]]

    def wants(self, data: bytes) -> bool:
        return bool(self.select(data))

    def part_test(self, whole: bytes, header: bytes) -> Callable[[bytes], bool] | None:
        """What makes a part of a file (a function, a class: ``focus.py``) matter to these rules:
        a test of the part, read after ``header`` (the file's imports). None when any part may
        matter: a rule that parses every file, a rule whose triggers the file does not meet (it
        runs anyway: ``migrate``), or a trigger that the header alone meets (``from keras import
        backend as K``: every use of ``K`` counts).

        A part matters when it meets one of the checks of a trigger that the whole file meets,
        other than the tests the header already meets: ``all_of(torch import, loss def)`` makes
        the loss defs matter, and ``all_of(loss call, activation)`` both the loss calls and the
        activations, wherever each is.

        A rule's literals do not make a part matter. They gate the file (a word that has to be
        somewhere in it: ``torch``, ``softmax``), and most parts that hold the word have nothing
        to do with the rule (``backend() == "torch"`` in a test); what the rule follows from the
        parts its checks meet (the model a ``compile`` call names, the helper a loss calls, the
        callers of a loss) is kept because those parts mention it. On the Keras tree this
        leaves 9% less text to parse (783 -> 714 k non-blank characters) with the same
        findings, focused and whole, on every file of the real-world corpus and of the
        installed Keras, TensorFlow, tf_keras, torch and jax."""
        tests: dict[object, Callable[[bytes], object]] = {}
        on_whole: dict[object, bool] = {}
        on_header: dict[object, bool] = {}
        meets = _meets
        for gate, checks in self._conditions:
            if checks is None:
                return None
            gate_met = [c for c in gate or () if meets(on_whole, whole, c)]
            checks_met = [c for c in checks if meets(on_whole, whole, c)]
            if (gate and not gate_met) or not checks_met:
                # the rule runs on a file its triggers would not parse (``migrate``, a direct
                # ``lint_source``): what it looks at there is not known
                return None
            for conjunction in checks_met:  # not gate_met: see above
                apart = [(key, test) for key, test in conjunction if not meets(on_header, header, ((key, test),))]
                if not apart:
                    return None
                tests.update(apart)
        found = list(tests.values())

        def matters(part: bytes) -> bool:
            data = header + part
            return any(test(data) for test in found)

        return matters
