"""``python -m trailwatch demo`` end to end, as a user runs it: real Prometheus, Alertmanager and the adapter
process on three records of the bundled sample, a second Teams stand-in playing the user's real channel
(reached through TEAMS_WEBHOOK_URL), and the command's bad-input lines."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from card_schema import schema_errors

from trailwatch.localrun import TeamsSink

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "examples" / "demo" / "cloudtrail-sample.jsonl"
#: Read from the sample: two root events (Panther's "Successful Root Login" ConsoleLogin and "Root Activity"
#: PutBucketVersioning, both 2019-01-01T00:00:00Z, 111.111.111.111) and Stratus' StopLogging (2024-07-31).
PICK = {"ConsoleLogin": "Root", "PutBucketVersioning": "Root", "StopLogging": "IAMUser"}


def demo(tmp_path: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 400) -> subprocess.CompletedProcess:
    full_env = {**{k: v for k, v in os.environ.items() if k != "TEAMS_WEBHOOK_URL"}, "PYTHONPATH": str(REPO),
                **(env or {})}
    return subprocess.run([sys.executable, "-m", "trailwatch", "demo", *args], cwd=tmp_path, env=full_env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """One demo on three sample records; the "real" Teams channel is a stand-in on loopback."""
    tmp = tmp_path_factory.mktemp("demo")
    events = tmp / "events.jsonl"
    with SAMPLE.open() as src, events.open("w") as dst:
        for line in src:
            rec = json.loads(line)
            if PICK.get(rec["eventName"]) == rec["userIdentity"]["type"]:
                dst.write(line)
    real = TeamsSink().start()
    try:
        proc = demo(tmp, "--events", str(events), "--out", "out", env={"TEAMS_WEBHOOK_URL": real.url})
    finally:
        real.stop()
    cards = sorted((tmp / "out" / "cards").glob("card-*.json")) if proc.returncode == 0 else []
    return proc, cards, real, real.url


def titles(path: Path) -> tuple[str, str]:
    """(state line, title) of a card: its header's first two text blocks."""
    header = json.loads(path.read_bytes())["attachments"][0]["content"]["body"][0]["items"]
    return header[0]["text"], header[1]["text"]


def test_demo_prints_and_writes_one_firing_and_one_resolved_card_per_alert_and_a_heartbeat_card(run):
    proc, cards, _, _ = run
    assert proc.returncode == 0, proc.stderr[-3000:]
    states = [titles(p) for p in cards]
    firing = sorted(t for s, t in states if s.startswith("FIRING"))
    resolved = sorted(t for s, t in states if s.startswith("RESOLVED"))
    assert firing == ["CloudTrail configuration changes", "CloudTrail events stopped arriving",
                      "Usage of the root user/account"], states
    assert resolved == ["CloudTrail configuration changes", "Usage of the root user/account"], states
    assert f"demo: {len(cards)} card(s) written to out/cards" in proc.stdout
    for path in cards:
        assert proc.stdout.count(f"({path.stat().st_size:,} bytes, {path.name})") == 1


def test_cards_name_who_did_what_from_the_log_group_and_validate(run):
    proc, cards, _, _ = run
    root = next(p for p in cards if titles(p) == ("FIRING \u00b7 CRITICAL", "Usage of the root user/account"))
    text = root.read_text()
    assert "arn:aws:iam::123456789012:root" in text and "111.111.111.111" in text
    assert "PutBucketVersioning" in text and "2019-01-01T00:00:00Z" in text
    # Each count says what it counts: Prometheus' over the alert window, the adapter's over its stated search.
    assert "**Prometheus, at its latest evaluation:** " in text and " matching CloudTrail event(s) with event " in text
    assert re.search(r"\*\*CloudWatch Logs search [0-9: -]+\u2013 [0-9: -]+ UTC: 2 event\(s\), all listed\*\*", text)
    printed = proc.stdout
    assert "PutBucketVersioning at 2019-01-01T00:00:00Z" in printed  # the text view of the same card
    for path in cards:
        assert schema_errors(json.loads(path.read_bytes())["attachments"][0]["content"]) == []


def test_every_card_reaches_the_real_channel_byte_for_byte_and_its_url_stays_secret(run):
    proc, cards, real, url = run
    assert real.bodies == [p.read_bytes() for p in cards]
    assert "posted to Teams: delivered" in proc.stdout
    assert f"real Teams: {len(cards)} delivered" in proc.stdout
    secret_part = url.split("/", 3)[3]
    assert secret_part not in proc.stdout + proc.stderr


def test_demo_output_replaces_its_own_earlier_output_but_not_a_foreign_folder(tmp_path):
    (tmp_path / "foreign").mkdir()
    (tmp_path / "foreign" / "keep.txt").write_text("mine")
    proc = demo(tmp_path, "--out", "foreign", timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.strip() == ("error: --out foreign: folder is not empty and holds no earlier demo output; "
                                   "choose another")
    assert (tmp_path / "foreign" / "keep.txt").read_text() == "mine"


@pytest.mark.parametrize("setup, args, env, line", [
    (None, ["--events", "missing.jsonl"], {}, "error: missing.jsonl: no such file or folder"),
    ("{\"eventVersion\": \"1.08\", \"eventTime\": \"2024-01-01T00:00:00Z\", \"eventName\": \"DescribeInstances\"}\n",
     ["--events", "quiet.jsonl"], {},
     "error: no record matches any detection: nothing would page (try `python -m trailwatch replay` on the file to "
     "see per-detection counts)"),
    ("not json\n", ["--events", "quiet.jsonl"], {}, "error: --events quiet.jsonl: no CloudTrail record in it (1 malformed)"),
    (None, [], {"TEAMS_WEBHOOK_URL": "http://teams.example.org/x?sig=s3cr3t"},
     "error: environment variable TEAMS_WEBHOOK_URL: must hold one https URL (http only to a loopback address, "
     "e.g. a local Teams stand-in; value not shown: secret)"),
])
def test_bad_input_is_one_line_and_nothing_is_left_behind(tmp_path, setup, args, env, line):
    if setup is not None:
        (tmp_path / "quiet.jsonl").write_text(setup)
    proc = demo(tmp_path, *args, "--out", "out", env=env, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.strip() == line
    assert "s3cr3t" not in proc.stderr + proc.stdout
    assert not (tmp_path / "out").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out-")] == []
