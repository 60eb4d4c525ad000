"""The guard rails of noise exceptions in the pack: every refusal of the config check, word for word, through the
offline runner and the real pack process (offline == pack); expiry warnings; and the exception filters really
registered, weakened the way a component argument or a transformation would weaken them.

Dates are relative to today (``in_days``), so no test expires by itself.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from policy_helpers import (
    SCENARIOS, TUNED, check, edit_props, names, process_violations, program_for, record,
    start_pack, stop_pack,
)
from stacks import deployer_exception, in_days, make_stack, stack_config
from trailwatch.catalog import load_catalog
from trailwatch.cli import main
from trailwatch.errors import ConfigError
from trailwatch.offline_policy import analyze, engine_config, plan_violations
from trailwatch.policies import POLICIES, policy_by_name
from trailwatch.stack import config_strings, stack_excepted_filters, stack_from_config

ROOT = Path(__file__).resolve().parents[2]
FILTER = "aws:cloudwatch/logMetricFilter:LogMetricFilter"
ROLE = "arn:aws:iam::111122223333:role/gha-deployer"
GUARDED, EXPIRING, EXACT = "exceptions-guarded", "exceptions-expiring-soon", "exception-filters-exact"
DEPLOYS = deployer_exception(["security_group_changes", "iam_policy_changes"])


def _without(entry: dict, key: str) -> dict:
    return {k: v for k, v in entry.items() if k != key}


def _matching(match: dict, detections: tuple = ("iam_policy_changes",)) -> dict:
    return {**deployer_exception(list(detections)), "match": match}


#: name -> (stack settings, a fragment of the one refusal line). One problem each, so the config check, which
#: stops at a key's first problem, and the pack give the same single line.
REFUSALS = {
    "reason missing": (dict(exceptions=[_without(DEPLOYS, "reason")]), "[0].reason: is required"),
    "reason blank": (dict(exceptions=[{**DEPLOYS, "reason": "  "}]), "[0].reason: is required"),
    "owner missing": (dict(exceptions=[_without(DEPLOYS, "owner")]), "[0].owner: is required"),
    "expiry missing": (dict(exceptions=[_without(DEPLOYS, "expires")]), "[0].expires: is required"),
    "expiry not a date": (dict(exceptions=[{**DEPLOYS, "expires": "someday"}]), "[0].expires: is required"),
    "expiry past": (dict(exceptions=[deployer_exception(["iam_policy_changes"], days=-1)]), "expired on"),
    "expiry beyond the default 365 days": (dict(exceptions=[deployer_exception(["iam_policy_changes"], days=366)]),
                                           "more than maxExceptionDays (365) ahead"),
    "expiry beyond maxExceptionDays": (dict(maxExceptionDays=30, exceptions=[
        deployer_exception(["iam_policy_changes"], days=31)]), "more than maxExceptionDays (30) ahead"),
    "match missing": (dict(exceptions=[_without(DEPLOYS, "match")]), "[0].match: must be a non-empty mapping"),
    "match empty": (dict(exceptions=[_matching({})]), "[0].match: must be a non-empty mapping"),
    "match * only": (dict(exceptions=[_matching({"userAgent": "*"})]), "matches every value"),
    "match ** only in a list": (dict(exceptions=[_matching({"userIdentity.arn": [ROLE, "**"]})]),
                                "matches every value"),
    "match over broad classes only": (dict(exceptions=[_matching({
        "eventName": "PutRolePolicy", "eventSource": "iam.amazonaws.com", "awsRegion": "us-east-1",
        "userIdentity.type": "AssumedRole"})]), "names only broad classes"),
    "root_usage": (dict(exceptions=[deployer_exception(["root_usage"])]), "'root_usage' takes no exceptions"),
    "the heartbeat": (dict(exceptions=[deployer_exception(["cloudtrail_heartbeat"])]),
                      "'cloudtrail_heartbeat' takes no exceptions"),
    "unknown detection": (dict(exceptions=[deployer_exception(["iam_policy_change"])]),
                          "unknown detection 'iam_policy_change'"),
    "no detections": (dict(exceptions=[{**DEPLOYS, "detections": []}]), "[0].detections: is required"),
    "disabled detection": (dict(exceptions=[deployer_exception(["suspicious_source_ips"])]), "is not enabled"),
    "CIDR out of range": (dict(exceptions=[_matching({"userIdentity.arn": ROLE, "sourceIPAddress": "4.175.114.0/33"})]),
                          "is not a valid CIDR"),
    "CIDR with host bits": (dict(exceptions=[_matching({"userIdentity.arn": ROLE,
                                                        "sourceIPAddress": "4.175.114.7/24"})]),
                            "is not a valid CIDR"),
    "CIDR too broad": (dict(exceptions=[_matching({"userIdentity.arn": ROLE, "sourceIPAddress": "4.0.0.0/8"})]),
                       "is too broad"),
    "wildcard inside": (dict(exceptions=[_matching({"userIdentity.arn": ROLE, "userAgent": "pulumi*aws"})]),
                        "has a '*' inside"),
    "IP wildcard not a prefix": (dict(exceptions=[_matching({"userIdentity.arn": ROLE, "sourceIPAddress": "4.*"})]),
                                 "must be an IPv4 prefix"),
    "ARN of any account": (dict(exceptions=[_matching({
        "userIdentity.sessionContext.sessionIssuer.arn": "arn:aws:iam::*:role/gha-deployer"})]), "has a '*' inside"),
    "ARN without its account": (dict(exceptions=[_matching({
        "userIdentity.sessionContext.sessionIssuer.arn": "arn:aws:iam:::role/gha-deployer"})]),
                                "must be a whole IAM/STS ARN with its 12-digit account"),
    "ARN tail only": (dict(exceptions=[_matching({"userIdentity.arn": "*:role/gha-deployer"})]),
                      "must be a whole IAM/STS ARN"),
    "overlapping exceptions": (dict(exceptions=[DEPLOYS, _matching({"userAgent": "*pulumi-aws/*"})]),
                               "can both match one event of 'iam_policy_changes'"),
    "past AWS's 1,024 characters": (dict(exceptions=[_matching({
        "userIdentity.arn": ROLE, "userAgent": [f"agent-{i}-" + "x" * 100 for i in range(3)]},
        ("organizations_changes",))]), "AWS allows 1024"),
}


def refusal_lines(settings: dict) -> list[str]:
    """The config check's lines for a stack: what plan, render and the program print before stopping."""
    with pytest.raises(ConfigError) as caught:
        make_stack(**settings)
    return getattr(caught.value, "errors", None) or str(caught.value).splitlines()


