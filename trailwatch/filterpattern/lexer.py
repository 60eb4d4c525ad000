"""Character scanner shared by the term, JSON and space-delimited parsers.

Every syntax error is raised as :class:`trailwatch.errors.PatternError` with the 0-based offset into
the *whole* pattern text and a message that says what was expected.
"""

from __future__ import annotations

import string

from trailwatch.errors import PatternError

#: Characters allowed in an unquoted value (JSON and space-delimited conditions).  AWS documents
#: "alphanumeric" plus the obvious needs of its own examples (``123.123.*``, ``kms.amazonaws.com``,
#: ``+1000``, ``10e-3``); ``:`` and ``/`` are accepted because they are not syntax anywhere.
UNQUOTED_CHARS = frozenset(string.ascii_letters + string.digits + "_-.*+:/")
NAME_CHARS = frozenset(string.ascii_letters + string.digits + "_-")
WHITESPACE = frozenset(" \t\r\n\f\v")

#: Parenthesis nesting limit: keeps the recursive-descent parser far from Python's recursion limit.
MAX_NESTING = 64


def describe(ch: str) -> str:
    """How an offending character is named in messages."""
    return "end of pattern" if ch == "" else repr(ch)


class Scanner:
    """A cursor over the pattern text.  ``pos`` is always an offset into the full pattern."""

    __slots__ = ("text", "pos", "end")

    def __init__(self, text: str, pos: int = 0, end: int | None = None):
        self.text = text
        self.pos = pos
        self.end = len(text) if end is None else end

    # -- errors -----------------------------------------------------------------------------
    def error(self, message: str, pos: int | None = None) -> PatternError:
        return PatternError(message, self.pos if pos is None else pos, self.text)

    def expected(self, what: str, pos: int | None = None) -> PatternError:
        at = self.pos if pos is None else pos
        found = self.peek_at(at)
        if found in NAME_CHARS:  # name the whole word, not just its first letter
            stop = at
            while stop < self.end and stop - at < 24 and self.text[stop] in NAME_CHARS:
                stop += 1
            found = self.text[at:stop]
        return self.error(f"expected {what}, found {describe(found)}", at)

    # -- looking ----------------------------------------------------------------------------
    def peek(self, k: int = 0) -> str:
        i = self.pos + k
        return self.text[i] if i < self.end else ""

    def peek_at(self, i: int) -> str:
        return self.text[i] if 0 <= i < self.end else ""

    def at_end(self) -> bool:
        return self.pos >= self.end

    def startswith(self, s: str) -> bool:
        return self.text.startswith(s, self.pos, self.end)

    def word_at(self, word: str) -> bool:
        """True if ``word`` starts here and is not followed by another name character."""
        if not self.startswith(word):
            return False
        nxt = self.peek_at(self.pos + len(word))
        return nxt == "" or nxt not in NAME_CHARS

    # -- moving -----------------------------------------------------------------------------
    def skip_ws(self) -> None:
        text, end, i = self.text, self.end, self.pos
        while i < end and text[i] in WHITESPACE:
            i += 1
        self.pos = i

    def expect(self, token: str, what: str | None = None) -> int:
        """Consume ``token`` or raise ``expected <what>``; returns the token's position."""
        if not self.startswith(token):
            raise self.expected(what or repr(token))
        start = self.pos
        self.pos += len(token)
        return start

    def read_while(self, allowed: frozenset[str]) -> str:
        text, end, i = self.text, self.end, self.pos
        while i < end and text[i] in allowed:
            i += 1
        out = text[self.pos:i]
        self.pos = i
        return out

    def read_quoted(self) -> tuple[list[str], int]:
        """Read a ``"..."`` string starting at the opening quote.

        Returns the text split into literal segments at every unescaped ``*`` (so a string without
        wildcards is one segment) and the position of the opening quote.  Escapes: ``\\"``, ``\\\\``
        and ``\\*`` give the character itself; a backslash before anything else is kept literally.
        """
        start = self.pos
        text, end = self.text, self.end
        i = start + 1
        segments: list[str] = []
        buf: list[str] = []
        while True:
            if i >= end:
                raise self.error("expected '\"' to close the string opened here", start)
            ch = text[i]
            if ch == '"':
                break
            if ch == "\\" and i + 1 < end and text[i + 1] in '"\\*':
                buf.append(text[i + 1])
                i += 2
                continue
            if ch == "*":
                segments.append("".join(buf))
                buf = []
            else:
                buf.append(ch)
            i += 1
        segments.append("".join(buf))
        self.pos = i + 1
        return segments, start

    def read_regex(self) -> tuple[str, int]:
        """Read a ``%...%`` regular expression starting at the opening ``%``.

        Returns the body (without the ``%`` delimiters) and the offset of its first character.
        """
        start = self.pos
        close = self.text.find("%", start + 1, self.end)
        if close < 0:
            raise self.error("expected '%' to close the regular expression opened here", start)
        if close == start + 1:
            raise self.error("expected a regular expression between '%' and '%'", start + 1)
        self.pos = close + 1
        return self.text[start + 1:close], start + 1
