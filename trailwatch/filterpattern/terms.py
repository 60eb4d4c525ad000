"""Term patterns: ``ERROR``, ``"exact phrase"``, ``?a ?b`` (OR), ``-term`` (exclude).

Each term matches as a case-sensitive substring of the raw log line.  Terms are separated by
whitespace; a quoted phrase keeps its spaces.  ``-`` excludes the term that follows it, with or without
blanks between (``ERROR -Exiting``, and the older guide's ``"ERROR" - "Exiting"``).  Grouping: every
``?term`` starts an alternative that also takes the plain terms following it (``?ERROR MainThread ?WARN
Deadlock`` = (ERROR and MainThread) or (WARN and Deadlock), the reading AWS CDK's ``anyTermGroup`` relies
on); plain terms before the first ``?`` are required in addition.  A quoted phrase that is empty or only
whitespace (``" "``) matches every event, as AWS documents.

AWS documents that a term holding anything but letters and digits must be quoted; ``-`` is its exclusion
operator.  An unquoted ``ERROR-42`` is therefore read as ``ERROR -42`` (ERROR, and not 42): a line holding
``ERROR-42`` does not match it, as observed on AWS (jorgebastida/awslogs#381: ``ORDER-ITEM-1`` found
nothing until written ``"ORDER-ITEM-1"``).  Quote the term to match it literally.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from .lexer import WHITESPACE, Scanner

LineMatcher = Callable[[str], bool]
_QUOTE_HINT = "(quote a term that holds '-' to match it as written, e.g. \"ERROR-42\")"


@dataclass(frozen=True)
class Term:
    text: str
    negated: bool
    alternative: bool  # written with a leading '?'
    always: bool  # " " / "": matches everything
    pos: int


def parse_terms(text: str, start: int) -> list[Term]:
    sc = Scanner(text, start)
    terms: list[Term] = []
    while True:
        sc.skip_ws()
        if sc.at_end():
            return terms
        pos = sc.pos
        alternative = negated = False
        if sc.peek() == "?":
            alternative = True
            sc.pos += 1
            _require_term(sc, "'?'")
        if sc.peek() == "-":
            negated = True
            sc.pos += 1
            sc.skip_ws()  # AWS's 2018-2021 guide spells its exclusion example '"ERROR" - "Exiting"'
            if sc.at_end():
                raise sc.expected("a term after '-'")
        ch = sc.peek()
        if ch == '"':
            segments, _ = sc.read_quoted()
            phrase = "*".join(segments)
            if sc.peek() not in WHITESPACE and not sc.at_end():
                raise sc.expected("whitespace or end of pattern after the closing '\"'")
            always = not negated and phrase.strip() == ""
            terms.append(Term(phrase, negated, alternative, always, pos))
            continue
        if ch in "{[%":
            kind = {"{": "a JSON pattern", "[": "a space-delimited pattern", "%": "a regular expression"}[ch]
            raise sc.expected(f"a term ({ch!r} can only start {kind}, which must be the whole pattern; quote it to match it literally)")
        word_start = sc.pos
        while not sc.at_end() and sc.peek() not in WHITESPACE and sc.peek() != '"':
            sc.pos += 1
        if sc.peek() == '"':
            raise sc.expected("whitespace before a quoted phrase (or quote the whole term)")
        terms.extend(_unquoted(sc, word_start, negated, alternative, pos))


def _unquoted(sc: Scanner, start: int, negated: bool, alternative: bool, pos: int) -> list[Term]:
    """The terms an unquoted word ``text[start:sc.pos]`` stands for: every ``-`` inside it starts an excluded
    term (``ERROR-42`` is ``ERROR -42``), since AWS reads ``-`` as its exclusion operator."""
    first, *excluded = sc.text[start:sc.pos].split("-")
    if not first:
        raise sc.error(f"expected a term directly after '-' {_QUOTE_HINT}", start)
    terms = [Term(first, negated, alternative, False, pos)]
    at = start + len(first)
    for piece in excluded:
        if not piece:
            raise sc.error(f"expected a term directly after '-' {_QUOTE_HINT}", at + 1)
        terms.append(Term(piece, True, False, False, at))
        at += 1 + len(piece)
    return terms


def _require_term(sc: Scanner, prefix: str) -> None:
    if sc.at_end() or sc.peek() in WHITESPACE:
        raise sc.expected(f"a term directly after {prefix}")


def compile_terms(terms: list[Term]) -> LineMatcher:
    groups: list[list[Term]] = [[]]
    for term in terms:
        if term.alternative:
            groups.append([])
        groups[-1].append(term)
    required = _group(groups[0])
    alternatives = [_group(g) for g in groups[1:]]
    if not alternatives:
        return required
    if len(groups[0]) == 0:
        return _any(alternatives)
    any_alt = _any(alternatives)
    return lambda s: required(s) and any_alt(s)


def _group(terms: list[Term]) -> LineMatcher:
    must = tuple(t.text for t in terms if not t.negated and not t.always)
    must_not = tuple(t.text for t in terms if t.negated)
    if not must_not:
        if not must:
            return lambda s: True
        if len(must) == 1:
            (only,) = must
            return lambda s: only in s

    def group(s: str) -> bool:
        for t in must:
            if t not in s:
                return False
        for t in must_not:
            if t in s:
                return False
        return True

    return group


def _any(fs: list[LineMatcher]) -> LineMatcher:
    if len(fs) == 1:
        return fs[0]
    funcs = tuple(fs)

    def any_of(s: str) -> bool:
        for f in funcs:
            if f(s):
                return True
        return False

    return any_of
