"""Every weakening a reviewer would try is reported by exactly the policies written for it; harmless changes of
the same fields pass. Each runs the real program through plan's path (pack offline + plan-only checks)."""

from __future__ import annotations

import pytest

from policy_helpers import SIG, names
from weakenings import HARMLESS, WEAKENINGS, violations_of


def test_weakening_names_are_unique():
    all_names = [w.name for w in WEAKENINGS + HARMLESS]
    assert len(all_names) == len(set(all_names))


@pytest.mark.parametrize("weakening", WEAKENINGS, ids=lambda w: w.name)
def test_weakening_is_caught_by_its_policies(weakening):
    found = violations_of(weakening)
    assert names(found) == weakening.caught_by, [(v.policy, v.name, v.message) for v in found]
    for v in found:
        assert v.type and v.name and v.message.endswith(".")
        assert "allowed" in v.message.lower() or "allows" in v.message.lower(), v.message  # names what is allowed
        assert SIG not in v.message and "secret.invalid" not in v.message and "apikey=" not in v.message


@pytest.mark.parametrize("change", HARMLESS, ids=lambda w: w.name)
def test_harmless_change_passes(change):
    found = violations_of(change)
    assert [(v.policy, v.name, v.message) for v in found if v.mandatory] == []
