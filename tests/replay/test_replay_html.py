"""`replay --format html`: one self-contained page, a chart per detection that matched with its alert periods,
every value from the logs escaped, the same bytes for the same input, and matplotlib loaded only for it."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from replay_helpers import CORPUS_FILES, corpus_events, record, write_lines
from trailwatch.replay import replay_paths, replay_records
from trailwatch.replay.chartdata import alert_minutes, bin_detection, detection_bins, noisiest_first
from trailwatch.replay.engine import Rule
from trailwatch.replay.html import ALERTS_LISTED, render_html
from trailwatch.replay.report import Report

ROOT = Path(__file__).resolve().parents[2]
VOID = {"meta", "br", "hr", "img", "input", "link", "wbr"}
HOSTILE_ARN = "arn:aws:iam::111122223333:user/<script>alert(1)</script>"
HOSTILE_IP = '"><img src=x onerror=alert(2)>'
HOSTILE_NAME = "</table><h2>Injected"
RULES = [
    Rule("noisy", '{ $.eventName = "DeleteTrail" }', threshold=2),
    Rule("quiet", '{ $.sourceIPAddress = "192.0.2.10" }', threshold=100),
    Rule("never", '{ $.eventName = "NoSuchCall" }'),
    Rule("beat", '{ $.eventVersion = "*" }', heartbeat=True),
]


class Page(HTMLParser):
    """The page's elements, text and charts by section (the text of the ``<h2>`` before them), checking that
    every element that is opened is closed, in order."""

    def __init__(self, text: str):
        super().__init__(convert_charrefs=True)
        self.open: list[str] = []
        self.errors: list[str] = []
        self.tags: set[str] = set()
        self.attrs: list[tuple[str, str, str | None]] = []  # (tag, attribute, value)
        self.section, self.in_h2 = "", False
        self.svgs: dict[str, int] = {}
        self.text: dict[str, list[str]] = {}
        self.feed(text)
        self.close()
        if self.open:
            self.errors.append(f"never closed: {self.open}")

    def handle_starttag(self, tag, attrs):
        self.handle_startendtag(tag, attrs)
        if tag not in VOID:
            self.open.append(tag)
        if tag == "h2":
            self.in_h2, self.section = True, ""

    def handle_startendtag(self, tag, attrs):
        self.tags.add(tag)
        self.attrs += [(tag, name, value) for name, value in attrs]
        if tag == "svg":
            self.svgs[self.section] = self.svgs.get(self.section, 0) + 1

    def handle_endtag(self, tag):
        if not self.open or self.open.pop() != tag:
            self.errors.append(f"unexpected </{tag}>")
        if tag == "h2":
            self.in_h2 = False

    def handle_data(self, data):
        if self.in_h2:
            self.section += data
        else:
            self.text.setdefault(self.section, []).append(data)

    def words(self, section: str) -> str:
        return " ".join(" ".join(self.text.get(section, [])).split())


def page_of(text: str) -> Page:
    page = Page(text)
    assert page.errors == []
    return page


def chart_of(text: str, section: str) -> str:
    """The SVG following a detection's heading."""
    after = text[text.index(f">{section}</h2>"):]
    return after[after.index("<svg"):after.index("</svg>")]


@pytest.fixture(scope="module")
def report() -> Report:
    """noisy: three DeleteTrail bursts far apart, 2 or more within 30 minutes each -> three alerts; quiet:
    matches under its threshold; never: no match; beat: the heartbeat."""
    records = []
    for hour in (1, 5, 9):
        for second in range(3):
            records.append(record(f"2024-05-01T{hour:02d}:10", second, eventName="DeleteTrail",
                                  userIdentity={"type": "IAMUser", "arn": HOSTILE_ARN},
                                  sourceIPAddress=HOSTILE_IP))
    records += [record(f"2024-05-01T{h:02d}:30", eventName=HOSTILE_NAME) for h in range(12)]
    records += [record(f"2024-05-01T{h:02d}:45") for h in range(12)]
    return replay_records(records, RULES, 30, hold_minutes=10)


@pytest.fixture(scope="module")
def page_text(report) -> str:
    return render_html(report, sources=["logs/<script>x</script>.jsonl"], stack="dev")


def test_page_parses_with_one_chart_per_detection_that_matched(report, page_text):
    page = page_of(page_text)
    assert page_text.startswith("<!DOCTYPE html>")
    matched = [ident for ident, det in report.detections.items() if det.matches]
    assert sorted(matched) == ["beat", "noisy", "quiet"]
    assert page.svgs == {"Overview": 1, **{ident: 1 for ident in matched}}
    assert "never" in page.words("Overview")  # listed, without a chart of nothing


