"""CloudWatch Logs Insights queries and console deep links for alert annotations.

The alert says *that* something happened; the link opens the events themselves in the right region and log
group. Detections may carry their own ``insights_query``; otherwise one is built from the filter pattern's
required values (``Pattern.required``, the same facts the prefilter uses), which selects a superset of the
matching events: Insights has no filter-pattern syntax, and a superset is the safe side for forensics.

The console encodes the query state in the URL fragment in an undocumented way (observed format): the
``queryDetail`` object is written as ``~(key~value~...)``, strings are prefixed with ``'`` and
percent-encoded with ``*`` in place of ``%``; that text is percent-encoded again and ``%`` becomes ``$``.
Here every character outside ``[A-Za-z0-9.-]`` is encoded, so no ``_`` survives into the link
(a Markdown renderer that escapes ``_`` would break a URL that contained one).
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Iterable

from ..catalog import Detection
from ..filterpattern import compile_pattern

DEFAULT_FIELDS = ("@timestamp", "eventSource", "eventName", "userIdentity.arn", "sourceIPAddress", "awsRegion",
                  "errorCode")
#: Relative time range of the linked query: the event is at least the exporter delay old when the alert
#: fires, and people click the link later still.
MIN_LOOKBACK_SECONDS = 3 * 3600
_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.-")
# Characters JavaScript's escape() leaves alone; the console applies escape() to the whole queryDetail.
_JS_ESCAPE_SAFE = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789@*_+-./")


def _insights_field(selector: str) -> str | None:
    """``$.userIdentity.type`` -> ``userIdentity.type``; None for selectors Insights cannot name."""
    if not selector.startswith("$.") or "[" in selector:
        return None
    name = selector[2:]
    return name if all(part and (part.replace("_", "").replace("-", "").isalnum()) for part in name.split(".")) \
        else None


def _string(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def default_query(det: Detection) -> str:
    """A Logs Insights query for a detection without its own: its required fields and values, newest first."""
    conditions: list[str] = []
    if det.pattern:
        required = compile_pattern(det.pattern).required
        for selector in sorted(required):
            name = _insights_field(selector)
            if name is None:
                continue
            values = required[selector]
            if values is None:
                conditions.append(f"ispresent({name})")
            elif len(values) == 1:
                conditions.append(f"{name} = {_string(next(iter(values)))}")
            else:
                conditions.append(f"{name} in [{', '.join(_string(v) for v in sorted(values))}]")
    lines = [f"fields {', '.join(DEFAULT_FIELDS)}"]
    if conditions:
        lines.append("| filter " + " and ".join(conditions))
    lines += ["| sort @timestamp desc", "| limit 200"]
    return "\n".join(lines)


def query_for(det: Detection, pattern_is_secret: bool = False) -> str:
    """The detection's own query, else one built from its pattern; from no pattern when the pattern is built
    from a secret (the suspicious-IP list held as a secret): dashboards and annotations are not secrets, and
    every recent event is still a superset of the matches."""
    if det.insights_query:
        return det.insights_query
    return default_query(replace(det, pattern=None) if pattern_is_secret else det)


def console_host(region: str) -> str:
    """Console host for the region's partition (commercial, GovCloud, China)."""
    if region.startswith("us-gov-"):
        return f"{region}.console.amazonaws-us-gov.com"
    if region.startswith("cn-"):
        return f"{region}.console.amazonaws.cn"
    return f"{region}.console.aws.amazon.com"


def _primitive(value: str | int) -> str:
    if isinstance(value, int):
        return str(value)
    encoded = "".join(ch if ch in _SAFE else "".join(f"*{b:02X}" for b in ch.encode("utf-8")) for ch in value)
    return "'" + encoded


def _query_detail(query: str, log_groups: Iterable[str], lookback_seconds: int) -> str:
    fields: list[tuple[str, str]] = [
        ("end", _primitive(0)),
        ("start", _primitive(-lookback_seconds)),
        ("timeType", _primitive("RELATIVE")),
        ("unit", _primitive("seconds")),
        ("editorString", _primitive(query)),
        ("source", "(" + "".join("~" + _primitive(g) for g in log_groups) + ")"),
    ]
    return "~(" + "~".join(f"{key}~{value}" for key, value in fields) + ")"


def logs_insights_url(region: str, log_group: str, query: str, lookback_seconds: int = MIN_LOOKBACK_SECONDS) -> str:
    """Console link that opens Logs Insights with ``query`` on ``log_group`` over the last ``lookback_seconds``."""
    detail = _query_detail(query, [log_group], lookback_seconds)
    escaped = "".join(ch if ch in _JS_ESCAPE_SAFE else f"%{ord(ch):02X}" for ch in detail)
    fragment = "logsV2:logs-insights" + ("?queryDetail=" + escaped).replace("%", "%25").replace("?", "%3F") \
        .replace("=", "%3D").replace("%", "$")
    return f"https://{console_host(region)}/cloudwatch/home?region={region}#{fragment}"
