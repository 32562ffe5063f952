"""Clip features from action timelines: what a video shows, second by second (chapter 2).

Every Charades video comes with its **action timeline**: the ``actions`` column of
``Charades_v1_{train,test}.csv`` lists each annotated action as ``class start end`` (6.75 intervals a video,
often overlapping, often on the same object: opening and then closing one door), over 157 classes that are
each a verb and an object (the table shipped as ``cnm_minimal/data/charades_classes.tsv``). Charades-STA's
sentences were written for these intervals, and the I3D features CNM uses come from a network trained to
recognise exactly these classes. Features made from a timeline therefore keep what matters for moment
localisation: the real temporal structure, the real co-occurring and confusable actions, and the real temporal
prior. The feature of row ``t`` (at time ``tau_t``) of video ``v`` is

    x_t = scene_gain * u_v + sum_a r_a(tau_t) * d_c(a) * (verb_gain * e_verb(a) + object_gain * e_object(a))
    / sqrt(2)
          + presence * mean_{o in objects(v)} e_o + noise * eps_t                                        (2.3)

with ``u_v`` the scene (the direction of the video's room plus a video-specific part), ``e_verb`` and
``e_object`` fixed random directions of the verb and the object of action ``a``'s class ``c``, ``r_a`` its
activation (1 during the action, a linear ramp of ``edge_s`` seconds around it: soft edges), ``d_c`` the
class's detectability (how well a recogniser sees it, fixed per class in ``[min_detectability, 1]``), a weaker
persistent presence of the objects the video's actions use, and white noise. Every direction is a function of
its name only, and every random draw a function of ``(seed, video id)``: the same features on every machine,
whatever set of videos is written.

The same function serves the real timelines (:func:`read_timelines`, for CNM's split, the original
Charades-STA split and Charades-CD, which all use Charades videos) and the simulated ones of the committed
sample (:mod:`cnm_minimal.data.simulate`).
"""

from __future__ import annotations

import csv
import hashlib
import io
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cnm_minimal.data.annotations import AnnotationError
from cnm_minimal.data.textfile import read_text


@dataclass(frozen=True)
class ActionClass:
    """One of the action classes: a verb and an object (``None`` for the classes without one, e.g.
    sneezing)."""

    name: str
    verb: str
    object: str | None


@dataclass(frozen=True)
class Action:
    """One interval of a timeline, in seconds."""

    label: str  # the class id, e.g. ``c081``
    start: float
    end: float


@dataclass(frozen=True)
class Timeline:
    """A video's duration, room and actions."""

    vid: str
    duration: float
    scene: str
    actions: tuple[Action, ...]


@dataclass
class TimelineReport:
    """What :func:`read_timelines` kept, clipped to the video and dropped (with file:line of each)."""

    videos: int = 0
    actions: int = 0
    clipped: list[str] = field(default_factory=list)  # end after the video: end = duration
    dropped: list[str] = field(default_factory=list)  # start >= end (after clipping), or an unknown class

    def as_dict(self) -> dict:
        return {
            "videos": self.videos,
            "actions": self.actions,
            "clipped": len(self.clipped),
            "dropped": len(self.dropped),
        }


SHIPPED_CLASSES = "charades_classes.tsv"
"""The 157 classes with their verb and object, shipped with the package (label metadata; its header names the
source)."""

OFFICIAL_CLASS_FILES = (
    "Charades_v1_classes.txt",
    "Charades_v1_mapping.txt",
    "Charades_v1_objectclasses.txt",
    "Charades_v1_verbclasses.txt",
)
"""The official Charades release's own class files: ``c008 Opening a door``, ``c008 o012 v012`` (class,
object,
verb), ``o012 door``, ``v012 open``."""


def read_classes(path=None) -> dict[str, ActionClass]:
    """The action classes: the table shipped with the package (``path`` None), a table in its format
    (tab-separated ``class name object verb``, ``#`` comment lines, object ``None`` for classes without one),
    or the official release's four files (``path`` their folder, or its ``Charades_v1_classes.txt``)."""
    if path is None:
        from importlib import resources

        with resources.as_file(resources.files("cnm_minimal.data").joinpath(SHIPPED_CLASSES)) as shipped:
            return read_classes(shipped)
    path = Path(path)
    if path.is_dir() or path.name == OFFICIAL_CLASS_FILES[0]:
        return read_official_classes(path if path.is_dir() else path.parent)
    lines = [line for line in read_text(path).splitlines() if not line.startswith("#")]
    reader = csv.DictReader(lines, delimiter="\t")
    if not reader.fieldnames or not {"class", "name", "object", "verb"} <= set(reader.fieldnames):
        raise AnnotationError(
            f"{path}: a class table needs the columns class, name, object, verb; found {reader.fieldnames}"
        )
    return {
        row["class"]: ActionClass(
            row["name"], row["verb"], None if row["object"] == "None" else row["object"]
        )
        for row in reader
    }


