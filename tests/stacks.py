"""Run the real program under mocks with a given stack config (the plan harness), for tests."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from trailwatch import exceptions as exc
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


def in_days(days: int) -> str:
    """An ``expires`` date this many days from today (UTC), so exception tests never expire themselves."""
    return (exc.today() + dt.timedelta(days=days)).isoformat()


def deployer_exception(detections: list[str], days: int = 90, **match: Any) -> dict[str, Any]:
    """The exception a user would write for a CI deploy role (the issue's worked example)."""
    return {"detections": detections, "reason": "Pulumi deploys from GitHub Actions", "owner": "platform-team",
            "expires": in_days(days),
            "match": match or {"userIdentity.sessionContext.sessionIssuer.arn":
                               "arn:aws:iam::111122223333:role/gha-deployer",
                               "sourceIPAddress": ["4.175.114.0/24", "20.57.79.0/24"],
                               "userAgent": "*pulumi-aws/*"}}
