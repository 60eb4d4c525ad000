"""JSON filter patterns ``{ ... }``: parser, syntax tree and compilation to closures.

Grammar (whitespace allowed between tokens)::

    pattern   := '{' or_expr '}'
    or_expr   := and_expr ('||' and_expr)*          # && binds tighter than ||
    and_expr  := primary ('&&' primary)*
    primary   := '(' or_expr ')' | condition
    condition := selector (op value | 'IS' ('NULL'|'TRUE'|'FALSE') | 'NOT' 'EXISTS')
    op        := '=' | '!=' | '<' | '<=' | '>' | '>='
    value     := '"quoted"' | '%regex%' | unquoted      # '*' is a wildcard in '=' / '!=' values
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from trailwatch.errors import PatternError

from .lexer import MAX_NESTING, Scanner
from .selectors import Selector, make_getter, parse_selector
from .values import (
    MISSING,
    Literal,
    comparison_predicate,
    parse_operand,
    read_operator,
)

Matcher = Callable[[Any], bool]

#: AWS quota: at most two regular expressions in one JSON or space-delimited pattern.
MAX_REGEXES = 2


@dataclass(frozen=True)
class Condition:
    selector: Selector
    op: str  # '=', '!=', '<', '<=', '>', '>=', 'IS NULL', 'IS TRUE', 'IS FALSE', 'NOT EXISTS'
    literal: Literal | None
    pos: int


@dataclass(frozen=True)
class And:
    items: tuple["Node", ...]


@dataclass(frozen=True)
class Or:
    items: tuple["Node", ...]


Node = Condition | And | Or


# -- parsing -----------------------------------------------------------------------------------

def parse_json_pattern(text: str, start: int) -> Node:
    """Parse the JSON pattern whose ``{`` is at ``text[start]``; nothing but whitespace may follow."""
    sc = Scanner(text, start)
    open_pos = sc.expect("{")
    sc.skip_ws()
    if sc.peek() == "}":
        raise sc.error("expected a condition such as '$.field = value' inside '{ }', found '}'")
    node = _or_expr(sc, 0, "'{'")
    sc.skip_ws()
    if sc.at_end():
        raise sc.error(f"expected '}}' to close the JSON pattern opened at position {open_pos}, found end of pattern")
    if sc.peek() != "}":
        raise sc.expected("'&&', '||' or '}'")
    sc.pos += 1
    sc.skip_ws()
    if not sc.at_end():
        raise sc.expected("end of pattern after the closing '}'")
    regexes = [c.literal.pos for c in iter_conditions(node) if c.literal is not None and c.literal.regex is not None]
    if len(regexes) > MAX_REGEXES:
        raise PatternError(f"expected at most {MAX_REGEXES} regular expressions in one JSON pattern", regexes[MAX_REGEXES], text)
    return node


def _or_expr(sc: Scanner, depth: int, after: str) -> Node:
    items = [_and_expr(sc, depth, after)]
    while True:
        sc.skip_ws()
        if sc.startswith("||"):
            sc.pos += 2
            items.append(_and_expr(sc, depth, "'||'"))
        elif sc.peek() == "|":
            raise sc.expected("'||'")
        else:
            break
    return items[0] if len(items) == 1 else Or(tuple(items))


def _and_expr(sc: Scanner, depth: int, after: str) -> Node:
    items = [_primary(sc, depth, after)]
    while True:
        sc.skip_ws()
        if sc.startswith("&&"):
            sc.pos += 2
            items.append(_primary(sc, depth, "'&&'"))
        elif sc.peek() == "&":
            raise sc.expected("'&&'")
        else:
            break
    return items[0] if len(items) == 1 else And(tuple(items))


def _primary(sc: Scanner, depth: int, after: str) -> Node:
    sc.skip_ws()
    ch = sc.peek()
    if ch == "(":
        if depth >= MAX_NESTING:
            raise sc.error(f"expected at most {MAX_NESTING} nested parentheses")
        open_pos = sc.pos
        sc.pos += 1
        node = _or_expr(sc, depth + 1, "'('")
        sc.skip_ws()
        if sc.peek() != ")":
            raise sc.expected(f"')' to close the '(' at position {open_pos}")
        sc.pos += 1
        return node
    if ch == "$":
        return _condition(sc)
    raise sc.expected(f"a condition ('$.field ...') or '(' after {after}")


def _condition(sc: Scanner) -> Condition:
    start = sc.pos
    sel = parse_selector(sc)
    sc.skip_ws()
    if sc.word_at("IS"):
        sc.pos += 2
        sc.skip_ws()
        for kw in ("NULL", "TRUE", "FALSE"):
            if sc.word_at(kw):
                sc.pos += len(kw)
                return Condition(sel, "IS " + kw, None, start)
        if sc.word_at("NOT"):
            raise sc.expected("NULL, TRUE or FALSE after 'IS' ('IS NOT' is not supported)")
        raise sc.expected("NULL, TRUE or FALSE after 'IS'")
    if sc.word_at("NOT"):
        sc.pos += 3
        sc.skip_ws()
        if not sc.word_at("EXISTS"):
            raise sc.expected("EXISTS after 'NOT'")
        sc.pos += 6
        return Condition(sel, "NOT EXISTS", None, start)
    if sc.word_at("EXISTS"):
        raise sc.expected("an operator or NOT EXISTS ('EXISTS' alone is not supported)")
    op_pos = sc.pos
    op = read_operator(sc)
    if op is None:
        raise sc.expected("an operator (=, !=, <, <=, >, >=), IS NULL, IS TRUE, IS FALSE or NOT EXISTS after the selector")
    return Condition(sel, op, parse_operand(sc, op, op_pos), start)


def iter_conditions(node: Node):
    if isinstance(node, Condition):
        yield node
    else:
        for item in node.items:
            yield from iter_conditions(item)


# -- compilation -------------------------------------------------------------------------------

def compile_json(node: Node) -> Matcher:
    """Closure ``f(obj: dict) -> bool`` for a parsed pattern."""
    return _compile(node)[0]


def _compile(node: Node) -> tuple[Matcher, int]:
    """Returns (matcher, cost rank); cheaper matchers run first inside && and ||."""
    if isinstance(node, Condition):
        return _compile_condition(node)
    if isinstance(node, Or):
        return _compile_or(node)
    parts = sorted((_compile(item) for item in node.items), key=lambda fc: fc[1])
    return _all_of([f for f, _ in parts]), max(c for _, c in parts) + 1


def _compile_condition(c: Condition) -> tuple[Matcher, int]:
    path = c.selector.path
    get = make_getter(path)
    op = c.op
    if op == "NOT EXISTS":
        return (lambda e: get(e) is MISSING), 1
    if op == "IS NULL":
        return (lambda e: get(e) is None), 1
    if op == "IS TRUE":
        return (lambda e: get(e) is True), 1
    if op == "IS FALSE":
        return (lambda e: get(e) is False), 1
    lit = c.literal
    assert lit is not None
    plain = lit.plain_string if op == "=" else None
    if plain is not None:
        if len(path) == 1:
            (key,) = path
            return (lambda e: e.get(key) == plain), 0
        return (lambda e: get(e) == plain), 0
    pred = comparison_predicate(op, lit)
    return (lambda e: pred(get(e))), (3 if lit.regex is not None else 1)


def _compile_or(node: Or) -> tuple[Matcher, int]:
    # Collapse `$.x = A || $.x = B || ...` into one set-membership test per selector.
    groups: dict[tuple, list[str]] = {}
    rest: list[Node] = []
    for item in node.items:
        if isinstance(item, Condition) and item.op == "=" and item.literal is not None and item.literal.plain_string is not None:
            groups.setdefault(item.selector.path, []).append(item.literal.plain_string)
        else:
            rest.append(item)
    parts: list[tuple[Matcher, int]] = []
    for path, values in groups.items():
        parts.append((_membership(path, frozenset(values)), 0))
    parts.extend(_compile(item) for item in rest)
    parts.sort(key=lambda fc: fc[1])
    return _any_of([f for f, _ in parts]), max(c for _, c in parts) + (1 if len(parts) > 1 else 0)


def _membership(path: tuple, values: frozenset[str]) -> Matcher:
    if len(values) == 1:
        (only,) = values
        if len(path) == 1:
            (key,) = path
            return lambda e: e.get(key) == only
        get1 = make_getter(path)
        return lambda e: get1(e) == only
    get = make_getter(path)

    def member(e: Any) -> bool:
        v = get(e)
        return type(v) is str and v in values

    return member


def _all_of(fs: list[Matcher]) -> Matcher:
    if len(fs) == 1:
        return fs[0]
    if len(fs) == 2:
        a, b = fs
        return lambda e: a(e) and b(e)
    if len(fs) == 3:
        a, b, c = fs
        return lambda e: a(e) and b(e) and c(e)
    funcs = tuple(fs)

    def all_of(e: Any) -> bool:
        for f in funcs:
            if not f(e):
                return False
        return True

    return all_of


def _any_of(fs: list[Matcher]) -> Matcher:
    if len(fs) == 1:
        return fs[0]
    if len(fs) == 2:
        a, b = fs
        return lambda e: a(e) or b(e)
    funcs = tuple(fs)

    def any_of(e: Any) -> bool:
        for f in funcs:
            if f(e):
                return True
        return False

    return any_of
