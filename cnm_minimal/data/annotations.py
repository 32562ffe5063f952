"""Annotation files: readers, one record type, and an explicit policy for bad rows (chapter 2).

Four formats describe moments:

* Charades-STA text (Gao et al. 2017): one query per line, ``VID start end##sentence``, times in seconds.
  The sentence is everything after the **first** ``##`` (a few sentences contain ``#1``).
* The Charades CSVs (``Charades_v1_{train,test}.csv``, CRLF line endings): the video lengths, in the
  columns ``id`` and ``length``. Charades-STA text files carry no durations; these do.
* CNM's json (the authors' filtered split): a list of ``[vid, duration, [start, end], sentence]``.
* ActivityNet Captions json: ``{vid: {"duration": d, "timestamps": [[s, e], ...], "sentences": [...]}}``.
  Charades-CD (Yuan et al. 2021, Charades-STA re-split into train / val / test_iid / test_ood) uses the same
  object but names the length ``video_duration`` (the decoded frames / 16 fps, a little longer than the CSVs'
  ``length``), with keys that are ignored; one reader reads both (:func:`read_activitynet_json`).

Every reader returns :class:`Query` records, and every problem is either an :class:`AnnotationError`
that names the file and line, or a drop that is counted and listed in an :class:`AnnotationReport`.
The policy is explicit (:class:`AnnotationPolicy`); CNM's own filtering of Charades-STA is
``AnnotationPolicy(end_after_duration="drop", start_after_end="drop")``, which turns the original
12,408 / 3,720 queries into the 10,602 / 3,158 of its json files.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from cnm_minimal.atomic import atomic_write
from cnm_minimal.data.textfile import read_text


@dataclass(frozen=True)
class Query:
    """One (video, sentence, moment) annotation; times in seconds; ``source:line`` says where it came from."""

    vid: str
    duration: float
    start: float
    end: float
    sentence: str
    source: str = ""
    line: int = 0

    @property
    def moment(self) -> tuple[float, float]:
        """The moment normalised by the duration, ``(start / duration, end / duration)``."""
        return self.start / self.duration, self.end / self.duration

    @property
    def where(self) -> str:
        return f"{self.source}:{self.line}"


class AnnotationError(ValueError):
    """A row that the policy does not allow; the message names every offending file and line."""


@dataclass(frozen=True)
class AnnotationPolicy:
    """What to do with rows whose times are inconsistent.

    ``end_after_duration``: ``"drop"`` (CNM's choice), ``"clip"`` (set ``end = duration``) or ``"error"``.
    ``start_after_end``: ``"error"`` (the default: it is a typo in the file) or ``"drop"``.
    """

    end_after_duration: Literal["drop", "clip", "error"] = "drop"
    start_after_end: Literal["error", "drop"] = "error"

    def __post_init__(self):
        if self.end_after_duration not in ("drop", "clip", "error"):
            raise ValueError(
                f"end_after_duration must be drop, clip or error, not {self.end_after_duration!r}"
            )
        if self.start_after_end not in ("error", "drop"):
            raise ValueError(f"start_after_end must be error or drop, not {self.start_after_end!r}")


CNM_POLICY = AnnotationPolicy(end_after_duration="drop", start_after_end="drop")
"""The filtering of the authors' data files: drop both kinds of inconsistent rows."""

CHARADES_CD_POLICY = AnnotationPolicy(end_after_duration="clip", start_after_end="drop")
"""Charades-CD keeps the queries that end after the video (1,652 in train, the rows CNM drops from
Charades-STA): we clip their end to the duration (counted as clipped in the report; a start beyond the
duration becomes the duration too, so a clipped row never has start > end) and drop rows with start > end
(counted; the published files have none)."""


@dataclass
class AnnotationReport:
    """What a reader kept, clipped and dropped, with the file and line of every changed row."""

    kept: int = 0
    dropped: list[tuple[str, str]] = field(default_factory=list)  # (file:line, reason)
    clipped: list[str] = field(default_factory=list)  # file:line

    def drop_counts(self) -> Counter:
        return Counter(reason for _, reason in self.dropped)

    def as_dict(self) -> dict:
        """The counts, for a run's ``results.json``."""
        return {
            "kept": self.kept,
            "dropped": dict(sorted(self.drop_counts().items())),
            "clipped": len(self.clipped),
        }

    def __str__(self) -> str:
        parts = [f"kept {self.kept}"]
        parts += [f"dropped {n} ({reason})" for reason, n in sorted(self.drop_counts().items())]
        if self.clipped:
            parts.append(f"clipped {len(self.clipped)} (end > duration)")
        return ", ".join(parts)


def _first(rows: list[str], shown: int = 5) -> str:
    """The first ``shown`` rows of an error on one line, and how many more there are."""
    return "; ".join(rows[:shown]) + (f"; and {len(rows) - shown} more" if len(rows) > shown else "")


def apply_policy(queries: Iterable[Query], policy: AnnotationPolicy) -> tuple[list[Query], AnnotationReport]:
    """Check every query's times against ``policy``; returns the kept queries and the report.

    Rows the policy calls errors are collected, and one :class:`AnnotationError` lists them all.
    """
    kept, report, errors = [], AnnotationReport(), []
    for q in queries:
        reasons = []
        if q.start > q.end:
            if policy.start_after_end == "error":
                errors.append(f"{q.where}: start {q.start:g} > end {q.end:g} (video {q.vid})")
                continue
            reasons.append("start > end")
        if q.end > q.duration:
            if policy.end_after_duration == "error":
                errors.append(f"{q.where}: end {q.end:g} > duration {q.duration:g} (video {q.vid})")
                continue
            if policy.end_after_duration == "drop":
                reasons.append("end > duration")
            elif not reasons and q.start >= q.duration:
                reasons.append("start after the video")  # clipping would leave a zero-length moment
            elif not reasons:
                q = Query(
                    q.vid, q.duration, min(q.start, q.duration), q.duration, q.sentence, q.source, q.line
                )
                report.clipped.append(q.where)
        if reasons:
            report.dropped.append((q.where, " and ".join(reasons)))
            continue
        kept.append(q)
    if errors:
        raise AnnotationError(
            f"{len(errors)} row(s) break the annotation policy {policy}: {_first(errors)}; fix the "
            "file or read it with another policy"
        )
    report.kept = len(kept)
    return kept, report


def _number(text: str, what: str, where: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise AnnotationError(f"{where}: {what} {text!r} is not a number") from None
    if not math.isfinite(value) or value < 0:
        raise AnnotationError(f"{where}: {what} {text!r} must be a finite number >= 0")
    return value


def _check_sentence(sentence: str, where: str) -> str:
    sentence = sentence.strip()
    if not sentence:
        raise AnnotationError(f"{where}: empty sentence")
    return sentence


def read_durations(*paths) -> dict[str, float]:
    """Video lengths in seconds from Charades-style CSV files (columns ``id`` and ``length``)."""
    durations: dict[str, float] = {}
    seen: dict[str, str] = {}  # video id -> where its length was given
    for path in map(Path, paths):
        reader = csv.DictReader(io.StringIO(read_text(path), newline=""))  # CRLF endings are handled
        if not reader.fieldnames or not {"id", "length"} <= set(reader.fieldnames):
            raise AnnotationError(
                f"{path}:1: a durations CSV needs the columns 'id' and 'length', found {reader.fieldnames}"
            )
        for row in reader:
            where = f"{path}:{reader.line_num}"
            length = _number(row["length"], "length", where)
            if length <= 0:
                raise AnnotationError(f"{where}: video {row['id']} has length {length:g}")
            if row["id"] in seen:
                raise AnnotationError(
                    f"{where}: video {row['id']} has a length already ({seen[row['id']]}); "
                    "keep one row per video"
                )
            durations[row["id"]], seen[row["id"]] = length, f"line {reader.line_num} of {path.name}"
    return durations


def parse_charades_sta_line(line: str, where: str) -> tuple[str, float, float, str]:
    """``VID start end##sentence`` -> ``(vid, start, end, sentence)``; errors name ``where``."""
    if "##" not in line:
        raise AnnotationError(f"{where}: no '##' between times and sentence in {line!r}")
    head, sentence = line.split("##", 1)
    fields = head.split()
    if len(fields) != 3:
        raise AnnotationError(f"{where}: expected 'VID start end' before '##', found {head!r}")
    vid, start, end = fields
    return vid, _number(start, "start", where), _number(end, "end", where), _check_sentence(sentence, where)


def read_charades_sta(
    path, durations: dict[str, float], policy: AnnotationPolicy = AnnotationPolicy()
) -> tuple[list[Query], AnnotationReport]:
    """Read a Charades-STA text file; ``durations`` maps every video id to its length (``read_durations``)."""
    path = Path(path)
    queries, unknown = [], []
    for number, line in enumerate(read_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        vid, start, end, sentence = parse_charades_sta_line(line, where)
        if vid not in durations:
            unknown.append(f"{where}: {vid}")
            continue
        queries.append(Query(vid, durations[vid], start, end, sentence, str(path), number))
    if unknown:
        raise AnnotationError(
            f"{len(unknown)} row(s) name a video with no known duration: {_first(unknown)}; the "
            "durations CSV needs a row for every video"
        )
    return apply_policy(queries, policy)


def read_cnm_json(
    path, policy: AnnotationPolicy = AnnotationPolicy()
) -> tuple[list[Query], AnnotationReport]:
    """Read CNM's json list of ``[vid, duration, [start, end], sentence]``; ``line`` is the list index + 1."""
    path = Path(path)
    rows = _load_json(path)
    if not isinstance(rows, list):
        raise AnnotationError(f"{path}: expected a json list of [vid, duration, [start, end], sentence]")
    queries = []
    for index, row in enumerate(rows, start=1):
        where = f"{path}:{index}"
        try:
            vid, duration, (start, end), sentence = row
        except (TypeError, ValueError):
            raise AnnotationError(
                f"{where}: expected [vid, duration, [start, end], sentence], got {row!r}"
            ) from None
        queries.append(_json_query(vid, duration, start, end, sentence, path, index, where))
    return apply_policy(queries, policy)


def read_activitynet_json(
    path, policy: AnnotationPolicy = AnnotationPolicy()
) -> tuple[list[Query], AnnotationReport]:
    """Read ActivityNet Captions or Charades-CD json (``duration``, else ``video_duration``); ``line`` numbers
    the queries in file order, from 1."""
    path = Path(path)
    videos = _load_json(path)
    if not isinstance(videos, dict):
        raise AnnotationError(
            f"{path}: expected a json object {{vid: {{duration or video_duration, timestamps, sentences}}}}"
        )
    queries, index = [], 0
    for vid, entry in videos.items():
        try:
            duration = entry["duration"] if "duration" in entry else entry["video_duration"]
            stamps, sentences = entry["timestamps"], entry["sentences"]
        except (KeyError, TypeError):
            raise AnnotationError(
                f"{path}: video {vid} needs 'duration' (or 'video_duration'), 'timestamps' and 'sentences'"
            ) from None
        if len(stamps) != len(sentences):
            raise AnnotationError(
                f"{path}: video {vid} has {len(stamps)} timestamps but {len(sentences)} sentences"
            )
        for (start, end), sentence in zip(stamps, sentences):
            index += 1
            queries.append(
                _json_query(vid, duration, start, end, sentence, path, index, f"{path}:{index} (video {vid})")
            )
    return apply_policy(queries, policy)


def read_charades_cd(
    path, policy: AnnotationPolicy = CHARADES_CD_POLICY
) -> tuple[list[Query], AnnotationReport]:
    """Read a Charades-CD split (``charades_{train,val,test_iid,test_ood}.json``):
    :func:`read_activitynet_json` with :data:`CHARADES_CD_POLICY` by default."""
    return read_activitynet_json(path, policy)


def read_json_annotations(
    path, policy: AnnotationPolicy = AnnotationPolicy()
) -> tuple[list[Query], AnnotationReport]:
    """Either json format, told apart by the file's first character: a list (``[``) is CNM's
    (:func:`read_cnm_json`), an object (``{``) is ActivityNet Captions' or Charades-CD's
    (:func:`read_activitynet_json`)."""
    first = read_text(path).lstrip()[:1]
    return (read_activitynet_json if first == "{" else read_cnm_json)(path, policy)


def _json_query(vid, duration, start, end, sentence, path: Path, index: int, where: str) -> Query:
    """A :class:`Query` from json values, each checked; errors name ``where``."""
    return Query(
        str(vid),
        _number(str(duration), "duration", where),
        _number(str(start), "start", where),
        _number(str(end), "end", where),
        _check_sentence(str(sentence), where),
        str(path),
        index,
    )


def _load_json(path: Path):
    try:
        return json.loads(read_text(path))
    except json.JSONDecodeError as error:
        raise AnnotationError(f"{path}:{error.lineno}: not valid json ({error.msg})") from None


def write_charades_sta(path, queries: Iterable[Query]) -> None:
    """Write queries in the Charades-STA text format (times with 0.1 s resolution, as the real files)."""
    lines = [f"{q.vid} {q.start:.1f} {q.end:.1f}##{q.sentence}\n" for q in queries]
    _write_text(Path(path), "".join(lines))


def write_durations(path, durations: dict[str, float]) -> None:
    """Write video lengths as a Charades-style CSV (``id,length``, CRLF line endings like the real files)."""
    rows = "".join(f"{vid},{length:.2f}\r\n" for vid, length in durations.items())
    _write_text(Path(path), "id,length\r\n" + rows)


def _write_text(path: Path, text: str) -> None:
    """Write atomically: a temporary file in the same folder, then a rename."""
    with atomic_write(path, newline="") as handle:
        handle.write(text)
