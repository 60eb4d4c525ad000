"""A pure-Python engine for CloudWatch Logs filter patterns (metric filters).

Public API::

    compile_pattern(text: str) -> Pattern            # cached; PatternError if malformed
    Pattern.matches(event: dict | str) -> bool       # never raises
    Pattern.value(event, expr: str) -> float | None  # metric value ("1", "$.latency", "$bytes")
    Pattern.dimension(event, expr: str) -> str | None
    Pattern.extract(event) -> dict[str, str] | None  # space-delimited fields {"$ip": ...}
    Pattern.fields / .required / .exact / .tree / .matcher / .line_matcher / .kind / .field_names
    extract_value(event, expr) -> float | None       # metric value without a pattern
    extract_dimension(event, expr) -> str | None
    PatternSet({name: pattern}).matching(event) -> list[str]   # many patterns, prefiltered
    parse_selector_text("$.a.b[0]") -> Selector     # .path (steps), .text, .getter() -> value or MISSING
    Pattern.tree: Node = And(items) | Or(items) | Condition(selector, op, literal, pos)
    iter_conditions(tree) -> iterator of Condition   # every comparison in a JSON pattern's tree
    necessary_keys(tree, skip) -> frozenset[str] | None  # top-level members a match needs one of
    number_text(n) -> str                            # a JSON number's text, as patterns compare it

Every malformed pattern raises :class:`trailwatch.errors.PatternError` with the 0-based offset
where parsing failed and a message of the form "expected ...".  Nothing else escapes compiling or
matching.

Semantics (AWS's "Filter pattern syntax" documentation, plus the choices below)
------------------------------------------------------------------------------
Kind is chosen by the first non-blank character: ``{`` JSON, ``[`` space-delimited, ``%`` regex,
anything else terms.  Empty/blank pattern matches everything.  All matching is case-sensitive.
Patterns longer than 1024 characters (AWS's API limit) are rejected.

Terms: each term is a substring test on the raw line (``ERROR`` matches ``ERRORCODE``); terms are
ANDed; ``-term`` excludes; ``"quoted phrase"`` keeps spaces (``\\"`` and ``\\\\`` escape); ``" "``
matches everything.  *Choices:* ``?term`` starts an OR alternative that also owns the plain terms
after it; plain terms before the first ``?`` are required too.  Unquoted terms may contain any
non-blank character except ``"``, but may not start with ``{``, ``[`` or ``%`` (those start other
kinds, which must be the whole pattern).  ``*`` is literal in terms.  AWS wants a term holding anything
but letters and digits quoted; a ``-`` inside an unquoted term starts an excluded term, as AWS reads it
(``ERROR-42`` is ``ERROR -42``; write ``"ERROR-42"`` for the literal text).

JSON: ``{ $.a.b[0] = "x" }``; operators ``= != < <= > >=``, ``IS NULL``, ``IS TRUE``,
``IS FALSE``, ``NOT EXISTS``, ``&&`` (binds tighter), ``||``, parentheses (nesting <= 64).
Selectors: ``$`` then ``.name`` / ``[index]`` steps, names of ASCII letters, digits, ``-``, ``_``;
the first step is a name.  Only strings and numbers are value nodes: a comparison against an
object, array, boolean, null or missing field is false for every operator, ``!=`` included.
  * ``!=`` against a missing field does NOT match.  AWS's documentation is silent, but AWS was
    observed not to match (DataBiosphere/azul#5884: ``invokedBy != "cloudfront.amazonaws.com"`` on
    an event without ``invokedBy``), and that is exactly why CIS/Security Hub's root-usage filter
    spells ``$.userIdentity.invokedBy NOT EXISTS`` instead of relying on ``!=``.  Getting this wrong
    would make ``!=`` filters fire on every event lacking the field.
  * Values: quoted (``"..."``, escapes ``\\"`` ``\\\\`` ``\\*``; other backslashes are literal) or
    unquoted (ASCII letters, digits and ``_ - . * + : /``).  ``*`` is a wildcard anywhere in a
    value (prefix, suffix, middle, several); ``\\*`` inside quotes is a literal star.  (The 2018-2021
    guide said a middle star was literal, ``Ev*ent``; its 2022 revision dropped that sentence for "Use
    the asterisk as a wild card to match text": docs/filter-patterns.md.)
  * ``=``/``!=`` with a string field compare text (wildcards apply).  A number field is compared
    numerically when the value is an unquoted number (``1e3`` equals 1000), otherwise by its text
    (``str(int)`` / ``repr(float)``), so ``= *`` and ``= 4*`` also match numbers.  A string field
    also equals an unquoted number if it spells the same number (``"400" = 400``).
  * ``< <= > >=`` need a number (else PatternError); numeric strings in the event compare as
    numbers; other strings never match.
  * ``%regex%`` values are allowed after ``=`` / ``!=`` (search semantics on the text), at most two
    per pattern (AWS's quota).
  * Keywords (``IS``, ``NULL``, ``TRUE``, ``FALSE``, ``NOT``, ``EXISTS``) are upper-case only;
    ``IS NOT`` and bare ``EXISTS`` are rejected, as AWS documents them unsupported.
  * A raw line that is not a JSON object never matches a JSON pattern.  Dict events must hold plain
    JSON types (``dict list str int float bool None``).

Space-delimited: ``[name, name = value, ..., name > 3 || name < 1]``; see :mod:`.delimited`.
*Choices:* runs of whitespace separate fields; ``"..."`` and ``[...]`` group (delimiters removed;
an unclosed one runs to the end of the line); without ``...`` the field count must be exact; every
condition in a field must name that field (AWS rejects ``a = 1 && b = 2``; the name's case may
differ, as in AWS's ``[w1=ERROR || W1=WARNING, w2]``); names are unique; a comma before the closing
``]`` adds an unnamed field (AWS's ``[..., request=*.html*, status_code=4*,]``); ``[]`` reads as
``[...]`` (every event); ``extract`` names unnamed tokens by position (``$7``); comparisons follow the
JSON rules on the field text.  Dict events are matched as their compact JSON.

Regex (``%...%``, the whole pattern, or a JSON/delimited value): AWS's subset only, see
:mod:`.regex` — ASCII letters/digits, ``: _ # = @ / ; , -`` and the space, operators
``^ $ ? [ ] { } | \\ * + .``; no groups, no multi-byte characters; ``\\d \\D \\s \\S \\w \\W`` are ASCII;
stacked quantifiers and empty alternatives are rejected.  Search semantics; ``.`` matches newline.
Regexes and ``*`` wildcards run on RE2 (``google-re2``): linear time in the text, so no pattern can
hang a caller.

Speed: patterns compile to closures (no tree walking per event); ``$.x = A || $.x = B ...``
becomes one set lookup; ``&&``/``||`` operands run cheapest first.  ``Pattern.required`` and
:class:`PatternSet` let a caller skip patterns whose required values (e.g. ``$.eventName``) are
absent from an event, so a catalog costs a few dict lookups per event.  The last raw line parsed
as JSON is remembered by identity, so calling several patterns' ``matches`` on one line object
parses it once.  Measured here (CloudTrail sample, 18 catalog patterns): ~2.5 us per parsed event
with ``PatternSet``, ~11 us per raw line (6 us of it JSON parsing).
"""

from trailwatch.errors import PatternError

from .compile import Pattern, compile_pattern, extract_dimension, extract_value
from .json_pattern import And, Condition, Node, Or, iter_conditions
from .necessary import necessary_keys
from .patternset import PatternSet
from .selectors import parse_selector_text
from .values import MISSING, number_text

__all__ = [
    "MISSING",
    "And",
    "Condition",
    "Node",
    "Or",
    "Pattern",
    "PatternError",
    "PatternSet",
    "compile_pattern",
    "extract_dimension",
    "extract_value",
    "iter_conditions",
    "necessary_keys",
    "number_text",
    "parse_selector_text",
]
