"""Comparison values (right-hand sides) and the predicates they compile to.

A predicate takes one JSON value (``str``, ``int``, ``float``, ``bool``, ``None``, ``list``,
``dict`` or :data:`MISSING`) and returns a bool.  Space-delimited fields are always ``str``.
Only strings and numbers are "value nodes": booleans, null, objects, arrays and missing fields make
every comparison (``=``, ``!=``, ``<`` ...) false.
"""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass
from typing import Any, Callable

from trailwatch.errors import PatternError

from .lexer import UNQUOTED_CHARS, Scanner
from .regex import compile_regex, linear


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "MISSING"


#: Returned by selector getters when the path does not exist in the event.
MISSING: Any = _Missing()

NUMBER_RE = re.compile(r"[+-]?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?\Z")
_NUMBER_MATCH = NUMBER_RE.match

Predicate = Callable[[Any], bool]

EQUALITY_OPS = ("=", "!=")
RELATIONAL_OPS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}
COMPARISON_OPS = ("!=", "<=", ">=", "=", "<", ">")  # longest first for lexing


def parse_number(text: str) -> int | float | None:
    """The number ``text`` spells (AWS syntax: sign, digits, decimals, exponent), else None."""
    if _NUMBER_MATCH(text) is None:
        return None
    if "." in text or "e" in text or "E" in text:
        try:
            value = float(text)
        except (ValueError, OverflowError):  # pragma: no cover - the regex admits only valid floats
            return None
        return value if value == value and value not in (float("inf"), float("-inf")) else None
    return int(text)


def number_text(v: int | float) -> str:
    """Text of a JSON number as the engine compares it against strings and wildcards."""
    return str(v) if type(v) is int else repr(v)


@dataclass(frozen=True)
class Literal:
    """A comparison value.  ``segments`` are the literal pieces between ``*`` wildcards."""

    text: str
    segments: tuple[str, ...]
    quoted: bool
    number: int | float | None
    regex: Any  # a compiled RE2 expression, or None
    pos: int

    @property
    def is_plain(self) -> bool:
        """No wildcard, no regex."""
        return self.regex is None and len(self.segments) == 1

    @property
    def plain_string(self) -> str | None:
        """The exact string this literal equals, if it can only ever equal that *string* value.

        That is the case for plain literals whose text is not a number (so no number can match it);
        these drive the fast set-membership path and the prefilter.
        """
        if self.is_plain and _NUMBER_MATCH(self.text) is None:
            return self.text
        return None


def parse_value(sc: Scanner, after: str) -> Literal:
    """Parse a comparison value at the scanner: ``"quoted"``, ``%regex%`` or an unquoted token."""
    ch = sc.peek()
    start = sc.pos
    if ch == '"':
        segments, _ = sc.read_quoted()
        return Literal("*".join(segments), tuple(segments), True, None, None, start)
    if ch == "%":
        body, offset = sc.read_regex()
        return Literal(f"%{body}%", (body,), False, None, compile_regex(body, offset, sc.text), start)
    token = sc.read_while(UNQUOTED_CHARS)
    if not token:
        raise sc.expected(f"a value after {after!r}")
    segments = tuple(token.split("*"))
    number = parse_number(token) if len(segments) == 1 else None
    return Literal(token, segments, False, number, None, start)


def parse_operand(sc: Scanner, op: str, op_pos: int) -> Literal:
    """The value after comparison operator ``op`` (at ``op_pos``): ``< <= > >=`` need a number, not a regex."""
    sc.skip_ws()
    lit = parse_value(sc, op)
    if op in RELATIONAL_OPS:
        if lit.regex is not None:
            raise PatternError(f"expected '=' or '!=' before a regular expression, found {op!r}", op_pos, sc.text)
        if lit.number is None:
            raise PatternError(f"expected a number after {op!r}, found {lit.text!r}", lit.pos, sc.text)
    return lit


# -- predicate construction --------------------------------------------------------------------

def text_matcher(segments: tuple[str, ...]) -> Callable[[str], bool]:
    """Predicate over a ``str`` for a wildcard string split into ``segments``."""
    segs = list(segments)
    if len(segs) > 2:  # collapse empty middle pieces: a**b == a*b
        segs = [segs[0]] + [s for s in segs[1:-1] if s] + [segs[-1]]
    if len(segs) == 1:
        text = segs[0]
        return lambda s: s == text
    if len(segs) == 2:
        head, tail = segs
        if not head and not tail:
            return lambda s: True
        if not tail:
            return lambda s: s.startswith(head)
        if not head:
            return lambda s: s.endswith(tail)
        need = len(head) + len(tail)
        return lambda s: len(s) >= need and s.startswith(head) and s.endswith(tail)
    if len(segs) == 3 and not segs[0] and not segs[2]:
        middle = segs[1]
        return lambda s: middle in s
    full = linear(".*".join(re.escape(s) for s in segs)).fullmatch  # linear time for any number of '*'
    return lambda s: full(s) is not None


def eq_predicate(lit: Literal) -> Predicate:
    """``value = lit`` for any JSON value (false for non-strings/non-numbers)."""
    if lit.regex is not None:
        search = lit.regex.search

        def eq_regex(v: Any) -> bool:
            t = type(v)
            if t is str:
                return search(v) is not None
            if t is int or t is float:
                return search(number_text(v)) is not None
            return False

        return eq_regex
    if not lit.is_plain:
        match = text_matcher(lit.segments)

        def eq_glob(v: Any) -> bool:
            t = type(v)
            if t is str:
                return match(v)
            if t is int or t is float:
                return match(number_text(v))
            return False

        return eq_glob
    text = lit.text
    plain = lit.plain_string
    if plain is not None:
        return lambda v: v == plain  # a str never equals a non-str; no number has this text
    num = lit.number
    if num is None:  # quoted numeric-looking text: compare strings, and numbers by their text

        def eq_text(v: Any) -> bool:
            t = type(v)
            if t is str:
                return v == text
            if t is int or t is float:
                return number_text(v) == text
            return False

        return eq_text

    def eq_number(v: Any) -> bool:
        t = type(v)
        if t is int or t is float:
            return v == num
        if t is str:
            if v == text:
                return True
            other = parse_number(v)
            return other is not None and other == num
        return False

    return eq_number


def is_value_node(v: Any) -> bool:
    t = type(v)
    return t is str or t is int or t is float


def ne_predicate(lit: Literal) -> Predicate:
    """``value != lit``: only string/number values can be unequal; missing fields do not match."""
    eq = eq_predicate(lit)
    plain = lit.plain_string
    if plain is not None:

        def ne_plain(v: Any) -> bool:
            t = type(v)
            return (t is str and v != plain) or t is int or t is float

        return ne_plain

    def ne(v: Any) -> bool:
        t = type(v)
        return (t is str or t is int or t is float) and not eq(v)

    return ne


def relational_predicate(op: str, lit: Literal) -> Predicate:
    """``value <op> number``; numeric strings are compared as numbers, other values never match."""
    cmp = RELATIONAL_OPS[op]
    num = lit.number

    def rel(v: Any) -> bool:
        t = type(v)
        if t is int or t is float:
            return cmp(v, num)
        if t is str:
            other = parse_number(v)
            return other is not None and cmp(other, num)
        return False

    return rel


def comparison_predicate(op: str, lit: Literal) -> Predicate:
    if op == "=":
        return eq_predicate(lit)
    if op == "!=":
        return ne_predicate(lit)
    return relational_predicate(op, lit)


def read_operator(sc: Scanner) -> str | None:
    for op in COMPARISON_OPS:
        if sc.startswith(op):
            sc.pos += len(op)
            return op
    return None
