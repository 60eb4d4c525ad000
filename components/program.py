"""Entry point of the Pulumi program: read stack config, validate it up front, build the pipeline.

Bad config stops the program with one line (``pulumi.RunError``) before any resource is registered.
"""

from __future__ import annotations

import pulumi
from pulumi.runtime import config as runtime_config

from trailwatch.errors import TrailwatchError
from trailwatch.stack import Stack, stack_from_config

from .pipeline import build_pipeline, export_all


def current_config() -> tuple[dict[str, str], tuple[str, ...]]:
    """Every config value the engine handed this program, as strings, and which keys are secret."""
    values = dict(runtime_config.get_config_env() or {})
    values.update(runtime_config.CONFIG.get())
    secrets = tuple(k for k in values if runtime_config.is_config_secret(k))
    return {k: str(v) for k, v in values.items()}, secrets


def load_current_stack() -> Stack:
    config, secrets = current_config()
    try:
        return stack_from_config(pulumi.get_stack(), config, secrets)
    except TrailwatchError as exc:
        raise pulumi.RunError(str(exc)) from None


def main() -> None:
    export_all(build_pipeline(load_current_stack()))
