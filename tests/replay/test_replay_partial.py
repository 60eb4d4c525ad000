"""Mergeable partial results: any split of a record stream, merged in any order and grouping, gives the
one-pass report; past the counters' cap, top counts stay within the bound the report states."""

from __future__ import annotations

import pickle
from collections import Counter
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from replay_helpers import record
from trailwatch.replay import Malformed, topn
from trailwatch.replay.engine import Aggregator
from trailwatch.replay.partial import Partial, merge
from trailwatch.replay.report import build_report

DETECTIONS = {
    "denied": '{ $.errorCode = "AccessDenied*" }',
    "put": '{ $.eventName = "Put*" }',
    "beat": '{ $.eventVersion = "*" }',
}
PRINCIPALS = [f"arn:aws:iam::111122223333:user/u{i}" for i in range(12)]

items = st.one_of(
    st.builds(lambda m, s, p, n, e: record(f"2024-05-01T10:0{m}", s, eventName=n, errorCode=e,
                                           sourceIPAddress=f"10.0.0.{p % 4}", userIdentity={"arn": PRINCIPALS[p]}),
              st.integers(0, 9), st.integers(0, 59), st.integers(0, 11),
              st.sampled_from(["PutObject", "GetObject", "PutRolePolicy", "ListUsers"]),
              st.sampled_from([None, "AccessDenied", "AccessDeniedException"])),
    st.builds(lambda r: record(eventTime=r), st.sampled_from(["redacted", "2024-13-01T00:00:00Z"])),
    st.builds(Malformed, st.sampled_from(["a.jsonl:3", "b.json.gz"]), st.just("not JSON")),
)


def feed(indexed: list[tuple[int, object]], order: int = 0) -> Partial:
    """One unit's partial; malformed records are located by their index in the whole stream."""
    agg = Aggregator(DETECTIONS)
    at = [0]

    def stream():
        for at[0], item in indexed:
            yield item

    agg.feed(stream(), locate=lambda: f"item {at[0]}")
    return Partial.of(agg, order=order)


def split_and_merge(stream: list, data) -> Partial:
    """Cut ``stream`` at drawn points, one partial per piece, merged in a drawn order and grouping."""
    indexed = list(enumerate(stream))
    cuts = sorted(data.draw(st.lists(st.integers(0, len(indexed)), max_size=6)))
    bounds = [0, *cuts, len(indexed)]
    parts = [feed(indexed[a:b], order) for order, (a, b) in enumerate(zip(bounds, bounds[1:]))]
    parts = data.draw(st.permutations(parts))
    while len(parts) > 1:  # merge a drawn run of neighbours, by merge() or in place
        i = data.draw(st.integers(0, len(parts) - 2))
        k = data.draw(st.integers(2, min(3, len(parts) - i)))
        group = parts[i:i + k]
        merged = merge(group) if data.draw(st.booleans()) else group[0].absorb(merge(group[1:]))
        parts[i:i + k] = [merged]
    return parts[0]


@settings(max_examples=150, deadline=None)
@given(st.lists(items, max_size=60), st.data())
def test_any_split_merged_in_any_order_equals_one_pass(stream, data):
    one_pass = build_report(feed(list(enumerate(stream))), 30, top=3)
    merged = build_report(split_and_merge(stream, data), 30, top=3)
    assert merged == one_pass
    assert merged.malformed_samples == one_pass.malformed_samples  # the first ones of the whole stream


@settings(max_examples=150, deadline=None)
@given(st.lists(items, min_size=1, max_size=80), st.data())
def test_pruned_top_counts_stay_within_the_stated_bound(stream, data):
    """With a cap of 4 distinct values (2 kept) the 12 principals are pruned, in one pass and in merges."""
    truth = {ident: Counter() for ident in DETECTIONS}
    for rec in stream:
        if type(rec) is dict and rec["eventTime"].endswith("Z") and rec["eventTime"][5:7] != "13":
            truth["beat"][rec["userIdentity"]["arn"]] += 1
            if rec["errorCode"]:
                truth["denied"][rec["userIdentity"]["arn"]] += 1
            if rec["eventName"].startswith("Put"):
                truth["put"][rec["userIdentity"]["arn"]] += 1
    with mock.patch.object(topn, "TOP_CAP", 4):
        reports = [build_report(feed(list(enumerate(stream))), 30, top=3),
                   build_report(split_and_merge(stream, data), 30, top=3)]
    for report in reports:
        for ident, det in report.detections.items():
            true, err = truth[ident], det.top_error
            assert det.matches == sum(true.values())  # match counts are never approximate
            assert err <= det.matches // (2 + 1)  # N / (KEEP + 1)
            for value, count in det.top_principals:
                assert true[value] - err <= count <= true[value]
            floor = det.top_principals[-1][1] if len(det.top_principals) == 3 else 0
            missed = {v for v, n in true.items() if n > floor + err} - {v for v, _ in det.top_principals}
            assert not missed, (ident, missed)


def test_counts_below_the_cap_are_exact_and_above_it_carry_their_error():
    counter = {f"v{i}": i + 1 for i in range(6)}  # v5: 6, v4: 5, v3: 4, ...
    with mock.patch.object(topn, "TOP_CAP", 6):
        assert topn.prune(dict(counter)) == 0
        # 7 values > 6: every count minus the 4th largest (3, KEEP = 3 stay), those left at 0 dropped
        assert topn.add(counter, {"v6": 1}) == 3
    assert counter == {"v5": 3, "v4": 2, "v3": 1}


def test_a_merge_carries_the_error_of_a_pruned_part():
    """Part one (5 principals past a cap of 4) is pruned by 3; the merged counter is not pruned again,
    so only the carried error keeps u0's count (6 true, 3 kept) within the bound."""
    def by(n: int) -> dict:
        return record(userIdentity={"arn": PRINCIPALS[n]})

    first = [by(0)] * 5 + [by(1)] * 4 + [by(2)] * 3 + [by(3)] * 2 + [by(4)]
    with mock.patch.object(topn, "TOP_CAP", 4):
        parts = [feed(list(enumerate(first))), feed([(15, by(0))], order=1)]
        assert parts[0].top_error[0][2] == 3  # principals of "beat"
        det = build_report(merge(parts), 30, top=3).detections["beat"]
    assert det.top_principals == [(PRINCIPALS[0], 3), (PRINCIPALS[1], 1)]
    assert det.top_error == 3


def test_a_partial_pickles_small_and_refuses_other_detections():
    stream = [record(f"2024-05-01T10:0{i % 10}", errorCode="AccessDenied") for i in range(2000)]
    part = feed(list(enumerate(stream)))
    blob = pickle.dumps(part)
    assert pickle.loads(blob) == part
    assert len(blob) < 3000  # ten minutes and one principal, IP and name: not the 2000 records
    other = Partial.empty(Aggregator({"beat": DETECTIONS["beat"]}).rules)
    with pytest.raises(ValueError, match="different detections"):
        part.absorb(other)
