"""JSON property selectors (``$.a.b[0].c``): parsing and fast getter closures."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from .lexer import NAME_CHARS, Scanner
from .values import MISSING

Step = str | int  # a property name or an array index
Getter = Callable[[Any], Any]


@dataclass(frozen=True)
class Selector:
    path: tuple[Step, ...]
    text: str
    pos: int

    def getter(self) -> Getter:
        """The value this selector picks in a parsed JSON object, or :data:`MISSING` (see :func:`make_getter`)."""
        return make_getter(self.path)


def parse_selector(sc: Scanner) -> Selector:
    """``$`` followed by one or more ``.name`` / ``[index]`` steps; the first step is a name.

    Names are ASCII letters, digits, ``-`` and ``_`` (AWS's documented alphabet).
    """
    start = sc.pos
    if sc.peek() != "$":
        raise sc.expected("a selector starting with '$.'")
    sc.pos += 1
    if sc.peek() != ".":
        raise sc.expected("'.' after '$' (selectors look like $.field or $.list[0].field)")
    path: list[Step] = []
    while True:
        ch = sc.peek()
        if ch == ".":
            sc.pos += 1
            name = sc.read_while(NAME_CHARS)
            if not name:
                raise sc.expected("a property name after '.' (letters, digits, '-' or '_')")
            path.append(name)
        elif ch == "[":
            bracket = sc.pos
            sc.pos += 1
            digits = sc.read_while(_DIGITS)
            if not digits:
                raise sc.expected("an array index (digits) after '['")
            if sc.peek() != "]":
                raise sc.expected(f"']' to close the array index opened at position {bracket}")
            sc.pos += 1
            if len(digits) > 9:
                raise sc.error("expected an array index below 1000000000", bracket + 1)
            path.append(int(digits))
        else:
            break
    return Selector(tuple(path), sc.text[start:sc.pos], start)


_DIGITS = frozenset("0123456789")


def parse_selector_text(text: str) -> Selector:
    """Parse a whole string as a selector (used for metric values and dimensions)."""
    sc = Scanner(text)
    sel = parse_selector(sc)
    if not sc.at_end():
        raise sc.expected("end of selector")
    return sel


def make_getter(path: tuple[Step, ...]) -> Getter:
    """A closure returning the value at ``path`` in a parsed JSON object, or :data:`MISSING`.

    The argument must be a ``dict``.  An index step only descends into a ``list``; a name step only
    into a ``dict`` (so ``"abc"[0]`` never happens).
    """
    if all(type(s) is str for s in path):
        if len(path) == 1:
            (k,) = path

            def get1(e: Any) -> Any:
                return e.get(k, MISSING)

            return get1
        if len(path) == 2:
            k1, k2 = path

            def get2(e: Any) -> Any:
                v = e.get(k1, MISSING)
                if isinstance(v, dict):
                    return v.get(k2, MISSING)
                return MISSING

            return get2
        if len(path) == 3:
            k1, k2, k3 = path

            def get3(e: Any) -> Any:
                v = e.get(k1, MISSING)
                if isinstance(v, dict):
                    v = v.get(k2, MISSING)
                    if isinstance(v, dict):
                        return v.get(k3, MISSING)
                return MISSING

            return get3
    steps = tuple((type(s) is int, s) for s in path)

    def get(e: Any) -> Any:
        v = e
        for is_index, s in steps:
            if is_index:
                if isinstance(v, list) and s < len(v):
                    v = v[s]
                else:
                    return MISSING
            elif isinstance(v, dict):
                v = v.get(s, MISSING)
                if v is MISSING:
                    return MISSING
            else:
                return MISSING
        return v

    return get

