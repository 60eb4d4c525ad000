"""AWS's regular-expression subset (``%...%``), validated, then compiled by RE2 (linear time).

The validator keeps AWS's restrictions; the translated expression runs on RE2 (``google-re2``), whose
matching time is linear in the text, so no pattern (``%.*.*.*.*;%`` on a long line) can make ``replay``,
``match`` or ``plan`` hang the way a backtracking engine would. RE2 caps a counted repetition at 1000
and its compiled program at ``_RE2_MEMORY`` bytes; a pattern past either is rejected with a PatternError.

AWS documents that a filter-pattern regex may contain ASCII letters and digits; symbols that "include"
``: _ # = @ / ; , -``; and operators that "include" ``^ $ ? [ ] { } | \\ * + .`` ("Supported regular
expressions (regex) syntax", docs.aws.amazon.com/AmazonCloudWatch/latest/logs/regex-expressions.html).
Parentheses (groups) and multi-byte characters are not supported, and ``%something!%`` is AWS's own
example of a rejected pattern.  The lists say "include", and AWS's own CDK reference writes a regex with
spaces (``FilterPattern.regexValue('$.message', '=', 'bind: address already in use')``, rendered
``{ $.message = %bind: address already in use% }``), so a space (U+0020) is accepted as itself.
Everything else (a tab, ``!``, ``'``, ``(`` ...) is rejected with a :class:`PatternError`.

Choices where AWS is silent (documented in the package docstring too):

* ``\\d \\D \\s \\S \\w \\W`` are ASCII classes (AWS's own example uses ``\\d``); a backslash before
  any other ASCII punctuation makes it literal (``\\.``, ``\\[``, ``\\%`` is impossible since ``%``
  ends the regex); a backslash before a letter or digit other than those six is rejected.
* A quantifier must follow a character, ``.``, a class or an escape; stacked quantifiers
  (``a**``, ``a+?``, ``a{2}*``) are rejected, so laziness/possessiveness never arise.
* Empty alternatives (``a|``, ``|a``, ``a||b``) are rejected.
* ``.`` matches any character including newline; ``$`` anchors at the very end (never before a
  trailing newline: RE2's ``\\z``).  Matching is a search (unanchored unless ``^``/``$`` are used).
"""

from __future__ import annotations

import re
import string
from typing import Any

import re2

from trailwatch.errors import PatternError

_LITERALS = frozenset(string.ascii_letters + string.digits + ":_#=@/;,- ")
_CLASS_ESCAPES = frozenset("dDsSwW")
_PUNCT = frozenset(string.punctuation)
_QUANTIFIERS = frozenset("*+?{")
_CLASS_CHARS = _LITERALS | frozenset("^$?{}|*+.")  # operators are literal inside [...]
_RE2_MEMORY = 8 << 20
_MAX_REPEAT = 1000  # RE2's limit for {m,n}


def _options() -> "re2.Options":
    options = re2.Options()
    options.dot_nl = True  # '.' matches newline
    options.log_errors = False  # errors become PatternError, never a line on stderr
    options.max_mem = _RE2_MEMORY
    return options


_OPTIONS = _options()


def linear(expression: str) -> Any:
    """Compile a translated expression with RE2 (``.`` matches newline); raises ``re2.error``."""
    return re2.compile(expression, _OPTIONS)


