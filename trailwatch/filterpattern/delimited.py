"""Space-delimited patterns ``[ip, user, ..., status_code = 4*, bytes > 1000]``.

Grammar::

    pattern := '[' ']' | '[' field (',' field)* ']'                # '[]' reads as '[...]'
    field   := '...' | name [cond (('&&' | '||') name cond)*]      # && binds tighter than ||
    cond    := op value                                            # op: = != < <= > >=

Every condition inside one field must test that field (``status_code = 4* && bytes > 1000`` is
rejected: AWS answers "Invalid filter pattern" for it); the name is compared without case there, as
AWS's own example ``[w1=ERROR || W1=WARNING, w2]`` spells it.  Field names are ASCII letters, digits,
``_`` and ``-``, starting with a letter or ``_``, and must be unique.  A comma right before the
closing ``]`` adds one unnamed field (AWS's ``[..., request=*.html*, status_code=4*,]``); unnamed
fields and the fields an ellipsis covers are extracted by position (``$7``), as TestMetricFilter
reports them.

Log lines are split into fields at runs of whitespace; text between ``"..."`` or ``[...]`` is one
field (without the delimiters).  Without ``...`` the line must have exactly as many fields as the
pattern; each ``...`` stands for any number (zero or more) of fields.

``[]`` (no field at all) is read as ``[...]``: it names nothing and tests nothing, so every event matches
and its tokens are extracted by position, as for the empty pattern.  AWS does not document it
(docs/filter-patterns.md).
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from typing import Callable

from trailwatch.errors import PatternError

from .json_pattern import MAX_REGEXES
from .lexer import NAME_CHARS, Scanner
from .values import Literal, comparison_predicate, parse_operand, read_operator

TokenPredicate = Callable[[str], bool]
UNNAMED = ""  # the name of the field a trailing comma adds
_NAME_START = frozenset(string.ascii_letters + "_")


@dataclass(frozen=True)
class Comparison:
    op: str
    literal: Literal
    pos: int


@dataclass(frozen=True)
class Field:
    name: str | None  # None: the '...' ellipsis; UNNAMED: a field without a name
    alternatives: tuple[tuple[Comparison, ...], ...]  # OR of ANDs; empty: no condition
    pos: int


def parse_delimited(text: str, start: int) -> list[Field]:
    sc = Scanner(text, start)
    open_pos = sc.expect("[")
    sc.skip_ws()
    if sc.peek() == "]":  # "[]": every event, as "[...]"
        sc.pos += 1
        _expect_end(sc)
        return [Field(None, (), open_pos)]
    fields: list[Field] = []
    seen: dict[str, int] = {}
    while True:
        sc.skip_ws()
        field = _field(sc)
        if field.name:
            if field.name in seen:
                raise sc.error(f"expected a unique field name; {field.name!r} is already used at position {seen[field.name]}", field.pos)
            seen[field.name] = field.pos
        fields.append(field)
        sc.skip_ws()
        if sc.peek() == ",":
            sc.pos += 1
            sc.skip_ws()
            if sc.peek() == "]":  # trailing comma: one unnamed field
                fields.append(Field(UNNAMED, (), sc.pos))
                sc.pos += 1
                break
            continue
        if sc.peek() == "]":
            sc.pos += 1
            break
        if sc.at_end():
            raise sc.error(f"expected ']' to close the '[' at position {open_pos}, found end of pattern")
        raise sc.expected("',' or ']' after the field")
    _expect_end(sc)
    regexes = [c.literal.pos for f in fields for alt in f.alternatives for c in alt if c.literal.regex is not None]
    if len(regexes) > MAX_REGEXES:
        raise PatternError(f"expected at most {MAX_REGEXES} regular expressions in one space-delimited pattern", regexes[MAX_REGEXES], text)
    return fields


def _expect_end(sc: Scanner) -> None:
    sc.skip_ws()
    if not sc.at_end():
        raise sc.expected("end of pattern after the closing ']'")


def _name(sc: Scanner, what: str) -> str:
    if sc.at_end() or sc.peek() not in _NAME_START:
        raise sc.expected(what)
    return sc.read_while(NAME_CHARS)


def _field(sc: Scanner) -> Field:
    pos = sc.pos
    if sc.startswith("..."):
        sc.pos += 3
        return Field(None, (), pos)
    name = _name(sc, "a field name (a letter or '_' first) or '...'")
    sc.skip_ws()
    if sc.peek() in (",", "]") or sc.at_end():
        return Field(name, (), pos)
    alternatives: list[list[Comparison]] = [[_comparison(sc)]]
    while True:
        sc.skip_ws()
        if sc.startswith("&&"):
            sc.pos += 2
            new_alt = False
        elif sc.startswith("||"):
            sc.pos += 2
            new_alt = True
        elif sc.peek() in ("&", "|"):
            raise sc.expected("'&&' or '||'")
        else:
            break
        sc.skip_ws()
        at = sc.pos
        other = _name(sc, f"the field name {name!r} after the logical operator")
        if other.lower() != name.lower():
            raise sc.error(f"expected the field name {name!r} (a condition may only test its own field), found {other!r}", at)
        sc.skip_ws()
        cmp = _comparison(sc)
        if new_alt:
            alternatives.append([cmp])
        else:
            alternatives[-1].append(cmp)
    return Field(name, tuple(tuple(a) for a in alternatives), pos)


def _comparison(sc: Scanner) -> Comparison:
    pos = sc.pos
    op = read_operator(sc)
    if op is None:
        raise sc.expected("an operator (=, !=, <, <=, >, >=), ',' or ']' after the field name")
    return Comparison(op, parse_operand(sc, op, pos), pos)


# -- log lines ---------------------------------------------------------------------------------

_TOKEN_RE = re.compile(r'"([^"]*)"?|\[([^\]]*)\]?|([^ \t\r\n\f\v]+)')


def split_fields(line: str) -> list[str]:
    """Split a log line into fields; ``"..."`` and ``[...]`` group (an unclosed one runs to the end)."""
    out = []
    for m in _TOKEN_RE.finditer(line):
        quoted, bracketed, bare = m.groups()
        out.append(quoted if quoted is not None else bracketed if bracketed is not None else bare)
    return out


# -- compilation -------------------------------------------------------------------------------

Assigner = Callable[[list[str]], "list[int] | None"]


def _all(preds: tuple[TokenPredicate, ...]) -> TokenPredicate:
    if len(preds) == 1:
        return preds[0]
    return lambda s: all(p(s) for p in preds)


def _field_predicate(field: Field) -> TokenPredicate | None:
    if not field.alternatives:
        return None
    alts = tuple(_all(tuple(comparison_predicate(c.op, c.literal) for c in alt)) for alt in field.alternatives)
    if len(alts) == 1:
        return alts[0]
    return lambda s: any(p(s) for p in alts)


def compile_delimited(fields: list[Field]) -> tuple[Assigner, tuple[str, ...]]:
    """Returns (assign, names): ``assign(tokens)`` gives the token index of every field that is not an
    ellipsis (in pattern order; UNNAMED ones included, named ``""``) when the line matches, else None."""
    names = tuple(f.name for f in fields if f.name is not None)
    segments: list[list[TokenPredicate | None]] = [[]]
    for f in fields:
        if f.name is None:
            segments.append([])
        else:
            segments[-1].append(_field_predicate(f))
    if len(segments) == 1:
        preds = segments[0]
        count = len(preds)
        checks = tuple((i, p) for i, p in enumerate(preds) if p is not None)
        indexes = list(range(count))

        def assign_fixed(tokens: list[str]) -> list[int] | None:
            if len(tokens) != count:
                return None
            for i, p in checks:
                if not p(tokens[i]):
                    return None
            return indexes

        return assign_fixed, names

    head, *middle, tail = segments
    need = sum(len(s) for s in segments)

    def fits(seg: list[TokenPredicate | None], tokens: list[str], at: int) -> bool:
        for j, p in enumerate(seg):
            if p is not None and not p(tokens[at + j]):
                return False
        return True

    def assign_ellipsis(tokens: list[str]) -> list[int] | None:
        n = len(tokens)
        if n < need or not fits(head, tokens, 0) or not fits(tail, tokens, n - len(tail)):
            return None
        out = list(range(len(head)))
        lo, hi = len(head), n - len(tail)
        for seg in middle:
            for at in range(lo, hi - len(seg) + 1):
                if fits(seg, tokens, at):
                    out.extend(range(at, at + len(seg)))
                    lo = at + len(seg)
                    break
            else:
                return None
        out.extend(range(hi, n))
        return out

    return assign_ellipsis, names
