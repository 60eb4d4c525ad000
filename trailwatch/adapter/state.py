"""The delivered-notification ledger on disk, so that a restart does not forget what Teams already has.

Written once, when the adapter stops after draining (SIGTERM), and read at start: Alertmanager's retry of a
notification the previous process delivered (its answer lost with the connection) is then a duplicate, not a
second card. A crash (SIGKILL, OOM) writes nothing; the next process starts empty, as before. The file holds
only notification keys (SHA-256 digests) and when each stops mattering: nothing from an alert.

A missing, unreadable or malformed file is never fatal (the adapter must come up to deliver alerts): it is
reported in one log line and the ledger starts empty.
"""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
import time
from pathlib import Path
from typing import Mapping

log = logging.getLogger("trailwatch.adapter")
FORMAT_VERSION = 1
#: A file past this is not ours (4,096 keys of 64 hex digits with their times are ~360 KB).
MAX_FILE_BYTES = 1024 * 1024
_KEY = re.compile(r"[0-9a-f]{64}\Z")


def load_delivered(path: Path, now: float | None = None) -> dict[str, float]:
    """The keys delivered and still remembered (wall-clock expiry, seconds since the epoch), from ``path``."""
    now = time.time() if now is None else now
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise ValueError(f"larger than {MAX_FILE_BYTES} bytes")
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict) or data.get("version") != FORMAT_VERSION \
                or not isinstance(data.get("delivered"), dict):
            raise ValueError(f"not a version {FORMAT_VERSION} ledger")
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        log.warning("state file %r not used, starting with an empty ledger: %s", str(path),
                    exc.strerror if isinstance(exc, OSError) else exc)
        return {}
    return {key: float(until) for key, until in data["delivered"].items()
            if _KEY.match(str(key)) and isinstance(until, (int, float)) and not isinstance(until, bool)
            and until > now}


def save_delivered(path: Path, delivered: Mapping[str, float]) -> bool:
    """Replace ``path`` with ``delivered`` (atomically: a reader sees the old file or the new one, whole);
    False, with one log line, if it cannot be written."""
    body = json.dumps({"version": FORMAT_VERSION, "delivered": dict(delivered)}, separators=(",", ":"))
    try:
        fd, tmp = tempfile.mkstemp(prefix=".ledger-", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                out.write(body)
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise
    except OSError as exc:
        log.error("state file %r not written: %s", str(path), exc.strerror)
        return False
    return True
