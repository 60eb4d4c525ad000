"""Replay with a stack's noise exceptions: per detection the matches, what each exception excepted and the pages
with and without them, equal to the reference semantics (``trailwatch.exceptions.excepted_by``) whichever way
the records are read (record by record, the JSON-lines prefilter, split and merged), and shown in every format."""

from __future__ import annotations

import datetime as dt
import io
import json
from collections import Counter
from pathlib import Path
from unittest import mock

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import test_prefilter_properties as props
from exception_day import ACCOUNT, CI_USER, DEPLOYER, EKS, FOREIGN, day, event, role_session
from replay_helpers import write_lines
from stacks import deployer_exception, in_days
from trailwatch.catalog import load_catalog
from trailwatch.cli import main
from trailwatch.exceptions import Condition, ExceptionRule, excepted_by, parse_exceptions
from trailwatch.filterpattern import PatternSet
from trailwatch.replay import minute_of, readers, replay_paths, replay_records, simulate_alerts
from trailwatch.replay.alerts import minute_time
from trailwatch.replay.engine import Aggregator, Rule, tuned
from trailwatch.replay.partial import Partial, merge
from trailwatch.replay.report import build_report

CATALOG = {d.id: d for d in load_catalog()}
DETECTIONS = ("security_group_changes", "iam_policy_changes")
RULES = [Rule(ident, CATALOG[ident].pattern) for ident in DETECTIONS]
WINDOW, HOLD = 30, 10
SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# -- the reference ------------------------------------------------------------------------------------------


def reference(events: list[dict], rules: list[Rule], exceptions: tuple[ExceptionRule, ...]) -> dict:
    """Per detection: the matches, each exception's excepted events and the pages with and without them, by
    the exception model's own ``excepted_by`` over the detection's own pattern."""
    out = {}
    for rule in rules:
        matches, excepted, paged = Counter(), Counter(), Counter()
        for rec in events:
            minute = minute_of(rec.get("eventTime"))
            if minute is None or not PatternSet({rule.id: rule.pattern}).matching(rec):
                continue
            matches[minute_time(minute)] += 1
            found = excepted_by(exceptions, rule.id, rec)
            if found is None:
                paged[minute_time(minute)] += 1
            else:
                excepted[found.id] += 1
        out[rule.id] = {
            "matches": sum(matches.values()),
            "excepted": {r.id: excepted[r.id] for r in exceptions if rule.id in r.detections},
            "pages": (len(simulate_alerts(matches, WINDOW, rule.threshold, HOLD)),
                      len(simulate_alerts(paged, WINDOW, rule.threshold, HOLD))),
        }
    return out


def figures(report) -> dict:
    return {ident: {"matches": det.matches, "excepted": {e.rule.id: e.events for e in det.excepted},
                    "pages": (len(det.alerts_without_exceptions), len(det.alerts))}
            for ident, det in report.detections.items()}


def prefiltered(data: bytes, rules: list[Rule], chunk: int = 4096) -> Aggregator:
    """The JSON-lines prefilter's counts (replay's path for JSON lines)."""
    agg = Aggregator(rules)
    with mock.patch.object(readers, "CHUNK", chunk):
        agg.feed(readers.read_stream(io.BytesIO(data), "mem", blocks=True))
    return agg


# -- generated events and exceptions that pass the guard rails -----------------------------------------------

OTHER_DEPLOYER = f"arn:aws:iam::{FOREIGN}:role/gha-deployer"
IDENTITIES = st.sampled_from([
    role_session(DEPLOYER, "run-1"), role_session(OTHER_DEPLOYER, "run-1"), role_session(EKS, "eks"),
    {"type": "IAMUser", "arn": CI_USER}, {"type": "IAMUser"}, {"type": "AssumedRole", "arn": DEPLOYER},
    {"type": "Root", "arn": f"arn:aws:iam::{ACCOUNT}:root"}, {"type": "AssumedRole", "sessionContext": None},
])
IPS = st.sampled_from(["4.175.114.10", "4.175.115.10", "20.57.79.200", "eks.amazonaws.com", "203.0.113.77", None, 7])
AGENTS = st.sampled_from(["aws-sdk-go-v2/1.21.0 pulumi-aws/6.2", "aws-cli/2.15.30", "eks.amazonaws.com",
                          "pulumi-aws/x", None, 3])
