"""Replay's fast path for CloudTrail's S3 format: the records of one ``{"Records": [...]}`` document counted
column by column, with exactly the results of counting them one by one.

A document's records (a :class:`~.readers.RecordBatch`, about 2,000 in a CloudTrail object) are parsed at once;
what costs beyond the parse is the Python work per record: a minute key, a score of detections, four top-N
counters. Here that work is done per *column* (one member's values across the batch, read with C-level calls:
the members every record holds in one pass, with the records' own key objects so that lookups match by
identity) and, where Python must decide, per *distinct value*:

* Minutes: the records are counted per distinct ``eventTime`` (a file holds a few minutes, many records a
  second). Canonical times (``YYYY-MM-DDTHH:MM:SSZ``, checked at once) are cut to their minute, each distinct
  minute checked by :func:`~.recordkeys.event_minute`; other strings go through it one distinct time at a time.
  A batch with a time that is not a string in a usable minute takes the record-by-record keys instead
  (``@timestamp`` included).
* Detections: a JSON pattern's verdict depends on nothing but the values at its selectors
  (:attr:`~trailwatch.filterpattern.Pattern.fields`). Its candidates are the records where its first
  :attr:`~trailwatch.filterpattern.Pattern.required` value can hold (an allowed string present in that
  column, or a string or number), found at once for every detection keyed on one column, then filtered by its
  other required values; a pattern without one has every record. It is then evaluated once per distinct tuple
  of its selectors' values, on one record holding it, and the verdicts are kept across batches. Values that are
  not hashable (objects, arrays) or that equal a value of another type (``1``, ``True``; floats never group:
  ``0.0`` equals ``-0.0``) are not grouped: such records are evaluated one by one, as are all records for a text
  pattern (terms, regex, space-delimited: they read the serialized record, once per record for all of them
  through a :class:`~trailwatch.filterpattern.PatternSet`).
* Counts: a detection's matches are counted by minute, principal, source IP and event name with ``Counter`` over
  the columns and added in bulk (a few matches one by one); a detection that reads records (noise exceptions,
  per-principal sums) is given each match with its record, in order.

A record without a usable time goes to the :class:`~.tally.Tally`'s ``one``, which reports it as the
record-by-record path does; a batch holding an item that is not an object, or on one of whose records a detection
raises, goes record by record entirely, before anything of it is counted.
"""

from __future__ import annotations

import re
from collections import Counter
from itertools import chain, compress, islice, repeat
from operator import itemgetter
from typing import Any, Callable, Iterable, Mapping, Sequence

from ..filterpattern import MISSING, Pattern, PatternSet, parse_selector_text
from .readers import RecordBatch
from .recordkeys import event_minute, minute_of, principal_of, text_of
from .tally import Tally

CACHE_CAP = 1 << 16  # verdicts remembered per detection, across batches
FEW = 8  # matches of a detection in a batch counted one by one rather than with Counters
_SCANNED = 3  # at most this many strings are looked for by comparison rather than hashing
_CANONICAL = re.compile(r"[^\n]{16}:[0-5][0-9]Z(?:\n[^\n]{16}:[0-5][0-9]Z)*")  # times joined by newlines
_MINUTE = itemgetter(slice(16))
_GROUPABLE = frozenset((str, int, bool, type(None), type(MISSING)))  # equal values, equal verdicts (see above)
_NUMBER_OR_TEXT = frozenset((str, int, float))  # what a required value of None accepts
_NUMBERS = frozenset((int, float, bool))  # equal across these types: 1 == 1.0 == True
_TEXT = frozenset((str,))
_TIME, _NAME, _IP, _ARN = ("eventTime",), ("eventName",), ("sourceIPAddress",), ("userIdentity", "arn")
Requirement = tuple[tuple, Callable[[Any], Any], "frozenset[str] | None"]  # (path, getter, allowed)


class _Unevaluable(Exception):
    """An item is not an object, or a detection raised on a record: the batch goes record by record, which
    reports them."""


class _Detection:
    """One JSON pattern: the selectors it reads, the required values its candidates are narrowed by (the first
    looked up in its column, the others checked on each candidate), and its verdicts so far."""

    __slots__ = ("index", "matcher", "selectors", "key", "checks", "verdicts")

    def __init__(self, index: int, pattern: Pattern):
        self.index = index
        self.matcher = pattern.matcher
        self.selectors = tuple((s.path, s.getter()) for s in map(parse_selector_text, sorted(pattern.fields)))
        required = _requirements(pattern.required)
        self.key: Requirement | None = required[0] if required else None
        self.checks = required[1:]
        self.verdicts: dict[Any, bool] = {}


