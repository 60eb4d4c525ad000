"""CloudTrail's S3 format counted column by column (trailwatch.replay.docscan) gives exactly what feeding every
record gives: generated documents (CloudTrail-shaped records with odd members, times and value types, repeated
records, items that are not objects) through generated patterns, with noise exceptions and per-principal sums,
counted through the batch path and record by record (Aggregator(prefilter=False), the reference); every count,
series, top-N counter, excepted series, principal sum and malformed sample (with its position) must be equal.
"""

from __future__ import annotations

import datetime as dt
import gzip
import io
import json
from itertools import chain

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import test_prefilter_properties as props
from replay_helpers import corpus_events, record, write_s3
from test_replay_exceptions import HOSTILE
from trailwatch.catalog import load_catalog
from trailwatch.exceptions import ExceptionRule
from trailwatch.replay import RecordReader, docscan, readers, replay_paths, replay_records
from trailwatch.replay.engine import Aggregator, Rule, tuned

SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ODD_ITEMS = st.sampled_from([7, "x", None, [], [{"eventVersion": "1"}], True])


@st.composite
def documents(draw) -> list:
    """The Records of one document: records, some repeated (so that values group), now and then an item that is
    not an object."""
    recs = draw(st.lists(props.records(), min_size=1, max_size=12))
    recs += draw(st.lists(st.sampled_from(recs), max_size=6))
    if draw(st.integers(0, 5)) == 0:
        recs.insert(draw(st.integers(0, len(recs))), draw(ODD_ITEMS))
    return recs


def counted(docs: list[list], rules: list[Rule], prefilter: bool) -> dict:
    """Each document as its own S3 object, through one aggregator: batches (prefilter) or record by record."""
    agg = Aggregator(rules, prefilter=prefilter)
    streams = [readers.read_stream(io.BytesIO(json.dumps({"Records": d}).encode()), f"doc{k}", blocks=prefilter)
               for k, d in enumerate(docs)]
    agg.feed(chain.from_iterable(streams))
    return {**props.state(agg), "excepted": agg.excepted, "by_principal": agg.by_principal}


@SETTINGS
@given(st.lists(documents(), min_size=1, max_size=4), props.PATTERNS,
       st.lists(st.tuples(st.integers(0, 5), st.integers(0, len(HOSTILE) - 1)), max_size=3),
       st.sets(st.integers(0, 5)))
def test_documents_counted_by_column_equal_full_evaluation(docs, patterns, attach, collect):
    rules = [Rule(f"p{i}", p) for i, p in enumerate(patterns)]
    exceptions = tuple(ExceptionRule(k, (f"p{i}",), "r", "o", dt.date(2099, 1, 1), HOSTILE[h])
                       for k, (i, h) in enumerate(attach))
    rules = tuned(rules, exceptions, [f"p{i}" for i in collect])
    assert counted(docs, rules, True) == counted(docs, rules, False)


def test_the_batches_are_what_the_reader_hands_over_and_freed_when_it_moves_on():
    doc = {"Records": [record(second=s) for s in range(5)]}
    items = readers.read_stream(io.BytesIO(gzip.compress(json.dumps(doc).encode())), "mem", blocks=True)
    batch = next(items)
    assert type(batch) is readers.RecordBatch and batch.records == 5 and batch.values == doc["Records"]
    assert next(items, None) is None
    assert batch.values == []  # the document's records go before the next document is read
    plain = readers.read_stream(io.BytesIO(json.dumps(doc).encode()), "mem")
    assert list(plain) == doc["Records"]  # without blocks: record by record, as before


def test_values_equal_across_types_are_never_grouped_together():
    """``1``, ``1.0`` and ``True`` are equal dict keys; ``0.0`` and ``-0.0`` too. Each keeps its own verdict."""
    values = [True, 1, 1.0, 0.0, -0.0, "1", None, {"a": 1}, [1], False, 0]
    recs = [record(second=i, x=v) for i, v in enumerate(values)] + [record(second=59)]  # the last has no x
    detections = {"true": "{ $.x IS TRUE }", "one": "{ $.x = 1 }", "zero_text": '{ $.x = "-0*" }',
                  "null": "{ $.x IS NULL }", "absent": "{ $.x NOT EXISTS }", "string": '{ $.x = "1" }'}
    rules = [Rule(k, p) for k, p in detections.items()]
    batch, reference = counted([recs], rules, True), counted([recs], rules, False)
    assert batch == reference
    matches = {ident: sum(series.values()) for ident, series in zip(detections, batch["series"])}
    assert matches["true"] == 1 and matches["null"] == 1 and matches["absent"] == 1 and matches["zero_text"] == 1
    assert matches["one"] >= 2  # 1 and 1.0 (and "1", which spells the same number)
    # a column of nothing but hashable values: grouped, but True never with 1 nor False with 0
    plain = [record(second=i, x=v) for i, v in enumerate([True, 1, False, 0, "1", None, True, 1, 0])]
    rules = [Rule("true", "{ $.x IS TRUE }"), Rule("false", "{ $.x IS FALSE }"), Rule("one", "{ $.x = 1 }"),
             Rule("zero", "{ $.x = 0 }")]
    batch = counted([plain], rules, True)
    assert batch == counted([plain], rules, False)
    assert [sum(series.values()) for series in batch["series"]] == [2, 1, 3, 2]  # 1 twice and "1"; 0 twice