def engine(settings: dict) -> dict[str, str]:
    """The stack config as the engine hands it to the pack."""
    return engine_config(config_strings(stack_config(**settings))[0])


def tuned(settings: dict | None = None, *transforms):
    """``(recording, stack)`` of a compliant tuned stack (``settings`` added), filters transformed."""
    settings = {**TUNED, "exceptions": [DEPLOYS], **(settings or {})}
    rec, config, secrets = record(settings, program_for(transforms=transforms))
    return rec, stack_from_config("test", config, secrets)


@pytest.fixture(scope="module")
def tuned_run():
    return tuned()


# --- every refusal: config check == offline runner == pack process ------------------------------------------------

@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_refusal_is_one_line_and_the_same_offline_and_in_the_pack(case, tuned_run):
    settings, fragment = REFUSALS[case]
    settings = {**TUNED, **settings}
    lines = refusal_lines(settings)
    assert len(lines) == 1 and fragment in lines[0], lines
    assert lines[0].startswith("config 'trailwatch:exceptions'")
    rec, _ = tuned_run  # what a program that did not refuse the config would have registered
    offline = analyze(rec, engine(settings), "test")
    assert [(v.policy, v.level, v.type, v.message) for v in offline] == [
        (GUARDED, "mandatory", "pulumi:pulumi:Stack", lines[0])]
    proc, channel, stub = start_pack(ROOT / "policy", engine(settings))
    try:
        from_process = process_violations(stub, rec)
    finally:
        stop_pack(proc, channel)
    assert sorted(from_process, key=repr) == sorted(offline, key=repr)


def test_every_problem_of_a_stack_is_its_own_violation(tuned_run):
    settings = {**TUNED, "exceptions": [deployer_exception(["root_usage", "no_such_detection"], days=-3),
                                         deployer_exception(["cloudtrail_heartbeat"], days=400,
                                                            **{"userIdentity.arn": ROLE})]}
    offline = [v.message for v in analyze(tuned_run[0], engine(settings), "test") if v.policy == GUARDED]
    assert offline == refusal_lines(settings)
    assert len(offline) == 5  # root_usage, unknown id, heartbeat, past expiry, beyond 365 days


def test_every_bad_entry_is_reported_not_only_the_first(tuned_run):
    settings = {**TUNED, "exceptions": [_without(DEPLOYS, "owner"), _matching({"userAgent": "*"})]}
    offline = [v.message for v in analyze(tuned_run[0], engine(settings), "test") if v.policy == GUARDED]
    assert len(offline) == 2
    assert "[0].owner: is required" in offline[0] and "[1].match.userAgent" in offline[1]
    assert refusal_lines(settings)[0] == offline[0]  # the config check stops at the first


