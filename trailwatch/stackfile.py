"""Checks on a stack file before its settings are parsed: every per-key error at once, YAML without aliases,
stack names that are names (not paths), and a config folder that exists.

``parse_settings`` stops at the first bad value; a user fixing a file would then learn of the next error on
the next run. :func:`setting_errors` runs each key's own conversion and check independently and collects what
fails (unknown keys get the closest known key as a "did you mean"); ``stack.stack_from_config`` then runs the
cross-key rules and the catalog on every key that passed, and reports everything at once (capped at
``errors.MAX_REPORTED``).
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Any, Mapping

import yaml

from .contract import PROJECT
from .errors import ConfigError, ConfigErrors
from .settings import _convert, declared, qualified

_STACK_NAME = re.compile(r"[A-Za-z0-9_.-]+\Z")


def unknown_key_error(key: str, known: list[str]) -> str:
    """``config 'trailwatch:x': unknown key``, with the closest known key if one is close."""
    short = key.split(":", 1)[1]
    close = difflib.get_close_matches(short, known, n=1, cutoff=0.6) or [
        k for k in known if k.lower() == short.lower()]
    hint = f"did you mean '{close[0]}'?" if close else "see docs/configuration.md for the keys"
    return f"config {key!r}: unknown key ({hint})"


def setting_errors(raw: Mapping[str, Any]) -> dict[str, list[str]]:
    """The lines (one per problem) of each unknown key or bad value, each key checked on its own, in key
    order; keys without a problem are absent."""
    known = {qualified(f.metadata["key"]): f for f in declared()}
    names = sorted(f.metadata["key"] for f in declared() if ":" not in f.metadata["key"])
    errors: dict[str, list[str]] = {}
    for key in sorted(raw):
        if key.startswith(f"{PROJECT}:") and key not in known:
            errors[key] = [unknown_key_error(key, names)]
            continue
        field = known.get(key)
        if field is None or raw[key] is None:
            continue
        try:
            value = _convert(key, field.metadata["kind"], str(raw[key]))
            if field.metadata["check"]:
                field.metadata["check"](key, value)
        except ConfigErrors as exc:
            errors[key] = exc.errors
        except ConfigError as exc:
            errors[key] = [str(exc)]
    return errors


def check_stack_name(name: str) -> None:
    """A stack name, not a path: Pulumi.<name>.yaml must be a file in the config folder."""
    if not _STACK_NAME.match(name) or name in (".", ".."):
        raise ConfigError(f"--stack {name!r}: a stack name is letters, digits, '-', '_' and '.', not a path; to "
                          f"read Pulumi.<stack>.yaml from another folder, pass that folder as --config-dir")


def check_config_dir(root: Path) -> None:
    if not root.is_dir():
        what = "is not a folder" if root.exists() else "does not exist"
        raise ConfigError(f"--config-dir {root}: {what} (the folder holding Pulumi.<stack>.yaml)")


class _NoAliasLoader(yaml.SafeLoader):
    """SafeLoader that refuses aliases: a stack file has no use for them, and a few hundred bytes of nested
    aliases ("billion laughs") expand to gigabytes."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.YAMLError(f"line {event.start_mark.line + 1}: YAML aliases (*{event.anchor}) are not "
                                 f"allowed in stack files; write the value out")
        return super().compose_node(parent, index)


def load_stack_yaml(text: str) -> Any:
    """Parse a stack file's text; raises ``yaml.YAMLError`` for bad YAML or any alias."""
    return yaml.load(text, Loader=_NoAliasLoader)  # a SafeLoader: no arbitrary objects either
