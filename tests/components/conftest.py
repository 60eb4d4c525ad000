"""Fixtures of the component tests (helpers live in plan_helpers.py)."""

import pytest

from plan_helpers import SCENARIOS, scenario


@pytest.fixture(params=sorted(SCENARIOS))
def any_scenario(request):
    """(name, recording) for every runtime x Teams mode scenario."""
    return request.param, scenario(request.param)
