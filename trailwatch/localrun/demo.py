"""``demo``: real cards from real CloudTrail events in a few minutes, with no AWS account and no Teams tenant.

The chain is the production one, run locally: CloudTrail records -> (emulated) CloudWatch metric filters and
cloudwatch_exporter -> real Prometheus with the rendered rules -> real Alertmanager with the rendered config ->
the Teams adapter process (enriching from an emulated CloudWatch Logs endpoint through a real boto3 client) ->
a Teams Workflows stand-in that keeps the exact bodies. Each card is printed as text when it arrives and its
body written to ``<out>/cards/``; with a real Workflows URL each body is also posted to that channel.

Time: CloudWatch runs :data:`TIME_SCALE` times faster than the wall clock (one wall second = one CloudWatch
minute, see :mod:`.clock`), so the shipped 30-minute window and 26-minute heartbeat are kept and a card
resolves about 40 s after its last event. The events' minutes are placed on the emulated clock in order, idle
stretches compressed to one minute (:mod:`.timeline`); only minutes with matches are replayed (the others
cannot change an alert), at most :data:`MAX_MINUTES` of them. The cards keep the records' own event times.
After the detections have resolved, CloudTrail delivery is stopped so a pipeline card (heartbeat missing)
shows what a broken trail looks like.

Noise exceptions: on the bundled sample the demo stack carries one (:data:`DEMO_EXCEPTION`, expiring
:data:`DEMO_EXCEPTION_DAYS` days from today), which covers some of ``unauthorized_api_calls``' events and not
the others: that alert still fires, and its card says how many events in its window the exception hid.
``--exceptions FILE`` replaces it with the user's own entries.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import yaml

from ..adapter import Teams, card_text, check_webhook_url
from ..contract import ADAPTER_ALERTS_PATH, ADAPTER_MODE, ALERT_HEARTBEAT_MISSING, NO_RUNTIME
from ..errors import ConfigError, TrailwatchError
from ..exceptions import KEY as EXCEPTIONS_KEY, today
from ..render import adapter_config
from ..replay import alert_hold_minutes, minute_of, read_records, replay_records, simulate_alerts
from ..stack import Stack, config_strings, log_group_name, stack_excepted_filters, stack_from_config
from ..catalog import load_catalog
from .clock import ScaledClock
from .emulation import StackEmulation, filter_rules
from .logs import LogsEmulator
from .pipeline import LocalPipeline, write_private
from .processes import TeamsAdapter, free_port
from .teams import TeamsSink
from .timeline import ReplayedMinutes, Timeline, parse_minute

TIME_SCALE = 60
MAX_RECORDS = 200_000
MAX_MINUTES = 120
#: Idle stretches between replayed minutes are compressed to this many minutes (emulation.place's default).
PLACEMENT_GAP = 1
#: Wall-time settings shortened as a user would in Pulumi.<stack>.yaml; CloudWatch-side ones stay shipped.
DEMO_SETTINGS = {"scrapeIntervalSeconds": 1, "groupWaitSeconds": 1, "groupIntervalSeconds": 2,
                 "repeatIntervalMinutes": 240, "teamsMode": ADAPTER_MODE}
MARKER = ".trailwatch-demo"
SETTLE_SECONDS = 4
REAL_TEAMS_BUDGET = 20
#: The bundled sample's exception: Stratus Red Team's EC2 password-data role (6 of the 18 unauthorized calls;
#: the denied AssumeRole calls of the same minute and the other accounts' roles still page).
DEMO_EXCEPTION = {
    "detections": ["unauthorized_api_calls"],
    "reason": "Sanctioned red-team exercise (Stratus Red Team, EC2 password data)",
    "owner": "security-team",
    "match": {"userIdentity.sessionContext.sessionIssuer.arn":
              "arn:aws:iam::457448411975:role/stratus-red-team-ec2-get-password-data-role",
              "userAgent": "stratus-red-team_*"},
}
DEMO_EXCEPTION_DAYS = 90


class DemoError(TrailwatchError):
    """The demo cannot run on this input, or the local chain did not deliver in time."""


@dataclass
class Placed:
    """The replayed events on the emulated clock, and the alerts the rules should raise on them."""

    records: dict[datetime, list[dict[str, Any]]]
    replayed: ReplayedMinutes
    expected: dict[str, int]  # detection id -> firing periods on the compressed timeline
    skipped_minutes: int = 0
    account_id: str | None = None
    excepted: dict[str, int] = field(default_factory=dict)  # exception filter (<detection>-x-<id>) -> events


@dataclass
class DemoResult:
    cards: list[Path] = field(default_factory=list)
    posted: Counter = field(default_factory=Counter)  # outcome reason -> cards (real Teams only)


def bundled_exceptions(on: dt.date | None = None) -> list[dict[str, Any]]:
    """:data:`DEMO_EXCEPTION`, expiring :data:`DEMO_EXCEPTION_DAYS` days after ``on`` (default: today, UTC)."""
    expires = (on or today()) + dt.timedelta(days=DEMO_EXCEPTION_DAYS)
    return [{**DEMO_EXCEPTION, "expires": expires.isoformat()}]


def load_exceptions(path: Path) -> list[Any]:
    """The entries of an exceptions file: a YAML list in the ``trailwatch:exceptions`` format, or a mapping
    holding that key (as copied from a stack file). The entries themselves are checked with the stack."""
    where = f"--exceptions {path}"
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise DemoError(f"{where}: cannot read ({getattr(exc, 'strerror', None) or exc})") from None
    except yaml.YAMLError as exc:
        raise DemoError(f"{where}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if isinstance(data, Mapping) and set(data) == {EXCEPTIONS_KEY}:
        data = data[EXCEPTIONS_KEY]
    if data is None:
        return []
    if not isinstance(data, list):
        raise DemoError(f"{where}: must be a YAML list of exception entries (or a mapping with the one key "
                        f"{EXCEPTIONS_KEY})")
    return data


def demo_stack(exceptions: Sequence[Any] = (), where: str = "") -> Stack:
    """Every catalog detection with a fixed pattern on (the guide's off-by-default ones too), and
    ``exceptions`` (raw ``trailwatch:exceptions`` entries; problems reported as from ``where``)."""
    enable = [d.id for d in load_catalog() if d.pattern and not d.enabled]
    config, secrets = config_strings({"aws:region": "us-east-1", "trailwatch:runtime": NO_RUNTIME,
                                      "trailwatch:enableDetections": enable,
                                      **({EXCEPTIONS_KEY: list(exceptions)} if exceptions else {}),
                                      **{f"trailwatch:{k}": v for k, v in DEMO_SETTINGS.items()}})
    try:
        return stack_from_config("demo", config, secrets)
    except ConfigError as exc:
        if not where:
            raise
        raise DemoError("\n".join(f"{where}: {line}" for line in str(exc).splitlines())) from None


def load_events(path: Path) -> tuple[list[dict[str, Any]], int]:
    """(records, malformed) from any file ``replay`` reads; at most :data:`MAX_RECORDS` records."""
    records: list[dict[str, Any]] = []
    malformed = 0
    for item in read_records([path]):
        if type(item) is not dict:
            malformed += 1
            continue
        if len(records) == MAX_RECORDS:
            raise DemoError(f"--events {path}: more than {MAX_RECORDS:,} records; the demo shows cards for a "
                            f"sample (use `python -m trailwatch replay` for a whole export)")
        records.append(item)
    if not records:
        raise DemoError(f"--events {path}: no CloudTrail record in it ({malformed} malformed)")
    return records, malformed


def place_plan(stack: Stack, records: list[dict[str, Any]]) -> Placed:
    """Which minutes to replay (those with matches, at most :data:`MAX_MINUTES`) and what should fire once they
    are placed on the emulated clock (the rules' semantics, simulated on the compressed timeline, on the
    matches no exception covers). Every metric filter of the stack is replayed, the exceptions' too."""
    report = replay_records(records, filter_rules(stack), stack.settings.alert_window_minutes)
    heartbeats = {d.id for d in stack.detections if d.heartbeat}
    matched = sorted({minute for ident, series in report.series.items() if ident not in heartbeats
                      for minute in series})
    if not matched:
        raise DemoError("no record matches any detection: nothing would page (try `python -m trailwatch replay` "
                        "on the file to see per-detection counts)")
    kept = set(matched[:MAX_MINUTES])
    by_minute: dict[datetime, list[dict[str, Any]]] = {}
    for rec in records:
        t = rec.get("eventTime")  # the minute replay counts the record in (@timestamp only without eventTime)
        key = minute_of(t) if t is not None else minute_of(rec.get("@timestamp"))
        minute = parse_minute(key) if key is not None else None
        if minute in kept:
            by_minute.setdefault(minute, []).append(rec)
    series = {ident: {m: n for m, n in s.items() if m in kept} for ident, s in report.series.items()}
    replayed = ReplayedMinutes.from_counts({m: n for m, n in report.event_minutes.items() if m in kept}, series)
    timeline = Timeline(kept, origin=0, max_gap_periods=PLACEMENT_GAP)
    hold = alert_hold_minutes(stack)
    tuned: dict[str, list[str]] = {}
    for f in stack_excepted_filters(stack):
        tuned.setdefault(f.detection.id, []).append(f.name)
    expected = {}
    for det in stack.detections:
        if det.heartbeat or not series.get(det.id):
            continue
        paged = {m: n - sum(series.get(name, {}).get(m, 0) for name in tuned.get(det.id, ()))
                 for m, n in series[det.id].items()}
        shifted = {datetime.fromtimestamp(timeline.slot(m), tz=timezone.utc): n for m, n in paged.items()}
        periods = simulate_alerts(shifted, stack.settings.alert_window_minutes, det.threshold, hold)
        if periods:
            expected[det.id] = len(periods)
    accounts = Counter(str(r.get("recipientAccountId")) for r in records
                       if re.fullmatch(r"\d{12}", str(r.get("recipientAccountId", ""))))
    excepted = {name: sum(series.get(name, {}).values()) for names in tuned.values() for name in names}
    return Placed(by_minute, replayed, expected, len(matched) - len(kept),
                  accounts.most_common(1)[0][0] if accounts else None, excepted)


def prepare_out(out: Path) -> Path:
    """A fresh staging folder beside ``out``; ``out`` must be new, empty or an earlier demo's output."""
    if out.exists():
        if not out.is_dir():
            raise DemoError(f"--out {out}: exists and is not a folder")
        if any(out.iterdir()) and not (out / MARKER).exists():
            raise DemoError(f"--out {out}: folder is not empty and holds no earlier demo output; choose another")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    umask = os.umask(0)
    os.umask(umask)
    staging.chmod(0o777 & ~umask)  # mkdtemp's 0700 is for the staging name only: the output is an ordinary folder
    return staging


def publish(staging: Path, out: Path) -> None:
    (staging / MARKER).write_text("written by `python -m trailwatch demo`; replaced by the next run\n")
    if out.exists():
        shutil.rmtree(out)
    staging.rename(out)


def real_teams_url(url_file: Path | None, environ: dict[str, str]) -> str | None:
    """The real Workflows URL, from ``--teams-url-file`` or ``TEAMS_WEBHOOK_URL`` (never from argv)."""
    if url_file is not None:
        try:
            text = url_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise DemoError(f"--teams-url-file {url_file}: cannot read ({getattr(exc, 'strerror', None) or exc})") \
                from None
        return check_webhook_url(text, f"--teams-url-file {url_file}")
    if environ.get("TEAMS_WEBHOOK_URL"):
        return check_webhook_url(environ["TEAMS_WEBHOOK_URL"], "environment variable TEAMS_WEBHOOK_URL")
    return None


class CardPrinter:
    """Numbers, prints, writes and (optionally) forwards each body the Teams stand-in receives."""

    def __init__(self, folder: Path, echo: Callable[[str], None], teams: Teams | None, started: float,
                 result: DemoResult):
        self.folder = folder
        self.echo = echo
        self.teams = teams
        self.started = started
        self.result = result
        self._lock = threading.Lock()
        folder.mkdir(parents=True, exist_ok=True)

    def __call__(self, body: bytes) -> None:
        with self._lock:
            number = len(self.result.cards) + 1
            path = self.folder / f"card-{number:03d}.json"
            path.write_bytes(body)
            self.result.cards.append(path)
            line = f"card {number} at +{time.time() - self.started:.0f}s ({len(body):,} bytes, {path.name})"
            if self.teams is not None:
                outcome = self.teams.send(body)
                self.result.posted[outcome.reason] += 1
                line += "; posted to Teams: " + ("delivered" if outcome.delivered else f"failed ({outcome.reason})")
            self.echo(line + "\n" + card_text(body))


def run_demo(events: Path, out: Path, *, teams_url: str | None = None, outage: bool = True,
             exceptions: Sequence[Any] = (), exceptions_from: str = "",
             echo: Callable[[str], None] = print, timeout: float = 600.0) -> DemoResult:
    """Run the local chain on ``events`` and write every card body to ``<out>/cards/``. ``exceptions``: raw
    ``trailwatch:exceptions`` entries for the demo stack (``exceptions_from`` names where they came from)."""
    stack = demo_stack(exceptions, exceptions_from)
    records, malformed = load_events(events)
    plan = place_plan(stack, records)
    staging = prepare_out(out)
    result = DemoResult()
    started = time.time()
    echo(f"demo: {len(records):,} records from {events}" + (f" ({malformed} malformed skipped)" if malformed else "")
         + f"; {len(plan.records)} minutes with matches replayed"
         + (f" ({plan.skipped_minutes} later ones left out)" if plan.skipped_minutes else "")
         + f"; expected to fire: {', '.join(sorted(plan.expected)) or 'nothing'}")
    for f in stack_excepted_filters(stack):
        r = f.rule
        echo(f"demo: exception {r.id} ({r.reason!r}, owner {r.owner}, until {r.expires}) excepts "
             f"{plan.excepted.get(f.name, 0)} of the {plan.replayed.matches(f.detection.id)} replayed "
             f"{f.detection.id} events")
    stops: list[Callable[[], None]] = []
    try:
        with tempfile.TemporaryDirectory(prefix="trailwatch-demo-") as tmp:
            work = Path(tmp)
            teams = Teams(teams_url, REAL_TEAMS_BUDGET) if teams_url else None
            sink = TeamsSink(on_post=CardPrinter(staging / "cards", echo, teams, started, result)).start()
            stops.append(sink.stop)
            logs = LogsEmulator(page_size=50).start()
            stops.append(logs.stop)
            logs.events.setdefault(log_group_name(stack), [])
            emulation = StackEmulation(stack, clock=ScaledClock(TIME_SCALE)).start()
            stops.append(emulation.stop)
            port = free_port()
            pipeline = LocalPipeline(stack, work / "pipeline", emulation.exporter.address,
                                     f"http://127.0.0.1:{port}{ADAPTER_ALERTS_PATH}", account_id=plan.account_id,
                                     name="demo", time_scale=TIME_SCALE)
            stops.append(pipeline.stop)
            adapter = adapter_process(stack, work / "adapter", sink.url, pipeline.adapter_token_file, logs.url, port)
            stops.append(adapter.stop)
            adapter.start()
            pipeline.start()
            pipeline.wait_for_first_scrape()
            placed = emulation.place(plan.replayed, slot=emulation.slot_readable_after(time.time() + 1),
                                     max_gap_periods=PLACEMENT_GAP)
            for minute, recs in plan.records.items():
                logs.put(log_group_name(stack), recs, timestamp_ms=int(emulation.clock.to_wall(placed[minute]) * 1000))
            last = emulation.clock.to_wall(max(placed.values()) + stack.settings.alert_window_minutes * 60)
            deadline = started + timeout
            _wait(lambda: time.time() > last and not _active(pipeline, heartbeat=False)
                  and _quiet(sink, SETTLE_SECONDS), deadline, "the detections' cards (firing and resolved)")
            if outage:
                echo("demo: CloudTrail delivery stops now (a pipeline card follows in about half a minute)")
                before = len(sink.bodies)
                emulation.stop_traffic()
                _wait(lambda: _active(pipeline, heartbeat=True) and len(sink.bodies) > before
                      and _quiet(sink, SETTLE_SECONDS), deadline, "the heartbeat card")
    except TimeoutError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise DemoError(f"demo: {exc}") from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        for stop in reversed(stops):
            stop()
    publish(staging, out)
    result.cards = [out / "cards" / p.name for p in result.cards]
    return result


def adapter_process(stack: Stack, folder: Path, teams_url: str, token_file: Path, logs_url: str,
                    port: int) -> TeamsAdapter:
    """The adapter process with its rendered config, the alert window put on the wall clock (CloudWatch runs
    :data:`TIME_SCALE` times faster here, so the events behind an alert are those of the last 30 s)."""
    folder.mkdir(parents=True)
    config = adapter_config(stack)
    config["alert_window_seconds"] = max(1, config["alert_window_seconds"] // TIME_SCALE)
    (folder / "config.json").write_text(json.dumps(config))
    write_private(folder / "url", teams_url + "\n")
    return TeamsAdapter(folder, folder / "config.json", folder / "url", token_file, logs_url, port=port)


def _active(pipeline: LocalPipeline, heartbeat: bool) -> bool:
    """Whether Alertmanager holds an active heartbeat alert (``heartbeat``) or any active detection alert."""
    names = [a["labels"].get("alertname") for a in pipeline.alertmanager.alerts() if a["status"]["state"] == "active"]
    if heartbeat:
        return ALERT_HEARTBEAT_MISSING in names
    return any(name != ALERT_HEARTBEAT_MISSING for name in names)


def _quiet(sink: TeamsSink, seconds: float) -> bool:
    """Nothing arrived for ``seconds`` (so a notification Alertmanager is about to send is not cut off)."""
    return time.time() - sink.last_post >= seconds


def _wait(done: Callable[[], bool], deadline: float, what: str) -> None:
    while not done():
        if time.time() >= deadline:
            raise TimeoutError(f"the local chain did not deliver {what} in time")
        time.sleep(0.5)


def default_events(root: Path) -> Path:
    return root / "examples" / "demo" / "cloudtrail-sample.jsonl"
