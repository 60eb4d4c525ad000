"""CloudTrail logs straight from S3: ``s3://bucket/prefix`` over the trail's own key layout.

CloudTrail writes ``<prefix>/AWSLogs/<account>/CloudTrail/<region>/<YYYY>/<MM>/<DD>/<file>.json.gz``, and for an
organization trail ``<prefix>/AWSLogs/<org-id>/<account>/CloudTrail/...``. The listing walks that layout one
level at a time (a delimiter listing per level) down to the deepest level a :class:`KeyFilter` looks at, so
only the prefixes of the wanted accounts, regions and days are listed; below that, keys are listed flat.
``CloudTrail-Digest`` folders, hidden entries and names without a log suffix are skipped, as in a local folder
walk. Without a filter every log file under the prefix is read; with one, only keys in the layout that pass it.
A URL that names an object is that object, whatever its name.

Each object is one work unit, streamed through :func:`~trailwatch.replay.readers.read_stream` (read in blocks,
never held whole beyond the reader's limits). The client is boto3's default: credentials, region and endpoint
come from the usual AWS configuration (``AWS_PROFILE``, ``AWS_ACCESS_KEY_ID``..., ``AWS_ENDPOINT_URL_S3`` or
``AWS_ENDPOINT_URL`` for an S3-compatible store). Listing errors (no such bucket, access denied, no
credentials, endpoint unreachable) raise :class:`~trailwatch.replay.readers.ReplayError` with one line; an
object that cannot be fetched is counted malformed, like an unreadable file.
"""

from __future__ import annotations

import errno
import os
import re
import threading
from dataclasses import dataclass
from datetime import date
from typing import Any, Iterator

from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError, NoCredentialsError
from urllib3.exceptions import HTTPError

from .readers import FOLDER_SUFFIXES, SKIPPED_FOLDERS, RecordPath, ReplayError, read_stream

SCHEME = "s3://"
_BUCKET = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{1,254}")  # what S3 (and botocore's validation) accepts
_ORG = re.compile(r"o-[a-z0-9]{10,32}")
_ACCOUNT_LEVEL, _SERVICE_LEVEL, _REGION_LEVEL, _DAY_LEVEL = 0, 1, 2, 5  # segments after AWSLogs[/<org-id>]
_FILE_LEVEL = 6
_DENIED = ("AccessDenied", "AllAccessDisabled", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken",
           "InvalidToken", "AccountProblem")


def is_url(path: Any) -> bool:
    return str(path).startswith(SCHEME)


def parse_url(url: str) -> tuple[str, str]:
    """``s3://bucket/prefix`` -> (bucket, prefix)."""
    bucket, _, prefix = url[len(SCHEME):].partition("/")
    if not _BUCKET.fullmatch(bucket):
        raise ReplayError(f"{url}: not an S3 URL (s3://BUCKET or s3://BUCKET/PREFIX; a bucket name is 3 to 255 "
                          f"letters, digits, '.', '-' or '_')")
    return bucket, prefix


@dataclass(frozen=True)
class KeyFilter:
    """Which of the layout's keys to read: accounts, regions, and days (``since``/``until`` inclusive, the
    UTC day in the key, which is the day CloudTrail delivered the file). Empty sets and None: no limit."""

    accounts: frozenset[str] = frozenset()
    regions: frozenset[str] = frozenset()
    since: date | None = None
    until: date | None = None

    def __bool__(self) -> bool:
        return bool(self.accounts or self.regions or self.since or self.until)

    def depth(self) -> int:
        """How many levels below ``AWSLogs[/<org-id>]`` must be listed level by level: down to the service
        level at least (to skip CloudTrail-Digest), to the day level for a date filter."""
        if self.since or self.until:
            return _DAY_LEVEL + 1
        return _REGION_LEVEL + 1 if self.regions else _SERVICE_LEVEL + 1

    def allows(self, parts: list[str], complete: bool) -> bool:
        """Whether a key (``complete``) or a prefix (its folders ``parts``) may hold wanted log files."""
        if not self:
            return True
        levels = _levels(parts)
        if levels is None:
            return not complete  # AWSLogs may still be below this prefix
        if complete and len(levels) != _FILE_LEVEL + 1:
            return False
        if self.accounts and len(levels) > _ACCOUNT_LEVEL and levels[_ACCOUNT_LEVEL] not in self.accounts:
            return False
        if self.regions and len(levels) > _REGION_LEVEL and levels[_REGION_LEVEL] not in self.regions:
            return False
        day = levels[_REGION_LEVEL + 1:_DAY_LEVEL + 1]
        return not (day and (self.since or self.until)) or self._has_days(day)

    def _has_days(self, day: list[str]) -> bool:
        """Whether a year, year/month or year/month/day folder overlaps since..until."""
        if not all(p.isdigit() for p in day):
            return False
        numbers = tuple(int(p) for p in day)
        low = self.since and (self.since.year, self.since.month, self.since.day)[:len(numbers)]
        high = self.until and (self.until.year, self.until.month, self.until.day)[:len(numbers)]
        return (not low or numbers >= low) and (not high or numbers <= high)


def _levels(parts: list[str]) -> list[str] | None:
    """The segments after ``AWSLogs`` (and an organization id), or None if ``AWSLogs`` is not among them."""
    if "AWSLogs" not in parts:
        return None
    levels = parts[parts.index("AWSLogs") + 1:]
    return levels[1:] if levels and _ORG.fullmatch(levels[0]) else levels


