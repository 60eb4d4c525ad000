"""Place replayed CloudTrail minutes on the emulator's clock (the "shifted timeline").

``replay`` counts, per detection, the matching records in each minute of ``eventTime`` — minutes that may lie
years in the past, while the read path works relative to "now": CloudWatch answers for a window ending now
and the exporter serves what was ingested by then. So the emulator does not replay at the original times: a
:class:`Timeline` maps each distinct event minute to a slot ``origin + k * period`` on its clock, keeping
their order and spacing, from a chosen ``origin`` (the emulation's next readable slot).

``max_gap_periods`` compresses idle stretches: two consecutive event minutes further apart than that many
periods are placed exactly that far apart (``None`` keeps the real spacing). Counts are never merged:
distinct minutes stay distinct slots, so every Sum the exporter serves is one CloudWatch would have recorded.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable, Mapping

from .cloudwatch import MetricStore


def parse_minute(key: Any) -> datetime:
    """A replay minute key (``YYYY-MM-DDTHH:MM`` string, datetime, or epoch seconds) as an aware UTC datetime."""
    if isinstance(key, datetime):
        value = key if key.tzinfo else key.replace(tzinfo=timezone.utc)
    elif isinstance(key, (int, float)):
        value = datetime.fromtimestamp(key, tz=timezone.utc)
    elif isinstance(key, str):
        value = datetime.fromisoformat(key)
        value = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    else:
        raise TypeError(f"not a minute: {key!r}")
    value = value.astimezone(timezone.utc)
    return value.replace(second=0, microsecond=0)


@dataclass(frozen=True)
class ReplayedMinutes:
    """Per event minute: records the log group received, and how many each detection's filter matched."""

    minutes: Mapping[datetime, tuple[int, Mapping[str, int]]] = field(default_factory=dict)

    @classmethod
    def from_counts(cls, events: Mapping[Any, int], series: Mapping[str, Mapping[Any, int]]) -> "ReplayedMinutes":
        """``events``: records per minute; ``series``: ``{detection_id: {minute: matches}}`` (replay's output)."""
        out: dict[datetime, tuple[int, dict[str, int]]] = {}
        for key, count in events.items():
            minute = parse_minute(key)
            old, matches = out.get(minute, (0, {}))
            out[minute] = (old + int(count), matches)
        for ident, per_minute in series.items():
            for key, count in per_minute.items():
                minute = parse_minute(key)
                if minute not in out:
                    raise ValueError(f"detection {ident!r} matched {count} record(s) at {minute:%Y-%m-%dT%H:%M}, "
                                     f"a minute with no records")
                if count:
                    out[minute][1][ident] = out[minute][1].get(ident, 0) + int(count)
        return cls(out)

    @classmethod
    def from_report(cls, report: Any) -> "ReplayedMinutes":
        """From a :class:`trailwatch.replay.Report` (``replay_paths`` / ``replay_records``): its
        ``event_minutes`` and per-detection ``series``."""
        return cls.from_counts(report.event_minutes, report.series)

    @property
    def total_events(self) -> int:
        return sum(events for events, _ in self.minutes.values())

    def matches(self, detection_id: str) -> int:
        return sum(m.get(detection_id, 0) for _, m in self.minutes.values())

    def detections(self, threshold: Mapping[str, int] | None = None) -> set[str]:
        """Detections with at least ``threshold[id]`` (default 1) matches in some minute."""
        threshold = threshold or {}
        return {ident for _, m in self.minutes.values() for ident, n in m.items() if n >= threshold.get(ident, 1)}


class Timeline:
    """Maps event minutes onto the emulator clock: ``slot(minute) = origin + k * period``."""

    def __init__(self, minutes: Iterable[Any], origin: int, period: int = 60, max_gap_periods: int | None = None):
        if max_gap_periods is not None and max_gap_periods < 1:
            raise ValueError("max_gap_periods must be >= 1 (distinct minutes stay distinct), or None")
        self.origin = int(origin)
        self.period = int(period)
        self.max_gap_periods = max_gap_periods
        ordered = sorted({parse_minute(m) for m in minutes})
        self._slots: dict[datetime, int] = {}
        index = 0
        for i, minute in enumerate(ordered):
            if i:
                gap = math.ceil((minute - ordered[i - 1]).total_seconds() / self.period)
                index += gap if max_gap_periods is None else min(gap, max_gap_periods)
            self._slots[minute] = index

    @property
    def span_periods(self) -> int:
        return max(self._slots.values(), default=0) + 1

    def slot(self, minute: Any) -> int:
        """Epoch seconds (on the emulator clock) of the datapoint for ``minute``."""
        try:
            return self.origin + self._slots[parse_minute(minute)] * self.period
        except KeyError:
            raise KeyError(f"minute {minute!r} is not on this timeline") from None

    def load(self, store: MetricStore, replayed: ReplayedMinutes, lag: float = 0.0) -> dict[datetime, int]:
        """Record every replayed minute in ``store`` at its slot, ingested ``lag`` seconds after it; returns
        ``{minute: slot}``."""
        placed = {}
        for minute, (events, matches) in sorted(replayed.minutes.items()):
            placed[minute] = self.slot(minute)
            store.record_minute(placed[minute], events, matches, ingested_at=placed[minute] + lag)
        return placed
