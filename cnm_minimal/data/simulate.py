"""A deterministic stand-in for Charades-STA: annotations, clip features and word vectors (chapter 2).

The real I3D features sit behind a share link no script can follow, so this module writes data **in the real
on-disk layout** (Charades-STA text files, a Charades-style durations CSV, an HDF5 feature file, a GloVe
text file). Everything downstream reads it with the same code as the real files; only the values differ.
Everything is a function of a seed: the same files on every machine.

The committed sample is made by the two parts below. Clip features of the **real** annotations, made from each
video's real action timeline, come from :mod:`cnm_minimal.data.timelines` (``python -m cnm_minimal simulate
timelines``, chapter 2, section 2.7).

1. :func:`generate_annotations` invents indoor videos with 1-4 events each, written as sentences from
   a small Charades-like lexicon (verbs, objects, places) and several templates, so that about half the
   events get a paraphrase with identical timestamps, and some videos hold two events on the same object
   with different verbs (the "confusing scenes" CNM's negatives are about). Durations, moment lengths,
   start positions and events per video are drawn from summary statistics of the real CNM training split
   (``CHARADES_STA_STATS``), so the temporal prior is as strong as in the real benchmark.
2. :func:`simulate_features` turns **any** annotation set, generated or real, into clip features. Each
   content word of a sentence stands for a *concept* (``concept_of``: a crude stemmer, so ``opens`` and
   ``opening`` are one concept) with a fixed random direction. The feature of row ``t`` of video ``v`` is

   ``x_t = scene_gain * u_v + sum_e a_e(t) * signal_gain * s_e + leakage * signal_gain * o_v + noise * eps_t``

   where ``u_v`` is the video's scene vector (random, plus the directions of the place words of its
   sentences: "in the kitchen" describes the whole video), ``s_e`` the normalised sum of the concepts of
   event ``e``,
   ``a_e(t)`` its activation (1 inside the moment, a linear ramp of ``edge_s`` seconds outside: soft
   edges), ``o_v`` the video's objects present all along (leakage outside their moment), ``eps_t`` white
   noise; ``distractors`` unannotated events with random concepts are added per video on average. The
   knobs are the fields of :class:`FeatureKnobs`.

Word vectors are simulated too (300-d by default, like GloVe 6B 300d): words of one concept share most
of their vector, as morphological variants do in GloVe; function words get independent vectors.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from cnm_minimal.atomic import write_json
from cnm_minimal.data.annotations import Query, write_charades_sta, write_durations
from cnm_minimal.data.download import file_sha256
from cnm_minimal.data.features import write_features
from cnm_minimal.data.text import FUNCTION_WORDS, tokenize, write_word_vectors
from cnm_minimal.data.timelines import TimelineKnobs, activation, direction

GENERATOR_VERSION = "1"

# Summary statistics of the real CNM Charades-STA training split (10,602 queries, 4,842 videos), measured
# from the annotation files: quantiles (p0, p5, p25, p50, p75, p95, p100) and event-count frequencies.
CHARADES_STA_STATS = {
    "duration_s": [5.5, 18.8, 28.0, 30.7, 32.6, 43.8, 90.0],  # p100 capped (the real maximum is 194 s)
    "moment_fraction": [0.034, 0.129, 0.19, 0.251, 0.342, 0.458, 0.508],
    "start_at_zero": 0.19,
    "distinct_moments_per_video": {1: 0.567, 2: 0.289, 3: 0.106, 4: 0.038},  # 5+ folded into 4
    "paraphrase_probability": 0.32,  # -> about 48% of queries have an identical-timestamp partner
    "same_object_other_verb": 0.15,  # videos with a confusing second event on the same object
}
_QUANTILES = np.array([0.0, 0.05, 0.25, 0.5, 0.75, 0.95, 1.0])

# --- lexicon: verb forms (base, 3rd person, -ing) and the objects each verb takes ---------------------
_VERBS = {
    "open": (
        "opens",
        "opening",
        ["door", "refrigerator", "cabinet", "closet", "window", "box", "laptop", "bag"],
    ),
    "close": ("closes", "closing", ["door", "refrigerator", "cabinet", "closet", "window", "box", "laptop"]),
    "take": ("takes", "taking", ["cup", "book", "phone", "pillow", "towel", "bag", "shoe", "box", "camera"]),
    "hold": ("holds", "holding", ["cup", "book", "phone", "pillow", "broom", "camera", "picture", "glass"]),
    "throw": ("throws", "throwing", ["pillow", "blanket", "towel", "clothes", "shoe", "bag", "paper"]),
    "eat": ("eats", "eating", ["sandwich", "food", "medicine", "cookie"]),
    "drink": ("drinks", "drinking", ["water", "coffee", "juice"]),
    "pour": ("pours", "pouring", ["water", "coffee", "juice"]),
    "wash": ("washes", "washing", ["dishes", "cup", "clothes", "glass"]),
    "fold": ("folds", "folding", ["clothes", "blanket", "towel"]),
    "read": ("reads", "reading", ["book", "paper"]),
    "watch": ("watches", "watching", ["television", "laptop", "window"]),
    "fix": ("fixes", "fixing", ["light", "chair", "laptop", "door"]),
    "tidy": ("tidies", "tidying", ["table", "shelf", "closet", "bed"]),
    "sweep": ("sweeps", "sweeping", ["floor"]),
    "put": ("puts", "putting", ["cup", "book", "phone", "pillow", "bag", "shoe", "box", "glass", "dishes"]),
    "sit": ("sits", "sitting", ["chair", "sofa", "bed", "floor"]),
    "turn": ("turns", "turning", ["light", "television"]),
}
_SURFACES = ["table", "shelf", "bed", "sofa", "chair", "floor", "desk"]
_PLACES = ["kitchen", "bedroom", "living room", "bathroom", "hallway", "garage"]
_MASS = {"water", "coffee", "juice", "food", "medicine", "clothes", "paper", "dishes"}


def _noun_phrase(noun: str, rng: np.random.Generator) -> str:
    if noun in _MASS:
        return ("some " if rng.random() < 0.5 else "the ") + noun
    return ("the " if rng.random() < 0.6 else "a ") + noun


def _verb_phrase(verb: str, form: str, noun: str, rng: np.random.Generator) -> str:
    """``form`` is the verb already inflected; adds particles and second objects as the verb needs."""
    phrase = _noun_phrase(noun, rng)
    if verb == "put":
        return f"{form} {phrase} on the {rng.choice([s for s in _SURFACES if s != noun])}"
    if verb == "sit":
        return f"{form} on {phrase}"
    if verb == "turn":
        return f"{form} {'on' if rng.random() < 0.5 else 'off'} {phrase}"
    if verb == "pour":
        return f"{form} {phrase} into a {rng.choice(['glass', 'cup'])}"
    return f"{form} {phrase}"


def _sentence(verb: str, noun: str, template: int, place: str, rng: np.random.Generator) -> str:
    third, ing, _ = _VERBS[verb]
    subject = ["a person", "person", "the person", "someone"][template % 4]
    if template % 3 == 1:
        body = f"{subject} is {_verb_phrase(verb, ing, noun, rng)}"
    else:
        body = f"{subject} {_verb_phrase(verb, third, noun, rng)}"
    if template >= 4:
        body += f" in the {place}"
    return body + "."


def _from_quantiles(rng: np.random.Generator, values, size=None):
    """Inverse-CDF sampling through the piecewise-linear interpolation of the given quantiles."""
    return np.interp(rng.random(size), _QUANTILES, values)


def generate_annotations(
    num_videos: int, seed: int, prefix: str = "S"
) -> tuple[list[Query], dict[str, float]]:
    """Invent ``num_videos`` videos and their queries; returns ``(queries, durations)``; deterministic."""
    rng = np.random.default_rng([seed, 1])
    stats = CHARADES_STA_STATS
    counts, probs = zip(*stats["distinct_moments_per_video"].items())
    queries, durations = [], {}
    width = max(5, len(str(num_videos)))
    for index in range(num_videos):
        vid = f"{prefix}{index:0{width}d}"
        duration = round(float(_from_quantiles(rng, stats["duration_s"])), 2)
        place = str(rng.choice(_PLACES))
        durations[vid] = duration
        verbs = list(_VERBS)
        first_verb = str(rng.choice(verbs))
        events = [(first_verb, str(rng.choice(_VERBS[first_verb][2])))]
        for _ in range(int(rng.choice(counts, p=probs)) - 1):
            if rng.random() < stats["same_object_other_verb"]:
                noun = events[0][1]  # a confusing event: the same object, another verb
                options = [v for v in verbs if noun in _VERBS[v][2] and v != events[0][0]]
                if options:
                    events.append((str(rng.choice(options)), noun))
                    continue
            while (event := (verb := str(rng.choice(verbs)), str(rng.choice(_VERBS[verb][2])))) in events:
                pass  # a new action, not the same one twice
            events.append(event)
        for verb, noun in events:
            fraction = float(_from_quantiles(rng, stats["moment_fraction"]))
            if rng.random() < stats["start_at_zero"]:
                start_fraction = 0.0
            else:
                start_fraction = (1.0 - fraction) * float(rng.beta(1.0, 1.3))
            start = round(start_fraction * duration, 1)
            end = min(round((start_fraction + fraction) * duration, 1), float(np.floor(duration * 10) / 10))
            templates = rng.permutation(7)
            copies = 2 if rng.random() < stats["paraphrase_probability"] else 1
            for template in templates[:copies]:
                sentence = _sentence(verb, noun, int(template), place, rng)
                queries.append(
                    Query(
                        vid, duration, start, max(end, start + 0.1), sentence, "generated", len(queries) + 1
                    )
                )
    return queries, durations


# --- features ----------------------------------------------------------------------------------------
_SUFFIXES = ("ing", "es", "s", "ed")
_IRREGULAR = {
    "took": "take",
    "threw": "throw",
    "ate": "eat",
    "drank": "drink",
    "sat": "sit",
    "put": "put",
    "held": "hold",
    "tidies": "tidy",
    "dishes": "dish",
    "clothes": "clothes",
    "glasses": "glass",
    "boxes": "box",
}
# Words naming where a video was shot: they describe the whole video, not one moment.
PLACE_WORDS = frozenset(
    {
        "kitchen",
        "bedroom",
        "living",
        "room",
        "bathroom",
        "hallway",
        "garage",
        "basement",
        "office",
        "pantry",
        "laundry",
        "stairs",
        "entryway",
        "dining",
        "closet",
    }
)


def concept_of(token: str) -> str | None:
    """The concept a content word stands for (a crude stemmer), or None for function words and marks."""
    if token in FUNCTION_WORDS or not token.isalpha() or token in ("is", "are", "person", "someone"):
        return None
    if token in _IRREGULAR:
        return _IRREGULAR[token]
    for suffix in _SUFFIXES:
        if token.endswith(suffix) and len(token) - len(suffix) >= 3:
            stem = token[: -len(suffix)]
            if suffix == "ing" and len(stem) > 3 and stem[-1] == stem[-2]:
                stem = stem[:-1]  # sitting -> sit
            return stem.rstrip("e") if suffix != "s" else stem
    return token.rstrip("e") if len(token) > 3 else token


@dataclass(frozen=True)
class FeatureKnobs:
    """Difficulty of the simulated features (see the module docstring for the formula)."""

    dim: int = 64  # feature width D (real I3D: 1024)
    rows_per_second: float = 1.0  # raw feature rows per second of video before resampling
    noise: float = 0.8  # std of the white noise per value
    signal_gain: float = 1.0  # size of an event's concept signal relative to the scene's
    scene_gain: float = 1.0  # size of the per-video scene vector
    edge_s: float = 1.5  # seconds of linear ramp outside a moment (soft edges)
    leakage: float = 0.15  # objects of a video visible outside their moment, as a fraction
    distractors: float = 0.5  # unannotated events per video, on average (Poisson)


def _events_of(
    queries: list[Query],
) -> tuple[dict[str, list[tuple[float, float, list[str]]]], dict[str, set[str]]]:
    """Per video: the distinct moments with the union of their sentences' concepts (paraphrases merge),
    and the place words, which belong to the whole video."""
    events: dict[str, dict[tuple[float, float], list[str]]] = {}
    places: dict[str, set[str]] = {}
    for q in queries:
        tokens = tokenize(q.sentence)
        places.setdefault(q.vid, set()).update(t for t in tokens if t in PLACE_WORDS and t != "closet")
        concepts = [c for t in tokens if not (t in PLACE_WORDS and t != "closet") and (c := concept_of(t))]
        bucket = events.setdefault(q.vid, {}).setdefault((q.start, q.end), [])
        bucket.extend(c for c in concepts if c not in bucket)
    return {vid: [(s, e, cs) for (s, e), cs in moments.items()] for vid, moments in events.items()}, places


def simulate_features(
    queries: list[Query], durations: dict[str, float], knobs: FeatureKnobs, seed: int
) -> dict[str, np.ndarray]:
    """Clip features ``{vid: [T, D]}`` for every video of ``durations`` (see the module docstring)."""
    return dict(iter_simulated_features(queries, durations, knobs, seed))


def iter_simulated_features(
    queries: list[Query], durations: dict[str, float], knobs: FeatureKnobs, seed: int
):
    """Yield ``(vid, [T, D] features)`` one video at a time, so that full-size sets never sit in memory."""
    events, places = _events_of(queries)
    vocabulary = sorted({c for moments in events.values() for _, _, cs in moments for c in cs})
    directions = {c: direction(c, knobs.dim, "concept") for c in vocabulary}
    for number, (vid, duration) in enumerate(durations.items()):
        rng = np.random.default_rng([seed, 2, number])
        rows = max(1, int(round(duration * knobs.rows_per_second)))
        times = (np.arange(rows) + 0.5) / knobs.rows_per_second
        scene = rng.standard_normal(knobs.dim, dtype=np.float32)
        for place in sorted(places.get(vid, ())):  # a kitchen looks like a kitchen all along
            scene = scene + direction(place, knobs.dim, "place")
        scene *= np.sqrt(knobs.dim) / max(float(np.linalg.norm(scene)), 1e-6)
        x = knobs.scene_gain * np.broadcast_to(scene, (rows, knobs.dim))
        x = x + knobs.noise * rng.standard_normal((rows, knobs.dim), dtype=np.float32)
        moments = list(events.get(vid, []))
        for _ in range(int(rng.poisson(knobs.distractors))):
            if not vocabulary:
                break
            length = float(_from_quantiles(rng, CHARADES_STA_STATS["moment_fraction"])) * duration
            start = float(rng.random()) * (duration - length)
            moments.append((start, start + length, list(rng.choice(vocabulary, size=2, replace=False))))
        present = np.zeros(knobs.dim, dtype=np.float32)
        for start, end, concepts in moments:
            if not concepts:
                continue
            signal = np.sum([directions[c] for c in concepts], axis=0)
            signal *= np.sqrt(knobs.dim) / max(float(np.linalg.norm(signal)), 1e-6)
            x = x + knobs.signal_gain * activation(times, start, end, knobs.edge_s)[:, None] * signal
            present += signal / len(moments)
        x = x + knobs.leakage * knobs.signal_gain * present
        yield vid, np.ascontiguousarray(x, dtype=np.float32)


def simulate_word_vectors(words, dim: int = 300) -> np.ndarray:
    """GloVe-like vectors: words of one concept share 80% of their vector; others are independent."""
    vectors = []
    for word in words:
        own = direction(word, dim, "word")
        concept = concept_of(word)
        if concept is not None:
            own = 0.8 * direction(concept, dim, "word-concept") + 0.6 * own
        vectors.append(0.4 * own)
    return np.array(vectors, dtype=np.float32).reshape(len(vectors), dim)


# --- the on-disk layout -------------------------------------------------------------------------------
def split_by_video(
    durations: dict[str, float], fractions: dict[str, float], seed: int
) -> dict[str, list[str]]:
    """Assign whole videos to splits (no video in two splits), in proportion to ``fractions``."""
    vids = list(durations)
    order = np.random.default_rng([seed, 3]).permutation(len(vids))
    bounds = np.round(
        np.cumsum([0.0] + list(fractions.values())) / sum(fractions.values()) * len(vids)
    ).astype(int)
    return {
        name: sorted(vids[i] for i in order[a:b]) for name, a, b in zip(fractions, bounds[:-1], bounds[1:])
    }


def feature_arrays_sha256(path) -> str:
    """A hash of the feature arrays themselves (ids, shapes, float32 bytes), independent of HDF5's file
    layout."""
    import h5py

    digest = hashlib.sha256()
    with h5py.File(path, "r") as handle:
        for vid in sorted(handle):
            array = np.ascontiguousarray(handle[vid][()], dtype=np.float32)
            digest.update(f"{vid}:{array.shape}".encode())
            digest.update(array.tobytes())
    return digest.hexdigest()


def write_dataset(
    out,
    queries: list[Query],
    durations: dict[str, float],
    splits: dict[str, list[str]],
    knobs: FeatureKnobs,
    seed: int,
    word_dim: int = 300,
    source: str = "generated",
    write_annotations: bool = True,
) -> dict:
    """Write the real layout into ``out`` and a ``manifest.json`` describing how it was made."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    files = {}
    if write_annotations:
        for name, vids in splits.items():
            keep = set(vids)
            path = out / f"annotations_{name}.txt"
            write_charades_sta(path, [q for q in queries if q.vid in keep])
            files[path.name] = file_sha256(path)
        write_durations(out / "durations.csv", durations)
        files["durations.csv"] = file_sha256(out / "durations.csv")
    write_features(out / "features.hdf5", iter_simulated_features(queries, durations, knobs, seed))
    words = sorted({t for q in queries for t in tokenize(q.sentence)})
    write_word_vectors(out / "word_vectors.txt", words, simulate_word_vectors(words, word_dim))
    files["word_vectors.txt"] = file_sha256(out / "word_vectors.txt")
    manifest = {
        "simulated": True,
        "what": "simulated clip features and word vectors in the Charades-STA layout "
        "(cnm_minimal.data.simulate)",
        "annotations": source,
        "generator_version": GENERATOR_VERSION,
        "seed": seed,
        "knobs": asdict(knobs),
        "word_dim": word_dim,
        "splits": {
            name: {"videos": len(vids), "queries": sum(q.vid in set(vids) for q in queries)}
            for name, vids in splits.items()
        },
        "sha256": files,
        "feature_arrays_sha256": feature_arrays_sha256(out / "features.hdf5"),
    }
    write_json(out / "manifest.json", manifest)
    return manifest


