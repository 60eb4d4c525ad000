"""What replay's bulk scanners count into: the narrow surface both :class:`~.linescan.LineScanner` (blocks of
JSON lines) and :class:`~.docscan.DocumentScanner` (an S3 document's records) write to, so that neither reaches
into :class:`~.engine.Aggregator`, which is the one implementation."""

from __future__ import annotations

from typing import Any, Callable, Mapping, Protocol, Sequence


class Tally(Protocol):
    """Detections are indexes into the patterns a scanner was given; minutes are ``YYYY-MM-DDTHH:MM`` keys. A
    block or batch adds, say::

        tally.add_events({"2024-05-01T10:00": 4000})          # every record counted in bulk, matched or not
        tally.add_matches(0, {"2024-05-01T10:00": 4000}, ...)  # detection 0 matched them all
        tally.count([2], "2024-05-01T10:00", principal, ip, name, record)  # one record
        tally.one(b'{"eventTime": ...', position, locate)     # one it leaves to the record-by-record path
    """

    def add_events(self, minutes: Mapping[str, int]) -> None:
        """Records counted in bulk: how many in each minute."""

    def add_matches(self, hit: int, minutes: Mapping[str, int], principals: Mapping[str, int],
                    source_ips: Mapping[str, int], event_names: Mapping[str, int]) -> None:
        """Matches of one detection counted in bulk (never one that reads records)."""

    def count(self, hits: Sequence[int], minute: str, principal: str, ip: str, name: str,
              rec: dict | None = None) -> None:
        """One record matched by the detections ``hits``; ``rec`` when one of them reads records."""

    def one(self, rec: Any, position: int, locate: Callable[[], str] | None) -> None:
        """One record as the reader would hand it over (raw line, dict or Malformed), counted or reported."""