def test_overview_is_noisiest_first(report, page_text):
    page = page_of(page_text)
    overview = page_text[page_text.index("<h2>Overview</h2>"):page_text.index("<h2 id=")]
    rows = re.findall(r"<tr><td>(?:<a [^>]*>)?([a-z]+)", overview)
    assert rows == [d.id for d in noisiest_first(report)]
    noisy = report.detections["noisy"]
    assert rows[0] == "noisy" and len(noisy.alerts) == 3  # one per burst
    assert rows.index("quiet") < rows.index("never")  # matches, no alert, before no matches
    chart = chart_of(page_text, "Overview")
    assert f">{alert_minutes(noisy):,}<" in chart  # minutes firing, labelled on its bar
    assert "n/a" in chart  # the heartbeat's alerts are not simulated
    assert "<a href=\"#" in page_text and page.svgs["noisy"] == 1


def test_alert_periods_are_listed_and_shaded(report, page_text):
    page = page_of(page_text)
    noisy = report.detections["noisy"]
    words = page.words("noisy")
    for alert in noisy.alerts:
        assert f"{alert.start:%Y-%m-%d %H:%M} to {alert.end:%Y-%m-%d %H:%M}" in words
    assert f"{len(noisy.alerts)} alerts, {alert_minutes(noisy)} minutes firing" in words
    assert "threshold of 2" in words and "at most 3 in one 30-min window" in words
    shading = "fill: #e45756; fill-opacity: 0.25"
    runs = bin_detection(noisy, detection_bins(report, noisy), report.window_minutes).alert_runs
    assert len(runs) == 3  # the bursts are hours apart: three shaded runs
    assert chart_of(page_text, "noisy").count(shading) == len(runs) + 1  # and the legend's swatch
    assert "threshold: 2 in 30 min" in chart_of(page_text, "noisy")
    assert shading not in chart_of(page_text, "quiet")  # matched, never alerted
    assert "threshold: 100 in 30 min" in chart_of(page_text, "quiet")
    assert "threshold" not in chart_of(page_text, "beat")  # heartbeat: absence, not counts
    assert "no alert is simulated" in page.words("beat")


def test_user_controlled_values_are_escaped(page_text):
    page = page_of(page_text)
    assert "<script" not in page_text.lower() and "<img" not in page_text.lower()
    assert "<h2>Injected" not in page_text
    assert not page.tags & {"script", "img", "iframe", "object", "embed", "link", "base", "form"}
    assert set(page.svgs) == {"Overview", "noisy", "quiet", "beat"}  # no injected heading
    words = page.words("noisy")  # what a browser shows: the values exactly as they were in the logs
    assert HOSTILE_ARN in words and HOSTILE_IP in words
    assert HOSTILE_NAME in page.words("quiet")
    assert "logs/<script>x</script>.jsonl" in page.words("")


def test_nothing_is_fetched(page_text):
    page = page_of(page_text)
    links = [(tag, name, value) for tag, name, value in page.attrs if name in ("src", "href", "xlink:href")]
    assert links and all(value.startswith("#") for _, _, value in links)  # in-page anchors and SVG references
    assert not re.search(r"url\((?!#)|@import|<link|<script|<iframe|<object|<embed", page_text, re.I)


def test_ids_are_unique_in_the_page(page_text):
    page = page_of(page_text)
    ids = [value for _, name, value in page.attrs if name == "id"]
    assert len(ids) == len(set(ids))
    referenced = {value.lstrip("#") for _, name, value in page.attrs if name in ("href", "xlink:href")}
    referenced |= set(re.findall(r"url\(#([^)]+)\)", page_text))
    assert referenced <= set(ids)


def test_same_report_same_bytes(report, page_text):
    assert render_html(report, sources=["logs/<script>x</script>.jsonl"], stack="dev") == page_text
    assert "<metadata" not in page_text and "Matplotlib v" not in page_text  # no run metadata in the charts


def test_long_alert_lists_are_cut(tmp_path):
    records = [record(f"2024-05-0{1 + d}T{h:02d}:00", eventName="DeleteTrail") for d in range(2) for h in range(12)]
    rep = replay_records(records, {"d": '{ $.eventName = "DeleteTrail" }'}, 30)
    assert len(rep.detections["d"].alerts) == 24
    listed = page_of(render_html(rep)).words("d").split("Alert periods")[1]
    assert listed.count(" to ") == ALERTS_LISTED and f"and {24 - ALERTS_LISTED} more" in listed


