"""AWS's filter-pattern examples from the older versions of the "Filter and pattern syntax" page, one table
row each with its source (repository@commit:file#anchor, and the quoted example). The 2023 version's
examples are the conformance fixture (test_filterpattern_conformance.py); the regex section's rules are in
test_filterpattern_errors.py and test_filterpattern_linear.py.

Where the page contradicts itself, the row records our verdict and why, in DOC_ERRATA.
"""

from __future__ import annotations

import pytest

from trailwatch.filterpattern import compile_pattern

PAGE = "awsdocs/amazon-cloudwatch-logs-user-guide@{}:doc_source/FilterAndPatternSyntax.md#{}"
V2018 = "e9343db"  # 2018-03-02
V2020 = "5ae5c9a"  # 2020-09-14
V2022 = "5bd7d24"  # 2022-03-25
APACHE = '127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /index.html HTTP/1.0" 404 1534'
APACHE_PROD = '127.0.0.1 Prod frank [10/Oct/2000:13:25:15 -0700] "GET /index.html HTTP/1.0" 404 1534'
OR_EVENTS = ("ERROR WARN message", "ERROR message", "WARN message")

# (pattern, event, expected, source)
ROWS = [
    *[(pattern, event, expected, PAGE.format(V2020, "matching-terms-events") + f" {example!r}")
      for example, pattern, event, expected in [
          ("Example 2: Single term", "ERROR", "[ERROR] A fatal exception has occurred", True),
          ("Example 2: Single term", "ERROR", "Exiting with ERRORCODE: -1", True),
          ("Example 3: Include a term and exclude a term", '"ERROR" - "Exiting"', "Exiting with ERRORCODE: -1", False),
          ("Example 3: Include a term and exclude a term", '"ERROR" - "Exiting"',
           "[ERROR] A fatal exception has occurred", True),
          ("Example 4: Multiple terms", "ERROR Exception", "[ERROR] Caught IllegalArgumentException", True),
          ("Example 4: Multiple terms", "ERROR Exception", "[ERROR] Unhandled Exception", True),
          ("Example 4: Multiple terms", "Failed to process the request", "[WARN] Failed to process the request", True),
          ("Example 4: Multiple terms", "Failed to process the request",
           "[ERROR] Unable to continue: Failed to process the request", True),
      ]],
    *[(pattern, event, event in matched, PAGE.format(V2020, "log-filters-or-pattern-matching") + f" {quote!r}")
      for pattern, matched, quote in [
          ("ERROR", OR_EVENTS[:2], "`ERROR` matches examples 1 and 2"),
          ("?ERROR ?WARN", OR_EVENTS, "`?ERROR ?WARN` matches examples 1, 2, and 3"),
          ("ERROR WARN", OR_EVENTS[:1], "`ERROR WARN` only matches example 1"),
          ("ERROR -WARN", OR_EVENTS[1:2], "ERROR -WARN matches example 2"),
          ("[w1=ERROR, w2]", OR_EVENTS[1:2], "[w1=ERROR, w2] matches pattern 2"),
          ("[w1=ERROR || w1=WARN, w2]", OR_EVENTS[1:], "[w1=ERROR || w1=WARN, w2] matches patterns 2 and 3"),
      ] for event in OR_EVENTS],
    *[(pattern, event, event in matched, PAGE.format(V2020, "log-filters-or-pattern-matching") + f" {quote!r}")
      for pattern, matched, quote in [
          ("{$.foo = bar}", ('{"foo": "bar"}',), "{$.foo = bar} matches pattern 1"),
          ("{$.foo = baz }", ('{"foo": "baz"}',), "{$.foo = baz } matches pattern 2"),
          ("{$.foo = bar || $.foo = baz }", ('{"foo": "bar"}', '{"foo": "baz"}'),
           "{$.foo = bar || $.foo = baz } matches pattern 1 and 2"),
      ] for event in ('{"foo": "bar"}', '{"foo": "baz"}')],
    ("[ip, user, username, timestamp, request, status_code, bytes > 1000]", APACHE, True,
     PAGE.format(V2018, "extract-log-event-values")),
    ("[ip, user, username, timestamp, request, status_code = 200, bytes]", APACHE, False,
     PAGE.format(V2018, "extract-log-event-values")),
    ("[ip, user, username, timestamp, request, status_code = 4*, bytes]", APACHE, True,
     PAGE.format(V2018, "extract-log-event-values")),
    ("[ip, user, username, timestamp, request = *html*, status_code = 4*, bytes]", APACHE, True,
     PAGE.format(V2018, "extract-log-event-values")),
    ("[..., status_code, bytes]", APACHE, True, PAGE.format(V2018, "extract-log-event-values")),
    ("[ip, user, ..., status_code, bytes]", APACHE, True, PAGE.format(V2018, "extract-log-event-values")),
    ("[ip, user, ...]", APACHE, True, PAGE.format(V2018, "extract-log-event-values")),
    ("[ip, user, username, timestamp, request, status_code = 4* && status_code != 403, bytes]", APACHE, True,
     PAGE.format(V2018, "extract-log-event-values")),
    ("[ip, user, username, timestamp, request, status_code = 403 || status_code = 404, bytes]", APACHE, True,
     PAGE.format(V2020, "extract-log-event-values") + " '|| as a logical OR operator'"),
    ("[..., request=*.html*, status_code=4*,]", APACHE, True,
     PAGE.format(V2018, "extract-log-event-values") + " 'Example Filter' (trailing comma)"),
    ("[ip, user, username, timestamp, request =*.html*, status_code = 404 || status_code = 410, bytes]", APACHE_PROD,
     True, PAGE.format(V2022, "extract-log-event-values")),
    ("[w1=ERROR, w2]", "ERROR message", True, PAGE.format(V2022, "pattern-matching-space-delimited")),
    ("[w1=ERROR || W1=WARNING, w2]", "ERROR message", True,
     PAGE.format(V2022, "pattern-matching-space-delimited") + " (field name in another case)"),
    ("[w1=ERROR || W1=WARNING, w2]", "WARNING message", True, PAGE.format(V2022, "pattern-matching-space-delimited")),
    ("[w1=ERROR || W1=WARNING, w2]", "INFO message", False, PAGE.format(V2022, "pattern-matching-space-delimited")),
    ("[w1!=ERROR && w1!=WARNING, w2]", "INFO message", True, PAGE.format(V2022, "pattern-matching-space-delimited")),
    ("[w1!=ERROR && w1!=WARNING, w2]", "WARNING message", False, PAGE.format(V2022, "pattern-matching-space-delimited")),
    ('{ $.eventType = "UpdateTrail" }', '{"eventType": "UpdateTrail"}', True,
     PAGE.format(V2018, "metric-filter-examples")),
    ("{ $.sourceIPAddress != 123.123.* }", '{"sourceIPAddress": "10.0.0.1"}', True,
     PAGE.format(V2018, "metric-filter-examples")),
    ("{ $.sourceIPAddress != 123.123.* }", '{"sourceIPAddress": "123.123.0.1"}', False,
     PAGE.format(V2018, "metric-filter-examples")),
    ("{ $.latency > +1000 }", '{"latency": 1001}', True,
     PAGE.format(V2018, "w3ab1c13c11b9c26b6b6c10") + " 'Numeric Comparisons'"),
    ("{ $.numbers[0] < 10e-3 }", '{"numbers": [0.001]}', True,
     PAGE.format(V2018, "w3ab1c13c11b9c26b6b6c10") + " 'Numeric Comparisons'"),
    ("{ $.numbers[0] < 10e-3 }", '{"numbers": [0.01]}', False,
     PAGE.format(V2018, "w3ab1c13c11b9c26b6b6c10") + " 'Numeric Comparisons'"),
]

