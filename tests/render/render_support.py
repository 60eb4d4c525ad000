"""Helpers for the render tests: example stacks, writing rendered files, reading PromQL and console links."""

from __future__ import annotations

import os
import re
import shutil
import socket
import urllib.parse
from pathlib import Path

from tools import TOOLS_BIN, tool_path

from trailwatch.stack import PROJECT_ROOT

KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless",
            "offset", "inf", "nan"}


def example_stacks() -> list[str]:
    """Every example stack in the repository root (others may add more)."""
    return sorted(p.name[len("Pulumi."):-len(".yaml")] for p in PROJECT_ROOT.glob("Pulumi.*.yaml"))


def write_files(root: Path, files: dict[str, str]) -> None:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def metric_names(expr: str) -> set[str]:
    """Metric names a PromQL expression selects (strings, label matchers and ranges removed first)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    text = re.sub(r"\{[^}]*\}", " ", text)
    text = re.sub(r"\[[^\]]*\]", " ", text)
    text = re.sub(r"\((?:by|without|on|ignoring|group_left|group_right)\b", "(", text)
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    names = set()
    for match in re.finditer(r"[a-zA-Z_:][a-zA-Z0-9_:]*", text):
        rest = text[match.end():].lstrip()
        if rest.startswith("(") or match.group(0) in KEYWORDS:
            continue
        names.add(match.group(0))
    return names


def decode_insights_url(url: str) -> dict:
    """Undo the console's Logs Insights link encoding (the inverse of trailwatch.render.insights)."""
    prefix = "logsV2:logs-insights"
    fragment = urllib.parse.urlsplit(url).fragment
    assert fragment.startswith(prefix), fragment
    detail = urllib.parse.unquote(urllib.parse.unquote(fragment[len(prefix):].replace("$", "%")))
    assert detail.startswith("?queryDetail=~(") and detail.endswith(")"), detail
    body = detail[len("?queryDetail=~("):-1]
    out: dict = {}
    tokens = re.findall(r"\(~[^)]*\)|[^~]+", body)
    for key, value in zip(tokens[::2], tokens[1::2]):
        out[key] = _decode_value(value)
    return out


def _decode_value(value: str):
    if value.startswith("(~"):
        return [_decode_value(v) for v in value[2:-1].split("~")]
    if value.startswith("'"):
        return urllib.parse.unquote(value[1:].replace("*", "%"))
    return int(value)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


DEBIAN_AM_SHARE = Path("/usr/share/prometheus/alertmanager")


def alertmanager_argv() -> list[str]:
    """The alertmanager command line. Debian's build reads ``default.tmpl`` from /usr/share/prometheus/
    alertmanager/ and refuses every config without it; when only ``make tools``' unpacked copy exists, run
    the binary in a private mount namespace with that copy overlaid on /usr/share (nothing on the machine
    changes). Upstream builds embed the template and run as they are."""
    binary = tool_path("alertmanager")
    unpacked = TOOLS_BIN.parent / "root" / "prometheus-alertmanager" / "usr" / "share"
    if (DEBIAN_AM_SHARE / "default.tmpl").exists() or not (unpacked / "prometheus/alertmanager/default.tmpl").exists():
        return [binary]
    unshare = shutil.which("unshare")
    assert unshare, f"unshare (util-linux) is needed to give {binary} its default.tmpl from {unpacked}"
    script = 'mount -t overlay overlay -o "lowerdir=$1:/usr/share" /usr/share && shift && exec "$@"'
    return [unshare, "--user", "--map-root-user", "--mount", "--", "sh", "-c", script, "sh", str(unpacked),
            os.path.realpath(binary)]