def compile_regex(body: str, offset: int, pattern: str) -> Any:
    """Validate ``body`` (the text between ``%`` delimiters, starting at ``offset`` in ``pattern``)."""
    out: list[str] = []
    i, n = 0, len(body)

    def fail(message: str, at: int) -> PatternError:
        return PatternError(message, offset + at, pattern)

    def check_char(ch: str, at: int) -> None:
        if ord(ch) > 127:
            raise fail("expected an ASCII character in the regular expression (multi-byte characters are not supported)", at)
        if ch in "()":
            raise fail(f"expected a character, class or operator: {ch!r} is not supported in regular expressions (no groups)", at)
        raise fail(f"expected a character, class or operator: {ch!r} is not supported in regular expressions", at)

    atom_ok = False  # may a quantifier follow?
    alt_empty = True
    while i < n:
        ch = body[i]
        if ch == "|":
            if alt_empty:
                raise fail("expected an expression before '|'", i)
            out.append("|")
            alt_empty, atom_ok = True, False
            i += 1
            if i == n:
                raise fail("expected an expression after '|'", i)
            continue
        if ch in _QUANTIFIERS:
            if not atom_ok:
                raise fail(f"expected a character, '.', a class or an escape before {ch!r}", i)
            if ch == "{":
                close = body.find("}", i + 1)
                if close < 0:
                    raise fail("expected '}' to close the repetition '{m,n}'", i)
                spec = body[i + 1:close]
                m = re.fullmatch(r"(\d{1,4})(,(\d{0,4}))?", spec)
                if not m:
                    raise fail(f"expected a repetition of the form {{m}}, {{m,}} or {{m,n}} with m and n up to {_MAX_REPEAT}", i)
                lo = int(m.group(1))
                hi = m.group(3)
                if max(lo, int(hi or 0)) > _MAX_REPEAT:
                    raise fail(f"expected a repetition of the form {{m}}, {{m,}} or {{m,n}} with m and n up to {_MAX_REPEAT}", i)
                if hi not in (None, "") and int(hi) < lo:
                    raise fail(f"expected n >= m in the repetition {{{spec}}}", i)
                out.append("{" + spec + "}")
                i = close + 1
            else:
                out.append(ch)
                i += 1
            atom_ok = False
            continue
        alt_empty = False
        if ch == "^" or ch == "$":
            out.append("^" if ch == "^" else r"\z")
            atom_ok = False
            i += 1
            continue
        if ch == ".":
            out.append(".")
            atom_ok = True
            i += 1
            continue
        if ch == "\\":
            out.append(_escape(body, i, fail))
            atom_ok = True
            i += 2
            continue
        if ch == "[":
            text, i = _char_class(body, i, fail, check_char)
            out.append(text)
            atom_ok = True
            continue
        if ch in _LITERALS:
            out.append(re.escape(ch))
            atom_ok = True
            i += 1
            continue
        if ch in "]}":
            raise fail(f"expected {'[' if ch == ']' else '{'!r} before the unmatched {ch!r}", i)
        check_char(ch, i)
    try:
        return linear("".join(out))
    except re2.error as exc:  # e.g. a program larger than _RE2_MEMORY: [a-z]{1000}[0-9]{1000}...
        reason = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        raise PatternError(f"expected a smaller regular expression (RE2: {reason})", offset, pattern) from None


def _escape(body: str, i: int, fail) -> str:
    if i + 1 >= len(body):
        raise fail("expected a character after '\\'", i + 1)
    nxt = body[i + 1]
    if nxt in _CLASS_ESCAPES:
        return "\\" + nxt
    if nxt in _PUNCT:
        return re.escape(nxt)
    raise fail(f"expected \\d, \\D, \\s, \\S, \\w, \\W or an escaped symbol, found '\\{nxt}'", i)


def _char_class(body: str, i: int, fail, check_char) -> tuple[str, int]:
    """Parse ``[...]`` starting at ``body[i] == '['``; returns (python text, index after ']')."""
    start = i
    i += 1
    n = len(body)
    parts = ["["]
    if i < n and body[i] == "^":
        parts.append("^")
        i += 1
    items = 0
    while True:
        if i >= n:
            raise fail("expected ']' to close the character class", start)
        ch = body[i]
        if ch == "]" and items:
            parts.append("]")
            return "".join(parts), i + 1
        if ch == "]":
            raise fail("expected a character in the class before ']'", i)
        if ch == "\\":
            piece = _escape(body, i, fail)
            i += 2
            parts.append(piece)
            items += 1
            continue
        if ch == "[":
            raise fail("expected a character or ']' (nested '[' is not supported)", i)
        if ch not in _CLASS_CHARS:
            check_char(ch, i)
        # a range a-z (a '-' first or last is literal)
        if i + 2 < n and body[i + 1] == "-" and body[i + 2] != "]":
            hi = body[i + 2]
            if hi in "\\[":
                raise fail("expected a plain character as the end of the range", i + 2)
            if hi not in _CLASS_CHARS:
                check_char(hi, i + 2)
            if ord(hi) < ord(ch):
                raise fail(f"expected a range in order, found {ch}-{hi}", i)
            parts.append(re.escape(ch) + "-" + re.escape(hi))
            i += 3
        else:
            parts.append(re.escape(ch))
            i += 1
        items += 1