def test_a_stack_without_exceptions_or_with_sound_ones_passes(tuned_run):
    rec, stack = tuned_run
    registered = {r.inputs["name"] for r in rec.of_type(FILTER) if "-x-" in r.inputs["name"]}
    assert registered == {f"trailwatch-test-{det}-x-0ae71890"
                          for det in ("iam_policy_changes", "security_group_changes")}
    assert [v for v in analyze(rec, engine({**TUNED, "exceptions": [DEPLOYS]}), "test")] == []
    assert analyze(*record(SCENARIOS["none"])[:2], "test") == []


def test_a_sound_exception_under_an_invalid_stack_config_is_not_passed_silently(tuned_run):
    settings = {**TUNED, "exceptions": [DEPLOYS], "alertWindowMinutes": "soon"}
    (found,) = [v for v in analyze(tuned_run[0], engine(settings), "test")]
    assert found.policy == GUARDED and "cannot be checked" in found.message and "alertWindowMinutes" in found.message


# --- expiry ---------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("days", [0, 1, 14])
def test_an_exception_expiring_within_14_days_is_a_warning(days):
    settings = {**TUNED, "exceptions": [deployer_exception(["iam_policy_changes"], days=days)]}
    stack = make_stack(**settings)
    assert len(stack.warnings) == 1
    found = check(settings)
    assert [(v.policy, v.level) for v in found] == [(EXPIRING, "advisory")]
    assert found[0].message.startswith(stack.warnings[0])
    assert f"in {days} day(s) (owner platform-team)" in found[0].message


def test_no_warning_15_days_ahead():
    settings = {**TUNED, "exceptions": [deployer_exception(["iam_policy_changes"], days=15)]}
    assert check(settings) == [] and make_stack(**settings).warnings == ()


def test_plan_refuses_a_past_exception_and_warns_of_a_near_one(tmp_path, capsys):
    def stack_file(name: str, days: int) -> None:
        entry = deployer_exception(["iam_policy_changes"], days=days)
        (tmp_path / f"Pulumi.{name}.yaml").write_text(json.dumps({"config": stack_config(**TUNED, exceptions=[entry])}))

    stack_file("past", -1)
    stack_file("near", 3)
    assert main(["plan", "--stack", "past", "--config-dir", str(tmp_path)]) == 2
    out, err = capsys.readouterr()
    assert err.strip().splitlines() == [f"error: config 'trailwatch:exceptions'[0].expires: exception 0 (0ae71890, "
                                        f"'Pulumi deploys from GitHub Actions') expired on {in_days(-1)} (owner "
                                        f"platform-team); renew it with a new date or remove it"]
    assert main(["plan", "--stack", "near", "--config-dir", str(tmp_path), "--format", "json"]) == 0
    out, _ = capsys.readouterr()
    (warning,) = json.loads(out)["policy"]["violations"]
    assert (warning["policy"], warning["level"]) == (EXPIRING, "advisory")
    assert f"expires on {in_days(3)}, in 3 day(s)" in warning["message"]


# --- what was really registered ---------------------------------------------------------------------------------------

def _set_pattern(text: str):
    return edit_props(FILTER, lambda p: p.update(pattern=text), "trailwatch-iam_policy_changes-x-")


def _iam_pattern() -> str:
    return next(d.pattern for d in load_catalog() if d.id == "iam_policy_changes")


def _exact(*transforms) -> list:
    rec, stack = tuned(None, *transforms)
    return plan_violations(rec, stack)


def test_registered_exception_filters_pass(tuned_run):
    rec, stack = tuned_run
    patterns = {r.inputs["name"]: r.inputs["pattern"] for r in rec.of_type(FILTER)}
    name = f"trailwatch-test-iam_policy_changes-x-{stack.exceptions[0].id}"
    assert patterns[name].startswith("{ (" + _iam_pattern()[1:-1])
    assert patterns["trailwatch-test-iam_policy_changes"] == _iam_pattern()  # the detection's own, unchanged


@pytest.mark.parametrize("clause, shown", [
    ('$.userIdentity.invokedBy != "cloudformation.amazonaws.com"', "!= cloudformation.amazonaws.com"),
    ("$.userIdentity.invokedBy NOT EXISTS", "NOT EXISTS"),
    ("$.errorCode = %Access.*%", "= %Access.*%"),
    ("$.requestParameters.count > 3", "> 3"),
])
def test_an_exception_filter_with_a_negative_comparison_is_refused(clause, shown):
    pattern = "{ (" + _iam_pattern()[1:-1] + ") && ($.userAgent = \"*pulumi-aws/*\" && " + clause + ") }"
    found = [v for v in _exact(_set_pattern(pattern)) if v.policy == EXACT]
    (v,) = found
    assert v.level == "mandatory" and v.name == "trailwatch-iam_policy_changes-x-0ae71890"
    assert f"compares {clause.split()[0]} {shown} outside its detection's pattern" in v.message


