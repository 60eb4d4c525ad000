"""The generated parts of the README and of docs/: tables made from the sources they describe, so the docs
cannot drift from them.

* the detections (with their alert names) and each detection's details, from the catalog;
* the alerts on the pipeline itself, from the rule renderer's constants;
* the settings (all of them, and the ten the README starts with), from the settings table;
* the Pulumi components' inputs and outputs, from the schema the component package serves, and the Pulumi YAML
  example, from its file.

Each generated part sits between ``<!-- NAME:begin -->`` and ``<!-- NAME:end -->``; ``PAGES`` says which parts
each file holds. ``python -m trailwatch.docs`` rewrites them in every page (or in the files named), and a test
fails when a page and these functions disagree.
"""

from __future__ import annotations

import json
import re
import sys
import textwrap
from functools import cache
from pathlib import Path
from typing import Any, Callable

from .catalog import Detection, load_catalog
from .contract import (
    ALERT_EXCEPTION_EXPIRED, ALERT_EXPORTER_DOWN, ALERT_HEARTBEAT_MISSING, ALERT_SCRAPE_ERRORS, ALERT_TEAMS_FAILING,
    PIPELINE_ALERTS, detection_alert_name,
)
from .errors import TrailwatchError
from .paths import PROJECT_ROOT
from .render import query_for
from .settings import declared
from .stack import suspicious_ip_pattern

YAML_EXAMPLE = "examples/yaml-byo-log-group/Pulumi.yaml"
#: A detection whose pattern comes from stack config (the catalog's ``pattern_from``): that key, and example values
#: its pattern is shown built from.
PATTERN_EXAMPLES = {"suspicious_ips": ("suspiciousIps", ("203.0.113.7", "198.51.100.*"))}
#: The keys people change first, in the order the README lists them (the rest: docs/configuration.md).
FIRST_KEYS = ("aws:region", "runtime", "teamsWebhookUrl", "teamsMode", "eksOidcProviderArn", "existingLogGroupName",
              "enableDetections", "disableDetections", "detectionOverrides", "exceptions")
PIPELINE_ALERT_TEXT = {
    ALERT_HEARTBEAT_MISSING: "no CloudTrail record counted for `heartbeatMissingMinutes`: delivery to the log group "
                             "stopped",
    ALERT_EXPORTER_DOWN: "Prometheus cannot scrape cloudwatch_exporter",
    ALERT_SCRAPE_ERRORS: "cloudwatch_exporter's CloudWatch requests fail",
    ALERT_EXCEPTION_EXPIRED: ("a noise exception passed its `expires` date (one alert per exception, naming it, its "
                              "owner and its stack): it no longer hides anything; renew or remove it and redeploy"),
    ALERT_TEAMS_FAILING: ("notifications to Teams fail: adapter mode, this stack's adapter failed or refused one (or "
                          "Prometheus cannot scrape it); native mode, any msteamsv2 receiver of the Alertmanager "
                          "(its failure counter has no receiver label)"),
}
_BLOCK = re.compile(r"<!-- ([a-z-]+):begin -->\n.*?<!-- \1:end -->", re.S)


class DocsError(TrailwatchError):
    """A page whose generated parts cannot be rewritten (an unknown or unclosed marker, an unreadable file)."""


def _fill(text: str) -> str:
    """A paragraph wrapped as the hand-written pages are (words and code spans kept whole)."""
    return textwrap.fill(text, width=115, break_long_words=False, break_on_hyphens=False)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def alert_name(det: Detection) -> str:
    """The ``alert:`` name the rule file gives a detection (the heartbeat alerts when its series is missing)."""
    return ALERT_HEARTBEAT_MISSING if det.heartbeat else detection_alert_name(det)


def alert_names(catalog: list[Detection]) -> set[str]:
    """Every alert name the rules can carry: one per catalog detection, plus the pipeline alerts."""
    return {alert_name(d) for d in catalog} | set(PIPELINE_ALERTS)