# The page contradicts itself here; the verdict follows the page's own field-count and != rules.
DOC_ERRATA = [
    # "[w1!=ERROR&&w1!=WARN, w2] matches lines containing both ERROR and WARN (pattern 1)": pattern 1,
    # "ERROR WARN message", has three words (the pattern two fields) and its first word is ERROR.
    ("[w1!=ERROR&&w1!=WARN, w2]", OR_EVENTS[0], False, PAGE.format(V2020, "log-filters-or-pattern-matching")),
]


@pytest.mark.parametrize("pattern, event, expected, source", ROWS + DOC_ERRATA,
                         ids=[f"{i}:{r[0][:40]}" for i, r in enumerate(ROWS + DOC_ERRATA)])
def test_aws_example(pattern, event, expected, source):
    assert source.startswith("awsdocs/amazon-cloudwatch-logs-user-guide@")
    assert compile_pattern(pattern).matches(event) is expected


def test_trailing_comma_example_extracts_what_the_page_shows():
    """The page's 'Extracted fields' for ``[..., request=*.html*, status_code=4*,]`` (its ``$request`` reads
    ``/products/index.html``, which is not in its own example event; the event's text is asserted)."""
    fields = compile_pattern("[..., request=*.html*, status_code=4*,]").extract(APACHE)
    assert fields == {"$status_code": "404", "$request": "GET /index.html HTTP/1.0", "$7": "1534",
                      "$4": "10/Oct/2000:13:25:15 -0700", "$3": "frank", "$2": "-", "$1": "127.0.0.1"}


def test_table_covers_every_space_delimited_example_we_used_to_reject():
    patterns = {r[0] for r in ROWS}
    assert {"[..., request=*.html*, status_code=4*,]", "[w1=ERROR || W1=WARNING, w2]"} <= patterns