def test_an_exception_filter_without_its_detection_pattern_is_refused():
    (v,) = [v for v in _exact(_set_pattern('{ $.userAgent = "*pulumi-aws/*" }')) if v.policy == EXACT]
    assert "does not begin with its detection filter's own JSON pattern" in v.message


def test_an_exception_filter_under_another_detection_pattern_is_refused():
    other = next(d.pattern for d in load_catalog() if d.id == "security_group_changes")
    pattern = "{ (" + other[1:-1] + ') && ($.userAgent = "*pulumi-aws/*") }'
    (v,) = [v for v in _exact(_set_pattern(pattern)) if v.policy == EXACT]
    assert "does not begin with its detection filter's own JSON pattern" in v.message


def test_an_exception_filter_past_1024_characters_is_refused():
    pattern = "{ (" + _iam_pattern()[1:-1] + ") && (" + " || ".join(
        f'$.userAgent = "agent-{i:03}"' for i in range(40)) + ") }"
    assert len(pattern) > 1024
    (v,) = [v for v in _exact(_set_pattern(pattern)) if v.policy == EXACT]
    assert f"its pattern is {len(pattern)} characters; AWS allows 1024" in v.message


def test_an_exception_count_subtracted_from_another_detection_is_refused(tuned_run):
    _, stack = tuned_run
    sg = next(f for f in stack_excepted_filters(stack) if f.detection.id == "security_group_changes")
    moved = edit_props(FILTER, lambda p: p["metric_transformation"].update(name=sg.metric),
                       "trailwatch-iam_policy_changes-x-")
    found = _exact(moved)
    (v,) = [v for v in found if v.policy == EXACT]
    assert ("is used by TrailwatchSecurityGroupChanges in stack output prometheusRules, its detection's count "
            "cloudtrailmetrics_iampolicy_changes_sum by TrailwatchIamPolicyChanges") in v.message
    assert "may only be subtracted in its own detection's alert rule" in v.message


def test_an_exception_count_no_rule_subtracts_is_refused():
    renamed = edit_props(FILTER, lambda p: p["metric_transformation"].update(name="IAMPolicyChangesExceptedBogus"),
                         "trailwatch-iam_policy_changes-x-")
    found = _exact(renamed)
    (v,) = [v for v in found if v.policy == EXACT]
    assert "is used by no alert rule" in v.message
    assert "every-filter-has-one-alert" in names(found)  # coverage reports the unalerted metric as well


def test_an_exception_filter_without_its_detection_filter_is_refused():
    renamed = edit_props(FILTER, lambda p: p.update(name="trailwatch-test-iam_policy_change-x-0ae71890"),
                         "trailwatch-iam_policy_changes-x-")
    (v,) = [v for v in _exact(renamed) if v.policy == EXACT]
    assert "no metric filter trailwatch-test-iam_policy_change of its detection" in v.message


def test_exception_filters_leave_the_security_hub_filters_exact():
    settings = {**SCENARIOS["cis"], **TUNED, "exceptions": [DEPLOYS]}
    rec, config, secrets = record(settings, program_for())
    stack = stack_from_config("test", config, secrets)
    assert plan_violations(rec, stack) == []
    patterns = {r.inputs["name"]: r.inputs["pattern"] for r in rec.of_type(FILTER)}
    for det in (d for d in load_catalog() if d.is_cis):
        assert patterns[f"trailwatch-test-{det.id}"] == det.pattern
    assert sum("-x-" in name for name in patterns) == 2
    # and a CIS filter edited to exclude noise (what Security Hub fails) is still caught beside them
    iam = next(d for d in stack.detections if d.id == "iam_policy_changes")
    tuned_iam = next(f for f in stack_excepted_filters(stack) if f.detection.id == iam.id)
    weakened = edit_props(FILTER, lambda p: p.update(pattern=tuned_iam.pattern),
                          "trailwatch-iam_policy_changes")
    rec, _, _ = record(settings, program_for(transforms=[weakened]))
    found = plan_violations(rec, stack)
    assert any(v.policy == "cis-detections-complete" and iam.id in v.message for v in found)


def test_the_pack_registers_the_exception_policies_at_their_levels():
    assert policy_by_name(GUARDED).enforcement_level.value == "mandatory"
    assert policy_by_name(EXACT).enforcement_level.value == "mandatory"
    assert policy_by_name(EXPIRING).enforcement_level.value == "advisory"
    assert {GUARDED, EXPIRING, EXACT} <= {p.name for p in POLICIES}
