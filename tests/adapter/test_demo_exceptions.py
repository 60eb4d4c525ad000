"""``demo`` with noise exceptions: the bundled sample's exception (dated from today), ``--exceptions FILE`` and
its bad-input lines, and a run through the real chain whose card shows the excepted count."""

from __future__ import annotations

import datetime as dt
import json

import yaml
from stacks import in_days
from test_demo import SAMPLE, demo

from trailwatch.adapter.card_text import card_text
from trailwatch.localrun import (
    DEMO_EXCEPTION, DEMO_EXCEPTION_DAYS, bundled_exceptions, demo_stack, load_events, place_plan,
)
from trailwatch.stack import stack_excepted_filters

#: The sample's minute 2024-07-30T21:31: six GetPasswordData calls by the role DEMO_EXCEPTION names, and two
#: denied AssumeRole calls by a user in the same account.
MINUTE = "2024-07-30T21:31"


def test_the_bundled_exception_covers_some_of_the_samples_unauthorized_calls_and_the_alert_still_fires():
    stack = demo_stack(bundled_exceptions())
    (rule,) = stack.exceptions
    assert rule.expires == dt.datetime.now(dt.timezone.utc).date() + dt.timedelta(days=DEMO_EXCEPTION_DAYS)
    records, _ = load_events(SAMPLE)
    plan = place_plan(stack, records)
    (f,) = stack_excepted_filters(stack)
    assert plan.excepted == {f.name: 6} and plan.replayed.matches("unauthorized_api_calls") == 18
    assert "unauthorized_api_calls" in plan.expected
    assert set(plan.expected) == set(place_plan(demo_stack(), records).expected), "the exception hides no alert"


def test_a_bundled_exception_dated_a_year_back_still_expires_in_the_future_of_that_day():
    long_ago = dt.date(2020, 2, 29)
    (entry,) = bundled_exceptions(long_ago)
    assert entry["expires"] == "2020-05-29" and {k: v for k, v in entry.items() if k != "expires"} == DEMO_EXCEPTION


def test_bad_exceptions_files_are_one_line_each_and_leave_nothing_behind(tmp_path):
    expired = {**DEMO_EXCEPTION, "expires": in_days(-1), "owner": ""}
    cases = {
        "expired.yaml": (yaml.safe_dump([expired]), [
            "error: --exceptions expired.yaml: config 'trailwatch:exceptions'[0].owner: is required (a non-empty "
            "string)"]),
        "map.yaml": ("detections: [x]\n", [
            "error: --exceptions map.yaml: must be a YAML list of exception entries (or a mapping with the one "
            "key trailwatch:exceptions)"]),
        "broken.yaml": ("- [\n", None),
    }
    for name, (content, lines) in cases.items():
        (tmp_path / name).write_text(content)
        proc = demo(tmp_path, "--exceptions", name, "--out", "out", timeout=60)
        assert proc.returncode == 2, proc.stderr
        if lines is None:
            assert proc.stderr.startswith(f"error: --exceptions {name}: not valid YAML (")
            assert proc.stderr.count("\n") == 1
        else:
            assert proc.stderr.splitlines() == lines
        assert not (tmp_path / "out").exists()
    (tmp_path / "late.yaml").write_text(yaml.safe_dump([{**DEMO_EXCEPTION, "expires": in_days(-1)}]))
    proc = demo(tmp_path, "--exceptions", "late.yaml", "--out", "out", timeout=60)
    assert proc.returncode == 2 and proc.stderr.startswith(
        "error: --exceptions late.yaml: config 'trailwatch:exceptions'[0].expires: exception 0 (")
    assert "expired on" in proc.stderr and proc.stderr.count("\n") == 1


def test_the_demo_card_says_how_many_events_the_exception_hid(tmp_path):
    events = tmp_path / "events.jsonl"
    with SAMPLE.open() as src:
        events.write_text("".join(line for line in src if json.loads(line)["eventTime"].startswith(MINUTE)))
    (tmp_path / "exceptions.yaml").write_text(yaml.safe_dump(
        {"trailwatch:exceptions": [{**DEMO_EXCEPTION, "expires": in_days(30)}]}))
    proc = demo(tmp_path, "--events", str(events), "--exceptions", "exceptions.yaml", "--no-outage", "--out", "out")
    assert proc.returncode == 0, proc.stderr[-3000:]
    (rule_id,) = {line.split()[2] for line in proc.stdout.splitlines() if line.startswith("demo: exception ")}
    assert "excepts 6 of the 8 replayed unauthorized_api_calls events" in proc.stdout
    cards = {p.name: card_text(p.read_bytes()) for p in sorted((tmp_path / "out" / "cards").glob("card-*.json"))}
    firing = [" ".join(t.split()) for t in cards.values() if "FIRING" in t and "UNAUTHORIZED API CALLS" in t]
    assert len(firing) == 1, list(cards.values())
    assert (f"Excepted in window 6 by 'Sanctioned red-team exercise (Stratus Red Team, EC2 password data)' "
            f"(owner security-team, exception {rule_id}, until {in_days(30)})") in firing[0]