def _id_lines(path: Path, fields: int) -> dict[str, list[str]]:
    """``id rest...`` lines of an official class file: the id, then ``fields - 1`` more words (the last one
    takes the rest of the line); an error names the file and the line."""
    if not path.is_file():
        raise AnnotationError(
            f"{path}: missing; the official class files are {', '.join(OFFICIAL_CLASS_FILES)} "
            f"(in Charades' annotation archive)"
        )
    table = {}
    for number, line in enumerate(read_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split(maxsplit=fields - 1)
        if len(parts) != fields:
            raise AnnotationError(f"{path}:{number}: expected {fields} fields, got {line!r}")
        table[parts[0]] = parts[1:]
    return table


def read_official_classes(folder) -> dict[str, ActionClass]:
    """The classes from the official release's
    ``Charades_v1_{classes,mapping,objectclasses,verbclasses}.txt``."""
    folder = Path(folder)
    names, mapping, objects, verbs = (
        _id_lines(folder / name, n) for name, n in zip(OFFICIAL_CLASS_FILES, (2, 3, 2, 2))
    )
    classes = {}
    for label, (name,) in names.items():
        if label not in mapping:
            raise AnnotationError(f"{folder / OFFICIAL_CLASS_FILES[1]}: no line for class {label}")
        obj, verb = mapping[label]
        if obj not in objects or verb not in verbs:
            raise AnnotationError(
                f"{folder / OFFICIAL_CLASS_FILES[1]}: class {label} maps to {obj} {verb}, which "
                f"the object or verb file does not list"
            )
        classes[label] = ActionClass(
            name, verbs[verb][0], None if objects[obj][0] == "None" else objects[obj][0]
        )
    return classes


def read_timelines(paths, classes: dict[str, ActionClass]) -> tuple[dict[str, Timeline], TimelineReport]:
    """Every video's timeline from Charades CSVs (columns ``id``, ``scene``, ``actions``, ``length``).

    Intervals that end after the video are clipped to it; intervals with ``start >= end`` (after clipping) and
    unknown classes are dropped; both are counted in the report. Malformed entries raise with file and
    line."""
    timelines, report = {}, TimelineReport()
    for path in map(Path, paths):
        with io.StringIO(read_text(path), newline="") as handle:  # UTF-8, a byte-order mark removed
            reader = csv.DictReader(handle)
            if not reader.fieldnames or not {"id", "scene", "actions", "length"} <= set(reader.fieldnames):
                raise AnnotationError(
                    f"{path}:1: a Charades CSV needs the columns id, scene, actions, length"
                )
            for line, row in enumerate(reader, start=2):
                where = f"{path}:{line} (video {row['id']})"
                try:
                    duration = float(row["length"])
                    entries = [entry.split() for entry in row["actions"].split(";") if entry.strip()]
                    parsed = [(label, float(start), float(end)) for label, start, end in entries]
                except ValueError:
                    raise AnnotationError(
                        f"{where}: actions must be 'cNNN start end;...', got {row['actions']!r}"
                    ) from None
                actions = []
                for label, start, end in parsed:
                    if end > duration:
                        end = duration
                        report.clipped.append(where)
                    if label not in classes or not start < end:
                        report.dropped.append(where)
                        continue
                    actions.append(Action(label, max(start, 0.0), end))
                timelines[row["id"]] = Timeline(row["id"], duration, row["scene"], tuple(actions))
                report.actions += len(actions)
    report.videos = len(timelines)
    return timelines, report


@dataclass(frozen=True)
class TimelineKnobs:
    """The knobs of Eq. 2.3, with the defaults used for the timeline features of the real annotations."""

    dim: int = 1024  # feature width D (I3D's)
    rows_per_second: float = 2.0  # raw rows per second of video, before resampling to clips
    noise: float = 0.3  # std of the white noise per value
    scene_gain: float = 1.0  # size of the scene part
    verb_gain: float = 1.0  # size of an action's verb direction
    object_gain: float = 1.0  # size of an action's object direction
    presence: float = 0.3  # objects of the video visible all along, as a fraction
    edge_s: float = 1.0  # seconds of linear ramp around an action (soft edges)
    min_detectability: float = (
        0.5  # class detectability d_c is uniform in [min_detectability, 1], fixed per class
    )


def direction(name: str, dim: int, salt: str) -> np.ndarray:
    """A fixed N(0, 1) vector for a name: the same on every machine and in every data set."""
    digest = hashlib.sha256(f"{salt}:{name}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little")).standard_normal(dim).astype(np.float32)