class S3Listing:
    """The objects of one ``s3://`` URL, listed lazily, as :class:`S3Object` sources. The bucket is checked
    when the listing is created, so a wrong URL or missing credentials fail before any work starts."""

    def __init__(self, url: str, key_filter: KeyFilter | None = None, record_path: RecordPath | None = None):
        self.url = url
        self.record_path = record_path
        self.bucket, prefix = parse_url(url)
        self.filter = key_filter or KeyFilter()
        self._client = client()
        self._object: S3Object | None = None
        if prefix and not prefix.endswith("/"):  # an object, or a folder named without its slash
            first = self._list_once(prefix)  # an object named ``prefix`` sorts before any longer key
            if first and first[0]["Key"] == prefix:
                self._object = S3Object(self.bucket, prefix, first[0]["Size"], record_path)
            self._folder = prefix + "/" if self._object is None or self._list_once(prefix + "/") else None
        else:
            self._list_once(prefix)
            self._folder = prefix

    def __iter__(self) -> Iterator["S3Object"]:
        if self._object is not None:
            yield self._object
        if self._folder is not None:
            yield from self._walk(self._folder)

    def _walk(self, prefix: str) -> Iterator["S3Object"]:
        parts = prefix.split("/")[:-1]
        levels = _levels(parts)
        flat = levels is not None and len(levels) >= self.filter.depth()
        folders = []
        for page in self._pages(Prefix=prefix, **({} if flat else {"Delimiter": "/"})):
            for item in page.get("Contents", ()):
                if self._wanted(item["Key"]):
                    yield S3Object(self.bucket, item["Key"], item["Size"], self.record_path)
            folders += [p["Prefix"] for p in page.get("CommonPrefixes", ())]
        for folder in folders:
            sub = folder.split("/")[:-1]
            if not _skipped(sub[-1]) and self.filter.allows(sub, complete=False):
                yield from self._walk(folder)

    def _wanted(self, key: str) -> bool:
        parts = key.split("/")
        name = parts[-1]
        return (not any(_skipped(p) for p in parts[:-1]) and not name.startswith(".")
                and name.lower().endswith(FOLDER_SUFFIXES) and self.filter.allows(parts, complete=True))

    def _list_once(self, prefix: str) -> list[dict]:
        return next(self._pages(Prefix=prefix, MaxKeys=1)).get("Contents", [])

    def _pages(self, **query: Any) -> Iterator[dict]:
        pages = self._client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, **query)
        try:
            yield from pages
        except (BotoCoreError, ClientError) as exc:
            raise _error(exc, f"{SCHEME}{self.bucket}/{query['Prefix']}", "listing objects") from None


def _skipped(name: str) -> bool:
    return name.startswith(".") or name in SKIPPED_FOLDERS


class S3Object:
    """One S3 object as a :class:`~trailwatch.replay.readers.RecordReader` source (picklable: it carries
    names, not a client, so it can run in another process or on a Dask worker)."""

    def __init__(self, bucket: str, key: str, size: int, record_path: RecordPath | None = None):
        self.bucket, self.key, self.size = bucket, key, size
        self.record_path = record_path
        self.where = f"{SCHEME}{bucket}/{key}"

    def open(self) -> "_Body":
        try:
            return _Body(client().get_object(Bucket=self.bucket, Key=self.key)["Body"])
        except ClientError as exc:  # this object only (deleted since listed, KMS key denied): not fatal
            error = exc.response.get("Error", {})
            raise OSError(errno.EIO, f"{error.get('Code', 'error')}: {_first_line(error.get('Message', ''))}") from None
        except BotoCoreError as exc:  # no credentials, endpoint unreachable: every object would fail
            raise _error(exc, self.where, "reading the object") from None

    def read(self, raw: "_Body", blocks: bool = False) -> Iterator[Any]:
        return read_stream(raw, self.where, blocks=blocks, record_path=self.record_path)

    def close(self, raw: "_Body") -> None:
        raw.close()

    def tell(self, raw: "_Body") -> int:
        return raw.served


class _Body:
    """An object's streaming body whose transport errors are OSErrors (the reader reports those as an
    unreadable rest of file) instead of botocore's own types."""

    def __init__(self, body: Any):
        self.body = body
        self.served = 0
        self.closed = False

    def read(self, size: int = -1) -> bytes:
        try:
            data = self.body.read(None if size is None or size < 0 else size)
        except (BotoCoreError, HTTPError) as exc:
            raise OSError(errno.EIO, f"S3 read failed: {exc}") from None
        self.served += len(data)
        return data

    def close(self) -> None:
        self.closed = True
        self.body.close()


_clients: dict[int, Any] = {}
_lock = threading.Lock()


def client() -> Any:
    """This process's S3 client (boto3 clients are thread-safe; one per process, created on first use)."""
    with _lock:
        found = _clients.get(os.getpid())
        if found is None:
            import boto3

            found = _clients[os.getpid()] = boto3.session.Session().client("s3")
        return found


def _error(exc: BotoCoreError | ClientError, where: str, action: str) -> ReplayError:
    """botocore's exception as one line."""
    if isinstance(exc, NoCredentialsError):
        return ReplayError(f"{where}: no AWS credentials found (configure them as for the AWS CLI: AWS_PROFILE, "
                           f"AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or an instance or task role)")
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code, message = error.get("Code", "error"), _first_line(error.get("Message", ""))
        if code == "NoSuchBucket":
            return ReplayError(f"{where}: no such bucket")
        if code in _DENIED:
            return ReplayError(f"{where}: access denied {action} ({code}: {message})")
        return ReplayError(f"{where}: {action} failed ({code}: {message})")
    if isinstance(exc, EndpointConnectionError):
        return ReplayError(f"{where}: cannot reach S3 ({exc})")
    return ReplayError(f"{where}: {action} failed ({_first_line(str(exc))})")


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""
