"""The inputs of a replay, in the order given: local files (folders walked) and S3 objects (listed lazily)."""

from __future__ import annotations

import os
from typing import Any, Iterable, Iterator

from .readers import FileSource, RecordPath, ReplayError, walk

S3_SCHEME = "s3://"


def is_s3(path: str | os.PathLike) -> bool:
    return str(path).startswith(S3_SCHEME)


class Sources:
    """Sources for :class:`~trailwatch.replay.readers.RecordReader` (and work units for a parallel run).
    Local paths are walked and S3 buckets checked up front, so a missing path or bucket fails before any work;
    ``count`` is how many files and objects were handed out; ``total_bytes`` is 0 when an S3 listing makes the
    size unknown in advance. ``key_filter`` (:class:`~trailwatch.replay.s3.KeyFilter`) selects S3 keys;
    ``record_path`` is where the record sits in each object of every source (None: the objects are records)."""

    def __init__(self, paths: Iterable[str | os.PathLike], key_filter: Any = None,
                 record_path: RecordPath | None = None):
        paths = list(paths)
        if key_filter and not any(is_s3(p) for p in paths):
            raise ReplayError("--account, --region, --since and --until select keys of an S3 trail layout: "
                              "they need an s3:// input")
        self.stdin = any(str(p) == "-" for p in paths)
        self._parts: list[Iterable[Any]] = []
        for path in paths:
            if is_s3(path):
                from .s3 import S3Listing  # boto3 is imported only for S3 input

                self._parts.append(S3Listing(str(path), key_filter, record_path))
            else:
                self._parts.append([FileSource(p, record_path) for p in walk([path])])
        self.total_bytes = 0 if any(is_s3(p) for p in paths) else sum(s.size for part in self._parts for s in part)
        self.count = 0

    def __iter__(self) -> Iterator[Any]:
        for part in self._parts:
            for source in part:
                self.count += 1
                yield source