def test_an_item_that_is_not_an_object_is_reported_at_its_index(tmp_path):
    path = write_s3(tmp_path / "a.json.gz", [record(second=0), 42, record(second=1)], gz=True)
    for prefilter in (True, False):
        reader = RecordReader([path], blocks=prefilter)
        agg = Aggregator({"beat": '{ $.eventVersion = "*" }'}, prefilter=prefilter)
        agg.feed(reader, locate=reader.locate)
        assert (agg.events, agg.malformed) == (2, 1)
        assert agg.malformed_samples == [f"{path} Records[1]: a Records item is a number, not an object"]


def test_records_without_a_usable_time_are_reported_in_order_at_their_position(tmp_path):
    recs = [record(second=0), record(eventTime="2024-02-30T10:00:00Z", eventID="bad-day"), record(second=2),
            {**record(), "eventTime": None, "@timestamp": "2024-05-01T10:07:00+02:00"}, record(eventTime="soon")]
    path = write_s3(tmp_path / "b.json", recs)
    states = []
    for prefilter in (True, False):
        reader = RecordReader([path], blocks=prefilter)
        agg = Aggregator({"beat": '{ $.eventVersion = "*" }'}, prefilter=prefilter)
        agg.feed(reader, locate=reader.locate)
        states.append(props.state(agg))
    assert states[0] == states[1]
    assert states[0]["events"] == 3 and "2024-05-01T08:07" in states[0]["minutes"]  # @timestamp, in UTC
    assert [s.split(": ")[0] for s in states[0]["samples"]] == [f"{path} record #2 (eventID bad-day)",
                                                               f"{path} record #5"]


def test_verdicts_kept_across_batches_and_past_the_cache_cap(monkeypatch):
    docs = [[record(second=s, sourceIPAddress=f"198.51.100.{(s * k) % 7}") for s in range(20)] for k in range(1, 6)]
    rules = [Rule("ip", '{ $.sourceIPAddress = "198.51.100.3" || $.sourceIPAddress = "198.51.100.5*" }'),
             Rule("beat", '{ $.eventVersion = "*" }')]
    reference = counted(docs, rules, False)
    assert counted(docs, rules, True) == reference
    monkeypatch.setattr(docscan, "CACHE_CAP", 2)
    assert counted(docs, rules, True) == reference
    assert sum(reference["series"][0].values()) > 0


def test_many_matches_one_by_one_or_in_bulk_count_alike(monkeypatch):
    recs = [record(second=s % 60, eventName="ConsoleLogin" if s % 3 else "GetObject",
                   userIdentity={"type": "IAMUser", "arn": f"arn:aws:iam::1:user/u{s % 4}"} if s % 5 else
                   {"type": "AWSService", "invokedBy": "ec2.amazonaws.com"}) for s in range(90)]
    rules = [Rule("login", '{ $.eventName = "ConsoleLogin" }'), Rule("beat", '{ $.eventVersion = "*" }')]
    reference = counted([recs], rules, False)
    for few in (0, 8, 1000):
        monkeypatch.setattr(docscan, "FEW", few)
        assert counted([recs], rules, True) == reference
    assert "ec2.amazonaws.com" in reference["principals"][1]  # invokedBy where there is no arn


def test_the_catalog_over_real_records_in_the_s3_format_reports_as_record_by_record(tmp_path):
    """Third-party CloudTrail records (tests/fixtures/cloudtrail, see NOTICE there) in documents of 50, through
    every catalog detection: the report (series, alerts, top-N) equals the one of the records fed one by one."""
    events = [e for name in ("stratus_detonation_logs.jsonl", "trailalerts_sigma_tests.jsonl",
                             "panther_rule_tests.jsonl") for e in corpus_events(name) if isinstance(e, dict)]
    detections = {d.id: d.pattern for d in load_catalog() if d.pattern}
    for k in range(0, len(events), 50):
        write_s3(tmp_path / "logs" / f"{k:05d}.json.gz", events[k:k + 50], gz=True)
    documents_report = replay_paths([tmp_path / "logs"], detections, top=20).to_dict()
    reference = replay_records(events, detections, top=20).to_dict()
    positions = ("files", "malformed_samples")  # the reference has no files: its records are numbered overall
    assert {k: v for k, v in documents_report.items() if k not in positions} == \
        {k: v for k, v in reference.items() if k not in positions}
    assert [s.split(": ", 1)[1] for s in documents_report["malformed_samples"]] == \
        [s.split(": ", 1)[1] for s in reference["malformed_samples"]]
    assert sum(d["matches"] for d in reference["detections"].values()) > len(detections)  # matches to compare


def test_a_large_document_is_still_walked_record_by_record(tmp_path, monkeypatch):
    """Past WHOLE_DOCUMENT_LIMIT a document is walked incrementally (bounded memory), not batched."""
    monkeypatch.setattr(readers, "WHOLE_DOCUMENT_LIMIT", 512)
    path = write_s3(tmp_path / "big.json", [record(second=s) for s in range(30)])
    items = list(readers.RecordReader([path], blocks=True))
    assert len(items) == 30 and all(type(i) is dict for i in items)
    assert replay_paths([path], {"beat": '{ $.eventVersion = "*" }'}).events == 30