def detection_table(catalog: list[Detection]) -> str:
    rows = ["| id | alert | severity | on by default | Security Hub / CIS | exported series |",
            "|---|---|---|---|---|---|"]
    for d in catalog:
        controls = ", ".join(filter(None, [d.security_hub_control, *(f"CIS {k} {v}" for k, v in list(d.cis.items())[-1:])]))
        rows.append(f"| [`{d.id}`](#{d.id}) | `{alert_name(d)}` | {d.severity} | {'yes' if d.enabled else 'no'} | "
                    f"{controls or '-'} | `{d.exported_name}` |")
    return "\n".join(rows)


def detection_details(catalog: list[Detection]) -> str:
    """One section per detection: what it catches, its pattern, what to check first. The heading is the id, so
    the table's links land on it."""
    parts = []
    for d in catalog:
        if d.pattern is not None:
            pattern = f"```text\n{d.pattern}\n```"
        else:
            key, values = PATTERN_EXAMPLES[d.pattern_from]
            pattern = (f"The pattern is built from the stack's `{key}`; for {', '.join(values)}:\n\n"
                       f"```text\n{suspicious_ip_pattern(values)}\n```")
        facts = [f"severity {d.severity}", f"threshold {d.threshold}", "on by default" if d.enabled else "off by default",
                 f"metric `{d.metric}` (`{d.exported_name}`)"]
        if d.cis:
            facts.append("CIS " + ", ".join(f"{k} {v}" for k, v in d.cis.items()))
        if d.security_hub_control:
            facts.append(f"Security Hub {d.security_hub_control}")
        lines = [f"### {d.id}", "", _fill(f"**{d.title}.** {d.description}"), "", _fill("; ".join(facts) + "."), "",
                 pattern, "", _fill(f"Runbook: {d.runbook}")]
        lines += ["", "Logs Insights query (the card's and the dashboard's link):", "", f"```text\n{query_for(d)}\n```"]
        if d.target_parameters:
            lines += ["", _fill("Card target: " + ", ".join(f"`{p}`" for p in d.target_parameters) + ".")]
        parts.append("\n".join(lines))
    return "\n\n".join(parts)


def pipeline_alert_table() -> str:
    rows = ["| alert | fires when |", "|---|---|"]
    rows += [f"| `{name}` | {PIPELINE_ALERT_TEXT[name]} |" for name in PIPELINE_ALERTS]
    return "\n".join(rows)


def _default(meta: dict) -> str:
    return "(required)" if meta["default"] is None else ("(secret)" if meta["secret"] else json.dumps(meta["default"]))


def settings_table() -> str:
    rows = ["| key | type | default | description |", "|---|---|---|---|"]
    for f in declared():
        meta = f.metadata
        rows.append(f"| `{meta['key']}` | {meta['kind']} | `{_default(meta)}` | {_cell(meta['description'])} |")
    return "\n".join(rows)


def first_settings_table() -> str:
    """The README's short list: ``FIRST_KEYS`` with their defaults and descriptions."""
    by_key = {f.metadata["key"]: f.metadata for f in declared()}
    rows = ["| key | default | what it sets |", "|---|---|---|"]
    rows += [f"| `{key}` | `{_default(by_key[key])}` | {_cell(by_key[key]['description'])} |" for key in FIRST_KEYS]
    return "\n".join(rows)


def schema_type(spec: dict) -> str:
    """A component schema property's type in words (``list of string``, ``map of any``, a type's name)."""
    if "$ref" in spec:
        return "any" if spec["$ref"].endswith("/Any") else spec["$ref"].rsplit(":", 1)[-1]
    if spec["type"] == "array":
        return f"list of {schema_type(spec['items'])}"
    if spec["type"] == "object" and "additionalProperties" in spec:
        return f"map of {schema_type(spec['additionalProperties'])}"
    return spec["type"]


