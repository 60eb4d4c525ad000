"""Pattern dispatch (terms / regex / JSON / space-delimited), the :class:`Pattern` object and value
extraction for metric transformations."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any, Callable

from trailwatch.contract import MAX_PATTERN_LENGTH
from trailwatch.errors import PatternError

from .delimited import compile_delimited, parse_delimited, split_fields
from .json_pattern import compile_json, iter_conditions, parse_json_pattern
from .lexer import Scanner
from .necessary import exact_constraint, required_values
from .regex import compile_regex
from .selectors import make_getter, parse_selector_text
from .terms import compile_terms, parse_terms
from .values import MISSING, number_text, parse_number

try:  # orjson is much faster; the stdlib is the fallback (and handles >64-bit integers)
    import orjson as _orjson
except ImportError:  # pragma: no cover
    _orjson = None

_JSON_ERRORS = (ValueError, TypeError, RecursionError, OverflowError)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"not JSON: {name}")


_last_parsed: tuple[Any, Any] = (None, None)


def parse_json_object(line: str) -> dict | None:
    """The JSON object a raw log line holds, or None (not JSON, or JSON but not an object).

    The most recent line (by identity) is remembered, so evaluating several patterns one by one on
    the same line object parses it once.  The returned dict is shared: callers must not mutate it.
    """
    global _last_parsed
    last = _last_parsed
    if last[0] is line:
        return last[1]
    obj = _parse(line)
    _last_parsed = (line, obj)
    return obj


def _parse(line: str) -> dict | None:
    obj: Any = None
    if _orjson is not None:
        try:
            obj = _orjson.loads(line)
        except _JSON_ERRORS:
            obj = None
    if obj is None and line.lstrip().startswith("{"):
        try:
            obj = json.loads(line, parse_constant=_reject_constant)
        except _JSON_ERRORS:
            return None
    return obj if isinstance(obj, dict) else None


def serialize_event(obj: Any) -> str | None:
    """Compact JSON text of a parsed event (what text patterns see for dict events)."""
    if _orjson is not None:
        try:
            return _orjson.dumps(obj).decode("utf-8")
        except _JSON_ERRORS:
            pass
    try:
        return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)
    except _JSON_ERRORS:
        return None


class Pattern:
    """A compiled filter pattern.  Build with :func:`compile_pattern`.

    Attributes:
      text: the pattern as given.
      kind: ``"all"`` (empty pattern), ``"terms"``, ``"regex"``, ``"json"`` or ``"delimited"``.
      fields: JSON selectors the pattern reads (``frozenset`` of texts such as ``"$.eventName"``).
      field_names: names of the space-delimited fields, in order (empty for other kinds).
      required: prefilter for JSON patterns, ``{selector: frozenset of allowed strings | None}``
        (``None``: must be a string or number).  An event violating any entry cannot match.
      exact: ``(selector, allowed)`` when the pattern is *exactly* its single ``required`` entry
        (e.g. an OR of ``$.eventName = X`` tests), else None.
      tree: the parsed condition tree of a JSON pattern (None for other kinds), for callers that derive
        their own necessary conditions (:func:`~.necessary.necessary_keys`).
      matcher: the compiled closure for an already-parsed event ``dict`` (fastest path; for text
        kinds it serializes the dict first).
      line_matcher: the compiled closure for a raw line (``str``; JSON kinds parse it first).  Like
        ``matcher`` it skips the safety net of :meth:`matches`, for callers that catch errors themselves.
    """

    __slots__ = ("text", "kind", "fields", "field_names", "required", "exact", "tree", "matcher", "line_matcher",
                 "_assign")

    def __init__(self, text: str, kind: str, *, obj_matcher: Callable[[dict], bool] | None = None,
                 line_matcher: Callable[[str], bool] | None = None, fields: frozenset[str] = frozenset(),
                 field_names: tuple[str, ...] = (), required: dict | None = None,
                 assign: Callable[[list[str]], Any] | None = None, exact: tuple | None = None,
                 tree: Any = None):
        self.text = text
        self.kind = kind
        self.fields = fields
        self.field_names = field_names
        self.required = required or {}
        self.exact = exact
        self.tree = tree
        self._assign = assign
        if obj_matcher is not None:
            self.matcher = obj_matcher

            def on_line(line: str) -> bool:
                obj = parse_json_object(line)
                return obj is not None and obj_matcher(obj)

            self.line_matcher = on_line
        else:
            assert line_matcher is not None
            self.line_matcher = line_matcher

            def on_obj(obj: dict) -> bool:
                line = serialize_event(obj)
                return line is not None and line_matcher(line)

            self.matcher = on_obj

    def __repr__(self) -> str:
        return f"Pattern({self.text!r})"

    def _match_any(self, event: Any) -> bool:
        """Dispatch without the safety net (tests call this to find bugs)."""
        if isinstance(event, dict):
            return self.matcher(event)
        if isinstance(event, str):
            return self.line_matcher(event)
        if isinstance(event, (bytes, bytearray)):
            return self.line_matcher(bytes(event).decode("utf-8", "replace"))
        return False

    def matches(self, event: Any) -> bool:
        """Does the event match?  ``event`` is a parsed JSON ``dict`` or a raw log line (``str``).

        JSON patterns parse a raw line as JSON (a line that is not a JSON object never matches);
        text patterns see a dict as its compact JSON serialization.  Never raises.
        """
        try:
            return bool(self._match_any(event))
        except Exception:  # pragma: no cover - contract: matching never raises
            return False

    def extract(self, event: Any) -> dict[str, str] | None:
        """Space-delimited patterns: ``{"$name": field text}`` for a matching line (tokens without a name,
        under ``...`` or after a trailing comma, as ``{"$<position>": text}``), else None.

        Other kinds return ``{}`` for a matching event and None otherwise.
        """
        try:
            if self._assign is None:
                return {} if self.matches(event) else None
            line = event if isinstance(event, str) else serialize_event(event)
            if line is None:
                return None
            tokens = split_fields(line)
            where = self._assign(tokens)
            if where is None:
                return None
            named = {i: name for name, i in zip(self.field_names, where) if name}
            # every token is extracted: by its field name, or by position (1-based) as AWS does
            return {f"${named.get(i, i + 1)}": token for i, token in enumerate(tokens)}
        except Exception:  # pragma: no cover
            return None

    def value(self, event: Any, expr: str) -> float | None:
        """Metric value for a matching event: a literal (``"1"``), a JSON selector (``"$.latency"``)
        or a space-delimited field (``"$bytes"``).  None if the event does not match or the value
        is not numeric.  Raises PatternError only for a malformed ``expr``."""
        raw = self._raw(event, expr)
        return _as_number(raw)

    def dimension(self, event: Any, expr: str) -> str | None:
        """Dimension value (text) for a matching event; None if absent or not a string/number."""
        return _as_text(self._raw(event, expr))

    def _raw(self, event: Any, expr: str) -> Any:
        if self._assign is not None and isinstance(expr, str) and expr.startswith("$") and not expr.startswith("$."):
            if not expr[1:] or expr[1:] not in self.field_names:
                shown = ", ".join("$" + n for n in self.field_names if n)
                raise PatternError(f"expected one of the pattern's fields {shown}", 0, expr)
            fields = self.extract(event)
            return MISSING if fields is None else fields.get(expr, MISSING)
        get = _value_getter(expr)  # validates expr first
        if not self.matches(event):
            return MISSING
        return _apply_getter(get, event)


def _as_number(v: Any) -> float | None:
    t = type(v)
    if t is int or t is float:
        return float(v)
    if t is str:
        n = parse_number(v)
        return None if n is None else float(n)
    return None


def _as_text(v: Any) -> str | None:
    t = type(v)
    if t is str:
        return v
    if t is int or t is float:
        return number_text(v)
    return None


@lru_cache(maxsize=256)
def _value_getter_cached(expr: str) -> tuple[str, Any]:
    num = parse_number(expr.strip())
    if num is not None:
        return "literal", num
    if not expr.startswith("$."):
        raise PatternError("expected a number or a JSON selector such as '$.latency'", 0, expr)
    return "selector", make_getter(parse_selector_text(expr).path)


def _value_getter(expr: Any) -> tuple[str, Any]:
    if not isinstance(expr, str):
        raise PatternError("expected the value expression to be a string", 0, repr(expr))
    return _value_getter_cached(expr)


def _apply_getter(get: tuple[str, Any], event: Any) -> Any:
    kind, what = get
    if kind == "literal":
        return what
    obj = event if isinstance(event, dict) else parse_json_object(event) if isinstance(event, str) else None
    return MISSING if obj is None else what(obj)


def extract_value(event: Any, expr: str) -> float | None:
    """Metric value ``expr`` (a literal such as ``"1"`` or a selector such as ``"$.latency"``) for
    ``event`` (dict or raw JSON line), whether or not any pattern matches.  None if absent or not a
    number (numeric strings count).  Raises PatternError only for a malformed ``expr``."""
    return _as_number(_apply_getter(_value_getter(expr), event))


def extract_dimension(event: Any, expr: str) -> str | None:
    """Like :func:`extract_value`, but the text of a string or number (for metric dimensions)."""
    return _as_text(_apply_getter(_value_getter(expr), event))


# -- compiling ---------------------------------------------------------------------------------

def build_pattern(text: str) -> Pattern:
    """Compile without caching and without the internal-error safety net (tests use this)."""
    if len(text) > MAX_PATTERN_LENGTH:
        raise PatternError(f"expected at most {MAX_PATTERN_LENGTH} characters (AWS's limit), found {len(text)}",
                           MAX_PATTERN_LENGTH, text)
    sc = Scanner(text)
    sc.skip_ws()
    if sc.at_end():
        return Pattern(text, "all", line_matcher=lambda s: True)
    start = sc.pos
    ch = text[start]
    if ch == "{":
        node = parse_json_pattern(text, start)
        return Pattern(text, "json", obj_matcher=compile_json(node),
                       fields=frozenset(c.selector.text for c in iter_conditions(node)),
                       required=required_values(node), exact=exact_constraint(node), tree=node)
    if ch == "[":
        fields = parse_delimited(text, start)
        assign, names = compile_delimited(fields)
        return Pattern(text, "delimited", line_matcher=lambda s: assign(split_fields(s)) is not None,
                       field_names=names, assign=assign)
    if ch == "%":
        body, offset = sc.read_regex()
        sc.skip_ws()
        if not sc.at_end():
            raise sc.expected("end of pattern after the regular expression (a %regex% must be the whole pattern)")
        search = compile_regex(body, offset, text).search
        return Pattern(text, "regex", line_matcher=lambda s: search(s) is not None)
    terms = parse_terms(text, start)
    return Pattern(text, "terms", line_matcher=compile_terms(terms))


@lru_cache(maxsize=4096)
def _compile_cached(text: str) -> Pattern:
    try:
        return build_pattern(text)
    except PatternError:
        raise
    except Exception as exc:  # pragma: no cover - contract: only PatternError escapes
        raise PatternError(f"expected a pattern this engine can compile (internal error: {type(exc).__name__})", 0, text) from None


def compile_pattern(text: str) -> Pattern:
    """Compile a CloudWatch Logs filter pattern (cached).  Raises PatternError if it is malformed."""
    if not isinstance(text, str):
        raise PatternError(f"expected the pattern to be a str, found {type(text).__name__}", 0, "")
    return _compile_cached(text)
