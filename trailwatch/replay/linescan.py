"""Replay's prefilter for JSON lines: count most records from their bytes, parse only the candidates.

The newlines of a :class:`~.readers.LineBlock` are located (``bytes.find``), then one regular expression
is matched on each line's span (a C-level loop, no Python call per line). It recognises the start of
CloudTrail's own layout (compact, as CloudTrail, ``jq -c`` and most exporters write it, or with the
``", "`` / ``": "`` separators of Python's ``json.dumps``)::

    {"eventVersion":"…","userIdentity":{…},"eventTime":"YYYY-MM-DDTHH:MM:SSZ","eventSource":"…",
     "eventName":"…","awsRegion":"…","sourceIPAddress":"…"[,"userAgent":"…","errorCode":"…"], … }

and captures, per line, the *head* (everything before ``eventTime``), the minute of ``eventTime`` (its
seconds must be 00 to 59), ``eventName``, ``sourceIPAddress`` and, where CloudTrail writes it (right
after ``userAgent``), ``errorCode``. Such a line, if it ends in ``}``, is *regular*; every other
line (another layout, other spacing, a blank or broken line) goes through the record-by-record path of
the reader and the aggregator, unchanged.

Why the captures are exact: the head with a closing brace added is parsed (once per distinct head) and
must be a JSON object, so the ``,"eventTime":`` after it is a member of the top-level object, and so are
the members after it, whose values hold no quote; those values are decoded as JSON strings (once per
distinct value). This holds for any line that is JSON and whose objects have distinct member names (RFC
8259 leaves duplicates undefined; a parser keeps the last one, these captures the first). Escapes
(``\\u0043onsoleLogin``) inside the head and the captured values are decoded like any parser would.

Detections, per distinct value of what each reads among those fields (the head's members, eventTime,
eventName, sourceIPAddress; eventSource and awsRegion are not captured), are either *decided* (the
pattern reads nothing else: evaluated once on those values), *ruled out* (one of its
:attr:`~trailwatch.filterpattern.Pattern.required` values is present and wrong), or leave the line a
*candidate*. A candidate whose errorCode was captured is decided from the captured members when its
detections read nothing else (``{ $.errorCode = "AccessDenied" }``); any other is parsed (the members
after its head; the head is parsed already) and evaluated as the reference does. When a detection leaves many
lines of a block candidates (``{ $.errorCode = "AccessDenied" }`` reads a member found only further on),
the candidates are narrowed to the lines holding one of the member names the pattern needs
(:func:`~trailwatch.filterpattern.necessary_keys`, e.g. ``"errorCode"``) or a backslash, since
an escape can spell a name differently. Text patterns (terms, regex, space-delimited) leave every
line a candidate.

What is left unchecked, so what "malformed" means for a regular line that is not parsed: its first
members must be as above and it must end with ``}``, and the whole block must be UTF-8; the rest of the
line is not validated, so a regular line that is broken after its ``sourceIPAddress`` (e.g. a missing
comma in ``requestParameters``) counts as a record where a full parse would count it malformed. A
candidate line that does not parse is handed to the record-by-record path, which reports it.

A detection that :attr:`~.engine.Rule.reads_records` (it has noise exceptions, which may read any member)
is never counted from a line's bytes: the lines decided to match it, and every regular line when it matches
them all, become candidates, parsed and counted as the reference counts them. Its other lines are ruled out
as before (an exception only ever removes matches).
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections import Counter
from itertools import compress, count, repeat
from operator import itemgetter
from typing import Any, Callable, Sequence

from ..filterpattern import Pattern, necessary_keys, parse_selector_text
from .readers import LineBlock, line_items, loads
from .recordkeys import event_minute, principal_of, text_of
from .tally import Tally

# captured columns of a regular line, by index in the regular expression's groups; ERROR (errorCode with
# its quotes) is captured only where CloudTrail writes it, after userAgent, and is empty otherwise
HEAD, MINUTE, NAME, IP, ERROR = 0, 1, 2, 3, 4
FIELDS = {"eventName": NAME, "sourceIPAddress": IP}  # captured members a detection can read
# members whose names are in every regular line: no use looking for them in its bytes
POSITIONAL = frozenset(("eventVersion", "userIdentity", "eventTime", "eventSource", "eventName", "awsRegion",
                        "sourceIPAddress"))
NO, MATCH, CANDIDATE = 0, 1, 2
LITERAL_MIN = 64  # candidates of a detection in a block past which searching its member names pays off
CACHE_CAP = 1 << 16  # distinct values remembered across blocks, per cache


def line_regex(comma: str, colon: str) -> re.Pattern[bytes]:
    """Matches, from the newline before a line and up to the next one (the line's span, so nothing runs
    past its end), the start of a regular line (groups: head, minute, eventName, sourceIPAddress and, when
    it follows ``userAgent``, errorCode) or nothing (all groups empty) at any other line.

    The rest of the line is not read here (the scanner checks its last byte instead), and only
    single-character negations (``[^"]*+``, ``[^}]*+``) run over long spans: the engine's fastest loops."""
    c, k = re.escape(comma.encode()), re.escape(colon.encode())

    def member(name: str, value: bytes) -> bytes:
        return c + b'"' + name.encode() + b'"' + k + b'"' + value + b'"'

    head = rb'(\{"eventVersion"' + k + rb'"[^"]*+"' + c + rb'"userIdentity"' + k + rb'\{(?:[^}]*+\}){1,16}?)'
    regular = (head + member("eventTime", rb'(\d\d\d\d-\d\d-\d\dT\d\d:\d\d):[0-5]\dZ')
               + member("eventSource", rb'[^"\n]*+') + member("eventName", rb'([^"]*+)')
               + member("awsRegion", rb'[^"\n]*+') + member("sourceIPAddress", rb'([^"]*+)')
               + rb'(?:' + member("userAgent", rb'[^"]*+') + c + rb'"errorCode"' + k + rb'("[^"\n]*+"))?'
               + rb'(?=[,}])')
    return re.compile(rb'\n(?:' + regular + rb'|)')


COMPACT = line_regex(",", ":")
SPACED = line_regex(", ", ": ")
SPACED_START = b'\n{"eventVersion": "'
_RAISED = object()  # a cached evaluation that raised
_NONE = (b"",) * (ERROR + 1)  # the row of a line that is not regular
_NOT_BRACE = re.compile(rb'[^}]')
_groups = re.Match.groups


def recognise(data: bytearray, end: int) -> list[tuple]:
    """The rows of a block's lines (see :meth:`_Lines.match`): the recognition every block goes
    through, on its own (the benchmark times it)."""
    return _Lines(data, end).match(_regex_for(data))


def _regex_for(data: bytearray) -> re.Pattern[bytes]:
    return SPACED if data.startswith(SPACED_START) else COMPACT


class _Head:
    """A distinct head: its text, its members (parsed) and the principal they name."""

    __slots__ = ("raw", "record", "principal")

    def __init__(self, raw: bytes, record: dict):
        self.raw = raw
        self.record = record
        self.principal = principal_of(record)


class _Values:
    """Verdicts on the distinct raw values of one column, kept across blocks as sets, so that a block's
    values are sorted with set operations (a few C calls) rather than one Python call each."""

    def __init__(self, judge: Callable[[bytes], Any]):
        self.judge = judge  # raw value -> verdict; may raise
        self.seen: set[bytes] = set()
        self.by: dict[Any, set[bytes]] = {}
        self.raised: set[bytes] = set()

    def sort(self, keys: Any) -> None:
        """Judge the values among ``keys`` (a dict's keys) not seen before."""
        if len(self.seen) > CACHE_CAP:
            self.seen, self.by, self.raised = set(), {}, set()
        new = keys - self.seen
        for raw in new:
            try:
                verdict = self.judge(raw)
            except Exception:  # the reference reports such a record; so will the record-by-record path
                self.raised.add(raw)
            else:
                self.by.setdefault(verdict, set()).add(raw)
        self.seen |= new

    def having(self, keys: Any, verdict: Any) -> set[bytes]:
        return keys & self.by.get(verdict, set())


class _Detection:
    """What the scanner needs of one compiled pattern, and its caches of verdicts on distinct values."""

    def __init__(self, index: int, pattern: Any):
        self.index = index
        self.kind = pattern.kind
        self.matcher = pattern.matcher
        self.cols: tuple[int, ...] = ()  # the columns its verdict depends on
        self.others: frozenset[str] = frozenset()  # members it reads that are not captured
        self.checks: dict[int, list[tuple[str, Callable[[Any], Any], Any]]] = {}  # required values, by column
        self.needles: tuple[bytes, ...] | None = None
        self.passes: dict[int, _Values] = {}  # column -> do its required values read there hold
        self.statuses: _Values | None = None  # one column: NO, MATCH or CANDIDATE per value
        self.tuples: dict[tuple, Any] = {}  # several columns: the same per tuple of values
        if self.kind != "json":
            return
        keys = {parse_selector_text(text).path[0] for text in pattern.fields}
        self.others = frozenset(keys - set(FIELDS))
        self.cols = tuple(sorted({FIELDS[k] for k in keys if k in FIELDS} | ({HEAD} if self.others else set())))
        for text, allowed in pattern.required.items():
            selector = parse_selector_text(text)
            first = selector.path[0]
            self.checks.setdefault(FIELDS.get(first, HEAD), []).append((first, selector.getter(), allowed))
        names = necessary_keys(pattern.tree, POSITIONAL)
        if names is not None:
            self.needles = tuple(sorted(b'"' + name.encode() + b'"' for name in names))


class _Plan:
    """What one block adds, worked out before anything is added (a candidate that fails to parse
    sends its line to the record-by-record path, so the plan is redone without it)."""

    __slots__ = ("counts", "marginal", "matched", "parsed")

    def __init__(self, counts: tuple[Counter, ...], marginal: list[int], matched: dict[int, list[int]],
                 parsed: list[tuple[int, dict, list[int]]]):
        self.counts = counts  # per captured column: Counter of its raw values over the regular lines
        self.marginal = marginal  # detections that match every regular line of the block
        self.matched = matched  # row -> other detections decided to match it
        self.parsed = parsed  # candidate lines: (row, record, detections that match it)


class _Retry(Exception):
    """Lines of the block that must go record by record before the block is planned again."""

    def __init__(self, rows: set[int]):
        super().__init__()
        self.rows = rows


class LineScanner:
    """Adds :class:`~.readers.LineBlock` items to a :class:`Tally`. ``reading``: the indexes of the
    detections whose matches are counted from the parsed record (:attr:`~.engine.Rule.reads_records`)."""

    def __init__(self, tally: Tally, patterns: Sequence[Pattern], reading: frozenset[int]):
        self.tally = tally
        self.detections = [_Detection(i, p) for i, p in enumerate(patterns)]
        self.reading = reading
        for det in self.detections:
            for col, checks in det.checks.items():
                if col in det.cols:
                    det.passes[col] = _Values(self._judge_checks(col, checks))
            if len(det.cols) == 1:
                det.statuses = _Values(self._judge_status(det))
        self._heads: dict[bytes, _Head | None] = {}
        self._minutes: dict[bytes, str | None] = {}
        self._valid_minutes: dict[str, bool] = {}  # canonical 16-char prefix -> is a valid minute
        self._strings: dict[bytes, str | None] = {}
        self._errors: dict[bytes, str | None] = {}  # captured errorCode (quoted) -> its value, None if not JSON
        self._verdicts: dict[tuple, int] = {}  # (detection, errorCode, its columns) -> MATCH, NO or CANDIDATE
        strings_bad: set[bytes] = set()
        self._caches = ((HEAD, self._heads, set(), _head), (MINUTE, self._minutes, set(), self._minute),
                        (NAME, self._strings, strings_bad, _string), (IP, self._strings, strings_bad, _string))

    # -- one block ---------------------------------------------------------------------------------

    def scan(self, block: LineBlock, position: int, where: Callable[[int], str]) -> None:
        """Add the block's records to the tally; sets ``block.lines`` and ``block.records``."""
        data, end = block.data, block.end
        lines = _Lines(data, end)
        if data.isascii() or _utf8(data, end):
            rows = lines.match(_regex_for(data))
        else:  # not UTF-8 somewhere: every line goes the record-by-record way, which says where
            rows = [_NONE] * len(lines.starts)
        irregular = _irregular(rows)
        while True:
            try:
                plan = self._plan(rows, irregular, lines)
                break
            except _Retry as retry:
                irregular |= retry.rows
        self._apply(plan, rows)
        block.lines = len(rows)
        block.records = len(rows) - len(irregular) + self._exact(block, rows, sorted(irregular), lines, position,
                                                                 where)

    def _plan(self, rows: list[tuple], irregular: set[int], lines: "_Lines") -> _Plan:
        n = len(rows)
        columns = list(zip(*rows)) if rows else [()] * (ERROR + 1)
        if irregular:
            mask = [i not in irregular for i in range(n)]
            counts = tuple(Counter(compress(col, mask)) for col in columns[:ERROR])
        else:
            counts = tuple(Counter(col) for col in columns[:ERROR])
        self._decode(rows, irregular, counts)
        marginal: list[int] = []
        scans: dict[int, dict[bytes, list[tuple[_Detection, bool]]]] = {}
        pending: list[tuple[_Detection, int, set[bytes]]] = []  # every line with one of these values is a candidate
        for det in self.detections:
            self._route(det, counts, marginal, scans, pending, rows, irregular)
        matched: dict[int, list[int]] = {}
        candidates: dict[int, list[int]] = {}
        for col, table in scans.items():
            self._scan_column(col, table, columns[col], rows, irregular, matched, candidates)
        self._narrow(candidates, lines)
        for det, col, values in pending:
            column = columns[col]
            for row in lines.holding(det.needles):
                if row not in irregular and column[row] in values:
                    candidates.setdefault(row, []).append(det.index)
        if self.reading:
            self._to_parse(marginal, matched, candidates, len(rows), irregular)
        parsed: list[tuple[int, dict, list[int]]] = []
        failed = set()
        for row, dets in candidates.items():
            hits = self._captured(rows[row], dets) if rows[row][ERROR] else None
            if hits is not None and not self.reading.intersection(hits):
                if hits:
                    matched.setdefault(row, []).extend(hits)
                continue
            rec = lines.record(row, self._heads[rows[row][HEAD]])  # type: ignore[arg-type]
            hits = None if rec is None else self._evaluate(rec, dets)
            if hits is None:
                failed.add(row)
            elif hits:
                parsed.append((row, rec, hits))  # type: ignore[arg-type]
        if failed:
            raise _Retry(failed)
        return _Plan(counts, marginal, matched, parsed)

    def _to_parse(self, marginal: list[int], matched: dict[int, list[int]], candidates: dict[int, list[int]],
                  n: int, irregular: set[int]) -> None:
        """Turn the lines decided to match a detection that reads records into candidates of it."""
        for i in [i for i in marginal if i in self.reading]:
            marginal.remove(i)
            for row in range(n):
                if row not in irregular:
                    candidates.setdefault(row, []).append(i)
        for row, dets in list(matched.items()):
            if self.reading.isdisjoint(dets):
                continue
            candidates.setdefault(row, []).extend(i for i in dets if i in self.reading)
            kept = [i for i in dets if i not in self.reading]
            if kept:
                matched[row] = kept
            else:
                del matched[row]

    def _narrow(self, candidates: dict[int, list[int]], lines: "_Lines") -> None:
        """Keep, of a detection with many candidate lines, only those holding a member name it needs."""
        per_det: dict[int, int] = {}
        for dets in candidates.values():
            for i in dets:
                per_det[i] = per_det.get(i, 0) + 1
        for i, n in per_det.items():
            needles = self.detections[i].needles
            if n > LITERAL_MIN and needles is not None:
                keep = lines.holding(needles)
                for row, dets in list(candidates.items()):
                    if i in dets and row not in keep:
                        dets.remove(i)
                        if not dets:
                            del candidates[row]

    def _route(self, det: _Detection, counts: tuple[Counter, ...], marginal: list[int],
               scans: dict[int, dict[bytes, list[tuple[_Detection, bool]]]], pending: list, rows: list[tuple],
               irregular: set[int]) -> None:
        """Decide how the block's lines reach ``det``: all at once (marginal), through a scan of one
        column for the values that let it through, or through a search of the member names it needs."""
        if det.kind == "all":
            marginal.append(det.index)
            return
        if det.kind != "json":  # text patterns see the serialized record: every line is a candidate
            table = scans.setdefault(HEAD, {})
            for v in counts[HEAD]:
                table.setdefault(v, []).append((det, False))
            return
        filters = []
        for col, values in det.passes.items():
            keys = counts[col].keys()
            self._sorted(values, keys, col, rows, irregular)
            failing = values.having(keys, False)
            if len(failing) == len(keys):
                return
            if failing:
                passing = keys - failing
                filters.append((sum(counts[col][v] for v in passing), col, passing))
        if filters or len(det.cols) > 1:
            _, col, passing = min(filters) if filters else (0, det.cols[0], set(counts[det.cols[0]]))
            table = scans.setdefault(col, {})
            for v in passing:
                table.setdefault(v, []).append((det, True))
            return
        (col,) = det.cols
        keys = counts[col].keys()
        statuses = det.statuses
        self._sorted(statuses, keys, col, rows, irregular)  # type: ignore[arg-type]
        matches = statuses.having(keys, MATCH)  # type: ignore[union-attr]
        if len(matches) == len(keys):
            marginal.append(det.index)
            return
        cands = statuses.having(keys, CANDIDATE)  # type: ignore[union-attr]
        if det.needles is not None and sum(counts[col][v] for v in cands) > LITERAL_MIN:
            pending.append((det, col, cands))
            cands = set()
        if matches or cands:
            table = scans.setdefault(col, {})
            for v in matches:
                table.setdefault(v, []).append((det, False))
            for v in cands:
                table.setdefault(v, []).append((det, False))

    @staticmethod
    def _sorted(values: _Values, keys: Any, col: int, rows: list[tuple], irregular: set[int]) -> None:
        values.sort(keys)
        raised = keys & values.raised
        if raised:
            raise _Retry({i for i, row in enumerate(rows) if i not in irregular and row[col] in raised})

    def _scan_column(self, col: int, table: dict[bytes, list[tuple[_Detection, bool]]], column: tuple,
                     rows: list[tuple], irregular: set[int], matched: dict[int, list[int]],
                     candidates: dict[int, list[int]]) -> None:
        """One pass over a column: the lines whose value lets a detection through."""
        for row in compress(count(), map(table.__contains__, column)):
            if row in irregular:
                continue
            v = column[row]
            for det, per_row in table[v]:
                if per_row:
                    status = self._row_status(det, rows, row, col, irregular)
                elif det.statuses is not None and v in det.statuses.by.get(MATCH, ()):
                    status = MATCH
                else:
                    status = CANDIDATE
                if status == MATCH:
                    matched.setdefault(row, []).append(det.index)
                elif status == CANDIDATE:
                    candidates.setdefault(row, []).append(det.index)

    def _row_status(self, det: _Detection, rows: list[tuple], index: int, scanned: int, irregular: set[int]) -> int:
        """A detection depending on several columns (or filtered on one), on one line that passed the
        scanned column."""
        row = rows[index]
        for col, values in det.passes.items():
            if col != scanned and row[col] in values.by.get(False, ()):
                return NO
        key = tuple(row[c] for c in det.cols)
        status = det.tuples.get(key)
        if status is None:
            if len(det.tuples) > CACHE_CAP:
                det.tuples.clear()
            try:
                status = _status_of(det, self._members(dict(zip(det.cols, key))))
            except Exception:  # the reference reports such a record; so will the record-by-record path
                status = _RAISED
            det.tuples[key] = status
        if status is _RAISED:
            raise _Retry({i for i, r in enumerate(rows) if i not in irregular and tuple(r[c] for c in det.cols) == key})
        return status

    def _judge_checks(self, col: int, checks: list) -> Callable[[bytes], bool]:
        def judge(raw: bytes) -> bool:
            rec = self._members({col: raw})
            return all(_holds(rec, check) for check in checks)

        return judge

    def _judge_status(self, det: _Detection) -> Callable[[bytes], int]:
        (col,) = det.cols

        def judge(raw: bytes) -> int:
            return _status_of(det, self._members({col: raw}))

        return judge

    def _members(self, raws: dict[int, bytes]) -> dict[str, Any]:
        """The record a detection sees of a line, from the raw values of some columns."""
        rec: dict[str, Any] = {}
        if HEAD in raws:
            rec.update(self._heads[raws[HEAD]].record)  # type: ignore[union-attr]
        for name, col in FIELDS.items():
            if col in raws:
                rec[name] = self._strings[raws[col]]
        return rec

    def _captured(self, row: tuple, dets: list[int]) -> list[int] | None:
        """The detections among ``dets`` matching a candidate line whose errorCode was captured, decided
        from its captured members (:func:`_status_of`, once per distinct value of what each detection
        reads); None when one needs more of the line, or a value does not decode (the line is then
        parsed)."""
        error = self._errors.get(row[ERROR], _RAISED)
        if error is _RAISED:
            if len(self._errors) > CACHE_CAP:
                self._errors.clear()
            error = self._errors[row[ERROR]] = _string(row[ERROR][1:-1])
        if error is None:
            return None
        verdicts = self._verdicts
        if len(verdicts) > CACHE_CAP:
            verdicts.clear()
        hits = []
        for i in sorted(set(dets)):
            det = self.detections[i]
            key = (i, row[ERROR]) + tuple(row[c] for c in det.cols)
            status = verdicts.get(key)
            if status is None:
                if det.kind != "json":  # text patterns read the whole line
                    status = CANDIDATE
                else:
                    try:
                        status = _status_of(det, {**self._members({HEAD: row[HEAD], NAME: row[NAME], IP: row[IP]}),
                                                  "errorCode": error})
                    except Exception:  # the parse path reports such a record
                        status = CANDIDATE
                verdicts[key] = status
            if status == CANDIDATE:
                return None
            if status == MATCH:
                hits.append(i)
        return hits

    def _evaluate(self, rec: dict, dets: list[int]) -> list[int] | None:
        """The detections among ``dets`` matching a parsed candidate; None if one could not be
        evaluated (the record-by-record path then reports the record)."""
        try:
            return [i for i in sorted(set(dets)) if self.detections[i].matcher(rec)]
        except Exception:
            return None

    def _apply(self, plan: _Plan, rows: list[tuple]) -> None:
        tally = self.tally
        heads, minutes_of, strings = self._heads, self._minutes, self._strings
        ch, cm, cn, ci = plan.counts
        minutes: dict[str, int] = {}
        for raw, c in cm.items():
            minute = minutes_of[raw]
            minutes[minute] = minutes.get(minute, 0) + c  # type: ignore[index]
        tally.add_events(minutes)
        if plan.marginal:
            principals: dict[str, int] = {}
            for raw, c in ch.items():
                p = heads[raw].principal  # type: ignore[union-attr]
                principals[p] = principals.get(p, 0) + c
            counts = (minutes, principals, _decoded(ci, strings), _decoded(cn, strings))
            for i in plan.marginal:
                tally.add_matches(i, *counts)
        for row, dets in plan.matched.items():
            r = rows[row]
            tally.count(dets, minutes_of[r[MINUTE]], heads[r[HEAD]].principal,  # type: ignore[arg-type, union-attr]
                        strings[r[IP]], strings[r[NAME]])  # type: ignore[arg-type]
        for row, rec, hits in plan.parsed:
            tally.count(hits, minutes_of[rows[row][MINUTE]], principal_of(rec),  # type: ignore[arg-type]
                        text_of(rec.get("sourceIPAddress")), text_of(rec.get("eventName")), rec)

    def _exact(self, block: LineBlock, rows: list[tuple], irregular: list[int], lines: "_Lines", position: int,
               where: Callable[[int], str]) -> int:
        """The irregular lines, record by record, numbered as a record-by-record reader numbers them;
        returns how many items they held."""
        items = 0
        for done, row in enumerate(irregular):
            text = lines.text(row)
            for item in line_items(text, f"{block.where}:{block.first_line + row}"):
                items += 1
                k = row - done + items
                self.tally.one(item, position + k, lambda k=k: where(k))
        return items

    def _minute(self, raw: bytes) -> str | None:
        return event_minute(raw.decode("ascii") + ":00Z", self._valid_minutes)

    def _decode(self, rows: list[tuple], irregular: set[int], counts: tuple[Counter, ...]) -> None:
        """Parse the block's distinct heads, minutes and strings (cached); a line holding one that is not
        what a regular line needs goes record by record."""
        for _, cache, invalid, _ in self._caches:  # trimmed before any is filled: names and IPs share one
            if len(cache) > CACHE_CAP:
                cache.clear()
                invalid.clear()
        for col, cache, invalid, decode in self._caches:
            keys = counts[col].keys()
            for raw in keys - cache.keys():
                value = cache[raw] = decode(raw)
                if value is None:
                    invalid.add(raw)
            bad = keys & invalid
            if bad:
                raise _Retry({i for i, row in enumerate(rows) if i not in irregular and row[col] in bad})


class _Lines:
    """Where the lines of a block are, found only if needed (a candidate, a member-name search)."""

    def __init__(self, data: bytearray, end: int):
        self.data = data
        self.end = end
        self._starts: list[int] | None = None
        self._holding: dict[tuple[bytes, ...], set[int]] = {}

    @property
    def starts(self) -> list[int]:
        """The position of the newline before each line (found once, when first needed)."""
        if self._starts is None:
            starts = [0]
            append, find, end = starts.append, self.data.find, self.end
            i = find(b"\n", 1, end)
            while i >= 0:
                append(i)
                i = find(b"\n", i + 1, end)
            self._starts = starts
        return self._starts

    def match(self, regex: re.Pattern[bytes]) -> list[tuple]:
        """One row per line: ``regex`` matched on the line's span (one C-level pass: no Python call per
        line), its captures kept only if the line ends in ``}`` (blanks after it allowed)."""
        data, starts = self.data, self.starts
        ends = starts[1:]
        ends.append(self.end)
        rows = list(map(_groups, map(regex.match, repeat(data), starts, ends), repeat(b"")))
        last = bytes(map(data.__getitem__, map((-1).__add__, ends)))
        for odd in _NOT_BRACE.finditer(last):
            row = odd.start()
            if rows[row][HEAD] and not bytes(data[starts[row] + 1:ends[row]]).rstrip(b" \t\r").endswith(b"}"):
                rows[row] = _NONE
        return rows

    def text(self, row: int) -> bytes:
        return bytes(self._view(row))

    def _view(self, row: int) -> memoryview:
        """The line without a copy (dropped before the reader reuses its buffer)."""
        starts = self.starts
        return memoryview(self.data)[starts[row] + 1:starts[row + 1] if row + 1 < len(starts) else self.end]

    def record(self, row: int, head: _Head) -> dict | None:
        """A regular line parsed: its head's members and those after it, which are an object of their
        own once the comma before ``eventTime`` is a brace (half the bytes of parsing the line; the line
        is JSON exactly when that object is, as the head is); None if it is not JSON."""
        view = self._view(row)
        rest = bytearray(view[len(head.raw):])
        rest[0] = 123  # "{"
        try:
            members = loads(rest)
        except ValueError:
            return None
        return {**head.record, **members} if type(members) is dict else None

    def holding(self, needles: tuple[bytes, ...] | None) -> set[int]:
        """The lines holding one of ``needles`` or a backslash (an escape may spell a needle otherwise)."""
        key = (b"\\",) + (needles or ())
        rows = self._holding.get(key)
        if rows is None:
            rows = self._holding[key] = set()
            starts, find, end = self.starts, self.data.find, self.end
            for needle in key:
                i = find(needle, 0, end)
                while i >= 0:
                    row = bisect_right(starts, i) - 1
                    rows.add(row)
                    i = find(needle, starts[row + 1] if row + 1 < len(starts) else end, end)
        return rows


def _irregular(rows: list[tuple]) -> set[int]:
    """The rows the regular expression did not recognise (their head is empty)."""
    heads = list(map(itemgetter(HEAD), rows))
    return set(compress(count(), map((b"").__eq__, heads))) if b"" in heads else set()


def _holds(rec: dict, check: tuple[str, Callable[[Any], Any], Any]) -> bool:
    """A required value (``Pattern.required``) holds, or its member is not in ``rec`` (unknown)."""
    first, get, allowed = check
    if first not in rec:
        return True
    v = get(rec)
    t = type(v)
    if allowed is None:
        return t is str or t is int or t is float
    return t is str and v in allowed


def _status_of(det: _Detection, rec: dict) -> int:
    """MATCH or NO when ``rec`` holds every member the detection reads, NO when a required value in it is
    wrong, else CANDIDATE."""
    if det.others <= rec.keys():
        return MATCH if det.matcher(rec) else NO
    return CANDIDATE if all(_holds(rec, check) for checks in det.checks.values() for check in checks) else NO


def _head(raw: bytes) -> _Head | None:
    try:
        record = loads(raw + b"}")
    except ValueError:
        return None
    return _Head(raw, record) if type(record) is dict else None


def _string(raw: bytes) -> str | None:
    try:
        value = loads(b'"' + raw + b'"')
    except ValueError:
        return None
    return value if type(value) is str else None


def _decoded(counts: Counter, strings: dict[bytes, str | None]) -> dict[str, int]:
    """Counts by raw value, by decoded value instead. Two raw values decode to one string only through
    an escape (``\\u0041`` and ``A``), so without a backslash they carry over as they are, in C."""
    if b"\\" not in b"".join(counts):
        return dict(zip(map(strings.__getitem__, counts), counts.values()))  # type: ignore[arg-type]
    out: dict[str, int] = {}
    for raw, c in counts.items():
        v = strings[raw]
        out[v] = out.get(v, 0) + c  # type: ignore[index]
    return out


def _utf8(data: bytearray, end: int) -> bool:
    try:
        bytes(data[:end]).decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True