NAMES = st.sampled_from(["AuthorizeSecurityGroupIngress", "RevokeSecurityGroupEgress", "PutRolePolicy",
                         "PutUserPolicy", "DescribeInstances"])


@st.composite
def events(draw) -> dict:
    ip, agent = draw(IPS), draw(AGENTS)
    rec = event(f"10:{draw(st.integers(0, 59)):02d}", draw(NAMES), draw(IDENTITIES), "x", None)
    if ip is None:
        del rec["sourceIPAddress"]
    else:
        rec["sourceIPAddress"] = ip
    if agent is not None:
        rec["userAgent"] = agent
    return rec


# Entries a user would write (every one passes the guard rails); any subset, in any order, is replayed.
ENTRIES = [
    deployer_exception(list(DETECTIONS)),
    deployer_exception(["security_group_changes"], **{"userIdentity.sessionContext.sessionIssuer.arn": EKS,
                                                      "userAgent": "eks.amazonaws.com"}),
    deployer_exception(["iam_policy_changes"], **{"userIdentity.arn": CI_USER}),
    deployer_exception(["security_group_changes"], **{"sourceIPAddress": "4.175.0.0/16",
                                                      "userAgent": ["aws-cli/*", "*pulumi-aws/*"]}),
    deployer_exception(list(DETECTIONS), **{"userIdentity.arn": "arn:aws:iam::111122223333:role/*"}),
]


@SETTINGS
@given(st.lists(events(), min_size=1, max_size=40), st.permutations(range(len(ENTRIES))), st.integers(0, 5),
       st.sampled_from([64, 4096]))