def _requirements(required: Mapping[str, frozenset[str] | None]) -> tuple[Requirement, ...]:
    """The required values to narrow by: sets of strings (shortest path first), then top-level members that must
    be a string or a number (a nested one would cost a column for little)."""
    found = []
    for text, allowed in required.items():
        selector = parse_selector_text(text)
        if allowed is not None or len(selector.path) == 1:
            found.append(((allowed is None, len(selector.path), text), (selector.path, selector.getter(), allowed)))
    return tuple(requirement for _, requirement in sorted(found, key=lambda f: f[0]))


def _meets(value: Any, allowed: frozenset[str] | None) -> bool:
    """A value can meet a required value (``Pattern.required``)."""
    if allowed is None:
        return type(value) in _NUMBER_OR_TEXT
    return type(value) is str and value in allowed


class _Columns:
    """The values at selector paths across a batch's records (MISSING where absent), each read at most once.

    Members are looked up with the records' own key objects (orjson makes one string per member name and shares
    it among records), so that each lookup matches by identity instead of comparing strings."""

    def __init__(self, recs: list[dict]):
        self.recs = recs
        self._values: dict[tuple, Sequence] = {}
        self._distinct: dict[tuple, Any] = {}
        self._names: dict[tuple, str] = {}

    def prefetch(self, paths: Iterable[tuple]) -> None:
        """Read the members of ``paths`` (names only) that every record holds, a level at a time, each in one
        C-level pass with the records' own key object (measured: faster than one pass reading them all as
        tuples, which then must be transposed). Others are left to :meth:`values`. Raises TypeError for a record
        that is not an object."""
        by_parent: dict[tuple, list[str]] = {}
        for path in paths:
            by_parent.setdefault(path[:-1], []).append(path[-1])
        for parent, names in sorted(by_parent.items(), key=lambda item: len(item[0])):
            holders = self.recs if not parent else self._values.get(parent)
            if holders is None or type(holders[0]) is not dict:
                continue
            for key in [next(key for key in holders[0] if key == name) for name in names if name in holders[0]]:
                try:
                    self._values[parent + (key,)] = list(map(dict.__getitem__, holders, repeat(key)))
                except KeyError:  # some record lacks it: values() reads it
                    pass
                except TypeError:
                    if parent:  # a value on the way that is not an object: values() reads it
                        break
                    raise

    def values(self, path: tuple, get: Callable[[Any], Any] | None = None,
               rows: Sequence[int] | None = None) -> Sequence:
        """What the selector's getter returns for each record, or for each of ``rows`` (from the column if it was
        read, else from those records only). ``get``, that getter, is needed for a path with indexes. Raises
        TypeError for a record that is not an object."""
        col = self._values.get(path)
        if col is not None:
            return col if rows is None else list(map(col.__getitem__, rows))
        recs = self.recs if rows is None else list(map(self.recs.__getitem__, rows))
        if any(type(step) is not str for step in path):
            assert get is not None
            col = list(map(get, recs))
        elif len(path) == 1:
            col = list(map(dict.get, recs, repeat(self._name(path, recs)), repeat(MISSING)))
        else:  # the getter's steps, a column at a time
            parents = self.values(path[:-1], None, rows)
            name = self._name(path, parents)
            try:
                col = list(map(dict.get, parents, repeat(name), repeat(MISSING)))
            except TypeError:  # a value on the way that is not an object
                col = [v.get(name, MISSING) if isinstance(v, dict) else MISSING for v in parents]
        if rows is None:
            self._values[path] = col
        return col

    def _name(self, path: tuple, holders: Sequence) -> str:
        """The last step of ``path`` as the key object of the first objects holding it (else as given)."""
        name = self._names.get(path)
        if name is None:
            name = path[-1]
            for holder in islice(holders, 16):
                if type(holder) is dict:
                    name = next((key for key in holder if key == name), name)
                    break
            self._names[path] = name
        return name

    def distinct(self, path: tuple, get: Callable[[Any], Any] | None = None) -> Any:
        """The column's distinct values (a Counter of them for the members top-N counters read), or None when one
        is not hashable. A column of one string throughout is found by comparing, without hashing every value."""
        if path not in self._distinct:
            col = self.values(path, get)
            try:
                if path in (_NAME, _IP):
                    found: Any = Counter(col)
                elif type(col[0]) is str and col.count(col[0]) == len(col):  # a string equals only that string
                    found = {col[0]}
                else:
                    found = set(col)
            except TypeError:
                found = None
            self._distinct[path] = found
        return self._distinct[path]

    def hashed(self, path: tuple) -> bool:
        """Whether the column's distinct values are known already."""
        return path in self._distinct

    def types(self, path: tuple, get: Callable[[Any], Any] | None = None) -> set:
        """The types of the column's values: read off its distinct values unless one is a number or a boolean,
        which may stand for equal values of other such types (``True`` for ``1``)."""
        distinct = self.distinct(path, get)
        if distinct is not None:
            found = set(map(type, distinct))
            if not found & _NUMBERS:
                return found
        return set(map(type, self.values(path, get)))

    def rows_of(self, path: tuple, wanted: set) -> dict[Any, list[int]]:
        """The rows holding each of the ``wanted`` values of a hashable column, in order (a column not hashed yet
        is one of strings: only a few of those are looked for by comparison)."""
        col = self.values(path)
        index: dict[Any, list[int]] = {}
        for i in _positions(col, wanted, not self.hashed(path) or self.types(path) <= _TEXT):
            index.setdefault(col[i], []).append(i)
        return index