def detectability(label: str, knobs: TimelineKnobs) -> float:
    """How visible class ``label`` is, in ``[min_detectability, 1]``, fixed per class."""
    digest = hashlib.sha256(f"detectability:{label}".encode()).digest()
    return (
        knobs.min_detectability
        + (1.0 - knobs.min_detectability) * int.from_bytes(digest[:8], "little") / 2.0**64
    )


def activation(times: np.ndarray, start: float, end: float, edge: float) -> np.ndarray:
    """``r_a``: 1 inside ``[start, end]``, falling linearly to 0 over ``edge`` seconds outside it."""
    outside = np.maximum(start - times, 0.0) + np.maximum(times - end, 0.0)
    if edge <= 0:
        return (outside == 0).astype(np.float32)
    return np.clip(1.0 - outside / edge, 0.0, 1.0).astype(np.float32)


def video_rng(seed: int, vid: str) -> np.random.Generator:
    """The random stream of one video: a function of the seed and the id only."""
    return np.random.default_rng([seed, zlib.crc32(vid.encode())])


def timeline_features(
    timeline: Timeline, classes: dict[str, ActionClass], knobs: TimelineKnobs, seed: int
) -> np.ndarray:
    """The ``[T, D]`` features of one video (Eq. 2.3), ``T = max(1, round(duration * rows_per_second))``."""
    rng, dim = video_rng(seed, timeline.vid), knobs.dim
    rows = max(1, int(round(timeline.duration * knobs.rows_per_second)))
    times = (np.arange(rows) + 0.5) / knobs.rows_per_second
    scene = direction(timeline.scene, dim, "scene") + rng.standard_normal(dim, dtype=np.float32)
    scene *= np.float32(np.sqrt(dim) / max(float(np.linalg.norm(scene)), 1e-6))
    x = knobs.scene_gain * np.broadcast_to(scene, (rows, dim)) + knobs.noise * rng.standard_normal(
        (rows, dim), dtype=np.float32
    )
    objects = sorted({c.object for a in timeline.actions if (c := classes[a.label]).object})
    for action in timeline.actions:
        c = classes[action.label]
        signal = knobs.verb_gain * direction(c.verb, dim, "verb")
        if c.object:
            signal = signal + knobs.object_gain * direction(c.object, dim, "object")
        signal *= np.float32(detectability(action.label, knobs) / np.sqrt(2.0))
        x = x + activation(times, action.start, action.end, knobs.edge_s)[:, None] * signal
    if objects and knobs.presence:
        x = x + np.float32(knobs.presence / len(objects)) * np.sum(
            [direction(o, dim, "object") for o in objects], axis=0
        )
    return np.ascontiguousarray(x, dtype=np.float32)


def iter_timeline_features(timelines, classes: dict[str, ActionClass], knobs: TimelineKnobs, seed: int):
    """Yield ``(vid, [T, D])`` one video at a time (full-size sets never sit in memory)."""
    for timeline in timelines:
        yield timeline.vid, timeline_features(timeline, classes, knobs, seed)


def write_timeline_features(
    out,
    timelines: dict[str, Timeline],
    classes: dict[str, ActionClass],
    knobs: TimelineKnobs,
    seed: int,
    source: str,
    report: TimelineReport,
) -> dict:
    """``out/features.hdf5`` for every video of ``timelines`` and ``out/manifest.json`` (knobs, seed,
    counts)."""
    from dataclasses import asdict

    from cnm_minimal.atomic import write_json
    from cnm_minimal.data.features import write_features

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    write_features(out / "features.hdf5", iter_timeline_features(timelines.values(), classes, knobs, seed))
    manifest = {
        "what": "clip features made from the real Charades action timelines (Eq. 2.3 of the book): "
        "not I3D features; research-only, never to be published",
        "source": source,
        "seed": seed,
        "knobs": asdict(knobs),
        "timelines": report.as_dict(),
        "classes": len(classes),
    }
    write_json(out / "manifest.json", manifest)
    return manifest


def make_real(charades, out, knobs: TimelineKnobs = TimelineKnobs(), seed: int = 0, classes=None) -> dict:
    """Timeline features for every video of ``charades/Charades_v1_{train,test}.csv`` (classes: the shipped
    table, or ``classes``, a path :func:`read_classes` reads): one file that CNM's split, the original
    Charades-STA split and Charades-CD all read."""
    root = Path(charades)
    table = read_classes(classes)
    timelines, report = read_timelines([root / "Charades_v1_train.csv", root / "Charades_v1_test.csv"], table)
    return write_timeline_features(out, timelines, table, knobs, seed, "Charades_v1_{train,test}.csv", report)