SAMPLE = {"num_videos": 500, "seed": 2022, "splits": {"train": 0.7, "val": 0.1, "test": 0.2}}
"""The committed ``data_samples/charades-sta-sim``: 500 videos, split 70 / 10 / 20 by video."""


def make_sample(
    out,
    num_videos: int = SAMPLE["num_videos"],
    seed: int = SAMPLE["seed"],
    knobs: FeatureKnobs = FeatureKnobs(),
) -> dict:
    """Regenerate the small simulated Charades-STA subset (deterministic)."""
    queries, durations = generate_annotations(num_videos, seed)
    splits = split_by_video(durations, SAMPLE["splits"], seed)
    return write_dataset(out, queries, durations, splits, knobs, seed)


FULL = {"train_videos": 5338, "test_videos": 1334, "seed": 2017}
"""Charades-STA's size: 5,338 / 1,334 videos (the real files hold 12,408 / 3,720 queries)."""


def make_full(out, knobs: FeatureKnobs, real_annotations=None, seed: int = FULL["seed"]) -> dict:
    """A benchmark of Charades-STA's size: generated annotations, or the real annotation files of
    ``real_annotations`` (a folder with ``charades_sta_{train,test}.txt`` and
    ``Charades_v1_{train,test}.csv``), whose sentences and times then drive the simulated features (the real
    files are read, not copied)."""
    from cnm_minimal.data.annotations import AnnotationPolicy, read_charades_sta, read_durations

    if real_annotations is None:
        queries, durations = generate_annotations(FULL["train_videos"] + FULL["test_videos"], seed)
        vids = list(durations)
        splits = {"train": vids[: FULL["train_videos"]], "test": vids[FULL["train_videos"] :]}
        return write_dataset(out, queries, durations, splits, knobs, seed)
    root = Path(real_annotations)
    all_durations = read_durations(root / "Charades_v1_train.csv", root / "Charades_v1_test.csv")
    queries, splits = [], {}
    keep_all = AnnotationPolicy(
        end_after_duration="clip", start_after_end="drop"
    )  # every video gets features
    for split in ("train", "test"):
        rows, _ = read_charades_sta(root / f"charades_sta_{split}.txt", all_durations, keep_all)
        queries += rows
        splits[split] = sorted({q.vid for q in rows})
    durations = {vid: all_durations[vid] for split in splits.values() for vid in split}
    return write_dataset(
        out,
        queries,
        durations,
        splits,
        knobs,
        seed,
        source=f"real files in {root.name}/",
        write_annotations=False,
    )


