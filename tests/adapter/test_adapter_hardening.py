"""The adapter as a hardened service, in process (fast, exact counts) with a fake Teams post: bad input is
answered and counted, bursts are answered, slow clients are cut off, logs quote what they log, a card never
carries attacker text as a link and always fits 28 KB, and no CLI error prints a URL."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time

import pytest

from adapter_chain import TOKEN, ago, chain_config, request
from trailwatch.adapter import __main__ as adapter_main
from trailwatch.adapter import server as server_mod
from trailwatch.adapter.card import MAX_BYTES, TRUNCATION_NOTE, fitted
from trailwatch.adapter.config import parse_config
from trailwatch.adapter.delivery import Pacer, Teams
from trailwatch.adapter.enrich import Enrichment, allowed_fields
from trailwatch.adapter.server import Adapter, Metrics, serve
from trailwatch.adapter.webhook import parse_notification
from trailwatch import cli

AUTH = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
SECRET = "SIGNATURE-0123456789"
EVIL = "[Verify your MFA now](https://evil.example/p) **FAKE: all clear** \x1b[31m\r\n\u202e\x00"


class FakeTeams:
    """The post function: records bodies, answers 202 after ``delay`` seconds."""

    def __init__(self, delay: float = 0.0):
        self.delay = delay
        self.bodies: list[bytes] = []

    def __call__(self, url, body, timeout):
        time.sleep(self.delay)
        self.bodies.append(body)
        return 202, None


@pytest.fixture
def live():
    """An in-process adapter on 127.0.0.1 with a fake Teams; yields (url, adapter, fake)."""
    fake = FakeTeams()
    config = parse_config(chain_config(), "test")
    metrics = Metrics()
    adapter = Adapter(config, TOKEN, Teams("https://example.invalid/x?sig=s", 4, Pacer(rate=1000), post=fake),
                      None, metrics)
    server = serve(adapter, "127.0.0.1", 0, max_connections=32)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", adapter, fake
    server.shutdown()
    server.server_close()


def note(case: str, labels: dict | None = None, annotations: dict | None = None) -> dict:
    return {"version": "4", "groupKey": f'{{}}:{{case="{case}"}}', "truncatedAlerts": 0, "status": "firing",
            "receiver": "trailwatch-teams", "groupLabels": {}, "commonLabels": {"alertname": "X"},
            "commonAnnotations": {}, "externalURL": "http://am", "alerts": [{
                "status": "firing", "fingerprint": f"{abs(hash(case)):016x}"[:16],
                "labels": {"alertname": "X", "severity": "info", "component": "alertmanager",
                           "trailwatch_stack": case, **(labels or {})},
                "annotations": {"summary": case, **(annotations or {})},
                "startsAt": ago(1).isoformat(), "endsAt": "0001-01-01T00:00:00Z", "generatorURL": ""}]}


def rejected(adapter, reason: str) -> float:
    return adapter.metrics.rejected.labels(reason)._value.get()


def card_of(body: bytes) -> str:
    return json.dumps(json.loads(body)["attachments"][0]["content"], ensure_ascii=False)


# -- input robustness ------------------------------------------------------------------------------------------
def test_deep_json_is_a_counted_400_not_a_closed_connection(live):
    url, adapter, _ = live
    before = rejected(adapter, "invalid")
    deep = b'{"alerts": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    status, body = request(url + "/alerts", deep, AUTH)
    assert status == 400 and b"nested too deep" in body
    assert rejected(adapter, "invalid") == before + 1


@pytest.mark.parametrize("where", ["labels", "annotations"])
def test_a_lone_surrogate_in_a_label_or_annotation_still_gives_a_card(live, where):
    url, adapter, fake = live
    payload = note(f"surrogate-{where}")
    payload["alerts"][0][where]["extra"] = "before-\ud800-after"
    payload["alerts"][0]["annotations"]["description"] = "desc \ud800 here"
    raw = json.dumps(payload).encode()  # json.dumps writes the lone surrogate as the escape \ud800
    assert b"\\ud800" in raw
    status, body = request(url + "/alerts", raw, AUTH)
    assert (status, body) == (200, b'{"status": "delivered"}')
    assert "desc \ufffd here" in card_of(fake.bodies[-1])


def test_a_lone_surrogate_in_one_cloudtrail_event_is_replaced_and_the_card_kept():
    message = json.dumps({"eventName": "ConsoleLogin", "userAgent": "agent-\ud800", "eventTime": "2026-05-01"})
    fields = allowed_fields(message)
    assert fields["userAgent"] == "agent-\ufffd" and fields["eventName"] == "ConsoleLogin"


@pytest.mark.parametrize("count", [50, 200])
def test_a_burst_of_concurrent_posts_is_all_answered(live, count):
    """50 or 200 connections at once against 32 allowed: each gets an answer (200, or 503 with Retry-After when
    full), none is reset; the 503s are counted."""
    url, adapter, fake = live
    fake.delay = 0.2
    payload = json.dumps(note("burst")).encode()
    host, port = url.rsplit("/", 1)[1].split(":")
    request_bytes = (f"POST /alerts HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\n"
                     f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n").encode() + payload
    answers: list[bytes] = []
    lock = threading.Lock()

    def post() -> None:
        data = b""
        try:
            with socket.create_connection((host, int(port)), timeout=20) as sock:
                sock.sendall(request_bytes)
                while chunk := sock.recv(4096):
                    data += chunk
        except OSError as exc:
            data = f"error {type(exc).__name__}".encode()
        with lock:
            answers.append(data)

    threads = [threading.Thread(target=post) for _ in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    heads = [a.split(b"\r\n", 1)[0] for a in answers]
    assert len(answers) == count and all(h.startswith(b"HTTP/1.0 200") or h.startswith(b"HTTP/1.0 503")
                                       for h in heads), set(heads)
    busy = [a for a in answers if a.startswith(b"HTTP/1.0 503")]
    assert all(b"Retry-After: " in a for a in busy)
    overloaded = sum(b"overloaded" in a for a in busy)
    assert rejected(adapter, "overloaded") == overloaded
    assert len(fake.bodies) == 1  # one notification, one card, however many posts


def test_slow_clients_are_cut_off_by_header_and_body_deadlines(live, monkeypatch):
    url, adapter, _ = live
    monkeypatch.setattr(server_mod, "HEADER_SECONDS", 1.0)
    monkeypatch.setattr(server_mod, "BODY_SECONDS", 1.0)
    host, port = url.rsplit("/", 1)[1].split(":")
    before = rejected(adapter, "slow_client")

    def drip(first: bytes, then: bytes) -> float:
        began = time.monotonic()
        with socket.create_connection((host, int(port)), timeout=10) as sock:
            sock.sendall(first)
            try:
                for byte in then:  # one byte every 0.3 s: each read is quick, the whole is too slow
                    sock.sendall(bytes([byte]))
                    time.sleep(0.3)
                    if sock.recv(1, socket.MSG_DONTWAIT | socket.MSG_PEEK) == b"":
                        break
            except BlockingIOError:
                pass
            except OSError:
                pass
        return time.monotonic() - began

    headers = f"POST /alerts HTTP/1.1\r\nAuthorization: Bearer {TOKEN}\r\nContent-Length: 100\r\n\r\n".encode()
    assert drip(b"POST /alerts HTTP/1.1\r\n", b"X-Slow: " + b"a" * 20) < 3
    assert drip(headers, b"{" * 20) < 3
    assert rejected(adapter, "slow_client") == before + 2
    assert request(url + "/healthz")[0] == 200


# -- what a card and a log line can carry ----------------------------------------------------------------------
def test_labels_and_annotations_are_inert_and_only_adapter_built_links_are_buttons(live, caplog):
    url, adapter, fake = live
    payload = note("inert", labels={"alertname": EVIL + "\n2099-01-01 00:00:00 ERROR trailwatch: FORGED LINE"},
                   annotations={"summary": EVIL, "description": EVIL, "runbook": EVIL,
                                "logs_insights_url": "https://evil.example/us-east-1.console.aws.amazon.com/"})
    payload["commonLabels"]["alertname"] = payload["alerts"][0]["labels"]["alertname"]
    payload["groupKey"] += "\r\n2099-01-01 ERROR FORGED"
    with caplog.at_level(logging.INFO, logger="trailwatch.adapter"):
        assert request(url + "/alerts", json.dumps(payload).encode(), AUTH)[0] == 200
    card = card_of(fake.bodies[-1])
    for active in ("](", "https://evil", "**FAKE", "\x1b", "\u202e", "\x00", "\r", "\\n2099", "Action.OpenUrl"):
        assert active not in card, active
    assert "Verify your MFA now" in card and "FAKE: all clear" in card  # shown, as text
    for record in caplog.records:
        line = record.getMessage()
        assert "\n" not in line and "\r" not in line and "\x1b" not in line, line


@pytest.mark.parametrize("link,kept", [
    ("https://eu-west-1.console.aws.amazon.com/cloudwatch/home?region=eu-west-1#logsV2:logs-insights", True),
    ("https://eu-west-1.console.aws.amazon.com@evil.example/", False),
    ("https://console.aws.amazon.com.evil.example/", False),
    ("http://eu-west-1.console.aws.amazon.com/", False),
    ("javascript:alert(1)", False),
    ("https://eu-west-1.console.aws.amazon.com/" + "a" * 5000, False),
])
def test_an_annotation_url_is_a_button_only_if_it_is_an_aws_console_url(link, kept):
    n = parse_notification(note("link", annotations={"logs_insights_url": link}))
    body = fitted(n, {}, ago(0), "us-east-1")
    assert (link in body.decode()) is kept


def test_an_event_region_never_steers_the_event_link_off_aws():
    n = parse_notification(note("region", labels={"component": "none"}))
    found = Enrichment(events=[{"eventID": "e1", "awsRegion": "evil.example/#", "eventName": "X"}])
    body = fitted(n, {n.alerts[0].fingerprint: found}, ago(0), "us-east-1").decode()
    assert "https://us-east-1.console.aws.amazon.com/cloudtrailv2/" in body and "evil.example/#" not in \
        body.split("Action.OpenUrl")[-1]


@pytest.mark.parametrize("field", ["alertname", "summary", "description", "trailwatch_stack", "many"])
def test_any_label_or_annotation_size_shrinks_to_28_kb_and_says_what_was_cut(field):
    big = "x" * 200_000
    labels = {"alertname": big} if field == "alertname" else {"trailwatch_stack": big} \
        if field == "trailwatch_stack" else {}
    annotations = {field: big} if field in ("summary", "description") else {}
    raw = note("big", labels, annotations)
    if field == "many":
        raw["alerts"] = [dict(raw["alerts"][0], fingerprint=f"{i:016x}",
                              labels=dict(raw["alerts"][0]["labels"], **{f"l{j}": "y" * 20_000 for j in range(5)},
                                          trailwatch_stack="z" * 20_000),
                              annotations={"description": "d" * 20_000, "runbook": "r" * 20_000,
                                           "aws_region": "q" * 20_000}) for i in range(30)]
    n = parse_notification(raw)
    body = fitted(n, {}, ago(0), "us-east-1")
    assert len(body) <= MAX_BYTES
    text = body.decode()
    if field == "many":  # the card itself had to shrink: its note says what went
        assert TRUNCATION_NOTE in text and "of 30 alert(s) shown" in text and "other values at" in text
    else:  # one long value: cut where it is shown, marked with an ellipsis
        assert "x" * 100 + "\u2026" in text and "x" * 2001 not in text


# -- enrichment budget ------------------------------------------------------------------------------------------
class SlowLogs:
    """A CloudWatch Logs client whose every FilterLogEvents call takes ``delay`` seconds (no events)."""

    def __init__(self, delay: float):
        self.delay = delay
        self.calls = 0
        self._lock = threading.Lock()

    def filter_log_events(self, **request):
        with self._lock:
            self.calls += 1
        time.sleep(self.delay)
        return {"events": []}


def detection_note(count: int) -> dict:
    body = note("enrich-budget")
    template = body["alerts"][0]
    body["alerts"] = [{**template, "fingerprint": f"{i:016x}",
                       "labels": {"alertname": "TrailwatchRootUsage", "severity": "critical",
                                  "detection": "root_usage", "trailwatch_stack": "dev", "case": str(i)}}
                      for i in range(count)]
    return body


@pytest.mark.parametrize("delay,expect_events", [(0.5, True), (30.0, False)])
def test_one_notifications_searches_run_concurrently_within_one_budget(delay, expect_events):
    """Ten alerts in one notification, each search taking ``delay``: one after another the card would wait
    10 x delay (5 s, past the budget); concurrently (SEARCH_THREADS at once) it waits at most the enrichment
    budget (3 s here), and a search not done by then is "did not answer in time" on the card, counted, never
    waited for (the ones still queued then never call CloudWatch Logs)."""
    fake = FakeTeams()
    config = parse_config(chain_config(enrichment={"max_pages": 2, "max_events": 10, "budget_seconds": 3}),
                          "test")
    logs = SlowLogs(delay)
    adapter = Adapter(config, TOKEN, Teams("https://example.invalid/x?sig=s", 4, Pacer(rate=1000), post=fake),
                      logs, Metrics())
    began = time.monotonic()
    status, word, _ = adapter.handle(parse_notification(detection_note(10)))
    took = time.monotonic() - began
    assert (status, word) == (200, "delivered")
    assert logs.calls == (10 if expect_events else server_mod.SEARCH_THREADS)
    assert took < 3 + 1.5, f"the card waited {took:.1f} s for ten searches"
    text = card_of(fake.bodies[0])
    late = text.count("CloudWatch Logs did not answer in time")
    assert late == (0 if expect_events else 10), text
    assert adapter.metrics.enrich_errors.labels("timeout")._value.get() == (0 if expect_events else 10)


class OneEventLogs:
    """A CloudWatch Logs client holding one StopLogging record (its trail named in requestParameters)."""

    def filter_log_events(self, **request):
        record = {"eventTime": ago(2).strftime("%Y-%m-%dT%H:%M:%SZ"), "eventName": "StopLogging",
                  "eventSource": "cloudtrail.amazonaws.com", "eventID": "ev-1", "awsRegion": "us-east-1",
                  "userIdentity": {"type": "IAMUser", "arn": "arn:aws:iam::111122223333:user/mallory"},
                  "requestParameters": {"name": "org-trail", "secretThing": "canary-value"}}
        return {"events": [{"message": json.dumps(record)}]}


def test_the_card_names_the_trail_a_stoplogging_event_stopped():
    """The server hands each detection's target_parameters to the search: the card's event says which trail,
    and nothing else from requestParameters."""
    fake = FakeTeams()
    adapter = Adapter(parse_config(chain_config(), "test"), TOKEN,
                      Teams("https://example.invalid/x?sig=s", 4, Pacer(rate=1000), post=fake), OneEventLogs(), Metrics())
    body = detection_note(1)
    body["alerts"][0]["labels"]["detection"] = "cloudtrail_config_changes"
    assert adapter.handle(parse_notification(body))[:2] == (200, "delivered")
    card = json.loads(fake.bodies[0])["attachments"][0]["content"]
    facts = {f["title"]: f["value"] for f in _facts(card)}
    assert facts.get("Target") == "name: org-trail" and "canary-value" not in card_of(fake.bodies[0])


def _facts(node):
    """Every fact of a card, depth first."""
    if isinstance(node, dict):
        if node.get("type") == "FactSet":
            yield from node["facts"]
        for value in node.values():
            yield from _facts(value)
    elif isinstance(node, list):
        for value in node:
            yield from _facts(value)


# -- secrets on the command line -------------------------------------------------------------------------------
URL = f"https://prod.example.invalid/workflows/x?sp=run&sig={SECRET}"


@pytest.mark.parametrize("argv", [
    ["demo", "--teams-url", URL],  # an abbreviation of --teams-url-file: refused, and the value not shown
    ["demo", "--teams-url-file", URL],
    ["render", URL],
])
def test_cli_errors_never_print_a_url(argv, capsys):
    try:
        code = cli.main(argv)
    except SystemExit as exc:
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2 and SECRET not in err and "prod.example" not in err, err
    assert len(err.strip().splitlines()) <= 3  # argparse's usage line(s) and one error line


def test_adapter_cli_takes_no_abbreviation_and_never_prints_a_url(tmp_path, capsys):
    for argv in (["--webhook-url", URL, "--config", "c", "--token-file", "t"],
                 ["--webhook-url-file", URL, "--config", str(tmp_path / "c"), "--token-file", "t"],
                 ["--webhook-url-file", "u", "--config", "c", "--token-file", "t", "--listen", URL]):
        try:
            code = adapter_main.main(argv)
        except SystemExit as exc:
            code = exc.code
        err = capsys.readouterr().err
        assert code == 2 and SECRET not in err, err


def test_every_parser_refuses_abbreviations():
    parser = cli.build_parser()
    assert parser.allow_abbrev is False
    subparsers = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    assert all(p.allow_abbrev is False for p in subparsers.choices.values())
    assert adapter_main.parse_args(["--config", "c", "--webhook-url-file", "u", "--token-file", "t"]) is not None
    with pytest.raises(SystemExit):
        adapter_main.parse_args(["--config", "c", "--webhook-url-f", "u", "--token-file", "t"])