def _positions(col: Sequence, values: set, strings: bool) -> list[int]:
    """The rows of ``col`` holding one of ``values``, in order. A few strings in a column of strings
    (``strings``) are found by comparison scans (``index``: no value is hashed, and unequal strings differ at
    once), anything else by one pass of set lookups."""
    if not strings or len(values) > _SCANNED or not all(type(v) is str for v in values):
        return list(compress(range(len(col)), map(values.__contains__, col)))
    found: list[int] = []
    for value in values:
        at = -1
        try:
            while True:
                at = col.index(value, at + 1)
                found.append(at)
        except ValueError:
            pass
    if len(values) > 1:
        found.sort()
    return found


class _Keys:
    """What the top-N counters and series count a batch's records by: minute, principal, source IP and event name,
    for some rows (each a list) or for every record (Counters, read from the columns where they are plain)."""

    def __init__(self, cols: _Columns, minute_at: Callable[[Sequence[int]], list], per_minute: Mapping[str, int]):
        self.cols = cols
        self.minute_at = minute_at
        self.per_minute = per_minute
        self._every: tuple | None = None

    def rows(self, found: Sequence[int]) -> tuple[list, list, list, list]:
        cols, recs = self.cols, self.cols.recs
        arns = cols.values(_ARN, None, found)
        principals = [arn if type(arn) is str and arn else principal_of(recs[i]) for i, arn in zip(found, arns)]
        return (self.minute_at(found), principals, list(map(_text, cols.values(_IP, None, found))),
                list(map(_text, cols.values(_NAME, None, found))))

    def every(self) -> tuple[Mapping[str, int], Counter, Counter, Counter]:
        """The Counters over every record (only when every record is usable)."""
        if self._every is None:
            cols = self.cols
            try:
                principals: Counter | None = Counter(cols.values(_ARN))
            except TypeError:  # an arn that is not hashable
                principals = None
            if principals is None or not set(map(type, principals)) <= _TEXT or "" in principals:
                principals = Counter(map(principal_of, cols.recs))
            self._every = (self.per_minute, principals, _texts(cols, _IP), _texts(cols, _NAME))
        return self._every


def _text(value: Any) -> str:
    """A top-N key of a member's value (:func:`~.recordkeys.text_of` of ``rec.get(member)``)."""
    return text_of(None if value is MISSING else value)


def _texts(cols: _Columns, path: tuple) -> Counter:
    counts = cols.distinct(path)
    if counts is not None and set(map(type, counts)) <= _TEXT:
        return counts
    return Counter(map(_text, cols.values(path)))


