"""Run the real program under mocks with a given stack config (the plan harness), for tests."""

from __future__ import annotations

import json
from typing import Any

from trailwatch.mockrun import Recording, run_program
from trailwatch.stack import Stack, config_strings, stack_from_config

BASE = {"aws:region": "us-east-1"}


def stack_config(**settings: Any) -> dict[str, Any]:
    """A stack file's ``config:`` map: BASE plus ``trailwatch:<key>`` for each keyword."""
    config = dict(BASE)
    config.update({k if ":" in k else f"trailwatch:{k}": v for k, v in settings.items()})
    return config


def make_stack(name: str = "test", **settings: Any) -> Stack:
    config, secrets = config_strings(stack_config(**settings))
    return stack_from_config(name, config, secrets)


def run_stack(name: str = "test", **settings: Any) -> Recording:
    config, secrets = config_strings(stack_config(**settings))
    return run_program(config, secrets, stack=name)


def policy_doc(registration, key: str = "policy") -> dict:
    return json.loads(registration.inputs[key])