def test_a_year_is_charted_per_day():
    records = [record("2024-01-01T00:00"), record("2024-12-31T23:59")]
    rep = replay_records(records, {"d": '{ $.eventVersion = "*" }'}, 30)
    assert "matches per day" in chart_of(render_html(rep), "d")


def test_no_match_and_no_record_still_render():
    rep = replay_records([record(), record("2024-05-01T11:00")], [RULES[0], RULES[2]], 30)
    page = page_of(render_html(rep))
    assert page.svgs == {"Overview": 1}
    assert "No detection matched any of the 2 events." in page.words("Overview")
    empty = page_of(render_html(replay_records([], RULES, 30)))
    assert empty.svgs == {"Overview": 1}
    assert "No usable record was read" in empty.words("Overview")


def test_malformed_samples_and_file_names_are_escaped(tmp_path):
    path = write_lines(tmp_path / "<b>evil</b>.jsonl", [record(), "{not json <i>"])
    rep = replay_paths([path], RULES, 30)
    text = render_html(rep, sources=[str(path)])
    assert "<b>" not in text and "<i>" not in text
    page = page_of(text)
    assert rep.malformed_samples and rep.malformed_samples[0] in page.words("Malformed records")


# -- the command -------------------------------------------------------------------------------

def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "trailwatch", *args], capture_output=True, text=True, cwd=ROOT)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("html")
    # suspiciousIps: an IP no corpus event comes from, so one detection has no match
    (base / "Pulumi.htmltest.yaml").write_text(
        'config:\n  aws:region: us-east-1\n  trailwatch:suspiciousIps: ["203.0.113.250"]\n'
        "  trailwatch:enableDetections: [suspicious_source_ips]\n")
    for name in CORPUS_FILES:
        write_lines(base / "logs" / name, corpus_events(name))
    return base


def test_cli_html_on_the_corpus(corpus):
    args = ("replay", "--stack", "htmltest", "--config-dir", str(corpus), "--include-disabled", str(corpus / "logs"))
    doc = json.loads(run_cli(*args, "--format", "json").stdout)
    first, second = run_cli(*args, "--format", "html"), run_cli(*args, "--format", "html")
    assert first.returncode == 0, first.stderr
    assert first.stderr == ""
    assert first.stdout == second.stdout  # deterministic across processes (ids, no dates)
    page = page_of(first.stdout)
    matched = {ident for ident, det in doc["detections"].items() if det["matches"]}
    assert doc["detections"]["suspicious_source_ips"]["matches"] == 0 and len(matched) > 1
    assert "Without matches: suspicious_source_ips." in page.words("Overview")
    assert page.svgs == {"Overview": 1, **{ident: 1 for ident in matched}}
    assert f"{doc['events']:,} events, {doc['malformed']:,} malformed" in page.words("")
    for ident in matched:
        alerts = doc["detections"][ident]["alerts"]
        if alerts:
            assert f"{alerts[0]['start'][:16].replace('T', ' ')} to" in page.words(ident)


def test_matplotlib_is_loaded_for_html_only(corpus, tmp_path):
    probe = ("import sys\nfrom trailwatch.cli import main\n"
             "rc = main(sys.argv[1:])\nprint('matplotlib' in sys.modules, file=sys.stderr)\nsys.exit(rc)")
    args = ["replay", "--stack", "htmltest", "--config-dir", str(corpus), str(corpus / "logs")]
    for fmt, loaded in (("table", "False"), ("json", "False"), ("html", "True")):
        proc = subprocess.run([sys.executable, "-c", probe, *args, "--format", fmt], capture_output=True,
                              text=True, cwd=ROOT)
        assert (proc.returncode, proc.stderr.strip()) == (0, loaded), fmt


def test_html_without_matplotlib_is_one_line_before_the_replay(corpus):
    probe = "import sys\nsys.modules['matplotlib'] = None\nfrom trailwatch.cli import main\nsys.exit(main(sys.argv[1:]))"
    proc = subprocess.run([sys.executable, "-c", probe, "replay", "--stack", "htmltest", "--config-dir", str(corpus),
                           "--format", "html", str(corpus / "no-such-folder")], capture_output=True, text=True, cwd=ROOT)
    # said before the input is even looked at (the folder does not exist)
    assert (proc.returncode, proc.stdout) == (2, "")
    assert proc.stderr == "error: --format html needs matplotlib: pip install 'pulumi-trailwatch[replay]'\n"


def test_cli_html_with_nothing_usable_writes_nothing(corpus, tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    proc = run_cli("replay", "--stack", "htmltest", "--config-dir", str(corpus), "--format", "html", str(empty))
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr.startswith("error: nothing to replay") and proc.stderr.count("\n") == 1