class DocumentScanner:
    """Adds :class:`~.readers.RecordBatch` items to a :class:`~.tally.Tally`. ``reading``: the indexes of the
    detections whose matches are counted from the record (:attr:`~.engine.Rule.reads_records`)."""

    def __init__(self, tally: Tally, patterns: Sequence[Pattern], reading: frozenset[int]):
        self.tally = tally
        self.reading = reading
        self.detections = [_Detection(i, p) for i, p in enumerate(patterns) if p.kind == "json"]
        texts = {str(i): p for i, p in enumerate(patterns) if p.kind != "json"}
        self.texts = PatternSet(texts) if texts else None
        self._minutes: dict[str, bool] = {}  # canonical 16-character prefix -> is a real minute
        # what is read from every record: the keys counted by, and the members detections are narrowed by
        keyed = [det.key[0] for det in self.detections if det.key is not None]
        self._members = list(dict.fromkeys([_TIME, _NAME, _IP, _ARN[:1], _ARN, *(
            path for path in keyed if all(type(step) is str for step in path))]))

    def scan(self, batch: RecordBatch, position: int, where: Callable[[int], str]) -> None:
        """Count the batch's records, the first being the ``position + 1``-th fed; ``where(k)`` names its k-th."""
        if batch.values:
            try:
                self._count(_Columns(batch.values), position, where)
                return
            except _Unevaluable:
                pass
        for k, item in enumerate(batch.items(), 1):
            self.tally.one(item, position + k, lambda k=k: where(k))

    def _count(self, cols: _Columns, position: int, where: Callable[[int], str]) -> None:
        recs = cols.recs
        try:  # the first columns read: every item is an object, or nothing is counted
            cols.prefetch(self._members)
            times = cols.values(_TIME)
        except TypeError as exc:
            raise _Unevaluable() from exc
        rows: Sequence[int] = range(len(recs))
        late: list[int] = []  # records without a usable time: the record-by-record path reports them
        per_minute = self._minutes_by_time(times)
        if per_minute is not None:
            def minute_at(found: Sequence[int]) -> list:
                return list(map(_MINUTE, map(times.__getitem__, found)))
        else:
            minutes = self._minute_keys(cols)
            late = [i for i, m in enumerate(minutes) if m is None]
            rows = [i for i, m in enumerate(minutes) if m is not None] if late else rows
            per_minute = Counter(map(minutes.__getitem__, rows))

            def minute_at(found: Sequence[int]) -> list:
                return list(map(minutes.__getitem__, found))
        matches = self._matches(cols, rows)
        tally = self.tally
        for i in late:
            tally.one(recs[i], position + i + 1, lambda k=i + 1: where(k))
        tally.add_events(per_minute)
        keys = _Keys(cols, minute_at, per_minute)
        for hit in sorted(matches):
            found = matches[hit]
            if hit in self.reading or len(found) <= FEW:
                for i, minute, principal, ip, name in zip(found, *keys.rows(found)):
                    tally.count((hit,), minute, principal, ip, name, recs[i])
            elif len(found) == len(recs):
                tally.add_matches(hit, *keys.every())
            else:
                tally.add_matches(hit, *map(Counter, keys.rows(found)))

    def _minutes_by_time(self, times: Sequence) -> Counter | None:
        """The records per minute when every time is canonical (``YYYY-MM-DDTHH:MM:SSZ``: checked at once on the
        times joined by newlines, 20 characters each, seconds 00 to 59, a ``Z``) and its minute, the first 16
        characters, is one :func:`~.recordkeys.event_minute` accepts (checked once per distinct minute); else
        None, and the record-by-record keys are used."""
        try:
            joined = "\n".join(times)
        except TypeError:  # a time that is not a string
            return None
        if len(joined) != 21 * len(times) - 1 or not _CANONICAL.fullmatch(joined):
            return None
        per_minute = Counter(map(_MINUTE, times))
        known = self._minutes
        if not all(event_minute(m + ":00Z", known) == m for m in per_minute):
            return None
        return per_minute

    def _minute_keys(self, cols: _Columns) -> list[str | None]:
        """Each record's minute key, as the record-by-record path gives it (None: no usable time)."""
        known = self._minutes
        return [event_minute(t, known) if t is not MISSING and t is not None else minute_of(r.get("@timestamp"))
                for r, t in zip(cols.recs, cols.values(_TIME))]

    def _matches(self, cols: _Columns, rows: Sequence[int]) -> dict[int, Sequence[int]]:
        """The rows each detection matches (detections matching none left out)."""
        found: dict[int, Sequence[int]] = {}
        for det, candidates in self._candidates(cols, rows):
            hits = self._evaluate(det, cols, candidates, candidates is rows)
            if hits:
                found[det.index] = hits
        if self.texts is not None:
            recs, matching = cols.recs, self.texts.matching
            for i in rows:
                try:
                    names = matching(recs[i])
                except Exception as exc:
                    raise _Unevaluable() from exc
                for name in names:
                    found.setdefault(int(name), []).append(i)  # type: ignore[union-attr]
        return found

    def _candidates(self, cols: _Columns, rows: Sequence[int]) -> Iterable[tuple[_Detection, Sequence[int]]]:
        """Each detection with the rows where its required values can hold (``rows`` itself when that is all of
        them); detections with none left out. The rows of the values wanted in one column are found at once."""
        keyed: list[tuple[_Detection, Any]] = []
        wanted: dict[tuple, set] = {}
        for det in self.detections:
            if det.key is None:
                keyed.append((det, None))
                continue
            path, get, allowed = det.key
            if allowed is not None and len(allowed) <= _SCANNED and not cols.hashed(path) and path not in (_NAME, _IP):
                col = cols.values(path, get)
                present: Any = {v for v in allowed if v in col}  # a few strings: compared, not hashed
            else:
                distinct = cols.distinct(path, get)
                if distinct is None:  # not hashable: checked on every row
                    keyed.append((det, [i for i in rows if _meets(cols.values(path, get)[i], allowed)]))
                    continue
                types = cols.types(path, get)
                if allowed is not None:
                    present = allowed.intersection(distinct)  # strings: never equal to another type's value
                elif types <= _NUMBER_OR_TEXT:
                    keyed.append((det, None))
                    continue
                elif types & _NUMBERS:  # a value may stand for an equal one of another type: checked on every row
                    keyed.append((det, [i for i in rows if _meets(cols.values(path, get)[i], allowed)]))
                    continue
                else:
                    present = {v for v in distinct if type(v) is str}
            if present:
                wanted.setdefault(path, set()).update(present)
                keyed.append((det, present))
        index = {path: cols.rows_of(path, values) for path, values in wanted.items()}
        within = None if type(rows) is range else set(rows)
        for det, how in keyed:
            if how is None:
                yield det, rows
                continue
            if type(how) is not list:
                lists = [index[det.key[0]][v] for v in how if v in index[det.key[0]]]  # type: ignore[index]
                how = lists[0] if len(lists) == 1 else sorted(chain.from_iterable(lists))
                if within is not None:
                    how = [i for i in how if i in within]
            for path, get, allowed in det.checks:
                how = [i for i, v in zip(how, cols.values(path, get, how)) if _meets(v, allowed)]
            if how:
                yield det, how

    def _evaluate(self, det: _Detection, cols: _Columns, rows: Sequence[int], whole: bool) -> Sequence[int]:
        """The rows of ``rows`` the detection matches, grouped by the values at its selectors where they can be
        (``whole``: ``rows`` are every usable record, whose columns are read already or worth reading)."""
        recs, matcher = cols.recs, det.matcher
        single = len(det.selectors) == 1
        if whole:
            values = [cols.values(path, get) for path, get in det.selectors]
            distinct = cols.distinct(*det.selectors[0]) if single else None
            types = [cols.types(path, get) for path, get in det.selectors]
            if len(rows) != len(recs):  # some records are late: their values are left out
                values = [list(map(col.__getitem__, rows)) for col in values]
        else:
            values = [cols.values(path, get, rows) for path, get in det.selectors]
            distinct = None
            types = [set(map(type, col)) for col in values]
        try:
            if not all(t <= _GROUPABLE and not (bool in t and int in t) for t in types):
                return [i for i in rows if matcher(recs[i])]
            keys = values[0] if single else list(zip(*values))
            if distinct is None or len(rows) != len(recs):
                distinct = set(keys)
            verdicts = det.verdicts
            new = (distinct if type(distinct) is set else set(distinct)).difference(verdicts)
            if new:
                if len(verdicts) + len(new) > CACHE_CAP:
                    verdicts.clear()
                    new = set(distinct)
                holder = dict(zip(keys, rows))
                for key in new:
                    verdicts[key] = bool(matcher(recs[holder[key]]))
        except Exception as exc:  # the engine's matchers never raise on parsed JSON; if one does, say where
            raise _Unevaluable() from exc
        seen = list(distinct)
        true = set(compress(seen, map(verdicts.__getitem__, seen)))
        if len(true) == len(seen):
            return rows
        if not true:
            return []
        strings = single and types[0] <= _TEXT
        if len(rows) == len(recs):
            return _positions(keys, true, strings)
        return [rows[i] for i in _positions(keys, true, strings)]
