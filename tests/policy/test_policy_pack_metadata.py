"""Pack metadata and documentation: every policy is described, levelled, configurable where a threshold
makes sense, and listed in docs/policy.md with the level it really has."""

from __future__ import annotations

import re
from pathlib import Path

from pulumi_policy import EnforcementLevel, PolicyConfigSchema

from trailwatch.policies import POLICIES, policy_by_name

DOCS = Path(__file__).resolve().parents[2] / "docs" / "policy.md"


def test_every_policy_has_name_description_level_and_severity():
    names = [p.name for p in POLICIES]
    assert len(names) == len(set(names))
    for policy in POLICIES:
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", policy.name), policy.name
        assert len(policy.description) >= 40 and policy.description.endswith("."), policy.name
        assert isinstance(policy.enforcement_level, EnforcementLevel) and policy.severity is not None


def test_thresholds_are_configurable_with_defaults():
    schema = policy_by_name("log-group-retention").config_schema
    assert isinstance(schema, PolicyConfigSchema)
    assert schema.properties["minimumRetentionDays"]["default"] == 90
    for policy in POLICIES:
        for key, prop in (policy.config_schema.properties.items() if policy.config_schema else ()):
            assert "default" in prop and prop.get("description"), (policy.name, key)


def test_docs_list_every_policy_with_its_level():
    text = DOCS.read_text()
    rows = dict(re.findall(r"^\| `([a-z0-9-]+)` \| (\w+) \|", text, flags=re.M))
    for policy in POLICIES:
        assert rows.get(policy.name) == policy.enforcement_level.value, policy.name
    assert rows["webhook-url-is-secret-config"] == "mandatory"


def test_docs_examples_are_valid():
    text = DOCS.read_text()
    python = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert len(python) == 1 and len(python[0].strip().splitlines()) <= 20
    compile(python[0], "docs/policy.md", "exec")
    import yaml

    for block in re.findall(r"```yaml\n(.*?)```", text, flags=re.S):
        workflow = yaml.safe_load(block)
        steps = workflow["jobs"]["preview"]["steps"]
        pulumi = next(s for s in steps if s.get("uses", "").startswith("pulumi/actions@"))
        assert pulumi["with"]["policyPacks"] == "policy" and pulumi["with"]["command"] == "preview"
