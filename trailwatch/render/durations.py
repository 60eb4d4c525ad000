"""Seconds as the duration text Prometheus and Alertmanager read (``for:``, range selectors, group timings)."""

from __future__ import annotations


def duration(seconds: int) -> str:
    """Seconds as a Prometheus/Alertmanager duration: 600 -> "10m", 5400 -> "1h30m", 0 -> "0s"."""
    if seconds <= 0:
        return "0s"
    out = ""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            out += f"{count}{unit}"
    return out