def check_output_folder(out: Path) -> None:
    """Write only into a new or empty folder, or one this command wrote before (it holds its
    ``manifest.json``):
    never over files of someone else's data set."""
    found = sorted(p.name for p in out.iterdir()) if out.is_dir() else []
    if found and "manifest.json" not in found:
        raise ValueError(
            f"{out}: holds files this command did not write ({', '.join(found[:5])}"
            f"{', ...' if len(found) > 5 else ''}); choose a new or empty --out"
        )


def main(argv=None) -> int:
    import argparse
    import time

    parser = argparse.ArgumentParser(
        prog="python -m cnm_minimal simulate", description=__doc__.splitlines()[0]
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sample = sub.add_parser(
        "sample", help="regenerate the small subset committed in data_samples/ (or a larger one)"
    )
    sample.add_argument("--out", default="data_samples/charades-sta-sim")
    sample.add_argument("--num-videos", type=int, default=SAMPLE["num_videos"])
    sample.add_argument("--seed", type=int, default=SAMPLE["seed"])
    full = sub.add_parser("full", help="a benchmark of Charades-STA's size (1024-d features)")
    full.add_argument("--out", default="data/charades-sta-sim-full")
    full.add_argument(
        "--real-annotations",
        default=None,
        help="folder with the real charades_sta_{train,test}.txt and Charades_v1_{train,test}.csv",
    )
    full.add_argument("--dim", type=int, default=1024)
    full.add_argument("--rows-per-second", type=float, default=2.0)
    real = sub.add_parser(
        "timelines",
        help="clip features from the real Charades action timelines (Eq. 2.3), "
        "for every video of the Charades CSVs",
    )
    real.add_argument("--charades", required=True, help="folder with Charades_v1_{train,test}.csv")
    real.add_argument(
        "--classes",
        default=None,
        help="the class table (default: the one shipped with the package), "
        "or the official release's folder of Charades_v1_*.txt files",
    )
    real.add_argument("--out", default="data/charades-timelines")
    defaults = TimelineKnobs()
    for name in ("dim", "rows_per_second", "noise", "presence", "edge_s", "min_detectability"):
        real.add_argument(
            f"--{name.replace('_', '-')}", type=type(getattr(defaults, name)), default=getattr(defaults, name)
        )
    real.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    start = time.perf_counter()
    check_output_folder(Path(args.out))
    if args.command == "timelines":
        from cnm_minimal.data.timelines import make_real

        knobs = TimelineKnobs(
            **{
                k: getattr(args, k)
                for k in ("dim", "rows_per_second", "noise", "presence", "edge_s", "min_detectability")
            }
        )
        manifest = make_real(args.charades, args.out, knobs, args.seed, args.classes)
        size = (Path(args.out) / "features.hdf5").stat().st_size
        print(
            json.dumps(manifest["timelines"]),
            f"-> {args.out} ({size / 1e9:.2f} GB) in {time.perf_counter() - start:.1f} s",
        )
        return 0
    if args.command == "sample":
        manifest = make_sample(args.out, args.num_videos, args.seed)
    else:
        knobs = FeatureKnobs(dim=args.dim, rows_per_second=args.rows_per_second)
        manifest = make_full(args.out, knobs, args.real_annotations)
    size = sum(p.stat().st_size for p in Path(args.out).iterdir() if p.is_file())
    print(
        json.dumps(manifest["splits"]),
        f"-> {args.out} ({size / 1e6:.1f} MB) in {time.perf_counter() - start:.1f} s",
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