def component_tables(schema: dict) -> str:
    """The components' inputs (``Output accepted`` where an input is not plain), then their outputs, as the
    package schema describes them: what a TypeScript, Go or YAML program sees."""
    rows = ["| component | input | type | required | description |", "|---|---|---|---|---|"]
    for token, res in schema["resources"].items():
        for prop, spec in res["inputProperties"].items():
            kind = schema_type(spec) + ("" if spec.get("plain") else ", Output accepted")
            rows.append(f"| {token.rsplit(':', 1)[-1]} | `{prop}` | {kind} | "
                        f"{'yes' if prop in res.get('requiredInputs', []) else 'no'} | {spec['description']} |")
    rows += ["", "| component | output | type | description |", "|---|---|---|---|"]
    for token, res in schema["resources"].items():
        for prop, spec in res["properties"].items():
            rows.append(f"| {token.rsplit(':', 1)[-1]} | `{prop}` | {schema_type(spec)} | {spec['description']} |")
    return "\n".join(rows)


def component_schema() -> dict[str, Any]:
    """The schema the component package serves (``provider/``). It needs the Pulumi SDK and the components,
    so they are imported here, when these tables are made, and the core stays importable without Pulumi."""
    from pulumi.provider.experimental.component import ComponentProvider

    from . import __version__
    from .components.provider import COMPONENTS, PACKAGE

    return json.loads(ComponentProvider(COMPONENTS, PACKAGE, version=__version__).schema)


def yaml_example() -> str:
    """The Pulumi YAML consumer as it is in its folder (the provider tests run that file)."""
    return f"```yaml\n{(PROJECT_ROOT / YAML_EXAMPLE).read_text(encoding='utf-8').rstrip()}\n```"


GENERATORS: dict[str, Callable[[], str]] = {
    "detections": lambda: detection_table(load_catalog()),
    "detection-details": lambda: detection_details(load_catalog()),
    "pipeline-alerts": pipeline_alert_table,
    "settings": settings_table,
    "first-settings": first_settings_table,
    "component-args": lambda: component_tables(component_schema()),
    "yaml-example": yaml_example,
}
#: Every page with generated parts, and the parts it holds (paths from the repository root).
PAGES = {
    "README.md": ("first-settings",),
    "docs/configuration.md": ("settings",),
    "docs/detections.md": ("detections", "pipeline-alerts", "detection-details"),
    "docs/library.md": ("component-args", "yaml-example"),
}


@cache
def generated(name: str) -> str:
    """One generated part's text (made once per process: the component schema takes seconds)."""
    if name not in GENERATORS:
        raise DocsError(f"unknown generated part '{name}' (known: {', '.join(GENERATORS)})")
    return GENERATORS[name]()


def parts_in(text: str) -> list[str]:
    """The names of the generated parts a page holds, in order."""
    names = re.findall(r"<!-- ([a-z-]+):begin -->", text)
    closed = [m.group(1) for m in _BLOCK.finditer(text)]
    if names != closed:
        odd = next((n for n in names if names.count(n) != closed.count(n)), names[0])
        raise DocsError(f"marker '<!-- {odd}:begin -->' has no '<!-- {odd}:end -->' after it (or holds another marker)")
    return names


def rewrite(text: str) -> str:
    """``text`` with every generated part it holds made again from its source."""
    parts_in(text)
    return _BLOCK.sub(lambda m: f"<!-- {m.group(1)}:begin -->\n{generated(m.group(1))}\n<!-- {m.group(1)}:end -->",
                      text)


def main(argv: list[str]) -> int:
    paths = [Path(a) for a in argv] or [PROJECT_ROOT / p for p in PAGES]
    try:
        for path in paths:
            try:
                text = path.read_text(encoding="utf-8")
            except OSError as exc:
                raise DocsError(f"{path}: cannot read it ({exc.strerror or exc})") from None
            done = rewrite(text)
            try:
                path.write_text(done, encoding="utf-8")
            except OSError as exc:
                raise DocsError(f"{path}: cannot write it ({exc.strerror or exc})") from None
    except TrailwatchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