def test_counts_equal_the_reference_by_every_path(recs, order, count, chunk):
    exceptions = parse_exceptions([ENTRIES[i] for i in order[:count]])
    rules = tuned(RULES, exceptions)
    expected = reference(recs, RULES, exceptions)
    assert figures(replay_records(recs, RULES, WINDOW, hold_minutes=HOLD, exceptions=exceptions)) == expected
    data = b"".join(json.dumps(r, separators=(",", ":")).encode() + b"\n" for r in recs)
    agg = prefiltered(data, rules, chunk)
    assert figures(build_report(Partial.of(agg), WINDOW, hold_minutes=HOLD)) == expected
    halves = [Aggregator(rules), Aggregator(rules)]
    halves[0].feed(recs[: len(recs) // 2])
    halves[1].feed(recs[len(recs) // 2:])
    merged = merge([Partial.of(h, order=i) for i, h in enumerate(halves)])
    assert figures(build_report(merged, WINDOW, hold_minutes=HOLD)) == expected


# -- the prefilter stays exact with exceptions, on the prefilter's own hostile lines ---------------------------

HOSTILE = [  # over the fields the hostile generator writes, including absent and non-string ones
    (Condition("sourceIPAddress", ("203.0.113.0/24",)),),
    (Condition("userAgent", ("aws-cli/*",)), Condition("userIdentity.type", ("IAMUser", "Root"))),
    (Condition("userIdentity.arn", ("*Login", "1")),),
    (Condition("userIdentity.sessionContext.sessionIssuer.arn", ("Ro*",)), Condition("eventName", ("ConsoleLogin",))),
    (Condition("errorCode", ("AccessDenied",)), Condition("sourceIPAddress", ("AWS Internal",))),
]


@SETTINGS
@given(st.lists(props.lines(), min_size=5, max_size=30), props.PATTERNS,
       st.lists(st.tuples(st.integers(0, 5), st.integers(0, len(HOSTILE) - 1)), max_size=4),
       st.sets(st.integers(0, 5)), st.sampled_from([64, 512, 4096]), st.booleans())
def test_prefilter_with_exceptions_equals_full_evaluation(body, patterns, attach, collect, chunk, final_newline):
    """Detections with exceptions (and with principals summed) read every matching line as the reference does;
    every count, series, excepted series and principal sum is the same."""
    rules = [Rule(f"p{i}", p) for i, p in enumerate(patterns)]
    exceptions = tuple(ExceptionRule(k, (f"p{i}",), "r", "o", dt.date(2099, 1, 1), HOSTILE[h])
                       for k, (i, h) in enumerate(attach))
    rules = tuned(rules, exceptions, [f"p{i}" for i in collect])
    data = b"\n".join(body) + (b"\n" if final_newline else b"")

    def state(prefilter: bool) -> dict:
        agg = Aggregator(rules, prefilter=prefilter)
        with mock.patch.object(readers, "CHUNK", chunk):
            agg.feed(readers.read_stream(io.BytesIO(data), "mem", blocks=prefilter))
        return {**props.state(agg), "excepted": agg.excepted, "by_principal": agg.by_principal}

    assert state(True) == state(False)


# -- the semantics a user relies on ------------------------------------------------------------------------------

def test_absent_field_never_holds_and_a_foreign_account_is_not_excepted():
    """The deployer's exception names its role, its runner ranges and its agent: a match lacking the agent, one
    from a same-named role in another account, and one from another range all still page."""
    exceptions = parse_exceptions([deployer_exception(["iam_policy_changes"])])
    ident, agent = role_session(DEPLOYER, "r"), "aws-sdk-go-v2/1.21 pulumi-aws/6.2"
    recs = [event("10:00", "PutRolePolicy", ident, "4.175.114.10", agent),  # excepted
            event("11:00", "PutRolePolicy", ident, "4.175.114.10", None),  # no userAgent
            event("12:00", "PutRolePolicy", role_session(OTHER_DEPLOYER, "r"), "4.175.114.10", agent),
            event("13:00", "PutRolePolicy", ident, "4.175.115.10", agent)]  # the next /24
    rep = replay_records(recs, RULES, WINDOW, hold_minutes=HOLD, exceptions=exceptions)
    det = rep.detections["iam_policy_changes"]
    assert (det.matches, det.excepted_events, len(det.alerts_without_exceptions)) == (4, 1, 4)
    assert [a.start.strftime("%H:%M") for a in det.alerts] == ["11:00", "12:00", "13:00"]
    assert rep.detections["security_group_changes"].excepted == []  # the exception does not name it


def test_workers_merge_the_excepted_counts(tmp_path, monkeypatch):
    """Two worker processes over byte ranges of one file give the one-pass figures."""
    from trailwatch.replay import tasks
    from trailwatch.replay.sources import Sources
    exceptions = parse_exceptions([deployer_exception(list(DETECTIONS))])
    recs = day() * 40
    path = write_lines(tmp_path / "day.jsonl", recs)
    one = replay_paths([path], RULES, WINDOW, hold_minutes=HOLD, exceptions=exceptions)
    monkeypatch.setattr(tasks, "MIN_TASK_BYTES", 64 << 10)
    monkeypatch.setattr(readers, "WHOLE_DOCUMENT_LIMIT", 64 << 10)
    assert len(list(tasks.plan(Sources([path]), tasks.task_bytes(path.stat().st_size, 2)))) > 4
    two = replay_paths([path], RULES, WINDOW, hold_minutes=HOLD, exceptions=exceptions, workers=2)
    assert figures(one) == figures(two) == reference(recs, RULES, exceptions)
    assert one.detections["security_group_changes"].excepted_events == 24 * 40


# -- what the user sees ------------------------------------------------------------------------------------------

STACK = """\
config:
  aws:region: us-east-1
  trailwatch:alertWindowMinutes: 35
"""


def stack_dir(tmp_path: Path, exceptions: list[dict] | None = None, name: str = "x") -> Path:
    text = STACK + (f"  trailwatch:exceptions: {json.dumps(exceptions)}\n" if exceptions else "")
    (tmp_path / f"Pulumi.{name}.yaml").write_text(text)
    return tmp_path


HOSTILE_TEXT = {"reason": "<script>alert(1)</script> deploys & more", "owner": "<b>platform</b>"}


@pytest.fixture
def tuned_day(tmp_path) -> tuple[Path, Path, list[dict]]:
    entries = [{**deployer_exception(list(DETECTIONS), **{"userIdentity.sessionContext.sessionIssuer.arn": DEPLOYER,
                                                          "userAgent": "aws-sdk-go-v2/*"}), **HOSTILE_TEXT},
               deployer_exception(["security_group_changes"], **{"userIdentity.sessionContext.sessionIssuer.arn": EKS})]
    base = stack_dir(tmp_path, entries)
    return base, write_lines(tmp_path / "day.jsonl", day()), entries


def test_json_shows_excepted_and_pages(tuned_day, capsys):
    base, path, entries = tuned_day
    assert main(["replay", "--stack", "x", "--config-dir", str(base), "--format", "json", str(path)]) == 0
    doc = json.loads(capsys.readouterr().out)
    rules = parse_exceptions(entries)
    expected = reference(day(), [Rule(d, CATALOG[d].pattern) for d in DETECTIONS], rules)
    for ident in DETECTIONS:
        det = doc["detections"][ident]
        assert det["pages"] == dict(zip(("without_exceptions", "with_exceptions"), expected[ident]["pages"]))
        assert [(e["id"], e["events"]) for e in det["excepted"]] == list(expected[ident]["excepted"].items())
        assert len(det["alerts"]) == det["pages"]["with_exceptions"]
        assert len(det["alerts_without_exceptions"]) == det["pages"]["without_exceptions"]
    sg = doc["detections"]["security_group_changes"]
    assert sg["pages"] == {"without_exceptions": 13, "with_exceptions": 0}  # every benign page is gone
    assert sg["excepted"][0] == {"id": rules[0].id, "reason": HOSTILE_TEXT["reason"], "owner": HOSTILE_TEXT["owner"],
                                 "expires": rules[0].expires.isoformat(), "events": 24}
    iam = doc["detections"]["iam_policy_changes"]
    # left paging: the ci-bot's hand-run CLI (8, every three hours), the foreign role and mallory
    assert [a["start"][11:16] for a in iam["alerts"]] == ["01:50", "04:50", "06:21", "07:50", "09:33", "10:50",
                                                          "13:50", "16:50", "19:50", "22:50"]
    assert doc["detections"]["root_usage"]["excepted"] == [] and doc["detections"]["root_usage"]["pages"] == {
        "without_exceptions": 2, "with_exceptions": 2}


def test_table_shows_excepted_and_pages(tuned_day, capsys):
    base, path, entries = tuned_day
    assert main(["replay", "--stack", "x", "--config-dir", str(base), str(path)]) == 0
    out = capsys.readouterr().out
    header = next(line for line in out.splitlines() if line.startswith("detection"))
    assert header.split() == ["detection", "matches", "excepted", "peak/min", "thr", "alerts", "w/o", "exceptions",
                              "first", "match", "last", "match"]
    sg = next(line for line in out.splitlines() if line.startswith("security_group_changes "))
    assert sg.split()[1:7] == ["48", "48", "1", "1", "0", "13"]
    rule = parse_exceptions(entries)[0]
    assert "  pages:           0 with exceptions, 13 without" in out
    assert (f"  excepted:        24 by exception {rule.id} ({HOSTILE_TEXT['reason']!r}, owner <b>platform</b>, "
            f"until {rule.expires})") in out


def test_html_shows_excepted_and_pages_escaped(tuned_day, capsys):
    base, path, entries = tuned_day
    assert main(["replay", "--stack", "x", "--config-dir", str(base), "--format", "html", str(path)]) == 0
    page = capsys.readouterr().out
    assert "<script>" not in page and "<b>platform" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; deploys &amp; more" in page
    assert "<td>&lt;b&gt;platform&lt;/b&gt;</td>" in page
    rule = parse_exceptions(entries)[0]
    assert f"<tr><td><code>{rule.id}</code></td>" in page
    assert "Pages: 0 with exceptions, 13 without (48 of 48 matches excepted).</p>" in page
    assert "<th class=n>alerts without exceptions</th>" in page


# -- replay --suggest-exceptions ----------------------------------------------------------------------------------

def suggest(base: Path, path: Path, capsys, stack: str = "x") -> str:
    assert main(["replay", "--stack", stack, "--config-dir", str(base), "--suggest-exceptions", str(path)]) == 0
    return capsys.readouterr().out


def pages(base: Path, path: Path, capsys, stack: str = "x") -> dict[str, tuple[int, int]]:
    assert main(["replay", "--stack", stack, "--config-dir", str(base), "--format", "json", str(path)]) == 0
    doc = json.loads(capsys.readouterr().out)
    return {i: (d["pages"]["without_exceptions"], d["pages"]["with_exceptions"]) for i, d in doc["detections"].items()}


def promised(out: str) -> dict[str, tuple[int, int]]:
    """The header's "now -> with every entry below" figures."""
    line = next(line for line in out.splitlines() if line.startswith("# Pages on these logs"))
    pairs = line.split(": ", 1)[1].split(", ")
    return {p.split()[0]: (int(p.split()[1]), int(p.split()[3])) for p in pairs}


def paste(base: Path, out: str, existing: list[dict] | None = None, name: str = "x") -> None:
    """What the user does: the printed text under ``trailwatch:exceptions:`` (after their own entries)."""
    text = STACK + "  trailwatch:exceptions:\n"
    if existing:
        text += yaml.safe_dump(existing, sort_keys=False).replace("\n", "\n    ").join(["    ", "\n"])
    (base / f"Pulumi.{name}.yaml").write_text(text + out)


def test_suggestions_round_trip(tmp_path, capsys):
    """Pasted as printed, the stack accepts them, and the replay shows the pages the comments promised: every
    benign page gone, the foreign role's and the hand edit's still there, nothing for root or the heartbeat."""
    base, path = stack_dir(tmp_path), write_lines(tmp_path / "day.jsonl", day())
    out = suggest(base, path, capsys)
    entries = yaml.safe_load(out)
    assert [e["match"].get("userIdentity.sessionContext.sessionIssuer.arn", e["match"].get("userIdentity.arn"))
            for e in entries] == [DEPLOYER, EKS, CI_USER]
    assert entries[0]["match"] == {"userIdentity.sessionContext.sessionIssuer.arn": DEPLOYER,
                                   "userIdentity.type": "AssumedRole", "userAgent": "aws-sdk-go-v2/*",
                                   "sourceIPAddress": ["20.57.79.0/24", "4.175.114.0/24"]}
    assert entries[1]["match"]["userAgent"] == "eks.amazonaws.com" and "sourceIPAddress" not in entries[1]["match"]
    assert entries[0]["detections"] == ["iam_policy_changes", "security_group_changes"]
    for entry in entries:
        assert entry["owner"] == "unassigned-review-me" and entry["reason"].startswith("auto-suggested: ")
        assert entry["expires"] == in_days(30)
        assert not {"root_usage", "cloudtrail_heartbeat"} & set(entry["detections"])
    assert "root_usage" not in out and "heartbeat" not in out
    before = pages(base, path, capsys)
    promise = promised(out)
    assert promise == {"iam_policy_changes": (12, 2), "security_group_changes": (13, 0)}
    assert {i: before[i][1] for i in promise} == {i: now for i, (now, _) in promise.items()}

    paste(base, out)
    after = pages(base, path, capsys)
    assert {i: after[i] for i in promise} == {i: (before[i][1], later) for i, (_, later) in promise.items()}
    assert after["root_usage"] == before["root_usage"] == (2, 2)
    assert main(["replay", "--stack", "x", "--config-dir", str(base), "--format", "json", str(path)]) == 0
    iam = json.loads(capsys.readouterr().out)["detections"]["iam_policy_changes"]
    assert [a["start"][11:16] for a in iam["alerts"]] == ["06:21", "09:33"]  # the foreign role, mallory


def test_each_entry_alone_removes_what_its_comment_says(tmp_path, capsys):
    base, path = stack_dir(tmp_path), write_lines(tmp_path / "day.jsonl", day())
    out = suggest(base, path, capsys)
    before = pages(base, path, capsys)
    blocks = out.split("# pages with this entry alone: ")[1:]
    assert len(blocks) == 3
    for i, block in enumerate(blocks):
        comment, entry = block.split("\n", 1)
        paste(base, entry, name=f"one{i}")
        after = pages(base, path, capsys, stack=f"one{i}")
        for figure in comment.split(", "):
            ident, now, _, later = figure.split()
            assert (before[ident][1], after[ident][1]) == (int(now), int(later)), (i, ident)


def test_suggestions_beside_the_stacks_own_exceptions(tmp_path, capsys):
    """With the EKS role already excepted, its matches page no more and are not suggested; the others are,
    and the stack takes them beside its own."""
    own = [deployer_exception(["security_group_changes"], **{"userIdentity.sessionContext.sessionIssuer.arn": EKS,
                                                             "userAgent": "eks.amazonaws.com"})]
    base, path = stack_dir(tmp_path, own), write_lines(tmp_path / "day.jsonl", day())
    out = suggest(base, path, capsys)
    entries = yaml.safe_load(out)
    assert EKS not in json.dumps(entries) and len(entries) == 2
    promise = promised(out)
    assert promise["security_group_changes"] == (12, 0)
    paste(base, out, own)
    after = pages(base, path, capsys)
    assert {i: after[i][1] for i in promise} == {i: later for i, (_, later) in promise.items()}


def test_nothing_to_suggest_says_why(tmp_path, capsys, monkeypatch):
    """Nothing is printed that the stack would refuse: when it refuses every entry, the first refusal says why."""
    from trailwatch.errors import ConfigError
    from trailwatch.replay import suggest as module

    def refuse(*args, **kwargs):
        raise ConfigError("config 'trailwatch:exceptions': refused for this test")

    path = write_lines(tmp_path / "day.jsonl", day())
    with monkeypatch.context() as m:
        m.setattr(module, "resolve_exceptions", refuse)
        out = suggest(stack_dir(tmp_path), path, capsys)
    assert out == ("# replay --suggest-exceptions: nothing to suggest: the stack would refuse every entry for the "
                   "pages of iam_policy_changes (12), security_group_changes (13); the first refusal: config "
                   "'trailwatch:exceptions': refused for this test\n")
    quiet = write_lines(tmp_path / "quiet.jsonl", [e for e in day() if e["userIdentity"]["type"] == "Root"])
    out = suggest(stack_dir(tmp_path), quiet, capsys)
    assert out == "# replay --suggest-exceptions: nothing to suggest: no detection that takes exceptions paged on " \
                  "these logs\n"


def test_hostile_principals_are_never_suggested_wider(tmp_path, capsys):
    """A principal name with a wildcard, a user agent with a '*' or a quote: never a wider match than what was
    read (the wildcard principal is left out, the agent condition dropped)."""
    wild = f"arn:aws:iam::{ACCOUNT}:role/ci*"
    recs = [event(f"{h:02d}:10", "AuthorizeSecurityGroupIngress", role_session(wild, "s"), "4.175.114.9", "a/1")
            for h in range(0, 24, 2)]
    recs += [event(f"{h:02d}:20", "AuthorizeSecurityGroupIngress", {"type": "IAMUser", "arn": CI_USER},
                   "4.175.114.9", 'tool/1 "x*"') for h in range(0, 24, 2)]
    base, path = stack_dir(tmp_path), write_lines(tmp_path / "odd.jsonl", recs)
    entries = yaml.safe_load(suggest(base, path, capsys))
    assert [e["match"] for e in entries] == [{"userIdentity.arn": CI_USER, "userIdentity.type": "IAMUser",
                                              "sourceIPAddress": ["4.175.114.0/24"]}]


# -- bad input -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("args, config, says", [
    (["--suggest-exceptions", "--format", "json"], None, "--suggest-exceptions: prints YAML entries, not with"),
    ([], [deployer_exception(["root_usage"])], "'root_usage' takes no exceptions"),
    ([], [{**deployer_exception(["iam_policy_changes"]), "owner": ""}], ".owner: is required"),
    ([], [deployer_exception(["iam_policy_changes"], days=-1)], "expired on"),
])
def test_bad_input_is_one_line_exit_2(tmp_path, capsys, args, config, says):
    base, path = stack_dir(tmp_path, config), write_lines(tmp_path / "day.jsonl", day())
    assert main(["replay", "--stack", "x", "--config-dir", str(base), *args, str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == "" and len(captured.err.strip().splitlines()) == 1 and says in captured.err
